//! Small hand-built histories whose answers are known, read as stories.

use checker::{
    check_kv, check_register, CheckOptions, CheckReport, KvCall, RegisterCall, RegisterOp, Status, Verdict,
};
use std::time::Duration;

fn kv(calls: &[KvCall]) -> CheckReport {
    check_kv(calls, &CheckOptions::default())
}

fn put(id: u64, key: &str, value: &str, call: u64, ret: u64) -> KvCall {
    KvCall::put(id, id, key, value, call, ret)
}

fn append(id: u64, key: &str, value: &str, call: u64, ret: u64) -> KvCall {
    KvCall::append(id, id, key, value, call, ret)
}

fn get(id: u64, key: &str, output: &str, call: u64, ret: u64) -> KvCall {
    KvCall::get(id, id, key, output, call, ret)
}

#[test]
fn an_empty_history_is_linearizable() {
    let report = kv(&[]);
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!((report.operations, report.parts), (0, 0));
}

#[test]
fn concurrent_writes_may_take_effect_in_either_order() {
    // a and b are written concurrently; both later reads see b: a went first.
    let history = [
        put(0, "k", "a", 0, 10),
        put(1, "k", "b", 0, 10),
        get(2, "k", "b", 20, 30),
        get(3, "k", "b", 40, 50),
    ];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
    // Both reads see a: b went first.
    let history = [
        put(0, "k", "a", 0, 10),
        put(1, "k", "b", 0, 10),
        get(2, "k", "a", 20, 30),
        get(3, "k", "a", 40, 50),
    ];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn once_both_concurrent_writes_are_done_the_value_cannot_flip_back() {
    let history = [
        put(0, "k", "a", 0, 10),
        put(1, "k", "b", 0, 10),
        get(2, "k", "b", 20, 30),
        get(3, "k", "a", 40, 50),
    ];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let violation = report.violation.as_ref().map(|v| (v.part.as_str(), v.operations.clone()));
    assert_eq!(violation, Some(("k", vec![3])));
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value_but_not_go_back() {
    let history = [
        put(0, "k", "a", 0, 100),
        get(1, "k", "", 10, 20),
        get(2, "k", "a", 30, 40),
        get(3, "k", "a", 50, 60),
    ];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
    let history = [put(0, "k", "a", 0, 100), get(1, "k", "a", 10, 20), get(2, "k", "", 30, 40)];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert_eq!(v.longest_prefix, vec![0, 1]);
    assert_eq!(v.operations, vec![2]);
    assert!(
        v.explanation.contains("get(\"k\") -> \"\" by client 2 (op 2) cannot be linearized"),
        "{}",
        v.explanation
    );
    assert!(v.explanation.contains("the value is \"a\", which is neither what it read"), "{}", v.explanation);
}

#[test]
fn a_read_of_a_value_never_written_is_not_linearizable() {
    let history = [put(0, "k", "a", 0, 10), get(1, "k", "zzz", 20, 30)];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert!(v.explanation.contains("\"zzz\""), "{}", v.explanation);
    assert!(v.explanation.contains("can only be \"a\""), "{}", v.explanation);
    assert_eq!(v.details.len(), 1);
    assert!(v.details[0].starts_with("op 1 (client 1, 20..30): get(\"k\") -> \"zzz\""), "{}", v.details[0]);
}

#[test]
fn a_read_of_a_value_no_call_wrote_is_reported_without_a_search() {
    // Concurrent writes, but nobody wrote d: no order can help.
    let history = [
        put(0, "k", "a", 0, 10),
        put(1, "k", "b", 20, 100),
        get(2, "k", "a", 25, 35),
        get(3, "k", "d", 30, 40),
    ];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert_eq!(v.longest_prefix, Vec::<u64>::new());
    assert_eq!(
        v.explanation,
        "get(\"k\") -> \"d\" by client 3 (op 3) cannot be linearized anywhere: it is not the initial value \
         and no operation on this key writes it"
    );
    assert_eq!(v.operations, vec![3]);
    assert_eq!(v.details, vec!["op 3 (client 3, 30..40): get(\"k\") -> \"d\" -- does not fit".to_string()]);
}

#[test]
fn a_stale_read_under_concurrent_writes_is_explained_after_the_longest_prefix() {
    // c, then a; b is written while a and then c are read: c was overwritten before either read
    // began, so the read of c comes too late.
    let history = [
        put(0, "k", "c", 0, 5),
        put(1, "k", "a", 10, 15),
        put(2, "k", "b", 20, 100),
        get(3, "k", "a", 25, 35),
        get(4, "k", "c", 30, 40),
    ];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    // The search takes the read of a as soon as it fits (it changes nothing); after that the
    // only put of c is used, so the read of c can never fit again.
    assert_eq!(v.longest_prefix, vec![0, 1, 3]);
    assert_eq!(
        v.explanation,
        "get(\"k\") -> \"c\" by client 4 (op 4) cannot be linearized: after the longest linearizable prefix \
         (3 of 5 operations) the value is \"a\", which is neither what it read nor the start of it, and no \
         operation left sets what it read (or a start of it): from there the value can only move further away"
    );
    assert_eq!(v.operations, vec![4]);
}

#[test]
fn an_unknown_write_must_be_assumed_to_have_happened_when_a_read_saw_it() {
    let history = [put(0, "k", "x", 0, 5).unknown(), get(1, "k", "x", 10, 20)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn an_unknown_write_may_never_happen() {
    let history = [put(0, "k", "x", 0, 5).unknown(), get(1, "k", "", 100, 110), get(2, "k", "", 200, 210)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn an_unknown_write_may_happen_long_after_its_call() {
    let history = [put(0, "k", "x", 0, 5).unknown(), get(1, "k", "", 100, 110), get(2, "k", "x", 200, 210)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn an_unknown_write_cannot_take_effect_before_it_was_invoked() {
    let history = [get(0, "k", "x", 10, 20), put(1, "k", "x", 30, 40).unknown()];
    assert_eq!(kv(&history).verdict, Verdict::NotLinearizable);
}

#[test]
fn an_unknown_write_takes_effect_once_so_the_value_cannot_go_back() {
    let history = [put(0, "k", "x", 0, 5).unknown(), get(1, "k", "x", 10, 20), get(2, "k", "", 30, 40)];
    assert_eq!(kv(&history).verdict, Verdict::NotLinearizable);
}

#[test]
fn an_unknown_append_is_applied_at_most_once() {
    let history = [append(0, "k", "a", 0, 5).unknown(), get(1, "k", "a", 10, 20), get(2, "k", "aa", 30, 40)];
    assert_eq!(kv(&history).verdict, Verdict::NotLinearizable);
}

#[test]
fn a_failed_write_did_not_happen() {
    let history = [put(0, "k", "x", 0, 5).failed(), get(1, "k", "x", 10, 20)];
    assert_eq!(kv(&history).verdict, Verdict::NotLinearizable);
    let history = [put(0, "k", "x", 0, 5).failed(), get(1, "k", "", 10, 20)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn equal_timestamps_are_concurrent_so_a_return_and_a_call_at_the_same_time_may_swap() {
    // The put returns at 10 and the get is invoked at 10: not ordered, the get may go first.
    let history = [put(0, "k", "a", 0, 10), get(1, "k", "", 10, 20)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
    // One tick later they are ordered.
    let history = [put(0, "k", "a", 0, 10), get(1, "k", "", 11, 20)];
    assert_eq!(kv(&history).verdict, Verdict::NotLinearizable);
}

#[test]
fn zero_length_calls_at_one_instant_are_all_concurrent() {
    let history = [get(0, "k", "a", 5, 5), put(1, "k", "a", 5, 5), get(2, "k", "", 5, 5)];
    assert_eq!(kv(&history).verdict, Verdict::Linearizable);
}

#[test]
fn concurrent_appends_interleave_in_some_order() {
    let base = [append(0, "k", "a", 0, 10), append(1, "k", "b", 0, 10)];
    for (seen, expected) in
        [("ab", Verdict::Linearizable), ("ba", Verdict::Linearizable), ("b", Verdict::NotLinearizable)]
    {
        let mut history = base.to_vec();
        history.push(get(2, "k", seen, 20, 30));
        assert_eq!(kv(&history).verdict, expected, "read {seen:?}");
    }
}

#[test]
fn keys_are_checked_as_independent_parts() {
    // Each key alone is fine, though no single order of all four calls would be if keys were
    // one register.
    let history = [
        put(0, "a", "1", 0, 10),
        put(1, "b", "1", 0, 10),
        get(2, "a", "1", 20, 30),
        get(3, "b", "1", 20, 30),
    ];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!((report.operations, report.parts), (4, 2));
}

#[test]
fn of_two_bad_keys_the_first_in_key_order_is_reported() {
    let history = [get(0, "zeta", "x", 0, 10), get(1, "alpha", "y", 0, 10), get(2, "mid", "", 0, 10)];
    let report = kv(&history);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!(report.violation.map(|v| v.part), Some("alpha".to_string()));
}

#[test]
fn the_same_history_gets_the_same_report_every_time() {
    let mut history = Vec::new();
    for i in 0..40u64 {
        let key = format!("k{}", i % 7);
        history.push(append(2 * i, &key, &format!("v{i};"), i * 10, i * 10 + 35));
        history.push(get(2 * i + 1, &key, "", i * 10 + 5, i * 10 + 50));
    }
    let first = kv(&history);
    for _ in 0..5 {
        let again = kv(&history);
        assert_eq!(
            (again.verdict, &again.violation, again.parts),
            (first.verdict, &first.violation, first.parts)
        );
    }
    assert_eq!(first.verdict, Verdict::NotLinearizable);
}

/// Many concurrent puts of distinct values, then reads of v0 and later of v1, when no write is
/// left: impossible, but every value read was written, so the search must try every subset and
/// order of the puts before giving up.
fn hard_history(writers: u64) -> Vec<KvCall> {
    let mut history: Vec<KvCall> = (0..writers).map(|i| put(i, "k", &format!("v{i}"), 0, 1000)).collect();
    history.push(get(writers, "k", "v0", 0, 1000));
    history.push(get(writers + 1, "k", "v1", 0, 1000));
    history.push(get(writers + 2, "k", "v0", 2000, 2010));
    history.push(get(writers + 3, "k", "v1", 3000, 3010));
    history
}

#[test]
fn a_time_limit_turns_an_unfinished_search_into_unknown() {
    let opts = CheckOptions { time_limit: Some(Duration::ZERO), ..CheckOptions::default() };
    let report = check_kv(&hard_history(14), &opts);
    assert_eq!(report.verdict, Verdict::Unknown);
    assert!(
        report.unknown_reason.as_deref().is_some_and(|r| r.contains("time limit")),
        "{:?}",
        report.unknown_reason
    );
    assert!(report.violation.is_none());
}

#[test]
fn a_time_limit_too_far_away_is_no_limit() {
    let opts = CheckOptions { time_limit: Some(Duration::MAX), ..CheckOptions::default() };
    assert_eq!(check_kv(&[put(0, "k", "a", 0, 10)], &opts).verdict, Verdict::Linearizable);
}

#[test]
fn a_memo_cap_turns_the_search_into_unknown_not_a_wrong_verdict() {
    let opts = CheckOptions { memo_limit_entries: 100, ..CheckOptions::default() };
    let report = check_kv(&hard_history(14), &opts);
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(
        report.unknown_reason.as_deref(),
        Some(
            "the memo entry limit (100 entries at once; CheckOptions::memo_limit_entries, --memo-limit) was \
             reached while searching key(s) \"k\"; every other part is linearizable"
        )
    );
    // Without the cap the answer is known.
    assert_eq!(kv(&hard_history(14)).verdict, Verdict::NotLinearizable);
}

#[test]
fn a_memory_cap_in_bytes_turns_the_search_into_unknown_naming_that_cap() {
    let opts = CheckOptions::with_memory_limit(4096);
    let report = check_kv(&hard_history(14), &opts);
    assert_eq!(report.verdict, Verdict::Unknown);
    let reason = report.unknown_reason.unwrap_or_default();
    assert!(
        reason.starts_with("the memory limit (4096 bytes of memo and values; CheckOptions::memo_limit_bytes"),
        "{reason}"
    );
}

#[test]
fn a_violation_in_another_key_still_decides_when_one_key_runs_out_of_memo() {
    let mut history = hard_history(14);
    history.push(get(100, "other", "never", 0, 10));
    let opts = CheckOptions { memo_limit_entries: 100, ..CheckOptions::default() };
    let report = check_kv(&history, &opts);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!(report.violation.map(|v| v.part), Some("other".to_string()));
}

#[test]
fn invalid_calls_given_through_the_api_give_unknown_with_the_reason() {
    let mut bad = get(7, "k", "", 10, 20);
    bad.return_ns = Some(5);
    let report = kv(&[bad]);
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(
        report.unknown_reason.as_deref(),
        Some("invalid history: operation 7: returns at 5, before its call at 10")
    );
    let mut no_output = get(8, "k", "", 10, 20);
    no_output.output = None;
    assert_eq!(kv(&[no_output]).verdict, Verdict::Unknown);
}

#[test]
fn the_report_serialises_to_one_json_object() {
    let report = kv(&[put(0, "k", "a", 0, 10), get(1, "k", "b", 20, 30)]);
    let json = report.to_json();
    assert_eq!(json["verdict"], "not_linearizable");
    assert_eq!(json["operations"], 2);
    assert_eq!(json["parts"], 1);
    assert_eq!(json["violation"]["part"], "k");
    assert_eq!(json["violation"]["operations"], serde_json::json!([1]));
    assert_eq!(json["violation"]["longest_prefix"], serde_json::json!([0]));
    assert!(json["elapsed_ms"].as_f64().is_some());
    let text = report.to_string();
    assert!(text.starts_with("not linearizable ("), "{text}");
    assert!(text.contains("part: key \"k\""), "{text}");
}

// The register (Jepsen's cas-register).

fn reg(id: u64, op: RegisterOp, call_ns: u64, return_ns: u64) -> RegisterCall {
    RegisterCall {
        id,
        client: id,
        key: String::new(),
        op,
        status: Status::Ok,
        call_ns,
        return_ns: Some(return_ns),
    }
}

fn read(v: Option<i64>) -> RegisterOp {
    RegisterOp::Read { output: Some(v) }
}

fn cas(from: i64, to: i64, succeeded: Option<bool>) -> RegisterOp {
    RegisterOp::Cas { from, to, succeeded }
}

#[test]
fn a_register_write_then_cas_then_reads() {
    let opts = CheckOptions::default();
    let history = [
        reg(0, RegisterOp::Write { value: 1 }, 0, 10),
        reg(1, read(Some(1)), 20, 30),
        reg(2, cas(1, 2, Some(true)), 40, 50),
        reg(3, read(Some(2)), 60, 70),
    ];
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::Linearizable);
    let mut stale = history.to_vec();
    stale[3].op = read(Some(1));
    assert_eq!(check_register(&stale, None, &opts).verdict, Verdict::NotLinearizable);
}

#[test]
fn the_initial_register_value_is_nil_unless_given() {
    let opts = CheckOptions::default();
    let history = [reg(0, read(Some(0)), 0, 10)];
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::NotLinearizable);
    assert_eq!(check_register(&history, Some(0), &opts).verdict, Verdict::Linearizable);
    assert_eq!(check_register(&[reg(0, read(None), 0, 10)], None, &opts).verdict, Verdict::Linearizable);
}

#[test]
fn a_cas_that_found_another_value_constrains_the_value() {
    let opts = CheckOptions::default();
    let history = [reg(0, RegisterOp::Write { value: 1 }, 0, 10), reg(1, cas(1, 2, Some(false)), 20, 30)];
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::NotLinearizable);
    let history = [reg(0, RegisterOp::Write { value: 3 }, 0, 10), reg(1, cas(1, 2, Some(false)), 20, 30)];
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::Linearizable);
}

#[test]
fn an_unknown_cas_may_have_swapped_or_not() {
    let opts = CheckOptions::default();
    let mut unknown_cas = reg(1, cas(1, 2, None), 20, 30);
    unknown_cas.status = Status::Unknown;
    unknown_cas.return_ns = None;
    let write = reg(0, RegisterOp::Write { value: 1 }, 0, 10);
    for (seen, expected) in [
        (Some(2), Verdict::Linearizable),
        (Some(1), Verdict::Linearizable),
        (Some(3), Verdict::NotLinearizable),
    ] {
        let history = [write.clone(), unknown_cas.clone(), reg(2, read(seen), 40, 50)];
        assert_eq!(check_register(&history, None, &opts).verdict, expected, "read {seen:?}");
    }
}

#[test]
fn keyed_registers_are_independent_parts() {
    let opts = CheckOptions::default();
    let mut a = reg(0, RegisterOp::Write { value: 1 }, 0, 10);
    a.key = "a".into();
    let mut b = reg(1, read(None), 20, 30);
    b.key = "b".into();
    let report = check_register(&[a, b], None, &opts);
    assert_eq!((report.verdict, report.parts), (Verdict::Linearizable, 2));
}

#[test]
fn a_stale_register_read_is_found_before_any_search_and_a_concurrent_one_is_not() {
    let opts = CheckOptions::default();
    // 1 is written and returns at 10; 2 is written during [20, 30]; a read of 1 at [40, 50]
    // is stale, whatever happens elsewhere; an unknown write of 5 changes nothing to that.
    let mut history = vec![
        reg(0, RegisterOp::Write { value: 1 }, 0, 10),
        reg(1, RegisterOp::Write { value: 2 }, 20, 30),
        reg(2, read(Some(1)), 40, 50),
    ];
    let mut unknown = reg(3, RegisterOp::Write { value: 5 }, 0, 0);
    unknown.status = Status::Unknown;
    unknown.return_ns = None;
    history.push(unknown);
    let report = check_register(&history, None, &opts);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert_eq!(v.operations, vec![1, 2]);
    assert_eq!(
        v.explanation,
        "read() -> 1 by client 2 (op 2) cannot be linearized anywhere: every operation that could set the \
         value it read returned before write(2) by client 1 (op 1) was invoked, and that returned before the \
         read was invoked: the read is stale"
    );
    // The read overlapping the second write may still see 1; and an unknown write of 1 may take
    // effect late, so a later read of 1 is no longer stale.
    history[2] = reg(2, read(Some(1)), 25, 50);
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::Linearizable);
    history[2] = reg(2, read(Some(1)), 40, 50);
    history[3].op = RegisterOp::Write { value: 1 };
    assert_eq!(check_register(&history, None, &opts).verdict, Verdict::Linearizable);
}
