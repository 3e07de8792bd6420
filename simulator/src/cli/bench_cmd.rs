//! `raftsim bench`: how fast the simulator and the checker are.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::bench::{bench_checker, bench_workload, workloads, BenchRow};
use crate::config::Implementation;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// What to run: all (default), sim, check, or one workload (default, calm-3-nodes,
    /// storm-7-nodes, long-10x, long-10x-compaction, long-100x-compaction,
    /// long-100x-no-compaction); or `exploration` (not in all: minutes): guided exploration
    /// against plain seeds, runs and events to catch each planted bug, and catalogue points
    /// reached by the same number of runs; or `hazard` (not in all): branches forked where
    /// root seeds first reached one point (`--point`) against fresh seeds, failures and work
    /// per failure for one planted bug (`--bug`).
    #[arg(default_value = "all")]
    pub what: String,
    /// Fewer seeds per workload: a smoke test, not a measurement.
    #[arg(long)]
    pub quick: bool,
    /// A directory of histories to check instead of Porcupine's KV and etcd histories shipped
    /// with the checker (repeatable).
    #[arg(long, value_name = "DIR")]
    pub checker_dir: Vec<PathBuf>,
    /// `bench exploration`: hunts per bug and mode, from different starting seeds (1 to 1000).
    #[arg(long, default_value_t = 3, value_parser = crate::limits::flag_range(1, 1000))]
    pub trials: u64,
    /// `bench exploration`: runs a hunt may spend before the bug counts as missed (1 to 100000).
    #[arg(long, default_value_t = 300, value_parser = crate::limits::flag_range(1, 100_000))]
    pub budget: u64,
    /// `bench exploration`: runs of the coverage comparison, plain seeds against guided
    /// (1 to 1000000).
    #[arg(long, default_value_t = 2_000, value_parser = crate::limits::flag_range(1, 1_000_000))]
    pub coverage_runs: u64,
    /// `bench exploration`: the configuration both modes draw their root seeds from: swarm
    /// (default: `SimConfig::swarm`, as `sweep` and `selftest` use), crashes (one fixed
    /// configuration: the calm cluster with 1% loss, snapshots and crashes only, where the
    /// hardest planted bugs take tens of runs) or quiet (crashes with two clients instead of
    /// five, where stale reads, Figure 8 and late snapshots take tens to hundreds of runs).
    #[arg(long, value_name = "NAME", default_value = "swarm")]
    pub base: String,
    /// `bench exploration`: change the guided mode's knobs, as `name=value,...` (batch, new,
    /// rare, hazard, horizon (ms; 0: none), below, share, pair, sixteenths, hazards, depth,
    /// warm, back, queue, live; see `guided.rs`); default: what `sweep --guided` uses.
    #[arg(long, value_name = "KNOBS", default_value = "")]
    pub guide: String,
    /// `bench exploration`: only these planted bugs (default: all).
    #[arg(long = "bug", value_name = "NAME", value_parser = super::parse_bug)]
    pub bugs: Vec<String>,
    /// `bench hazard`: the point of the coverage catalogue to fork at, by name (`raftsim
    /// coverage` lists them).
    #[arg(long, value_name = "NAME")]
    pub point: Option<String>,
    /// `bench hazard`: the root seeds, half-open (default 0..200; at most 100000 seeds).
    #[arg(long, value_name = "A..B", value_parser = crate::sweep::parse_range)]
    pub seeds: Option<(u64, u64)>,
    /// `bench hazard`: branches forked at each root's first reach of the point (1 to 1024).
    #[arg(long, default_value_t = 16, value_parser = crate::limits::flag_range(1, 1024))]
    pub branches: u64,
    /// `bench hazard`: how long each branch runs after its fork, e.g. 20ms or 1s (default: what
    /// a guided sweep gives branches at that point).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_phase_duration)]
    pub horizon: Option<u64>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Run the simulator workloads with this Raft implementation only (raft-core or raft-rs);
    /// default: each workload with every implementation, side by side.
    #[arg(long = "impl", value_name = "NAME", value_parser = super::parse_implementation)]
    pub implementation: Option<Implementation>,
}

