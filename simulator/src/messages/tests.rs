//! The messages page without a browser: what the digest matches, marks and embeds.

use super::*;
use serde_json::json;

/// Three nodes. n0 sends 0 to n1 (delivered), n1 sends 1 to n2 (delivered, duplicated as 2,
/// whose copy arrives after the failure), n2 sends 3 to n0 (dropped on arrival), n0 sends 4 to
/// n2 after n2's failure, 5 is dropped as it is sent, n1 holds 6 while paused and takes it in
/// when it resumes. The violation is on n2 at event 6.
const TRACE: &str = r#"{"t":0,"n":0,"ev":"state","node":0,"role":"Leader","term":1,"commit":0,"last":0}
{"t":10,"n":1,"ev":"send","from":"n0","to":"n1","id":0,"kind":"append","term":1,"msg":"n0->n1 t1 append","at":20,"long":false}
{"t":20,"n":2,"ev":"deliver","from":"n0","to":"n1","id":0,"kind":"append","term":1,"msg":"n0->n1 t1 append"}
{"t":20,"n":2,"ev":"send","from":"n1","to":"n2","id":1,"kind":"append_resp","term":1,"msg":"n1->n2 t1 x","at":30,"long":false,"copy_at":90,"copy":2}
{"t":25,"n":3,"ev":"send","from":"n2","to":"n0","id":3,"kind":"vote","term":2,"msg":"n2->n0 t2 vote","at":35,"long":false}
{"t":26,"n":3,"ev":"drop","from":"n2","to":"n1","reason":"loss","id":5,"kind":"vote","term":2,"msg":"n2->n1 t2 vote"}
{"t":30,"n":4,"ev":"deliver","from":"n1","to":"n2","id":1,"kind":"append_resp","term":1,"msg":"n1->n2 t1 x"}
{"t":35,"n":5,"ev":"drop","from":"n2","to":"n0","reason":"partition","id":3,"kind":"vote","term":2,"msg":"n2->n0 t2 vote"}
{"t":40,"n":6,"ev":"violation","node":2,"invariant":"election-safety","reason":"two leaders"}
{"t":50,"n":7,"ev":"send","from":"n0","to":"n2","id":4,"kind":"append","term":1,"msg":"late","at":60,"long":false}
{"t":55,"n":8,"ev":"pause","node":1}
{"t":56,"n":9,"ev":"send","from":"n0","to":"n1","id":6,"kind":"append","term":1,"msg":"held","at":57,"long":false}
{"t":57,"n":10,"ev":"hold","from":"n0","to":"n1","id":6,"kind":"append","term":1,"msg":"held"}
{"t":70,"n":11,"ev":"resume","node":1,"inbox":1}
{"t":90,"n":12,"ev":"deliver","from":"n1","to":"n2","id":2,"copy_of":1,"kind":"append_resp","term":1,"msg":"n1->n2 t1 x"}
"#;

fn report() -> Value {
    json!({
        "seed": 3, "verdict": "safety", "reason": "election-safety: two leaders",
        "config": {"cluster": {"nodes": 3}},
        "failure": {"check": "election-safety", "node": 2, "event": 6, "time_ns": 40},
    })
}

fn without_violation(trace: &str) -> String {
    trace.lines().filter(|l| !l.contains("\"violation\"")).map(|l| format!("{l}\n")).collect()
}

fn row(d: &digest::Digest, id: u64) -> &digest::MsgRow {
    d.msgs.iter().find(|m| m.0 == id).unwrap_or_else(|| panic!("message {id} is not embedded"))
}

#[test]
fn the_failing_events_causal_past_holds_the_messages_that_reached_it_and_no_others() {
    let d = digest::digest(&report(), TRACE, "");
    assert_eq!(d.lanes, vec!["n0", "n1", "n2"]);
    let f = d.failure.as_ref().expect("a failing point");
    assert_eq!((f.lane, f.event, f.time_ns), (Some(2), Some(6), 40));
    // 0 reached n1 before n1 sent 1, which n2 received before failing: both are in its past.
    assert_eq!(row(&d, 0).13, 1);
    assert_eq!(row(&d, 1).13, 1);
    // n2's own sends before the failure are in its past, delivered or not.
    assert_eq!(row(&d, 3).13, 1, "sent by n2 before it failed");
    assert_eq!(row(&d, 5).13, 1, "dropped as n2 sent it, before it failed");
    // Sent after the failing point: not embedded at all.
    assert!(d.msgs.iter().all(|m| m.0 != 4 && m.0 != 6), "messages sent after the failure are left out");
    assert_eq!(d.total, 7);
    assert_eq!(d.total_causal, 4);
}

