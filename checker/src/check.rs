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
use crate::report::{CheckReport, Verdict};
use crate::search::{Poll, Search};
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

/// Checks a key/value history (each key a string starting as "").
pub fn check_kv(calls: &[KvCall], opts: &CheckOptions) -> CheckReport {
    check_with(&KvModel, calls, opts)
}

/// Checks a register history; `initial` is the registers' initial value (`None` = nil).
pub fn check_register(calls: &[RegisterCall], initial: Option<i64>, opts: &CheckOptions) -> CheckReport {
    check_with(&RegisterModel { initial }, calls, opts)
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

fn check_with<'a, M: Model<'a>>(model: &M, calls: &'a [M::Call], opts: &CheckOptions) -> CheckReport {
    let start = Instant::now();
    let deadline = opts.time_limit.map(|limit| start + limit);
    let mut report = CheckReport {
        verdict: Verdict::Linearizable,
        operations: calls.len(),
        parts: 0,
        elapsed: Duration::ZERO,
        violation: None,
        unknown_reason: None,
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
    let mut spares: Vec<Search<'a>> =
        std::mem::take(&mut scratch.searches).into_iter().map(Search::relabel).collect();
    search_parts(model, calls, opts, deadline, &scratch.parts, &mut spares, &mut scratch.value, &mut report);
    scratch.searches = spares.into_iter().map(Search::relabel).collect();
    pool::give_back(scratch);
    report.elapsed = start.elapsed();
    report
}

/// Searches every part, in turns, until one is not linearizable, the time is up, or all are done.
/// Every workspace used ends up in `spares`.
fn search_parts<'a, M: Model<'a>>(
    model: &M,
    calls: &'a [M::Call],
    opts: &CheckOptions,
    deadline: Option<Instant>,
    parts: &Parts,
    spares: &mut Vec<Search<'a>>,
    value: &mut Vec<u8>,
    report: &mut CheckReport,
) {
    let mut room = Room { entries: opts.memo_limit_entries, bytes: opts.memo_limit_bytes };
    let mut waiting: Vec<(usize, Search<'a>)> = Vec::new();
    let mut undecided: Vec<&str> = Vec::new();
    let mut budget = TURN_STEPS_FIRST;
    let mut decided = false;

    // First turn: every part in key order, on a shared workspace while parts finish at once.
    for rank in 0..parts.count() {
        let part = parts.in_key_order(rank);
        let members = parts.members(part);
        if is_sequential::<M>(calls, members) {
            match model.replay(calls, members, value) {
                Ok(()) => continue,
                Err(failed) => {
                    report.verdict = Verdict::NotLinearizable;
                    let key = parts.key::<M>(calls, part);
                    report.violation = Some(explain::sequential_violation::<M>(calls, members, failed, value, key));
                    decided = true;
                    break;
                }
            }
        }
        if spares.is_empty() {
            spares.push(Search::new());
        }
        let Some(search) = spares.last_mut() else { break };
        search.begin(parts.largest);
        model.compile(calls, members, search);
        match search.run(budget, deadline, &mut room) {
            Poll::Budget => waiting.extend(spares.pop().map(|search| (part, search))),
            poll => match settle::<M>(poll, part, search, calls, parts, &mut room, report) {
                Settled::Done => {}
                Settled::OutOfRoom => undecided.push(parts.key::<M>(calls, part)),
                Settled::Decided => {
                    decided = true;
                    break;
                }
            },
        }
    }
    // Later turns: the parts still searching, in key order, with growing step budgets.
    while !waiting.is_empty() && !decided {
        budget = (budget * 2).min(TURN_STEPS_MAX);
        let mut still = Vec::with_capacity(waiting.len());
        for (part, mut search) in waiting.drain(..) {
            if decided {
                spares.push(search);
                continue;
            }
            match search.run(budget, deadline, &mut room) {
                Poll::Budget => still.push((part, search)),
                poll => {
                    match settle::<M>(poll, part, &mut search, calls, parts, &mut room, report) {
                        Settled::Done => {}
                        Settled::OutOfRoom => undecided.push(parts.key::<M>(calls, part)),
                        Settled::Decided => decided = true,
                    }
                    spares.push(search);
                }
            }
        }
        waiting = still;
    }
    spares.extend(waiting.into_iter().map(|(_, search)| search));
    if !undecided.is_empty() && !decided {
        undecided.sort_unstable();
        let keys: Vec<String> = undecided.iter().map(|k| format!("{k:?}")).collect();
        report.verdict = Verdict::Unknown;
        report.unknown_reason = Some(format!(
            "memory limit reached ({} memo entries or {} bytes) while searching key(s) {}; \
             every other part is linearizable",
            opts.memo_limit_entries,
            opts.memo_limit_bytes,
            keys.join(", ")
        ));
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

enum Settled {
    /// The part is linearizable.
    Done,
    /// The part ran out of memory budget: it stays undecided, the others go on.
    OutOfRoom,
    /// The whole check is decided (a violation, or the time limit).
    Decided,
}

/// Handles a part whose turn ended other than by its step budget, and gives its share of the
/// memory budget back.
fn settle<'a, M: Model<'a>>(
    poll: Poll,
    part: usize,
    search: &mut Search<'a>,
    calls: &'a [M::Call],
    parts: &Parts,
    room: &mut Room,
    report: &mut CheckReport,
) -> Settled {
    let (entries, bytes) = search.charged();
    room.entries += entries;
    room.bytes += bytes;
    match poll {
        Poll::Linearizable | Poll::Budget => Settled::Done,
        Poll::NotLinearizable => {
            report.verdict = Verdict::NotLinearizable;
            report.violation = Some(explain::violation::<M>(search, calls, parts.key::<M>(calls, part)));
            Settled::Decided
        }
        Poll::TimeUp => {
            report.verdict = Verdict::Unknown;
            report.unknown_reason = Some("time limit reached before every part was decided".to_string());
            Settled::Decided
        }
        Poll::Full => {
            search.memo.release();
            Settled::OutOfRoom
        }
    }
}
