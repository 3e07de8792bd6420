//! Property test: the fast checker agrees with a brute-force one.
//!
//! Histories come from running a sequential model: each operation takes effect at its own
//! instant, and the client sees an interval around that instant (random, often overlapping its
//! neighbours, often with equal timestamps). Such a history is linearizable by construction. Some
//! writes get an unknown outcome (taking effect or not), some fail (not taking effect), some reads
//! are lost. The same history with one read's value altered is usually not linearizable. On small
//! sizes a brute-force checker, which tries every order of every subset of the unknown calls
//! against the definition, must agree with the fast one on both.

use checker::{
    check_kv, check_register, CheckOptions, KvCall, KvKind, RegisterCall, RegisterOp, Status, Verdict,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// What the generator draws for one operation.
#[derive(Clone, Debug)]
struct Draw {
    /// 0 read, 1 write (put), 2 append / cas
    kind: u8,
    key: u8,
    value: u8,
    /// How far before / after its instant the call starts / returns.
    before: u8,
    after: u8,
    /// 0..=5 ok, 6 unknown and took effect, 7 unknown and did not, 8 failed.
    fate: u8,
}

fn draws(max: usize) -> impl Strategy<Value = Vec<Draw>> {
    prop::collection::vec(
        (0u8..3, 0u8..2, 0u8..3, 0u8..4, 0u8..4, 0u8..9).prop_map(
            |(kind, key, value, before, after, fate)| Draw { kind, key, value, before, after, fate },
        ),
        1..=max,
    )
}

/// Times are multiples of 5 around instants 10 apart, so neighbours overlap and ties are common.
fn interval(i: usize, d: &Draw) -> (u64, u64) {
    let instant = 20 + 10 * i as u64;
    (instant - 5 * u64::from(d.before), instant + 5 * u64::from(d.after))
}

fn kv_history(draws: &[Draw]) -> Vec<KvCall> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut calls = Vec::new();
    for (i, d) in draws.iter().enumerate() {
        let key = ["a", "b"][d.key as usize].to_string();
        let kind = [KvKind::Get, KvKind::Put, KvKind::Append][d.kind as usize];
        let arg = if kind == KvKind::Get {
            String::new()
        } else {
            format!("{}{i}", ["x", "y", "z"][d.value as usize])
        };
        let takes_effect = d.fate <= 6;
        let current = values.entry(key.clone()).or_default();
        let seen = current.clone();
        if takes_effect {
            match kind {
                KvKind::Get => {}
                KvKind::Put => *current = arg.clone(),
                KvKind::Append => current.push_str(&arg),
            }
        }
        let (call_ns, return_ns) = interval(i, d);
        let mut call = KvCall {
            id: i as u64,
            client: i as u64 % 3,
            kind,
            key,
            value: arg,
            output: (kind == KvKind::Get).then_some(seen),
            status: Status::Ok,
            call_ns,
            return_ns: Some(return_ns),
        };
        if d.fate == 6 || d.fate == 7 {
            call = call.unknown();
        } else if d.fate == 8 {
            call = call.failed();
        }
        calls.push(call);
    }
    calls
}

fn register_history(draws: &[Draw], initial: Option<i64>) -> Vec<RegisterCall> {
    let mut value = initial;
    let mut calls = Vec::new();
    for (i, d) in draws.iter().enumerate() {
        let v = i64::from(d.value);
        let takes_effect = d.fate <= 6;
        let op = match d.kind {
            0 => RegisterOp::Read { output: Some(value) },
            1 => {
                if takes_effect {
                    value = Some(v);
                }
                RegisterOp::Write { value: v }
            }
            _ => {
                let from = i64::from((d.value + d.before) % 3);
                let swapped = value == Some(from);
                if swapped && takes_effect {
                    value = Some(v);
                }
                RegisterOp::Cas { from, to: v, succeeded: Some(swapped) }
            }
        };
        let (call_ns, return_ns) = interval(i, d);
        let (status, return_ns, op) = match d.fate {
            6 | 7 => {
                // An unknown read has no output; an unknown cas may have done either.
                let op = match op {
                    RegisterOp::Read { .. } => RegisterOp::Read { output: None },
                    RegisterOp::Cas { from, to, .. } => RegisterOp::Cas { from, to, succeeded: None },
                    op => op,
                };
                (Status::Unknown, None, op)
            }
            8 => (Status::Failed, Some(return_ns), op),
            _ => (Status::Ok, Some(return_ns), op),
        };
        calls.push(RegisterCall {
            id: i as u64,
            client: i as u64 % 3,
            key: String::new(),
            op,
            status,
            call_ns,
            return_ns,
        });
    }
    calls
}

