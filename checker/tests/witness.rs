//! Witnesses: a candidate linearization helps the check but never decides it alone.

use checker::generate::{hot_key_kv_witnessed, registers_witnessed, Workload};
use checker::{
    check_kv, check_kv_with_witness, check_register, check_register_with_witness, CheckOptions, DecidedBy,
    KvCall, Verdict,
};
use proptest::prelude::*;

fn opts() -> CheckOptions {
    CheckOptions::default()
}

fn put(id: u64, value: &str, call: u64, ret: u64) -> KvCall {
    KvCall::put(id, id, "k", value, call, ret)
}

fn get(id: u64, output: &str, call: u64, ret: u64) -> KvCall {
    KvCall::get(id, id, "k", output, call, ret)
}

#[test]
fn a_witness_that_is_a_linearization_decides_without_a_search() {
    // put a [0, 10]; get a [5, 20]; put b [15, 30] unknown; get b [40, 50]; the put of c failed.
    let calls = vec![
        put(0, "a", 0, 10),
        get(1, "a", 5, 20),
        put(2, "b", 15, 30).unknown(),
        get(3, "b", 40, 50),
        put(4, "c", 1, 2).failed(),
    ];
    let witness = [Some(1), Some(2), Some(3), Some(4), None];
    let report = check_kv_with_witness(&calls, &witness, &opts());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!(report.decided_by, DecidedBy::Witness);
    assert!(report.to_string().contains("decided by: the witness"), "{report}");
}

#[test]
fn generated_histories_are_decided_by_their_own_witness() {
    let w =
        Workload { seed: 3, clients: 10, calls: 20_000, unknown_ppm: 200_000, unknown_effect_ns_max: 20_000 };
    let (calls, witness) = hot_key_kv_witnessed(&w);
    let report = check_kv_with_witness(&calls, &witness, &opts());
    assert_eq!((report.verdict, report.decided_by), (Verdict::Linearizable, DecidedBy::Witness));
    let w = Workload {
        seed: 3,
        clients: 200,
        calls: 20_000,
        unknown_ppm: 300_000,
        unknown_effect_ns_max: 20_000,
    };
    let (calls, witness) = registers_witnessed(&w, 100, false);
    let report = check_register_with_witness(&calls, None, &witness, &opts());
    assert_eq!((report.verdict, report.decided_by), (Verdict::Linearizable, DecidedBy::Witness));
}

#[test]
fn a_wrong_witness_of_a_linearizable_history_falls_back_to_the_search() {
    let calls = vec![put(0, "a", 0, 10), get(1, "a", 5, 20), put(2, "b", 30, 40), get(3, "b", 50, 60)];
    // The reads in the wrong places: the witness does not verify, the search decides.
    let witness = [Some(2), Some(1), Some(4), Some(3)];
    let report = check_kv_with_witness(&calls, &witness, &opts());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!(report.decided_by, DecidedBy::Search { keys_searched: 1, window_only: 0 });
}

#[test]
fn a_witness_leaving_a_completed_call_unplaced_falls_back() {
    let calls = vec![put(0, "a", 0, 10), get(1, "a", 20, 30)];
    let report = check_kv_with_witness(&calls, &[Some(1), None], &opts());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert!(matches!(report.decided_by, DecidedBy::Search { .. }), "{:?}", report.decided_by);
}

#[test]
fn a_witness_placing_a_failed_call_falls_back() {
    let calls = vec![put(0, "a", 0, 10), put(1, "b", 0, 10).failed(), get(2, "a", 20, 30)];
    let report = check_kv_with_witness(&calls, &[Some(1), Some(2), Some(3)], &opts());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert!(matches!(report.decided_by, DecidedBy::Search { .. }), "{:?}", report.decided_by);
}

#[test]
fn a_witness_that_holds_up_to_a_quiescent_cut_needs_only_the_window_searched() {
    // Quiet at 25: put a and get a before, the rest after. After it the witness orders the
    // puts wrongly (c last, so the read of b does not fit); the window alone, from "a", still
    // linearizes (c, then b, then the read).
    let calls = vec![
        put(0, "a", 0, 10),
        get(1, "a", 12, 20),
        put(2, "b", 30, 60),
        put(3, "c", 35, 40),
        get(4, "b", 45, 80),
    ];
    let witness = [Some(1), Some(2), Some(3), Some(4), Some(5)];
    let report = check_kv_with_witness(&calls, &witness, &opts());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!(report.decided_by, DecidedBy::Search { keys_searched: 0, window_only: 1 });
    let json = report.to_json();
    assert_eq!(json["decided_by"]["path"], "search");
    assert_eq!(json["decided_by"]["window_only"], 1);
}

