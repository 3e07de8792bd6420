//! `raftsim explain DIR`: when did the failing run of a report become certain to fail?

use std::path::PathBuf;

use clap::Args;

use super::ExecArgs;
use crate::explain::{self, Options};
use crate::limits;
use crate::report;
use crate::run::{run, run_scenario, RunOptions};

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// A report folder, e.g. reports/random-seed-7.
    pub dir: PathBuf,
    /// Points to fork at, spread evenly over the run up to the failing event (which is the
    /// last), 2 to 1000.
    #[arg(long, default_value_t = 12, value_parser = limits::flag_range(2, explain::POINTS_MAX as u64))]
    pub points: u64,
    /// Continuations with fresh randomness from each point, 1 to 1000.
    #[arg(long, default_value_t = 8, value_parser = limits::flag_range(1, u64::from(explain::FORKS_MAX)))]
    pub forks: u64,
    /// Rounds that halve the step where every continuation starts failing, 0 to 20.
    #[arg(long, default_value_t = 4, value_parser = limits::flag_range(0, 20))]
    pub refine: u64,
    /// Parallel jobs, 1 to 1024 (default: all cores); the results do not depend on it.
    #[arg(long, value_parser = limits::flag_range(1, limits::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Print the curve as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not write explain.json and the redrawn timeline.html into the report folder.
    #[arg(long)]
    pub no_write: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Exit codes: 0 explained, 1 the report's run could not be reproduced, 2 bad input.
pub fn explain_command(args: &ExplainArgs) -> i32 {
    let loaded = match report::load(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("raftsim explain: {e}");
            return 2;
        }
    };
    let report_path = args.dir.join("report.json");
    let report_value: serde_json::Value = match limits::read_file(&report_path)
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("raftsim explain: {}: {e}", report_path.display());
            return 2;
        }
    };
    let base_options = RunOptions { trace_lines: true, ..args.exec.options() };
    let base = match &loaded.scenario {
        Some(s) => run_scenario(s, &loaded.config, &base_options),
        None => run(&loaded.config, &base_options),
    };
    if base.summary.trace_hash != loaded.trace_hash {
        eprintln!(
            "raftsim explain: rerunning {} gave trace hash {} instead of the report's {}: not the reported run \
             (another build of raftsim?); nothing was written",
            args.dir.display(),
            base.summary.trace_hash,
            loaded.trace_hash
        );
        return 1;
    }
    let options = Options {
        points: args.points as usize,
        forks: args.forks as u32,
        refine: args.refine as usize,
        jobs: args.jobs.map_or_else(crate::pool::cores, |j| j as usize),
        run: args.exec.options(),
    };
    let explanation = match explain::explain(&loaded.config, loaded.scenario.as_ref(), &base, &options) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("raftsim explain: {}: {e}", args.dir.display());
            return 2;
        }
    };
    let value = serde_json::to_value(&explanation).unwrap_or_default();
    if !args.no_write {
        let history = checker::kv_history_to_json(&base.history);
        let extras = crate::timeline::Extras {
            messages_page: args.dir.join("messages.html").is_file(),
            explain: Some(value.clone()),
        };
        let page = crate::timeline::render_with(&report_value, &base.trace_lines, &history, &extras);
        for (name, content) in [
            ("explain.json", serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"),
            ("timeline.html", page),
        ] {
            let path = args.dir.join(name);
            if let Err(e) = std::fs::write(&path, content) {
                eprintln!("raftsim explain: cannot write {}: {e}", path.display());
                return 2;
            }
        }
    }
    if args.json {
        println!("{value}");
    } else {
        println!("{}", explanation.to_text(&explain::command_without_branch(&loaded.command)));
        if !args.no_write {
            println!("written: {0}/explain.json, and the curve on {0}/timeline.html", args.dir.display());
        }
    }
    0
}
