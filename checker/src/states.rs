//! Interned model states: every value a key (or register) can hold gets a `u32` id.
//!
//! The search clones, compares and hashes the model state at every step and stores it in every
//! memo entry, so the state must be a small integer. Values are byte strings interned exactly
//! (hash to find, bytes to confirm), so two ids are equal iff the values are: a get compares ids
//! once it has seen its value, and the memo's "full equality" holds.
//!
//! Appends create new strings during the search. Their hash is a polynomial hash updated in O(1),
//! h(s ++ v) = h(s) * B^|v| + h(v) (mod 2^64), so an append costs one table probe; the bytes are
//! copied only the first time a value appears. Collisions of the hash only cost a comparison.

/// A get's expected output, matched against states lazily (hashing every output up front would
/// cost more than the whole search on append-heavy histories).
pub(crate) struct ReadSlot<'a> {
    pub bytes: &'a [u8],
    /// The state id found equal to `bytes`, once one has been: ids are exact, so later checks
    /// are one integer comparison.
    matched: u32,
}

/// An append's argument, with its hash and B^len precomputed.
pub(crate) struct Piece<'a> {
    pub bytes: &'a [u8],
    hash: u64,
    pow: u64,
}

const NONE: u32 = u32::MAX;

/// A value no read will ever see, whatever is appended to it: the search (search.rs, `judge`)
/// replaces such values by this one, so that orders of appends that only a later put can make
/// good all lead to one configuration. Reads never match it, appends keep it, puts replace it.
pub(crate) const GARBAGE: u32 = 0;

const BASE: u64 = 0x100_0000_01b3; // the FNV prime: odd, with well-spread bits.

/// Where a value's bytes are, and how it was made.
#[derive(Clone, Copy, Debug)]
struct Value {
    start: u32,
    len: u32,
    hash: u64,
    /// (parent state << 32 | piece) for a value made by an append, so that finding it again by
    /// the same append needs no byte comparison; `u64::MAX` otherwise.
    origin: u64,
    /// The read slot this value was last compared with as a prefix (`NONE`: none yet), and the
    /// answer. A value made by an append whose parent is a known prefix of the same read needs
    /// only the appended bytes compared: long append-only values cost O(piece), not O(value).
    prefix_of: u32,
    is_prefix: bool,
}

pub(crate) struct States<'a> {
    arena: Vec<u8>,
    values: Vec<Value>,
    /// Open addressing, linear probing; slot = id + 1, 0 = empty.
    table: Vec<u32>,
    shift: u32,
    pub reads: Vec<ReadSlot<'a>>,
    pub pieces: Vec<Piece<'a>>,
    /// Bytes taken from the shared budget by values created during the search.
    pub charged: usize,
}

/// Per-value bookkeeping (start, len, hash, origin, two table slots), for the budget.
const STATE_OVERHEAD_BYTES: usize = 32;

/// The byte budget for state values ran out (a bad history with ever-growing values).
pub(crate) struct OutOfRoom;

impl<'a> States<'a> {
    pub fn new() -> Self {
        States {
            arena: Vec::new(),
            values: Vec::new(),
            table: Vec::new(),
            shift: 64,
            reads: Vec::new(),
            pieces: Vec::new(),
            charged: 0,
        }
    }

    /// Forgets everything but keeps the allocations, for the next part.
    pub fn reset(&mut self, expected_values: usize) {
        self.arena.clear();
        self.values.clear();
        self.reads.clear();
        self.pieces.clear();
        // Reserve at once: a part's first values cost less than growing by doubling.
        self.arena.reserve(expected_values * 16);
        self.values.reserve(expected_values);
        self.reads.reserve(expected_values);
        self.pieces.reserve(expected_values);
        self.charged = 0;
        let slots = (expected_values * 2).next_power_of_two().max(16);
        self.table.clear();
        self.table.resize(slots, 0);
        self.shift = 64 - slots.trailing_zeros();
        // Id 0 is GARBAGE, kept out of the table so that no value interns to it.
        self.values.push(Value {
            start: 0,
            len: 0,
            hash: 0,
            origin: u64::MAX,
            prefix_of: NONE,
            is_prefix: false,
        });
    }

    /// The same buffers, emptied, for borrowing other calls (pool.rs).
    pub fn relabel<'b>(self) -> States<'b> {
        States {
            arena: self.arena,
            values: self.values,
            table: self.table,
            shift: self.shift,
            reads: empty_reusing(self.reads),
            pieces: empty_reusing(self.pieces),
            charged: 0,
        }
    }

