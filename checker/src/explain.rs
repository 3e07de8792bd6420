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

pub(crate) fn violation<'a, M: Model<'a>>(search: &mut Search<'a>, calls: &'a [M::Call], key: &str) -> Violation {
    let n = search.ops.len();
    let prefix: Vec<u32> = search.take_longest_prefix();
    let mut in_prefix = vec![false; n];
    let mut room = usize::MAX;
    let mut state = search.initial_state;
    for &op in &prefix {
        in_prefix[op as usize] = true;
        if let Ok(Some(next)) = search.step(state, op as usize, &mut room) {
            state = next;
        }
    }
    let call_of = |search: &Search<'a>, op: usize| &calls[search.ops[op].call_index as usize];
    let ids: Vec<u64> = (0..n).map(|op| M::id(call_of(search, op))).collect();
    let longest_prefix: Vec<u64> = prefix.iter().map(|&op| ids[op as usize]).collect();

    // X: the first return among the operations left; a violation always leaves one.
    let first_return =
        (0..n).filter(|&i| !in_prefix[i]).filter_map(|i| search.ops[i].return_ns().map(|r| (r, i))).min();
    let Some((deadline, x)) = first_return else {
        return Violation {
            part: key.to_string(),
            operations: Vec::new(),
            longest_prefix,
            part_operations: n,
            explanation: "no linearization exists".to_string(),
            details: Vec::new(),
        };
    };
    let mut candidates: Vec<usize> =
        (0..n).filter(|&i| !in_prefix[i] && search.ops[i].call_ns <= deadline).collect();
    candidates.sort_by_key(|&i| (search.ops[i].call_ns, i));
    let fits: Vec<bool> =
        candidates.iter().map(|&c| matches!(search.step(state, c, &mut room), Ok(Some(_)))).collect();
    let described: Vec<String> = candidates.iter().map(|&c| M::describe_string(call_of(search, c))).collect();
    let x_rank = candidates.iter().position(|&c| c == x).unwrap_or(0);
    let x_call = call_of(search, x);

    let mut text = String::with_capacity(256);
    // "get("k") -> "v" by client 3 (op 17)"
    let x_words = |text: &mut String| {
        text.push_str(&described[x_rank]);
        text.push_str(" by client ");
        push_number(text, M::client(x_call));
        text.push_str(" (op ");
        push_number(text, M::id(x_call));
        text.push(')');
    };
    let prefix_words = |text: &mut String| {
        text.push_str("the longest linearizable prefix (");
        push_number(text, prefix.len() as u64);
        text.push_str(" of ");
        push_number(text, n as u64);
        text.push_str(" operations)");
    };
    let push_ids = |text: &mut String, ops: &mut dyn Iterator<Item = usize>| {
        text.push('[');
        for (i, op) in ops.enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            push_number(text, ids[op]);
        }
        text.push(']');
    };

    let mut explained = false;
    if !fits[x_rank] && is_read_like(search.ops[x].tr) {
        let others: Vec<usize> = candidates.iter().copied().filter(|&c| c != x).collect();
        if let Some(values) = reachable_values(search, state, &others) {
            let x_could = values.iter().any(|&v| matches!(search.step(v, x, &mut room), Ok(Some(_))));
            if !x_could {
                x_words(&mut text);
                text.push_str(" cannot be linearized: after ");
                prefix_words(&mut text);
                text.push_str(if values.len() == 1 { ", the value can only be " } else { ", the value can only be one of " });
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
                if others.is_empty() {
                    text.push_str(", as no other operation can come before it");
                } else {
                    text.push_str(", whichever of the concurrent operations ");
                    push_ids(&mut text, &mut others.iter().copied());
                    text.push_str(" take effect first");
                }
                explained = true;
            }
        }
    }
    if !explained {
        text.push_str("after ");
        prefix_words(&mut text);
        text.push_str(" the value is ");
        M::render_value(search.states.bytes(state), &mut text);
        text.push_str("; ");
        x_words(&mut text);
        text.push_str(" returns first, ");
        if candidates.len() == 1 {
            text.push_str("so it must come next: ");
        } else {
            text.push_str("so one of the ");
            push_number(&mut text, candidates.len() as u64);
            text.push_str(" operations invoked by then must come next: ");
        }
        let misfits = fits.iter().filter(|&&f| !f).count();
        if misfits == 0 {
            text.push_str("each fits the value but every way on leads to a dead end");
        } else if misfits == candidates.len() {
            text.push_str("none of them fits the value");
        } else {
            push_ids(&mut text, &mut candidates.iter().zip(&fits).filter(|(_, &f)| !f).map(|(&c, _)| c));
            text.push_str(" do not fit the value and every way on from the others leads to a dead end");
        }
    }

    let details = candidates
        .iter()
        .zip(&fits)
        .zip(&described)
        .map(|((&c, &fit), what)| {
            let call = call_of(search, c);
            let mut line = String::with_capacity(what.len() + 48);
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
            line.push_str(what);
            line.push_str(if fit { " -- fits, then dead end" } else { " -- does not fit" });
            line
        })
        .collect();
    Violation {
        part: key.to_string(),
        operations: candidates.iter().map(|&c| ids[c]).collect(),
        longest_prefix,
        part_operations: n,
        explanation: text,
        details,
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
