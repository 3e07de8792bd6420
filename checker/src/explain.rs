//! Turning a failed search into a violation people can read.
//!
//! The search remembers the longest sequence it could linearize. After it, some operation `X`
//! returns first among those left: by real-time order it must be linearized before anything
//! invoked after that return, so the only operations that can come next are `X` and those invoked
//! no later than `X`'s return (the candidates). All of them were tried and failed, directly or
//! further on. When `X` is a read that fits neither the current value nor any value the other
//! candidates can produce, that is the whole story and we say so; otherwise we list the
//! candidates, which of them fit the value directly, and that the rest lead to dead ends.
//!
//! Strings are built by hand rather than with `format!`: on small histories the explanation
//! would otherwise cost more than the search.

use crate::model::{push_number, Model};
use crate::report::Violation;
use crate::search::{Search, Tr};

/// Bounds on the search for the values a read could have seen (the explanation must stay cheap).
const WRITES_MAX: usize = 16;
const NODES_MAX: usize = 512;
const VALUES_SHOWN: usize = 8;

/// One operation that could come next after the longest prefix.
struct Candidate {
    op: usize,
    id: u64,
    fits: bool,
    /// "op 17 (client 3, 1200..5400): get("k") -> "v" -- does not fit"; the description is
    /// `line[what.0..what.1]`.
    line: String,
    what: (usize, usize),
}

impl Candidate {
    fn new<'a, M: Model<'a>>(op: usize, call: &M::Call, fits: bool) -> Self {
        let mut line = String::with_capacity(160);
        line.push_str("op ");
        push_number(&mut line, M::id(call));
        line.push_str(" (client ");
        push_number(&mut line, M::client(call));
        line.push_str(", ");
        push_number(&mut line, M::call_ns(call));
        line.push_str("..");
        match M::return_ns(call) {
            Some(r) => push_number(&mut line, r),
            None => line.push('?'),
        }
        line.push_str("): ");
        let start = line.len();
        M::describe(call, &mut line);
        let what = (start, line.len());
        line.push_str(if fits { " -- fits, then dead end" } else { " -- does not fit" });
        Candidate { op, id: M::id(call), fits, line, what }
    }
}

/// `get("k") -> "v" by client 3 (op 17) cannot be linearized: after the longest linearizable
/// prefix (4 of 9 operations), the value can only be `
fn push_cannot<'a, M: Model<'a>>(
    text: &mut String,
    x: &Candidate,
    x_call: &M::Call,
    prefix_len: usize,
    n: usize,
) {
    push_x_words::<M>(text, x, x_call);
    text.push_str(" cannot be linearized: after ");
    push_prefix_words(text, prefix_len, n);
}

/// `get("k") -> "v" by client 3 (op 17)`
fn push_x_words<'a, M: Model<'a>>(text: &mut String, x: &Candidate, x_call: &M::Call) {
    text.push_str(&x.line[x.what.0..x.what.1]);
    text.push_str(" by client ");
    push_number(text, M::client(x_call));
    text.push_str(" (op ");
    push_number(text, M::id(x_call));
    text.push(')');
}

fn push_prefix_words(text: &mut String, prefix_len: usize, n: usize) {
    text.push_str("the longest linearizable prefix (");
    push_number(text, prefix_len as u64);
    text.push_str(" of ");
    push_number(text, n as u64);
    text.push_str(" operations)");
}

fn push_ids(text: &mut String, ids: &mut dyn Iterator<Item = u64>) {
    text.push('[');
    for (i, id) in ids.enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        push_number(text, id);
    }
    text.push(']');
}

/// The violation of a part whose calls are totally ordered (see `Model::replay`): call
/// `members[failed]` did not fit `value`, the value the calls before it left.
pub(crate) fn sequential_violation<'a, M: Model<'a>>(
    calls: &'a [M::Call],
    members: &[u32],
    failed: usize,
    value: &[u8],
    key: &str,
) -> Violation {
    let x_call = &calls[members[failed] as usize];
    let x = Candidate::new::<M>(failed, x_call, false);
    let mut text = String::with_capacity(320);
    push_cannot::<M>(&mut text, &x, x_call, failed, members.len());
    text.push_str(", the value can only be ");
    M::render_value(value, &mut text);
    text.push_str(", as no operation that changes it can come before it (each call returned before the next was invoked)");
    Violation {
        part: key.to_string(),
        operations: vec![M::id(x_call)],
        longest_prefix: members[..failed].iter().map(|&i| M::id(&calls[i as usize])).collect(),
        part_operations: members.len(),
        explanation: text,
        details: vec![x.line],
    }
}

