//! The linearizability check decides the same way with the run's witness and by the full search,
//! on over a thousand runs with the planted bugs off and on; and the witness, not the search,
//! decides almost every healthy run.

// `.classic()`: these figures are of the paths without membership changes and off-log reads
// (see `SimConfig::classic`); tests/membership.rs covers those.
use raft_core::Bug;
use simulator::pool::{run_parallel, Flow};
use simulator::{run, RunOptions, SimConfig, Verdict};

/// Seeds of healthy runs, and seeds per planted bug.
const HEALTHY_SEEDS: u64 = 600;
const SEEDS_PER_BUG: u64 = 50;

#[test]
fn witness_and_search_agree_on_every_run_with_bugs_on_and_off() {
    let bugs: Vec<Option<Bug>> = std::iter::once(None).chain(Bug::ALL.into_iter().map(Some)).collect();
    let mut jobs: Vec<(u64, Option<Bug>)> = (0..HEALTHY_SEEDS).map(|s| (s, None)).collect();
    for bug in bugs.iter().flatten() {
        jobs.extend((0..SEEDS_PER_BUG).map(|s| (10_000 + s, Some(*bug))));
    }
    let options = RunOptions { cross_check: true, ..RunOptions::default() };
    let mut disagreements = Vec::new();
    let mut healthy_by_witness = 0u64;
    let mut nonlinearizable = 0u64;
    run_parallel(
        jobs.len() as u64,
        2,
        |i| {
            let (seed, bug) = jobs[i as usize];
            let mut config = SimConfig::swarm(seed).classic();
            config.bugs = bug.map(|b| vec![b.name().to_string()]).unwrap_or_default();
            let outcome = run(&config, &options);
            let by_witness =
                outcome.summary.linearizability.as_ref().is_some_and(|c| c.decided_by == "witness");
            (seed, bug, outcome.verdict, outcome.reason, by_witness)
        },
        |_, (seed, bug, verdict, reason, by_witness)| {
            match verdict {
                Verdict::CheckerDisagreement => {
                    disagreements.push(format!("seed {seed} bug {bug:?}: {reason}"))
                }
                Verdict::Nonlinearizable => nonlinearizable += 1,
                Verdict::Pass if bug.is_none() && by_witness => healthy_by_witness += 1,
                _ => {}
            }
            Flow::Continue
        },
        |_| {},
    );
    assert!(jobs.len() >= 1_000, "{} runs", jobs.len());
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(nonlinearizable > 0, "the bugs that break linearizability were caught by the check");
    assert!(
        healthy_by_witness * 100 >= HEALTHY_SEEDS * 95,
        "the witness decided only {healthy_by_witness} of {HEALTHY_SEEDS} healthy runs"
    );
}
