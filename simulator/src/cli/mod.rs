//! The `raftsim` command line.

use std::io::Write;
use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::limits;

mod bench_cmd;
mod coverage_cmd;
mod explain_cmd;
mod exploration_bench;
mod hazard_bench;
mod replay_cmd;
mod run_cmd;
mod selftest_cmd;
mod shrink_cmd;
mod sweep_cmd;

pub use sweep_cmd::prepare_merge;

/// Deterministic simulation of a Raft-replicated KV store: one seed, one run, one verdict.
#[derive(Parser, Debug)]
#[command(name = "raftsim", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `raftsim --seed N` is the same as `raftsim run --seed N`.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one seed and print its verdict.
    Run(RunArgs),
    /// Check a history file for linearizability.
    Check(checker::cli::CheckArgs),
    /// Prove the checks work: hunt each planted bug until a check catches it.
    Selftest(selftest_cmd::SelftestArgs),
    /// Run many seeds on all cores (shardable with --shard K/N); `sweep merge` joins shards.
    Sweep(sweep_cmd::SweepCommand),
    /// Shrink a failing run (a seed, or a report folder) to a small scenario that fails the same way.
    Shrink(shrink_cmd::ShrinkArgs),
    /// Measure the simulator and the checker on fixed workloads.
    Bench(bench_cmd::BenchArgs),
    /// Rerun a reported run (reports/<dir>) and confirm it takes the same path.
    Replay(replay_cmd::ReplayArgs),
    /// When did a reported failure become certain? Fork its run at points before the failure
    /// and count the fresh continuations that still fail the same way.
    Explain(explain_cmd::ExplainArgs),
    /// Show which behaviours of the coverage catalogue one run reached.
    Coverage(coverage_cmd::CoverageArgs),
    /// List the planted bugs of the self-test.
    Bugs {
        /// Print a JSON list instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Options of one run.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// The root seed: the same seed (and options) replays the same run, bit for bit.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub world: WorldArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Where a failing run writes its report folder.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Do not write a report when the run fails.
    #[arg(long)]
    pub no_report: bool,
    /// Write every event of the run as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print one JSON object instead of the text summary.
    #[arg(long)]
    pub json: bool,
    /// Write the faults and workload this run realized as a scenario file that replays it.
    #[arg(long, value_name = "FILE")]
    pub export_scenario: Option<PathBuf>,
    /// Run the seed twice and compare the trace hash after every event.
    #[arg(long)]
    pub check_determinism: bool,
}

/// How runs execute, without changing what they simulate: the wall-clock limits (the only
/// machine-dependent way a run can end, a last resort behind the deterministic event budget,
/// `--max-events`) and the linearizability cross-check.
#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// End a run that takes longer than this wall time, the check included, as `inconclusive`
    /// (1ms to 24h).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_wall_limit)]
    pub run_time_limit: Duration,
    /// Wall-time limit of the linearizability check alone, e.g. 10s (1ms to 24h; default: what
    /// is left of --run-time-limit).
    #[arg(long, value_name = "DURATION", value_parser = parse_wall_limit)]
    pub check_time_limit: Option<Duration>,
    /// Decide linearizability both ways, from the run's witness and by the full search, and
    /// fail the run (verdict checker-disagreement) if they disagree.
    #[arg(long)]
    pub cross_check: bool,
}

impl Default for ExecArgs {
    fn default() -> ExecArgs {
        ExecArgs { run_time_limit: Duration::from_secs(60), check_time_limit: None, cross_check: false }
    }
}

impl ExecArgs {
    /// Run options with these limits.
    #[must_use]
    pub fn options(&self) -> crate::run::RunOptions {
        crate::run::RunOptions {
            run_time_limit: Some(self.run_time_limit),
            check_time_limit: self.check_time_limit,
            cross_check: self.cross_check,
            ..crate::run::RunOptions::default()
        }
    }
}

