//! The driver: split a history into parts, search them, and decide.
//!
//! The history is split per key (parts.rs) and parts are searched in rounds, each part (in key order) getting a bounded number of steps per
//! turn. A part proven non-linearizable decides the whole at once, so a violation in any key is
//! found about as soon as its own search finds it, however long the other keys would take; and
//! because turns are counted in steps, not time, the verdict and the reported part are the same on
//! every run and machine. Small parts finish in their first turn and share one search workspace,
//! kept from one check to the next (pool.rs), which keeps small histories allocation-free.

use crate::explain;
use crate::history::{History, KvCall, RegisterCall, Status};
use crate::memo::Room;
use crate::model::kv::KvModel;
use crate::model::register::RegisterModel;
use crate::model::Model;
use crate::parts::Parts;
use crate::pool;
use crate::report::{CheckReport, DecidedBy, Verdict};
use crate::search::{Poll, Search};
use crate::witness::{self, Verified};
use std::time::{Duration, Instant};

/// Limits of one check. Either limit turns an unfinished search into `Verdict::Unknown`, never
/// into a wrong verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Wall-time limit for the whole check; `None` = no limit.
    pub time_limit: Option<Duration>,
    /// Memo entries alive at once, all parts together.
    pub memo_limit_entries: usize,
    /// Bytes of memo entries and of values created by appends, all parts together.
    pub memo_limit_bytes: usize,
}

impl Default for CheckOptions {
    /// No time limit; 20 million memo entries and 4 GiB, well within a 24 GiB machine.
    fn default() -> Self {
        CheckOptions { time_limit: None, memo_limit_entries: 20_000_000, memo_limit_bytes: 4 << 30 }
    }
}

impl CheckOptions {
    /// The default options with the memo and value bytes capped at `bytes` (for a run with a
    /// memory budget, e.g. 1 GiB a simulator job), and the entries at what those bytes could
    /// hold (an entry costs at least 40 bytes). The search's other buffers, proportional to the
    /// history, come on top.
    pub fn with_memory_limit(bytes: usize) -> Self {
        CheckOptions { memo_limit_bytes: bytes, memo_limit_entries: bytes / 40, ..CheckOptions::default() }
    }
}

/// Checks a key/value history (each key a string starting as "").
pub fn check_kv(calls: &[KvCall], opts: &CheckOptions) -> CheckReport {
    check_with(&KvModel, calls, None, opts)
}

/// Checks a key/value history with the help of a witness: `witness[i]` is the order key of
/// `calls[i]` in a candidate linearization (for the simulator: the log index at which the
/// cluster applied the command, or a key placing a read served without the log), `None` for a
/// call not placed (it never took effect). Placed calls of one key sorted by order key (ties
/// by position in `calls`) must form a linearization of that key: every completed call placed,
/// no failed call placed, points inside the calls' intervals nondecreasing, reads reading what
/// the sequence produces (witness.rs). A key whose witness verifies is linearizable without a
/// search, in O(n log n). The witness is never trusted: for a key where it does not verify,
/// the calls after a quiescent cut up to which it holds are searched from the value it leaves
/// there, and if that fails too (or there is no cut) the whole key is searched, so the verdict
/// is always the search's. A witness whose length is not `calls.len()` is ignored.
/// `CheckReport::decided_by` says which path decided.
pub fn check_kv_with_witness(calls: &[KvCall], witness: &[Option<u64>], opts: &CheckOptions) -> CheckReport {
    check_with(&KvModel, calls, Some(witness).filter(|w| w.len() == calls.len()), opts)
}

/// Checks a register history; `initial` is the registers' initial value (`None` = nil).
pub fn check_register(calls: &[RegisterCall], initial: Option<i64>, opts: &CheckOptions) -> CheckReport {
    check_with(&RegisterModel { initial }, calls, None, opts)
}

/// `check_register` with a witness, as `check_kv_with_witness`.
pub fn check_register_with_witness(
    calls: &[RegisterCall],
    initial: Option<i64>,
    witness: &[Option<u64>],
    opts: &CheckOptions,
) -> CheckReport {
    check_with(&RegisterModel { initial }, calls, Some(witness).filter(|w| w.len() == calls.len()), opts)
}

