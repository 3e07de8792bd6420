//! A world copied in the middle of a run goes on exactly as the original: both finish with the
//! trace hash, the verdict and the figures of the seed's ordinary run (`World::try_clone`, used
//! by runs that fork at an event instead of replaying the prefix from the seed).

use std::path::Path;

use simulator::branch::BranchPath;
use simulator::config::Implementation;
use simulator::run::{run_scenario_with_clone_at, run_with_clone_at};
use simulator::selftest::Base;
use simulator::{run, run_scenario, Outcome, RunOptions, Scenario, SimConfig, Verdict};

/// A summary as JSON without its wall-clock figures, which are the only ones allowed to differ.
fn figures(outcome: &Outcome) -> serde_json::Value {
    let mut v = serde_json::to_value(&outcome.summary).expect("a summary serializes");
    let map = v.as_object_mut().expect("a summary is an object");
    map.remove("wall_ms");
    if let Some(check) = map.get_mut("linearizability").and_then(serde_json::Value::as_object_mut) {
        check.remove("ms");
    }
    v
}

/// Asserts that `a` is the same run as `fresh`: hash, verdict, reason, every per-event hash and
/// every figure.
fn assert_same_run(label: &str, fresh: &Outcome, a: &Outcome) {
    assert_eq!(a.summary.trace_hash, fresh.summary.trace_hash, "{label}: trace hash");
    assert_eq!(a.verdict, fresh.verdict, "{label}: verdict ({} / {})", a.reason, fresh.reason);
    assert_eq!(a.reason, fresh.reason, "{label}: reason");
    assert_eq!(a.summary.events, fresh.summary.events, "{label}: events");
    assert!(a.checkpoints == fresh.checkpoints, "{label}: the per-event hashes differ");
    assert!(a.trace_lines == fresh.trace_lines, "{label}: the trace lines differ");
    assert_eq!(a.history, fresh.history, "{label}: history");
    let (ours, theirs) = (figures(a), figures(fresh));
    for (key, value) in ours.as_object().into_iter().flatten() {
        assert_eq!(Some(value), theirs.get(key), "{label}: the summary's {key}");
    }
    assert_eq!(ours.as_object().map(|o| o.len()), theirs.as_object().map(|o| o.len()), "{label}: keys");
}

/// Copies the run of `config` at a few events (the start, a third, two thirds, the last event
/// and past the end) and checks the original and the copy against the ordinary run.
fn check_copies(label: &str, config: &SimConfig, options: &RunOptions) -> Outcome {
    let fresh = run(config, options);
    let events = fresh.summary.events;
    assert!(events > 100, "{label}: a run of {events} events is too short to copy in the middle");
    for at in [0, 1, events / 3, events * 2 / 3, events - 1, events, events + 10] {
        let (original, copy) = run_with_clone_at(config, options, at).expect("raft-core copies itself");
        assert_same_run(&format!("{label}, original copied at event {at}"), &fresh, &original);
        assert_same_run(&format!("{label}, copy made at event {at}"), &fresh, &copy);
    }
    fresh
}

#[test]
fn a_swarm_world_copied_mid_run_finishes_exactly_as_the_original_and_a_fresh_run() {
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    let mut verdicts = std::collections::BTreeMap::new();
    for seed in 0..20 {
        let fresh = check_copies(&format!("swarm seed {seed}"), &SimConfig::swarm(seed), &options);
        *verdicts.entry(fresh.verdict.name()).or_insert(0) += 1;
    }
    assert!(verdicts.get("pass").copied().unwrap_or(0) > 10, "mostly passing seeds: {verdicts:?}");
}

#[test]
fn a_crash_heavy_world_copied_mid_run_finishes_exactly_as_the_original() {
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    for seed in 0..5 {
        let config = Base::Crashes.config(seed);
        let fresh = check_copies(&format!("crashes seed {seed}"), &config, &options);
        assert!(fresh.summary.faults.crashes > 0, "crashes seed {seed} crashed nothing");
    }
}