/// What a seed runs: its random configuration (or a calm one, or a scenario), adjusted. Shared
/// by every command that runs seeds. Ranges: see `limits.rs` and the README.
#[derive(Args, Debug, Clone, Default)]
pub struct WorldArgs {
    /// Servers in the cluster, 1 to 32 (default: 5).
    #[arg(long, value_parser = limits::flag_range(1, limits::NODES_MAX))]
    pub nodes: Option<u64>,
    /// Concurrent clients, 0 to 4096 (default: 5).
    #[arg(long, value_parser = limits::flag_range(0, limits::CLIENTS_MAX))]
    pub clients: Option<u64>,
    /// Client operations in all, 0 to 1000000 (default: 1000).
    #[arg(long, value_parser = limits::flag_range(0, limits::OPS_MAX))]
    pub ops: Option<u64>,
    /// Length of the fault phase in virtual time, e.g. 10s or 500ms, at most 24h (default: 10s).
    #[arg(long, value_parser = parse_phase_duration)]
    pub duration: Option<u64>,
    /// The run's event budget: past it the run fails (verdict liveness, check event-budget),
    /// 1 to 100000000000 (default: scaled to the configuration and the simulated time).
    #[arg(long, value_name = "N", value_parser = limits::flag_range(1, limits::MAX_EVENTS_MAX))]
    pub max_events: Option<u64>,
    /// No random faults and a reliable network: a calm cluster.
    #[arg(long)]
    pub calm: bool,
    /// Draw each seed's configuration from a fixed base instead of the swarm: crashes (the
    /// calm cluster with 1% message loss, a snapshot every 10 entries and crashes only) or
    /// quiet (the same with two clients); swarm is the default. These are the bases of
    /// `raftsim bench exploration --base`, whose catches replay with it.
    #[arg(long, value_name = "NAME", value_parser = parse_base, conflicts_with_all = ["calm", "scenario"])]
    pub base: Option<crate::selftest::Base>,
    /// Run a branch of the seed: at each EVENT.FORK of the path (e.g. 1200.3/5400.1) the run
    /// goes on with fresh randomness derived from the seed and the path (see `raftsim explain`
    /// and `sweep --guided`, which name their branches so). A path may end with a horizon,
    /// `+20ms`: the fault phase then ends that long after the last fork, the liveness phase is
    /// skipped and the run is judged on what it did until then.
    #[arg(long, value_name = "PATH")]
    pub branch: Option<crate::branch::BranchPath>,
    /// Run a scenario file (see scenarios/README.md) instead of the seed's random configuration.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Snapshot every N applied entries, whatever the seed drew (or the scenario says).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "no_snapshots")]
    pub snapshot_every: Option<u64>,
    /// No snapshots: logs grow for the whole run, whatever the seed drew.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Switch on a planted bug (see `raftsim bugs`); may be repeated. A bug on a read path
    /// switches that path on (as the self-test hunts it): read-before-confirm reads by
    /// ReadIndex, lease-ignores-drift by lease with clocks drifting at the bound.
    #[arg(long = "bug", value_name = "NAME", value_parser = parse_bug)]
    pub bugs: Vec<String>,
    /// How servers answer reads: log (default), read-index or lease, whatever the seed drew.
    #[arg(long, value_name = "PATH", value_parser = crate::config::ReadPathName::parse)]
    pub read_path: Option<crate::config::ReadPathName>,
    /// The Raft implementation in every server: raft-core (this workspace's) or raft-rs
    /// (tikv/raft-rs 0.7); default: the scenario's, else raft-core.
    #[arg(long = "impl", value_name = "NAME", value_parser = parse_implementation)]
    pub implementation: Option<crate::config::Implementation>,
    /// Storage faults, whatever the seed drew: `off`; `within-budget` (every kind of damage to
    /// crashed nodes' disks and failed fsyncs, never more than the recovery rules survive, with
    /// crashes switched on if the seed drew none); `beyond-budget` (the same without the budget:
    /// a run that then fails is reported as unrecoverable by design, with what was destroyed).
    #[arg(long, value_name = "MODE")]
    pub storage_faults: Option<StorageFaultsMode>,
}

/// `--storage-faults`.
#[derive(clap::ValueEnum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum StorageFaultsMode {
    Off,
    WithinBudget,
    BeyondBudget,
}

impl StorageFaultsMode {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StorageFaultsMode::Off => "off",
            StorageFaultsMode::WithinBudget => "within-budget",
            StorageFaultsMode::BeyondBudget => "beyond-budget",
        }
    }

    /// Applies the mode to a configuration.
    pub fn apply(self, config: &mut crate::config::SimConfig) {
        use crate::config::{CrashFaults, StorageFaults, NS_PER_MS, NS_PER_SEC};
        if self == StorageFaultsMode::Off {
            config.faults.storage = None;
            return;
        }
        let mut storage = config.faults.storage.clone().unwrap_or_else(|| StorageFaults::all(500_000, 2_000));
        storage.beyond_budget = self == StorageFaultsMode::BeyondBudget;
        config.faults.storage = Some(storage);
        if config.faults.crash.is_none() {
            let election_ns = u64::from(config.cluster.election_ticks_max) * config.cluster.tick_ns;
            config.faults.crash = Some(CrashFaults {
                every_ns_min: 300 * NS_PER_MS,
                every_ns_max: 2 * NS_PER_SEC,
                down_ns_min: 10 * NS_PER_MS,
                down_ns_max: election_ns * 2,
                leader_ppm: 300_000,
                new_leader_ppm: 0,
                new_leader_delay_ns_max: 0,
                snapshot_write_ppm: 0,
            });
        }
    }
}