pub fn bench_command(args: &BenchArgs) -> i32 {
    if args.what == "exploration" {
        return super::exploration_bench::exploration_bench(args);
    }
    if args.what == "hazard" {
        return super::hazard_bench::hazard_bench(args);
    }
    let all = workloads(args.quick);
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    let (sim, check) = match args.what.as_str() {
        "all" => (true, true),
        "sim" => (true, false),
        "check" => (false, true),
        name if names.contains(&name) => (true, false),
        other => {
            eprintln!(
                "raftsim bench: unknown workload {other:?}; expected all, sim, check, exploration, hazard or one of {}",
                names.join(", ")
            );
            return 2;
        }
    };
    let implementations: Vec<Implementation> =
        args.implementation.map_or_else(|| Implementation::ALL.to_vec(), |i| vec![i]);
    let mut rows: Vec<BenchRow> = Vec::new();
    if sim {
        for (name, configs) in &all {
            if args.what == "all" || args.what == "sim" || args.what == *name {
                for &implementation in &implementations {
                    if !args.json {
                        eprintln!("bench: {name} on {implementation} ({} seeds)...", configs.len());
                    }
                    rows.push(bench_workload(name, configs, implementation));
                }
            }
        }
    }
    let mut check_rows = Vec::new();
    if check {
        let dirs =
            if args.checker_dir.is_empty() { default_checker_dirs() } else { args.checker_dir.clone() };
        let min_total = if args.quick { Duration::from_millis(100) } else { Duration::from_secs(1) };
        match bench_checker(&dirs, min_total, args.quick) {
            Ok(r) => check_rows = r,
            Err(e) => {
                eprintln!("raftsim bench: {e}");
                return 2;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let checks: Vec<serde_json::Value> = check_rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "file": r.file, "operations": r.operations, "parts": r.parts,
                    "verdict": format!("{:?}", r.verdict), "check_ms_median": r.check_ms_median,
                    "check_ms_min": r.check_ms_min, "iterations": r.iterations, "path": r.path,
                    "porcupine_ms": checker::bench::porcupine_ms(&r.file),
                })
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::json!({ "simulator": rows, "checker": checks }));
        return 0;
    }
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:>5} {:>9} {:>10} {:>12} {:>11} {:>9} {:>9} {:>8} {:>8} {:>9}",
            "workload",
            "raft",
            "seeds",
            "wall ms",
            "ms/seed",
            "events/s",
            "sim s/s",
            "seeds/s",
            "check ms",
            "peak MB",
            "entries",
            "disk KB"
        );
        for r in &rows {
            let _ = writeln!(
                out,
                "{:<24} {:<9} {:>5} {:>9.1} {:>10.2} {:>12.0} {:>11.0} {:>9.1} {:>9.3} {:>8} {:>8} {:>9.0}",
                r.workload,
                r.implementation.name(),
                r.seeds,
                r.wall_ms,
                r.wall_ms_per_seed,
                r.events_per_sec,
                r.sim_sec_per_wall_sec,
                r.seeds_per_sec,
                r.check_ms_per_seed,
                r.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                r.log_entries_held,
                r.durable_kb
            );
            if r.failed > 0 {
                let _ = writeln!(out, "  warning: {} of its seeds failed", r.failed);
            }
        }
    }
    if !check_rows.is_empty() {
        let _ = writeln!(
            out,
            "{:<44} {:>7} {:>6} {:>16} {:>9} {:>12} {:>10} {:>13} {:>8}",
            "checker history",
            "ops",
            "parts",
            "verdict",
            "path",
            "median ms",
            "min ms",
            "porcupine ms",
            "speedup"
        );
        for r in &check_rows {
            let name = PathBuf::from(&r.file)
                .file_name()
                .map_or(r.file.clone(), |n| n.to_string_lossy().to_string());
            let porcupine = checker::bench::porcupine_ms(&r.file);
            let _ = writeln!(
                out,
                "{:<44} {:>7} {:>6} {:>16} {:>9} {:>12.4} {:>10.4} {:>13} {:>8}",
                name,
                r.operations,
                r.parts,
                format!("{:?}", r.verdict),
                r.path,
                r.check_ms_median,
                r.check_ms_min,
                porcupine.map_or("-".to_string(), |ms| ms.to_string()),
                porcupine.map_or("-".to_string(), |ms| format!("{:.1}x", ms / r.check_ms_median))
            );
        }
    }
    0
}

/// `checker/testdata/porcupine-kv` and `porcupine-etcd` of the working directory, else of the
/// source tree the binary was built from.
fn default_checker_dirs() -> Vec<PathBuf> {
    let local = PathBuf::from("checker/testdata");
    let base = if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checker/testdata")
    };
    vec![base.join("porcupine-kv"), base.join("porcupine-etcd")]
}
