//! Splitting a history into parts, one per key.
//!
//! P-compositionality (Herlihy & Wing 1990, locality; Horn & Kroening 2015): a history of
//! independent objects is linearizable iff each object's sub-history is, so a KV history is split
//! per key and each part searched alone: the cost is a sum over parts instead of a product.
//!
//! The buffers hold no borrow (a part names its key by the index of one of its calls), so they
//! can be kept and reused from one check to the next (pool.rs).

use crate::model::Model;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct PartInfo {
    /// A call of this part, which names the key.
    key_call: u32,
    hash: u64,
    /// The key's first 8 bytes, big-endian and zero-padded: comparing these orders most keys
    /// without looking at the strings.
    prefix: u64,
    start: u32,
    len: u32,
}

/// The calls grouped by key: part `p` is `order[start..start + len]`, in the history's order,
/// dropped calls (failed ones, reads with unknown outcome) excluded.
#[derive(Default)]
pub(crate) struct Parts {
    info: Vec<PartInfo>,
    order: Vec<u32>,
    /// (key prefix << 64 | part) in key order: the order of search and of any report.
    sorted: Vec<u128>,
    /// Open addressing over key hashes; slot = part + 1, 0 = empty.
    table: Vec<u32>,
    part_of: Vec<u32>,
    /// Calls in the largest part, to size a search workspace once.
    pub largest: usize,
}

impl Parts {
    /// Groups `calls`, reusing the buffers.
    pub fn regroup<'a, M: Model<'a>>(&mut self, calls: &'a [M::Call]) {
        self.info.clear();
        self.part_of.clear();
        self.table.clear();
        self.table.resize(16, 0);
        for call in calls {
            if M::dropped(call) {
                self.part_of.push(NONE);
                continue;
            }
            let key = M::key(call);
            let h = key_hash(key.as_bytes());
            let mask = self.table.len() - 1;
            let mut slot = (h as usize) & mask;
            let part = loop {
                let entry = self.table[slot];
                if entry == 0 {
                    let part = self.info.len() as u32;
                    let key_call = self.part_of.len() as u32;
                    self.info.push(PartInfo { key_call, hash: h, prefix: key_prefix(key), start: 0, len: 0 });
                    self.table[slot] = part + 1;
                    if self.info.len() * 2 > self.table.len() {
                        self.rehash();
                    }
                    break part;
                }
                let p = (entry - 1) as usize;
                let known = M::key(&calls[self.info[p].key_call as usize]);
                if self.info[p].hash == h && same_key(known.as_bytes(), key.as_bytes()) {
                    break p as u32;
                }
                slot = (slot + 1) & mask;
            };
            self.info[part as usize].len += 1;
            self.part_of.push(part);
        }
        let mut total = 0u32;
        let mut largest = 0;
        for info in &mut self.info {
            info.start = total;
            total += info.len;
            largest = largest.max(info.len as usize);
            info.len = 0;
        }
        self.largest = largest;
        self.order.clear();
        self.order.resize(total as usize, 0);
        for (i, &part) in self.part_of.iter().enumerate() {
            if part != NONE {
                let info = &mut self.info[part as usize];
                self.order[(info.start + info.len) as usize] = i as u32;
                info.len += 1;
            }
        }
        // Sort by the 8-byte prefix (plain integers), then order runs of equal prefixes by the
        // whole key: most keys differ in their first bytes, so this rarely looks at strings.
        self.sorted.clear();
        self.sorted.extend(
            self.info.iter().enumerate().map(|(p, info)| (u128::from(info.prefix) << 64) | p as u128),
        );
        self.sorted.sort_unstable();
        let mut start = 0;
        while start < self.sorted.len() {
            let prefix = self.sorted[start] >> 64;
            let end = start + self.sorted[start..].iter().take_while(|&&k| k >> 64 == prefix).count();
            if end - start > 1 {
                let info = &self.info;
                let key = |k: &u128| M::key(&calls[info[*k as u32 as usize].key_call as usize]);
                self.sorted[start..end].sort_unstable_by(|a, b| key(a).cmp(key(b)));
            }
            start = end;
        }
    }

    pub fn count(&self) -> usize {
        self.info.len()
    }

    /// The part number of the `rank`-th key in sorted order.
    pub fn in_key_order(&self, rank: usize) -> usize {
        self.sorted[rank] as u32 as usize
    }

    pub fn members(&self, part: usize) -> &[u32] {
        let info = self.info[part];
        &self.order[info.start as usize..(info.start + info.len) as usize]
    }

    /// The part of `key`, if any call of it was kept.
    pub fn find<'a, M: Model<'a>>(&self, calls: &'a [M::Call], key: &str) -> Option<usize> {
        let h = key_hash(key.as_bytes());
        let mask = self.table.len().checked_sub(1)?;
        let mut slot = (h as usize) & mask;
        loop {
            let entry = *self.table.get(slot)?;
            if entry == 0 {
                return None;
            }
            let p = (entry - 1) as usize;
            if self.info[p].hash == h && self.key::<M>(calls, p) == key {
                return Some(p);
            }
            slot = (slot + 1) & mask;
        }
    }

    pub fn key<'a, M: Model<'a>>(&self, calls: &'a [M::Call], part: usize) -> &'a str {
        M::key(&calls[self.info[part].key_call as usize])
    }

    /// Bytes held, to decide whether the buffers are worth keeping.
    pub fn retained_bytes(&self) -> usize {
        self.info.capacity() * std::mem::size_of::<PartInfo>()
            + (self.order.capacity()
                + self.sorted.capacity() * 4
                + self.table.capacity()
                + self.part_of.capacity())
                * 4
    }

    fn rehash(&mut self) {
        let slots = self.table.len() * 2;
        self.table.clear();
        self.table.resize(slots, 0);
        for (part, info) in self.info.iter().enumerate() {
            let mut slot = (info.hash as usize) & (slots - 1);
            while self.table[slot] != 0 {
                slot = (slot + 1) & (slots - 1);
            }
            self.table[slot] = part as u32 + 1;
        }
    }
}

fn key_prefix(key: &str) -> u64 {
    let mut word = [0u8; 8];
    let n = key.len().min(8);
    word[..n].copy_from_slice(&key.as_bytes()[..n]);
    u64::from_be_bytes(word)
}

/// Key equality without a call to `memcmp` (keys are short).
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// FxHash-style word-at-a-time hash: keys are short and this runs once per call.
fn key_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517C_C1B7_2722_0A95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    // Spread the low bits, which pick the slot.
    h ^ (h >> 29)
}
