//! `raftsim replay DIR`: rerun a reported run and confirm it is the same run.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use raft_core::{wal, LogIndex, Term};

use crate::report;
use crate::run::{run, run_scenario, RunOptions};
use crate::world::{Process, World};

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
        let state = describe_state(&outcome.world);
        let recent: Vec<&str> =
            outcome.trace_lines.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        if args.json {
            println!(
                "{}",
                serde_json::json!({"until": until, "time_ns": outcome.world.now, "state": state, "last_events": recent})
            );
        } else {
            println!("state after event {until} (t={}):\n{state}", crate::config::ms(outcome.world.now));
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

/// Every node's process, role, term, vote, indexes, log and disk, one block per node.
#[must_use]
pub fn describe_state(world: &World) -> String {
    let mut s = String::new();
    for (n, slot) in world.nodes.iter().enumerate() {
        let process = match slot.process {
            Process::Up(_) => "up",
            Process::Paused(_) => "paused",
            Process::Down => "down",
        };
        let _ = write!(s, "n{n} [{process}, incarnation {}]", slot.incarnation);
        if let Some(server) = slot.server() {
            let r = server.node();
            let _ = write!(
                s,
                " {:?} {} vote {} leader {} commit {} applied {} durable {} last {}",
                r.role(),
                r.term(),
                r.vote().map_or("-".into(), |v| v.to_string()),
                r.leader().map_or("-".into(), |v| v.to_string()),
                r.commit_index(),
                r.applied_index(),
                r.durable_index(),
                r.log().last_index()
            );
            let terms: Vec<Term> = r.log().entries().iter().map(|e| e.term).collect();
            let first = r.log().first_index();
            if r.log().snapshot_index() > LogIndex::ZERO {
                let _ = write!(s, "\n    snapshot through {}", r.log().snapshot_meta());
            }
            let _ = write!(s, "\n    log terms: {}", runs(first, &terms));
            let _ = write!(
                s,
                "\n    store: {} keys, digest {:016x}",
                server.store().data().len(),
                server.store().digest()
            );
        }
        let disk = &slot.disk;
        let _ = write!(
            s,
            "\n    disk: {} durable bytes, {} writes in flight",
            disk.durable_bytes(),
            disk.writes_in_flight()
        );
        let snapshot = disk.snapshot_file().and_then(|f| wal::decode_snapshot(f).ok());
        let base = raft_core::DurableState { snapshot, ..raft_core::DurableState::default() };
        match wal::recover_from(base, 0, disk.durable()) {
            Ok(rec) => {
                let terms: Vec<Term> = rec.state.entries.iter().map(|e| e.term).collect();
                let _ = write!(
                    s,
                    ", holds term {} vote {}, snapshot through {} and {} entries ({})",
                    rec.state.term,
                    rec.state.vote.map_or("-".into(), |v| v.to_string()),
                    rec.state.snapshot_index(),
                    rec.state.entries.len(),
                    runs(rec.state.compacted_through.next(), &terms)
                );
            }
            Err(e) => {
                let _ = write!(s, ", unreadable: {e}");
            }
        }
        s.push('\n');
    }
    let links = world.network.cuts().links(world.nodes.len());
    let _ = write!(
        s,
        "network: {} cut links{}; {} messages in flight",
        links.len(),
        if links.is_empty() {
            String::new()
        } else {
            format!(" ({})", links.iter().map(|(a, b)| format!("{a}>{b}")).collect::<Vec<_>>().join(" "))
        },
        world.network.in_flight()
    );
    s
}

/// A log's terms as runs, its first entry at `first`: `i1-i4 t1, i5-i9 t3`.
fn runs(first: LogIndex, terms: &[Term]) -> String {
    if terms.is_empty() {
        return "empty".into();
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..=terms.len() {
        if i == terms.len() || terms[i] != terms[start] {
            let (a, b) = (first.plus(start as u64), first.plus(i as u64 - 1));
            parts.push(if a == b {
                format!("{a} {}", terms[start])
            } else {
                format!("{a}-{b} {}", terms[start])
            });
            start = i;
        }
    }
    parts.join(", ")
}
