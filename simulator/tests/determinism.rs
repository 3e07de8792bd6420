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
    // Turning the workload's key count up must not reshuffle the swarm's fault choices. Storage
    // faults are left out: a failed fsync is drawn per fsync, and the number of fsyncs follows
    // the workload (its crashes then shift the nemesis's, which skips nodes already down).
    let mut base = SimConfig::swarm(21);
    base.faults.storage = None;
    let mut more_keys = base.clone();
    more_keys.workload.keys += 3;
    assert_eq!(base.faults, more_keys.faults);
    let a = run(&base, &RunOptions::default());
    let b = run(&more_keys, &RunOptions::default());
    assert_eq!(a.summary.faults.crashes, b.summary.faults.crashes, "crash times come from their own stream");
}

#[test]
fn a_branch_follows_its_seed_up_to_the_fork_and_is_itself_reproducible() {
    use simulator::branch::BranchPath;
    let root = SimConfig::swarm(3);
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    let seed_run = run(&root, &options);
    let fork_at = 5_000;
    let branch = |path: BranchPath| {
        let mut c = root.clone();
        c.branch = path;
        run(&c, &options)
    };
    let one = branch(BranchPath::root().then(fork_at, 1));
    let again = branch(BranchPath::root().then(fork_at, 1));
    let two = branch(BranchPath::root().then(fork_at, 2));
    assert_eq!(one.summary.trace_hash, again.summary.trace_hash, "a branch replays exactly");
    assert_eq!(one.summary.forks_taken, 1);
    // Up to the fork, every branch is the seed's run; from the fork on, each goes its own way.
    let before = fork_at as usize;
    assert_eq!(one.checkpoints[..before], seed_run.checkpoints[..before]);
    assert_eq!(two.checkpoints[..before], seed_run.checkpoints[..before]);
    assert_eq!(first_divergence(&seed_run.checkpoints, &one.checkpoints), Some(before));
    assert_ne!(one.summary.trace_hash, two.summary.trace_hash);
    // A fork past the end of the run is never taken: the run is the seed's.
    let late = branch(BranchPath::root().then(u64::MAX, 1));
    assert_eq!(late.summary.trace_hash, seed_run.summary.trace_hash);
    assert_eq!(late.summary.forks_taken, 0);
}
