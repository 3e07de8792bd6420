//! `raftsim shrink`: a failing run, made small, as a scenario file.

use std::path::PathBuf;

use clap::Args;

use super::run_cmd::{config_from_args, replay_command, scenario_from_args};
use super::RunArgs;
use crate::config::SimConfig;
use crate::report;
use crate::run::{run, run_scenario, RunOptions, Verdict};
use crate::scenario::Scenario;
use crate::shrink::{shrink, Failure};

#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// A report folder (reports/<dir>) to shrink; otherwise the run the options describe.
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Where to write the shrunk scenario (default: shrunk.json in the run's report folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The most runs to try, 1 to 100000.
    #[arg(long, default_value_t = 400, value_parser = crate::limits::flag_range(1, 100_000))]
    pub budget: u64,
}

/// Run options `shrink` takes from `run` but has no use for: refused rather than ignored.
fn ignored_flags(run: &super::RunArgs) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if run.trace.is_some() {
        flags.push("--trace");
    }
    if run.export_scenario.is_some() {
        flags.push("--export-scenario");
    }
    if run.check_determinism {
        flags.push("--check-determinism");
    }
    if run.no_report {
        flags.push("--no-report");
    }
    flags
}

/// Validates a shrink's options and loads the run to shrink: its configuration, scenario and
/// the command that replays it. The error is the message to print (exit 2).
pub fn prepare(args: &ShrinkArgs) -> Result<(SimConfig, Option<Scenario>, String), String> {
    let ignored = ignored_flags(&args.run);
    if !ignored.is_empty() {
        return Err(format!(
            "{} {} not apply to shrinking (it writes one scenario file, --out); run the shrunk scenario with \
             `raftsim run --scenario FILE` to trace, export or check it",
            ignored.join(", "),
            if ignored.len() == 1 { "does" } else { "do" }
        ));
    }
    match &args.dir {
        Some(dir) => report::load(dir).map(|r| (r.config, r.scenario, r.command)),
        None => {
            let (seed, world) = (args.run.seed, &args.run.world);
            let scenario = scenario_from_args(world)?;
            let config = config_from_args(seed, world, scenario.as_ref())?;
            Ok((config, scenario, replay_command(seed, world)))
        }
    }
}

pub fn shrink_command(args: &ShrinkArgs) -> i32 {
    let (config, scenario, origin) = match prepare(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("raftsim shrink: {e}");
            return 2;
        }
    };
    let options = RunOptions { record_faults: true, ..args.run.exec.options() };
    let outcome = match &scenario {
        Some(s) => run_scenario(s, &config, &options),
        None => run(&config, &options),
    };
    if outcome.verdict == Verdict::Pass {
        eprintln!("raftsim shrink: seed {} passes ({origin}); there is no failure to shrink", config.seed);
        return 2;
    }
    let failure = Failure::of(&outcome);
    let base_name = scenario.as_ref().map_or("random", |s| s.name.as_str()).to_string();
    let exported = crate::export::scenario_json(&base_name, "", &config, &outcome.end);
    let limits = args.run.exec.options();
    let shrunk = match shrink(exported, config.seed, &failure, args.budget, &limits) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("raftsim shrink: {e}");
            return 1;
        }
    };
    let how = match &failure.check {
        Some(check) => format!("{} ({check})", failure.verdict),
        None => failure.verdict.to_string(),
    };
    let mut value = shrunk.scenario;
    value["name"] = format!("{base_name}-seed-{}-shrunk", config.seed).into();
    value["description"] = format!(
        "Shrunk from {origin}: fails with {how} on --seed {}. Before shrinking: {} fault steps, {} operations, {} clients, {} nodes, {} of faults.",
        config.seed,
        shrunk.before.steps,
        shrunk.before.ops,
        shrunk.before.clients,
        shrunk.before.nodes,
        crate::config::ms(shrunk.before.duration_ns)
    )
    .into();
    let out = args.out.clone().unwrap_or_else(|| {
        args.dir
            .clone()
            .unwrap_or_else(|| args.run.reports.join(report::folder_name(scenario.as_ref(), config.seed)))
            .join("shrunk.json")
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(&out, serde_json::to_string_pretty(&value).unwrap_or_default() + "\n") {
        eprintln!("raftsim shrink: cannot write {}: {e}", out.display());
        return 2;
    }
    let (b, a) = (shrunk.before, shrunk.after);
    if args.run.json {
        println!(
            "{}",
            serde_json::json!({"out": out.display().to_string(), "before": b, "after": a, "runs": shrunk.runs,
                               "verdict": failure.verdict, "check": failure.check, "seed": config.seed})
        );
    } else {
        println!("shrunk in {} runs, still failing with {how}:", shrunk.runs);
        println!("  fault steps  {:>8} -> {}", b.steps, a.steps);
        println!("  operations   {:>8} -> {}", b.ops, a.ops);
        println!("  clients      {:>8} -> {}", b.clients, a.clients);
        println!("  nodes        {:>8} -> {}", b.nodes, a.nodes);
        println!(
            "  fault phase  {:>8} -> {}",
            crate::config::ms(b.duration_ns),
            crate::config::ms(a.duration_ns)
        );
        println!(
            "wrote {}; replay: cargo run --release -- run --scenario {} --seed {}",
            out.display(),
            out.display(),
            config.seed
        );
    }
    0
}
