//! Shrinking a failing run into a small scenario that fails the same way.
//!
//! The run is first exported as a scenario (its realized faults as timed steps, see
//! [`crate::export`]). Then, keeping the seed, the shrinker tries smaller variants and keeps
//! each one that still fails the same way (the same verdict, and for a safety violation the
//! same check): fewer fault steps (delta debugging, Zeller & Hildebrandt 2002, over the
//! schedule), fewer operations and clients, a shorter fault phase, fewer nodes, a calmer
//! network. It repeats until no variant helps or the budget of runs is spent.

use serde_json::Value;

use crate::run::{run_scenario, Outcome, RunOptions, Verdict};
use crate::scenario::Scenario;

/// How a run failed, which a smaller run must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub verdict: Verdict,
    pub check: Option<String>,
}

impl Failure {
    #[must_use]
    pub fn of(outcome: &Outcome) -> Failure {
        // A safety failure keeps its check, and so does a liveness one (a stall after healing is
        // not the same failure as a run that spent its event budget).
        let check = if matches!(outcome.verdict, Verdict::Safety | Verdict::Liveness) {
            outcome.failure.as_ref().map(|f| f.check.clone())
        } else {
            None
        };
        Failure { verdict: outcome.verdict, check }
    }
}

/// The size of a candidate, for reporting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub steps: usize,
    pub ops: u64,
    pub clients: u64,
    pub nodes: u64,
    pub duration_ns: u64,
}

impl Size {
    #[must_use]
    pub fn of(scenario: &Value) -> Size {
        let c = &scenario["config"];
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        Size {
            steps: scenario["schedule"].as_array().map_or(0, Vec::len),
            ops: n(&c["workload"]["ops"]),
            clients: n(&c["workload"]["clients"]),
            nodes: n(&c["cluster"]["nodes"]),
            duration_ns: n(&c["duration_ns"]),
        }
    }
}

/// The result of a shrink.
pub struct Shrunk {
    pub scenario: Value,
    pub before: Size,
    pub after: Size,
    pub runs: u64,
    pub failure: Failure,
}

/// Shrinks `scenario` (a scenario file's JSON, failing as `failure` on `seed`), trying at most
/// `budget` runs.
pub fn shrink(
    mut scenario: Value,
    seed: u64,
    failure: &Failure,
    budget: u64,
    options: &RunOptions,
) -> Result<Shrunk, String> {
    let before = Size::of(&scenario);
    let mut runs = 0u64;
    let still_fails = |candidate: &Value, runs: &mut u64| -> bool {
        if *runs >= budget {
            return false;
        }
        *runs += 1;
        fails_the_same_way(candidate, seed, failure, options)
    };
    if !still_fails(&scenario, &mut runs) {
        return Err("the exported scenario does not fail the same way; nothing to shrink".into());
    }
    loop {
        let size = Size::of(&scenario);
        shrink_schedule(&mut scenario, &mut |c| still_fails(c, &mut runs));
        for (path, floor) in [
            (&["workload", "ops"][..], 1u64),
            (&["workload", "clients"][..], 1),
            (&["duration_ns"][..], 100_000_000),
        ] {
            shrink_number(&mut scenario, path, floor, &mut |c| still_fails(c, &mut runs));
        }
        try_fewer_nodes(&mut scenario, &mut |c| still_fails(c, &mut runs));
        for field in ["drop_ppm", "duplicate_ppm", "long_delay_ppm"] {
            try_set(&mut scenario, &["network", field], Value::from(0), &mut |c| still_fails(c, &mut runs));
        }
        if Size::of(&scenario) == size || runs >= budget {
            break;
        }
    }
    let after = Size::of(&scenario);
    Ok(Shrunk { scenario, before, after, runs, failure: failure.clone() })
}

/// Runs a candidate and says whether it fails the same way.
#[must_use]
pub fn fails_the_same_way(candidate: &Value, seed: u64, failure: &Failure, options: &RunOptions) -> bool {
    let Ok(scenario) = Scenario::parse(&candidate.to_string(), "shrink candidate") else { return false };
    let Ok(config) = scenario.config(seed) else { return false };
    let outcome = run_scenario(&scenario, &config, options);
    Failure::of(&outcome) == *failure
}

