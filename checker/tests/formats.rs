//! The readers and the writer: what each format accepts, and the errors (file, line, field,
//! what was expected) that bad input gets.

use checker::{
    history_to_json, kv_history_to_json, parse_history, Format, History, InputError, KvCall, KvKind,
    ModelKind, RegisterCall, RegisterOp, Status,
};

fn parse(text: &str, format: Option<Format>, model: Option<ModelKind>) -> Result<History, InputError> {
    parse_history(text, format, model, "h.txt").map(|p| p.history)
}

fn kv_calls(text: &str, format: Option<Format>) -> Vec<KvCall> {
    match parse(text, format, None) {
        Ok(History::Kv(calls)) => calls,
        other => panic!("expected a kv history, got {other:?}"),
    }
}

fn register_calls(text: &str, format: Option<Format>) -> Vec<RegisterCall> {
    match parse(text, format, Some(ModelKind::CasRegister)) {
        Ok(History::Register { calls, .. }) => calls,
        other => panic!("expected a register history, got {other:?}"),
    }
}

fn error(text: &str, format: Option<Format>, model: Option<ModelKind>) -> InputError {
    match parse(text, format, model) {
        Err(e) => e,
        Ok(h) => panic!("expected an error, parsed {h:?}"),
    }
}

// JSON

const BRIEF_EXAMPLE: &str = r#"{"format": "raftsim-history", "version": 1, "model": "kv",
 "operations": [
  {"id": 0, "client": 3, "f": "append", "key": "k2", "value": "c3.17;", "output": null, "status": "ok", "call_ns": 1200, "return_ns": 5400},
  {"id": 1, "client": 1, "f": "get", "key": "k2", "value": null, "output": "c3.17;", "status": "ok", "call_ns": 2000, "return_ns": 9000},
  {"id": 2, "client": 0, "f": "put", "key": "k1", "value": "v", "output": null, "status": "unknown", "call_ns": 3000, "return_ns": null}
 ]}"#;

#[test]
fn the_simulators_json_is_recognised_and_read() {
    let parsed = parse_history(BRIEF_EXAMPLE, None, None, "history.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.format, Format::Json);
    let History::Kv(calls) = parsed.history else { panic!("kv expected") };
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0], KvCall::append(0, 3, "k2", "c3.17;", 1200, 5400));
    assert_eq!(calls[1], KvCall::get(1, 1, "k2", "c3.17;", 2000, 9000));
    assert_eq!(calls[2], KvCall::put(2, 0, "k1", "v", 3000, 0).unknown());
}

#[test]
fn kv_histories_round_trip_through_json() {
    let mut tricky = KvCall::put(4, 2, "k\"ey\\", "line\nbreak \u{e9} \u{1F600}", 40, 50);
    tricky.status = Status::Failed;
    let calls = vec![
        KvCall::append(0, 3, "k2", "c3.17;", 1200, 5400),
        KvCall::get(1, 1, "k2", "c3.17;", 2000, 9000),
        KvCall::put(2, 0, "k1", "v", 3000, 0).unknown(),
        KvCall::get(3, 0, "k1", "", 3000, 0).unknown(),
        tricky,
    ];
    let text = kv_history_to_json(&calls);
    assert_eq!(text.lines().count(), 2 + calls.len() + 1, "one operation a line:\n{text}");
    assert_eq!(kv_calls(&text, None), calls);
    // And it is plain JSON for other tools.
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value["operations"][4]["key"], "k\"ey\\");
}

#[test]
fn register_histories_round_trip_through_json() {
    let op = |id: u64, op: RegisterOp, status: Status, ret: Option<u64>| RegisterCall {
        id,
        client: id,
        key: if id == 3 { "r2".into() } else { String::new() },
        op,
        status,
        call_ns: id * 10,
        return_ns: ret,
    };
    let calls = vec![
        op(0, RegisterOp::Write { value: -5 }, Status::Ok, Some(5)),
        op(1, RegisterOp::Read { output: Some(None) }, Status::Ok, Some(15)),
        op(2, RegisterOp::Cas { from: 1, to: 2, succeeded: Some(false) }, Status::Ok, Some(25)),
        op(3, RegisterOp::Cas { from: 1, to: 2, succeeded: None }, Status::Unknown, None),
        op(4, RegisterOp::Read { output: Some(Some(i64::MAX)) }, Status::Ok, Some(45)),
    ];
    let history = History::Register { calls, initial: Some(Some(7)) };
    let text = history_to_json(&history);
    assert_eq!(parse(&text, None, None), Ok(history));
}

