//! `raftsim sweep`: many seeds on all cores, shardable across machines.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::run_cmd::{config_from_args, replay_command, scenario_from_args};
use super::WorldArgs;
use crate::pool::{run_parallel, Flow};
use crate::report::{self, ReportContext};
use crate::run::{run, run_scenario, RunOptions, Verdict};
use crate::sweep::{parse_range, parse_shard, Failed, SeedResult, SeedSet, SweepSummary};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepCommand {
    #[command(subcommand)]
    pub merge: Option<SweepSub>,
    #[command(flatten)]
    pub args: SweepArgs,
}

#[derive(Subcommand, Debug)]
pub enum SweepSub {
    /// Join the JSON summaries of a sweep's shards into one.
    Merge {
        /// The shards' summaries (`raftsim sweep --json` output, one object per file).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the merged summary as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct SweepArgs {
    /// Seeds to run, half-open: 0..300 runs seeds 0 to 299.
    #[arg(long, value_parser = parse_range, conflicts_with = "count")]
    pub seeds: Option<(u64, u64)>,
    /// Run this many seeds from a random start (printed, so the sweep can be rerun).
    #[arg(long)]
    pub count: Option<u64>,
    /// Only the seeds of shard K of N (1 <= K <= N); N machines split one range exactly.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Parallel jobs (default: all cores). Each seed's run stays on one thread.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Start no new seed after this much wall time, e.g. 10m.
    #[arg(long, value_parser = checker::cli::parse_duration)]
    pub time_budget: Option<Duration>,
    /// Stop at the first failing seed.
    #[arg(long)]
    pub fail_fast: bool,
    /// Write at most this many failing seeds' reports.
    #[arg(long, default_value_t = 20)]
    pub max_reports: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Where failing seeds write their reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
}

pub fn sweep_command(cmd: &SweepCommand) -> i32 {
    match &cmd.merge {
        Some(SweepSub::Merge { files, json }) => merge_command(files, *json),
        None => sweep(&cmd.args),
    }
}

fn sweep(args: &SweepArgs) -> i32 {
    let (start, end) = match (args.seeds, args.count) {
        (Some(range), _) => range,
        (None, Some(0)) => {
            eprintln!("raftsim sweep: --count must be at least 1");
            return 2;
        }
        (None, Some(n)) => {
            let start = random_start();
            eprintln!("raftsim sweep: {n} seeds from a random start: --seeds {start}..{}", start + n);
            (start, start + n)
        }
        (None, None) => {
            eprintln!("raftsim sweep: say which seeds: --seeds A..B or --count N");
            return 2;
        }
    };
    let set = SeedSet { start, end, shard: args.shard };
    let seeds = set.seeds();
    // Validate the options once, on the first seed, before starting threads.
    let scenario = match scenario_from_args(&args.world) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("raftsim sweep: {e}");
            return 2;
        }
    };
    if let Err(e) = config_from_args(start, &args.world, scenario.as_ref()) {
        eprintln!("raftsim sweep: {e}");
        return 2;
    }
    let jobs = args.jobs.unwrap_or_else(crate::pool::cores).max(1);
    let started = Instant::now();
    let mut progress = Progress::new(seeds.len() as u64, args.json);
    let mut results: Vec<SeedResult> = Vec::with_capacity(seeds.len());
    let mut stopped_early = None;
    run_parallel(
        &seeds,
        jobs,
        |&seed| {
            let config = config_from_args(seed, &args.world, scenario.as_ref())
                .unwrap_or_else(|e| panic!("validated: {e}"));
            let outcome = match &scenario {
                Some(s) => run_scenario(s, &config, &RunOptions::default()),
                None => run(&config, &RunOptions::default()),
            };
            SeedResult::from_outcome(seed, &config, &outcome)
        },
        |_, result| {
            progress.tick(&result);
            let failed = result.verdict != Verdict::Pass;
            results.push(result);
            if failed && args.fail_fast {
                stopped_early = Some("--fail-fast: a seed failed".to_string());
                return Flow::Stop;
            }
            if args.time_budget.is_some_and(|b| started.elapsed() >= b) {
                stopped_early = Some("--time-budget reached".to_string());
                return Flow::Stop;
            }
            Flow::Continue
        },
    );
    progress.finish();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;

    // Reports for the failing seeds, lowest seeds first, up to the cap.
    let mut failing: Vec<&SeedResult> = results.iter().filter(|r| r.verdict != Verdict::Pass).collect();
    failing.sort_by_key(|r| r.seed);
    let mut failed = Vec::new();
    for (i, r) in failing.iter().enumerate() {
        let replay = replay_command(r.seed, &args.world);
        let mut report_dir = None;
        if i < args.max_reports {
            if let Ok(config) = config_from_args(r.seed, &args.world, scenario.as_ref()) {
                let ctx =
                    ReportContext { config: &config, scenario: scenario.as_ref(), command: replay.clone() };
                match report::write(&args.reports, &ctx, Some(&r.trace_hash)) {
                    Ok((dir, _)) => report_dir = Some(dir.display().to_string()),
                    Err(e) => eprintln!("raftsim sweep: seed {}: no report: {e}", r.seed),
                }
            }
        }
        failed.push(Failed {
            seed: r.seed,
            verdict: r.verdict,
            check: r.check.clone(),
            reason: r.reason.clone(),
            replay,
            report: report_dir,
        });
    }
    let mut summary = SweepSummary::from_results(&results, failed);
    summary.seed_sets = vec![set];
    summary.scenario = scenario.as_ref().map(|s| s.name.clone());
    summary.bugs.clone_from(&args.world.bugs);
    summary.wall_ms = wall_ms;
    summary.wall_ms_total = wall_ms;
    summary.jobs = jobs;
    summary.stopped_early = stopped_early;
    print_summary(&summary, args.json);
    i32::from(summary.passed != summary.seeds)
}

