//! The driver: split a history into parts, search them, and decide.
//!
//! P-compositionality (Herlihy & Wing 1990, locality; Horn & Kroening 2015): a history of
//! independent objects is linearizable iff each object's sub-history is, so a KV history is split
//! per key and each part searched alone: the cost is a sum over parts instead of a product.
//!
//! Parts are searched in rounds, each part (in key order) getting a bounded number of steps per
//! turn. A part proven non-linearizable decides the whole at once, so a violation in any key is
//! found about as soon as its own search finds it, however long the other keys would take; and
//! because turns are counted in steps, not time, the verdict and the reported part are the same on
//! every run and machine. Small parts finish in their first turn and share one reusable search
//! workspace, which keeps tiny histories allocation-light.

use crate::explain;
use crate::history::{History, KvCall, RegisterCall};
use crate::memo::Room;
use crate::model::kv::KvModel;
use crate::model::register::RegisterModel;
use crate::model::Model;
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
    let parts = Parts::group::<M>(calls);
    report.parts = parts.keys.len();
    let mut room = Room { entries: opts.memo_limit_entries, bytes: opts.memo_limit_bytes };
    let mut spare: Option<Search<'a>> = None;
    let mut waiting: Vec<(usize, Search<'a>)> = Vec::new();
    let mut undecided: Vec<&str> = Vec::new();
    let mut budget = TURN_STEPS_FIRST;

    // First turn: every part in key order, on a shared workspace while parts finish at once.
    for &part in &parts.sorted {
        let mut search = spare.take().unwrap_or_else(Search::new);
        model.compile(calls, parts.members(part), &mut search);
        match search.run(budget, deadline, &mut room) {
            Poll::Budget => waiting.push((part, search)),
            poll => {
                match settle::<M>(poll, part, &mut search, calls, &parts, &mut room, &mut report) {
                    Settled::Done => {}
                    Settled::OutOfRoom => undecided.push(parts.keys[part]),
                    Settled::Decided => return done(report, start),
                }
                spare = Some(search);
            }
        }
    }
    // Later turns: the parts still searching, in key order, with growing step budgets.
    while !waiting.is_empty() {
        budget = (budget * 2).min(TURN_STEPS_MAX);
        let mut still = Vec::with_capacity(waiting.len());
        for (part, mut search) in waiting.drain(..) {
            match search.run(budget, deadline, &mut room) {
                Poll::Budget => still.push((part, search)),
                poll => match settle::<M>(poll, part, &mut search, calls, &parts, &mut room, &mut report) {
                    Settled::Done => {}
                    Settled::OutOfRoom => undecided.push(parts.keys[part]),
                    Settled::Decided => return done(report, start),
                },
            }
        }
        waiting = still;
    }
    if !undecided.is_empty() {
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
    done(report, start)
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
    parts: &Parts<'a>,
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
            report.violation = Some(explain::violation::<M>(search, calls, parts.keys[part]));
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

fn done(mut report: CheckReport, start: Instant) -> CheckReport {
    report.elapsed = start.elapsed();
    report
}

/// The history grouped by key: `order[start[p]..start[p + 1]]` are the calls of part `p`
/// (dropped calls excluded), in their original order.
struct Parts<'a> {
    keys: Vec<&'a str>,
    order: Vec<u32>,
    start: Vec<u32>,
    /// Part numbers in key order: the order of search and of any report.
    sorted: Vec<usize>,
}

impl<'a> Parts<'a> {
    fn group<M: Model<'a>>(calls: &'a [M::Call]) -> Self {
        const NONE: u32 = u32::MAX;
        let mut keys: Vec<&'a str> = Vec::new();
        let mut hashes: Vec<u64> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut part_of: Vec<u32> = Vec::with_capacity(calls.len());
        // Open addressing over key hashes; slot = part + 1, 0 = empty.
        let mut table: Vec<u32> = vec![0; 16];
        for call in calls {
            if M::dropped(call) {
                part_of.push(NONE);
                continue;
            }
            let key = M::key(call);
            let h = key_hash(key.as_bytes());
            let mask = table.len() - 1;
            let mut slot = (h as usize) & mask;
            let part = loop {
                let entry = table[slot];
                if entry == 0 {
                    let part = keys.len() as u32;
                    keys.push(key);
                    hashes.push(h);
                    counts.push(0);
                    table[slot] = part + 1;
                    if keys.len() * 2 > table.len() {
                        table = rehash(&hashes, table.len() * 2);
                    }
                    break part;
                }
                let p = entry - 1;
                if hashes[p as usize] == h && keys[p as usize] == key {
                    break p;
                }
                slot = (slot + 1) & mask;
            };
            counts[part as usize] += 1;
            part_of.push(part);
        }
        let mut start = Vec::with_capacity(keys.len() + 1);
        let mut total = 0u32;
        for &count in &counts {
            start.push(total);
            total += count;
        }
        start.push(total);
        let mut fill: Vec<u32> = start[..keys.len()].to_vec();
        let mut order = vec![0u32; total as usize];
        for (i, &part) in part_of.iter().enumerate() {
            if part != NONE {
                order[fill[part as usize] as usize] = i as u32;
                fill[part as usize] += 1;
            }
        }
        let mut sorted: Vec<usize> = (0..keys.len()).collect();
        sorted.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b]));
        Parts { keys, order, start, sorted }
    }

    fn members(&self, part: usize) -> &[u32] {
        &self.order[self.start[part] as usize..self.start[part + 1] as usize]
    }
}

fn rehash(hashes: &[u64], slots: usize) -> Vec<u32> {
    let mut table = vec![0u32; slots];
    for (part, &h) in hashes.iter().enumerate() {
        let mut slot = (h as usize) & (slots - 1);
        while table[slot] != 0 {
            slot = (slot + 1) & (slots - 1);
        }
        table[slot] = part as u32 + 1;
    }
    table
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