/// Checks a parsed history. `initial` overrides the initial register value the file gives
/// (`Some(None)` = nil); it is ignored for KV histories, whose keys always start as "".
pub fn check_history(history: &History, initial: Option<Option<i64>>, opts: &CheckOptions) -> CheckReport {
    match history {
        History::Kv(calls) => check_kv(calls, opts),
        History::Register { calls, initial: from_file } => {
            check_register(calls, initial.or(*from_file).flatten(), opts)
        }
    }
}

/// Steps a part may take in its first turn; later turns double it up to `TURN_STEPS_MAX`.
const TURN_STEPS_FIRST: u64 = 2048;
const TURN_STEPS_MAX: u64 = 1 << 16;

fn check_with<'a, M: Model<'a>>(
    model: &M,
    calls: &'a [M::Call],
    witness: Option<&[Option<u64>]>,
    opts: &CheckOptions,
) -> CheckReport {
    let start = Instant::now();
    // A limit too far away to represent is no limit.
    let deadline = opts.time_limit.and_then(|limit| start.checked_add(limit));
    let mut report = CheckReport {
        verdict: Verdict::Linearizable,
        operations: calls.len(),
        parts: 0,
        elapsed: Duration::ZERO,
        violation: None,
        unknown_reason: None,
        decided_by: DecidedBy::Search { keys_searched: 0, window_only: 0 },
    };
    for call in calls {
        if let Err(problem) = M::validate(call) {
            report.verdict = Verdict::Unknown;
            report.unknown_reason = Some(format!("invalid history: operation {}: {problem}", M::id(call)));
            report.elapsed = start.elapsed();
            return report;
        }
    }
    let mut scratch = pool::take();
    scratch.parts.regroup::<M>(calls);
    report.parts = scratch.parts.count();
    // Collected in place (same layout), so no allocation: only the borrow the type names changes.
    let spares: Vec<Search<'a>> =
        std::mem::take(&mut scratch.searches).into_iter().map(Search::relabel).collect();
    let mut driver = Driver {
        model,
        calls,
        parts: &scratch.parts,
        deadline,
        room: Room { entries: opts.memo_limit_entries, bytes: opts.memo_limit_bytes },
        spares,
        undecided: Vec::new(),
        report,
        settled: vec![false; scratch.parts.count()],
        entries_cap_hit: false,
        keys_searched: 0,
        window_only: 0,
    };
    let mut decided = false;
    if let Some(witness) = witness {
        decided = driver.use_witness(witness);
    }
    if !decided {
        decided = driver.run(&mut scratch.value);
    }
    driver.report.decided_by = match (witness, driver.keys_searched, driver.window_only) {
        (Some(_), 0, 0) if driver.report.verdict == Verdict::Linearizable => DecidedBy::Witness,
        (_, keys_searched, window_only) => DecidedBy::Search { keys_searched, window_only },
    };
    if !decided && !driver.undecided.is_empty() {
        driver.undecided.sort_unstable();
        let keys: Vec<String> = driver.undecided.iter().map(|k| format!("{k:?}")).collect();
        let cap = if driver.entries_cap_hit {
            format!(
                "the memo entry limit ({} entries at once; CheckOptions::memo_limit_entries, --memo-limit)",
                opts.memo_limit_entries
            )
        } else {
            format!(
                "the memory limit ({} bytes of memo and values; CheckOptions::memo_limit_bytes, --memory-limit)",
                opts.memo_limit_bytes
            )
        };
        driver.report.verdict = Verdict::Unknown;
        driver.report.unknown_reason = Some(format!(
            "{cap} was reached while searching key(s) {}; every other part is linearizable",
            keys.join(", ")
        ));
    }
    let Driver { spares, mut report, .. } = driver;
    scratch.searches = spares.into_iter().map(Search::relabel).collect();
    pool::give_back(scratch);
    report.elapsed = start.elapsed();
    report
}

