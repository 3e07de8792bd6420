//! The memo of configurations already explored: (set of linearized operations, model state).
//!
//! Lowe (2017, "Testing for linearizability", §3) shows that caching configurations turns Wing &
//! Gong's exponential search into one that is fast on real histories: two paths that linearized
//! the same set of operations and reached the same state have the same future, so the second is
//! cut. The set's hash is maintained incrementally by the search (XOR of one random word per
//! operation, Zobrist hashing), so a probe costs O(1) plus, on a hash match, one comparison of the
//! state and of the full bit set: a hash collision can never cut a path wrongly.

/// Entries reserved when a memo is reset; it grows by doubling from there.
const RESERVE_ENTRIES_MAX: usize = 4096;

/// Outcome of an insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    New,
    Seen,
    /// The global budget (entries or bytes) is spent: the search must stop with "unknown".
    Full,
}

/// What is left of the memory budget shared by all parts of one check.
pub(crate) struct Room {
    pub entries: usize,
    pub bytes: usize,
}

/// A memo entry: the linearized set is all of words `..low` full, `window` (stored in `sets` at
/// `start..start + len`) from `low` on, and nothing after. The search keeps `low` and the window's
/// end as it goes, so sets are compared and stored in a few words, not n/64 (a 100,000-operation
/// key would otherwise cost 12.5 kB a configuration).
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    state: u32,
    low: u32,
    start: u32,
    len: u32,
}

pub(crate) struct Memo {
    /// Open addressing, linear probing; slot = (key's low 32 bits << 32) | (entry + 1), 0 = empty.
    slots: Vec<u64>,
    shift: u32,
    entries: Vec<Entry>,
    /// The entries' windows, one after another.
    sets: Vec<u64>,
}

/// The canonical form of a linearized set: words before `low` are all ones, `window` follows,
/// every word after it is zero.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SetView<'s> {
    pub low: u32,
    pub window: &'s [u64],
}

impl Memo {
    pub fn new() -> Self {
        Memo { slots: Vec::new(), shift: 64, entries: Vec::new(), sets: Vec::new() }
    }

    /// Empties the memo, keeping the allocations.
    pub fn reset(&mut self, expected_entries: usize) {
        self.entries.clear();
        self.sets.clear();
        let first = expected_entries.min(RESERVE_ENTRIES_MAX);
        self.entries.reserve(first);
        self.sets.reserve(first);
        let slots = (first * 2).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(slots, 0);
        self.shift = 64 - slots.trailing_zeros();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes an entry with a window of `words` costs (entry, window, two slots at half load).
    pub fn entry_bytes(words: usize) -> usize {
        std::mem::size_of::<Entry>() + words * 8 + 16
    }

    /// Bytes taken by the entries so far, for giving them back to the budget.
    pub fn bytes_used(&self) -> usize {
        self.entries.len() * Self::entry_bytes(0) + self.sets.len() * 8
    }

    /// Inserts (set, state) unless present. `set_hash` is the Zobrist hash of the set.
    #[inline]
    pub fn insert(&mut self, set_hash: u64, state: u32, set: SetView<'_>, room: &mut Room) -> Insert {
        let key = (set_hash ^ u64::from(state).wrapping_mul(0xA24B_AED4_963E_E407))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let tag = key << 32;
        let mask = self.slots.len() - 1;
        let mut slot = (key >> self.shift) as usize;
        loop {
            let s = self.slots[slot];
            if s == 0 {
                break;
            }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let e = self.entries[(s as u32 - 1) as usize];
                if e.state == state
                    && e.low == set.low
                    && self.sets[e.start as usize..(e.start + e.len) as usize] == *set.window
                {
                    return Insert::Seen;
                }
            }
            slot = (slot + 1) & mask;
        }
        let cost = Self::entry_bytes(set.window.len());
        if room.entries == 0 || room.bytes < cost || self.sets.len() + set.window.len() > u32::MAX as usize {
            return Insert::Full;
        }
        room.entries -= 1;
        room.bytes -= cost;
        let e = self.entries.len();
        let start = self.sets.len() as u32;
        self.entries.push(Entry { key, state, low: set.low, start, len: set.window.len() as u32 });
        self.sets.extend_from_slice(set.window);
        self.slots[slot] = tag | (e as u64 + 1);
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
        Insert::New
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        self.slots.clear();
        self.slots.resize(n, 0);
        self.shift = 64 - n.trailing_zeros();
        for (e, entry) in self.entries.iter().enumerate() {
            let mut slot = (entry.key >> self.shift) as usize;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & (n - 1);
            }
            self.slots[slot] = (entry.key << 32) | (e as u64 + 1);
        }
    }

    /// Bytes held by the buffers.
    pub fn retained_bytes(&self) -> usize {
        (self.slots.capacity() + self.sets.capacity()) * 8
            + self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room { entries: usize::MAX, bytes: usize::MAX }
    }

    fn set(low: u32, window: &[u64]) -> SetView<'_> {
        SetView { low, window }
    }

    #[test]
    fn the_same_configuration_is_seen_and_a_different_one_is_new() {
        let mut memo = Memo::new();
        memo.reset(1);
        let mut room = room();
        assert_eq!(memo.insert(7, 1, set(0, &[1, 2]), &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, set(0, &[1, 2]), &mut room), Insert::Seen);
        // Same hash, different state or set: a collision must not count as seen.
        assert_eq!(memo.insert(7, 2, set(0, &[1, 2]), &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, set(0, &[1, 3]), &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, set(1, &[1, 2]), &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, set(0, &[1]), &mut room), Insert::New);
        assert_eq!(memo.len(), 5);
    }

    #[test]
    fn entries_survive_growth() {
        let mut memo = Memo::new();
        memo.reset(1);
        let mut room = room();
        for i in 0..10_000u64 {
            let key = i.wrapping_mul(0x1234_5678_9abc_def1);
            assert_eq!(memo.insert(key, i as u32, set(i as u32, &[i]), &mut room), Insert::New);
        }
        for i in 0..10_000u64 {
            let key = i.wrapping_mul(0x1234_5678_9abc_def1);
            assert_eq!(memo.insert(key, i as u32, set(i as u32, &[i]), &mut room), Insert::Seen);
        }
    }

    #[test]
    fn an_exhausted_budget_reports_full_instead_of_growing() {
        let mut memo = Memo::new();
        memo.reset(1);
        let mut room = Room { entries: 2, bytes: usize::MAX };
        assert_eq!(memo.insert(1, 0, set(0, &[1]), &mut room), Insert::New);
        assert_eq!(memo.insert(2, 0, set(0, &[2]), &mut room), Insert::New);
        assert_eq!(memo.insert(3, 0, set(0, &[3]), &mut room), Insert::Full);
        assert_eq!(memo.insert(1, 0, set(0, &[1]), &mut room), Insert::Seen);
    }
}
