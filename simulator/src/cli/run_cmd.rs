//! `raftsim run`: one seed, one verdict.

use std::io::Write;

use super::RunArgs;
use crate::config::SimConfig;
use crate::run::{run, RunOptions};

/// The configuration a set of run options describes: the seed's swarm draw (or a calm cluster),
/// then the explicit overrides.
pub fn config_from_args(args: &RunArgs) -> Result<SimConfig, String> {
    let mut config = if args.calm { SimConfig::calm(args.seed) } else { SimConfig::swarm(args.seed) };
    if let Some(n) = args.nodes {
        config.cluster.nodes = n;
    }
    if let Some(c) = args.clients {
        config.workload.clients = c;
    }
    if let Some(ops) = args.ops {
        config.workload.ops = ops;
    }
    if let Some(d) = args.duration {
        config.duration_ns = d;
    }
    config.bugs.clone_from(&args.bugs);
    config.validate()?;
    Ok(config)
}

/// The command line that replays a run with these options.
#[must_use]
pub fn replay_command(args: &RunArgs) -> String {
    let mut cmd = format!("cargo run --release -- --seed {}", args.seed);
    if let Some(n) = args.nodes {
        cmd += &format!(" --nodes {n}");
    }
    if let Some(c) = args.clients {
        cmd += &format!(" --clients {c}");
    }
    if let Some(o) = args.ops {
        cmd += &format!(" --ops {o}");
    }
    if let Some(d) = args.duration {
        cmd += &format!(" --duration {}ms", d / 1_000_000);
    }
    if args.calm {
        cmd += " --calm";
    }
    for b in &args.bugs {
        cmd += &format!(" --bug {b}");
    }
    cmd
}

pub fn run_command(args: &RunArgs) -> i32 {
    let config = match config_from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("raftsim: invalid options: {e}");
            return 2;
        }
    };
    let options = RunOptions {
        trace_lines: args.trace.is_some(),
        checkpoints: args.check_determinism,
        check_time_limit: args.check_time_limit,
        stop_after_events: None,
    };
    let banner = config.banner();
    if args.json {
        eprintln!("{banner}");
    } else {
        println!("{banner}");
    }
    let outcome = run(&config, &options);
    if let Some(path) = &args.trace {
        if let Err(e) = std::fs::write(path, &outcome.trace_lines) {
            eprintln!("raftsim: cannot write the trace to {}: {e}", path.display());
            return 2;
        }
    }
    if args.check_determinism {
        let again = run(&config, &options);
        if let Some(diverged) = crate::determinism::first_divergence(&outcome.checkpoints, &again.checkpoints)
        {
            let detail = crate::determinism::describe_divergence(&config, diverged);
            eprintln!("raftsim: NONDETERMINISM: seed {} diverged at event {diverged}\n{detail}", config.seed);
            return 1;
        }
        if !args.json {
            println!("determinism: two runs agree on all {} events", outcome.checkpoints.len());
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&outcome.summary).unwrap_or_default();
        value["replay"] = serde_json::Value::String(replay_command(args));
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(out, "{}", outcome.summary.to_text());
        if outcome.verdict != crate::run::Verdict::Pass {
            let _ = writeln!(out, "replay: {}", replay_command(args));
        }
    }
    outcome.verdict.exit_code()
}
