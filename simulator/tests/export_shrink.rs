//! A run exported as a scenario replays the same run, and a failing run shrinks to a smaller
//! scenario that still fails the same way.

// `.classic()`: these figures are of the paths without membership changes and off-log reads
// (see `SimConfig::classic`); tests/membership.rs covers those.
use simulator::export::scenario_json;
use simulator::shrink::{fails_the_same_way, shrink, Failure, Size};
use simulator::{run, run_scenario, RunOptions, Scenario, SimConfig, Verdict};

fn recorded() -> RunOptions {
    RunOptions { record_faults: true, ..RunOptions::default() }
}

#[test]
fn an_exported_run_replays_with_the_same_trace_hash_and_verdict() {
    let mut with_faults = 0;
    for seed in 0..60 {
        let config = SimConfig::swarm(seed).classic();
        let original = run(&config, &recorded());
        let realized = original.end.realized.clone().unwrap_or_default();
        with_faults += usize::from(!realized.is_empty());
        let value = scenario_json("exported", "test", &config, &original.end);
        let scenario = Scenario::parse(&value.to_string(), "exported").expect("an exported run loads");
        let replayed =
            run_scenario(&scenario, &scenario.config(seed).expect("config"), &RunOptions::default());
        assert_eq!(replayed.summary.trace_hash, original.summary.trace_hash, "seed {seed}");
        assert_eq!(replayed.verdict, original.verdict, "seed {seed}");
    }
    assert!(with_faults > 30, "most seeds realize faults ({with_faults} of 60)");
}

#[test]
fn an_exported_run_with_membership_changes_replays_them() {
    // Swarm seeds with membership faults on: their operations (and the wipes they make) become
    // add-server / promote-server / remove-server / transfer-leader steps.
    let (mut with_membership, mut wiped) = (0, 0);
    for seed in 0..80 {
        let config = SimConfig::swarm(seed);
        if config.faults.membership.is_none() {
            continue;
        }
        let original = run(&config, &recorded());
        let value = scenario_json("exported", "test", &config, &original.end);
        let steps = value["schedule"].as_array().cloned().unwrap_or_default();
        let ops = |action: &str| steps.iter().filter(|s| s["do"] == action).count();
        if ops("add-server") + ops("remove-server") + ops("transfer-leader") > 0 {
            with_membership += 1;
        }
        wiped += steps.iter().filter(|s| s["wipe"] == true).count();
        let scenario = Scenario::parse(&value.to_string(), "exported").expect("an exported run loads");
        let replayed =
            run_scenario(&scenario, &scenario.config(seed).expect("config"), &RunOptions::default());
        assert_eq!(replayed.summary.trace_hash, original.summary.trace_hash, "seed {seed}");
        assert_eq!(replayed.verdict, original.verdict, "seed {seed}");
    }
    assert!(with_membership >= 10, "seeds whose export has membership steps: {with_membership}");
    assert!(wiped >= 1, "some export re-adds a wiped server");
}

#[test]
fn a_scenario_run_exported_replays_the_same_run() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/lab-kv-persist-partition.json");
    let scenario = Scenario::load(&path).expect("loads");
    for seed in 0..3 {
        let config = scenario.config(seed).expect("config");
        let original = run_scenario(&scenario, &config, &recorded());
        let realized = original.end.realized.clone().unwrap_or_default();
        assert!(!realized.is_empty(), "the schedule's faults are recorded");
        let value = scenario_json("exported", "test", &config, &original.end);
        let exported = Scenario::parse(&value.to_string(), "exported").expect("loads");
        let replayed =
            run_scenario(&exported, &exported.config(seed).expect("config"), &RunOptions::default());
        assert_eq!(replayed.summary.trace_hash, original.summary.trace_hash, "seed {seed}");
    }
}

#[test]
fn a_planted_bug_failure_shrinks_to_fewer_operations_and_faults_that_still_fail() {
    // The first seed where the bug fails a run that had faults.
    let (seed, config, outcome) = (0..200)
        .find_map(|seed| {
            let mut config = SimConfig::swarm(seed).classic();
            config.bugs = vec!["leader-ignores-higher-term".into()];
            let outcome = run(&config, &recorded());
            let faults = outcome.end.realized.as_ref().map_or(0, Vec::len);
            (outcome.verdict != Verdict::Pass && faults > 2).then_some((seed, config, outcome))
        })
        .expect("the bug fails some run with faults");
    let failure = Failure::of(&outcome);
    let exported = scenario_json("bug", "test", &config, &outcome.end);
    let shrunk = shrink(exported, seed, &failure, 300, &RunOptions::default())
        .expect("it fails the same way to begin with");
    assert!(shrunk.after.ops < shrunk.before.ops, "{:?} -> {:?}", shrunk.before, shrunk.after);
    assert!(shrunk.after.steps < shrunk.before.steps, "{:?} -> {:?}", shrunk.before, shrunk.after);
    assert_eq!(Size::of(&shrunk.scenario), shrunk.after);
    assert!(
        fails_the_same_way(&shrunk.scenario, seed, &failure, &RunOptions::default()),
        "the shrunk scenario still fails that way"
    );
    let scenario = Scenario::parse(&shrunk.scenario.to_string(), "shrunk").expect("a valid scenario file");
    let again = run_scenario(&scenario, &scenario.config(seed).expect("config"), &RunOptions::default());
    assert_eq!(again.verdict, failure.verdict);
    assert_eq!(again.failure.map(|f| f.check), failure.check);
}

#[test]
fn the_shrink_command_writes_a_scenario_that_fails() {
    let dir = std::env::temp_dir().join(format!("raftsim-shrink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("shrunk.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(["shrink", "--seed", "0", "--bug", "no-deduplication", "--json", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(status.status.code(), Some(0), "{}", String::from_utf8_lossy(&status.stderr));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(["run", "--seed", "0", "--no-report", "--json", "--scenario"])
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(1), "the shrunk scenario fails");
    let _ = std::fs::remove_dir_all(&dir);
}
