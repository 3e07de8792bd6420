//! The coverage catalogue: an ordinary sweep reaches every point that is not rare, the rare ones
//! are reached where they should be, a run's points are reproducible, and the sweep options that
//! use them behave the same on every machine.

// `.classic()`: these figures are of the paths without membership changes and off-log reads
// (see `SimConfig::classic`); tests/membership.rs covers those.
use std::process::{Command, Output};

use serde_json::Value;
use simulator::coverage::Point;
use simulator::{run, RunOptions, SimConfig};

fn raftsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raftsim")).args(args).output().expect("the binary runs")
}

fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn a_sweep_of_three_hundred_seeds_reaches_every_point_that_is_not_rare() {
    let out = raftsim(&["sweep", "--seeds", "0..300", "--require-coverage", "--json", "--max-reports", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = last_json(&out);
    let points = s["points"].as_object().expect("points");
    assert_eq!(points.len(), Point::ALL.len(), "every point is listed, reached or not");
    for p in Point::ALL.iter().filter(|p| !p.rare()) {
        let stats = &points[p.name()];
        assert!(stats["seeds"].as_u64().is_some_and(|n| n > 0), "{} never reached: {stats}", p.name());
        assert!(stats["first_seed"].as_u64().is_some(), "{}", p.name());
    }
}

#[test]
fn require_coverage_fails_a_sweep_too_short_to_reach_the_catalogue() {
    let out = raftsim(&["sweep", "--seeds", "0..2", "--require-coverage", "--max-reports", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("were never reached"));
}

#[test]
fn rare_points_are_reached_where_they_should_be() {
    let reached = |config: SimConfig, point: Point| {
        let outcome = run(&config, &RunOptions::default());
        outcome.summary.points.iter().any(|h| h.point == point.name())
    };
    let with_bug = |seed, bug: &str| {
        let mut c = SimConfig::swarm(seed).classic();
        c.bugs = vec![bug.to_string()];
        c
    };
    // `FaultOverflow` needs 200,000 messages in flight: the network's own tests fill it.
    assert!(
        (0..20).any(|s| reached(with_bug(s, "stale-leader-read"), Point::ReadServedFromState)),
        "a leader answering reads from its state is seen"
    );
    assert!(
        (0..200).any(|s| reached(SimConfig::swarm(s).classic(), Point::AllDown)),
        "every node down, within 200 seeds"
    );
}

#[test]
fn a_runs_points_and_their_first_events_are_the_same_every_time() {
    let a = run(&SimConfig::swarm(7), &RunOptions::default());
    let b = run(&SimConfig::swarm(7), &RunOptions::default());
    let points = |o: &simulator::Outcome| {
        o.summary.points.iter().map(|h| (h.point, h.hits, h.first_event)).collect::<Vec<_>>()
    };
    assert!(a.summary.points.len() > 10);
    assert_eq!(points(&a), points(&b));
    let out = raftsim(&["coverage", "--seed", "7", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = last_json(&out);
    assert_eq!(v["reached"].as_array().map(Vec::len), Some(a.summary.points.len()));
    assert_eq!(
        v["reached"].as_array().map(Vec::len).unwrap_or(0)
            + v["not_reached"].as_array().map(Vec::len).unwrap_or(0),
        Point::ALL.len()
    );
}

#[test]
fn stop_when_stale_stops_at_the_same_seed_whatever_the_jobs() {
    let sweep = |jobs: &str| {
        last_json(&raftsim(&[
            "sweep",
            "--seeds",
            "0..400",
            "--stop-when-stale",
            "30",
            "--jobs",
            jobs,
            "--json",
            "--max-reports",
            "0",
        ]))
    };
    let one = sweep("1");
    let two = sweep("2");
    assert!(one["seeds"].as_u64().is_some_and(|n| n < 400), "{}", one["seeds"]);
    assert_eq!(one["seeds"], two["seeds"]);
    assert_eq!(one["points"], two["points"]);
    assert!(one["stopped_early"].as_str().is_some_and(|s| s.contains("reached nothing new")));
}

#[test]
fn every_run_a_stale_read_or_a_late_snapshot_breaks_reached_its_hazard_first() {
    use raft_host::Bug;
    use simulator::selftest::Base;
    // A leader answering a read from its state can only be stale if its state lacks an entry
    // the cluster committed, which is what the read hazard watches for, whether the leader was
    // elected behind or a newer leader deposed it behind a partition (the swarm has both); a
    // snapshot installed over what a follower already applied was sent while the follower
    // held what it covers.
    let cases = [
        (Base::Crashes, Bug::StaleLeaderRead, Point::ReadAtLeaderBehindCommit),
        (Base::Swarm, Bug::StaleLeaderRead, Point::ReadAtLeaderBehindCommit),
        (Base::Swarm, Bug::ReadBeforeConfirm, Point::ReadAtLeaderBehindCommit),
        (Base::Quiet, Bug::InstallStaleSnapshot, Point::SnapshotSentToFollowerHoldingIt),
    ];
    let first_event = |outcome: &simulator::run::Outcome, point: Point| {
        outcome.summary.points.iter().find(|p| p.point == point.name()).map(|p| p.first_event)
    };
    for (base, bug, hazard) in cases {
        let (mut failed, mut deposed_first) = (0, 0);
        for seed in 0..300 {
            let mut config = base.config(seed);
            config.fit_for(bug);
            config.bugs = vec![bug.name().to_string()];
            let outcome = run(&config, &RunOptions::default());
            if !outcome.verdict.is_failure() {
                continue;
            }
            failed += 1;
            let at = first_event(&outcome, hazard);
            let failed_at = outcome.failure.as_ref().map_or(outcome.summary.events, |f| f.event);
            assert!(
                at.is_some_and(|e| e <= failed_at),
                "{bug} seed {seed}: {hazard:?} at {at:?}, failure at {failed_at}"
            );
            if first_event(&outcome, Point::ReadAtDeposedLeader).is_some_and(|e| e <= failed_at) {
                deposed_first += 1;
            }
        }
        assert!(failed >= 3, "{bug}: {failed} failing runs of 300 under {}", base.name());
        // Under the swarm some of those reads reached a leader that a newer one had deposed.
        if base == Base::Swarm {
            assert!(deposed_first >= 1, "{bug}: no failing run read from a deposed leader first");
        }
    }
}
