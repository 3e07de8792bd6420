//! `raftsim run`: one seed, one verdict.

use std::io::Write;

use super::{RunArgs, WorldArgs};
use crate::config::SimConfig;
use crate::run::{run, run_scenario, RunOptions};
use crate::scenario::Scenario;

/// The scenario the options name, if any. Errors name the file and the field.
pub fn scenario_from_args(world: &WorldArgs) -> Result<Option<Scenario>, String> {
    world.scenario.as_deref().map(|path| Scenario::load(path).map_err(|e| e.to_string())).transpose()
}

/// The configuration of `seed` that the options describe: the scenario's (or the seed's swarm
/// draw, a calm cluster or a fixed base), then the explicit overrides.
pub fn config_from_args(
    seed: u64,
    world: &WorldArgs,
    scenario: Option<&Scenario>,
) -> Result<SimConfig, String> {
    let mut config = match scenario {
        Some(s) => s.config(seed).map_err(|e| e.to_string())?,
        None if world.calm => SimConfig::calm(seed),
        None => world.base.unwrap_or_default().config(seed),
    };
    if let Some(n) = world.nodes {
        config.cluster.nodes = n as usize;
    }
    if let Some(c) = world.clients {
        config.workload.clients = c as usize;
    }
    if let Some(max) = world.max_events {
        config.max_events = Some(max);
    }
    if let Some(branch) = &world.branch {
        config.branch = branch.clone();
    }
    if let Some(ops) = world.ops {
        config.workload.ops = ops;
    }
    if let Some(d) = world.duration {
        config.duration_ns = d;
    }
    if let Some(every) = world.snapshot_every {
        config.snapshot.every_entries = every;
        config.snapshot.raft_state_bytes_max = 0;
    }
    if world.no_snapshots {
        config.snapshot.every_entries = 0;
        config.snapshot.raft_state_bytes_max = 0;
    }
    if !world.bugs.is_empty() {
        config.bugs.clone_from(&world.bugs);
        // A swarm draw or a base is fitted to what the bug needs (as `selftest` and the
        // exploration bench hunt it); a scenario or a calm run is left as written.
        if scenario.is_none() && !world.calm {
            for b in &world.bugs {
                if let Ok(bug) = b.parse::<raft_host::Bug>() {
                    config.fit_for(bug);
                }
            }
        }
    }
    if let Some(path) = world.read_path {
        config.cluster.read_path = path;
    }
    if let Some(implementation) = world.implementation {
        config.set_implementation(implementation);
    }
    if let Some(mode) = world.storage_faults {
        mode.apply(&mut config);
    }
    config.validate()?;
    Ok(config)
}

/// The command line that replays seed `seed` with these options.
#[must_use]
pub fn replay_command(seed: u64, world: &WorldArgs) -> String {
    format!("cargo run --release -- --seed {seed}{}", world_options(world))
}

/// The options that shape every seed's run, as on a command line (empty for the defaults).
#[must_use]
pub fn world_options(world: &WorldArgs) -> String {
    let mut cmd = String::new();
    if let Some(implementation) = world.implementation {
        cmd += &format!(" --impl {implementation}");
    }
    if let Some(path) = &world.scenario {
        cmd += &format!(" --scenario {}", path.display());
    }
    if let Some(n) = world.nodes {
        cmd += &format!(" --nodes {n}");
    }
    if let Some(c) = world.clients {
        cmd += &format!(" --clients {c}");
    }
    if let Some(o) = world.ops {
        cmd += &format!(" --ops {o}");
    }
    if let Some(d) = world.duration {
        cmd += &format!(" --duration {d}ns");
    }
    if let Some(max) = world.max_events {
        cmd += &format!(" --max-events {max}");
    }
    if world.calm {
        cmd += " --calm";
    }
    if let Some(base) = world.base {
        cmd += &format!(" --base {}", base.name());
    }
    if let Some(branch) = world.branch.as_ref().filter(|b| !b.is_root()) {
        cmd += &format!(" --branch {branch}");
    }
    if let Some(every) = world.snapshot_every {
        cmd += &format!(" --snapshot-every {every}");
    }
    if world.no_snapshots {
        cmd += " --no-snapshots";
    }
    for b in &world.bugs {
        cmd += &format!(" --bug {b}");
    }
    if let Some(path) = world.read_path {
        cmd += &format!(" --read-path {}", path.kv());
    }
    if let Some(mode) = world.storage_faults {
        cmd += &format!(" --storage-faults {}", mode.name());
    }
    cmd
}

/// Validates a run's options: its scenario and its configuration. The error is the message to
/// print (exit 2).
pub fn prepare(args: &RunArgs) -> Result<(Option<Scenario>, SimConfig), String> {
    let scenario = scenario_from_args(&args.world)?;
    let config = config_from_args(args.seed, &args.world, scenario.as_ref())?;
    Ok((scenario, config))
}