#[test]
fn a_copy_keeps_the_trace_lines_and_the_recorded_faults() {
    let options = RunOptions { trace_lines: true, record_faults: true, ..RunOptions::default() };
    let config = SimConfig::swarm(3);
    let fresh = run(&config, &options);
    let at = fresh.summary.events / 2;
    let (original, copy) = run_with_clone_at(&config, &options, at).expect("raft-core copies itself");
    assert!(!fresh.trace_lines.is_empty());
    for (label, outcome) in [("original", &original), ("copy", &copy)] {
        assert_same_run(label, &fresh, outcome);
        assert_eq!(outcome.end.realized, fresh.end.realized, "{label}: recorded faults");
    }
}

#[test]
fn a_failing_run_copied_before_its_failure_fails_the_same_way_in_both() {
    // A planted bug: the copy must carry the run to the same failure at the same event.
    let mut found = None;
    for seed in 0..40 {
        let mut config = SimConfig::swarm(seed);
        config.bugs = vec!["vote-without-log-check".into()];
        let fresh = run(&config, &RunOptions::default());
        if fresh.verdict.is_failure() {
            found = Some((config, fresh));
            break;
        }
    }
    let (config, fresh) = found.expect("vote-without-log-check is caught within 40 swarm seeds");
    let failed_at = fresh.failure.as_ref().map_or(fresh.summary.events, |f| f.event);
    for at in [failed_at / 2, failed_at.saturating_sub(1)] {
        let (original, copy) =
            run_with_clone_at(&config, &RunOptions::default(), at).expect("raft-core copies itself");
        assert_same_run(&format!("seed {} copied at {at}", config.seed), &fresh, &original);
        assert_same_run(&format!("seed {} copy made at {at}", config.seed), &fresh, &copy);
        assert_eq!(
            copy.failure.as_ref().map(|f| (f.check.clone(), f.event)),
            fresh.failure.as_ref().map(|f| (f.check.clone(), f.event))
        );
    }
}

#[test]
fn a_run_that_spends_its_event_budget_is_copied_before_and_inside_its_overrun_window() {
    // A fixed budget: the run overruns at event 5,000 and then watches a window of events.
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    let mut config = SimConfig::swarm(1).classic();
    config.max_events = Some(5_000);
    let fresh = check_copies("swarm seed 1 with a budget of 5,000 events", &config, &options);
    assert_eq!(fresh.verdict, Verdict::Liveness, "{}", fresh.reason);
    let overrun_at = fresh.failure.as_ref().map(|f| (f.check.clone(), f.event));
    assert_eq!(overrun_at.as_ref().map(|(c, _)| c.as_str()), Some("event-budget"));
    let overrun_at = overrun_at.map_or(0, |(_, e)| e);
    assert!(fresh.summary.events > overrun_at + 10, "the window after the overrun is copied into");
    for at in [overrun_at, overrun_at + 1, overrun_at + (fresh.summary.events - overrun_at) / 2] {
        let (original, copy) = run_with_clone_at(&config, &options, at).expect("raft-core copies itself");
        assert_same_run(&format!("original copied at {at}"), &fresh, &original);
        assert_same_run(&format!("copy made at {at}"), &fresh, &copy);
    }
}

#[test]
fn a_branch_copied_before_at_and_after_its_fork_finishes_exactly_as_the_branch() {
    // The fork is taken by the run that goes on: a copy made at the fork event forks as the
    // original does, and one made after it keeps the forked streams.
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    for seed in [2, 7] {
        let root = run(&SimConfig::swarm(seed), &options);
        let fork_at = root.summary.events / 3;
        let mut config = SimConfig::swarm(seed);
        config.branch = BranchPath::root().then(fork_at, 2).then(fork_at + 500, 1);
        let fresh = run(&config, &options);
        assert_ne!(fresh.summary.trace_hash, root.summary.trace_hash, "seed {seed}: the branch forked");
        assert_eq!(fresh.summary.forks_taken, 2);
        for at in [fork_at - 1, fork_at, fork_at + 1, fork_at + 500, fork_at + 700] {
            let (original, copy) = run_with_clone_at(&config, &options, at).expect("raft-core copies itself");
            assert_same_run(&format!("seed {seed} branch original at {at}"), &fresh, &original);
            assert_same_run(&format!("seed {seed} branch copy at {at}"), &fresh, &copy);
        }
    }
}

