//! `raftsim sweep`: many seeds on all cores, shardable across machines.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use std::collections::BTreeMap;

use super::run_cmd::{config_from_args, replay_command, scenario_from_args, world_options};
use super::{ExecArgs, WorldArgs};
use crate::config::Implementation;
use crate::guided::{run_batch, run_family, Explorer, Guide};
use crate::limits;
use crate::pool::{run_parallel, Flow};
use crate::report::{self, ReportContext};
use crate::run::{run, run_scenario, RunOptions};
use crate::scenario::Scenario;
use crate::sweep::{parse_range, parse_shard, Failed, SeedResult, SeedSet, SweepSummary, FAILED_LISTED_MAX};

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
        /// Also write the merged summary as one self-contained HTML page to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct SweepArgs {
    /// Seeds to run, half-open: 0..300 runs seeds 0 to 299 (at most 10^12 seeds).
    #[arg(long, value_parser = parse_range, conflicts_with = "count")]
    pub seeds: Option<(u64, u64)>,
    /// Run this many seeds (1 to 10^12) from a random start (printed, so the sweep can be rerun).
    #[arg(long, value_parser = limits::flag_range(1, limits::SWEEP_SEEDS_MAX))]
    pub count: Option<u64>,
    /// Only the seeds of shard K of N (1 <= K <= N <= 65536); N machines split one range exactly.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Parallel jobs, 1 to 1024 (default: all cores). Each seed's run stays on one thread.
    #[arg(long, value_parser = limits::flag_range(1, limits::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Start no new seed after this much wall time, e.g. 10m (the seeds run then depend on the
    /// machine).
    #[arg(long, value_parser = checker::cli::parse_duration)]
    pub time_budget: Option<Duration>,
    /// Stop at the lowest failing seed: every seed below it still runs, none above it counts,
    /// so the summary is the same on every machine.
    #[arg(long)]
    pub fail_fast: bool,
    /// Guided exploration: after 32 plain seeds (one batch), continue runs from the moments
    /// that matter on many short branches with fresh randomness (20 ms of fault phase each, a
    /// few times that at some hazards, copied off the run at that moment): where a run first
    /// reached a point of the coverage catalogue no run of the sweep reached before (4
    /// branches), and where leadership changed hands with something unsettled, a hazard (16
    /// branches); three quarters of the work goes to branches. The seeds range gives the root
    /// seeds and the work in all, counted in root runs; failures are named by seed and branch
    /// (`raftsim run --seed N --branch PATH` replays them). Same result for any --jobs.
    #[arg(long)]
    pub guided: bool,
    /// With --guided: change the exploration's knobs, as `name=value,...` (batch, new, rare,
    /// hazard, horizon (ms; 0: none), below, share, pair, sixteenths, hazards, depth, warm,
    /// back, queue, live; see `guided.rs`). For example `sixteenths=8` gives branches half the work
    /// instead of three quarters: less gained on the bugs hazards lead to, less lost on the
    /// others (`raftsim bench exploration --guide` measures a choice).
    #[arg(long, value_name = "KNOBS", requires = "guided")]
    pub guide: Option<String>,
    /// Fail the sweep (exit 1) if a point of the coverage catalogue that is not rare was never
    /// reached.
    #[arg(long)]
    pub require_coverage: bool,
    /// Stop once this many seeds in a row reached no point of the catalogue that the seeds
    /// before them had not (1 to 10^9; the seeds counted do not depend on the machine).
    #[arg(long, value_name = "N", value_parser = limits::flag_range(1, 1_000_000_000))]
    pub stop_when_stale: Option<u64>,
    /// Write at most this many failing seeds' reports (0 to 10000).
    #[arg(long, default_value_t = 20, value_parser = limits::flag_range(0, 10_000))]
    pub max_reports: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary as one self-contained HTML page to FILE: verdicts, failing seeds
    /// grouped by check and reason with links to their reports, coverage, speed.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub world: WorldArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Where failing seeds write their reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
}

pub fn sweep_command(cmd: &SweepCommand) -> i32 {
    match &cmd.merge {
        Some(SweepSub::Merge { files, json, html }) => merge_command(files, *json, html.as_deref()),
        None => sweep(&cmd.args),
    }
}