#[test]
fn an_unknown_json_field_is_an_error_naming_it_and_its_line() {
    let text = BRIEF_EXAMPLE.replace("\"client\": 1,", "\"client\": 1, \"clinet\": 1,");
    let e = error(&text, None, None);
    assert_eq!(e.line, Some(4));
    assert_eq!(e.field.as_deref(), Some("clinet"));
    assert_eq!(
        e.to_string(),
        "h.txt:4: field clinet: expected one of id, client, f, key, value, output, status, call_ns, return_ns, \
         found an unknown field"
    );
}

#[test]
fn json_errors_name_the_line_and_field() {
    let cases: [(&str, &str, usize, &str); 7] = [
        ("\"call_ns\": 2000", "\"call_ns\": \"2000\"", 4, "call_ns"),
        ("\"return_ns\": 9000", "\"return_ns\": null", 4, "return_ns"),
        ("\"return_ns\": 9000", "\"return_ns\": 1000", 4, "return_ns"),
        ("\"id\": 1,", "\"id\": 0,", 4, "id"),
        ("\"f\": \"get\"", "\"f\": \"read\"", 4, "f"),
        ("\"output\": \"c3.17;\"", "\"output\": 17", 4, "output"),
        ("\"status\": \"unknown\"", "\"status\": \"maybe\"", 5, "status"),
    ];
    for (from, to, line, field) in cases {
        let e = error(&BRIEF_EXAMPLE.replace(from, to), None, None);
        assert_eq!((e.line, e.field.as_deref()), (Some(line), Some(field)), "{to}: {e}");
    }
}

#[test]
fn a_missing_json_field_is_named() {
    let e = error(&BRIEF_EXAMPLE.replace("\"client\": 0, ", ""), None, None);
    assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("client")));
    assert!(e.to_string().contains("expected this field in the object, found nothing"), "{e}");
}

#[test]
fn json_syntax_errors_name_the_line() {
    let e = error(&BRIEF_EXAMPLE.replace("\"key\": \"k1\",", "\"key\": \"k1\""), None, None);
    assert_eq!(e.line, Some(5));
    assert_eq!(e.field.as_deref(), Some("syntax"));
    let e = error(
        "{\"format\": \"raftsim-history\",\n \"version\": 1,\n \"model\": \"kv\", \"operations\": [",
        None,
        None,
    );
    assert_eq!(e.line, Some(3));
}

#[test]
fn the_json_header_is_checked() {
    let e = error(&BRIEF_EXAMPLE.replace("\"version\": 1", "\"version\": 2"), None, None);
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("version")));
    let e = error(&BRIEF_EXAMPLE.replace("raftsim-history", "other"), Some(Format::Json), None);
    assert_eq!(e.field.as_deref(), Some("format"));
    let e = error(BRIEF_EXAMPLE, None, Some(ModelKind::CasRegister));
    assert_eq!(e.field.as_deref(), Some("model"));
}

// EDN (Jepsen / Knossos)

#[test]
fn a_jepsen_register_history_in_a_vector_with_comments_and_nemesis_events() {
    let text = r#"; a Knossos-style history
[{:process 0, :type :invoke, :f :write, :value 3, :time 10}
 {:process :nemesis, :type :info, :f :start, :value nil}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 0, :type :ok, :f :write, :value 3}
 {:process 1, :type :ok, :f :read, :value 3}
 {:process 2, :type :invoke, :f :cas, :value [3 4]}
 {:process 2, :type :fail, :f :cas, :value [3 4]}
 {:process 3, :type :invoke, :f :cas, :value [3 5]}
 {:process 3, :type :info, :f :cas, :value [3 5]}
 {:process 4 :type :invoke :f :read :value nil} ; never completes
]"#;
    let parsed = parse_history(text, None, None, "r.edn").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.format, Format::Edn);
    let History::Register { calls, initial } = parsed.history else { panic!("a register history") };
    assert_eq!(initial, None);
    // Positions skip the nemesis event: write 0..2, read 1..3, cas 4..5 failed, cas 6 unknown, read 8.
    let summary: Vec<(u64, RegisterOp, Status, u64, Option<u64>)> =
        calls.iter().map(|c| (c.client, c.op, c.status, c.call_ns, c.return_ns)).collect();
    assert_eq!(
        summary,
        vec![
            (0, RegisterOp::Write { value: 3 }, Status::Ok, 0, Some(2)),
            (1, RegisterOp::Read { output: Some(Some(3)) }, Status::Ok, 1, Some(3)),
            (2, RegisterOp::Cas { from: 3, to: 4, succeeded: None }, Status::Failed, 4, Some(5)),
            (3, RegisterOp::Cas { from: 3, to: 5, succeeded: None }, Status::Unknown, 6, None),
            (4, RegisterOp::Read { output: None }, Status::Unknown, 8, None),
        ]
    );
    assert_eq!(calls.iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 1, 4, 6, 8]);
}