#[test]
fn each_arrival_is_matched_to_its_send_by_id_with_its_fate() {
    let d = digest::digest(&report(), TRACE, "");
    let m0 = row(&d, 0);
    assert_eq!((m0.1, m0.2, m0.5, m0.8, m0.9), (0, 1, 10, digest::Fate::Delivered as u8, 20));
    assert_eq!(row(&d, 3).8, digest::Fate::DroppedPartition as u8);
    assert_eq!(row(&d, 3).9, 35, "lost where the partition dropped it");
    let dropped_at_send = row(&d, 5);
    assert_eq!(
        (dropped_at_send.8, dropped_at_send.5, dropped_at_send.9),
        (digest::Fate::DroppedLoss as u8, 26, 26)
    );
    // The duplicate is its own message, sent with the original, naming it.
    let copy = row(&d, 2);
    assert_eq!((copy.5, copy.12, copy.9), (20, 1, 90));
    assert_eq!(copy.13, 0, "the copy arrives after the failure");
    assert_eq!(d.kinds.iter().map(String::as_str).collect::<Vec<_>>(), vec!["append", "append_resp", "vote"]);
}

#[test]
fn a_message_held_by_a_paused_node_is_delivered_when_it_resumes() {
    // Without a failing point everything is embedded.
    let report = json!({"seed": 3, "verdict": "pass", "config": {"cluster": {"nodes": 3}}});
    let d = digest::digest(&report, &without_violation(TRACE), "");
    let held = row(&d, 6);
    assert_eq!(held.8, digest::Fate::HeldThenDelivered as u8);
    assert_eq!((held.14, held.9, held.10), (57, 70, 11), "held at 57, taken in at the resume");
    assert!(d.failure.is_none());
    assert!(d.msgs.iter().all(|m| m.13 == 0), "no failing point, no causal past");
    assert_eq!(d.outages, vec![(1, 55, 70, "paused")]);
}

#[test]
fn a_paused_node_that_crashes_loses_what_it_held() {
    let trace = without_violation(TRACE)
        .replace(r#""ev":"resume","node":1,"inbox":1"#, r#""ev":"crash","node":1,"writes_lost":0"#);
    let d = digest::digest(&json!({"config": {"cluster": {"nodes": 3}}}), &trace, "");
    assert_eq!(row(&d, 6).8, digest::Fate::LostInCrash as u8);
}

#[test]
fn the_page_opens_on_the_window_of_the_latest_messages_of_the_past() {
    let d = digest::digest(&report(), TRACE, "");
    assert_eq!(d.window, (10, 40), "from the earliest send of the past shown to the failure");
}

#[test]
fn a_nonlinearizable_history_starts_its_past_at_the_clients_receipt_of_the_forced_return() {
    let trace = r#"{"t":5,"n":0,"ev":"send","from":"c0","to":"n0","id":0,"kind":"request","msg":"request","at":6,"long":false}
{"t":6,"n":1,"ev":"deliver","from":"c0","to":"n0","id":0,"kind":"request","msg":"request"}
{"t":6,"n":1,"ev":"send","from":"n0","to":"c0","id":1,"kind":"reply","msg":"reply","at":9,"long":false}
{"t":7,"n":2,"ev":"send","from":"n1","to":"n0","id":2,"kind":"append","term":1,"msg":"x","at":12,"long":false}
{"t":9,"n":3,"ev":"deliver","from":"n0","to":"c0","id":1,"kind":"reply","msg":"reply"}
{"t":12,"n":4,"ev":"deliver","from":"n1","to":"n0","id":2,"kind":"append","term":1,"msg":"x"}
"#;
    let history = checker::kv_history_to_json(&[checker::KvCall::put(7, 0, "k", "v", 5, 9)]);
    let report = json!({
        "seed": 1, "verdict": "nonlinearizable", "config": {"cluster": {"nodes": 2}},
        "failure": {"check": "linearizability", "node": null, "event": 4, "time_ns": 12},
        "linearizability": {"violation": {"operations": [7]}},
    });
    let d = digest::digest(&report, trace, &history);
    assert_eq!(d.lanes, vec!["n0", "n1", "c0"]);
    let f = d.failure.as_ref().expect("a failing point");
    assert_eq!((f.lane, f.time_ns, f.event), (Some(2), 9, Some(3)));
    let past: Vec<u64> = d.msgs.iter().filter(|m| m.13 == 1).map(|m| m.0).collect();
    assert_eq!(past, vec![0, 1], "the request and its reply, not the append n0 took in later");
}

#[test]
fn a_damaged_or_old_trace_gives_a_page_that_says_so() {
    let old = r#"{"t":1,"n":0,"ev":"send","from":"n0","to":"n1","msg":"x","at":2,"long":false}
not json
{"t":3,"n":1,"ev":"deliver","from":"n0","to":"n1","id":99,"msg":"x"}
"#;
    let page = render(&json!({}), old, "");
    assert!(page.contains("carry no message id"), "old traces are named");
    assert!(page.contains("could not be read"));
    assert!(page.contains("match no send"));
    let empty = render(&Value::Null, "", "");
    assert!(empty.contains("no trace was given"));
}

#[test]
fn the_page_fetches_nothing_and_escapes_what_it_embeds() {
    let trace = TRACE.replace("two leaders", "</script><img src=x>");
    let page = render(&report(), &trace, "");
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "url(http"] {
        assert!(!page.contains(needle), "the page must not fetch anything: found {needle}");
    }
    assert_eq!(page.matches("</script>").count(), 2, "only the page's own two script elements end");
    assert!(page.contains("href=\"timeline.html#focus=failure\""), "linked to the timeline");
}
