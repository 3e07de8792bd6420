//! `raftsim replay DIR`: rerun a reported run and confirm it is the same run.

use std::path::PathBuf;

use clap::Args;

use crate::report;
use crate::run::{run, run_scenario, RunOptions};

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A report folder, e.g. reports/random-seed-7.
    pub dir: PathBuf,
    /// Stop after event EVENT (numbered as in the failure line and the trace's "n", from 0) and
    /// print the cluster's state at that point.
    #[arg(long, value_name = "EVENT")]
    pub until: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: 0 the replay took the same path (same trace hash), 1 it did not, 2 bad input.
pub fn replay_command(args: &ReplayArgs) -> i32 {
    let loaded = match report::load(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("raftsim replay: {e}");
            return 2;
        }
    };
    let options = RunOptions {
        trace_lines: args.until.is_some(),
        stop_after_events: args.until.map(|n| n.saturating_add(1)),
        ..RunOptions::default()
    };
    let outcome = match &loaded.scenario {
        Some(s) => run_scenario(s, &loaded.config, &options),
        None => run(&loaded.config, &options),
    };
    if let Some(until) = args.until {
        let state = outcome.end.description.clone().unwrap_or_default();
        let recent: Vec<&str> =
            outcome.trace_lines.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        if args.json {
            println!(
                "{}",
                serde_json::json!({"until": until, "time_ns": outcome.end.now, "state": state, "last_events": recent})
            );
        } else {
            println!("state after event {until} (t={}):\n{state}", crate::config::ms(outcome.end.now));
            println!("last events:");
            for line in recent {
                println!("  {line}");
            }
        }
        return 0;
    }
    let same = outcome.summary.trace_hash == loaded.trace_hash;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "reproduced": same,
                "trace_hash": outcome.summary.trace_hash,
                "expected_trace_hash": loaded.trace_hash,
                "verdict": outcome.verdict,
                "expected_verdict": loaded.verdict,
                "reason": outcome.reason,
            })
        );
    } else {
        println!("{}", outcome.summary.to_text());
        if same {
            println!("replay: same trace hash as the report ({}): the same run", loaded.trace_hash);
        } else {
            println!(
                "replay: DIFFERENT trace hash: {} now, {} in the report (another binary, or nondeterminism)",
                outcome.summary.trace_hash, loaded.trace_hash
            );
        }
    }
    i32::from(!same)
}
