//! The scenario files: each passes on its seeds, a run is a function of its seed, and files or
//! expectations that cannot hold fail the way they should (naming the step, the file, the field).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use simulator::{run_scenario, RunOptions, Scenario, Verdict};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Every scenario file, sorted; the folder's README is the only other file allowed there.
fn scenario_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).expect("the scenarios folder exists") {
        let path = entry.expect("a readable folder entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name == "README.md" {
            continue;
        }
        assert!(
            name.ends_with(".json"),
            "{name}: only scenario files (*.json) and README.md belong in scenarios/"
        );
        files.push(path);
    }
    files.sort();
    files
}

/// One failing seed of a scenario.
struct Failure {
    seed: u64,
    verdict: Verdict,
    reason: String,
}

/// Runs seeds `0..scenario.seeds` on two threads (the machine's two cores). Each run is a pure
/// function of its seed, so how the seeds are shared out cannot change any result.
fn failing_seeds(scenario: &Scenario) -> Vec<Failure> {
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= scenario.seeds {
                    break;
                }
                let config = scenario.config(seed).expect("the configuration of a loaded scenario is valid");
                let outcome = run_scenario(scenario, &config, &RunOptions::default());
                if outcome.verdict != Verdict::Pass {
                    let failure = Failure { seed, verdict: outcome.verdict, reason: outcome.reason };
                    failures.lock().expect("no thread panicked holding the lock").push(failure);
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("no thread panicked holding the lock");
    failures.sort_by_key(|f| f.seed);
    failures
}

fn describe(scenario: &Scenario, path: &Path, f: &Failure) -> String {
    format!(
        "{} seed {}: {} ({})\n  replay: cargo run --release -- run --scenario scenarios/{} --seed {}",
        scenario.name,
        f.seed,
        f.verdict,
        f.reason,
        path.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
        f.seed
    )
}

#[test]
fn every_scenario_file_loads_and_passes_on_each_of_its_seeds() {
    let files = scenario_files();
    assert!(files.len() >= 35, "only {} scenario files", files.len());
    let mut report = Vec::new();
    for path in &files {
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        if scenario.known_finding.is_some() {
            continue; // expected to fail: see the next test
        }
        assert!(scenario.seeds >= 100, "{}: runs {} seeds, fewer than 100", scenario.source, scenario.seeds);
        let started = std::time::Instant::now();
        let failures = failing_seeds(&scenario);
        println!("{}: {} seeds in {:.1?}", scenario.name, scenario.seeds, started.elapsed());
        report.extend(failures.iter().map(|f| describe(&scenario, path, f)));
    }
    assert!(report.is_empty(), "failing seeds:\n{}", report.join("\n"));
}

#[test]
fn every_known_finding_still_fails_as_recorded_and_only_on_its_implementation() {
    // A scenario marked `known_finding` records a behaviour of the implementation it runs that
    // the harness flags: if it stops failing so, the finding (or the harness) changed.
    let mut findings = 0;
    for path in scenario_files() {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let Some(finding) = &scenario.known_finding else { continue };
        findings += 1;
        for &seed in &finding.seeds {
            let config = scenario.config(seed).expect("the configuration of a loaded scenario is valid");
            let outcome = run_scenario(&scenario, &config, &RunOptions::default());
            assert_eq!(
                outcome.verdict, finding.verdict,
                "{} seed {seed}: the known finding no longer shows ({})",
                scenario.source, outcome.reason
            );
            // raft-core, on the same scenario and seed, is not held to the finding.
            let mut core = config.clone();
            core.implementation = simulator::config::Implementation::RaftCore;
            if core.implementation != config.implementation {
                let outcome = run_scenario(&scenario, &core, &RunOptions::default());
                assert_eq!(
                    outcome.verdict,
                    Verdict::Pass,
                    "{} seed {seed} on raft-core: {}",
                    scenario.source,
                    outcome.reason
                );
            }
        }
    }
    assert!(findings >= 1, "no scenario records a known finding");
}

#[test]
fn every_lab_port_names_the_test_it_ports() {
    for path in scenario_files() {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if scenario.name.starts_with("lab-") {
            let file = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
            assert_eq!(scenario.name, file, "{}: the name is the file's", scenario.source);
            assert!(
                scenario.description.contains("Ports ") && scenario.description.contains("(Test"),
                "{}: the description names the lab test it ports",
                scenario.source
            );
        }
    }
}

fn run_text(text: &str, seed: u64) -> simulator::Outcome {
    let scenario = Scenario::parse(text, "inline.json").unwrap_or_else(|e| panic!("{e}"));
    let config = scenario.config(seed).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, &config, &RunOptions::default())
}

