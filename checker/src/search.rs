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
//! On top of these, a look-ahead of our own (`judge`) cuts configurations whose value the next
//! completed read can never see, and merges values no read can see before a put replaces them.
//!
//! An operation with unknown outcome has a call entry and no return entry: it may be linearized
//! at any point after its invocation, and the search succeeds as soon as every *known* operation
//! is linearized, the remaining unknown ones being those that never took effect.
//!
//! The search is resumable: `run` does a bounded number of steps and returns, so the driver can
//! interleave the parts of a history deterministically (check.rs).

use crate::memo::{Insert, Memo, Room, SetView};
use crate::states::{States, GARBAGE};
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

impl Tr {
    /// True for an op that leaves the state as it found it whenever it fits: a read, a cas that
    /// found another value, a cas from a value to itself. The search linearizes such an op as
    /// soon as it fits instead of branching on it (see `Search::close`).
    #[inline]
    pub fn is_identity(self) -> bool {
        match self {
            Tr::ReadId(_) | Tr::ReadStr(_) | Tr::CasNot(_) => true,
            Tr::Cas { from, to } => from == to,
            Tr::Set(_) | Tr::Append(_) => false,
        }
    }
}

/// One operation of the part, after compilation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub tr: Tr,
    /// Index of the call in the caller's slice (for ids and explanations).
    pub call_index: u32,
    pub call_ns: u64,
    /// `UNKNOWN` for an unknown outcome (kept as a plain integer: ops are read at every step).
    ret_ns: u64,
}

const UNKNOWN: u64 = u64::MAX;

impl Op {
    /// `return_ns` is `None` for an unknown outcome.
    pub fn new(tr: Tr, call_ns: u64, return_ns: Option<u64>, call_index: u32) -> Self {
        // A return at u64::MAX means the same as one just before it: after every call.
        let ret_ns = return_ns.map_or(UNKNOWN, |r| r.min(UNKNOWN - 1));
        Op { tr, call_index, call_ns, ret_ns }
    }

    pub fn return_ns(&self) -> Option<u64> {
        (self.ret_ns != UNKNOWN).then_some(self.ret_ns)
    }
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
/// One linearized op on the search stack, with what to restore when it is undone.
#[derive(Clone, Copy, Debug)]
struct Frame {
    call: u32,
    state: u32,
    next_read: u32,
    next_writer: u32,
    next_observer: u32,
    next_death: u32,
    /// Length of `retired` before this op was linearized.
    retired: u32,
    /// Linearized by `close` (an identity op that fitted), not chosen: undoing it means the
    /// configuration before it has no linearization either, so the search backtracks further.
    forced: bool,
}

/// Completed reads that read the same thing.
#[derive(Clone, Copy, Debug)]
struct Group {
    /// Ops not linearized that can produce what they read.
    sources: u32,
    /// Reads of the group not linearized.
    pending: u32,
    /// One of the reads, to compare states with.
    read: u32,
}

/// What `Search::judge` says of a new state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judgement {
    Fine,
    /// No linearization goes through it.
    Doomed,
    /// No read can see it before a put replaces it: equivalent to `GARBAGE`.
    Garbage,
}

/// How many value-setting ops `judge` looks at before giving up on pruning a step.
const WRITERS_LOOKED_MAX: usize = 16;

/// How many steps between two looks at the clock (`Instant::now` costs ~25 ns).
const CLOCK_EVERY: u64 = 1024;

/// An entry of the call/return list (Lowe 2017, §4): doubly linked, unlinked while linearized.
#[derive(Clone, Copy, Debug)]
struct Entry {
    next: u32,
    prev: u32,
    /// The op, with `RET` set for a return entry.
    code: u32,
}

pub(crate) struct Search<'a> {
    pub ops: Vec<Op>,
    pub states: States<'a>,
    pub initial_state: u32,
    /// Entry 0 is the head; its code is `RET`, so reaching the end of the list backtracks.
    list: Vec<Entry>,
    /// The return entry of each op, `NONE` for an unknown outcome.
    ret_entry: Vec<u32>,
    /// The call entry of each op.
    call_entry: Vec<u32>,
    sort_buf: Vec<u128>,
    // The search state.
    set: Vec<u64>,
    /// Words of `set` before `low_word` are all ones, words from `high_word` on all zero: the
    /// memo stores only the window between (memo.rs).
    low_word: usize,
    high_word: usize,
    set_hash: u64,
    state: u32,
    cursor: u32,
    /// Each linearized op, in order.
    stack: Vec<Frame>,
    // Look-ahead pruning (see `judge`): completed reads by return time, value-setting ops
    // (put, write, cas) by call time, and the first of each not yet linearized.
    reads_by_return: Vec<u32>,
    writers_by_call: Vec<u32>,
    next_read: u32,
    next_writer: u32,
    /// Known ops that look at the state (reads, cas) by return time, and the first not yet
    /// linearized: an unknown op all of whose possible observers are linearized is useless.
    observers_by_return: Vec<u32>,
    next_observer: u32,
    /// (rank, op): the unknown value-setting op `op` becomes useless once `next_observer`
    /// reaches `rank` (see `retire_dead`); sorted.
    deaths: Vec<(u32, u32)>,
    next_death: u32,
    /// Call entries of useless unknown ops taken out of the list, in order.
    retired: Vec<u32>,
    // Sources of reads (see `orphaned`): each completed read's group (same output), each
    // group's counts, which groups each op is a source of (`produces[produces_at[op]..]`),
    // and the groups left without a source while some of their reads are not linearized.
    sources_on: bool,
    group_of: Vec<u32>,
    groups: Vec<Group>,
    produces_at: Vec<u32>,
    produces: Vec<u32>,
    orphans: Vec<u32>,
    orphan_pos: Vec<u32>,
    known_left: usize,
    /// The longest linearized prefix seen (op indices), for explanations; `best[..agree]` equals
    /// the current stack, so updating it is amortised O(1) per step.
    best: Vec<u32>,
    agree: usize,
    /// Set when the longest prefix was cut by `orphaned`: the read it could not serve.
    best_orphan: Option<u32>,
    pub memo: Memo,
    pub steps: u64,
}

