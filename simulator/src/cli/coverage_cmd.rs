//! `raftsim coverage`: which behaviours of the catalogue one run reached.

use std::io::Write;

use clap::Args;

use super::run_cmd::prepare;
use super::RunArgs;
use crate::coverage::Point;
use crate::run::{run, run_scenario};

#[derive(Args, Debug)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// List the points the run did not reach too.
    #[arg(long)]
    pub all: bool,
}

pub fn coverage_command(args: &CoverageArgs) -> i32 {
    let (scenario, config) = match prepare(&args.run) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("raftsim coverage: {e}");
            return 2;
        }
    };
    let options = args.run.exec.options();
    let outcome = match &scenario {
        Some(s) => run_scenario(s, &config, &options),
        None => run(&config, &options),
    };
    let points = &outcome.summary.points;
    let mut out = std::io::stdout().lock();
    if args.run.json {
        let reached: Vec<serde_json::Value> = points
            .iter()
            .map(|p| serde_json::json!({"point": p.point, "hits": p.hits, "first_event": p.first_event}))
            .collect();
        let missed: Vec<&str> =
            Point::ALL.iter().map(|p| p.name()).filter(|n| !points.iter().any(|h| h.point == *n)).collect();
        let value = serde_json::json!({
            "seed": config.seed, "implementation": config.implementation, "verdict": outcome.verdict,
            "trace_hash": outcome.summary.trace_hash,
            "reached": reached, "not_reached": missed, "catalogue": Point::ALL.len(),
        });
        let _ = writeln!(out, "{value}");
        return 0;
    }
    let _ = writeln!(
        out,
        "seed {} on {} ({}): {} of {} points reached (hits, first event):",
        config.seed,
        config.implementation,
        outcome.verdict,
        points.len(),
        Point::ALL.len()
    );
    for p in Point::ALL {
        match points.iter().find(|h| h.point == p.name()) {
            Some(h) => {
                let _ = writeln!(out, "  {:<70} {:>6}  event {}", h.point, h.hits, h.first_event);
            }
            None if args.all => {
                let note = match p.unreachable_on(config.implementation) {
                    Some(why) => format!("(never on {}: {why})", config.implementation),
                    None if p.rare() => "(rare)".to_string(),
                    None => String::new(),
                };
                let _ = writeln!(out, "  {:<70} {:>6}  {note}", p.name(), "-");
            }
            None => {}
        }
    }
    0
}