#[test]
fn edn_kv_histories_take_the_key_from_key_or_from_key_value_tuples() {
    let with_key = "{:process 0 :type :invoke :f :put :key \"a\" :value \"x\"}\n\
                    {:process 0 :type :ok :f :put :key \"a\" :value \"x\"}\n\
                    {:process 1 :type :invoke :f :get :key \"a\" :value nil}\n\
                    {:process 1 :type :ok :f :get :key \"a\" :value \"x\"}\n";
    let tuples = "({:process 0, :type :invoke, :f :write, :value [\"a\" \"x\"]}\n\
                   {:process 0, :type :ok, :f :write, :value [\"a\" \"x\"]}\n\
                   {:process 1, :type :invoke, :f :read, :value [\"a\" nil]}\n\
                   {:process 1, :type :ok, :f :read, :value [\"a\" \"x\"]})";
    let expected = vec![KvCall::put(0, 0, "a", "x", 0, 1), KvCall::get(2, 1, "a", "x", 2, 3)];
    assert_eq!(kv_calls(with_key, Some(Format::Edn)), expected);
    match parse(tuples, Some(Format::Edn), Some(ModelKind::Kv)) {
        Ok(History::Kv(calls)) => assert_eq!(calls, expected),
        other => panic!("{other:?}"),
    }
}

#[test]
fn edn_integer_keys_and_values_and_nil_reads_are_accepted() {
    let text = "{:process 0 :type :invoke :f :append :value [7 12]}\n{:process 0 :type :ok :f :append :value [7 12]}\n\
                {:process 1 :type :invoke :f :get :value [8 nil]}\n{:process 1 :type :ok :f :get :value [8 nil]}";
    let calls = kv_calls(text, None);
    assert_eq!(calls, vec![KvCall::append(0, 0, "7", "12", 0, 1), KvCall::get(2, 1, "8", "", 2, 3)]);
    assert_eq!(calls[0].kind, KvKind::Append);
}

#[test]
fn edn_register_keyed_by_key_field_or_tuples() {
    let text = "{:process 0 :type :invoke :f :cas :value [1 [2 3]]}\n{:process 0 :type :ok :f :cas :value [1 [2 3]]}\n\
                {:process 1 :type :invoke :f :read :key 2 :value nil}\n{:process 1 :type :ok :f :read :key 2 :value 5}";
    let calls = register_calls(text, None);
    assert_eq!(calls[0].key, "1");
    assert_eq!(calls[0].op, RegisterOp::Cas { from: 2, to: 3, succeeded: Some(true) });
    assert_eq!(calls[1].key, "2");
    assert_eq!(calls[1].op, RegisterOp::Read { output: Some(Some(5)) });
}

#[test]
fn edn_errors_name_the_line_and_field() {
    let cases: [(&str, usize, &str); 8] = [
        ("{:process 0 :type :invoke :f :read}\n{:process 0 :type :done :f :read}", 2, ":type"),
        ("{:process 0 :type :invoke :f :read}\n{:type :ok :f :read}", 2, ":process"),
        ("{:process 0 :type :invoke :f :read}\n{:process 1 :type :ok :f :read :value 1}", 2, ":process"),
        ("{:process 0 :type :invoke :f :read}\n\n{:process 0 :type :invoke :f :read}", 3, ":type"),
        ("{:process 0 :type :invoke :f :cas :value [1]}", 1, ":value"),
        ("{:process 0 :type :invoke :f :write :value \"x\"}", 1, ":value"),
        ("{:process 0 :type :invoke :f :read}\n[1 2", 2, "syntax"),
        ("{:process 0 :type :invoke :f :read}\n:oops", 2, "event"),
    ];
    for (text, line, field) in cases {
        let e = error(text, Some(Format::Edn), Some(ModelKind::CasRegister));
        assert_eq!((e.line, e.field.as_deref()), (Some(line), Some(field)), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("h.txt:{line}: field {field}: expected ")), "{e}");
    }
}