/// The violation of a part with a read of a value nothing could have set
/// (`Model::impossible_read`): `members[read]`.
pub(crate) fn impossible_read<'a, M: Model<'a>>(
    calls: &'a [M::Call],
    members: &[u32],
    read: usize,
    key: &str,
) -> Violation {
    let call = &calls[members[read] as usize];
    let x = Candidate::new::<M>(read, call, false);
    let mut text = String::with_capacity(160);
    push_x_words::<M>(&mut text, &x, call);
    text.push_str(
        " cannot be linearized anywhere: it is not the initial value and no operation on this key writes it",
    );
    Violation {
        part: key.to_string(),
        operations: vec![M::id(call)],
        longest_prefix: Vec::new(),
        part_operations: members.len(),
        explanation: text,
        details: vec![x.line],
    }
}

/// The violation of a part whose search failed.
pub(crate) fn violation<'a, M: Model<'a>>(
    search: &mut Search<'a>,
    calls: &'a [M::Call],
    key: &str,
) -> Violation {
    let n = search.ops.len();
    let prefix: Vec<u32> = search.longest_prefix().to_vec();
    let call_of = |search: &Search<'a>, op: usize| &calls[search.ops[op].call_index as usize];
    let mut room = usize::MAX;
    let mut state = search.initial_state;
    for &op in &prefix {
        search.mark(op as usize, true);
        if let Ok(Some(next)) = search.step(state, op as usize, &mut room) {
            state = next;
        }
    }
    let longest_prefix: Vec<u64> = prefix.iter().map(|&op| M::id(call_of(search, op as usize))).collect();

    // X: the first return among the operations left; a violation always leaves one.
    let first_return =
        (0..n).filter(|&i| !search.marked(i)).filter_map(|i| search.ops[i].return_ns().map(|r| (r, i))).min();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(8);
    if let Some((deadline, _)) = first_return {
        for op in 0..n {
            if !search.marked(op) && search.ops[op].call_ns <= deadline {
                let fits = matches!(search.step(state, op, &mut room), Ok(Some(_)));
                candidates.push(Candidate::new::<M>(op, call_of(search, op), fits));
            }
        }
    }
    let Some((_, x)) = first_return else {
        for &op in &prefix {
            search.mark(op as usize, false);
        }
        return Violation {
            part: key.to_string(),
            operations: Vec::new(),
            longest_prefix,
            part_operations: n,
            explanation: "no linearization exists".to_string(),
            details: Vec::new(),
        };
    };
    if let Some(read) = search.orphan_at_best().filter(|&r| !search.marked(r)) {
        let culprit = Candidate::new::<M>(read, call_of(search, read), false);
        let mut text = String::with_capacity(256);
        push_x_words::<M>(&mut text, &culprit, call_of(search, read));
        text.push_str(" cannot be linearized: after ");
        push_prefix_words(&mut text, prefix.len(), n);
        text.push_str(" the value is ");
        M::render_value(search.states.bytes(state), &mut text);
        text.push_str(
            ", which is neither what it read nor the start of it, and no operation left sets what it read \
             (or a start of it): from there the value can only move further away",
        );
        for &op in &prefix {
            search.mark(op as usize, false);
        }
        return Violation {
            part: key.to_string(),
            operations: vec![culprit.id],
            longest_prefix,
            part_operations: n,
            explanation: text,
            details: vec![culprit.line],
        };
    }
    candidates.sort_by_key(|c| (search.ops[c.op].call_ns, c.op));
    let x_rank = candidates.iter().position(|c| c.op == x).unwrap_or(0);
    let x_call = call_of(search, x);
    let id_of = |c: &Candidate| c.id;

    let mut text = String::with_capacity(384);
    // The culprit: X if it is a read that fits no value it could see, else another such read.
    let mut explained = false;
    let culprits: Vec<usize> = std::iter::once(x_rank)
        .chain((0..candidates.len()).filter(|&r| r != x_rank))
        .filter(|&r| !candidates[r].fits && is_read_like(search.ops[candidates[r].op].tr))
        .collect();
    for r in culprits {
        let read = candidates[r].op;
        let Some(read_return) = search.ops[read].return_ns() else { continue };
        // What may take effect before the read: remaining writers invoked before it returned.
        let writers: Vec<usize> = (0..n)
            .filter(|&op| op != read && !search.marked(op) && search.ops[op].call_ns <= read_return)
            .filter(|&op| !is_read_like(search.ops[op].tr) || matches!(search.ops[op].tr, Tr::Cas { .. }))
            .collect();
        let Some(values) = reachable_values(search, state, &writers) else { continue };
        if values.iter().any(|&v| matches!(search.step(v, read, &mut room), Ok(Some(_)))) {
            continue;
        }
        push_cannot::<M>(&mut text, &candidates[r], call_of(search, read), prefix.len(), n);
        text.push_str(if values.len() == 1 {
            ", the value can only be "
        } else {
            ", the value can only be one of "
        });
        for (i, &v) in values.iter().take(VALUES_SHOWN).enumerate() {
            if i > 0 {
                text.push_str(if i + 1 == values.len().min(VALUES_SHOWN) { " or " } else { ", " });
            }
            M::render_value(search.states.bytes(v), &mut text);
        }
        if values.len() > VALUES_SHOWN {
            text.push_str(" (and ");
            push_number(&mut text, (values.len() - VALUES_SHOWN) as u64);
            text.push_str(" more)");
        }
        if writers.is_empty() {
            text.push_str(", as no operation that changes it can come before it");
        } else {
            text.push_str(", whichever of the operations ");
            push_ids(&mut text, &mut writers.iter().map(|&w| M::id(call_of(search, w))));
            text.push_str(" that may come before it take effect");
        }
        explained = true;
        break;
    }
    for &op in &prefix {
        search.mark(op as usize, false);
    }
    if !explained {
        text.push_str("after ");
        push_prefix_words(&mut text, prefix.len(), n);
        text.push_str(" the value is ");
        M::render_value(search.states.bytes(state), &mut text);
        text.push_str("; ");
        push_x_words::<M>(&mut text, &candidates[x_rank], x_call);
        text.push_str(" returns first, ");
        if candidates.len() == 1 {
            text.push_str("so it must come next: ");
        } else {
            text.push_str("so one of the ");
            push_number(&mut text, candidates.len() as u64);
            text.push_str(" operations invoked by then must come next: ");
        }
        let misfits = candidates.iter().filter(|c| !c.fits).count();
        if misfits == 0 {
            text.push_str("each fits the value but every way on leads to a dead end");
        } else if misfits == candidates.len() {
            text.push_str("none of them fits the value");
        } else {
            push_ids(&mut text, &mut candidates.iter().filter(|c| !c.fits).map(id_of));
            text.push_str(" do not fit the value and every way on from the others leads to a dead end");
        }
    }
    Violation {
        part: key.to_string(),
        operations: candidates.iter().map(id_of).collect(),
        longest_prefix,
        part_operations: n,
        explanation: text,
        details: candidates.into_iter().map(|c| c.line).collect(),
    }
}