/// The definition, by exhaustion: is there an order of all the known calls and some of the
/// unknown ones that respects real time (a call that returned before another was invoked comes
/// first; equal times do not order) and that the sequential model accepts?
fn brute_force<S: Clone>(
    calls: &[(u64, Option<u64>)],
    state: S,
    step: &dyn Fn(&S, usize) -> Option<S>,
) -> bool {
    fn go<S: Clone>(
        calls: &[(u64, Option<u64>)],
        placed: &mut Vec<bool>,
        state: S,
        step: &dyn Fn(&S, usize) -> Option<S>,
    ) -> bool {
        let known_left = (0..calls.len()).any(|i| !placed[i] && calls[i].1.is_some());
        if !known_left {
            return true; // the unknown calls left never took effect
        }
        for o in 0..calls.len() {
            if placed[o] {
                continue;
            }
            let must_wait = (0..calls.len())
                .any(|r| !placed[r] && r != o && calls[r].1.is_some_and(|ret| ret < calls[o].0));
            if must_wait {
                continue;
            }
            if let Some(next) = step(&state, o) {
                placed[o] = true;
                let found = go(calls, placed, next, step);
                placed[o] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    go(calls, &mut vec![false; calls.len()], state, step)
}

fn brute_force_kv(calls: &[KvCall]) -> bool {
    // Failed calls did not happen; unknown gets constrain nothing.
    let live: Vec<&KvCall> = calls
        .iter()
        .filter(|c| c.status != Status::Failed && !(c.status == Status::Unknown && c.kind == KvKind::Get))
        .collect();
    let times: Vec<(u64, Option<u64>)> =
        live.iter().map(|c| (c.call_ns, if c.status == Status::Ok { c.return_ns } else { None })).collect();
    let step = |state: &BTreeMap<String, String>, i: usize| {
        let c = live[i];
        let mut next = state.clone();
        let value = next.entry(c.key.clone()).or_default();
        match c.kind {
            KvKind::Get => (c.output.as_ref() == Some(value)).then_some(next),
            KvKind::Put => {
                *value = c.value.clone();
                Some(next)
            }
            KvKind::Append => {
                value.push_str(&c.value);
                Some(next)
            }
        }
    };
    brute_force(&times, BTreeMap::new(), &step)
}

fn brute_force_register(calls: &[RegisterCall], initial: Option<i64>) -> bool {
    let live: Vec<&RegisterCall> = calls
        .iter()
        .filter(|c| {
            c.status != Status::Failed
                && !(c.status == Status::Unknown && matches!(c.op, RegisterOp::Read { .. }))
        })
        .collect();
    let times: Vec<(u64, Option<u64>)> =
        live.iter().map(|c| (c.call_ns, if c.status == Status::Ok { c.return_ns } else { None })).collect();
    let step = |state: &Option<i64>, i: usize| match live[i].op {
        RegisterOp::Read { output } => (output == Some(*state)).then_some(*state),
        RegisterOp::Write { value } => Some(Some(value)),
        RegisterOp::Cas { from, to, succeeded } => {
            let swaps = *state == Some(from);
            match succeeded {
                Some(false) => (!swaps).then_some(*state),
                // succeeded, or unknown: an unknown cas that did not swap is as if it never ran.
                _ => swaps.then_some(Some(to)),
            }
        }
    };
    brute_force(&times, initial, &step)
}

/// Alters the output of the `which`-th completed read, if any; says whether it did.
fn alter_kv_read(calls: &mut [KvCall], which: usize, how: u8) -> bool {
    let reads: Vec<usize> =
        (0..calls.len()).filter(|&i| calls[i].kind == KvKind::Get && calls[i].status == Status::Ok).collect();
    let Some(&i) = reads.get(which % reads.len().max(1)) else { return false };
    let output = calls[i].output.get_or_insert_with(String::new);
    match how % 3 {
        0 => output.push('q'),
        1 => *output = String::new() + if output.is_empty() { "x0" } else { "" },
        _ => *output = "never written".to_string(),
    }
    true
}

fn alter_register_read(calls: &mut [RegisterCall], which: usize, how: u8) -> bool {
    let reads: Vec<usize> = (0..calls.len())
        .filter(|&i| matches!(calls[i].op, RegisterOp::Read { .. }) && calls[i].status == Status::Ok)
        .collect();
    let Some(&i) = reads.get(which % reads.len().max(1)) else { return false };
    if let RegisterOp::Read { output: Some(v) } = calls[i].op {
        let altered = match (how % 3, v) {
            (0, None) => Some(0),
            (0, Some(x)) => Some(x + 1),
            (1, _) => None,
            _ => Some(99),
        };
        calls[i].op = RegisterOp::Read { output: Some(if altered == v { Some(7) } else { altered }) };
    }
    true
}

fn verdict(linearizable: bool) -> Verdict {
    if linearizable {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn kv_histories_from_a_sequential_run_are_linearizable_and_mutants_agree_with_brute_force(
        draws in draws(7), which in 0usize..8, how in 0u8..3,
    ) {
        let opts = CheckOptions::default();
        let calls = kv_history(&draws);
        let report = check_kv(&calls, &opts);
        prop_assert_eq!(report.verdict, Verdict::Linearizable, "generated history: {:?}", calls);
        prop_assert!(brute_force_kv(&calls));

        let mut mutant = calls.clone();
        if alter_kv_read(&mut mutant, which, how) {
            let fast = check_kv(&mutant, &opts);
            prop_assert_eq!(fast.verdict, verdict(brute_force_kv(&mutant)), "mutant: {:?}", mutant);
            if fast.verdict == Verdict::NotLinearizable {
                let v = fast.violation.as_ref().map(|v| (v.operations.is_empty(), v.explanation.is_empty()));
                prop_assert_eq!(v, Some((false, false)));
            }
        }
    }

    #[test]
    fn register_histories_agree_with_brute_force(
        draws in draws(7), which in 0usize..8, how in 0u8..3, initial in prop::option::of(0i64..3),
    ) {
        let opts = CheckOptions::default();
        let calls = register_history(&draws, initial);
        let report = check_register(&calls, initial, &opts);
        prop_assert_eq!(report.verdict, Verdict::Linearizable, "generated history: {:?}", calls);
        prop_assert!(brute_force_register(&calls, initial));

        let mut mutant = calls.clone();
        if alter_register_read(&mut mutant, which, how) {
            let fast = check_register(&mutant, initial, &opts);
            prop_assert_eq!(fast.verdict, verdict(brute_force_register(&mutant, initial)), "mutant: {:?}", mutant);
        }
    }

    /// One busy key, more calls: where the look-ahead pruning and the merging of garbage values
    /// have the most to do.
    #[test]
    fn one_busy_key_agrees_with_brute_force(
        draws in draws(8), which in 0usize..8, how in 0u8..3, reads in prop::collection::vec(0u8..6, 8),
    ) {
        let one_key: Vec<Draw> = draws.into_iter().map(|d| Draw { key: 0, ..d }).collect();
        let opts = CheckOptions::default();
        let calls = kv_history(&one_key);
        prop_assert_eq!(check_kv(&calls, &opts).verdict, Verdict::Linearizable, "{:?}", calls);
        let mut mutant = calls.clone();
        if alter_kv_read(&mut mutant, which, how) {
            prop_assert_eq!(check_kv(&mutant, &opts).verdict, verdict(brute_force_kv(&mutant)), "{:?}", mutant);
        }
        // Reads of values pieced together from the history's own arguments.
        let args: Vec<String> = calls.iter().filter(|c| c.kind != KvKind::Get).map(|c| c.value.clone()).collect();
        let mut arbitrary = calls.clone();
        for (k, (call, &r)) in arbitrary.iter_mut().zip(&reads).enumerate() {
            if call.kind == KvKind::Get && call.status == Status::Ok && !args.is_empty() {
                let a = &args[(k + r as usize) % args.len()];
                let b = &args[(r as usize) % args.len()];
                call.output = Some(match r % 3 { 0 => a.clone(), 1 => format!("{a}{b}"), _ => String::new() });
            }
        }
        prop_assert_eq!(check_kv(&arbitrary, &opts).verdict, verdict(brute_force_kv(&arbitrary)), "{:?}", arbitrary);
    }

    /// Random histories that no model produced (values read anywhere): mostly not linearizable,
    /// sometimes by luck linearizable; the two checkers must agree either way.
    #[test]
    fn arbitrary_kv_histories_agree_with_brute_force(draws in draws(6), reads in prop::collection::vec(0u8..4, 6)) {
        let mut calls = kv_history(&draws);
        for (call, &r) in calls.iter_mut().zip(&reads) {
            if call.kind == KvKind::Get && call.status == Status::Ok {
                call.output = Some(["", "x0", "y1", "x0y1"][r as usize].to_string());
            }
        }
        prop_assert_eq!(check_kv(&calls, &CheckOptions::default()).verdict, verdict(brute_force_kv(&calls)), "{:?}", calls);
    }
}
