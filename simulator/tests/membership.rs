//! Membership changes, leadership transfers and reads without the log in the simulator: swarm
//! runs that use them pass and replay to the same trace; the planted bugs of those paths are
//! caught by a fitting check, over fitted swarm seeds or over seeds of the scenario that stages
//! them; the lease's drift bound is enforced.

use raft_core::Bug;
use simulator::config::{ReadPathName, SimConfig};
use simulator::selftest::hunt;
use simulator::{run, run_scenario, RunOptions, Scenario, Verdict};

#[test]
fn swarm_runs_with_membership_changes_and_off_log_reads_pass_and_replay_identically() {
    let (mut added, mut promoted, mut removed, mut leaders_removed, mut wiped) = (0, 0, 0, 0, 0);
    let (mut transfers, mut reads_index, mut reads_lease, mut runs) = (0, 0, 0, 0);
    for seed in 0..60 {
        let config = SimConfig::swarm(seed);
        if config.faults.membership.is_none() && config.cluster.read_path == ReadPathName::Log {
            continue;
        }
        runs += 1;
        let a = run(&config, &RunOptions::default());
        let b = run(&config, &RunOptions::default());
        assert_eq!(a.verdict, Verdict::Pass, "seed {seed}: {}", a.reason);
        assert_eq!(a.summary.trace_hash, b.summary.trace_hash, "seed {seed} ran two different ways");
        let m = &a.summary.membership;
        added += m.learners_added;
        promoted += m.learners_promoted;
        removed += m.servers_removed;
        leaders_removed += m.leaders_removed;
        wiped += m.wiped_and_readded;
        transfers += m.transfers_completed;
        match config.cluster.read_path {
            ReadPathName::ReadIndex => reads_index += m.reads_off_log,
            ReadPathName::Lease => reads_lease += m.reads_off_log,
            ReadPathName::Log => assert_eq!(m.reads_off_log, 0, "seed {seed} read off the log"),
        }
    }
    assert!(runs >= 30, "only {runs} of 60 swarm seeds use membership or off-log reads");
    // Every kind of operation happened somewhere (the figures are deterministic).
    for (what, n) in [
        ("learners added", added),
        ("learners promoted", promoted),
        ("servers removed", removed),
        ("leaders removing themselves", leaders_removed),
        ("wiped servers re-added", wiped),
        ("transfers completed", transfers),
        ("reads by ReadIndex", reads_index),
        ("reads under a lease", reads_lease),
    ] {
        assert!(n > 0, "no {what} in 60 swarm seeds");
    }
}

#[test]
fn a_read_before_the_leader_confirms_it_leads_is_caught_by_the_linearizability_check() {
    let h = hunt(Bug::ReadBeforeConfirm, 0, 300, 2);
    assert!(h.caught, "missed within 300 seeds");
    assert_eq!(h.check.as_deref(), Some("linearizability"), "{:?}", h.reason);
    assert!(h.replay.as_deref().is_some_and(|r| r.contains("read-before-confirm")));
}

#[test]
fn a_learner_that_votes_is_caught_counting_the_quorum_in_the_configuration() {
    let h = hunt(Bug::LearnerVotes, 0, 100, 2);
    assert!(h.caught, "missed within 100 seeds");
    let check = h.check.clone().unwrap_or_default();
    assert!(
        ["commit-without-majority", "election-safety"].contains(&check.as_str()),
        "caught by {check}: {:?}",
        h.reason
    );
}

#[test]
fn the_staged_bugs_are_caught_on_their_scenarios_by_a_fitting_check_and_replay_there() {
    for (bug, check) in
        [(Bug::ChangeBeforeOwnTermCommit, "leader-completeness"), (Bug::LeaseIgnoresDrift, "linearizability")]
    {
        let (path, _) = simulator::selftest::staging(bug).expect("a staging scenario");
        let h = hunt(bug, 0, 40, 2);
        assert!(h.caught, "{bug} missed within 40 seeds of {path}");
        assert_eq!(h.check.as_deref(), Some(check), "{bug}: {:?}", h.reason);
        let replay = h.replay.unwrap_or_default();
        assert!(replay.contains(&format!("--scenario {path}")) && replay.contains(bug.name()), "{replay}");
        // The same seed of the same scenario passes without the bug.
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        let scenario = Scenario::load(&file).expect("the staging scenario loads");
        let seed = h.seed.unwrap_or_default();
        let config = scenario.config(seed).expect("config");
        let outcome = run_scenario(&scenario, &config, &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "{path} seed {seed} without {bug}: {}", outcome.reason);
    }
}

#[test]
fn the_same_seeds_pass_without_the_bugs_on_the_fitted_configurations() {
    for bug in
        [Bug::ReadBeforeConfirm, Bug::LearnerVotes, Bug::LeaseIgnoresDrift, Bug::ChangeBeforeOwnTermCommit]
    {
        for seed in 0..10 {
            let mut config = SimConfig::swarm(seed);
            config.fit_for(bug);
            assert_eq!(config.validate(), Ok(()), "{bug} seed {seed}");
            let outcome = run(&config, &RunOptions::default());
            assert_eq!(
                outcome.verdict,
                Verdict::Pass,
                "{bug}'s configuration, seed {seed}: {}",
                outcome.reason
            );
        }
    }
}

#[test]
fn lease_reads_refuse_clocks_that_drift_past_the_bound() {
    let mut config = SimConfig::calm(1);
    config.cluster.read_path = ReadPathName::Lease;
    config.cluster.drift_ppm_max = raft_host::contract::CLOCK_DRIFT_PPM_MAX;
    assert_eq!(config.validate(), Ok(()), "drift at the bound is allowed");
    config.cluster.drift_ppm_max += 1;
    let err = config.validate().expect_err("past the bound");
    assert!(err.starts_with("cluster.drift_ppm_max:"), "{err}");
    config.cluster.read_path = ReadPathName::ReadIndex;
    assert_eq!(config.validate(), Ok(()), "ReadIndex does not rest on clocks");
}

#[test]
fn a_calm_cluster_answers_reads_by_each_path_off_the_log_only_when_asked() {
    for (path, off_log) in
        [(ReadPathName::Log, false), (ReadPathName::ReadIndex, true), (ReadPathName::Lease, true)]
    {
        let mut config = SimConfig::calm(3);
        config.cluster.read_path = path;
        let outcome = run(&config, &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "{path:?}: {}", outcome.reason);
        assert_eq!(outcome.summary.membership.reads_off_log > 0, off_log, "{path:?}");
    }
}
