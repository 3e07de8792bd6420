//! The search for a linearization of one part (one key).
//!
//! Wing & Gong (1993, "Testing and verifying concurrent objects") search the tree of orders:
//! repeatedly pick an operation that may come next, apply it to a sequential model, and backtrack
//! when none fits. Lowe (2017, "Testing for linearizability", §3-4) makes it practical:
//!
//! * **Just-in-time linearization.** Calls and returns are entries of one list in time order. The
//!   search walks it from the start: a call entry is a candidate to linearize now; reaching a
//!   return entry means that operation had to be linearized already, so the last choice was wrong
//!   and is undone. Linearized operations are unlinked (call and return) from the doubly-linked
//!   list, and relinked on backtrack (Knuth's dancing links), so the walk never sees them.
//! * **Memo.** Each configuration (linearized set, model state) is explored once (memo.rs).
//!
//! An operation with unknown outcome has a call entry and no return entry: it may be linearized
//! at any point after its invocation, and the search succeeds as soon as every *known* operation
//! is linearized, the remaining unknown ones being those that never took effect.
//!
//! The search is resumable: `run` does a bounded number of steps and returns, so the driver can
//! interleave the parts of a history deterministically (check.rs).

use crate::memo::{Insert, Memo, Room};
use crate::states::States;
use std::time::Instant;

/// A model transition, compiled to interned state ids (states.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tr {
    /// A read that saw the value with this id.
    ReadId(u32),
    /// A get that saw the bytes of this read slot.
    ReadStr(u32),
    /// A put / write.
    Set(u32),
    /// An append of this piece.
    Append(u32),
    /// A compare-and-set that succeeded (or, outcome unknown, may have).
    Cas { from: u32, to: u32 },
    /// A compare-and-set that returned "failed": the value was not `from`.
    CasNot(u32),
}

/// One operation of the part, after compilation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub tr: Tr,
    pub call_ns: u64,
    /// `None` for an unknown outcome.
    pub return_ns: Option<u64>,
    /// Index of the call in the caller's slice (for ids and explanations).
    pub call_index: u32,
}

/// Where a bounded run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    Linearizable,
    NotLinearizable,
    /// The step budget of this run is used; call `run` again.
    Budget,
    TimeUp,
    /// The memory budget is spent (memo entries, memo bytes or state bytes).
    Full,
}

const RET: u32 = 1 << 31;
const NONE: u32 = u32::MAX;
/// How many steps between two looks at the clock (`Instant::now` costs ~25 ns).
const CLOCK_EVERY: u64 = 1024;

pub(crate) struct Search<'a> {
    pub ops: Vec<Op>,
    pub states: States<'a>,
    pub initial_state: u32,
    // The entry list: entry 0 is the head; `ent[e]` is the op, with RET set for a return entry.
    // `ent[0] = RET` makes the end of the list behave as a return: backtrack.
    next: Vec<u32>,
    prev: Vec<u32>,
    ent: Vec<u32>,
    ret_entry: Vec<u32>,
    sort_buf: Vec<u128>,
    // The search state.
    set: Vec<u64>,
    set_hash: u64,
    state: u32,
    cursor: u32,
    /// (call entry, state before it) for each linearized op, in order.
    stack: Vec<(u32, u32)>,
    known_left: usize,
    /// The longest linearized prefix seen (op indices), for explanations; `best[..agree]` equals
    /// the current stack, so updating it is amortised O(1) per step.
    best: Vec<u32>,
    agree: usize,
    pub memo: Memo,
    pub steps: u64,
}

impl<'a> Search<'a> {
    pub fn new() -> Self {
        Search {
            ops: Vec::new(),
            states: States::new(),
            initial_state: 0,
            next: Vec::new(),
            prev: Vec::new(),
            ent: Vec::new(),
            ret_entry: Vec::new(),
            sort_buf: Vec::new(),
            set: Vec::new(),
            set_hash: 0,
            state: 0,
            cursor: 0,
            stack: Vec::new(),
            known_left: 0,
            best: Vec::new(),
            agree: 0,
            memo: Memo::new(),
            steps: 0,
        }
    }

    /// Starts a new part, keeping allocations from the previous one.
    pub fn begin(&mut self, expected_ops: usize) {
        self.ops.clear();
        self.states.reset(expected_ops + 1);
        self.steps = 0;
    }

    /// Builds the entry list once all ops are added. Entries are ordered by time; at equal times
    /// calls come before returns, so that equal timestamps mean "concurrent" (history.rs).
    pub fn prepare(&mut self, initial_state: u32) {
        let n = self.ops.len();
        self.initial_state = initial_state;
        self.sort_buf.clear();
        self.known_left = 0;
        for (i, op) in self.ops.iter().enumerate() {
            self.sort_buf.push((u128::from(op.call_ns) << 64) | i as u128);
            if let Some(ret) = op.return_ns {
                self.sort_buf.push((u128::from(ret) << 64) | (1 << 32) | i as u128);
                self.known_left += 1;
            }
        }
        self.sort_buf.sort_unstable();
        let m = self.sort_buf.len();
        self.ent.clear();
        self.ent.push(RET);
        self.ret_entry.clear();
        self.ret_entry.resize(n, NONE);
        for (k, &key) in self.sort_buf.iter().enumerate() {
            let op = key as u32;
            if key & (1 << 32) != 0 {
                self.ent.push(op | RET);
                self.ret_entry[op as usize] = k as u32 + 1;
            } else {
                self.ent.push(op);
            }
        }
        self.next.clear();
        self.prev.clear();
        for e in 0..=m as u32 {
            self.next.push(if e as usize == m { 0 } else { e + 1 });
            self.prev.push(if e == 0 { m as u32 } else { e - 1 });
        }
        let words = n.div_ceil(64).max(1);
        self.set.clear();
        self.set.resize(words, 0);
        self.set_hash = 0;
        self.state = initial_state;
        self.cursor = self.next[0];
        self.stack.clear();
        self.best.clear();
        self.agree = 0;
        self.memo.reset(words, n);
    }