#[test]
fn a_scenario_run_copied_mid_schedule_finishes_exactly_as_the_original() {
    // The schedule's runtime state (its step, its saved values and marks) is copied with it.
    let options = RunOptions { checkpoints: true, ..RunOptions::default() };
    for name in
        ["membership-remove-leader.json", "storage-damage-and-repair.json", "lab-persist-figure8.json"]
    {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
        let scenario = Scenario::load(&path).expect("the scenario loads");
        for seed in 0..2 {
            let config = scenario.config(seed).expect("config");
            let fresh = run_scenario(&scenario, &config, &options);
            assert_eq!(fresh.verdict, Verdict::Pass, "{name} seed {seed}: {}", fresh.reason);
            for at in [fresh.summary.events / 4, fresh.summary.events / 2, fresh.summary.events * 9 / 10] {
                let (original, copy) = run_scenario_with_clone_at(&scenario, &config, &options, at)
                    .expect("raft-core copies itself");
                assert_same_run(&format!("{name} seed {seed} original at {at}"), &fresh, &original);
                assert_same_run(&format!("{name} seed {seed} copy at {at}"), &fresh, &copy);
            }
        }
    }
}

#[test]
fn raft_rs_cannot_copy_itself_so_no_copy_is_made() {
    let mut config = SimConfig::swarm(1);
    config.set_implementation(Implementation::RaftRs);
    assert!(run_with_clone_at(&config, &RunOptions::default(), 500).is_none());
}

/// The branches `raftsim run --seed N --branch PATH` would run, one per fork at one event.
fn branches_at(event: u64, forks: u32, horizon_ns: Option<u64>) -> Vec<BranchPath> {
    (1..=forks).map(|f| BranchPath::root().then(event, f).with_horizon(horizon_ns)).collect()
}

/// Runs the branches off one shared prefix and checks each against its ordinary run, and what
/// each was charged: the first at each moment what the prefix ran since the moment before
/// (from the start, for the first) and what followed its fork, the others only what followed
/// the fork, each with the cost of its copy.
fn check_shared_prefix(
    label: &str,
    config: &SimConfig,
    scenario: Option<&Scenario>,
    branches: &[BranchPath],
) {
    let options = RunOptions::default();
    let shared = simulator::run::run_branches(config, scenario, branches, &options);
    assert_eq!(shared.len(), branches.len(), "{label}: one outcome per branch");
    let mut before = None;
    for ((outcome, cost), branch) in shared.iter().zip(branches) {
        let fork = branch.forks().last().map_or(0, |f| f.event);
        let mut c = config.clone();
        c.branch = branch.clone();
        let alone = match scenario {
            Some(s) => run_scenario(s, &c, &options),
            None => run(&c, &options),
        };
        assert_same_run(&format!("{label}, branch {branch}"), &alone, outcome);
        let prefix = match before {
            Some(previous) if previous == fork => 0,
            Some(previous) => fork - previous,
            None => fork,
        };
        before = Some(fork);
        let expected = alone.summary.events - fork + prefix + simulator::run::branch_copy_cost(fork);
        assert_eq!(*cost, expected, "{label}, branch {branch}: events charged");
    }
}

#[test]
fn branches_run_off_one_shared_prefix_end_exactly_as_each_branch_run_alone() {
    let mut cut = 0;
    for seed in 0..12 {
        let config = SimConfig::swarm(seed);
        let events = run(&config, &RunOptions::default()).summary.events;
        for (event, horizon) in
            [(events / 4, Some(300_000_000)), (events / 2, None), (events / 3, Some(50_000_000))]
        {
            let branches = branches_at(event, 3, horizon);
            check_shared_prefix(&format!("swarm seed {seed} at {event}"), &config, None, &branches);
            cut += usize::from(horizon.is_some());
        }
    }
    assert!(cut >= 24);
    // The crash-heavy base, with a planted bug that some of its branches catch.
    for seed in 0..6 {
        let mut config = Base::Crashes.config(seed);
        config.bugs = vec!["stale-leader-read".into()];
        let events = run(&config, &RunOptions::default()).summary.events;
        check_shared_prefix(
            &format!("crashes seed {seed}"),
            &config,
            None,
            &branches_at(events / 5, 8, Some(300_000_000)),
        );
    }
}

