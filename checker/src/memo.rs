//! The memo of configurations already explored: (set of linearized operations, model state).
//!
//! Lowe (2017, "Testing for linearizability", §3) shows that caching configurations turns Wing &
//! Gong's exponential search into one that is fast on real histories: two paths that linearized
//! the same set of operations and reached the same state have the same future, so the second is
//! cut. The set's hash is maintained incrementally by the search (XOR of one random word per
//! operation, Zobrist hashing), so a probe costs O(1) plus, on a hash match, one comparison of the
//! state and of the full bit set: a hash collision can never cut a path wrongly.

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

pub(crate) struct Memo {
    /// Open addressing, linear probing; slot = (key's low 32 bits << 32) | (entry + 1), 0 = empty.
    slots: Vec<u64>,
    shift: u32,
    /// Per entry: its key (to rehash on growth) and state.
    entries: Vec<(u64, u32)>,
    /// `words` u64 per entry: the linearized set.
    sets: Vec<u64>,
    words: usize,
}

impl Memo {
    pub fn new() -> Self {
        Memo { slots: Vec::new(), shift: 64, entries: Vec::new(), sets: Vec::new(), words: 1 }
    }

    /// Empties the memo for sets of `words` words, keeping the allocations.
    pub fn reset(&mut self, words: usize, expected_entries: usize) {
        self.words = words.max(1);
        self.entries.clear();
        self.sets.clear();
        self.entries.reserve(expected_entries);
        self.sets.reserve(expected_entries * self.words);
        let slots = (expected_entries * 2).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(slots, 0);
        self.shift = 64 - slots.trailing_zeros();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes one more entry costs (its set, state, key and two slots at half load).
    pub fn entry_bytes(&self) -> usize {
        self.words * 8 + 4 + 8 + 16
    }

    /// Inserts (set, state) unless present. `set_hash` is the Zobrist hash of `set`.
    #[inline]
    pub fn insert(&mut self, set_hash: u64, state: u32, set: &[u64], room: &mut Room) -> Insert {
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
                let e = (s as u32 - 1) as usize;
                if self.entries[e].1 == state && self.sets[e * self.words..(e + 1) * self.words] == *set {
                    return Insert::Seen;
                }
            }
            slot = (slot + 1) & mask;
        }
        let cost = self.entry_bytes();
        if room.entries == 0 || room.bytes < cost {
            return Insert::Full;
        }
        room.entries -= 1;
        room.bytes -= cost;
        let e = self.entries.len();
        self.entries.push((key, state));
        match set {
            [word] => self.sets.push(*word),
            _ => self.sets.extend_from_slice(set),
        }
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
        for (e, &(key, _)) in self.entries.iter().enumerate() {
            let mut slot = (key >> self.shift) as usize;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & (n - 1);
            }
            self.slots[slot] = (key << 32) | (e as u64 + 1);
        }
    }

    /// Bytes held by the buffers.
    pub fn retained_bytes(&self) -> usize {
        (self.slots.capacity() + self.sets.capacity()) * 8 + self.entries.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room { entries: usize::MAX, bytes: usize::MAX }
    }

    #[test]
    fn the_same_configuration_is_seen_and_a_different_one_is_new() {
        let mut memo = Memo::new();
        memo.reset(2, 1);
        let mut room = room();
        assert_eq!(memo.insert(7, 1, &[1, 2], &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, &[1, 2], &mut room), Insert::Seen);
        // Same hash, different state or set: a collision must not count as seen.
        assert_eq!(memo.insert(7, 2, &[1, 2], &mut room), Insert::New);
        assert_eq!(memo.insert(7, 1, &[1, 3], &mut room), Insert::New);
        assert_eq!(memo.len(), 3);
    }

    #[test]
    fn entries_survive_growth() {
        let mut memo = Memo::new();
        memo.reset(1, 1);
        let mut room = room();
        for i in 0..10_000u64 {
            assert_eq!(
                memo.insert(i.wrapping_mul(0x1234_5678_9abc_def1), i as u32, &[i], &mut room),
                Insert::New
            );
        }
        for i in 0..10_000u64 {
            assert_eq!(
                memo.insert(i.wrapping_mul(0x1234_5678_9abc_def1), i as u32, &[i], &mut room),
                Insert::Seen
            );
        }
    }

    #[test]
    fn an_exhausted_budget_reports_full_instead_of_growing() {
        let mut memo = Memo::new();
        memo.reset(1, 1);
        let mut room = Room { entries: 2, bytes: usize::MAX };
        assert_eq!(memo.insert(1, 0, &[1], &mut room), Insert::New);
        assert_eq!(memo.insert(2, 0, &[2], &mut room), Insert::New);
        assert_eq!(memo.insert(3, 0, &[3], &mut room), Insert::Full);
        assert_eq!(memo.insert(1, 0, &[1], &mut room), Insert::Seen);
    }
}