#[test]
fn an_expectation_that_cannot_hold_gives_the_verdict_expectation_naming_the_step() {
    let cases = [
        (
            r#"[{"when": "leader", "within": "5s"}, {"expect": {"leader": false}}]"#,
            "schedule[1]: expected no leader",
        ),
        (
            r#"[{"do": "mark", "name": "m"}, {"when": "leader", "within": "5s", "expect": {"since": "m", "messages_at_most": 0}}]"#,
            "schedule[1]: ",
        ),
        (
            r#"[{"when": "leader", "within": "5s"}, {"do": "submit", "ops": 5, "expect": {"no_commit_for": "1s"}}]"#,
            "schedule[1]: ",
        ),
        (
            r#"[{"do": "isolate", "node": "all"}, {"when": "leader", "within": "2s"}]"#,
            "schedule[1]: waited 2000ms for a leader",
        ),
        (
            r#"[{"when": "leader", "within": "5s"}, {"do": "submit", "ops": 3}, {"when": "idle", "expect": {"raft_state_bytes_at_most": 60}}]"#,
            "schedule[2]: n",
        ),
        (
            r#"[{"when": "leader", "within": "5s"}, {"expect": {"snapshots_installed_at_least": 1}}]"#,
            "schedule[1]: expected at least 1 snapshots installed, found 0",
        ),
    ];
    for (schedule, reason) in cases {
        let text = format!(
            r#"{{"name": "impossible", "description": "d", "config": {{"cluster": {{"nodes": 3}}, "workload": {{"clients": 2, "ops": 0}}}}, "schedule": {schedule}}}"#
        );
        let outcome = run_text(&text, 1);
        assert_eq!(outcome.verdict, Verdict::Expectation, "{schedule}: {}", outcome.reason);
        assert!(
            outcome.reason.starts_with(reason),
            "{schedule}: the reason {:?} names the step",
            outcome.reason
        );
    }
}

#[test]
fn the_same_scenario_seed_gives_the_same_trace_hash() {
    for file in ["lab-persist-unreliable-churn.json", "lab-kv-persist-partition-unreliable.json"] {
        let scenario = Scenario::load(&scenarios_dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
        let config = scenario.config(7).expect("valid");
        let a = run_scenario(&scenario, &config, &RunOptions::default());
        let b = run_scenario(&scenario, &config, &RunOptions::default());
        assert_eq!(a.summary.trace_hash, b.summary.trace_hash, "{file} ran two different ways");
        assert_eq!(a.summary.events, b.summary.events);
        let other = run_scenario(&scenario, &scenario.config(8).expect("valid"), &RunOptions::default());
        assert_ne!(a.summary.trace_hash, other.summary.trace_hash, "{file}: seeds 7 and 8 ran alike");
    }
}

/// Writes `text` to a fresh file and runs the binary on it; returns the exit code and stderr.
fn raftsim_on(name: &str, text: &str) -> (Option<i32>, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("raftsim-scenarios-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a temporary file");
    let output = Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(["run", "--seed", "1", "--scenario"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned(), path)
}

#[test]
fn a_malformed_scenario_file_exits_with_code_2_naming_the_file_and_the_field() {
    let cases = [
        (
            "unknown-field.json",
            r#"{"name": "x", "description": "d", "schedule": [{"do": "heal", "nodez": 1}]}"#,
            "schedule[0]",
            "nodez",
        ),
        (
            "bad-node.json",
            r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 3}}, "schedule": [{"do": "crash", "node": 5}]}"#,
            "schedule[0].node",
            "node 5 does not exist",
        ),
        (
            "bad-duration.json",
            r#"{"name": "x", "description": "d", "schedule": [{"after": "soon"}]}"#,
            "schedule[0].after",
            "",
        ),
        (
            "bad-config-duration.json",
            r#"{"name": "x", "description": "d", "config": {"workload": {"think_ns_max": "5 parsecs"}}}"#,
            "config.workload.think_ns_max",
            "",
        ),
        (
            "unknown-snapshot-field.json",
            r#"{"name": "x", "description": "d", "config": {"snapshot": {"every": 10}}}"#,
            "config.snapshot.every",
            "unknown field",
        ),
        (
            "bad-snapshot-bound.json",
            r#"{"name": "x", "description": "d", "config": {"snapshot": {"raft_state_bytes_max": 10}}}"#,
            "snapshot.raft_state_bytes_max",
            "at least 64 bytes",
        ),
        (
            "syntax.json",
            "{\"name\": \"x\",\n  \"description\": \"d\",\n  \"schedule\": [}",
            "line 3",
            "not valid JSON",
        ),
    ];
    for (name, text, field, what) in cases {
        let (code, stderr, path) = raftsim_on(name, text);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{name}: the message names the file: {stderr}");
        assert!(stderr.contains(field), "{name}: the message names {field}: {stderr}");
        assert!(stderr.contains(what), "{name}: the message says {what}: {stderr}");
    }
}