/// Runs the command line; returns the process exit code.
#[must_use]
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    crate::run::capture_panics_quietly();
    match cli.command {
        None => run_cmd::run_command(&cli.run),
        Some(Command::Run(args)) => run_cmd::run_command(&args),
        Some(Command::Check(args)) => checker::cli::run_check_command(&args),
        Some(Command::Bugs { json }) => bugs_command(json),
        Some(Command::Coverage(args)) => coverage_cmd::coverage_command(&args),
        Some(Command::Selftest(args)) => selftest_cmd::selftest_command(&args),
        Some(Command::Replay(args)) => replay_cmd::replay_command(&args),
        Some(Command::Explain(args)) => explain_cmd::explain_command(&args),
        Some(Command::Sweep(cmd)) => sweep_cmd::sweep_command(&cmd),
        Some(Command::Bench(args)) => bench_cmd::bench_command(&args),
        Some(Command::Shrink(args)) => shrink_cmd::shrink_command(&args),
    }
}

/// Parses a command line and checks everything its command checks before it runs anything
/// (numbers, files, scenarios, reports, summaries), without running it. Commands validate
/// through the same functions, so this is what bad input meets; the fuzz tests drive it.
pub fn dry_run<I, T>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    match &cli.command {
        None => run_cmd::prepare(&cli.run).map(drop),
        Some(Command::Run(args)) => run_cmd::prepare(args).map(drop),
        Some(Command::Sweep(cmd)) => match &cmd.merge {
            Some(sweep_cmd::SweepSub::Merge { files, .. }) => sweep_cmd::prepare_merge(files).map(drop),
            None => sweep_cmd::prepare(&cmd.args).map(drop),
        },
        Some(Command::Shrink(args)) => shrink_cmd::prepare(args).map(drop),
        Some(Command::Coverage(args)) => run_cmd::prepare(&args.run).map(drop),
        Some(Command::Replay(args)) => crate::report::load(&args.dir).map(drop),
        Some(Command::Explain(args)) => crate::report::load(&args.dir).map(drop),
        Some(Command::Check(_) | Command::Selftest(_) | Command::Bench(_) | Command::Bugs { .. }) => Ok(()),
    }
}

fn bugs_command(json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = raft_host::Bug::every()
            .map(|b| serde_json::json!({ "name": b.name(), "description": b.description() }))
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(list));
    } else {
        for b in raft_host::Bug::every() {
            let _ = writeln!(out, "{:<30} {}", b.name(), b.description());
        }
    }
    0
}

pub(crate) fn parse_implementation(name: &str) -> Result<crate::config::Implementation, String> {
    name.parse()
}

fn parse_base(name: &str) -> Result<crate::selftest::Base, String> {
    name.parse()
}

fn parse_bug(name: &str) -> Result<String, String> {
    name.parse::<raft_host::Bug>().map(|b| b.name().to_string())
}

/// A simulated phase: a duration of at most 24 hours.
fn parse_phase_duration(text: &str) -> Result<u64, String> {
    let ns = crate::config::parse_sim_duration(text)?;
    if ns > limits::SIM_NS_MAX {
        return Err(format!("expected at most 24h of simulated time, found {text:?}"));
    }
    Ok(ns)
}

/// A wall-clock limit: 1 ms to 24 h.
fn parse_wall_limit(text: &str) -> Result<Duration, String> {
    let d = checker::cli::parse_duration(text)?;
    let ms = d.as_millis();
    if ms < u128::from(limits::WALL_LIMIT_MS_MIN) || ms > u128::from(limits::WALL_LIMIT_MS_MAX) {
        return Err(format!("expected 1ms to 24h, found {text:?}"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_seed_flag_means_run() {
        let cli = Cli::try_parse_from(["raftsim", "--seed", "7", "--nodes", "3"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.run.seed, 7);
        assert_eq!(cli.run.world.nodes, Some(3));
        let cli = Cli::try_parse_from(["raftsim", "run", "--seed", "7"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Run(RunArgs { seed: 7, .. }))));
    }

    #[test]
    fn snapshot_options_parse_and_exclude_each_other() {
        let cli = Cli::try_parse_from(["raftsim", "--seed", "7", "--snapshot-every", "10"]).expect("parses");
        assert_eq!(cli.run.world.snapshot_every, Some(10));
        assert!(Cli::try_parse_from(["raftsim", "--snapshot-every", "0"]).is_err());
        assert!(Cli::try_parse_from(["raftsim", "--snapshot-every", "5", "--no-snapshots"]).is_err());
    }

    #[test]
    fn unknown_flags_and_bugs_are_usage_errors() {
        assert!(Cli::try_parse_from(["raftsim", "--sede", "7"]).is_err());
        assert!(Cli::try_parse_from(["raftsim", "--bug", "no-such-bug"]).is_err());
    }
}
