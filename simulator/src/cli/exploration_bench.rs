//! `raftsim bench exploration`: does guided exploration find bugs and behaviours sooner than
//! plain seeds? Two tables, both deterministic in what they count (runs and events; only the
//! wall times depend on the machine):
//! - per planted bug, the runs and the work (events) until the first failing run, plain seeds
//!   against `sweep --guided`, medians and means over several trials from different starting
//!   seeds, and the ratio of each with a 95% interval ([`crate::bootstrap`]);
//! - the catalogue points reached by the same work, plain against guided.
//!
//! Equal work is about equal CPU time: a branch is charged the events it simulates after its
//! fork, its share of the prefix walked, and its copy (`run::branch_copy_cost`); the coverage
//! table prints each mode's work per second of wall time so that the model can be checked.

use std::io::Write;
use std::time::Instant;

use raft_host::Bug;
use serde_json::json;

use super::bench_cmd::BenchArgs;
use super::selftest_cmd::{hunt_with, TRIAL_STRIDE};
use crate::bootstrap::{ratio_interval, show, Stat};
use crate::guided::{run_batch, run_family, Explorer, Guide, Task};
use crate::run::RunOptions;
use crate::selftest::{mean_events, median_events, median_seeds, Base, Hunt};
use crate::sweep::SeedSet;