pub fn run_command(args: &RunArgs) -> i32 {
    let (scenario, config) = match prepare(args) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("raftsim: {e}");
            return 2;
        }
    };
    let run = |options: &RunOptions| match &scenario {
        Some(s) => run_scenario(s, &config, options),
        None => run(&config, options),
    };
    let options = RunOptions {
        trace_lines: args.trace.is_some(),
        checkpoints: args.check_determinism,
        record_faults: args.export_scenario.is_some(),
        ..args.exec.options()
    };
    let mut banner = config.banner();
    if let Some(s) = &scenario {
        banner = format!("scenario {} ({}): {}\n{banner}", s.name, s.source, s.description);
    }
    if args.json {
        eprintln!("{banner}");
    } else {
        println!("{banner}");
    }
    if args.world.ops.is_some() && scenario.as_ref().is_none_or(|s| s.fixed_duration) {
        super::sweep_cmd::warn_if_ops_exceed_capacity(&config);
    }
    let outcome = run(&options);
    if outcome.summary.forks_taken < config.branch.forks().len() {
        eprintln!(
            "raftsim: warning: the run ended at event {} before the branch's fork at event {}; the forks after it were not taken",
            outcome.summary.events,
            config.branch.forks()[outcome.summary.forks_taken].event
        );
    }
    if let Some(end) = outcome.summary.horizon_ended_ns {
        eprintln!(
            "raftsim: the branch's horizon ended the fault phase at t={}; the liveness phase was skipped and the run was judged on what it did up to there",
            crate::config::ms(end)
        );
    }
    if let Some(path) = &args.trace {
        if let Err(e) = std::fs::write(path, &outcome.trace_lines) {
            eprintln!("raftsim: cannot write the trace to {}: {e}", path.display());
            return 2;
        }
    }
    if args.check_determinism {
        let again = run(&options);
        if let Some(diverged) = crate::determinism::first_divergence(&outcome.checkpoints, &again.checkpoints)
        {
            let detail = crate::determinism::describe_divergence(run, diverged);
            eprintln!("raftsim: NONDETERMINISM: seed {} diverged at event {diverged}\n{detail}", config.seed);
            return 1;
        }
        if !args.json {
            println!("determinism: two runs agree on all {} events", outcome.checkpoints.len());
        }
    }
    if let Some(path) = &args.export_scenario {
        let origin = scenario
            .as_ref()
            .map_or_else(|| "the random configuration".to_string(), |s| format!("scenario {}", s.name));
        let name = format!(
            "{}-seed-{}-exported",
            scenario.as_ref().map_or("random", |s| s.name.as_str()),
            config.seed
        );
        let description = format!(
            "Exported from seed {} of {origin} (verdict {}{}): the faults that run realized, at the times they happened. \
             Run it with --seed {} to replay the same run.",
            config.seed,
            outcome.verdict,
            if outcome.reason.is_empty() { String::new() } else { format!(": {}", outcome.reason) },
            config.seed
        );
        let realized = outcome.end.realized.as_deref().unwrap_or_default();
        let value = crate::export::scenario_json(&name, &description, &config, &outcome.end);
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&value).unwrap_or_default() + "\n")
        {
            eprintln!("raftsim: cannot write {}: {e}", path.display());
            return 2;
        }
        if !args.json {
            println!(
                "exported {} faults to {} (replay: cargo run --release -- run --scenario {} --seed {})",
                realized.len(),
                path.display(),
                path.display(),
                config.seed
            );
        }
    }
    let mut report_dir = None;
    if outcome.verdict != crate::run::Verdict::Pass && !args.no_report {
        let ctx = crate::report::ReportContext {
            config: &config,
            scenario: scenario.as_ref(),
            command: replay_command(args.seed, &args.world),
        };
        let expected = outcome
            .failure
            .as_ref()
            .is_none_or(|f| f.check != "run-time-limit")
            .then_some(outcome.summary.trace_hash.as_str());
        match crate::report::write(&args.reports, &ctx, expected, &options) {
            Ok((dir, _)) => report_dir = Some(dir),
            Err(e) => eprintln!("raftsim: no report written: {e}"),
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&outcome.summary).unwrap_or_default();
        value["replay"] = serde_json::Value::String(replay_command(args.seed, &args.world));
        value["report"] =
            report_dir.as_ref().map_or(serde_json::Value::Null, |d| d.display().to_string().into());
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(out, "{}", outcome.summary.to_text());
        if outcome.verdict != crate::run::Verdict::Pass {
            let _ = writeln!(out, "replay: {}", replay_command(args.seed, &args.world));
            if let Some(dir) = &report_dir {
                let _ = writeln!(out, "report: {} (open {}/timeline.html)", dir.display(), dir.display());
            }
        }
    }
    outcome.verdict.exit_code()
}
