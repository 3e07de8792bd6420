//! `raftsim selftest`: every planted bug must be caught.

use std::io::Write;

use clap::Args;
use raft_host::Bug;

use crate::config::Implementation;
use crate::guided::Guide;
use crate::selftest::{hunt_guided_on, hunt_on, median_seeds, Base, Hunt};

#[derive(Args, Debug, Clone)]
pub struct SelftestArgs {
    /// Seeds to try per bug before declaring it missed, 1 to 1000000.
    #[arg(long, default_value_t = 300, value_parser = crate::limits::flag_range(1, 1_000_000))]
    pub budget: u64,
    /// Only these bugs (default: all).
    #[arg(long = "bug", value_name = "NAME", value_parser = super::parse_bug)]
    pub bugs: Vec<String>,
    /// Hunt each bug this many times from different starting seeds and report the median.
    #[arg(long, default_value_t = 1, value_parser = crate::limits::flag_range(1, 1_000))]
    pub trials: u64,
    /// Parallel jobs, 1 to 1024 (default: all cores); results do not depend on it.
    #[arg(long, value_parser = crate::limits::flag_range(1, crate::limits::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Hunt as `sweep --guided` does: the budget's runs go to root seeds and to branches at
    /// the coverage points the hunt had not reached (see `raftsim bench exploration`).
    #[arg(long)]
    pub guided: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The Raft implementation to hunt in (raft-core or raft-rs); raft-rs has only the state
    /// machine's bugs, and by default only those are hunted.
    #[arg(long = "impl", value_name = "NAME", value_parser = super::parse_implementation)]
    pub implementation: Option<Implementation>,
}

/// Trial `t` starts at seed `t * TRIAL_STRIDE`, far from the others.
pub const TRIAL_STRIDE: u64 = 1_000_000;

/// The hunt of plain seeds (`guide` None), or the guided one.
pub fn hunt_with(
    guide: Option<Guide>,
    implementation: Implementation,
    base: Base,
    bug: Bug,
    first_seed: u64,
    budget: u64,
    jobs: usize,
) -> Hunt {
    match guide {
        Some(guide) => hunt_guided_on(implementation, base, guide, bug, first_seed, budget, jobs),
        None => hunt_on(implementation, base, bug, first_seed, budget, jobs),
    }
}

pub fn selftest_command(args: &SelftestArgs) -> i32 {
    let jobs = args.jobs.map_or_else(crate::pool::cores, |j| j as usize);
    let implementation = args.implementation.unwrap_or_default();
    let bugs: Vec<Bug> = if args.bugs.is_empty() {
        crate::selftest::hunted_bugs().into_iter().filter(|b| implementation.supports(*b)).collect()
    } else {
        args.bugs.iter().filter_map(|b| b.parse().ok()).collect()
    };
    if let Some(bug) = bugs.iter().find(|b| !implementation.supports(**b)) {
        eprintln!(
            "raftsim selftest: {implementation} has no planted bug {bug}: it is planted in raft-core's protocol layer"
        );
        return 2;
    }
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for bug in bugs {
        let hunts: Vec<Hunt> = (0..args.trials)
            .map(|t| {
                hunt_with(
                    args.guided.then(Guide::default),
                    implementation,
                    Base::Swarm,
                    bug,
                    t * TRIAL_STRIDE,
                    args.budget,
                    jobs,
                )
            })
            .collect();
        let caught = hunts.iter().filter(|h| h.caught).count() as u64;
        let first = hunts.iter().find(|h| h.caught).cloned().unwrap_or_else(|| hunts[0].clone());
        if !args.json {
            eprintln!(
                "{:<28} {}",
                bug.name(),
                if caught > 0 {
                    format!("caught by {}", first.check.clone().unwrap_or_default())
                } else {
                    "MISSED".into()
                }
            );
        }
        rows.push((bug, caught, median_seeds(&hunts), first, hunts));
    }
    let all_caught = rows.iter().all(|(_, caught, _, _, _)| *caught == args.trials);
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(bug, caught, median, first, hunts)| {
                serde_json::json!({
                    "bug": bug.name(),
                    "caught": *caught == args.trials,
                    "trials": args.trials,
                    "trials_caught": caught,
                    "median_seeds": median,
                    "seeds": first.seeds,
                    "seed": first.seed,
                    "verdict": first.verdict,
                    "check": first.check,
                    "reason": first.reason,
                    "replay": first.replay,
                    "hunts": hunts,
                })
            })
            .collect();
        let value = serde_json::json!({
            "all_caught": all_caught,
            "budget": args.budget,
            "wall_ms": started.elapsed().as_secs_f64() * 1e3,
            "bugs": list,
        });
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(
            out,
            "{:<28} {:<7} {:>6} {:>7}  {:<28} replay",
            "bug", "caught", "seeds", "median", "check"
        );
        for (bug, caught, median, first, _) in &rows {
            let _ = writeln!(
                out,
                "{:<28} {:<7} {:>6} {:>7}  {:<28} {}",
                bug.name(),
                format!("{caught}/{}", args.trials),
                first.seeds,
                median,
                first.check.clone().unwrap_or_else(|| "-".into()),
                first.replay.clone().unwrap_or_else(|| "-".into())
            );
        }
        let _ = writeln!(
            out,
            "{} in {:.1} s",
            if all_caught { "every planted bug was caught" } else { "SOME PLANTED BUGS WERE MISSED" },
            started.elapsed().as_secs_f64()
        );
    }
    i32::from(!all_caught)
}
