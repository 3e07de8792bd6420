//! The page without a browser: what it embeds, what it escapes, what it refuses to fetch.

use super::*;
use serde_json::json;

const TRACE: &str = r#"{"t":0,"n":0,"ev":"state","node":0,"role":"Follower","term":0,"commit":0,"last":0}
{"t":0,"n":0,"ev":"state","node":1,"role":"Follower","term":0,"commit":0,"last":0}
{"t":100,"n":1,"ev":"call","client":0,"seq":1,"to":"n0","op":"Put"}
{"t":150,"n":2,"ev":"send","from":"n0","to":"n1","msg":"Vote","at":160,"long":false}
{"t":200,"n":3,"ev":"state","node":0,"role":"Candidate","term":1,"commit":0,"last":0}
{"t":300,"n":4,"ev":"state","node":0,"role":"Leader","term":1,"commit":0,"last":1}
{"t":350,"n":5,"ev":"state","node":0,"role":"Leader","term":1,"commit":1,"last":1}
{"t":400,"n":6,"ev":"partition","shape":"isolate-node","cut":[[1,0],[0,1]]}
{"t":500,"n":7,"ev":"crash","node":1,"writes_lost":2,"torn":true,"torn_bytes_kept":7}
{"t":600,"n":8,"ev":"restart","node":1,"disk_bytes":99}
{"t":650,"n":9,"ev":"heal"}
{"t":700,"n":10,"ev":"violation","node":0,"invariant":"election-safety","reason":"two leaders </script> in t1"}
"#;

fn history() -> String {
    let calls = vec![
        checker::KvCall::put(0, 0, "k</script>", "a<!--b", 100, 400),
        checker::KvCall::get(1, 1, "k2", "", 120, 200),
        checker::KvCall::get(2, 1, "k2", "x", 300, 500).unknown(),
    ];
    checker::kv_history_to_json(&calls)
}

fn report() -> Value {
    json!({
        "version": "raftsim 0.1.0", "seed": 7, "command": "cargo run --release -- --seed 7 <&>",
        "config": {"cluster": {"nodes": 2}, "workload": {"clients": 2}, "duration_ns": 650, "liveness_ns": 100},
        "verdict": "safety", "reason": "election-safety: two leaders",
        "failure": {"check": "election-safety", "node": 0, "event": 10, "time_ns": 700},
        "summary": {"ops": {"issued": 3, "ok": 2, "failed": 0, "unknown": 1, "retries": 0}},
        "linearizability": null
    })
}

/// The text of the embedded data element, parsed back.
fn embedded(page: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"timeline-data\">";
    let start = page.find(open).expect("a data element") + open.len();
    let end = start + page[start..].find("</script>").expect("the data element ends");
    serde_json::from_str(&page[start..end]).expect("the embedded data is JSON")
}