/// One run's events, the points it reached with their first events, and the events handled
/// when its fault phase ended.
type RunPoints = (u64, Vec<(&'static str, u64)>, Option<u64>);

/// One bug's hunts in both modes.
struct Row {
    bug: Bug,
    plain: Vec<Hunt>,
    guided: Vec<Hunt>,
}

impl Row {
    /// The trials in which the runs both modes share (a guided hunt's first `shared` runs are
    /// the same root seeds as a plain one's) caught nothing: the plain and the guided hunts of
    /// each. A trial that ends within them ends the same way both ways, so these are the
    /// trials in which guided exploration can differ at all.
    fn past_shared(&self, shared: u64) -> (Vec<Hunt>, Vec<Hunt>) {
        self.plain
            .iter()
            .zip(&self.guided)
            .filter(|(p, _)| p.seeds > shared)
            .map(|(p, g)| (p.clone(), g.clone()))
            .unzip()
    }
}

/// Plain seeds' cost over guided exploration's, median and mean, each with its 95% interval
/// over the paired trials ([`crate::bootstrap`]).
struct Ratios {
    median: Option<f64>,
    median_95: Option<(f64, f64)>,
    mean: Option<f64>,
    mean_95: Option<(f64, f64)>,
}

impl Ratios {
    fn of(plain: &[Hunt], guided: &[Hunt]) -> Ratios {
        let events = |h: &[Hunt]| -> Vec<u64> { h.iter().map(|h| h.events).collect() };
        let (p, g) = (events(plain), events(guided));
        // The estimates are those of the columns beside them.
        let ratio = |p: u64, g: u64| (g > 0).then(|| p as f64 / g as f64);
        Ratios {
            median: ratio(median_events(plain), median_events(guided)),
            median_95: ratio_interval(&p, &g, Stat::Median),
            mean: ratio(mean_events(plain), mean_events(guided)),
            mean_95: ratio_interval(&p, &g, Stat::Mean),
        }
    }

    fn json(&self) -> serde_json::Value {
        let pair = |i: Option<(f64, f64)>| i.map(|(lo, hi)| vec![lo, hi]);
        json!({ "median": self.median, "median_95": pair(self.median_95),
                "mean": self.mean, "mean_95": pair(self.mean_95) })
    }

    /// `1.62 1.13-2.45`: the ratio and its interval.
    fn show(ratio: Option<f64>, interval: Option<(f64, f64)>) -> String {
        ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.2} {}", show(interval)))
    }
}

/// The coverage comparison of one mode.
struct Reach {
    runs: u64,
    /// The work spent, in events (a branch's copy counted too: `run::branch_copy_cost`).
    events: u64,
    points: usize,
    rare: usize,
    wall_ms: f64,
}

impl Reach {
    /// Work per second of wall time, in events: equal in both modes if a branch is charged
    /// what it costs.
    fn events_per_s(&self) -> f64 {
        self.events as f64 * 1e3 / self.wall_ms.max(1e-3)
    }
}

pub fn exploration_bench(args: &BenchArgs) -> i32 {
    let jobs = crate::pool::cores();
    let (trials, budget, coverage_runs) = if args.quick {
        (1, args.budget.min(60), args.coverage_runs.min(100))
    } else {
        (args.trials, args.budget, args.coverage_runs)
    };
    let implementation = args.implementation.unwrap_or_default();
    let base: Base = match args.base.parse() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("raftsim bench exploration: --base: {e}");
            return 2;
        }
    };
    let bugs: Vec<Bug> = if args.bugs.is_empty() {
        crate::selftest::hunted_bugs().into_iter().filter(|b| implementation.supports(*b)).collect()
    } else {
        args.bugs.iter().filter_map(|b| b.parse().ok()).collect()
    };
    if let Some(bug) = bugs.iter().find(|b| !implementation.supports(**b)) {
        eprintln!("raftsim bench exploration: {implementation} has no planted bug {bug}");
        return 2;
    }
    let guide = match Guide::default().with_overrides(&args.guide) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("raftsim bench exploration: --guide: {e}");
            return 2;
        }
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    for bug in bugs {
        if !args.json {
            eprintln!(
                "bench exploration: {} ({trials} trials of at most {budget} runs each way)...",
                bug.name()
            );
        }
        let hunts = |guided: bool| -> Vec<Hunt> {
            (0..trials)
                .map(|t| {
                    hunt_with(
                        guided.then_some(guide),
                        implementation,
                        base,
                        bug,
                        t * TRIAL_STRIDE,
                        budget,
                        jobs,
                    )
                })
                .collect()
        };
        rows.push(Row { bug, plain: hunts(false), guided: hunts(true) });
    }
    if !args.json {
        eprintln!("bench exploration: catalogue points reached by {coverage_runs} runs, plain and guided...");
    }
    let plain = reach(implementation, base, guide, coverage_runs, jobs, false);
    let guided = reach(implementation, base, guide, coverage_runs, jobs, true);
    // Roots run before any branch: the warm-up, and at least the first batch.
    let shared = guide.warm_up.max(guide.batch as u64);
    let mut out = std::io::stdout().lock();
    if args.json {
        let bugs: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let (plain_past, guided_past) = r.past_shared(shared);
                let (all, past) = (Ratios::of(&r.plain, &r.guided), Ratios::of(&plain_past, &guided_past));
                json!({
                    "bug": r.bug.name(),
                    "plain": { "caught": r.plain.iter().filter(|h| h.caught).count(),
                               "median_runs": median_seeds(&r.plain), "median_events": median_events(&r.plain),
                               "mean_events": mean_events(&r.plain),
                               "hunts": r.plain },
                    "guided": { "caught": r.guided.iter().filter(|h| h.caught).count(),
                                "median_runs": median_seeds(&r.guided), "median_events": median_events(&r.guided),
                                "mean_events": mean_events(&r.guided),
                                "hunts": r.guided },
                    "plain_over_guided": all.json(),
                    "past_first_batch": { "shared_runs": shared, "trials": plain_past.len(),
                        "plain_over_guided": past.json(),
                        "plain": { "median_events": median_events(&plain_past), "mean_events": mean_events(&plain_past) },
                        "guided": { "median_events": median_events(&guided_past), "mean_events": mean_events(&guided_past) } },
                })
            })
            .collect();
        let reach_json = |r: &Reach| json!({ "runs": r.runs, "events": r.events, "points": r.points, "rare_points": r.rare, "wall_ms": r.wall_ms, "events_per_s": r.events_per_s() });
        let value = json!({
            "trials": trials, "budget": budget, "base": base.name(), "guide": format!("{guide:?}"), "bugs": bugs,
            "coverage": { "plain": reach_json(&plain), "guided": reach_json(&guided), "catalogue": crate::coverage::Point::ALL.len() },
            "wall_ms": started.elapsed().as_secs_f64() * 1e3,
        });
        let _ = writeln!(out, "{value}");
        return 0;
    }
    let _ = writeln!(
        out,
        "planted bug: runs (and millions of events) to the first failing run, median (and mean) of {trials} trials, at most {budget} runs; base configuration: {}",
        base.name()
    );
    let _ = writeln!(out, "guide: {guide:?}");
    let _ = writeln!(
        out,
        "x: plain seeds' events over guided exploration's, with a 95% interval (bootstrap over the paired trials)"
    );
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>10} {:>9} {:>6} {:>7} {:>11} {:>10} {:>6} {:>15} {:>15}",
        "bug",
        "caught",
        "plain runs",
        "plain Mev",
        "mean",
        "caught",
        "guided runs",
        "guided Mev",
        "mean",
        "median x",
        "mean x"
    );
    for r in &rows {
        let x = Ratios::of(&r.plain, &r.guided);
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>10} {:>9.2} {:>6.2} {:>7} {:>11} {:>10.2} {:>6.2} {:>15} {:>15}",
            r.bug.name(),
            format!("{}/{trials}", r.plain.iter().filter(|h| h.caught).count()),
            median_seeds(&r.plain),
            median_events(&r.plain) as f64 / 1e6,
            mean_events(&r.plain) as f64 / 1e6,
            format!("{}/{trials}", r.guided.iter().filter(|h| h.caught).count()),
            median_seeds(&r.guided),
            median_events(&r.guided) as f64 / 1e6,
            mean_events(&r.guided) as f64 / 1e6,
            Ratios::show(x.median, x.median_95),
            Ratios::show(x.mean, x.mean_95)
        );
    }
    let _ = writeln!(
        out,
        "past the first batch (trials in which the first {shared} runs, the same root seeds both ways, caught nothing):"
    );
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>9} {:>10} {:>15} {:>15}",
        "bug", "trials", "plain Mev", "guided Mev", "median x", "mean x"
    );
    for r in &rows {
        let (plain_past, guided_past) = r.past_shared(shared);
        if plain_past.is_empty() {
            continue;
        }
        let x = Ratios::of(&plain_past, &guided_past);
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>9.2} {:>10.2} {:>15} {:>15}",
            r.bug.name(),
            format!("{}/{trials}", plain_past.len()),
            median_events(&plain_past) as f64 / 1e6,
            median_events(&guided_past) as f64 / 1e6,
            Ratios::show(x.median, x.median_95),
            Ratios::show(x.mean, x.mean_95)
        );
    }
    let catalogue = crate::coverage::Point::ALL.len();
    let _ = writeln!(
        out,
        "catalogue points reached by {coverage_runs} runs (of {catalogue}; rare ones among them):"
    );
    for (name, r) in [("plain", &plain), ("guided", &guided)] {
        let _ = writeln!(
            out,
            "  {name:<7} {:>3} points ({} rare)  {:>8.2} M events  {:>8.0} ms  {:>6.2} M events per second",
            r.points,
            r.rare,
            r.events as f64 / 1e6,
            r.wall_ms,
            r.events_per_s() / 1e6
        );
    }
    let _ = writeln!(out, "in {:.1} s", started.elapsed().as_secs_f64());
    0
}