impl<'a> Search<'a> {
    pub fn new() -> Self {
        Search {
            ops: Vec::new(),
            states: States::new(),
            initial_state: 0,
            list: Vec::new(),
            ret_entry: Vec::new(),
            call_entry: Vec::new(),
            sort_buf: Vec::new(),
            set: Vec::new(),
            low_word: 0,
            high_word: 0,
            set_hash: 0,
            state: 0,
            cursor: 0,
            stack: Vec::new(),
            reads_by_return: Vec::new(),
            writers_by_call: Vec::new(),
            next_read: 0,
            next_writer: 0,
            observers_by_return: Vec::new(),
            next_observer: 0,
            deaths: Vec::new(),
            next_death: 0,
            retired: Vec::new(),
            sources_on: false,
            group_of: Vec::new(),
            groups: Vec::new(),
            produces_at: Vec::new(),
            produces: Vec::new(),
            orphans: Vec::new(),
            orphan_pos: Vec::new(),
            known_left: 0,
            best: Vec::new(),
            agree: 0,
            best_orphan: None,
            memo: Memo::new(),
            steps: 0,
        }
    }

    /// The same buffers, for a search over other calls (pool.rs).
    pub fn relabel<'b>(self) -> Search<'b> {
        Search {
            ops: self.ops,
            states: self.states.relabel(),
            initial_state: 0,
            list: self.list,
            ret_entry: self.ret_entry,
            call_entry: self.call_entry,
            sort_buf: self.sort_buf,
            set: self.set,
            low_word: 0,
            high_word: 0,
            set_hash: 0,
            state: 0,
            cursor: 0,
            stack: self.stack,
            reads_by_return: self.reads_by_return,
            writers_by_call: self.writers_by_call,
            next_read: 0,
            next_writer: 0,
            observers_by_return: self.observers_by_return,
            next_observer: 0,
            deaths: self.deaths,
            next_death: 0,
            retired: self.retired,
            sources_on: false,
            group_of: self.group_of,
            groups: self.groups,
            produces_at: self.produces_at,
            produces: self.produces,
            orphans: self.orphans,
            orphan_pos: self.orphan_pos,
            known_left: 0,
            best: self.best,
            agree: 0,
            best_orphan: None,
            memo: self.memo,
            steps: 0,
        }
    }

    /// Bytes held by the buffers, to decide whether they are worth keeping.
    pub fn retained_bytes(&self) -> usize {
        use std::mem::size_of;
        self.ops.capacity() * size_of::<Op>()
            + self.list.capacity() * size_of::<Entry>()
            + self.sort_buf.capacity() * 16
            + self.stack.capacity() * size_of::<Frame>()
            + (self.ret_entry.capacity()
                + self.call_entry.capacity()
                + self.reads_by_return.capacity()
                + self.writers_by_call.capacity()
                + self.observers_by_return.capacity()
                + self.retired.capacity()
                + self.group_of.capacity()
                + self.groups.capacity() * 3
                + self.produces_at.capacity()
                + self.produces.capacity()
                + self.orphans.capacity()
                + self.orphan_pos.capacity()
                + self.deaths.capacity() * 2
                + self.best.capacity())
                * 4
            + self.set.capacity() * 8
            + self.states.retained_bytes()
            + self.memo.retained_bytes()
    }

    /// Starts a new part of about `ops` operations, keeping allocations from the previous one and
    /// reserving the rest at once (growing a dozen vectors by doubling costs more than the whole
    /// search of a small part).
    pub fn begin(&mut self, ops: usize) {
        self.ops.clear();
        self.ops.reserve(ops);
        self.list.reserve(2 * ops + 1);
        self.ret_entry.reserve(ops);
        self.sort_buf.reserve(2 * ops);
        self.stack.reserve(ops);
        self.best.reserve(ops);
        self.reads_by_return.reserve(ops);
        self.writers_by_call.reserve(ops);
        self.states.reset(ops + 1);
        self.steps = 0;
    }