#[test]
fn branches_forked_at_several_moments_of_one_run_share_one_walk_of_its_prefix() {
    for seed in 0..8 {
        let config = SimConfig::swarm(seed);
        let events = run(&config, &RunOptions::default()).summary.events;
        let mut branches = branches_at(events / 5, 2, Some(50_000_000));
        branches.extend(branches_at(events / 3, 3, Some(20_000_000)));
        branches.extend(branches_at(events / 2, 1, None));
        check_shared_prefix(&format!("swarm seed {seed}, three moments"), &config, None, &branches);
    }
    // A branch of a branch forks off another run: it runs alone, from the start.
    let config = SimConfig::swarm(2);
    let events = run(&config, &RunOptions::default()).summary.events;
    let mixed =
        [BranchPath::root().then(events / 4, 1), BranchPath::root().then(events / 4, 1).then(events / 2, 1)];
    let shared = simulator::run::run_branches(&config, None, &mixed, &RunOptions::default());
    for ((outcome, cost), branch) in shared.iter().zip(&mixed) {
        let mut c = config.clone();
        c.branch = branch.clone();
        let alone = run(&c, &RunOptions::default());
        assert_same_run(&format!("mixed, branch {branch}"), &alone, outcome);
        assert_eq!(*cost, alone.summary.events, "a branch run from the start costs its whole run");
    }
}

#[test]
fn a_branch_cut_by_its_horizon_skips_the_liveness_phase_and_says_when() {
    let config = SimConfig::swarm(3);
    let full = run(&config, &RunOptions::default());
    let mut c = config.clone();
    c.branch = "2000.1+300ms".parse().expect("a branch");
    let cut = run(&c, &RunOptions::default());
    let end = cut.summary.horizon_ended_ns.expect("the horizon ended the run");
    assert!(cut.summary.events < full.summary.events / 2, "{} events", cut.summary.events);
    assert!(cut.summary.sim_time_ns <= end + 1, "nothing ran past the horizon");
    assert_eq!(cut.verdict, Verdict::Pass, "{}", cut.reason);
    // The same branch without a horizon shares every event up to the cut.
    let with_hashes = RunOptions { checkpoints: true, ..RunOptions::default() };
    let cut = run(&c, &with_hashes);
    c.branch = "2000.1".parse().expect("a branch");
    let whole = run(&c, &with_hashes);
    assert!(whole.summary.horizon_ended_ns.is_none());
    assert!(cut.checkpoints.len() < whole.checkpoints.len());
    assert!(whole.checkpoints.starts_with(&cut.checkpoints), "the cut run is a prefix of the whole one");
}

#[test]
fn scenario_branches_and_implementations_that_cannot_copy_still_run_each_branch_exactly() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/lease-ignores-drift-window.json");
    let scenario = Scenario::load(&path).expect("the scenario loads");
    let config = scenario.config(2).expect("its configuration");
    let events = run_scenario(&scenario, &config, &RunOptions::default()).summary.events;
    check_shared_prefix("scenario", &config, Some(&scenario), &branches_at(events / 3, 4, Some(200_000_000)));
    let mut rs = SimConfig::swarm(5);
    rs.set_implementation(Implementation::RaftRs);
    let events = run(&rs, &RunOptions::default()).summary.events;
    let branches = branches_at(events / 3, 2, Some(300_000_000));
    let shared = simulator::run::run_branches(&rs, None, &branches, &RunOptions::default());
    // raft-rs replays each branch from the start: each is charged its whole run.
    for ((outcome, cost), _) in shared.iter().zip(&branches) {
        assert_eq!(*cost, outcome.summary.events);
    }
}