/// One check's search over its parts.
struct Driver<'d, 'a, M: Model<'a>> {
    model: &'d M,
    calls: &'a [M::Call],
    parts: &'d Parts,
    deadline: Option<Instant>,
    room: Room,
    /// Search workspaces not in use.
    spares: Vec<Search<'a>>,
    /// Keys whose search ran out of memory budget.
    undecided: Vec<&'a str>,
    report: CheckReport,
    /// Parts already proven linearizable (by a witness), by part number.
    settled: Vec<bool>,
    /// Whether a search stopped on the entry limit (else, on the byte limit).
    entries_cap_hit: bool,
    keys_searched: usize,
    window_only: usize,
}

/// How a part's turn ended, when not by its step budget.
enum Settled {
    /// The part is linearizable.
    Done,
    /// The part ran out of memory budget: it stays undecided, the others go on.
    OutOfRoom,
    /// The whole check is decided (a violation, or the time limit).
    Decided,
}

impl<'a, M: Model<'a>> Driver<'_, 'a, M> {
    /// Searches every part, in turns, until one is not linearizable, the time is up, or all are
    /// done. True when the check is decided early. Every workspace ends up in `spares`.
    fn run(&mut self, value: &mut Vec<u8>) -> bool {
        let mut waiting: Vec<(usize, Search<'a>)> = Vec::new();
        let mut budget = TURN_STEPS_FIRST;
        // First turn: every part in key order, on a shared workspace while parts finish at once.
        for rank in 0..self.parts.count() {
            let part = self.parts.in_key_order(rank);
            if self.settled[part] {
                continue;
            }
            self.keys_searched += 1;
            let members = self.parts.members(part);
            if is_sequential::<M>(self.calls, members) {
                let Err(failed) = self.model.replay(self.calls, members, value) else { continue };
                let key = self.parts.key::<M>(self.calls, part);
                self.report.verdict = Verdict::NotLinearizable;
                self.report.violation =
                    Some(explain::sequential_violation::<M>(self.calls, members, failed, value, key));
                return true;
            }
            if let Some(read) = self.model.impossible_read(self.calls, members) {
                let key = self.parts.key::<M>(self.calls, part);
                self.report.verdict = Verdict::NotLinearizable;
                self.report.violation = Some(explain::impossible_read::<M>(self.calls, members, read, key));
                return true;
            }
            if let Some((read, writer)) = self.model.stale_read(self.calls, members) {
                let key = self.parts.key::<M>(self.calls, part);
                self.report.verdict = Verdict::NotLinearizable;
                self.report.violation =
                    Some(explain::stale_read::<M>(self.calls, members, read, writer, key));
                return true;
            }
            let mut search = self.spares.pop().unwrap_or_else(Search::new);
            search.begin(self.parts.largest);
            self.model.compile(self.calls, members, &mut search);
            match search.run(budget, self.deadline, &mut self.room) {
                Poll::Budget => waiting.push((part, search)),
                poll => {
                    let settled = self.settle(poll, part, &mut search);
                    self.spares.push(search);
                    if matches!(settled, Settled::Decided) {
                        self.spares.extend(waiting.into_iter().map(|(_, s)| s));
                        return true;
                    }
                }
            }
        }
        // Later turns: the parts still searching, in key order, with growing step budgets.
        while !waiting.is_empty() {
            budget = (budget * 2).min(TURN_STEPS_MAX);
            let mut still = Vec::with_capacity(waiting.len());
            let mut decided = false;
            for (part, mut search) in waiting.drain(..) {
                if decided {
                    self.spares.push(search);
                    continue;
                }
                match search.run(budget, self.deadline, &mut self.room) {
                    Poll::Budget => still.push((part, search)),
                    poll => {
                        decided = matches!(self.settle(poll, part, &mut search), Settled::Decided);
                        self.spares.push(search);
                    }
                }
            }
            if decided {
                self.spares.extend(still.into_iter().map(|(_, s)| s));
                return true;
            }
            waiting = still;
        }
        false
    }

    /// Verifies the witness key by key (in key order): a key whose witness holds is settled; one
    /// whose witness holds up to a quiescent cut is settled if the calls after the cut
    /// linearize from the value there. True when the check is decided (the time limit).
    fn use_witness(&mut self, witness: &[Option<u64>]) -> bool {
        let mut failed_placed = vec![false; self.parts.count()];
        for (call, order) in self.calls.iter().zip(witness) {
            if order.is_some() && M::status(call) == Status::Failed {
                if let Some(part) = self.parts.find::<M>(self.calls, M::key(call)) {
                    failed_placed[part] = true;
                }
            }
        }
        for rank in 0..self.parts.count() {
            let part = self.parts.in_key_order(rank);
            let members = self.parts.members(part);
            match witness::verify(self.model, self.calls, members, witness, failed_placed[part]) {
                Verified::Valid => self.settled[part] = true,
                Verified::Invalid => {}
                Verified::Cut { window, value } => {
                    let mut search = self.spares.pop().unwrap_or_else(Search::new);
                    search.begin(window.len());
                    self.model.compile_from(self.calls, &window, Some(&value), &mut search);
                    let poll = loop {
                        match search.run(TURN_STEPS_MAX, self.deadline, &mut self.room) {
                            Poll::Budget => continue,
                            poll => break poll,
                        }
                    };
                    let (entries, bytes) = search.charged();
                    self.room.entries += entries;
                    self.room.bytes += bytes;
                    if search.retained_bytes() > pool::KEEP_BYTES_MAX {
                        search = Search::new();
                    }
                    self.spares.push(search);
                    match poll {
                        Poll::Linearizable => {
                            self.settled[part] = true;
                            self.window_only += 1;
                        }
                        Poll::TimeUp => {
                            self.report.verdict = Verdict::Unknown;
                            self.report.unknown_reason =
                                Some("time limit reached before every part was decided".to_string());
                            return true;
                        }
                        // Not proven by the window: the whole key is searched.
                        _ => {}
                    }
                }
            }
        }
        false
    }

    /// Handles a part whose turn ended other than by its step budget, and gives its share of the
    /// memory budget back.
    fn settle(&mut self, poll: Poll, part: usize, search: &mut Search<'a>) -> Settled {
        if poll == Poll::Full && self.room.entries == 0 {
            self.entries_cap_hit = true;
        }
        let (entries, bytes) = search.charged();
        self.room.entries += entries;
        self.room.bytes += bytes;
        let settled = self.verdict_of(poll, part, search);
        // The budget counts live entries: a finished part's big buffers go back now, not at
        // the end of the check.
        if search.retained_bytes() > pool::KEEP_BYTES_MAX {
            *search = Search::new();
        }
        settled
    }

    fn verdict_of(&mut self, poll: Poll, part: usize, search: &mut Search<'a>) -> Settled {
        match poll {
            Poll::Linearizable | Poll::Budget => Settled::Done,
            Poll::NotLinearizable => {
                let key = self.parts.key::<M>(self.calls, part);
                self.report.verdict = Verdict::NotLinearizable;
                self.report.violation = Some(explain::violation::<M>(search, self.calls, key));
                Settled::Decided
            }
            Poll::TimeUp => {
                self.report.verdict = Verdict::Unknown;
                self.report.unknown_reason =
                    Some("time limit reached before every part was decided".to_string());
                Settled::Decided
            }
            Poll::Full => {
                self.undecided.push(self.parts.key::<M>(self.calls, part));
                Settled::OutOfRoom
            }
        }
    }
}

/// Are the calls all known, each returning before the next is invoked? Then their order is the
/// only linearization to try (`Model::replay`). Equal times count as overlapping.
fn is_sequential<'a, M: Model<'a>>(calls: &'a [M::Call], members: &[u32]) -> bool {
    let mut last_return = None;
    for &i in members {
        let call = &calls[i as usize];
        if M::status(call) != Status::Ok {
            return false;
        }
        if last_return.is_some_and(|r| r >= M::call_ns(call)) {
            return false;
        }
        last_return = M::return_ns(call);
    }
    true
}