/// A seed that has run this long is named in the progress output.
const SLOW_SEED: Duration = Duration::from_secs(10);

/// What a sweep checks before it starts a thread: its seeds, its scenario, and the
/// configuration of its first seed (every seed draws the same shape of configuration).
pub struct PreparedSweep {
    pub set: SeedSet,
    pub scenario: Option<Scenario>,
    /// The Raft implementation every seed runs (`--impl`, else the scenario's, else raft-core).
    pub implementation: Implementation,
    /// The knobs of a guided sweep (the defaults unless `--guide` changed some).
    pub guide: Guide,
}

/// Validates a sweep's options; the error is the message to print (exit 2).
pub fn prepare(args: &SweepArgs) -> Result<PreparedSweep, String> {
    let (start, end) = match (args.seeds, args.count) {
        (Some(range), _) => range,
        (None, Some(n)) => {
            let start = random_start();
            eprintln!("raftsim sweep: {n} seeds from a random start: --seeds {start}..{}", start + n);
            (start, start + n)
        }
        (None, None) => return Err("say which seeds: --seeds A..B or --count N".into()),
    };
    let set = SeedSet { start, end, shard: args.shard };
    if set.is_empty() {
        return Err(format!("{} holds no seed", set.describe()));
    }
    if args.guided && args.world.branch.is_some() {
        return Err(
            "--guided plans its own branches; run one with `raftsim run --seed N --branch PATH`".into()
        );
    }
    if args.guided && args.time_budget.is_some() {
        return Err("--guided plans its runs in batches and cannot stop on a wall-clock --time-budget; give fewer seeds".into());
    }
    let guide = Guide::default()
        .with_overrides(args.guide.as_deref().unwrap_or(""))
        .map_err(|e| format!("--guide: {e}"))?;
    let scenario = scenario_from_args(&args.world)?;
    let config = config_from_args(set.nth(0), &args.world, scenario.as_ref())?;
    if args.world.ops.is_some() && scenario.as_ref().is_none_or(|s| s.fixed_duration) {
        warn_if_ops_exceed_capacity(&config);
    }
    Ok(PreparedSweep { set, scenario, implementation: config.implementation, guide })
}