/// Runs a root with `rides` branches at the end of its fault phase and checks the root and each
/// branch against its ordinary run and what each was charged; returns how many branches ran.
fn check_rides(label: &str, config: &SimConfig, rides: u32, options: &RunOptions) -> usize {
    let out = simulator::run::run_with_rides(config, None, rides, options);
    let alone = run(config, options);
    let (root, cost) = &out[0];
    assert_same_run(&format!("{label}: the root"), &alone, root);
    assert_eq!(*cost, alone.summary.events, "{label}: the root costs its run");
    let core = "liveness: only a core healed";
    let core_only = alone.summary.points.iter().any(|p| p.point == core);
    let end = alone.summary.fault_phase_events;
    if !core_only || end.is_none() {
        assert_eq!(out.len(), 1, "{label}: no branch where the whole cluster healed");
        return 0;
    }
    let end = end.unwrap_or(0);
    assert_eq!(out.len(), 1 + rides as usize, "{label}: every branch asked for");
    let mut liveness_draws = std::collections::BTreeSet::new();
    for (k, (outcome, cost)) in out.iter().enumerate().skip(1) {
        let branch = BranchPath::root().then(end, k as u32);
        assert_eq!(outcome.end.config.branch, branch, "{label}: the branch's path");
        let mut c = config.clone();
        c.branch = branch.clone();
        let fresh = run(&c, options);
        assert_same_run(&format!("{label}, branch {branch}"), &fresh, outcome);
        let copied = !options.checkpoints && !options.trace_lines;
        let expected = if copied {
            fresh.summary.events - end + simulator::run::branch_copy_cost(end)
        } else {
            fresh.summary.events
        };
        assert_eq!(*cost, expected, "{label}, branch {branch}: events charged");
        liveness_draws.insert(outcome.summary.trace_hash.clone());
    }
    assert!(liveness_draws.len() > 1, "{label}: the branches draw their liveness phases anew");
    rides as usize
}

#[test]
fn liveness_branches_forked_as_their_root_goes_end_exactly_as_each_run_alone() {
    let options = RunOptions::default();
    let (mut rode, mut whole) = (0, 0);
    for seed in 0..24 {
        let n = check_rides(&format!("swarm seed {seed}"), &SimConfig::swarm(seed), 3, &options);
        rode += n;
        whole += usize::from(n == 0);
    }
    assert!(rode >= 9 && whole >= 3, "{rode} branches, {whole} roots that healed the whole cluster");
    // A liveness bug that some of the branches catch: each replays as it failed.
    let mut caught = 0;
    for seed in 0..40 {
        let mut config = SimConfig::swarm(seed);
        config.bugs = vec!["active-on-send".into()];
        let out = simulator::run::run_with_rides(&config, None, 4, &options);
        if out.len() > 1 {
            check_rides(&format!("active-on-send, seed {seed}"), &config, 4, &options);
        }
        caught += out.iter().skip(1).filter(|(o, _)| o.verdict == Verdict::Liveness).count();
    }
    assert!(caught > 0, "no branch caught active-on-send");
    // With checkpoints no copy is made: the branches run from the start.
    let with_hashes = RunOptions { checkpoints: true, ..RunOptions::default() };
    let mut rode = 0;
    for seed in 0..8 {
        rode +=
            check_rides(&format!("seed {seed} with checkpoints"), &SimConfig::swarm(seed), 2, &with_hashes);
    }
    assert!(rode > 0);
    // Asked for none, it is the root alone.
    assert_eq!(simulator::run::run_with_rides(&SimConfig::swarm(1), None, 0, &options).len(), 1);
}

#[test]
fn raft_rs_liveness_branches_run_from_the_start() {
    let options = RunOptions::default();
    let mut rode = 0;
    for seed in 0..16 {
        let mut config = SimConfig::swarm(seed);
        config.set_implementation(Implementation::RaftRs);
        let out = simulator::run::run_with_rides(&config, None, 2, &options);
        for (outcome, cost) in out.iter().skip(1) {
            assert_eq!(
                *cost, outcome.summary.events,
                "seed {seed}: a branch run from the start costs its run"
            );
            let mut c = config.clone();
            c.branch = outcome.end.config.branch.clone();
            assert_same_run(&format!("raft-rs seed {seed}"), &run(&c, &options), outcome);
            rode += 1;
        }
    }
    assert!(rode > 0, "no raft-rs seed healed only a core");
}