fn merge_command(files: &[PathBuf], json: bool) -> i32 {
    let mut parts = Vec::new();
    for path in files {
        let name = path.display();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("raftsim sweep merge: {name}: cannot read: {e}");
                return 2;
            }
        };
        // A summary is the last line of a sweep's `--json` output.
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        match serde_path_to_error::deserialize::<_, SweepSummary>(&mut serde_json::Deserializer::from_str(
            last,
        )) {
            Ok(s) => parts.push(s),
            Err(e) => {
                eprintln!("raftsim sweep merge: {name}: not a sweep summary: {}: {}", e.path(), e.inner());
                return 2;
            }
        }
    }
    match SweepSummary::merge(parts) {
        Ok(summary) => {
            print_summary(&summary, json);
            i32::from(summary.passed != summary.seeds)
        }
        Err(e) => {
            eprintln!("raftsim sweep merge: {e}");
            2
        }
    }
}

fn print_summary(s: &SweepSummary, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(s).unwrap_or_default());
        return;
    }
    let verdicts: Vec<String> = s.verdicts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "sweep: {} seeds, {} passed, {} failed [{}]",
        s.seeds,
        s.passed,
        s.failed.len(),
        verdicts.join(", ")
    );
    if let Some(why) = &s.stopped_early {
        let _ = writeln!(out, "stopped early: {why}");
    }
    for f in &s.failed {
        let _ = writeln!(out, "  seed {}: {} {}", f.seed, f.verdict, f.reason);
        let _ = writeln!(out, "    replay: {}", f.replay);
        if let Some(r) = &f.report {
            let _ = writeln!(out, "    report: {r}");
        }
    }
    let _ = writeln!(out, "coverage (seeds where it happened / seeds whose configuration enabled it):");
    for (kind, c) in &s.coverage {
        let _ = writeln!(out, "  {kind:<48} {:>6} / {}", c.fired_seeds, c.enabled_seeds);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "{}", s.figures());
}

/// A progress bar on a terminal; plain lines every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: u64,
    failed: u64,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds, {msg} [{elapsed_precise}, ETA {eta}, {per_sec}]",
            );
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Progress { bar, total, done: 0, failed: 0, started: now, last_line: now, quiet }
    }

    fn tick(&mut self, r: &SeedResult) {
        self.done += 1;
        if r.verdict != Verdict::Pass {
            self.failed += 1;
        }
        let msg = format!("{} passed, {} failed", self.done - self.failed, self.failed);
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            bar.inc(1);
            if r.verdict != Verdict::Pass {
                bar.println(format!("seed {}: {} {}", r.seed, r.verdict, r.reason));
            }
        } else if !self.quiet
            && (self.last_line.elapsed() >= Duration::from_secs(5) || self.done == self.total)
        {
            self.last_line = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            eprintln!("{}/{} seeds, {msg}, {rate:.0} seeds/s", self.done, self.total);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A start seed for `--count`, from the wall clock: outside any run, and printed.
fn random_start() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // Keep it readable and far from overflow.
    crate::rng::fnv1a(&nanos.to_le_bytes()) % 1_000_000_000_000
}
