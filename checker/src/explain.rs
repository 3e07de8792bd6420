//! Turning a failed search into a violation people can read.
//!
//! The search remembers the longest sequence it could linearize. After it, some operation `X`
//! returns first among those left: by real-time order it must be linearized before anything
//! invoked after that return, so the only operations that can come next are `X` and those invoked
//! no later than `X`'s return (the candidates). All of them were tried and failed, directly or
//! further on. When `X` is a read that fits neither the current value nor any value the other
//! candidates can produce, that is the whole story and we say so; otherwise we list the
//! candidates, which of them fit the value directly, and that the rest lead to dead ends.

use crate::model::Model;
use crate::report::Violation;
use crate::search::{Search, Tr};

/// Bounds on the search for the values a read could have seen (the explanation must stay cheap).
const WRITES_MAX: usize = 16;
const NODES_MAX: usize = 512;
const VALUES_SHOWN: usize = 8;

pub(crate) fn violation<'a, M: Model<'a>>(search: &mut Search<'a>, calls: &'a [M::Call], key: &str) -> Violation {
    let n = search.ops.len();
    let prefix: Vec<u32> = search.longest_prefix().to_vec();
    let mut in_prefix = vec![false; n];
    let mut room = usize::MAX;
    let mut state = search.initial_state;
    for &op in &prefix {
        in_prefix[op as usize] = true;
        if let Ok(Some(next)) = search.step(state, op as usize, &mut room) {
            state = next;
        }
    }
    let op_ids: Vec<u64> = search.ops.iter().map(|op| M::id(&calls[op.call_index as usize])).collect();
    let id_of = |op: usize| op_ids[op];
    let longest_prefix: Vec<u64> = prefix.iter().map(|&op| id_of(op as usize)).collect();

    // X: the first return among the operations left; a violation always leaves one.
    let first_return = (0..n)
        .filter(|&i| !in_prefix[i])
        .filter_map(|i| search.ops[i].return_ns.map(|r| (r, i)))
        .min();
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

    let value_now = M::render_value(search.states.bytes(state));
    let prefix_words = format!("the longest linearizable prefix ({} of {n} operations)", prefix.len());
    let x_call = &calls[search.ops[x].call_index as usize];
    let x_words = format!("{} by client {} (op {})", M::describe(x_call), M::client(x_call), M::id(x_call));
    let x_fits = candidates.iter().zip(&fits).any(|(&c, &f)| c == x && f);

    let mut explanation = None;
    if !x_fits && is_read_like(search.ops[x].tr) {
        let others: Vec<usize> = candidates.iter().copied().filter(|&c| c != x).collect();
        if let Some(values) = reachable_values(search, state, &others) {
            let x_could = values.iter().any(|&v| matches!(search.step(v, x, &mut room), Ok(Some(_))));
            if !x_could {
                let mut shown: Vec<String> =
                    values.iter().take(VALUES_SHOWN).map(|&v| M::render_value(search.states.bytes(v))).collect();
                if values.len() > VALUES_SHOWN {
                    shown.push(format!("{} more", values.len() - VALUES_SHOWN));
                }
                let which = if values.len() == 1 {
                    format!("the value can only be {value_now}")
                } else {
                    format!("the value can only be one of {}", join_or(&shown))
                };
                let why = if others.is_empty() {
                    "as no other operation can come before it".to_string()
                } else {
                    let ids: Vec<String> = others.iter().map(|&o| id_of(o).to_string()).collect();
                    format!("whichever of the concurrent operations [{}] take effect first", ids.join(", "))
                };
                explanation = Some(format!("{x_words} cannot be linearized: after {prefix_words}, {which}, {why}"));
            }
        }
    }
    let explanation = explanation.unwrap_or_else(|| {
        let misfits: Vec<String> =
            candidates.iter().zip(&fits).filter(|(_, &f)| !f).map(|(&c, _)| id_of(c).to_string()).collect();
        format!(
            "after {prefix_words} the value is {value_now}; {x_words} returns first, so the next operation \
             must be one of the {} invoked before that return, and every choice fails: {} of them do not fit \
             the value ([{}]), the others lead only to dead ends",
            candidates.len(),
            misfits.len(),
            misfits.join(", ")
        )
    });

    let details = candidates
        .iter()
        .zip(&fits)
        .map(|(&c, &f)| {
            let call = &calls[search.ops[c].call_index as usize];
            let ret = M::return_ns(call).map_or("?".to_string(), |r| r.to_string());
            let fit = if f { "fits, then dead end" } else { "does not fit" };
            format!(
                "op {} (client {}, {}..{}): {} -- {fit}",
                M::id(call),
                M::client(call),
                M::call_ns(call),
                ret,
                M::describe(call)
            )
        })
        .collect();
    Violation {
        part: key.to_string(),
        operations: candidates.iter().map(|&c| id_of(c)).collect(),
        longest_prefix,
        part_operations: n,
        explanation,
        details,
    }
}

/// Operations whose success depends on the value (reads and compare-and-sets).
fn is_read_like(tr: Tr) -> bool {
    matches!(tr, Tr::ReadId(_) | Tr::ReadStr(_) | Tr::Cas { .. } | Tr::CasNot(_))
}

/// Every value reachable from `start` by applying distinct operations of `others` in any order
/// (each must fit when applied), `start` first; `None` when the bounds are exceeded.
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

/// "a", "a or b", "a, b or c".
fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