    /// Builds the entry list once all ops are added. Entries are ordered by time; at equal times
    /// calls come before returns, so that equal timestamps mean "concurrent" (history.rs).
    pub fn prepare(&mut self, initial_state: u32) {
        self.initial_state = initial_state;
        self.build_list();
        self.compute_deaths();
        // Unknown ops nobody can observe are useless from the start: they leave the part, and
        // the list is built again without them (they would otherwise be holes in every
        // linearized set, widening the memo's window, and writers the look-ahead must skip).
        if self.deaths.first().is_some_and(|&(rank, _)| rank == 0) {
            let mut useless = vec![false; self.ops.len()];
            for &(_, op) in self.deaths.iter().take_while(|&&(rank, _)| rank == 0) {
                useless[op as usize] = true;
            }
            let mut i = 0;
            self.ops.retain(|_| {
                i += 1;
                !useless[i - 1]
            });
            self.build_list();
            self.compute_deaths();
        }
        self.compute_sources();
        self.set_hash = 0;
        self.state = initial_state;
        self.stack.clear();
        self.next_read = 0;
        self.next_writer = 0;
        self.best.clear();
        self.agree = 0;
        self.best_orphan = None;
        self.memo.reset(self.ops.len());
        self.low_word = 0;
        self.high_word = 0;
        self.next_observer = 0;
        self.next_death = 0;
        self.retired.clear();
        // The initial configuration, closed like every other one.
        self.retire_dead();
        self.close();
        self.advance_pointers();
        self.retire_dead();
        self.cursor = self.list[0].next;
    }