    /// Bytes held by the buffers.
    pub fn retained_bytes(&self) -> usize {
        self.arena.capacity()
            + self.values.capacity() * std::mem::size_of::<Value>()
            + self.table.capacity() * 4
            + self.reads.capacity() * std::mem::size_of::<ReadSlot<'_>>()
            + self.pieces.capacity() * std::mem::size_of::<Piece<'_>>()
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.values.len() - 1
    }

    pub fn bytes(&self, id: u32) -> &[u8] {
        let v = self.values[id as usize];
        &self.arena[v.start as usize..(v.start + v.len) as usize]
    }

    /// The id of `bytes`, creating it if new.
    pub fn intern(&mut self, bytes: &[u8]) -> u32 {
        let h = poly_hash(bytes);
        let mut slot = self.slot_of(h, bytes.len());
        loop {
            let entry = self.table[slot];
            if entry == 0 {
                break;
            }
            let id = entry - 1;
            if self.values[id as usize].hash == h && self.bytes(id) == bytes {
                return id;
            }
            slot = (slot + 1) & (self.table.len() - 1);
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.insert_new(start, bytes.len(), h, u64::MAX, slot)
    }

    /// Registers a get's expected output; returns its slot number.
    pub fn add_read(&mut self, bytes: &'a [u8]) -> u32 {
        self.reads.push(ReadSlot { bytes, matched: NONE });
        (self.reads.len() - 1) as u32
    }

    /// Registers an append's argument; returns its piece number.
    pub fn add_piece(&mut self, bytes: &'a [u8]) -> u32 {
        let mut pow = 1u64;
        for _ in 0..bytes.len() {
            pow = pow.wrapping_mul(BASE);
        }
        self.pieces.push(Piece { bytes, hash: poly_hash(bytes), pow });
        (self.pieces.len() - 1) as u32
    }

    /// Does state `s` hold exactly what read slot `r` saw?
    #[inline]
    pub fn read_matches(&mut self, s: u32, r: u32) -> bool {
        if s == GARBAGE {
            return false;
        }
        let slot = &self.reads[r as usize];
        if slot.matched != NONE {
            return slot.matched == s;
        }
        if self.values[s as usize].len as usize != slot.bytes.len() {
            return false;
        }
        if self.bytes(s) == slot.bytes {
            self.reads[r as usize].matched = s;
            return true;
        }
        false
    }

    /// Is state `s` a prefix of what read slot `r` saw?
    #[inline]
    pub fn is_prefix_of_read(&mut self, s: u32, r: u32) -> bool {
        if s == GARBAGE {
            return false;
        }
        let v = self.values[s as usize];
        if v.prefix_of == r {
            return v.is_prefix;
        }
        let read = self.reads[r as usize].bytes;
        let answer = if v.len as usize > read.len() {
            false
        } else {
            let parent = (v.origin != u64::MAX).then(|| self.values[(v.origin >> 32) as usize]);
            match parent {
                Some(p) if p.prefix_of == r => {
                    // Only the appended piece is new.
                    p.is_prefix && read[p.len as usize..v.len as usize] == self.bytes(s)[p.len as usize..]
                }
                _ => read.starts_with(self.bytes(s)),
            }
        };
        let v = &mut self.values[s as usize];
        v.prefix_of = r;
        v.is_prefix = answer;
        answer
    }

    /// Does what read slot `r` saw start with value `v`?
    #[inline]
    pub fn read_starts_with(&self, r: u32, v: u32) -> bool {
        self.reads[r as usize].bytes.starts_with(self.bytes(v))
    }

    /// The state after appending piece `p` to state `s`.
    #[inline]
    pub fn append(&mut self, s: u32, p: u32, bytes_room: &mut usize) -> Result<u32, OutOfRoom> {
        if s == GARBAGE {
            return Ok(GARBAGE);
        }
        let piece = &self.pieces[p as usize];
        let parent = self.values[s as usize];
        let s_len = parent.len as usize;
        let new_len = s_len + piece.bytes.len();
        let h = parent.hash.wrapping_mul(piece.pow).wrapping_add(piece.hash);
        let origin = (u64::from(s) << 32) | u64::from(p);
        let mut slot = self.slot_of(h, new_len);
        loop {
            let entry = self.table[slot];
            if entry == 0 {
                break;
            }
            let id = entry - 1;
            let i = id as usize;
            let v = self.values[i];
            if v.hash == h && v.len as usize == new_len {
                if v.origin == origin {
                    return Ok(id);
                }
                let candidate = self.bytes(id);
                if candidate[..s_len] == *self.bytes(s) && &candidate[s_len..] == piece.bytes {
                    return Ok(id);
                }
            }
            slot = (slot + 1) & (self.table.len() - 1);
        }
        let cost = new_len + STATE_OVERHEAD_BYTES;
        if *bytes_room < cost || self.arena.len() + new_len > u32::MAX as usize {
            return Err(OutOfRoom);
        }
        *bytes_room -= cost;
        self.charged += cost;
        let start = self.arena.len();
        let s_start = parent.start as usize;
        self.arena.extend_from_within(s_start..s_start + s_len);
        let piece = &self.pieces[p as usize];
        self.arena.extend_from_slice(piece.bytes);
        Ok(self.insert_new(start, new_len, h, origin, slot))
    }

    fn insert_new(&mut self, start: usize, len: usize, h: u64, origin: u64, slot: usize) -> u32 {
        let id = self.values.len() as u32;
        self.values.push(Value {
            start: start as u32,
            len: len as u32,
            hash: h,
            origin,
            prefix_of: NONE,
            is_prefix: false,
        });
        self.table[slot] = id + 1;
        if self.values.len() * 2 > self.table.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let slots = self.table.len() * 2;
        self.table.clear();
        self.table.resize(slots, 0);
        self.shift = 64 - slots.trailing_zeros();
        for id in 1..self.values.len() {
            let v = self.values[id];
            let mut slot = self.slot_of(v.hash, v.len as usize);
            while self.table[slot] != 0 {
                slot = (slot + 1) & (slots - 1);
            }
            self.table[slot] = id as u32 + 1;
        }
    }

    #[inline]
    fn slot_of(&self, h: u64, len: usize) -> usize {
        let mixed = (h ^ (len as u64).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> self.shift) as usize
    }
}

/// An empty vector of another (same-layout) type on the same allocation: the standard library
/// collects a `vec::IntoIter` in place, so this changes only the borrow the type names.
pub(crate) fn empty_reusing<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

fn poly_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |h, &b| h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_built_differently_get_one_id() {
        let mut states = States::new();
        states.reset(4);
        let empty = states.intern(b"");
        let ab = states.add_piece(b"ab");
        let a = states.add_piece(b"a");
        let b = states.add_piece(b"b");
        let mut room = usize::MAX;
        let via_ab = states.append(empty, ab, &mut room).ok().unwrap_or(NONE);
        let via_a = states.append(empty, a, &mut room).ok().unwrap_or(NONE);
        let via_a_b = states.append(via_a, b, &mut room).ok().unwrap_or(NONE);
        assert_eq!(via_ab, via_a_b);
        assert_ne!(via_a, via_ab);
        assert_eq!(states.intern(b"ab"), via_ab);
        assert_eq!(states.bytes(via_ab), b"ab");
    }

    #[test]
    fn reads_match_only_their_value_and_remember_it() {
        let mut states = States::new();
        states.reset(4);
        let x = states.intern(b"x");
        let y = states.intern(b"y");
        let r = states.add_read(b"x");
        assert!(!states.read_matches(y, r));
        assert!(states.read_matches(x, r));
        assert!(!states.read_matches(y, r));
        assert!(states.read_matches(x, r));
    }

    #[test]
    fn many_values_survive_table_growth() {
        let mut states = States::new();
        states.reset(1);
        let ids: Vec<u32> = (0..1000).map(|i| states.intern(format!("v{i}").as_bytes())).collect();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(states.intern(format!("v{i}").as_bytes()), id);
        }
        assert_eq!(states.count(), 1000);
    }

    #[test]
    fn append_refuses_to_grow_past_the_byte_budget() {
        let mut states = States::new();
        states.reset(1);
        let empty = states.intern(b"");
        let p = states.add_piece(b"0123456789");
        let mut room = 0;
        assert!(states.append(empty, p, &mut room).is_err());
        let mut room = 1000;
        assert!(states.append(empty, p, &mut room).is_ok());
        assert_eq!(room, 1000 - 10 - STATE_OVERHEAD_BYTES);
    }
}
