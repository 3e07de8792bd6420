//! `raftsim check FILE`: exit codes 0 / 1 / 2 / 3, text and JSON output.

use checker::cli::run_check_command_to;
use checker::{kv_history_to_json, CheckArgs, Format, KvCall, ModelKind};
use clap::Parser;
use std::path::PathBuf;

/// A stand-in for the simulator's command line, which embeds `CheckArgs` the same way.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    check: CheckArgs,
}

fn args(list: &[&str]) -> CheckArgs {
    let argv = std::iter::once("raftsim-check").chain(list.iter().copied());
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli.check,
        Err(e) => panic!("{e}"),
    }
}

/// Writes `text` to a file of its own in the temp directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("checker-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn run(a: &CheckArgs) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_check_command_to(a, &mut out, &mut err);
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

fn testdata(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine-kv").join(name).display().to_string()
}

#[test]
fn a_linearizable_history_exits_0() {
    let (code, out, err) = run(&args(&[&testdata("c10-ok.txt")]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(porcupine-kv, model kv):"), "{out}");
    assert!(out.contains("\nlinearizable ("), "{out}");
    assert!(out.contains("337 operations, 10 parts)"), "{out}");
}

#[test]
fn a_violation_exits_1_with_the_part_and_explanation() {
    let (code, out, _) = run(&args(&[&testdata("c01-bad.txt")]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not linearizable ("), "{out}");
    assert!(out.contains("part: key \"7\""), "{out}");
    assert!(out.contains("why: get(\"7\")"), "{out}");
    assert!(out.contains("operations involved:\n  op 58 (client 0, 58..59)"), "{out}");
    assert!(out.contains("longest linearizable prefix (3 of 5 operations): [2, 36, 54]"), "{out}");
}

#[test]
fn json_output_is_one_object() {
    let (code, out, _) = run(&args(&["--json", &testdata("c01-bad.txt")]));
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 1, "{out}");
    let value: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(value["verdict"], "not_linearizable");
    assert_eq!(value["format"], "porcupine-kv");
    assert_eq!(value["model"], "kv");
    assert_eq!(value["violation"]["part"], "7");
    assert_eq!(value["operations"], 38);
}

#[test]
fn bad_input_exits_2_naming_the_file_line_and_field() {
    let path = file(
        "bad.edn",
        "{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :okay :f :read :value 1}\n",
    );
    let (code, out, err) = run(&args(&["--format", "edn", path.to_str().unwrap_or_default()]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!(
            "error: {}:2: field :type: expected one of :invoke, :ok, :fail, :info, found :okay\n",
            path.display()
        )
    );
    let (code, out, _) = run(&args(&["--json", path.to_str().unwrap_or_default()]));
    assert_eq!(code, 2);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        (value["verdict"].as_str(), value["line"].as_u64(), value["field"].as_str()),
        (Some("bad_input"), Some(2), Some(":type"))
    );
}

#[test]
fn a_missing_file_exits_2() {
    let (code, _, err) = run(&args(&["/no/such/history.json"]));
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: /no/such/history.json: expected a readable history file, found "),
        "{err}"
    );
}

#[test]
fn initial_applies_to_registers_only() {
    let path = file("kv.json", &kv_history_to_json(&[KvCall::put(0, 0, "k", "v", 0, 1)]));
    let (code, _, err) = run(&args(&["--initial", "0", path.to_str().unwrap_or_default()]));
    assert_eq!(code, 2);
    assert!(err.contains("field --initial"), "{err}");
}

#[test]
fn a_register_history_uses_the_initial_value() {
    let path = file(
        "reg.edn",
        "{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f :read :value 0}\n",
    );
    let p = path.to_str().unwrap_or_default();
    assert_eq!(run(&args(&[p])).0, 1, "nil by default");
    assert_eq!(run(&args(&["--initial", "0", p])).0, 0);
    assert_eq!(run(&args(&["--initial", "nil", "--model", "cas-register", p])).0, 1);
    let parsed = args(&["--model", "cas-register", "--format", "porcupine-kv", "--time-limit", "500ms", p]);
    assert_eq!((parsed.model, parsed.format), (Some(ModelKind::CasRegister), Some(Format::PorcupineKv)));
    assert_eq!(parsed.time_limit, Some(std::time::Duration::from_millis(500)));
}

#[test]
fn an_unfinished_search_exits_3() {
    // Fourteen concurrent puts, then v0 and later v1 read when no write is left: too much
    // for no time at all.
    let mut calls: Vec<KvCall> = (0..14).map(|i| KvCall::put(i, i, "k", &format!("v{i}"), 0, 1000)).collect();
    calls.push(KvCall::get(14, 14, "k", "v0", 0, 1000));
    calls.push(KvCall::get(15, 15, "k", "v1", 0, 1000));
    calls.push(KvCall::get(16, 16, "k", "v0", 2000, 2010));
    calls.push(KvCall::get(17, 17, "k", "v1", 3000, 3010));
    let path = file("hard.json", &kv_history_to_json(&calls));
    let p = path.to_str().unwrap_or_default();
    let (code, out, _) = run(&args(&["--time-limit", "0s", p]));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("unknown ("), "{out}");
    assert!(out.contains("reason: time limit reached"), "{out}");
    let (code, out, _) = run(&args(&["--memo-limit", "50", "--json", p]));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("\"verdict\":\"unknown\""), "{out}");
    assert_eq!(run(&args(&[p])).0, 1);
}

#[test]
fn bad_option_values_are_refused_by_the_parser() {
    let argv = ["raftsim-check", "--time-limit", "soon", "f"];
    assert!(Cli::try_parse_from(argv).is_err());
    assert!(Cli::try_parse_from(["raftsim-check", "--initial", "zero", "f"]).is_err());
    assert!(Cli::try_parse_from(["raftsim-check", "--format", "yaml", "f"]).is_err());
}

#[test]
fn input_beyond_the_input_limit_exits_2_naming_the_file_and_the_limit() {
    let pair = "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n";
    let path = file("big.edn", &pair.repeat(50));
    let p = path.to_str().unwrap_or_default();
    let (code, out, err) = run(&args(&["--input-limit", "1KiB", p]));
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        err,
        format!(
            "error: {p}: expected a history of at most 1024 bytes (the input limit; raise it with --input-limit), \
             found more\n"
        )
    );
    assert_eq!(run(&args(&["--input-limit", "1MiB", p])).0, 0);
}

