//! One seed, one run: the trace hash is a function of the seed and the options alone.

use simulator::determinism::first_divergence;
use simulator::{run, RunOptions, SimConfig};

#[test]
fn the_same_seed_gives_the_same_trace_hash_and_different_seeds_differ() {
    let mut hashes = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let config = SimConfig::swarm(seed);
        let a = run(&config, &RunOptions::default());
        let b = run(&config, &RunOptions::default());
        assert_eq!(a.summary.trace_hash, b.summary.trace_hash, "seed {seed} ran two different ways");
        assert_eq!(a.summary.events, b.summary.events);
        assert_eq!(a.verdict, b.verdict);
        hashes.insert(a.summary.trace_hash);
    }
    assert_eq!(hashes.len(), 40, "two seeds produced the same trace");
}

#[test]
fn keeping_a_trace_or_checkpoints_does_not_change_the_run() {
    let config = SimConfig::swarm(11);
    let plain = run(&config, &RunOptions::default());
    let traced = run(&config, &RunOptions { trace_lines: true, checkpoints: true, ..RunOptions::default() });
    assert_eq!(plain.summary.trace_hash, traced.summary.trace_hash);
    assert_eq!(traced.checkpoints.len() as u64, traced.summary.events);
    assert!(traced.trace_lines.lines().count() as u64 > traced.summary.events / 2);
    for line in traced.trace_lines.lines().take(500) {
        let v: serde_json::Value = serde_json::from_str(line).expect("every trace line is JSON");
        assert!(v["t"].is_u64() && v["ev"].is_string(), "{line}");
    }
}

#[test]
fn a_changed_run_is_found_at_the_first_event_where_the_runs_part_ways() {
    // Two runs whose clients pace themselves differently agree until the first paced call:
    // the comparison must name that event, not merely say that the runs differ.
    let mut config = SimConfig::calm(5);
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    let a = run(&config, &options);
    config.duration_ns /= 2;
    let b = run(&config, &options);
    let at = first_divergence(&a.checkpoints, &b.checkpoints).expect("the runs differ");
    assert!(at > 100, "they share the start of the run, diverged at {at}");
    assert_eq!(a.checkpoints[..at], b.checkpoints[..at]);
    assert_ne!(a.checkpoints[at], b.checkpoints[at]);
}

#[test]
fn a_component_stream_is_independent_of_the_others() {
    // Turning the workload's key count up must not reshuffle the swarm's fault choices.
    let base = SimConfig::swarm(21);
    let mut more_keys = base.clone();
    more_keys.workload.keys += 3;
    assert_eq!(base.faults, more_keys.faults);
    let a = run(&base, &RunOptions::default());
    let b = run(&more_keys, &RunOptions::default());
    assert_eq!(a.summary.faults.crashes, b.summary.faults.crashes, "crash times come from their own stream");
}