/// Operations whose success depends on the value (reads and compare-and-sets).
fn is_read_like(tr: Tr) -> bool {
    matches!(tr, Tr::ReadId(_) | Tr::ReadStr(_) | Tr::Cas { .. } | Tr::CasNot(_))
}

/// Every value reachable from `start` by applying distinct operations of `others` in any order
/// (each must fit when applied), `start` first; `None` when the bounds are exceeded. Real-time
/// order among `others` is ignored, so this may include values no order allows: "can only be one
/// of" stays true.
fn reachable_values(search: &mut Search<'_>, start: u32, others: &[usize]) -> Option<Vec<u32>> {
    if others.len() > WRITES_MAX {
        return None;
    }
    let mut room = usize::MAX;
    let mut seen: Vec<(u32, u32)> = vec![(start, 0)];
    let mut values = vec![start];
    let mut i = 0;
    while i < seen.len() {
        let (state, used) = seen[i];
        i += 1;
        for (k, &op) in others.iter().enumerate() {
            if used & (1 << k) != 0 {
                continue;
            }
            if let Ok(Some(next)) = search.step(state, op, &mut room) {
                let node = (next, used | (1 << k));
                if !seen.contains(&node) {
                    if seen.len() >= NODES_MAX {
                        return None;
                    }
                    seen.push(node);
                    if !values.contains(&next) {
                        values.push(next);
                    }
                }
            }
        }
    }
    Some(values)
}

/// A read that saw a value every writer of which had returned before another write began, which
/// itself returned before the read began (see `Model::stale_read`).
pub(crate) fn stale_read<'a, M: Model<'a>>(
    calls: &'a [M::Call],
    members: &[u32],
    read: usize,
    writer: usize,
    key: &str,
) -> Violation {
    let read_call = &calls[members[read] as usize];
    let writer_call = &calls[members[writer] as usize];
    let x = Candidate::new::<M>(read, read_call, false);
    let w = Candidate::new::<M>(writer, writer_call, true);
    let mut text = String::with_capacity(256);
    push_x_words::<M>(&mut text, &x, read_call);
    text.push_str(
        " cannot be linearized anywhere: every operation that could set the value it read returned before ",
    );
    text.push_str(&w.line[w.what.0..w.what.1]);
    text.push_str(" by client ");
    push_number(&mut text, M::client(writer_call));
    text.push_str(" (op ");
    push_number(&mut text, M::id(writer_call));
    text.push_str(") was invoked, and that returned before the read was invoked: the read is stale");
    let mut ids = vec![
        (M::call_ns(writer_call), M::id(writer_call), w.line),
        (M::call_ns(read_call), M::id(read_call), x.line),
    ];
    ids.sort_by_key(|(t, id, _)| (*t, *id));
    Violation {
        part: key.to_string(),
        operations: ids.iter().map(|(_, id, _)| *id).collect(),
        longest_prefix: Vec::new(),
        part_operations: members.len(),
        explanation: text,
        details: ids.into_iter().map(|(_, _, line)| line).collect(),
    }
}