#[test]
fn the_page_embeds_the_digested_run_and_its_json_round_trips() {
    let page = render(&report(), TRACE, &history());
    let data = embedded(&page);
    assert_eq!(data["format"], "raftsim-timeline");
    assert_eq!(data["run"]["seed"], 7);
    assert_eq!(data["end_ns"], 700);
    let n0 = &data["nodes"][0];
    // Follower t0, candidate t1, leader t1 (the commit move does not start a segment).
    assert_eq!(n0["roles"].as_array().map(Vec::len), Some(3));
    assert_eq!(n0["roles"][2], json!([300, 700, "L", 1, 1, 1]));
    assert_eq!(data["nodes"][1]["down"], json!([[500, 600, 2, true, 7]]));
    assert_eq!(data["partitions"], json!([[400, 650, "isolate-node", [[1, 0], [0, 1]]]]));
    assert_eq!(data["clients"], json!([0, 1]));
    let rows = data["ops"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(data["ops"]["keys"][rows[0][3].as_u64().unwrap_or(9) as usize], "k</script>");
    assert_eq!(rows[0][4], "a<!--b");
    assert_eq!(rows[0][9], json!([0]), "the call line is the op's attempt to n0");
    assert_eq!(rows[2][6], 2, "unknown");
    assert_eq!(rows[2][8], Value::Null, "an unknown call has no return");
    assert_eq!(data["failure"]["marker_ns"], 700);
    assert_eq!(data["failure"]["detail"], "two leaders </script> in t1");
    assert_eq!(
        data["messages"]["sent"].as_array().map(|s| s.iter().filter_map(Value::as_u64).sum()),
        Some(1)
    );
}

#[test]
fn script_endings_in_strings_are_escaped_and_nothing_is_fetched() {
    let page = render(&report(), TRACE, &history());
    // Exactly the page's own two script elements end; no string from the run ends one early.
    assert_eq!(page.matches("</script>").count(), 2, "{page}");
    assert!(!page.contains("<!--b"));
    assert!(page.contains("--seed 7 &lt;&amp;&gt;"), "the command is HTML-escaped");
    for bad in ["src=\"http", "href=\"http", "src='http", "href='http", "@import", "url(http", "<link"] {
        assert!(!page.contains(bad), "the page refers to something outside it: {bad}");
    }
}

#[test]
fn the_static_part_names_the_verdict_the_failing_check_and_the_figures() {
    let page = render(&report(), TRACE, &history());
    assert!(page.contains("verdict-safety"));
    assert!(page.contains("id=\"failure\""));
    assert!(page.contains("<b>election-safety</b> on <b>n0</b> at event 10"));
    assert!(page.contains("3 issued: 2 ok, 0 failed, 1 unknown"));
    assert!(page.contains("<noscript>"));
    assert!(!page.contains("id=\"violation\""), "no linearizability violation here");
}

#[test]
fn a_violation_panel_lists_the_key_the_operations_and_the_prefix_and_places_the_marker() {
    let mut r = report();
    r["verdict"] = json!("nonlinearizable");
    r["failure"] = json!({"check": "linearizability", "node": null, "event": 11, "time_ns": 9999});
    r["linearizability"] = json!({"verdict": "not_linearizable", "violation": {
        "part": "k2", "operations": [2], "longest_prefix": [1], "part_operations": 2,
        "explanation": "the read of \"x\" <sees> a value never written", "details": ["2: c1 get k2 -> x"]}});
    let page = render(&r, TRACE, &history());
    assert!(page.contains("id=\"violation\" class=\"panel\" data-key=\"k2\""));
    assert!(page.contains("data-op=\"2\""));
    assert!(page.contains("&lt;sees&gt;"));
    // Op 2 is unknown: it never returned, so the marker sits at its call.
    assert_eq!(embedded(&page)["failure"]["marker_ns"], 300);
}

#[test]
fn odd_input_renders_what_is_there_without_panicking() {
    let odd_trace = "not json\n{\"t\":\"soon\"}\n{\"t\":5,\"ev\":\"state\",\"node\":4000000000}\n\
                     {\"t\":9,\"ev\":\"restart\",\"node\":3}\n{\"t\":10,\"ev\":\"partition\",\"cut\":[[1],[\"a\",2]]}\n";
    for (report, trace, history) in [
        (json!(null), "", ""),
        (json!({}), odd_trace, "{}"),
        (json!({"seed": "x", "config": {"cluster": {"nodes": 1_000_000_000}}}), odd_trace, "[1,2"),
        (
            json!({"failure": {"time_ns": -1}, "linearizability": {"violation": 3}}),
            "",
            r#"{"operations":[{"id":1},{"client":0,"call_ns":5,"status":7}]}"#,
        ),
    ] {
        let page = render(&report, trace, history);
        let data = embedded(&page);
        assert!(data["nodes"].as_array().is_some_and(|n| n.len() <= 256), "node lanes are bounded");
    }
    let page = render(&json!({}), odd_trace, "");
    assert!(page.contains("2 trace line(s) could not be read (the first is line 1)"), "{page}");
    assert!(page.contains("no history was given"));
}

#[test]
fn long_values_are_clipped_to_their_head_and_tail() {
    let long: String = (0..100).map(|i| format!("c{i};")).collect();
    let clipped = digest::clip(&long);
    assert!(clipped.starts_with("c0;c1;c2;c3;c4;c"));
    assert!(clipped.ends_with("c99; [390 chars]"), "{clipped}");
    assert_eq!(digest::clip("short"), "short");
}

#[test]
fn membership_operations_become_marks_and_out_of_configuration_spans_on_their_lanes() {
    let trace = format!(
        "{TRACE}{}",
        r#"{"t":710,"n":11,"ev":"membership","leader":0,"kind":"remove","target":1,"refused":false,"op":"Remove(NodeId(1))","result":"started"}
{"t":720,"n":12,"ev":"membership","leader":0,"kind":"promote","target":1,"refused":true,"op":"Promote(NodeId(1))","result":"refused: not a learner"}
{"t":730,"n":13,"ev":"membership","leader":0,"kind":"add","target":1,"refused":false,"op":"AddLearner(NodeId(1))","result":"started"}
{"t":731,"n":14,"ev":"wipe","node":1}
{"t":740,"n":15,"ev":"membership","leader":0,"kind":"remove","target":1,"refused":false,"op":"Remove(NodeId(1))","result":"started"}
{"t":750,"n":16,"ev":"membership","leader":99999999999,"kind":"remove","target":"x"}
"#
    );
    let data = embedded(&render(&report(), &trace, &history()));
    let n1 = &data["nodes"][1];
    assert_eq!(
        n1["membership"],
        json!([
            [710, "remove", 0, false],
            [720, "promote", 0, true],
            [730, "add", 0, false],
            [731, "wipe", null, false],
            [740, "remove", 0, false]
        ])
    );
    assert_eq!(
        n1["out"],
        json!([[710, 730], [740, null]]),
        "out from a removal until the add, and at the end"
    );
    assert_eq!(data["nodes"][0]["membership"], json!([]));
}