    /// Runs at most `budget` steps.
    pub fn run(&mut self, budget: u64, deadline: Option<Instant>, room: &mut Room) -> Poll {
        let mut e = self.cursor;
        let mut done = 0u64;
        loop {
            if self.known_left == 0 {
                self.steps += done;
                return Poll::Linearizable;
            }
            if done == budget || (done % CLOCK_EVERY == CLOCK_EVERY - 1 && past(deadline)) {
                self.cursor = e;
                self.steps += done;
                return if done == budget { Poll::Budget } else { Poll::TimeUp };
            }
            done += 1;
            let code = self.ent[e as usize];
            if code & RET == 0 {
                let op = code as usize;
                let next_state = match self.step(self.state, op, &mut room.bytes) {
                    Ok(s) => s,
                    Err(()) => {
                        self.cursor = e;
                        self.steps += done;
                        return Poll::Full;
                    }
                };
                if let Some(s) = next_state {
                    let z = zobrist(op);
                    self.set[op / 64] |= 1 << (op % 64);
                    match self.memo.insert(self.set_hash ^ z, s, &self.set, room) {
                        Insert::New => {
                            self.set_hash ^= z;
                            self.push(e, s);
                            e = self.next[0];
                            continue;
                        }
                        Insert::Seen => self.set[op / 64] &= !(1 << (op % 64)),
                        Insert::Full => {
                            self.set[op / 64] &= !(1 << (op % 64));
                            self.cursor = e;
                            self.steps += done;
                            return Poll::Full;
                        }
                    }
                }
                e = self.next[e as usize];
            } else {
                let Some((call, before)) = self.stack.pop() else {
                    self.steps += done;
                    return Poll::NotLinearizable;
                };
                self.agree = self.agree.min(self.stack.len());
                let op = self.ent[call as usize] as usize;
                self.state = before;
                self.set[op / 64] &= !(1 << (op % 64));
                self.set_hash ^= zobrist(op);
                self.relink(call, op);
                e = self.next[call as usize];
            }
        }
    }

    /// Linearizes the op of call entry `e`, reaching state `s`.
    #[inline]
    fn push(&mut self, e: u32, s: u32) {
        let op = self.ent[e as usize] as usize;
        self.stack.push((e, self.state));
        self.state = s;
        self.unlink(e);
        let ret = self.ret_entry[op];
        if ret != NONE {
            self.unlink(ret);
            self.known_left -= 1;
        }
        if self.stack.len() > self.best.len() {
            self.best.truncate(self.agree);
            for &(call, _) in &self.stack[self.agree..] {
                self.best.push(self.ent[call as usize]);
            }
            self.agree = self.stack.len();
        }
    }

    #[inline]
    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    /// Undoes `push`: relinks in the reverse order of unlinking.
    #[inline]
    fn relink(&mut self, call: u32, op: usize) {
        let ret = self.ret_entry[op];
        if ret != NONE {
            self.link(ret);
            self.known_left += 1;
        }
        self.link(call);
    }

    #[inline]
    fn link(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }

    /// The model: the state after `op` from `s`, `None` if `op` cannot happen in `s`,
    /// `Err` if a new value would exceed the byte budget.
    #[inline]
    pub fn step(&mut self, s: u32, op: usize, bytes_room: &mut usize) -> Result<Option<u32>, ()> {
        Ok(match self.ops[op].tr {
            Tr::ReadId(v) => (s == v).then_some(s),
            Tr::ReadStr(r) => self.states.read_matches(s, r).then_some(s),
            Tr::Set(v) => Some(v),
            Tr::Append(p) => Some(self.states.append(s, p, bytes_room).map_err(|_| ())?),
            Tr::Cas { from, to } => (s == from).then_some(to),
            Tr::CasNot(from) => (s != from).then_some(s),
        })
    }

    /// The longest sequence of ops (indices) that the search managed to linearize.
    pub fn longest_prefix(&self) -> &[u32] {
        &self.best
    }

    /// What this part took from the shared budget, to give back when it is done.
    pub fn charged(&self) -> (usize, usize) {
        let entries = self.memo.len();
        (entries, entries * self.memo.entry_bytes() + self.states.charged)
    }
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// One random word per op (splitmix64): the linearized set's hash is the XOR of its ops' words.
#[inline]
fn zobrist(op: usize) -> u64 {
    let mut z = (op as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
