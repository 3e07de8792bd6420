//! Guided exploration and the harder liveness phase: a guided sweep is the same on any number
//! of jobs and its branches replay exactly; the core-only liveness phase catches a liveness bug
//! that healing everything hides, and a correct cluster passes it.

use std::process::{Command, Output};

use raft_host::Bug;
use serde_json::Value;
use simulator::selftest::{hunt, hunt_guided};
use simulator::{run, RunOptions, SimConfig, Verdict};

fn raftsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raftsim")).args(args).output().expect("the binary runs")
}

fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A sweep summary without what depends on the machine.
fn deterministic_part(mut v: Value) -> Value {
    for key in ["wall_ms", "wall_ms_total", "jobs"] {
        v.as_object_mut().map(|o| o.remove(key));
    }
    v
}

#[test]
fn a_guided_sweep_is_the_same_on_any_jobs_and_its_failing_branches_replay() {
    let reports = std::env::temp_dir().join(format!("raftsim-guided-{}", std::process::id()));
    let reports = reports.to_string_lossy().to_string();
    let sweep = |jobs: &str| {
        let out = raftsim(&[
            "sweep",
            "--seeds",
            "0..200",
            "--guided",
            "--bug",
            "commit-previous-term",
            "--json",
            "--jobs",
            jobs,
            "--max-reports",
            "1",
            "--reports",
            &reports,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        last_json(&out)
    };
    let one = sweep("1");
    let two = sweep("2");
    assert_eq!(deterministic_part(one.clone()), deterministic_part(two));
    let guided = &one["guided"];
    // The range gives the root seeds and the work: the first batch's 32 seeds and more, and
    // many more branches, each a small part of a run.
    let (roots, branches) = (guided["roots"].as_u64().unwrap_or(0), guided["branches"].as_u64().unwrap_or(0));
    assert!((33..200).contains(&roots), "{guided}");
    assert!(branches > 200 - roots, "{guided}");
    assert_eq!(one["seeds"].as_u64(), Some(roots + branches), "every run counts in the summary");
    assert!(guided["planned_new"].as_u64().is_some_and(|b| b > 0));
    assert!(guided["planned_hazard"].as_u64().is_some_and(|b| b > 0));
    assert!(guided["planned_liveness"].as_u64().is_some_and(|b| b > 0), "roots that heal only a core");
    // More is planned than a budget of 200 runs can run: what still waits at the end is counted
    // apart from what a full queue dropped; every branch planned ran, waits or was dropped.
    let planned = ["planned_new", "planned_rare", "planned_hazard", "planned_liveness"]
        .iter()
        .filter_map(|k| guided[*k].as_u64())
        .sum::<u64>();
    let (unrun, dropped) =
        (guided["unrun"].as_u64().unwrap_or(0), guided["dropped"].as_u64().unwrap_or(u64::MAX));
    assert!(unrun > 0, "{guided}");
    assert_eq!(branches + unrun + dropped, planned, "{guided}");
    // A failing branch is named by seed and path, and replays to the same failure.
    let failed = one["failed"].as_array().expect("failures");
    let on_branch = failed.iter().find(|f| f["branch"].as_str().is_some_and(|b| !b.is_empty()));
    let f = on_branch.expect("a guided sweep of a planted bug fails on some branch");
    let (seed, branch) = (f["seed"].as_u64().unwrap_or(0).to_string(), f["branch"].as_str().unwrap_or(""));
    assert!(f["replay"].as_str().is_some_and(|r| r.contains(&format!("--branch {branch}"))));
    let replay = raftsim(&[
        "run",
        "--seed",
        &seed,
        "--branch",
        branch,
        "--bug",
        "commit-previous-term",
        "--json",
        "--no-report",
    ]);
    let v = last_json(&replay);
    assert_eq!(v["verdict"], f["verdict"], "{v}");
    assert_eq!(v["branch"].as_str(), Some(branch));
    let _ = std::fs::remove_dir_all(&reports);
    // In text, a guided sweep counts runs, not seeds: its range is a budget of work.
    let out = raftsim(&["sweep", "--seeds", "0..40", "--guided", "--max-reports", "0"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("sweep (raft-core): ") && first.contains(" runs, "), "{first}");
    assert!(text.lines().any(|l| l.contains(" runs in ") && l.contains(" runs/s")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("guided: ")
            && l.contains("at the end of a fault phase")
            && l.contains("still waiting when the budget ran out")),
        "{text}"
    );
}

#[test]
fn guided_options_that_cannot_work_together_are_usage_errors() {
    let out = raftsim(&["sweep", "--seeds", "0..4", "--guided", "--branch", "10.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--guided plans its own branches"));
    let out = raftsim(&["sweep", "--seeds", "0..4", "--guided", "--time-budget", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    // --guide changes a guided sweep's knobs, names a bad one, and needs --guided.
    for (args, says) in [
        (&["--guided", "--guide", "batch=0"][..], "batch (1 or more)"),
        (&["--guided", "--guide", "fanout=3"][..], "\"fanout\""),
        (&["--guide", "sixteenths=8"][..], "--guided"),
    ] {
        let out = raftsim(&[&["sweep", "--seeds", "0..4"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--guide") && err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_guided_sweep_takes_its_knobs_from_guide() {
    let sweep = |guide: &[&str]| {
        let out = raftsim(
            &[&["sweep", "--seeds", "0..48", "--guided", "--json", "--max-reports", "0"][..], guide].concat(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        last_json(&out)["guided"].clone()
    };
    let default = sweep(&[]);
    assert!(default["branches"].as_u64().is_some_and(|b| b > 0), "{default}");
    // No share of the work for branches: the sweep is its 48 root seeds.
    let none = sweep(&["--guide", "sixteenths=0"]);
    assert_eq!((none["roots"].as_u64(), none["branches"].as_u64()), (Some(48), Some(0)), "{none}");
    // Two branches per hazard instead of 64: fewer planned there.
    let few = sweep(&["--guide", "hazard=2"]);
    let planned = |g: &serde_json::Value| g["planned_hazard"].as_u64().unwrap_or(0);
    assert!(planned(&few) > 0 && planned(&few) < planned(&default), "{few} {default}");
    // The summary records the changed knobs (none for the default guide).
    assert_eq!(none["guide"], "sixteenths=0");
    assert_eq!(few["guide"], "hazard=2");
    assert!(default.get("guide").is_none(), "{default}");
}

#[test]
fn only_shards_explored_alike_merge() {
    let dir = std::env::temp_dir().join(format!("raftsim-guided-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let shard = |name: &str, seeds: &str, extra: &[&str]| {
        let out =
            raftsim(&[&["sweep", "--seeds", seeds, "--json", "--max-reports", "0"][..], extra].concat());
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let file = dir.join(name);
        std::fs::write(&file, &out.stdout).expect("write a shard's summary");
        file.display().to_string()
    };
    let a = shard("a.json", "0..24", &["--guided", "--guide", "sixteenths=0"]);
    let b = shard("b.json", "24..48", &["--guided", "--guide", "sixteenths=0"]);
    let default = shard("default.json", "24..48", &["--guided"]);
    let plain = shard("plain.json", "24..48", &[]);
    let merge = |files: &[&str]| raftsim(&[&["sweep", "merge", "--json"][..], files].concat());
    let out = merge(&[&a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let merged = last_json(&out);
    assert_eq!((merged["seeds"].as_u64(), merged["guided"]["roots"].as_u64()), (Some(48), Some(48)));
    assert_eq!(merged["guided"]["guide"], "sixteenths=0");
    for (other, says) in [(&default, "guided where"), (&plain, "random seeds where")] {
        let out = merge(&[&a, other]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(other.as_str())
                && err.contains(says)
                && err.contains("guided with --guide sixteenths=0"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_guided_hunt_finds_the_same_run_whatever_the_jobs_and_a_plain_one_is_unchanged() {
    let one = hunt_guided(Bug::StaleLeaderRead, 0, 80, 1);
    let two = hunt_guided(Bug::StaleLeaderRead, 0, 80, 2);
    assert!(one.caught);
    assert_eq!(
        (one.seeds, one.events, one.seed, &one.branch),
        (two.seeds, two.events, two.seed, &two.branch)
    );
    let plain = hunt(Bug::StaleLeaderRead, 0, 80, 2);
    assert!(plain.caught && plain.events > 0);
}

fn with_bug(seed: u64, bug: &str, core: bool) -> SimConfig {
    let mut c = SimConfig::swarm(seed);
    c.bugs = vec![bug.to_string()];
    c.liveness_core = core;
    c
}

#[test]
fn the_core_liveness_phase_catches_a_bug_that_healing_everything_hides() {
    let mut caught = Vec::new();
    for seed in 0..60 {
        let outcome = run(&with_bug(seed, "active-on-send", true), &RunOptions::default());
        if outcome.verdict == Verdict::Liveness {
            assert!(outcome.reason.contains("after healing only a core"), "{}", outcome.reason);
            assert!(
                outcome.reason.contains("speaks only"),
                "the deposed leader still reaches the core: {}",
                outcome.reason
            );
            caught.push(seed);
        } else {
            assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed}: {}", outcome.reason);
        }
    }
    assert!(caught.len() >= 3, "caught on seeds {caught:?}");
    for &seed in &caught {
        let healed = run(&with_bug(seed, "active-on-send", false), &RunOptions::default());
        assert_eq!(healed.verdict, Verdict::Pass, "seed {seed} with a full heal: {}", healed.reason);
    }
}

#[test]
fn a_correct_cluster_passes_the_core_liveness_phase() {
    let mut left_out_speaking = 0;
    for seed in 0..120 {
        let mut config = SimConfig::swarm(seed);
        config.liveness_core = true;
        let a = run(&config, &RunOptions::default());
        assert_eq!(a.verdict, Verdict::Pass, "seed {seed}: {}", a.reason);
        if a.summary.points.iter().any(|p| p.point == "liveness: a leader outside the core still reaches it")
        {
            left_out_speaking += 1;
        }
        if seed % 40 == 0 {
            let b = run(&config, &RunOptions::default());
            assert_eq!(a.summary.trace_hash, b.summary.trace_hash);
        }
    }
    assert!(left_out_speaking >= 5, "the hard case happened on {left_out_speaking} seeds");
}

#[test]
fn every_combination_of_the_leaders_legal_choices_passes_and_changes_the_run() {
    use simulator::config::{BackoffChoice, LeaderChoices};
    let mut combos = 0;
    for backoff in [BackoffChoice::ConflictTerm, BackoffChoice::OneAtATime, BackoffChoice::ToMatchIndex] {
        for bits in 0..8u8 {
            let choices = LeaderChoices {
                backoff,
                pipelining_off: bits & 1 != 0,
                empty_heartbeats: bits & 2 != 0,
                rotate_followers: bits & 4 != 0,
            };
            // A choice other than the drawn one changes the run on some of the seeds (not
            // necessarily on each: one entry at a time and the conflict term's back-off differ
            // only after a rejection over a conflicting tail); the drawn one changes nothing.
            let (mut differing, mut changed) = (0, 0);
            for seed in [combos, combos + 100, combos + 200] {
                let mut config = SimConfig::swarm(seed);
                let drawn = run(&config, &RunOptions::default()).summary.trace_hash;
                let same = config.cluster.choices == choices;
                config.cluster.choices = choices.clone();
                let outcome = run(&config, &RunOptions::default());
                assert_eq!(
                    outcome.verdict,
                    Verdict::Pass,
                    "seed {seed} with {choices:?}: {}",
                    outcome.reason
                );
                if same {
                    assert_eq!(drawn, outcome.summary.trace_hash, "seed {seed}: its own choices replay it");
                } else {
                    differing += 1;
                    changed += usize::from(drawn != outcome.summary.trace_hash);
                }
            }
            assert!(differing == 0 || changed > 0, "{choices:?} changed none of {differing} runs");
            combos += 1;
        }
    }
    assert_eq!(combos, 24);
    // The swarm draws them: over 200 seeds every value of every choice comes up.
    let drawn: Vec<LeaderChoices> = (0..200).map(|s| SimConfig::swarm(s).cluster.choices).collect();
    for backoff in [BackoffChoice::ConflictTerm, BackoffChoice::OneAtATime, BackoffChoice::ToMatchIndex] {
        assert!(drawn.iter().any(|c| c.backoff == backoff));
    }
    assert!(drawn.iter().any(|c| c.pipelining_off) && drawn.iter().any(|c| c.empty_heartbeats));
    assert!(drawn.iter().any(|c| c.rotate_followers) && drawn.iter().any(LeaderChoices::is_default));
}

#[test]
fn the_exploration_bench_states_its_base_and_guide_and_refuses_bad_ones() {
    let out = raftsim(&[
        "bench",
        "exploration",
        "--quick",
        "--bug",
        "install-stale-snapshot",
        "--base",
        "crashes",
        "--guide",
        "batch=2,warm=2,back=50",
        "--coverage-runs",
        "10",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = last_json(&out);
    assert_eq!(v["base"].as_str(), Some("crashes"));
    assert!(
        v["guide"].as_str().is_some_and(|g| g.contains("batch: 2") && g.contains("fork_back: 50")),
        "{v}"
    );
    assert_eq!(v["bugs"][0]["bug"].as_str(), Some("install-stale-snapshot"));
    // Coverage: plain is ten root seeds and nothing else; guided spends the same work on
    // roots and branches.
    let coverage = &v["coverage"];
    assert_eq!(coverage["plain"]["runs"].as_u64(), Some(10), "{coverage}");
    assert!(coverage["guided"]["runs"].as_u64().is_some_and(|r| r > 10), "{coverage}");
    // Each mode states the median and the mean of its hunts' events (a missed hunt counts what
    // it spent).
    for mode in ["plain", "guided"] {
        let m = &v["bugs"][0][mode];
        let events: Vec<u64> = m["hunts"]
            .as_array()
            .expect("hunts")
            .iter()
            .map(|h| h["events"].as_u64().expect("events"))
            .collect();
        assert!(!events.is_empty());
        let mean = events.iter().sum::<u64>() / events.len() as u64;
        assert_eq!(m["mean_events"].as_u64(), Some(mean), "{mode}: {m}");
        let mut sorted = events.clone();
        sorted.sort_unstable();
        assert_eq!(m["median_events"].as_u64(), Some(sorted[sorted.len() / 2]), "{mode}: {m}");
    }
    // The ratios of the two (plain over guided), each inside its 95% interval: one trial
    // (`--quick`) resamples to itself, so the interval is the ratio alone.
    let ratios = &v["bugs"][0]["plain_over_guided"];
    for (stat, key) in [("median", "median_events"), ("mean", "mean_events")] {
        let of = |mode: &str| v["bugs"][0][mode][key].as_u64().expect("events") as f64;
        let ratio = ratios[stat].as_f64().expect("a ratio");
        assert!((ratio - of("plain") / of("guided")).abs() < 1e-3 * ratio, "{stat}: {ratios}");
        let interval = &ratios[format!("{stat}_95")];
        let (lo, hi) = (interval[0].as_f64().expect("low"), interval[1].as_f64().expect("high"));
        assert!((lo - ratio).abs() < 1e-9 && (hi - ratio).abs() < 1e-9, "{stat}: {ratios}");
    }
    // And over the trials that outlast the two runs both modes share (the first batch: the
    // same root seeds), which the bench states apart: the only ones guided exploration can
    // change.
    let bug = &v["bugs"][0];
    let past = &bug["past_first_batch"];
    assert_eq!(past["shared_runs"].as_u64(), Some(2), "{past}");
    let hunts = |mode: &str| bug[mode]["hunts"].as_array().cloned().expect("hunts");
    let outlast: Vec<usize> =
        (0..hunts("plain").len()).filter(|&i| hunts("plain")[i]["seeds"].as_u64() > Some(2)).collect();
    assert!(!outlast.is_empty(), "install-stale-snapshot takes more than two crash-base seeds: {bug}");
    assert_eq!(past["trials"].as_u64(), Some(outlast.len() as u64), "{past}");
    for mode in ["plain", "guided"] {
        let mut events: Vec<u64> =
            outlast.iter().map(|&i| hunts(mode)[i]["events"].as_u64().expect("events")).collect();
        events.sort_unstable();
        assert_eq!(past[mode]["median_events"].as_u64(), Some(events[events.len() / 2]), "{mode}: {past}");
    }
    for (flag, value, says) in [
        ("--base", "storm", "expected swarm, crashes or quiet"),
        ("--guide", "batch=0", "batch (1 or more)"),
        ("--guide", "fanout=2", "expected batch"),
    ] {
        let out = raftsim(&["bench", "exploration", "--quick", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(says), "{flag} {value}: {err}");
    }
}

#[test]
fn the_crashes_base_is_one_configuration_and_guided_hunts_on_it_are_the_same_on_any_jobs() {
    use simulator::config::Implementation;
    use simulator::guided::Guide;
    use simulator::selftest::{hunt_guided_on, Base};
    let mut a = Base::Crashes.config(1);
    let b = Base::Crashes.config(2);
    assert_eq!(a.seed, 1);
    a.seed = 2;
    assert_eq!(a, b, "only the seed differs");
    assert!(a.faults.crash.is_some() && a.faults.partition.is_none() && a.faults.storage.is_none());
    let guide = Guide::default().with_overrides("batch=8,back=50").expect("valid knobs");
    let hunt = |jobs| {
        hunt_guided_on(Implementation::RaftCore, Base::Crashes, guide, Bug::StaleLeaderRead, 0, 60, jobs)
    };
    let (one, two) = (hunt(1), hunt(2));
    assert!(one.caught, "{one:?}");
    assert_eq!(
        (one.seeds, one.events, one.seed, &one.branch),
        (two.seeds, two.events, two.seed, &two.branch)
    );
}

/// The root run of a guided hunt's catch on its own: the seed of `base`, fitted for `bug`,
/// with the bug planted, as the hunt ran it.
fn root_run(base: simulator::selftest::Base, bug: Bug, seed: u64) -> simulator::Outcome {
    let mut config = base.config(seed);
    config.fit_for(bug);
    config.bugs = vec![bug.name().to_string()];
    run(&config, &RunOptions::default())
}

/// Hunts `bug` from seed `first` of `base` both ways (300 runs' work, 2 jobs): plain seeds
/// catch it at run `plain_runs`, a guided hunt with less work on a branch with one fork, which
/// it returns with the guided hunt.
fn guided_beats_plain(
    base: simulator::selftest::Base,
    bug: Bug,
    first: u64,
    plain_runs: u64,
) -> (simulator::selftest::Hunt, simulator::branch::BranchPath) {
    use simulator::config::Implementation;
    use simulator::guided::Guide;
    use simulator::selftest::{hunt_guided_on, hunt_on};
    let plain = hunt_on(Implementation::RaftCore, base, bug, first, 300, 2);
    let guided = hunt_guided_on(Implementation::RaftCore, base, Guide::default(), bug, first, 300, 2);
    assert!(plain.caught && guided.caught, "{bug}: {plain:?} {guided:?}");
    assert_eq!(plain.seeds, plain_runs, "{bug}");
    assert!(guided.events < plain.events, "{bug}: {} against {}", guided.events, plain.events);
    let branch: simulator::branch::BranchPath = guided.branch.parse().expect("a branch path");
    assert_eq!(branch.forks().len(), 1, "{bug}: {branch}");
    (guided, branch)
}

/// A catch's replay line names its branch (and `base` unless it is the swarm, the default),
/// and fails again.
fn replay_fails(hunt: &simulator::selftest::Hunt, branch: &simulator::branch::BranchPath, base: &str) {
    let replay = hunt.replay.clone().expect("a catch has a replay line");
    assert!(replay.contains(&format!(" --branch {branch} ")), "{replay}");
    if base != "swarm" {
        assert!(replay.contains(&format!(" --base {base} ")), "{replay}");
    }
    replay_exits_failing(&replay);
}

/// Runs a replay line (`cargo run --release -- ARGS`) with the binary under test and without
/// a report, and checks the run fails again.
fn replay_exits_failing(replay: &str) {
    let mut args: Vec<&str> =
        replay.split_once(" -- ").expect("cargo run --release -- ...").1.split(' ').collect();
    args.push("--no-report");
    assert_eq!(raftsim(&args).status.code(), Some(1), "{replay}");
}

#[test]
fn branches_at_the_hazards_of_late_snapshots_and_lagging_leaders_catch_their_bugs_before_plain_seeds() {
    use simulator::coverage::Point;
    use simulator::guided::Guide;
    use simulator::selftest::Base;
    // Under the quiet base, from seeds where plain seeds need 225, 240 and 54 runs: a root
    // reaches the hazard without failing, and a branch forked where it did fails within its
    // horizon (five of them after a leader is elected behind the commit, since a client must
    // find that leader first: `Point::horizon_factor`), for less work than plain seeds spend,
    // each branch charged its copy too.
    let cases = [
        (Bug::InstallStaleSnapshot, 8_000_000, 225, Point::SnapshotSentToFollowerHoldingIt),
        (Bug::StaleLeaderRead, 3_000_000, 240, Point::ReadAtLeaderBehindCommit),
        (Bug::StaleLeaderRead, 17_000_000, 54, Point::LeaderBehindCommit),
    ];
    for (bug, first, plain_runs, hazard) in cases {
        assert!(hazard.hazard());
        let (guided, branch) = guided_beats_plain(Base::Quiet, bug, first, plain_runs);
        let horizon = Guide::default().horizon_ns.map(|ns| ns * hazard.horizon_factor());
        assert_eq!(branch.horizon_ns(), horizon, "{bug}: {branch}");
        let seed = guided.seed.expect("a catch names its seed");
        let root = root_run(Base::Quiet, bug, seed);
        assert!(!root.verdict.is_failure(), "{bug}: root {seed} passes on its own");
        let at = root.summary.points.iter().find(|p| p.point == hazard.name()).map(|p| p.first_event);
        assert_eq!(
            at,
            Some(branch.forks()[0].event),
            "{bug}: the fork is where root {seed} reached {hazard:?}"
        );
        replay_fails(&guided, &branch, "quiet");
    }
}

/// From swarm seed `first`, where plain seeds need `plain_runs` runs, a guided hunt catches
/// `bug` on a branch forked where a root that passes reached `hazard`, a hazard whose branches
/// run several horizons (`Point::horizon_factor`); the catch replays, and the same fork cut to
/// one horizon (20 ms) passes.
fn a_long_branch_catches(bug: Bug, hazard: simulator::coverage::Point, first: u64, plain_runs: u64) {
    use simulator::guided::Guide;
    use simulator::selftest::Base;
    assert!(hazard.hazard() && hazard.horizon_factor() > 1, "{hazard:?}");
    let (guided, branch) = guided_beats_plain(Base::Swarm, bug, first, plain_runs);
    let one = Guide::default().horizon_ns.expect("branches have a horizon");
    assert_eq!(branch.horizon_ns(), Some(one * hazard.horizon_factor()), "{bug}: {branch}");
    let seed = guided.seed.expect("a catch names its seed");
    let root = root_run(Base::Swarm, bug, seed);
    assert_eq!(root.verdict, Verdict::Pass, "{bug}: root {seed} passes on its own: {}", root.reason);
    let at = root.summary.points.iter().find(|p| p.point == hazard.name()).map(|p| p.first_event);
    assert_eq!(at, Some(branch.forks()[0].event), "{bug}: the fork is where root {seed} reached {hazard:?}");
    replay_fails(&guided, &branch, "swarm");
    let fork = &branch.forks()[0];
    let short = format!("{}.{}+{}ms", fork.event, fork.fork, one / 1_000_000);
    let seed_text = seed.to_string();
    let out = raftsim(&["run", "--seed", &seed_text, "--bug", bug.name(), "--branch", &short, "--no-report"]);
    assert_eq!(out.status.code(), Some(0), "{bug}, {short}: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn branches_at_a_crash_during_a_snapshot_write_run_long_enough_for_the_node_to_restart() {
    // Cut-before-snapshot-durable loses entries only if a crash catches the snapshot write
    // that carries the log's cut, and it shows only when that node restarts and recovers from
    // its disk. From swarm seed 263,000,000 plain seeds need 98 runs; a guided hunt catches it
    // on a branch forked where a root's crash caught a snapshot write, running twenty-five
    // horizons (500 ms). One horizon ends before the node is back.
    a_long_branch_catches(
        Bug::CutBeforeSnapshotDurable,
        simulator::coverage::Point::CrashDuringSnapshotWrite,
        263_000_000,
        98,
    );
}

#[test]
fn branches_at_two_leaders_run_long_enough_for_a_read_at_the_old_one_to_go_stale() {
    // Read-before-confirm needs a write committed by a new leader and, after it returned, a
    // read at the old one: hundreds of milliseconds after two leaders first lead at once, as
    // clients find the new leader by timing out at the old one. From swarm seed 45,000,000
    // plain seeds need 237 runs; a guided hunt catches it on a branch of an early root forked
    // there, running fifty horizons (1 s). One horizon ends before the stale read.
    a_long_branch_catches(
        Bug::ReadBeforeConfirm,
        simulator::coverage::Point::TwoLeadersDifferentTerms,
        45_000_000,
        237,
    );
}

#[test]
fn branches_that_draw_the_core_liveness_phase_anew_catch_a_liveness_bug_before_plain_seeds() {
    use simulator::coverage::Point;
    use simulator::selftest::Base;
    // Active-on-send shows only in a liveness phase that leaves the old leader outside the core
    // and able to send to it: horizon branches never get there. From swarm seed 2,000,000 plain
    // seeds need 65 runs; a guided hunt draws the core liveness phase of an earlier root again,
    // on branches forked where that root's fault phase ended.
    let bug = Bug::ActiveOnSend;
    let (guided, branch) = guided_beats_plain(Base::Swarm, bug, 2_000_000, 65);
    assert_eq!(guided.check.as_deref(), Some("liveness"));
    assert_eq!(branch.horizon_ns(), None, "it runs the liveness phase: {branch}");
    let seed = guided.seed.expect("a catch names its seed");
    let root = root_run(Base::Swarm, bug, seed);
    assert_eq!(root.verdict, Verdict::Pass, "root {seed} passes on its own: {}", root.reason);
    assert!(root.summary.points.iter().any(|p| p.point == Point::LivenessCoreOnly.name()));
    assert_eq!(
        root.summary.fault_phase_events,
        Some(branch.forks()[0].event),
        "the fork is where root {seed}'s fault phase ended"
    );
    replay_fails(&guided, &branch, "swarm");
}

#[test]
fn the_hazard_bench_counts_what_branches_at_a_point_catch_against_fresh_seeds() {
    use simulator::config::Implementation;
    use simulator::coverage::Point;
    use simulator::selftest::{fork_trial, Base};
    let point = Point::TwoLeadersDifferentTerms.name();
    let bench = |extra: &[&str]| -> Output {
        let mut args = vec!["bench", "hazard", "--point", point, "--bug", "read-before-confirm"];
        args.extend_from_slice(extra);
        raftsim(&args)
    };
    // Root 20,000,099 passes and first has two leaders at event 7,587; of 16 branches forked
    // there, 4 fail within the 1 s a guided sweep gives them, none within 20 ms.
    let one_root = ["--seeds", "20000099..20000100", "--json"];
    let long = bench(&one_root);
    assert_eq!(long.status.code(), Some(0), "{}", String::from_utf8_lossy(&long.stderr));
    let v = last_json(&long);
    assert_eq!(v["horizon_ns"], 1_000_000_000u64);
    let trial = &v["trial"];
    assert_eq!((trial["roots"].as_u64(), trial["root_failures"].as_u64()), (Some(1), Some(0)));
    assert_eq!((trial["reaching"].as_u64(), trial["branches"].as_u64()), (Some(1), Some(16)));
    assert_eq!(trial["branch_failures"], 4);
    assert_eq!(trial["catching_roots"], serde_json::json!([[20_000_099u64, 7_587u64, 4u64]]));
    assert!(
        trial["branch_work"].as_u64().is_some_and(|w| w > 16 * 7_587 / 36),
        "copies are charged: {trial}"
    );
    let replay = trial["first_catch"]["replay"].as_str().expect("a replay line").to_string();
    assert!(replay.contains("--seed 20000099 --branch 7587.1+1000ms"), "{replay}");
    replay_exits_failing(&replay);
    let strip = |mut v: Value| {
        v["wall_ms"] = Value::Null;
        v
    };
    assert_eq!(strip(last_json(&bench(&one_root))), strip(v), "the same twice");
    let short = last_json(&bench(&["--seeds", "20000099..20000100", "--json", "--horizon", "20ms"]));
    assert_eq!(
        (short["trial"]["branches"].as_u64(), short["trial"]["branch_failures"].as_u64()),
        (Some(16), Some(0))
    );
    assert!(short["trial"]["first_catch"].is_null());
    // The text form states both rates.
    let text = bench(&["--seeds", "20000099..20000100"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("16 run, 4 fail (from 1 of those roots)") && text.contains("first catch: "),
        "{text}"
    );
    // The library call does not depend on the jobs.
    let trial = |jobs| {
        let t = fork_trial(
            (Implementation::RaftCore, Base::Swarm),
            Bug::ReadBeforeConfirm,
            Point::TwoLeadersDifferentTerms,
            (20_000_095, 20_000_105),
            (4, 1_000_000_000),
            jobs,
        );
        serde_json::to_value(t).expect("serializes")
    };
    assert_eq!(trial(1), trial(2));
    // Bad input is a usage error naming the flag, never a panic.
    for (extra, flag) in [
        (vec!["--point", "leader: no such thing"], "--point"),
        (vec!["--bug", "stale-leader-read"], "--bug"),
        (vec!["--seeds", "5..5"], "--seeds"),
        (vec!["--horizon", "0ms"], "--horizon"),
        (vec!["--base", "nowhere"], "--base"),
    ] {
        let mut args = vec!["bench", "hazard", "--point", point, "--bug", "read-before-confirm"];
        args.extend_from_slice(&extra);
        let out = raftsim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    let out = raftsim(&["bench", "hazard", "--point", point]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bug"));
    let out = raftsim(&["bench", "hazard", "--bug", "read-before-confirm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--point"));
}
