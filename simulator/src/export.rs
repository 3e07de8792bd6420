//! Turning a run into a scenario file: the faults the run realized (whether drawn by the seed or
//! scheduled by a scenario), each at the virtual time it happened, over the run's full
//! configuration with its random faults switched off.
//!
//! Run with the same seed, the exported scenario replays the same run: the network, disks,
//! clients and election timers draw from the same streams, and the faults happen at the same
//! times, so the verdict is the same and, for the same binary, so is the trace hash. Edited, it
//! survives code changes as a test: its faults no longer depend on which random draws the new
//! code makes.

use serde_json::{json, Value};

use crate::config::{FaultConfig, SimConfig};
use crate::run::EndState;
use crate::world::Realized;

/// The scenario file of a run.
///
/// `end` is how the run ended, recorded with `RunOptions::record_faults`. The fault
/// phase is fixed at the length it had (a scenario's may have lasted as long as its schedule),
/// and the clients keep the pace they had, whatever that length is.
#[must_use]
pub fn scenario_json(name: &str, description: &str, config: &SimConfig, end: &EndState) -> Value {
    let realized = end.realized.as_deref().unwrap_or_default();
    let mut c = config.clone();
    // Storage faults stay drawn from the seed: they react to crashes and fsyncs, which the
    // schedule replays at the same times, so the same draws damage the same bytes.
    c.faults = FaultConfig { storage: config.faults.storage.clone(), ..FaultConfig::default() };
    c.duration_ns = end.fault_phase_end.unwrap_or(config.duration_ns);
    c.workload.pace_ns = Some(end.initial_pace_ns);
    let mut config_value = serde_json::to_value(&c).unwrap_or_default();
    if let Some(map) = config_value.as_object_mut() {
        map.remove("seed");
    }
    let schedule: Vec<Value> = realized
        .iter()
        .map(|r| {
            let mut step = step_json(r.at, &r.fault);
            if r.late {
                step["late"] = Value::Bool(true);
            }
            step
        })
        .collect();
    json!({
        "name": name,
        "description": description,
        "seeds": 1,
        "config": config_value,
        "schedule": schedule,
    })
}

/// One realized fault as a step.
#[must_use]
pub fn step_json(at: u64, fault: &Realized) -> Value {
    match fault {
        Realized::Crash(n) => json!({"at": at, "do": "crash", "node": n}),
        Realized::Restart(n) => json!({"at": at, "do": "restart", "node": n}),
        Realized::Pause(n) => json!({"at": at, "do": "pause", "node": n}),
        Realized::Resume(n) => json!({"at": at, "do": "resume", "node": n}),
        Realized::Cuts { links, label, counted } => {
            let links: Vec<[usize; 2]> = links.iter().map(|(a, b)| [*a, *b]).collect();
            json!({"at": at, "do": "partition", "links": links, "label": label, "counted": counted})
        }
        Realized::Heal => json!({"at": at, "do": "heal"}),
        Realized::Network(n) => json!({"at": at, "do": "network", "network": n}),
        Realized::Drift(n, ppm) => json!({"at": at, "do": "drift", "node": n, "ppm": ppm}),
        Realized::Submit(ops) => json!({"at": at, "do": "submit", "ops": ops}),
        Realized::Membership { op, node, wipe } => {
            let mut step = json!({"at": at, "do": op.action(), "node": node});
            if *wipe {
                step["wipe"] = Value::Bool(true);
            }
            step
        }
    }
}
