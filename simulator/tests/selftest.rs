//! The harness proves it finds bugs: every planted bug is caught within a small budget of swarm
//! seeds, by a check that fits it.

use raft_core::Bug;
use simulator::selftest::hunt;

/// Seeds per bug. The medians measured over many trials are far smaller (see the notes of the
/// self-test issue); this budget keeps the suite quick while leaving room.
const BUDGET: u64 = 80;

#[test]
fn every_planted_bug_is_caught_within_a_small_budget() {
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let h = hunt(bug, 0, BUDGET, 2);
        if h.caught {
            let check = h.check.clone().unwrap_or_default();
            let fits = match bug {
                Bug::NoDeduplication | Bug::StaleLeaderRead => check == "linearizability",
                Bug::LeaderIgnoresHigherTerm => check == "election-safety",
                Bug::TruncateOnStaleAppend | Bug::InstallDiscardsLog => {
                    check == "truncation-without-conflict"
                }
                Bug::InstallStaleSnapshot | Bug::RestartAppliedZero => check == "apply-order",
                Bug::SnapshotWithoutSessions => check == "snapshot-mismatch",
                Bug::CutBeforeSnapshotDurable => check == "durable-regressed",
                Bug::ActiveOnSend => check == "liveness",
                Bug::TrustUnverifiedRecord => check == "unverified-data",
                Bug::VoteAfterLosingLog => check == "fenced-vote",
                _ => !check.is_empty(),
            };
            assert!(fits, "{bug} was caught by an unexpected check: {check} ({:?})", h.reason);
            assert!(
                h.replay.as_deref().is_some_and(|r| r.contains(bug.name())),
                "the replay command names the bug"
            );
        } else {
            missed.push(bug.name());
        }
    }
    assert!(missed.is_empty(), "missed within {BUDGET} seeds: {missed:?}");
}

#[test]
fn a_hunt_finds_the_same_first_seed_whatever_the_jobs() {
    let one = hunt(Bug::StaleLeaderRead, 0, 60, 1);
    let two = hunt(Bug::StaleLeaderRead, 0, 60, 2);
    assert_eq!(one.seed, two.seed);
    assert_eq!(one.check, two.check);
}

#[test]
fn without_a_bug_the_same_seeds_pass() {
    // The checks that catch the bugs above stay quiet on the correct protocol.
    for seed in 0..BUDGET {
        let outcome = simulator::run(&simulator::SimConfig::swarm(seed), &simulator::RunOptions::default());
        assert_eq!(outcome.verdict, simulator::Verdict::Pass, "seed {seed}: {}", outcome.reason);
    }
}
