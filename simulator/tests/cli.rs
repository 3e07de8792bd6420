//! The command line as a user meets it: exit codes, JSON output, reports, replays and sweeps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn raftsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raftsim")).args(args).output().expect("the binary runs")
}

fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {line}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raftsim-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_passing_run_exits_zero_and_its_json_has_the_promised_fields() {
    let out = raftsim(&["--seed", "1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v = last_json(&out);
    for field in ["seed", "verdict", "reason", "trace_hash", "events", "sim_time_ns", "wall_ms", "ops"] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    for field in ["ok", "failed", "unknown"] {
        assert!(v["ops"][field].is_u64(), "ops.{field}: {v}");
    }
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["seed"], 1);
}

#[test]
fn the_bare_seed_and_the_run_subcommand_are_the_same_run() {
    let a = last_json(&raftsim(&["--seed", "4", "--json"]));
    let b = last_json(&raftsim(&["run", "--seed", "4", "--json"]));
    assert_eq!(a["trace_hash"], b["trace_hash"]);
}

#[test]
fn bad_usage_exits_two_with_a_message() {
    for args in [
        &["--sede", "1"][..],
        &["--seed", "x"],
        &["--bug", "nonsense"],
        &["--duration", "10 parsecs"],
        &["--nodes", "0"],
        &["--base", "storm"],
        &["--base", "quiet", "--calm"],
    ] {
        let out = raftsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    let err = String::from_utf8_lossy(&raftsim(&["--base", "storm"]).stderr).to_string();
    assert!(err.contains("--base") && err.contains("expected swarm, crashes or quiet"), "{err}");
}

#[test]
fn a_base_draws_the_seed_from_a_fixed_configuration_and_is_part_of_the_replay_command() {
    let out = raftsim(&["run", "--seed", "16", "--base", "quiet", "--json", "--no-report"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = raftsim(&[
        "run",
        "--seed",
        "16",
        "--base",
        "quiet",
        "--bug",
        "install-stale-snapshot",
        "--no-report",
    ]);
    assert_eq!(out.status.code(), Some(1), "seed 16 of the quiet base catches the late snapshot");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 clients"), "{text}");
    assert!(
        text.contains("replay: cargo run --release -- --seed 16 --base quiet --bug install-stale-snapshot"),
        "{text}"
    );
    // The swarm draw of the same seed is another run.
    let swarm = raftsim(&["run", "--seed", "16", "--bug", "install-stale-snapshot", "--no-report"]);
    assert_ne!(swarm.stdout, out.stdout);
}

#[test]
fn numbers_outside_their_range_are_refused_naming_the_flag_and_the_range() {
    for (args, flag, range) in [
        (&["--clients", "18446744073709551615"][..], "--clients", "0 to 4,096"),
        (&["--nodes", "33"], "--nodes", "1 to 32"),
        (&["--ops", "1000001"], "--ops", "0 to 1,000,000"),
        (&["--max-events", "0"], "--max-events", "1 to 100,000,000,000"),
        (&["--duration", "25h"], "--duration", "24h"),
        (&["--run-time-limit", "0s"], "--run-time-limit", "1ms to 24h"),
        (&["sweep", "--count", "18446743073709551615"], "--count", "1 to 1,000,000,000,000"),
        (&["sweep", "--seeds", "0..18446744073709551615"], "--seeds", "at most 1,000,000,000,000"),
        (&["sweep", "--seeds", "0..10", "--shard", "1/0"], "--shard", "1 <= K <= N <= 65536"),
        (&["sweep", "--seeds", "0..10", "--jobs", "0"], "--jobs", "1 to 1,024"),
        (&["shrink", "--seed", "1", "--budget", "0"], "--budget", "1 to 100,000"),
        (&["selftest", "--trials", "0"], "--trials", "1 to 1,000"),
    ] {
        let out = raftsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(range), "{args:?}: {err}");
    }
}

#[test]
fn a_scenario_field_outside_its_range_is_refused_naming_the_field() {
    let dir = temp_dir("scenario-range");
    for (config, field) in [
        (r#"{"cluster": {"tick_ns": 18446744073709551000}}"#, "cluster.tick_ns"),
        (r#"{"workload": {"value_bytes": 1000000000}}"#, "workload.value_bytes"),
        (r#"{"workload": {"clients": 100000}}"#, "workload.clients"),
        (r#"{"network": {"delay_ns_max": "2h"}}"#, "network.delay_ns_max"),
    ] {
        let file = dir.join("s.json");
        let text = format!(r#"{{"name": "s", "description": "d", "config": {config}}}"#);
        std::fs::write(&file, text).expect("write");
        let out = raftsim(&["--scenario", file.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(2), "{config}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("s.json") && err.contains(field) && err.contains("expected"), "{config}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shrink_refuses_the_flags_it_would_ignore() {
    for flag in [&["--trace", "t.jsonl"][..], &["--export-scenario", "x.json"], &["--check-determinism"]] {
        let out = raftsim(&[&["shrink", "--seed", "1"][..], flag].concat());
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag[0]) && err.contains("does not apply"), "{flag:?}: {err}");
    }
}

#[test]
fn the_bug_list_names_every_planted_bug() {
    let out = raftsim(&["bugs", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let list = last_json(&out);
    let names: Vec<&str> =
        list.as_array().expect("a list").iter().filter_map(|b| b["name"].as_str()).collect();
    let expected: Vec<&str> = raft_core::Bug::every().map(|b| b.name()).collect();
    assert_eq!(names, expected);
    assert!(list.as_array().expect("a list").iter().all(|b| b["description"].is_string()));
}

#[test]
fn a_failing_run_writes_a_report_that_replays_to_the_same_trace() {
    let reports = temp_dir("report");
    let reports_arg = reports.display().to_string();
    let out = raftsim(&["--seed", "0", "--bug", "ack-before-durable", "--json", "--reports", &reports_arg]);
    assert_eq!(out.status.code(), Some(1));
    let v = last_json(&out);
    assert_eq!(v["verdict"], "safety");
    assert!(v["replay"].as_str().is_some_and(|r| r.contains("--bug ack-before-durable")));
    let dir = Path::new(v["report"].as_str().expect("a report folder"));
    assert_eq!(dir, reports.join("random-seed-0"));
    for file in ["report.json", "trace.jsonl", "history.json", "timeline.html"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("read")).expect("JSON");
    assert_eq!(report["seed"], 0);
    assert_eq!(report["verdict"], "safety");
    assert_eq!(report["failure"]["check"], "commit-without-majority");
    assert_eq!(report["summary"]["trace_hash"], v["trace_hash"]);
    assert!(report["config"]["cluster"]["nodes"].is_u64());
    assert!(report["version"].as_str().is_some_and(|s| s.starts_with("raftsim ")));

    let replay = raftsim(&["replay", &dir.display().to_string(), "--json"]);
    assert_eq!(replay.status.code(), Some(0), "{}", String::from_utf8_lossy(&replay.stdout));
    let r = last_json(&replay);
    assert_eq!(r["reproduced"], true);
    assert_eq!(r["verdict"], "safety");

    let until = raftsim(&["replay", &dir.display().to_string(), "--until", "300"]);
    assert_eq!(until.status.code(), Some(0));
    let text = String::from_utf8_lossy(&until.stdout);
    assert!(text.contains("state after event 300"), "{text}");
    assert!(text.contains("n0 [") && text.contains("log terms") && text.contains("disk:"), "{text}");

    // `--until` counts events as the failure line does: the failing event is the last shown.
    let event = v["failure"]["event"].as_u64().expect("the failing event");
    let until = raftsim(&["replay", &dir.display().to_string(), "--until", &event.to_string(), "--json"]);
    let u = last_json(&until);
    let last = u["last_events"].as_array().and_then(|l| l.last()).and_then(Value::as_str).unwrap_or_default();
    let last: Value = serde_json::from_str(last).expect("a trace line");
    assert_eq!(last["n"], event, "{u}");
    assert_eq!(last["ev"], "violation", "{u}");
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn a_report_with_garbage_is_refused_with_exit_two() {
    let dir = temp_dir("garbage");
    std::fs::write(dir.join("report.json"), "{\"seed\": 1, \"config\": {\"cluster\": 7}}").expect("write");
    let out = raftsim(&["replay", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("report.json") && err.contains("config"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_determinism_reports_agreement_on_every_event() {
    let out = raftsim(&["--seed", "2", "--check-determinism"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("two runs agree on all"));
}

fn sweep(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["sweep", "--json", "--max-reports", "0"];
    all.extend_from_slice(args);
    let out = raftsim(&all);
    (out.status.code(), last_json(&out))
}

#[test]
fn a_sweep_gives_the_same_verdicts_whatever_the_jobs_and_shards() {
    let bug = ["--bug", "stale-leader-read"];
    let (code1, one) = sweep(&[&["--seeds", "0..24", "--jobs", "1"][..], &bug].concat());
    let (_, two) = sweep(&[&["--seeds", "0..24", "--jobs", "2"][..], &bug].concat());
    assert_eq!(one["failed"], two["failed"]);
    assert_eq!(one["verdicts"], two["verdicts"]);
    assert_eq!(one["seeds"], 24);
    assert!(!one["failed"].as_array().expect("list").is_empty(), "stale reads are caught within 24 seeds");
    assert_eq!(code1, Some(1));

    let dir = temp_dir("shards");
    let mut files = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = raftsim(
            &[&["sweep", "--json", "--max-reports", "0", "--seeds", "0..24", "--shard", &shard][..], &bug]
                .concat(),
        );
        let file = dir.join(format!("shard-{k}.json"));
        std::fs::write(&file, &out.stdout).expect("write");
        files.push(file.display().to_string());
    }
    let mut merge = vec!["sweep", "merge", "--json"];
    merge.extend(files.iter().map(String::as_str));
    let out = raftsim(&merge);
    assert_eq!(out.status.code(), Some(1));
    let merged = last_json(&out);
    assert_eq!(merged["seeds"], 24);
    assert_eq!(merged["failed"], one["failed"]);
    assert_eq!(merged["verdicts"], one["verdicts"]);
    assert_eq!(merged["seed_sets"].as_array().map(Vec::len), Some(3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_passing_sweep_exits_zero_and_counts_what_its_seeds_covered() {
    let (code, s) = sweep(&["--seeds", "0..30"]);
    assert_eq!(code, Some(0));
    assert_eq!(s["passed"], 30);
    assert!(s["failed"].as_array().is_some_and(Vec::is_empty));
    assert!(s["wall_ms"].as_f64().is_some_and(|w| w > 0.0));
    assert!(s["coverage"]["fault: crash"]["fired_seeds"].as_u64().is_some_and(|n| n > 0));
}

#[test]
fn failures_write_capped_reports() {
    let reports = temp_dir("capped");
    let out = raftsim(&[
        "sweep",
        "--json",
        "--seeds",
        "0..40",
        "--jobs",
        "1",
        "--bug",
        "ack-before-durable",
        "--max-reports",
        "2",
        "--reports",
        &reports.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = last_json(&out);
    let failed = s["failed"].as_array().expect("list");
    assert!(failed.len() > 2);
    assert_eq!(failed.iter().filter(|f| f["report"].is_string()).count(), 2);
    assert_eq!(std::fs::read_dir(&reports).expect("dir").count(), 2);
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn fail_fast_stops_at_the_lowest_failing_seed_whatever_the_jobs() {
    let args = ["--seeds", "0..60", "--bug", "ack-before-durable", "--fail-fast"];
    let (code1, one) = sweep(&[&["--jobs", "1"][..], &args].concat());
    let (code2, two) = sweep(&[&["--jobs", "2"][..], &args].concat());
    assert_eq!((code1, code2), (Some(1), Some(1)));
    let failed = one["failed"].as_array().expect("list");
    assert_eq!(failed.len(), 1, "{one}");
    let lowest = failed[0]["seed"].as_u64().expect("a seed");
    assert_eq!(one["seeds"].as_u64(), Some(lowest + 1), "every seed up to the lowest failure, none after");
    assert_eq!(one["failed"], two["failed"]);
    assert_eq!(one["seeds"], two["seeds"]);
    assert_eq!(one["verdicts"], two["verdicts"]);
    assert!(one["stopped_early"].as_str().is_some_and(|w| w.contains(&format!("seed {lowest}"))));
    // The same seeds without --fail-fast fail first at that seed too.
    let (_, all) = sweep(&["--seeds", "0..60", "--bug", "ack-before-durable"]);
    assert_eq!(all["failed"][0]["seed"].as_u64(), Some(lowest));
}

#[test]
fn merging_something_that_is_not_a_summary_exits_two() {
    let dir = temp_dir("merge-bad");
    let file = dir.join("x.json");
    std::fs::write(&file, "{\"hello\": 1}").expect("write");
    let out = raftsim(&["sweep", "merge", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snapshot_options_override_the_draw_and_are_part_of_the_replay_command() {
    let off = raftsim(&["--seed", "1", "--no-snapshots", "--json", "--no-report"]);
    assert_eq!(off.status.code(), Some(0));
    let v = last_json(&off);
    assert_eq!(v["snapshots"]["taken"], 0, "seed 1 draws snapshots, the option switches them off");
    assert!(v["replay"].as_str().is_some_and(|r| r.contains("--no-snapshots")));

    let every = raftsim(&["--seed", "2", "--snapshot-every", "7", "--json", "--no-report"]);
    assert_eq!(every.status.code(), Some(0));
    let v = last_json(&every);
    assert!(
        v["snapshots"]["taken"].as_u64().is_some_and(|n| n > 0),
        "seed 2 draws none, the option asks for them"
    );
    assert!(v["replay"].as_str().is_some_and(|r| r.contains("--snapshot-every 7")));
}
