//! `raftsim bench hazard`: how well do branches forked at one point of the coverage catalogue
//! catch one planted bug, against fresh seeds, per unit of work? The measurement behind each
//! `Point::horizon_factor` and the hazards' figures in the README, as one command. Everything
//! it counts is deterministic (runs, failures and events); only the wall time is not.

use std::io::Write;
use std::time::Instant;

use raft_host::Bug;
use serde_json::json;

use super::bench_cmd::BenchArgs;
use crate::coverage::Point;
use crate::guided::Guide;
use crate::selftest::{fork_trial, Base};

/// Seeds a measurement may run at most: each passing root that reaches the point runs its
/// branches too, so this bounds the work at about `branches + 1` times this many runs.
const SEEDS_MAX: u64 = 100_000;

pub fn hazard_bench(args: &BenchArgs) -> i32 {
    let fail = |what: &str| -> i32 {
        eprintln!("raftsim bench hazard: {what}");
        2
    };
    let Some(name) = args.point.as_deref() else {
        return fail("--point: expected the name of a point of the catalogue (`raftsim coverage` lists them), e.g. --point \"leader: two leaders of different terms at once\"");
    };
    let Some(point) = Point::named(name) else {
        return fail(&format!(
            "--point: {name:?} is no point of the catalogue (`raftsim coverage --seed 1` lists the names)"
        ));
    };
    let bug: Bug = match args.bugs.as_slice() {
        [one] => match one.parse() {
            Ok(b) => b,
            Err(e) => return fail(&format!("--bug: {e}")),
        },
        [] => return fail("--bug: expected the planted bug the branches hunt (`raftsim bugs` lists them)"),
        more => return fail(&format!("--bug: expected one planted bug, found {}", more.len())),
    };
    let implementation = args.implementation.unwrap_or_default();
    if !implementation.supports(bug) {
        return fail(&format!("--bug: {implementation} has no planted bug {bug}"));
    }
    let base: Base = match args.base.parse() {
        Ok(b) => b,
        Err(e) => return fail(&format!("--base: {e}")),
    };
    let (start, end) = args.seeds.unwrap_or((0, 200));
    if end <= start || end - start > SEEDS_MAX {
        return fail(&format!("--seeds: expected 1 to {SEEDS_MAX} seeds, found {start}..{end}"));
    }
    // By default the horizon a guided sweep gives branches forked at this point.
    let one = Guide::default().horizon_ns.unwrap_or(20_000_000);
    let horizon_ns = args.horizon.unwrap_or(one.saturating_mul(point.horizon_factor()));
    if horizon_ns == 0 {
        return fail("--horizon: expected a positive duration, e.g. 20ms or 1s");
    }
    let branches = u32::try_from(args.branches).unwrap_or(u32::MAX);
    let started = Instant::now();
    // A bug hunted on a staging scenario runs on its seeds, whatever the base.
    let source = crate::selftest::staging(bug)
        .map_or_else(|| format!("the {} base", base.name()), |(path, _)| format!("the scenario {path}"));
    if !args.json {
        eprintln!(
            "bench hazard: seeds {start}..{end} of {source}, {} planted, {branches} branches of {} ms where each that passes first reached {:?}...",
            bug.name(),
            horizon_ns as f64 / 1e6,
            point.name()
        );
    }
    let trial = fork_trial(
        (implementation, base),
        bug,
        point,
        (start, end),
        (branches, horizon_ns),
        crate::pool::cores(),
    );
    let (fresh, forked) = trial.per_catch();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            json!({
                "point": point.name(), "bug": bug.name(), "base": base.name(), "roots_from": source,
                "implementation": implementation.name(), "seeds": [start, end],
                "branches_per_root": branches, "horizon_ns": horizon_ns,
                "trial": trial, "fresh_events_per_catch": fresh, "branch_work_per_catch": forked,
                "wall_ms": wall_ms,
            })
        );
        return 0;
    }
    let per = |x: Option<u64>| {
        x.map_or_else(|| "no catch".to_string(), |e| format!("{:.1} k events per catch", e as f64 / 1e3))
    };
    let _ = writeln!(
        out,
        "fresh seeds: {} run, {} fail, {:.2} M events: {}",
        trial.roots,
        trial.root_failures,
        trial.root_events as f64 / 1e6,
        per(fresh)
    );
    let _ = writeln!(out, "roots that pass and reach {:?}: {}", point.name(), trial.reaching);
    let _ = writeln!(
        out,
        "branches of {} ms at each one's first reach: {} run, {} fail (from {} of those roots), {:.2} M events of work (prefixes and copies counted): {}",
        horizon_ns as f64 / 1e6,
        trial.branches,
        trial.branch_failures,
        trial.catching_roots.len(),
        trial.branch_work as f64 / 1e6,
        per(forked)
    );
    for (seed, event, failed) in &trial.catching_roots {
        let _ = writeln!(out, "  root {seed}, forked at event {event}: {failed} of {branches} fail");
    }
    if let Some(replay) = trial.first_catch.as_ref().and_then(|h| h.replay.as_deref()) {
        let _ = writeln!(out, "first catch: {replay}");
    }
    let _ = writeln!(out, "in {:.1} s", wall_ms / 1e3);
    0
}