#[test]
fn a_witness_that_breaks_real_time_order_is_refused() {
    // The read of "" was invoked after the put of a returned, so it cannot come first, even
    // though the values would fit in that order.
    let calls = vec![put(0, "a", 0, 10), get(1, "", 15, 20)];
    let report = check_kv_with_witness(&calls, &[Some(2), Some(1)], &opts());
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    // Equal times are concurrent: a read invoked when the put returns may come first.
    let calls = vec![put(0, "a", 0, 10), get(1, "", 10, 20)];
    let report = check_kv_with_witness(&calls, &[Some(2), Some(1)], &opts());
    assert_eq!((report.verdict, report.decided_by), (Verdict::Linearizable, DecidedBy::Witness));
}

#[test]
fn a_violation_is_found_whatever_the_witness_says() {
    // b is written after a is read; then a is read again: no order fits.
    let calls = vec![put(0, "a", 0, 10), get(1, "a", 20, 30), put(2, "b", 40, 50), get(3, "a", 60, 70)];
    for witness in [
        [Some(1), Some(2), Some(3), Some(4)],
        [Some(1), Some(2), Some(4), Some(3)],
        [Some(1), Some(2), None, Some(4)],
        [None, None, None, None],
    ] {
        let report = check_kv_with_witness(&calls, &witness, &opts());
        assert_eq!(report.verdict, Verdict::NotLinearizable, "witness {witness:?}");
    }
}

#[test]
fn a_planted_violation_is_found_despite_the_generators_witness() {
    let w =
        Workload { seed: 5, clients: 50, calls: 5_000, unknown_ppm: 300_000, unknown_effect_ns_max: 20_000 };
    let (calls, witness) = registers_witnessed(&w, 20, true);
    let report = check_register_with_witness(&calls, None, &witness, &opts());
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!(report.verdict, check_register(&calls, None, &opts()).verdict);
}

/// Small KV histories on two keys, from a sequential run with one read possibly altered, and a
/// witness that is the true order, a shuffled one, or partly missing.
fn history_and_witness() -> impl Strategy<Value = (Vec<KvCall>, Vec<Option<u64>>)> {
    let op = (0u8..3, 0u8..2, 0u8..4, 0u8..4, 0u8..8, 0u64..8);
    (prop::collection::vec(op, 1..10), any::<u8>(), 0u8..4).prop_map(|(ops, alter, style)| {
        let mut values = [String::new(), String::new()];
        // Every value each key held, to plant stale reads (which only real time rules out).
        let mut held: Vec<String> = vec![String::new()];
        let mut calls = Vec::new();
        let mut order = Vec::new();
        for (i, &(kind, key, before, after, fate, noise)) in ops.iter().enumerate() {
            let instant = 20 + 10 * i as u64;
            let (call, ret) = (instant - 5 * u64::from(before), instant + 5 * u64::from(after));
            let k = ["a", "b"][key as usize];
            let v = &mut values[key as usize];
            let arg = format!("v{i}");
            let mut c = match kind {
                0 => KvCall::get(i as u64, 0, k, v, call, ret),
                1 => KvCall::put(i as u64, 0, k, &arg, call, ret),
                _ => KvCall::append(i as u64, 0, k, &arg, call, ret),
            };
            let takes_effect = fate != 7;
            if takes_effect {
                match kind {
                    1 => *v = arg,
                    2 => v.push_str(&arg),
                    _ => {}
                }
                held.push(v.clone());
            }
            if fate >= 6 {
                c = c.unknown();
            }
            order.push(match style {
                0 => takes_effect.then_some(i as u64),
                1 => Some(noise),
                2 => (noise < 6).then_some(i as u64),
                _ => takes_effect.then_some((i as u64) ^ 1),
            });
            calls.push(c);
        }
        let reads: Vec<usize> = (0..calls.len()).filter(|&i| calls[i].output.is_some()).collect();
        if !reads.is_empty() && alter % 2 == 0 {
            let r = reads[alter as usize / 2 % reads.len()];
            calls[r].output = Some(if alter % 4 == 0 {
                held[alter as usize / 4 % held.len()].clone()
            } else {
                format!("v{}", alter % 5)
            });
        }
        (calls, order)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn the_witness_never_changes_the_verdict((calls, witness) in history_and_witness()) {
        let plain = check_kv(&calls, &opts());
        let with = check_kv_with_witness(&calls, &witness, &opts());
        prop_assert_eq!(plain.verdict, with.verdict, "history {:?} witness {:?}", calls, witness);
        if with.decided_by == DecidedBy::Witness {
            prop_assert_eq!(with.verdict, Verdict::Linearizable);
        }
    }
}
