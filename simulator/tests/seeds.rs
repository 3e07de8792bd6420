//! The default random configuration passes on many seeds, and runs do what they claim.

use simulator::{run, RunOptions, SimConfig, Verdict};

#[test]
fn two_hundred_seeds_of_the_default_configuration_pass() {
    let mut failures = Vec::new();
    let mut fired = [0u64; 6];
    for seed in 0..200 {
        let outcome = run(&SimConfig::swarm(seed), &RunOptions::default());
        if outcome.verdict != Verdict::Pass {
            failures.push(format!("seed {seed}: {} {}", outcome.verdict, outcome.reason));
        }
        let s = &outcome.summary;
        fired[0] += s.faults.crashes;
        fired[1] += s.faults.partitions.values().sum::<u64>();
        fired[2] += s.messages.dropped_loss;
        fired[3] += s.messages.duplicated;
        fired[4] += s.faults.torn_writes;
        fired[5] += s.faults.pauses;
        assert!(s.ops.ok > 0, "seed {seed} completed no operation");
    }
    assert!(failures.is_empty(), "failing seeds:\n{}", failures.join("\n"));
    assert!(fired.iter().all(|n| *n > 0), "some fault never fired in 200 seeds: {fired:?}");
}

#[test]
fn a_calm_run_has_one_election_and_completes_about_the_operations_it_was_asked_for() {
    let outcome = run(&SimConfig::calm(3), &RunOptions::default());
    let s = &outcome.summary;
    assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.reason);
    assert_eq!(s.leader_changes, 1, "a calm cluster keeps its first leader");
    assert_eq!(s.ops.ok, s.ops.issued);
    assert!(s.ops.issued >= 990, "only {} of 1000 operations issued", s.ops.issued);
    assert_eq!(s.messages.dropped_loss + s.messages.dropped_partition, 0);
    assert_eq!(s.faults.crashes, 0);
}

#[test]
fn every_call_in_the_history_is_ok_failed_or_unknown_and_well_ordered() {
    let outcome = run(&SimConfig::swarm(7), &RunOptions::default());
    let s = &outcome.summary;
    assert_eq!(outcome.history.len() as u64, s.ops.issued + 1, "the history holds every call and the probe");
    for call in &outcome.history {
        if let Some(ret) = call.return_ns {
            assert!(ret >= call.call_ns);
        }
    }
    let ok = outcome.history.iter().filter(|c| c.status == checker::Status::Ok).count() as u64;
    assert_eq!(ok, s.ops.ok + 1, "ok calls plus the probe");
}

/// Seeds that once failed with snapshots in the swarm, and what they exercise.
#[test]
fn seeds_that_found_gaps_in_the_snapshot_checks_pass() {
    let cases = [
        // An install's truncation of a conflicting log landed in a crash without its snapshot:
        // the entries it dropped were never committed.
        (3001, "a torn install"),
        (1782, "a torn install"),
        // A follower committed, then first wrote, entries held behind the cut of an install.
        (6001, "entries held behind a cut"),
        (6091, "entries held behind a cut"),
    ];
    for (seed, what) in cases {
        let outcome = run(&SimConfig::swarm(seed), &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed} ({what}): {}", outcome.reason);
        assert!(outcome.summary.snapshots.installed > 0, "seed {seed} installs snapshots");
    }
}

#[test]
fn a_wiped_follower_catches_up_within_the_liveness_bound_when_leaders_back_off_one_entry_at_a_time() {
    // Swarm draws whose leaders back off one entry per rejection: a follower whose log ended
    // hundreds of entries short (wiped, or down long) was probed one entry a round trip and
    // had not caught up when the liveness bound ran out. Probed at the end of its log at once,
    // it does.
    for seed in [1227, 1489, 3567, 5165, 5286] {
        let config = SimConfig::swarm(seed);
        assert_eq!(
            config.cluster.choices.backoff,
            simulator::config::BackoffChoice::OneAtATime,
            "seed {seed}"
        );
        let outcome = run(&config, &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed}: {}", outcome.reason);
    }
}

#[test]
fn servers_wiped_and_added_back_catch_up_though_answers_from_before_arrive_late() {
    // A server removed, wiped and added back as a learner: an acknowledgement it sent before
    // the wipe arrived after the leader added it back, and the leader, counting it to hold
    // those entries, probed it at the last of them forever. Each of these seeds failed the
    // liveness check (replicas did not catch up); answers now name their request, and the
    // leader ignores answers to requests it sent before it added the server back.
    for seed in [6704, 9185, 11444, 11617, 17054] {
        let outcome = run(&SimConfig::swarm(seed), &RunOptions::default());
        assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed}: {}", outcome.reason);
        assert!(
            outcome.summary.membership.wiped_and_readded > 0,
            "seed {seed} wipes a server and adds it back"
        );
    }
    // Failed the same way; now a late report of lost entries, older than an acknowledgement
    // the leader took, is ignored too, and the run takes another course without a wipe.
    let outcome = run(&SimConfig::swarm(16464), &RunOptions::default());
    assert_eq!(outcome.verdict, Verdict::Pass, "seed 16464: {}", outcome.reason);
}

#[test]
fn a_removed_server_that_keeps_campaigning_does_not_depose_the_leader_when_pre_vote_is_off() {
    // Pre-vote and check-quorum off: a server removed before it learned so kept campaigning,
    // and each vote request, for a higher term, deposed the leader, until the liveness bound ran
    // out (the probe command was not answered). Servers now disregard vote requests from outside
    // their configuration while they hear a leader.
    let config = SimConfig::swarm(4678);
    assert!(!config.cluster.pre_vote && !config.cluster.check_quorum, "the seed draws neither");
    let outcome = run(&config, &RunOptions::default());
    assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.reason);
    assert!(outcome.summary.membership.servers_removed > 0, "the seed removes a server");
    // The coverage catalogue sees the moments the rule is for.
    let point = simulator::coverage::Point::VoteFromOutsideWhileLeaderHeard;
    let hits = outcome.summary.points.iter().find(|h| h.point == point.name()).map_or(0, |h| h.hits);
    assert!(hits >= 2, "{} reached {hits} times", point.name());
}

#[test]
fn a_removed_server_cannot_depose_leaders_through_a_member_too_far_behind_to_know_of_the_removal() {
    // Check-quorum on, pre-vote off. n0, removed while cut off, kept campaigning after the
    // heal; n1, a member too far behind to hold the removal, still counted n0 a member and
    // granted its vote requests, took their higher terms and so deposed each new leader
    // before it could bring n1 up to date: no leader for the whole liveness bound. Such
    // configurations now use the sticky-leader rule (as etcd-raft ties it to check-quorum).
    let config = SimConfig::swarm(37011);
    assert!(config.cluster.check_quorum && !config.cluster.pre_vote, "the seed draws check-quorum alone");
    let outcome = run(&config, &RunOptions::default());
    assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.reason);
    assert!(outcome.summary.membership.servers_removed > 0, "the seed removes a server");
}