#[test]
fn an_edn_kv_event_without_a_key_is_an_error() {
    let e = error("{:process 0 :type :invoke :f :put :value \"x\"}", Some(Format::Edn), Some(ModelKind::Kv));
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some(":key")));
    assert!(e.to_string().contains("a :key, or a :value of the form [key value]"), "{e}");
}

// Porcupine's KV logs

#[test]
fn porcupine_logs_accept_only_invoke_and_ok() {
    let text = "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n\
                {:process 0, :type :fail, :f :get, :key \"1\", :value nil}\n";
    let e = error(text, Some(Format::PorcupineKv), None);
    assert_eq!((e.line, e.field.as_deref()), (Some(2), Some(":type")));
    assert_eq!(e.to_string(), "h.txt:2: field :type: expected :invoke or :ok, found :fail");
    let e = error("{:process 0, :type :invoke, :f :get, :value nil}", Some(Format::PorcupineKv), None);
    assert_eq!(e.field.as_deref(), Some(":key"));
    let e = error(
        "{:process 0, :type :invoke, :f :cas, :key \"1\", :value nil}",
        Some(Format::PorcupineKv),
        None,
    );
    assert_eq!(e.field.as_deref(), Some(":f"));
}

#[test]
fn an_empty_file_is_an_error() {
    let e = error(" \n; only a comment\n", None, None);
    assert_eq!(e.to_string(), "h.txt: expected a history (JSON or EDN), found an empty file");
}

#[test]
fn no_input_makes_a_reader_panic() {
    // Truncations and garbage of every sort must come back as errors, never panics.
    let samples =
        [BRIEF_EXAMPLE, "{:process 0 :type :invoke :f :cas :value [1 2]}\n{:process 0 :type :ok :f :cas}"];
    for sample in samples {
        for end in 0..sample.len() {
            if sample.is_char_boundary(end) {
                let _ = parse(&sample[..end], None, None);
                let _ = parse(&sample[..end], Some(Format::Edn), Some(ModelKind::Kv));
                let _ = parse(&sample[..end], Some(Format::PorcupineKv), None);
            }
        }
    }
    for garbage in [
        "\"\\u",
        "#",
        "#_",
        "\\",
        "{:a #{1 2}}",
        "[1N 2M 3/4 -5.5e3]",
        "{\"a\": -}",
        "{\"\\ud800\": 1}",
        "[[[[",
        "}",
    ] {
        let _ = parse(garbage, None, None);
        let _ = parse(garbage, Some(Format::Json), None);
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Text made of the formats' own syntax, shuffled: the readers must answer, never panic.
    fn syntax_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            "(",
            ")",
            "\"",
            "\\",
            ":",
            ",",
            " ",
            "\n",
            ";",
            "#",
            "#_",
            "#{",
            "nil",
            "true",
            "false",
            "null",
            "-",
            "1",
            "42",
            "1.5e3",
            "99999999999999999999999",
            ":process",
            ":type",
            ":invoke",
            ":ok",
            ":fail",
            ":info",
            ":f",
            ":get",
            ":put",
            ":append",
            ":read",
            ":write",
            ":cas",
            ":value",
            ":key",
            "\"format\"",
            "\"raftsim-history\"",
            "\"version\"",
            "\"model\"",
            "\"kv\"",
            "\"operations\"",
            "\"id\"",
            "\"status\"",
            "\"ok\"",
            "\"call_ns\"",
            "\"return_ns\"",
            "\\u00e9",
            "\\ud800",
            "é",
            "\u{1F600}",
        ]);
        prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        #[test]
        fn no_text_makes_a_reader_panic(text in syntax_soup()) {
            for format in [None, Some(Format::Json), Some(Format::Edn), Some(Format::PorcupineKv)] {
                for model in [None, Some(ModelKind::Kv), Some(ModelKind::CasRegister)] {
                    if let Ok(parsed) = parse_history(&text, format, model, "soup") {
                        // Whatever parses can be checked.
                        let _ = checker::check_history(&parsed.history, None, &checker::CheckOptions::default());
                    }
                }
            }
        }
    }
}