fn sweep(args: &SweepArgs) -> i32 {
    let (set, scenario, implementation, guide) = match prepare(args) {
        Ok(p) => (p.set, p.scenario, p.implementation, p.guide),
        Err(e) => {
            eprintln!("raftsim sweep: {e}");
            return 2;
        }
    };
    if args.guided {
        return guided_sweep(args, set, scenario.as_ref(), guide);
    }
    let jobs = args.jobs.map_or_else(crate::pool::cores, |j| j as usize);
    let options = RunOptions { skip_availability: true, ..args.exec.options() };
    let started = Instant::now();
    // Both the results and the idle ticks report progress, one at a time on this thread.
    let progress = std::cell::RefCell::new(Progress::new(Some(set.len()), args.json));
    let mut summary = SweepSummary { implementation, ..SweepSummary::default() };
    // Results are counted in seed order (a few wait here for a slower seed below them), so that
    // a sweep stopped early counts exactly the seeds below some point, whatever the threads did.
    let mut waiting: BTreeMap<u64, SeedResult> = BTreeMap::new();
    let mut counted = 0u64;
    let mut lowest_failure: Option<u64> = None;
    // With --stop-when-stale: where the last seed that reached something new stands.
    let mut last_new = 0u64;
    let mut stale_stop: Option<u64> = None;
    let mut failing: Vec<SeedResult> = Vec::new();
    let mut stopped_early = None;
    run_parallel(
        set.len(),
        jobs,
        |i| {
            let seed = set.nth(i);
            let outcome = match config_from_args(seed, &args.world, scenario.as_ref()) {
                Ok(config) => match &scenario {
                    Some(s) => run_scenario(s, &config, &options),
                    None => run(&config, &options),
                },
                Err(e) => unreachable!("options validated on the first seed, but seed {seed}: {e}"),
            };
            SeedResult::from_outcome(seed, &outcome.end.config, &outcome)
        },
        |i, result| {
            progress.borrow_mut().tick(&result);
            if lowest_failure.or(stale_stop).is_some_and(|f| i > f) {
                return Flow::Continue; // above the lowest failure of a --fail-fast sweep
            }
            let failed = result.verdict.is_failure();
            waiting.insert(i, result);
            if failed && args.fail_fast {
                lowest_failure = Some(lowest_failure.map_or(i, |f| f.min(i)));
            }
            while let Some(r) = waiting.remove(&counted) {
                let reached_before = summary.points.values().filter(|p| p.seeds > 0).count();
                summary.add(&r);
                if summary.points.values().filter(|p| p.seeds > 0).count() > reached_before {
                    last_new = counted;
                }
                if r.verdict.is_failure() {
                    if failing.len() < FAILED_LISTED_MAX {
                        failing.push(r);
                    } else {
                        summary.failed_not_listed += 1;
                    }
                }
                counted += 1;
                if lowest_failure == Some(counted - 1) {
                    waiting.clear();
                    stopped_early = Some(format!(
                        "--fail-fast: seed {} failed; every seed below it ran, none above it counts",
                        set.nth(counted - 1)
                    ));
                    break;
                }
                if args.stop_when_stale.is_some_and(|n| counted > last_new + n) {
                    waiting.clear();
                    stale_stop = Some(counted - 1);
                    stopped_early = Some(format!(
                        "--stop-when-stale: the {} seeds up to seed {} reached nothing new",
                        args.stop_when_stale.unwrap_or(0),
                        set.nth(counted - 1)
                    ));
                    break;
                }
            }
            if let Some(f) = lowest_failure.or(stale_stop) {
                return Flow::StopAbove(f);
            }
            if args.time_budget.is_some_and(|b| started.elapsed() >= b) {
                stopped_early =
                    Some("--time-budget reached (the seeds run depend on the machine)".to_string());
                return Flow::Stop;
            }
            Flow::Continue
        },
        |running| progress.borrow_mut().slow(running, &set),
    );
    progress.borrow().finish();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    conclude(
        args,
        summary,
        &failing,
        Ended { set, scenario: scenario.as_ref(), wall_ms, jobs, stopped_early },
    )
}

/// `sweep --guided`: runs planned in batches by [`Explorer`], taken in plan order.
fn guided_sweep(args: &SweepArgs, set: SeedSet, scenario: Option<&Scenario>, guide: Guide) -> i32 {
    let jobs = args.jobs.map_or_else(crate::pool::cores, |j| j as usize);
    let options = RunOptions { skip_availability: true, ..args.exec.options() };
    let started = Instant::now();
    let progress = std::cell::RefCell::new(Progress::new(None, args.json));
    let mut explorer = Explorer::new(set, set.len(), guide);
    let mut summary = SweepSummary::default();
    let mut failing: Vec<SeedResult> = Vec::new();
    let mut stopped_early = None;
    let (mut counted, mut last_new) = (0u64, 0u64);
    'batches: loop {
        let batch = explorer.next_batch();
        if batch.is_empty() {
            break;
        }
        let results = run_batch(
            &batch,
            jobs,
            |group| {
                let first = &group[0];
                let world = run_world(args, &first.branch.to_string());
                let config = match config_from_args(first.seed, &world, scenario) {
                    Ok(config) => config,
                    Err(e) => {
                        unreachable!("options validated on the first seed, but seed {}: {e}", first.seed)
                    }
                };
                run_family(&config, scenario, group, &options)
                    .into_iter()
                    .map(|(task, outcome, cost)| {
                        let result = SeedResult::from_outcome(first.seed, &outcome.end.config, &outcome);
                        (task, (result, cost, outcome.summary.fault_phase_events))
                    })
                    .collect()
            },
            |running| {
                let seeds: crate::pool::Running =
                    running.iter().map(|&(i, since)| (batch[i as usize].seed, since)).collect();
                progress.borrow_mut().slow_seeds(&seeds);
            },
        );
        for (task, (r, cost, fault_end)) in results {
            progress.borrow_mut().tick(&r);
            if explorer.absorb(&task, &r.points, cost, fault_end) > 0 {
                last_new = counted;
            }
            summary.add(&r);
            counted += 1;
            let failed = r.verdict.is_failure();
            if failed {
                if failing.len() < FAILED_LISTED_MAX {
                    failing.push(r);
                } else {
                    summary.failed_not_listed += 1;
                }
            }
            if failed && args.fail_fast {
                stopped_early = Some(format!(
                    "--fail-fast: run {counted} (seed {}{}) failed; the runs planned after it do not count",
                    task.seed,
                    branch_words(&task.branch.to_string())
                ));
                break 'batches;
            }
            if args.stop_when_stale.is_some_and(|n| counted > last_new + n) {
                stopped_early = Some(format!(
                    "--stop-when-stale: the {} runs up to run {counted} reached nothing new",
                    args.stop_when_stale.unwrap_or(0)
                ));
                break 'batches;
            }
        }
    }
    progress.borrow().finish();
    summary.guided = Some(explorer.stats.clone());
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    conclude(args, summary, &failing, Ended { set, scenario, wall_ms, jobs, stopped_early })
}

