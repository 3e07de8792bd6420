//! The harness proves it finds bugs: for each planted bug, run seeds of the random swarm
//! configuration until some check fails, and report which check and after how many seeds.

use raft_host::Bug;
use serde::Serialize;

use crate::config::{Implementation, SimConfig};
use crate::pool::{run_parallel, Flow};
use crate::run::{run, RunOptions, Verdict};

/// The hunt for one bug.
#[derive(Clone, Debug, Serialize)]
pub struct Hunt {
    pub bug: String,
    pub caught: bool,
    /// Seeds run up to and including the first that caught it (or the whole budget).
    pub seeds: u64,
    pub seed: Option<u64>,
    pub verdict: Option<Verdict>,
    pub check: Option<String>,
    pub reason: Option<String>,
    pub replay: Option<String>,
}

/// Runs seeds `first_seed..first_seed + budget` with `bug` planted until one fails. The answer
/// is the lowest failing seed, whatever the number of jobs: seeds run in windows, and a window
/// is finished before the lowest failure in it is taken.
#[must_use]
pub fn hunt(bug: Bug, first_seed: u64, budget: u64, jobs: usize) -> Hunt {
    hunt_on(Implementation::RaftCore, bug, first_seed, budget, jobs)
}

/// [`hunt`] with `implementation` in every server (which must have the bug: see
/// `Implementation::supports`).
#[must_use]
pub fn hunt_on(implementation: Implementation, bug: Bug, first_seed: u64, budget: u64, jobs: usize) -> Hunt {
    let window = (jobs.max(1) * 16) as u64;
    let mut start = first_seed;
    let end = first_seed.saturating_add(budget);
    while start < end {
        let count = window.min(end - start);
        let mut failures: Vec<(u64, Verdict, String, String)> = Vec::new();
        run_parallel(
            count,
            jobs,
            |i| {
                let seed = start + i;
                let mut config = SimConfig::swarm(seed);
                config.bugs = vec![bug.name().to_string()];
                config.implementation = implementation;
                let outcome = run(&config, &RunOptions::default());
                let check = outcome
                    .failure
                    .as_ref()
                    .map_or_else(|| outcome.verdict.name().to_string(), |f| f.check.clone());
                (outcome.verdict, check, outcome.reason)
            },
            |i, (verdict, check, reason)| {
                if verdict != Verdict::Pass {
                    failures.push((start + i, verdict, check, reason));
                }
                Flow::Continue
            },
            |_| {},
        );
        if let Some((seed, verdict, check, reason)) = failures.into_iter().min_by_key(|f| f.0) {
            return Hunt {
                bug: bug.name().into(),
                caught: true,
                seeds: seed - first_seed + 1,
                seed: Some(seed),
                verdict: Some(verdict),
                check: Some(check),
                reason: Some(reason),
                replay: Some(format!(
                    "cargo run --release -- --seed {seed}{} --bug {}",
                    if implementation == Implementation::RaftCore {
                        String::new()
                    } else {
                        format!(" --impl {implementation}")
                    },
                    bug.name()
                )),
            };
        }
        start += window;
    }
    Hunt {
        bug: bug.name().into(),
        caught: false,
        seeds: budget,
        seed: None,
        verdict: None,
        check: None,
        reason: None,
        replay: None,
    }
}

/// The median of the seeds needed over several hunts from different starting seeds; a hunt that
/// ran out of budget counts as the budget.
#[must_use]
pub fn median_seeds(hunts: &[Hunt]) -> u64 {
    let mut seeds: Vec<u64> = hunts.iter().map(|h| h.seeds).collect();
    seeds.sort_unstable();
    seeds.get(seeds.len() / 2).copied().unwrap_or(0)
}
