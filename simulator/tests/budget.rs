//! The event budget: healthy runs stay far inside it, a cluster busy without progress spends it
//! and ends with a verdict that says what it was busy with, and such a failure is reproducible
//! like any other. The wall-clock limit is the machine-dependent last resort.

// `.classic()`: these figures are of the paths without membership changes and off-log reads
// (see `SimConfig::classic`); tests/membership.rs covers those.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use simulator::{run, run_scenario, RunOptions, Scenario, SimConfig, Verdict};

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
    let dir = std::env::temp_dir().join(format!("raftsim-budget-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A seed on which the planted bug `probe-stops-short` starts a message storm early.
const STORM_SEED: u64 = 18;

fn with_bug(seed: u64, bug: &str) -> SimConfig {
    let mut config = SimConfig::swarm(seed).classic();
    config.bugs = vec![bug.to_string()];
    config
}

#[test]
fn healthy_runs_use_at_most_a_quarter_of_their_event_budget() {
    let mut worst = (0, String::new());
    for seed in 0..120 {
        let outcome = run(&SimConfig::swarm(seed).classic(), &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed}: {}", outcome.reason);
        worst = worst.max((outcome.summary.budget_peak_permille, format!("seed {seed}")));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let scenario = Scenario::load(&path).expect("a valid scenario");
        for seed in 0..2 {
            let config = scenario.config(seed).expect("valid");
            let outcome = run_scenario(&scenario, &config, &RunOptions::default());
            worst =
                worst.max((outcome.summary.budget_peak_permille, format!("{} seed {seed}", scenario.name)));
        }
    }
    assert!(worst.0 <= 250, "{} used {} per mille of its event budget", worst.1, worst.0);
}

#[test]
fn a_cluster_busy_without_progress_spends_its_budget_and_says_with_what() {
    let config = with_bug(STORM_SEED, "probe-stops-short");
    let a = run(&config, &RunOptions::default());
    assert_eq!(a.verdict, Verdict::Liveness, "{}", a.reason);
    let failure = a.failure.as_ref().expect("a failure point");
    assert_eq!(failure.check, "event-budget");
    assert!(a.reason.contains("spent its event budget"), "{}", a.reason);
    assert!(a.reason.contains("append n3->n2") && a.reason.contains("append_resp n2->n3"), "{}", a.reason);
    assert!(a.reason.contains("n2 i8 t1"), "the lagging follower's commit index is named: {}", a.reason);
    // The same seed spends it at the same event, everywhere.
    let b = run(&config, &RunOptions::default());
    assert_eq!(a.summary.trace_hash, b.summary.trace_hash);
    assert_eq!(a.failure.as_ref().map(|f| f.event), b.failure.as_ref().map(|f| f.event));
    // Without the bug the same seed passes, far inside its budget.
    let healthy = run(&SimConfig::swarm(STORM_SEED).classic(), &RunOptions::default());
    assert_eq!(healthy.verdict, Verdict::Pass);
    assert!(healthy.summary.budget_peak_permille < 250);
}

#[test]
fn a_fixed_budget_ends_any_run_that_needs_more() {
    let mut config = SimConfig::swarm(1).classic();
    config.max_events = Some(5_000);
    let outcome = run(&config, &RunOptions::default());
    assert_eq!(outcome.verdict, Verdict::Liveness);
    assert_eq!(outcome.failure.as_ref().map(|f| f.check.as_str()), Some("event-budget"));
    assert!(outcome.reason.contains("a fixed budget of 5,000 events"), "{}", outcome.reason);
    // The diagnostic window after the budget is a tenth of it.
    assert_eq!(
        outcome.summary.events,
        5_120 + 500,
        "checked every 1,024 events, then a tenth of the budget more"
    );
}

#[test]
fn an_event_budget_failure_reports_replays_and_shrinks_like_any_failure() {
    let reports = temp_dir("report");
    let seed = STORM_SEED.to_string();
    let args = ["--seed", &seed, "--bug", "probe-stops-short", "--json", "--reports"];
    let out = raftsim(&[&args[..], &[reports.to_str().expect("utf-8")]].concat());
    assert_eq!(out.status.code(), Some(1));
    let v = last_json(&out);
    assert_eq!(v["verdict"], "liveness");
    assert_eq!(v["failure"]["check"], "event-budget");
    let dir = v["report"].as_str().expect("a report folder").to_string();
    for file in ["report.json", "trace.jsonl", "history.json", "timeline.html"] {
        assert!(Path::new(&dir).join(file).is_file(), "{file}");
    }
    let replay = last_json(&raftsim(&["replay", &dir, "--json"]));
    assert_eq!(replay["reproduced"], true, "{replay}");
    assert_eq!(replay["verdict"], "liveness");

    let out_file = reports.join("shrunk.json");
    let shrink =
        raftsim(&["shrink", &dir, "--budget", "25", "--out", out_file.to_str().expect("utf-8"), "--json"]);
    assert_eq!(shrink.status.code(), Some(0), "{}", String::from_utf8_lossy(&shrink.stderr));
    let s = last_json(&shrink);
    assert_eq!(s["check"], "event-budget", "{s}");
    let rerun = last_json(&raftsim(&[
        "run",
        "--scenario",
        out_file.to_str().expect("utf-8"),
        "--seed",
        &seed,
        "--json",
        "--no-report",
    ]));
    assert_eq!(rerun["verdict"], "liveness");
    assert_eq!(rerun["failure"]["check"], "event-budget");
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn a_sweep_finishes_and_names_the_seeds_that_spent_their_budget() {
    let out = raftsim(&[
        "sweep",
        "--seeds",
        "16..20",
        "--bug",
        "probe-stops-short",
        "--json",
        "--max-reports",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = last_json(&out);
    assert_eq!(s["seeds"], 4);
    let failed = s["failed"].as_array().expect("a list");
    assert!(failed.iter().any(|f| f["seed"] == STORM_SEED && f["check"] == "event-budget"), "{s}");
    assert!(failed
        .iter()
        .all(|f| f["replay"].as_str().is_some_and(|r| r.contains("--bug probe-stops-short"))));
}

#[test]
fn the_wall_clock_limit_ends_a_long_run_as_inconclusive_and_says_it_depends_on_the_machine() {
    // A thousand simulated seconds take far longer than a millisecond on any machine.
    let out = raftsim(&[
        "--seed",
        "1",
        "--calm",
        "--duration",
        "1000s",
        "--run-time-limit",
        "1ms",
        "--json",
        "--no-report",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = last_json(&out);
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(v["failure"]["check"], "run-time-limit");
    assert!(v["reason"].as_str().is_some_and(|r| r.contains("machine-dependent")), "{v}");
}