fn branch_words(branch: &str) -> String {
    if branch.is_empty() {
        String::new()
    } else {
        format!(", branch {branch}")
    }
}

/// How a sweep ended, for [`conclude`].
struct Ended<'a> {
    set: SeedSet,
    scenario: Option<&'a Scenario>,
    wall_ms: f64,
    jobs: usize,
    stopped_early: Option<String>,
}

/// The world options of one run of the sweep: the sweep's, on the run's branch.
fn run_world(args: &SweepArgs, branch: &str) -> super::WorldArgs {
    let mut world = args.world.clone();
    if !branch.is_empty() {
        world.branch = branch.parse().ok();
    }
    world
}

/// Writes the failing runs' reports, finishes, prints and pages the summary; the exit code.
fn conclude(args: &SweepArgs, mut summary: SweepSummary, failing: &[SeedResult], end: Ended<'_>) -> i32 {
    let Ended { set, scenario, wall_ms, jobs, stopped_early } = end;
    let options = args.exec.options();
    // Reports for the failing runs, lowest seeds first, up to the cap.
    for (i, r) in failing.iter().enumerate() {
        let world = run_world(args, &r.branch);
        let replay = replay_command(r.seed, &world);
        let mut report_dir = None;
        if (i as u64) < args.max_reports {
            if let Ok(config) = config_from_args(r.seed, &world, scenario) {
                let ctx = ReportContext { config: &config, scenario, command: replay.clone() };
                // A run cut short by the wall clock is not reproducible; the others must be.
                let expected =
                    (r.check.as_deref() != Some("run-time-limit")).then_some(r.trace_hash.as_str());
                match report::write(&args.reports, &ctx, expected, &options) {
                    Ok((dir, _)) => report_dir = Some(dir.display().to_string()),
                    Err(e) => eprintln!("raftsim sweep: seed {}: no report: {e}", r.seed),
                }
            }
        }
        summary.add_failed(Failed {
            seed: r.seed,
            branch: r.branch.clone(),
            verdict: r.verdict,
            check: r.check.clone(),
            reason: r.reason.clone(),
            replay,
            report: report_dir,
        });
    }
    summary.finish();
    summary.seed_sets = vec![set];
    summary.scenario = scenario.map(|s| s.name.clone());
    summary.bugs.clone_from(&args.world.bugs);
    summary.options = world_options(&args.world).trim().to_string();
    summary.wall_ms = wall_ms;
    summary.wall_ms_total = wall_ms;
    summary.jobs = jobs;
    summary.stopped_early = stopped_early;
    print_summary(&summary, args.json);
    if let Err(code) = write_html(&summary, args.html.as_deref()) {
        return code;
    }
    let unreached = summary.unreached();
    if args.require_coverage && !unreached.is_empty() {
        eprintln!(
            "raftsim sweep: --require-coverage: {} points were never reached: {}",
            unreached.len(),
            unreached.join("; ")
        );
        return 1;
    }
    i32::from(summary.passed != summary.seeds)
}

