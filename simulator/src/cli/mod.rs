//! The `raftsim` command line.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod bench_cmd;
mod replay_cmd;
mod run_cmd;
mod selftest_cmd;
mod shrink_cmd;
mod sweep_cmd;

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
    /// Wall-time limit of the linearizability check, e.g. 10s (default: none).
    #[arg(long, value_parser = checker::cli::parse_duration)]
    pub check_time_limit: Option<std::time::Duration>,
}

/// What a seed runs: its random configuration (or a calm one, or a scenario), adjusted. Shared
/// by every command that runs seeds.
#[derive(Args, Debug, Clone, Default)]
pub struct WorldArgs {
    /// Servers in the cluster (default: 5).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Concurrent clients (default: 5).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Client operations in all (default: 1000).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Length of the fault phase in virtual time, e.g. 10s or 500ms (default: 10s).
    #[arg(long, value_parser = parse_sim_duration)]
    pub duration: Option<u64>,
    /// No random faults and a reliable network: a calm cluster.
    #[arg(long)]
    pub calm: bool,
    /// Run a scenario file (see scenarios/README.md) instead of the seed's random configuration.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Snapshot every N applied entries, whatever the seed drew (or the scenario says).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "no_snapshots")]
    pub snapshot_every: Option<u64>,
    /// No snapshots: logs grow for the whole run, whatever the seed drew.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Switch on a planted bug (see `raftsim bugs`); may be repeated.
    #[arg(long = "bug", value_name = "NAME", value_parser = parse_bug)]
    pub bugs: Vec<String>,
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
        Some(Command::Selftest(args)) => selftest_cmd::selftest_command(&args),
        Some(Command::Replay(args)) => replay_cmd::replay_command(&args),
        Some(Command::Sweep(cmd)) => sweep_cmd::sweep_command(&cmd),
        Some(Command::Bench(args)) => bench_cmd::bench_command(&args),
        Some(Command::Shrink(args)) => shrink_cmd::shrink_command(&args),
    }
}

fn bugs_command(json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = raft_core::Bug::ALL
            .iter()
            .map(|b| serde_json::json!({ "name": b.name(), "description": b.description() }))
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(list));
    } else {
        for b in raft_core::Bug::ALL {
            let _ = writeln!(out, "{:<28} {}", b.name(), b.description());
        }
    }
    0
}

fn parse_bug(name: &str) -> Result<String, String> {
    name.parse::<raft_core::Bug>().map(|b| b.name().to_string())
}

/// Parses a virtual-time duration into integer nanoseconds: `250ms`, `10s`, `2m`, `1500us`.
/// Integers only, so that no floating point reaches a run.
pub fn parse_sim_duration(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 =
        number.parse().map_err(|_| format!("expected a duration such as 10s or 500ms, found {text:?}"))?;
    let scale = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" | "" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => return Err(format!("expected a unit among ns, us, ms, s, m, found {unit:?}")),
    };
    value.checked_mul(scale).ok_or_else(|| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_durations_parse_to_integer_nanoseconds() {
        assert_eq!(parse_sim_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_sim_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_sim_duration("3"), Ok(3_000_000_000));
        assert!(parse_sim_duration("1.5s").is_err());
        assert!(parse_sim_duration("5 parsecs").is_err());
        assert!(parse_sim_duration("99999999999999m").is_err());
    }

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