/// Runs `runs` runs of `base` from seed 0, plain or guided, and counts the points they reached.
fn reach(
    implementation: crate::config::Implementation,
    base: Base,
    guide: Guide,
    runs: u64,
    jobs: usize,
    guided: bool,
) -> Reach {
    let started = Instant::now();
    let roots = SeedSet { start: 0, end: runs, shard: None };
    // Plain: root seeds only, no branch of any kind.
    let plain = Guide {
        fanout_new: 0,
        fanout_rare: 0,
        fanout_pair: 0,
        fanout_hazard: 0,
        fanout_liveness: 0,
        branch_sixteenths: 0,
        ..guide
    };
    let mut explorer = Explorer::new(roots, runs, if guided { guide } else { plain });
    let mut events = 0u64;
    let mut done = 0u64;
    loop {
        let batch = explorer.next_batch();
        if batch.is_empty() {
            break;
        }
        let results = run_batch(
            &batch,
            jobs,
            |group| {
                let mut config = base.config(group[0].seed);
                config.set_implementation(implementation);
                let options = RunOptions { skip_availability: true, ..RunOptions::default() };
                run_family(&config, None, group, &options)
                    .into_iter()
                    .map(|(task, o, cost)| -> (Task, RunPoints) {
                        let points = o.summary.points.iter().map(|p| (p.point, p.first_event)).collect();
                        (task, (cost, points, o.summary.fault_phase_events))
                    })
                    .collect()
            },
            |_| {},
        );
        for (t, (e, points, fault_end)) in results {
            events = events.saturating_add(e);
            done += 1;
            explorer.absorb(&t, &points, e, fault_end);
        }
    }
    let rare_names: Vec<&str> =
        crate::coverage::Point::ALL.iter().filter(|p| p.rare()).map(|p| p.name()).collect();
    let reached = explorer.reached();
    Reach {
        runs: done,
        events,
        points: reached.len(),
        rare: reached.keys().filter(|k| rare_names.contains(&k.as_str())).count(),
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}