/// Warns when the clients cannot issue `--ops` operations in the fault phase: each client has
/// one call at a time and paces itself, so a budget well beyond that (a fifth more) is never
/// reached.
pub fn warn_if_ops_exceed_capacity(config: &crate::config::SimConfig) {
    if let Some(most) = crate::client::issuable_ops(config) {
        if most.saturating_mul(5) / 4 < config.workload.ops {
            eprintln!(
                "raftsim: warning: {} clients can issue only about {} of the {} operations asked in a {} fault phase \
                 (one call at a time each, about {} apiece on a healthy cluster); the summary counts those issued",
                config.workload.clients,
                limits::grouped(most),
                limits::grouped(config.workload.ops),
                crate::config::ms(config.duration_ns),
                crate::config::ms(crate::client::typical_call_ns(config))
            );
        }
    }
}

/// Reads and merges shards' summaries; the error is the message to print (exit 2).
pub fn prepare_merge(files: &[PathBuf]) -> Result<SweepSummary, String> {
    let mut parts = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = limits::read_file(path)?;
        // A summary is the last line of a sweep's `--json` output.
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut json = serde_json::Deserializer::from_str(last);
        let summary = serde_path_to_error::deserialize::<_, SweepSummary>(&mut json).map_err(|e| {
            let at = e.path().to_string();
            let at = if at == "." { String::new() } else { format!("field {at}: ") };
            format!(
                "{name}: not a sweep summary (the last line of `raftsim sweep --json`): {at}{}",
                e.inner()
            )
        })?;
        parts.push((name, summary));
    }
    SweepSummary::merge(parts)
}

/// Writes the sweep's page if asked to; on failure says so and gives the exit code (2).
fn write_html(summary: &SweepSummary, path: Option<&std::path::Path>) -> Result<(), i32> {
    let Some(path) = path else { return Ok(()) };
    match crate::sweep_page::write(summary, path) {
        Ok(()) => {
            eprintln!("raftsim sweep: page written to {}", path.display());
            Ok(())
        }
        Err(e) => {
            eprintln!("raftsim sweep: {e}");
            Err(2)
        }
    }
}