/// Delta debugging over the schedule: remove chunks of steps, halving the chunk size when no
/// chunk can go.
fn shrink_schedule(scenario: &mut Value, still_fails: &mut dyn FnMut(&Value) -> bool) {
    let mut chunks = 2usize;
    loop {
        let steps = scenario["schedule"].as_array().cloned().unwrap_or_default();
        if steps.is_empty() {
            return;
        }
        let chunk = steps.len().div_ceil(chunks);
        let mut removed = false;
        let mut start = 0;
        while start < steps.len() {
            let end = (start + chunk).min(steps.len());
            let mut candidate = scenario.clone();
            let rest: Vec<Value> = steps[..start].iter().chain(&steps[end..]).cloned().collect();
            candidate["schedule"] = Value::Array(rest);
            if still_fails(&candidate) {
                *scenario = candidate;
                removed = true;
                break;
            }
            start = end;
        }
        if removed {
            chunks = (chunks - 1).max(2);
        } else if chunk == 1 {
            return;
        } else {
            chunks = (chunks * 2).min(steps.len());
        }
    }
}

/// Halves a number (down to `floor`) while the run still fails, then steps down by quarters.
fn shrink_number(
    scenario: &mut Value,
    path: &[&str],
    floor: u64,
    still_fails: &mut dyn FnMut(&Value) -> bool,
) {
    let Some(mut current) = get(scenario, path).and_then(Value::as_u64) else { return };
    while current > floor {
        let smaller = (current / 2).max(floor);
        let mut candidate = scenario.clone();
        set(&mut candidate, path, Value::from(smaller));
        if still_fails(&candidate) {
            *scenario = candidate;
            current = smaller;
        } else {
            let less = current - (current / 4).max(1);
            let mut candidate = scenario.clone();
            set(&mut candidate, path, Value::from(less.max(floor)));
            if less >= floor && less < current && still_fails(&candidate) {
                *scenario = candidate;
                current = less;
            } else {
                return;
            }
        }
    }
}

/// Tries a cluster of 3 nodes (or fewer nodes in steps of two) when no step names a node that
/// would no longer exist.
fn try_fewer_nodes(scenario: &mut Value, still_fails: &mut dyn FnMut(&Value) -> bool) {
    let Some(nodes) = get(scenario, &["cluster", "nodes"]).and_then(Value::as_u64) else { return };
    let mut target = nodes;
    while target > 3 {
        target -= 2;
        let highest = highest_node(&scenario["schedule"]);
        if highest.is_some_and(|h| h >= target) {
            return;
        }
        let mut candidate = scenario.clone();
        set(&mut candidate, &["cluster", "nodes"], Value::from(target));
        if !still_fails(&candidate) {
            return;
        }
        *scenario = candidate;
    }
}

fn highest_node(schedule: &Value) -> Option<u64> {
    let mut highest = None;
    for step in schedule.as_array().into_iter().flatten() {
        let mut note = |v: &Value| {
            if let Some(n) = v.as_u64() {
                highest = Some(highest.map_or(n, |h: u64| h.max(n)));
            }
        };
        note(&step["node"]);
        for link in step["links"].as_array().into_iter().flatten() {
            link.as_array().into_iter().flatten().for_each(&mut note);
        }
    }
    highest
}

fn try_set(scenario: &mut Value, path: &[&str], value: Value, still_fails: &mut dyn FnMut(&Value) -> bool) {
    if get(scenario, path) == Some(&value) || get(scenario, path).is_none() {
        return;
    }
    let mut candidate = scenario.clone();
    set(&mut candidate, path, value);
    if still_fails(&candidate) {
        *scenario = candidate;
    }
}

fn get<'a>(scenario: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(&scenario["config"], |v, k| v.get(k))
}

fn set(scenario: &mut Value, path: &[&str], value: Value) {
    let mut v = &mut scenario["config"];
    for k in path {
        v = &mut v[*k];
    }
    *v = value;
}