#[test]
fn input_that_is_not_utf8_exits_2_naming_the_line() {
    let path = std::env::temp_dir().join(format!("checker-cli-test-{}-latin1.edn", std::process::id()));
    std::fs::write(&path, b"{:process 0 :type :invoke :f :read :value nil}\n{:f \xe9}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run(&args(&[path.to_str().unwrap_or_default()]));
    assert_eq!(code, 2);
    assert!(err.contains(":2: expected UTF-8 text, found a byte that is not UTF-8 at offset 51"), "{err}");
}

#[test]
fn a_read_of_nil_says_nothing_in_edn_unless_asked() {
    // 1 is written, then nil is read: Knossos accepts it (the read returned no value); with
    // --nil-reads value, nil is the register's value and the history is not linearizable.
    let path = file(
        "nil.edn",
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n\
         {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value nil}\n",
    );
    let p = path.to_str().unwrap_or_default();
    assert_eq!(run(&args(&[p])).0, 0);
    assert_eq!(run(&args(&["--nil-reads", "unknown", p])).0, 0);
    assert_eq!(run(&args(&["--nil-reads", "value", p])).0, 1);
    let json = file("kv.json", &kv_history_to_json(&[KvCall::put(0, 0, "k", "v", 0, 1)]));
    let (code, _, err) = run(&args(&["--nil-reads", "value", json.to_str().unwrap_or_default()]));
    assert_eq!(code, 2);
    assert!(err.contains("field --nil-reads: expected --nil-reads only with EDN histories"), "{err}");
}

#[test]
fn jepsen_log_lines_are_recognised_and_checked_as_porcupine_reads_them() {
    // The cas fails, so the value was not 0 when it ran: the read of 0 after it, with nothing
    // else concurrent, is fine; a read of nil after the write is not.
    let log = "INFO  jepsen.core - starting\n\
               INFO  jepsen.util - 0\t:invoke\t:write\t3\n\
               INFO  jepsen.util - 0\t:ok\t:write\t3\n\
               INFO  jepsen.util - 1\t:invoke\t:cas\t[0 4]\n\
               INFO  jepsen.util - 1\t:fail\t:cas\t[0 4]\n\
               INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
               INFO  jepsen.util - 2\t:ok\t:read\t3\n";
    let path = file("etcd.log", log);
    let (code, out, _) = run(&args(&[path.to_str().unwrap_or_default()]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(jepsen-log, model cas-register):"), "{out}");
    let path = file("etcd-bad.log", &log.replace(":ok\t:read\t3", ":ok\t:read\tnil"));
    assert_eq!(run(&args(&[path.to_str().unwrap_or_default()])).0, 1);
}

#[test]
fn the_output_says_which_path_decided() {
    let (_, out, _) = run(&args(&[&testdata("c10-ok.txt")]));
    assert!(out.contains("\ndecided by: search ("), "{out}");
    let (_, out, _) = run(&args(&["--json", &testdata("c10-ok.txt")]));
    let value: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(value["decided_by"]["path"], "search");
}