fn merge_command(files: &[PathBuf], json: bool, html: Option<&std::path::Path>) -> i32 {
    match prepare_merge(files) {
        Ok(summary) => {
            print_summary(&summary, json);
            if let Err(code) = write_html(&summary, html) {
                return code;
            }
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
        "sweep ({}): {} {}, {} passed, {} failed [{}]",
        s.implementation,
        s.seeds,
        s.unit(),
        s.passed,
        s.seeds.saturating_sub(s.passed),
        verdicts.join(", ")
    );
    if let Some(g) = &s.guided {
        let _ = writeln!(
            out,
            "guided: {} root seeds and {} branches run (the deepest {} forks down); branches planned at new points {}, \
             at rare points {}, at hazards {}, at the end of a fault phase {}; still waiting when the budget ran out {}, \
             dropped from a full queue {}",
            g.roots,
            g.branches,
            g.deepest,
            g.planned_new,
            g.planned_rare,
            g.planned_hazard,
            g.planned_liveness,
            g.unrun,
            g.dropped
        );
        if !g.guide.is_empty() {
            let _ = writeln!(out, "guided with --guide {}", g.guide);
        }
    }
    if let Some(why) = &s.stopped_early {
        let _ = writeln!(out, "stopped early: {why}");
    }
    if s.failed_not_listed > 0 {
        let _ = writeln!(
            out,
            "  (the first {} failing seeds are listed; {} more are counted)",
            s.failed.len(),
            s.failed_not_listed
        );
    }
    for f in &s.failed {
        let _ = writeln!(out, "  seed {}{}: {} {}", f.seed, branch_words(&f.branch), f.verdict, f.reason);
        let _ = writeln!(out, "    replay: {}", f.replay);
        if let Some(r) = &f.report {
            let _ = writeln!(out, "    report: {r}");
        }
    }
    if s.storage.injected() + s.storage.fsync_failures > 0 {
        let _ = writeln!(out, "{}", s.storage.to_text());
    }
    let _ = writeln!(out, "coverage (seeds where it happened / seeds whose configuration enabled it):");
    for (kind, c) in &s.coverage {
        let _ = writeln!(out, "  {kind:<48} {:>6} / {}", c.fired_seeds, c.enabled_seeds);
    }
    let reached = s.points.values().filter(|p| p.seeds > 0).count();
    let _ = writeln!(
        out,
        "coverage points: {reached} of {} reached (seeds that reached it, the first; (rare) not expected in every sweep):",
        s.points.len()
    );
    for (name, p) in &s.points {
        let first = p.first_seed.map_or("-".to_string(), |f| {
            format!("seed {f}{}", branch_words(p.first_branch.as_deref().unwrap_or("")))
        });
        let rare = if p.unreachable {
            format!(" (never on {}: {})", s.implementation, unreachable_reason(name, s.implementation))
        } else if p.rare {
            " (rare)".to_string()
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {name:<70} {:>6}  {first}{rare}", p.seeds);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "{}", s.figures());
}

/// A progress bar on a terminal; plain lines every few seconds otherwise. Seeds that run long
/// are named, on a terminal or not.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Seeds to run; None for a guided sweep, whose runs (roots and branches) are planned as
    /// it goes within a budget of work.
    total: Option<u64>,
    done: u64,
    failed: u64,
    started: Instant,
    last_line: Instant,
    quiet: bool,
    /// For each slow seed named, how many `SLOW_SEED` periods it had run when last named.
    named: BTreeMap<u64, u32>,
}

impl Progress {
    fn new(total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let (bar, template) = match total {
                Some(total) => (
                    indicatif::ProgressBar::new(total),
                    "{bar:40} {pos}/{len} seeds, {msg} [{elapsed_precise}, ETA {eta}, {per_sec}]",
                ),
                None => {
                    (indicatif::ProgressBar::no_length(), "{pos} runs, {msg} [{elapsed_precise}, {per_sec}]")
                }
            };
            let style = indicatif::ProgressStyle::with_template(template);
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            total,
            done: 0,
            failed: 0,
            started: now,
            last_line: now,
            quiet,
            named: BTreeMap::new(),
        }
    }

    fn tick(&mut self, r: &SeedResult) {
        self.done += 1;
        self.named.remove(&r.seed);
        if r.verdict.is_failure() {
            self.failed += 1;
        }
        let msg = format!("{} passed, {} failed", self.done - self.failed, self.failed);
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            bar.inc(1);
            if r.verdict.is_failure() {
                bar.println(format!("seed {}: {} {}", r.seed, r.verdict, r.reason));
            }
        } else if !self.quiet
            && (self.last_line.elapsed() >= Duration::from_secs(5) || Some(self.done) == self.total)
        {
            self.last_line = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            match self.total {
                Some(total) => eprintln!("{}/{total} seeds, {msg}, {rate:.0} seeds/s", self.done),
                None => eprintln!("{} runs, {msg}, {rate:.0} runs/s", self.done),
            }
        }
    }

    /// Names every seed that has run for another `SLOW_SEED` since it was last named.
    fn slow(&mut self, running: &crate::pool::Running, set: &SeedSet) {
        let seeds: crate::pool::Running = running.iter().map(|&(i, since)| (set.nth(i), since)).collect();
        self.slow_seeds(&seeds);
    }

    /// Names the seeds (given as seeds, not as items of the set) running for long.
    fn slow_seeds(&mut self, running: &crate::pool::Running) {
        for &(seed, since) in running {
            let periods = (since.elapsed().as_secs() / SLOW_SEED.as_secs()) as u32;
            if periods == 0 || self.named.get(&seed).is_some_and(|p| *p >= periods) {
                continue;
            }
            self.named.insert(seed, periods);
            let line = format!(
                "seed {seed} has been running for {} s (each run ends by its event budget or --run-time-limit)",
                since.elapsed().as_secs()
            );
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
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

/// Why the implementation can never reach the named point (see `Point::unreachable_on`).
fn unreachable_reason(name: &str, implementation: Implementation) -> &'static str {
    crate::coverage::Point::ALL
        .iter()
        .find(|p| p.name() == name)
        .and_then(|p| p.unreachable_on(implementation))
        .unwrap_or("by its design")
}