    /// The entry list and the orders the look-ahead uses, from `ops`.
    fn build_list(&mut self) {
        let n = self.ops.len();
        self.sort_buf.clear();
        self.known_left = 0;
        // Calls first, then returns: histories usually list calls in time order and returns
        // nearly so, and the standard (run-adaptive) sort then mostly merges two runs.
        for (i, op) in self.ops.iter().enumerate() {
            self.sort_buf.push((u128::from(op.call_ns) << 64) | i as u128);
        }
        for (i, op) in self.ops.iter().enumerate() {
            if let Some(ret) = op.return_ns() {
                self.sort_buf.push((u128::from(ret) << 64) | (1 << 32) | i as u128);
                self.known_left += 1;
            }
        }
        self.sort_buf.sort();
        let m = self.sort_buf.len() as u32;
        self.list.clear();
        self.list.push(Entry { next: 1.min(m), prev: m, code: RET });
        self.ret_entry.clear();
        self.ret_entry.resize(n, NONE);
        self.call_entry.clear();
        self.call_entry.resize(n, NONE);
        self.reads_by_return.clear();
        self.writers_by_call.clear();
        self.observers_by_return.clear();
        for (k, &key) in self.sort_buf.iter().enumerate() {
            let op = key as u32;
            let e = k as u32 + 1;
            let next = if e == m { 0 } else { e + 1 };
            let is_return = key & (1 << 32) != 0;
            let tr = self.ops[op as usize].tr;
            if is_return {
                self.ret_entry[op as usize] = e;
                if matches!(tr, Tr::ReadId(_) | Tr::ReadStr(_)) {
                    self.reads_by_return.push(op);
                }
                if !matches!(tr, Tr::Set(_) | Tr::Append(_)) {
                    self.observers_by_return.push(op);
                }
            } else {
                self.call_entry[op as usize] = e;
                if matches!(tr, Tr::Set(_) | Tr::Cas { .. }) {
                    self.writers_by_call.push(op);
                }
            }
            self.list.push(Entry { next, prev: e - 1, code: if is_return { op | RET } else { op } });
        }
        let words = n.div_ceil(64).max(1);
        self.set.clear();
        self.set.resize(words, 0);
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
            let code = self.list[e as usize].code;
            if code & RET != 0 {
                // A return reached: the last choice was wrong.
                match self.backtrack() {
                    Some(next) => e = next,
                    None => {
                        self.steps += done;
                        return Poll::NotLinearizable;
                    }
                }
                continue;
            }
            let op = code as usize;
            let next_state = match self.step(self.state, op, &mut room.bytes) {
                Ok(s) => s,
                Err(()) => {
                    self.cursor = e;
                    self.steps += done;
                    return Poll::Full;
                }
            };
            let Some(s) = next_state else {
                e = self.list[e as usize].next;
                continue;
            };
            // Linearize the op, close the new configuration, then judge and remember it.
            let depth = self.stack.len();
            self.push(e, s, false);
            self.close();
            self.advance_pointers();
            self.retire_dead();
            let verdict = match self.judge(self.state) {
                _ if self.orphaned().is_some() => Insert::Seen,
                Judgement::Doomed => Insert::Seen,
                judgement => {
                    if judgement == Judgement::Garbage {
                        self.state = GARBAGE;
                    }
                    let view = SetView {
                        low: self.low_word as u32,
                        window: &self.set[self.low_word..self.high_word.max(self.low_word)],
                    };
                    self.memo.insert(self.set_hash, self.state, view, room)
                }
            };
            match verdict {
                Insert::New => e = self.list[0].next,
                Insert::Seen => {
                    while self.stack.len() > depth {
                        self.pop();
                    }
                    e = self.list[e as usize].next;
                }
                Insert::Full => {
                    while self.stack.len() > depth {
                        self.pop();
                    }
                    self.cursor = e;
                    self.steps += done;
                    return Poll::Full;
                }
            }
        }
    }

    /// Undoes linearized ops up to and including the last one chosen (forced ones above it
    /// go with it); returns the entry to try next, or `None` when nothing is left to undo: the
    /// part has no linearization.
    fn backtrack(&mut self) -> Option<u32> {
        loop {
            let frame = self.pop()?;
            if !frame.forced {
                return Some(self.list[frame.call as usize].next);
            }
        }
    }

    /// Closes the configuration under identity ops: while some op that may come next (a call
    /// entry before the first return entry) leaves the state unchanged and fits it, linearize
    /// it now, without branching.
    ///
    /// Sound and complete. Sound: it is an ordinary step of the search. Complete: let `r` be
    /// such an op and `L` a linearization extending the current prefix `P`. Take `r` out of
    /// `L` (if it is there; an unknown `r` may be absent) and put it right after `P`.
    /// Real-time order still holds: `r`'s call entry comes before every return entry left in
    /// the list, so no op outside `P` returned before `r` was invoked (equal times are
    /// concurrent, and calls sort before returns at equal times), and `r` only moved earlier,
    /// so everything that had to follow it still does. The model states along `L` are
    /// unchanged: `r` fits the current state and leaves it as it is, and where it was taken
    /// out it changed nothing either. So the configuration has a linearization iff the one
    /// after `r` has, and backtracking over `r` (a `forced` frame) backtracks over its parent.
    /// Closing also makes the memo canonical: the closure of a configuration depends only on
    /// the configuration (candidates only grow as ops are linearized, and the state stays), so
    /// paths that differ in when they took identity ops meet in one entry.
    fn close(&mut self) {
        let mut e = self.list[0].next;
        loop {
            let code = self.list[e as usize].code;
            if code & RET != 0 {
                return;
            }
            let op = code as usize;
            if self.ops[op].tr.is_identity() && self.fits(op) {
                // Its neighbour before stays linked; what follows it may have changed (its
                // return entry leaves the list).
                let prev = self.list[e as usize].prev;
                let s = self.state;
                self.push(e, s, true);
                e = self.list[prev as usize].next;
            } else {
                e = self.list[e as usize].next;
            }
        }
    }

    /// Does the identity op `op` fit the current state?
    #[inline]
    fn fits(&mut self, op: usize) -> bool {
        let s = self.state;
        match self.ops[op].tr {
            Tr::ReadId(v) => s == v,
            Tr::ReadStr(r) => self.states.read_matches(s, r),
            Tr::CasNot(from) => s != from,
            Tr::Cas { from, .. } => s == from,
            Tr::Set(_) | Tr::Append(_) => false,
        }
    }

    /// Linearizes the op of call entry `e`, reaching state `s`.
    #[inline]
    fn push(&mut self, e: u32, s: u32, forced: bool) {
        let op = self.list[e as usize].code as usize;
        self.stack.push(Frame {
            call: e,
            state: self.state,
            next_read: self.next_read,
            next_writer: self.next_writer,
            next_observer: self.next_observer,
            next_death: self.next_death,
            retired: self.retired.len() as u32,
            forced,
        });
        self.set_bit(op);
        self.set_hash ^= zobrist(op);
        self.take(op);
        self.state = s;
        self.unlink(e);
        let ret = self.ret_entry[op];
        if ret != NONE {
            self.unlink(ret);
            self.known_left -= 1;
        }
        self.note_prefix(None);
    }

    /// Undoes the last `push` (and the retirements made after it).
    #[inline]
    fn pop(&mut self) -> Option<Frame> {
        let frame = self.stack.pop()?;
        self.agree = self.agree.min(self.stack.len());
        while self.retired.len() > frame.retired as usize {
            let Some(call) = self.retired.pop() else { break };
            let op = self.list[call as usize].code as usize;
            self.clear_bit(op);
            self.set_hash ^= zobrist(op);
            self.untake(op);
            self.link(call);
        }
        let call = frame.call;
        let op = self.list[call as usize].code as usize;
        self.state = frame.state;
        self.next_read = frame.next_read;
        self.next_writer = frame.next_writer;
        self.next_observer = frame.next_observer;
        self.next_death = frame.next_death;
        self.clear_bit(op);
        self.set_hash ^= zobrist(op);
        self.untake(op);
        self.relink(call, op);
        Some(frame)
    }

    /// Takes out the unknown ops that have become useless: all the known ops that could
    /// observe their effect are linearized (see `compute_deaths`). Such an op is marked as
    /// linearized without taking effect, so the memo sees one configuration where there were
    /// two (taken earlier, or never), and it stops being a candidate at every step.
    #[inline]
    fn retire_dead(&mut self) {
        while let Some(&(rank, op)) = self.deaths.get(self.next_death as usize) {
            if rank > self.next_observer {
                return;
            }
            self.next_death += 1;
            let op = op as usize;
            if self.marked(op) {
                continue;
            }
            // Unknown ops have no return entry: only the call entry leaves the list.
            let call = self.call_entry[op];
            self.unlink(call);
            self.set_bit(op);
            self.set_hash ^= zobrist(op);
            self.take(op);
            self.retired.push(call);
        }
    }

    /// Records the stack (and `extra` after it) as the longest prefix if it is longer.
    #[inline]
    fn note_prefix(&mut self, extra: Option<u32>) {
        let len = self.stack.len() + usize::from(extra.is_some());
        if len <= self.best.len() {
            return;
        }
        self.best.truncate(self.agree);
        for frame in &self.stack[self.agree..] {
            self.best.push(self.list[frame.call as usize].code);
        }
        self.agree = self.stack.len();
        self.best.extend(extra);
        self.best_orphan = None;
    }

    /// Adds `op` to the linearized set, keeping the window bounds.
    #[inline]
    fn set_bit(&mut self, op: usize) {
        let w = op / 64;
        self.set[w] |= 1 << (op % 64);
        self.high_word = self.high_word.max(w + 1);
        while self.low_word < self.set.len() && self.set[self.low_word] == u64::MAX {
            self.low_word += 1;
        }
    }

    /// Removes `op` from the linearized set, keeping the window bounds.
    #[inline]
    fn clear_bit(&mut self, op: usize) {
        let w = op / 64;
        self.set[w] &= !(1 << (op % 64));
        self.low_word = self.low_word.min(w);
        while self.high_word > 0 && self.set[self.high_word - 1] == 0 {
            self.high_word -= 1;
        }
    }

    /// Groups the completed reads by what they read and links each group to the ops that can
    /// produce it (see `orphaned`): for a register, writes and cas to the value read; for a
    /// string, puts whose value starts the output.
    fn compute_sources(&mut self) {
        const NONE_GROUP: u32 = u32::MAX;
        /// Beyond this many outputs starting with one put's value, give up the check.
        const RANGE_MAX: usize = 4096;
        self.group_of.clear();
        self.group_of.resize(self.ops.len(), NONE_GROUP);
        self.groups.clear();
        self.produces_at.clear();
        self.produces.clear();
        self.orphans.clear();
        self.orphan_pos.clear();
        self.sources_on = false;
        // Reads sorted by what they read: (key, op), the key a value id or a read's bytes.
        let mut by_id: Vec<(u32, u32)> = Vec::new();
        let mut by_str: Vec<(&[u8], u32)> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            if op.ret_ns == UNKNOWN {
                continue;
            }
            match op.tr {
                Tr::ReadId(v) => by_id.push((v, i as u32)),
                Tr::ReadStr(r) => by_str.push((self.states.reads[r as usize].bytes, i as u32)),
                _ => {}
            }
        }
        if by_id.is_empty() && by_str.is_empty() {
            return;
        }
        by_id.sort_unstable();
        by_str.sort_unstable();
        // Group numbers: id groups first, then string groups, each in sorted order.
        let mut id_groups: Vec<u32> = Vec::new(); // the value of each id group
        for &(v, op) in &by_id {
            if id_groups.last() != Some(&v) {
                id_groups.push(v);
                self.groups.push(Group { sources: 0, pending: 0, read: op });
            }
            let g = self.groups.len() as u32 - 1;
            self.group_of[op as usize] = g;
            self.groups[g as usize].pending += 1;
        }
        let first_str_group = self.groups.len();
        let mut str_groups: Vec<&[u8]> = Vec::new();
        for &(bytes, op) in &by_str {
            if str_groups.last() != Some(&bytes) {
                str_groups.push(bytes);
                self.groups.push(Group { sources: 0, pending: 0, read: op });
            }
            let g = self.groups.len() as u32 - 1;
            self.group_of[op as usize] = g;
            self.groups[g as usize].pending += 1;
        }
        // Sources, as lists per op.
        self.produces_at.push(0);
        for i in 0..self.ops.len() {
            match self.ops[i].tr {
                Tr::Set(v) | Tr::Cas { to: v, .. } => {
                    if let Ok(k) = id_groups.binary_search(&v) {
                        self.produces.push(k as u32);
                    }
                    if !str_groups.is_empty() {
                        let bytes = self.states.bytes(v);
                        let lo = str_groups.partition_point(|&o| o < bytes);
                        let n = str_groups[lo..].partition_point(|&o| o.starts_with(bytes));
                        if n > RANGE_MAX {
                            return;
                        }
                        self.produces.extend((lo..lo + n).map(|k| (first_str_group + k) as u32));
                    }
                }
                _ => {}
            }
            self.produces_at.push(self.produces.len() as u32);
        }
        for k in 0..self.produces.len() {
            let g = self.produces[k] as usize;
            self.groups[g].sources += 1;
        }
        self.orphan_pos.resize(self.groups.len(), NONE_GROUP);
        for g in 0..self.groups.len() {
            if self.groups[g].sources == 0 {
                self.orphan_pos[g] = self.orphans.len() as u32;
                self.orphans.push(g as u32);
            }
        }
        self.sources_on = true;
    }

    /// Bookkeeping of sources when `op` is linearized (or retired): it reads its group, it
    /// stops being a source of others.
    #[inline]
    fn take(&mut self, op: usize) {
        if !self.sources_on {
            return;
        }
        let g = self.group_of[op];
        if g != u32::MAX {
            let group = &mut self.groups[g as usize];
            group.pending -= 1;
            if group.pending == 0 && group.sources == 0 {
                self.orphan_out(g);
            }
        }
        for k in self.produces_at[op]..self.produces_at[op + 1] {
            let g = self.produces[k as usize];
            let group = &mut self.groups[g as usize];
            group.sources -= 1;
            if group.sources == 0 && group.pending > 0 {
                self.orphan_in(g);
            }
        }
    }

    /// Undoes `take`.
    #[inline]
    fn untake(&mut self, op: usize) {
        if !self.sources_on {
            return;
        }
        for k in self.produces_at[op]..self.produces_at[op + 1] {
            let g = self.produces[k as usize];
            let group = &mut self.groups[g as usize];
            group.sources += 1;
            if group.sources == 1 && group.pending > 0 {
                self.orphan_out(g);
            }
        }
        let g = self.group_of[op];
        if g != u32::MAX {
            let group = &mut self.groups[g as usize];
            group.pending += 1;
            if group.pending == 1 && group.sources == 0 {
                self.orphan_in(g);
            }
        }
    }

    fn orphan_in(&mut self, g: u32) {
        self.orphan_pos[g as usize] = self.orphans.len() as u32;
        self.orphans.push(g);
    }

    fn orphan_out(&mut self, g: u32) {
        let at = self.orphan_pos[g as usize] as usize;
        let last = self.orphans.len() - 1;
        self.orphans.swap(at, last);
        let moved = self.orphans[at];
        self.orphan_pos[moved as usize] = at as u32;
        self.orphans.pop();
        self.orphan_pos[g as usize] = u32::MAX;
    }

    /// Look-ahead over every read still to come (sound; not in Lowe's algorithm): a group of
    /// reads whose sources are all linearized is an orphan. Every op that sets the value from
    /// now on is then no source of it, so after any of them its reads cannot see their value
    /// (a string keeps its start under appends; a register changes only by writes and swaps):
    /// its reads must all come before the next such op, reading the current state (plus
    /// appends, for strings). If the state is not (a prefix of) what they read, the
    /// configuration has no linearization. Groups with no source at all (reads of the initial
    /// value, or of appends to it) are orphans from the start.
    #[inline]
    fn orphaned(&mut self) -> Option<u32> {
        if !self.sources_on {
            return None;
        }
        let s = self.state;
        // Strings: all orphans' reads must extend the current value by appends alone, so it is
        // enough to test the shortest (a necessary condition; testing one read also keeps the
        // prefix cache of states.rs warm).
        let mut shortest: Option<(usize, u32, u32)> = None;
        for k in 0..self.orphans.len() {
            let read = self.groups[self.orphans[k] as usize].read;
            match self.ops[read as usize].tr {
                Tr::ReadId(v) if s != v => return Some(self.orphan_found(read)),
                Tr::ReadStr(r) => {
                    let len = self.states.reads[r as usize].bytes.len();
                    if shortest.is_none_or(|(l, _, _)| len < l) {
                        shortest = Some((len, read, r));
                    }
                }
                _ => {}
            }
        }
        match shortest {
            Some((_, read, r)) if !self.states.is_prefix_of_read(s, r) => Some(self.orphan_found(read)),
            _ => None,
        }
    }

    /// Notes that `read` was orphaned here, if this is where the longest prefix ends.
    fn orphan_found(&mut self, read: u32) -> u32 {
        if self.agree == self.stack.len() && self.stack.len() == self.best.len() {
            self.best_orphan = Some(read);
        }
        read
    }

    /// The read whose sources were all used when the longest prefix was cut short, if that is
    /// what cut it (for explanations).
    pub fn orphan_at_best(&self) -> Option<usize> {
        self.best_orphan.map(|r| r as usize)
    }

    /// For each unknown op that sets or changes the value, the rank in `observers_by_return`
    /// from which it is useless: one past its last possible observer, a known op that could
    /// see its effect (`u32::MAX`, never, if an unknown op could).
    ///
    /// Why such an op `u` may be taken as never happening: in a linearization where `u` comes
    /// after all of its observers, look at the ops between `u` and the next op that replaces
    /// the value (a put or write; a cas from `u`'s value would observe it). None of them looks
    /// at the state: a read there would read `u`'s value (plus appends), a cas that found
    /// another value would depend on it not being its `from`. So taking `u` out leaves every
    /// op fitting, and as its outcome is unknown it may be taken out. The observers:
    /// * a put or write of `v`, or a cas to `v`: reads that saw `v` (for strings: reads whose
    ///   output starts with `v`), cas from `v`, and cas that found another value than `v`;
    /// * an append of `p`: reads whose output contains `p`.
    fn compute_deaths(&mut self) {
        const NEVER: u32 = u32::MAX;
        /// Beyond this many candidate observers for one put, do not look (never retire it).
        const RANGE_MAX: usize = 4096;
        self.deaths.clear();
        let unknown_setter = |op: &Op| {
            op.ret_ns == UNKNOWN
                && matches!(op.tr, Tr::Set(_) | Tr::Append(_) | Tr::Cas { from: _, to: _ })
                && !op.tr.is_identity()
        };
        if !self.ops.iter().any(unknown_setter) {
            return;
        }
        // Observers by kind, with their rank.
        let mut read_ids: Vec<(u32, u32)> = Vec::new();
        let mut read_strs: Vec<(&[u8], u32)> = Vec::new();
        let mut cas_from: Vec<(u32, u32)> = Vec::new();
        // The two latest cas-that-found-another-value with different `from`s.
        let mut cas_not: [(u32, u32); 2] = [(NEVER, 0), (NEVER, 0)];
        let mut cas_not_any = false;
        for (rank, &op) in self.observers_by_return.iter().enumerate() {
            let rank = rank as u32 + 1;
            match self.ops[op as usize].tr {
                Tr::ReadId(v) => read_ids.push((v, rank)),
                Tr::ReadStr(r) => read_strs.push((self.states.reads[r as usize].bytes, rank)),
                Tr::Cas { from, .. } => cas_from.push((from, rank)),
                Tr::CasNot(from) => {
                    cas_not_any = true;
                    if cas_not[0].0 == from || cas_not[0].0 == NEVER {
                        cas_not[0] = (from, rank);
                    } else {
                        cas_not[1] = cas_not[0];
                        cas_not[0] = (from, rank);
                    }
                }
                Tr::Set(_) | Tr::Append(_) => {}
            }
        }
        let mut unknown_cas_from: Vec<u32> = self
            .ops
            .iter()
            .filter(|op| op.ret_ns == UNKNOWN)
            .filter_map(|op| match op.tr {
                Tr::Cas { from, .. } => Some(from),
                _ => None,
            })
            .collect();
        unknown_cas_from.sort_unstable();
        // Latest rank per value: sorted by (value, rank), the last of each value wins.
        read_ids.sort_unstable();
        cas_from.sort_unstable();
        let latest = |list: &[(u32, u32)], v: u32| {
            let end = list.partition_point(|&(x, _)| x <= v);
            if end > 0 && list[end - 1].0 == v {
                list[end - 1].1
            } else {
                0
            }
        };
        read_strs.sort_unstable();
        let pieces: Vec<u32> = (0..self.ops.len() as u32)
            .filter(|&i| {
                unknown_setter(&self.ops[i as usize]) && matches!(self.ops[i as usize].tr, Tr::Append(_))
            })
            .collect();
        let mut append_rank: Vec<u32> = Vec::new();
        if !pieces.is_empty() {
            let patterns: Vec<&[u8]> = pieces
                .iter()
                .map(|&i| match self.ops[i as usize].tr {
                    Tr::Append(p) => self.states.pieces[p as usize].bytes,
                    _ => &[],
                })
                .collect();
            let texts: Vec<&[u8]> = self
                .observers_by_return
                .iter()
                .map(|&op| match self.ops[op as usize].tr {
                    Tr::ReadStr(r) => self.states.reads[r as usize].bytes,
                    _ => &[],
                })
                .collect();
            let matcher = crate::model::unseen::Matcher::new(&patterns);
            append_rank = matcher
                .last_text_containing(&texts)
                .into_iter()
                .zip(&patterns)
                .map(|(last, p)| if p.is_empty() { NEVER } else { last.map_or(0, |t| t as u32 + 1) })
                .collect();
        }
        let mut next_piece = 0;
        for (i, op) in self.ops.iter().enumerate() {
            if !unknown_setter(op) {
                continue;
            }
            let rank = match op.tr {
                Tr::Append(_) => {
                    next_piece += 1;
                    append_rank[next_piece - 1]
                }
                Tr::Set(v) | Tr::Cas { to: v, .. } => {
                    if unknown_cas_from.binary_search(&v).is_ok() {
                        NEVER
                    } else {
                        let mut rank = latest(&read_ids, v).max(latest(&cas_from, v));
                        if cas_not_any {
                            let other = if cas_not[0].0 != v { cas_not[0].1 } else { cas_not[1].1 };
                            rank = rank.max(other);
                        }
                        if !read_strs.is_empty() {
                            let bytes = self.states.bytes(v);
                            let lo = read_strs.partition_point(|&(o, _)| o < bytes);
                            let n = read_strs[lo..].partition_point(|&(o, _)| o.starts_with(bytes));
                            if n > RANGE_MAX {
                                rank = NEVER;
                            } else {
                                rank = read_strs[lo..lo + n].iter().fold(rank, |r, &(_, k)| r.max(k));
                            }
                        }
                        rank
                    }
                }
                _ => NEVER,
            };
            if rank != NEVER {
                self.deaths.push((rank, i as u32));
            }
        }
        self.deaths.sort_unstable();
    }

    /// Moves the read and writer pointers past linearized ops.
    #[inline]
    fn advance_pointers(&mut self) {
        let linearized = |set: &[u64], op: u32| set[op as usize / 64] & (1 << (op % 64)) != 0;
        while let Some(&op) = self.reads_by_return.get(self.next_read as usize) {
            if !linearized(&self.set, op) {
                break;
            }
            self.next_read += 1;
        }
        while let Some(&op) = self.writers_by_call.get(self.next_writer as usize) {
            if !linearized(&self.set, op) {
                break;
            }
            self.next_writer += 1;
        }
        while let Some(&op) = self.observers_by_return.get(self.next_observer as usize) {
            if !linearized(&self.set, op) {
                break;
            }
            self.next_observer += 1;
        }
    }

    /// Look-ahead (not in Lowe's algorithm; sound, see below): what can state `s` (with the
    /// pointers advanced) still lead to? Let `g` be the next completed read by return time. It
    /// must be linearized later, and only ops invoked no later than its return can come before
    /// it. The value it sees is the value set by the last value-setting op (put, write, cas)
    /// before it, plus appends; or, if there is none, `s` plus appends.
    ///
    /// * **Doomed.** If no op that could come before `g` sets a value `g`'s output starts with
    ///   (equals, for a register), `s` must be a prefix of that output (equal to it): otherwise
    ///   the configuration has no linearization. The plain search would find that out only at
    ///   `g`'s return entry, after trying every order of the appends in between.
    /// * **Garbage.** Else, if `s` is a prefix of no read that could come before `g` (all were
    ///   invoked before `g` returned), no read can see `s` or anything appended to it: a put
    ///   must replace it first. Its exact bytes no longer matter, so it becomes `GARBAGE`, and
    ///   the orders of appends that a later put makes good all lead to one configuration.
    #[inline]
    fn judge(&mut self, s: u32) -> Judgement {
        let Some(&g) = self.reads_by_return.get(self.next_read as usize) else { return Judgement::Fine };
        let g_index = g;
        let g = self.ops[g as usize];
        let mut looked = 0;
        let mut writer_may_come = false;
        for &w in &self.writers_by_call[self.next_writer as usize..] {
            let w = w as usize;
            if self.ops[w].call_ns > g.ret_ns {
                break;
            }
            // Looking further costs more than it saves: give up pruning this step.
            looked += 1;
            if looked > WRITERS_LOOKED_MAX {
                return Judgement::Fine;
            }
            if self.set[w / 64] & (1 << (w % 64)) == 0 && self.could_produce(self.ops[w].tr, g.tr) {
                writer_may_come = true;
                break;
            }
        }
        let fits = match g.tr {
            Tr::ReadId(v) => s == v,
            Tr::ReadStr(r) => self.states.is_prefix_of_read(s, r),
            _ => true,
        };
        if fits {
            return Judgement::Fine;
        }
        if !writer_may_come {
            return Judgement::Doomed;
        }
        let Tr::ReadStr(_) = g.tr else { return Judgement::Fine };
        if s == GARBAGE {
            return Judgement::Fine; // already as merged as it gets
        }
        // Could any other read invoked before g returned see s? Their call entries are the ones
        // before g's return entry in the list.
        let stop = self.ret_entry[g_index as usize];
        let mut e = self.list[0].next;
        while e != stop && e != 0 {
            let code = self.list[e as usize].code;
            if code & RET == 0 {
                if let Tr::ReadStr(r) = self.ops[code as usize].tr {
                    if self.states.is_prefix_of_read(s, r) {
                        return Judgement::Fine;
                    }
                }
            }
            e = self.list[e as usize].next;
        }
        Judgement::Garbage
    }

    /// Could the value set by `writer` be (the start of) what `read` saw?
    #[inline]
    fn could_produce(&self, writer: Tr, read: Tr) -> bool {
        match (writer, read) {
            (Tr::Set(v) | Tr::Cas { to: v, .. }, Tr::ReadId(seen)) => v == seen,
            (Tr::Set(v), Tr::ReadStr(r)) => self.states.read_starts_with(r, v),
            _ => true,
        }
    }

    #[inline]
    fn unlink(&mut self, e: u32) {
        let Entry { next, prev, .. } = self.list[e as usize];
        self.list[prev as usize].next = next;
        self.list[next as usize].prev = prev;
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
        let Entry { next, prev, .. } = self.list[e as usize];
        self.list[prev as usize].next = e;
        self.list[next as usize].prev = e;
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

    /// Marks or unmarks `op` in the linearized set (for explanations, once the search is over and
    /// the set is empty).
    pub fn mark(&mut self, op: usize, on: bool) {
        if on {
            self.set[op / 64] |= 1 << (op % 64);
        } else {
            self.set[op / 64] &= !(1 << (op % 64));
        }
    }

    pub fn marked(&self, op: usize) -> bool {
        self.set[op / 64] & (1 << (op % 64)) != 0
    }

    /// What this part took from the shared budget, to give back when it is done.
    pub fn charged(&self) -> (usize, usize) {
        let entries = self.memo.len();
        (entries, self.memo.bytes_used() + self.states.charged)
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
