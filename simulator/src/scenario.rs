//! Scenario files: a named test as data. A scenario fixes what a random run leaves to the seed
//! (the cluster, the network, the workload, a fault schedule and expectations); the seed still
//! drives everything the file leaves open. The format is documented in `scenarios/README.md`.
//!
//! Loading is strict: an unknown field, a wrong type or a value out of range is an error that
//! names the file, the field (as a path such as `schedule[3].node`) and what was expected.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Shape, SimConfig};

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// How many seeds the test suite runs (default 100).
    pub seeds: u64,
    /// Where it was read from, for messages and replay commands.
    pub source: String,
    config: Value,
    /// The schedule with repeats unrolled.
    pub steps: Vec<Step>,
    pub expect: RunExpect,
    /// The file set the fault phase's length; otherwise it lasts until the schedule is done.
    pub fixed_duration: bool,
}

/// A scenario file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub source: String,
    /// Where in the file: a field path, or `line L column C` for a syntax error.
    pub location: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: {}: {}", self.source, self.location, self.message)
        }
    }
}

/// A duration in a file: `"250ms"`, `"10s"`, `"2m"`, or an integer number of nanoseconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Dur(pub u64);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(Dur)
                .ok_or_else(|| de::Error::custom("expected a non-negative integer of nanoseconds")),
            Value::String(s) => crate::cli::parse_sim_duration(&s).map(Dur).map_err(de::Error::custom),
            other => Err(de::Error::custom(format!("expected a duration such as \"500ms\", found {other}"))),
        }
    }
}

/// A delay before a step: fixed, or drawn uniformly from `[min, max]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(Dur),
    Range { min: Dur, max: Dur },
}

/// Which nodes a step acts on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NodeSpec {
    Id(u8),
    List(Vec<u8>),
    /// `{"random": K}`: K distinct nodes picked by the seed.
    Random {
        random: usize,
    },
    /// `leader`, `follower`, `random`, `random-up`, `random-down`, `all`, `down`, `up`, or
    /// `$name` for nodes a previous step saved with `save_as`.
    Named(String),
}

/// What a step waits for before acting.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// A leader that reaches a majority of the nodes (itself included) both ways.
    Leader,
    /// No such leader.
    NoLeader,
    /// Every client is idle and every submitted operation has been issued.
    Idle,
    /// A leader exists and every up node has applied everything it committed.
    Converged,
}

/// What a step does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Crash,
    Restart,
    Pause,
    Resume,
    /// Cut every link of the nodes, both ways (the lab's "disconnect").
    Isolate,
    /// Restore every link of the nodes (the lab's "reconnect").
    Connect,
    /// Replace the partition: a named `shape`, or explicit `groups`.
    Partition,
    /// Cut the one-way link `from` -> `to`.
    Cut,
    Heal,
    /// Switch the network to a preset (`reliable`, `unreliable`, `unreliable-long-reordering`)
    /// or patch its fields.
    Network,
    /// Set the nodes' clock drift to `ppm`.
    Drift,
    /// Let the clients issue `ops` more operations.
    Submit,
    /// Remember the message counters under `name`, for later `since` expectations.
    Mark,
    /// Nothing: the step only waits (`when`, `after`) or checks (`expect`).
    Wait,
}

/// A step of a schedule, as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    at: Option<Dur>,
    #[serde(default)]
    after: Option<Delay>,
    #[serde(default)]
    when: Option<Condition>,
    #[serde(default)]
    within: Option<Dur>,
    #[serde(default)]
    unless_up_at_least: Option<usize>,
    #[serde(default, rename = "do")]
    action: Option<Action>,
    #[serde(default, alias = "nodes")]
    node: Option<NodeSpec>,
    #[serde(default)]
    shape: Option<Shape>,
    #[serde(default)]
    groups: Option<Vec<Vec<u8>>>,
    #[serde(default)]
    from: Option<u8>,
    #[serde(default)]
    to: Option<u8>,
    #[serde(default)]
    network: Option<Value>,
    #[serde(default)]
    ppm: Option<i64>,
    #[serde(default)]
    ops: Option<u64>,
    #[serde(default)]
    save_as: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expect: Option<StepExpect>,
    #[serde(default)]
    repeat: Option<u32>,
    #[serde(default)]
    steps: Option<Vec<StepSpec>>,
}

/// Checks made at a step. Those with a duration watch a window that starts at the step; the
/// schedule waits for the window to close.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepExpect {
    /// A leader reaching a majority exists (true) or does not (false), now.
    #[serde(default)]
    pub leader: Option<bool>,
    /// No node becomes leader during the window.
    #[serde(default)]
    pub no_new_leader_for: Option<Dur>,
    /// No node's term changes during the window.
    #[serde(default)]
    pub term_stable_for: Option<Dur>,
    /// Nothing new is committed anywhere during the window.
    #[serde(default)]
    pub no_commit_for: Option<Dur>,
    /// Every running node is in the same term.
    #[serde(default)]
    pub terms_agree: Option<bool>,
    /// At least this many client commands have been committed (in the whole run).
    #[serde(default)]
    pub committed_at_least: Option<u64>,
    /// Every up node has applied every committed entry.
    #[serde(default)]
    pub applied_on_all: Option<bool>,
    /// The mark the message counts below are measured from.
    #[serde(default)]
    pub since: Option<String>,
    /// At most this many server-to-server messages since the mark.
    #[serde(default)]
    pub messages_at_most: Option<u64>,
    /// At most this many bytes of server-to-server messages since the mark.
    #[serde(default)]
    pub bytes_at_most: Option<u64>,
    /// At least this many client operations have completed.
    #[serde(default)]
    pub ops_ok_at_least: Option<u64>,
}

/// Checks made at the end of the run, besides the ones every run makes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunExpect {
    #[serde(default)]
    pub ops_ok_at_least: Option<u64>,
    /// The mean latency of completed operations is at most this.
    #[serde(default)]
    pub op_latency_mean_max: Option<Dur>,
    #[serde(default)]
    pub unknown_ops_at_most: Option<u64>,
    /// Every operation completes (none failed or unknown).
    #[serde(default)]
    pub all_ops_ok: Option<bool>,
}

/// One step, unrolled and checked.
#[derive(Clone, Debug)]
pub struct Step {
    /// Where it came from, e.g. `schedule[2] round 3/10 > steps[1]`.
    pub label: String,
    pub note: Option<String>,
    pub at: Option<u64>,
    pub after: Option<Delay>,
    pub when: Option<Condition>,
    pub within_ns: u64,
    pub unless_up_at_least: Option<usize>,
    pub action: Action,
    pub node: Option<NodeSpec>,
    pub shape: Option<Shape>,
    pub groups: Option<Vec<Vec<u8>>>,
    pub from: Option<u8>,
    pub to: Option<u8>,
    pub network: Option<Value>,
    pub ppm: Option<i64>,
    pub ops: Option<u64>,
    pub save_as: Option<String>,
    pub name: Option<String>,
    pub expect: StepExpect,
}

/// How long a `when` waits by default: the lab's "a leader within 5 s", doubled.
const WITHIN_DEFAULT_NS: u64 = 10_000_000_000;
/// Unrolled schedules are capped, so a typo in `repeat` cannot eat the machine.
const STEPS_MAX: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    description: String,
    #[serde(default)]
    seeds: Option<u64>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    schedule: Vec<StepSpec>,
    #[serde(default)]
    expect: RunExpect,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            source: source.clone(),
            location: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Scenario::parse(&text, &source)
    }

    /// Parses and validates scenario text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Scenario, ScenarioError> {
        let err = |location: String, message: String| ScenarioError {
            source: source.to_string(),
            location,
            message,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            err(format!("line {} column {}", e.line(), e.column()), format!("not valid JSON: {e}"))
        })?;
        let file: ScenarioFile = serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            err(if path == "." { String::new() } else { path }, e.into_inner().to_string())
        })?;
        if file.name.trim().is_empty() {
            return Err(err("name".into(), "expected a non-empty name".into()));
        }
        let config = file.config.unwrap_or_else(|| Value::Object(Default::default()));
        let fixed_duration = config.get("duration_ns").is_some();
        let mut steps = Vec::new();
        unroll(&file.schedule, "schedule", &mut steps)
            .map_err(|(location, message)| err(location, message))?;
        let scenario = Scenario {
            name: file.name,
            description: file.description,
            seeds: file.seeds.unwrap_or(100),
            source: source.to_string(),
            config,
            steps,
            expect: file.expect,
            fixed_duration,
        };
        // Every seed draws the same shape of configuration: validate one now.
        scenario.config(0)?;
        scenario.validate_steps()?;
        Ok(scenario)
    }

    /// The configuration of this scenario for `seed`: a calm cluster, patched by the file.
    pub fn config(&self, seed: u64) -> Result<SimConfig, ScenarioError> {
        let err = |location: String, message: String| ScenarioError {
            source: self.source.clone(),
            location,
            message,
        };
        let mut base =
            serde_json::to_value(SimConfig::calm(seed)).map_err(|e| err(String::new(), e.to_string()))?;
        let patch = normalize(&self.config, "config").map_err(|(l, m)| err(l, m))?;
        merge(&mut base, &patch, "config").map_err(|(l, m)| err(l, m))?;
        let mut config: SimConfig = serde_path_to_error::deserialize(&base)
            .map_err(|e| err(format!("config.{}", e.path()), e.into_inner().to_string()))?;
        config.seed = seed;
        if !self.fixed_duration {
            // The fault phase lasts until the schedule is done; this is only the clients' pace.
            config.duration_ns = config.duration_ns.max(1);
        }
        config.validate().map_err(|m| err("config".into(), m))?;
        Ok(config)
    }

    fn validate_steps(&self) -> Result<(), ScenarioError> {
        let nodes = self.config(0)?.cluster.nodes;
        let err = |location: &str, message: String| ScenarioError {
            source: self.source.clone(),
            location: location.to_string(),
            message,
        };
        let mut saved = std::collections::BTreeSet::new();
        let mut marks = std::collections::BTreeSet::new();
        for step in &self.steps {
            let l = step.label.as_str();
            let in_range = |n: u8| -> Result<(), ScenarioError> {
                if usize::from(n) >= nodes {
                    return Err(err(
                        l,
                        format!("node {n} does not exist: the cluster has nodes 0 to {}", nodes - 1),
                    ));
                }
                Ok(())
            };
            match &step.node {
                Some(NodeSpec::Id(n)) => in_range(*n)?,
                Some(NodeSpec::List(list)) => list.iter().try_for_each(|n| in_range(*n))?,
                Some(NodeSpec::Random { random }) if *random > nodes => {
                    return Err(err(l, format!("cannot pick {random} of {nodes} nodes")));
                }
                Some(NodeSpec::Named(name)) => match name.strip_prefix('$') {
                    Some(var) if !saved.contains(var) => {
                        return Err(err(
                            l,
                            format!("node \"{name}\" refers to nothing saved by an earlier step"),
                        ));
                    }
                    Some(_) => {}
                    None if !NAMED_NODES.contains(&name.as_str()) => {
                        return Err(err(
                            l,
                            format!("unknown node \"{name}\"; expected a number, a list, {{\"random\": K}}, \"$name\" or one of {}", NAMED_NODES.join(", ")),
                        ));
                    }
                    None => {}
                },
                _ => {}
            }
            let needs_node = matches!(
                step.action,
                Action::Crash
                    | Action::Restart
                    | Action::Pause
                    | Action::Resume
                    | Action::Isolate
                    | Action::Connect
                    | Action::Drift
            );
            if needs_node && step.node.is_none() {
                return Err(err(l, format!("\"{:?}\" needs \"node\"", step.action).to_lowercase()));
            }
            if !needs_node && step.node.is_some() {
                return Err(err(
                    l,
                    format!("\"node\" does not apply to \"{:?}\"", step.action).to_lowercase(),
                ));
            }
            let requires = |present: bool, field: &str, action: Action| -> Result<(), ScenarioError> {
                let applies = match field {
                    "shape" | "groups" => action == Action::Partition,
                    "from" | "to" => action == Action::Cut,
                    "network" => action == Action::Network,
                    "ppm" => action == Action::Drift,
                    "ops" => action == Action::Submit,
                    "name" => action == Action::Mark,
                    _ => true,
                };
                if present && !applies {
                    return Err(err(
                        l,
                        format!("\"{field}\" does not apply to \"{}\"", format!("{action:?}").to_lowercase()),
                    ));
                }
                Ok(())
            };
            requires(step.shape.is_some(), "shape", step.action)?;
            requires(step.groups.is_some(), "groups", step.action)?;
            requires(step.from.is_some(), "from", step.action)?;
            requires(step.to.is_some(), "to", step.action)?;
            requires(step.network.is_some(), "network", step.action)?;
            requires(step.ppm.is_some(), "ppm", step.action)?;
            requires(step.ops.is_some(), "ops", step.action)?;
            requires(step.name.is_some(), "name", step.action)?;
            match step.action {
                Action::Partition if step.shape.is_none() == step.groups.is_none() => {
                    return Err(err(l, "\"partition\" needs exactly one of \"shape\" or \"groups\"".into()));
                }
                Action::Partition => {
                    for n in step.groups.iter().flatten().flatten() {
                        in_range(*n)?;
                    }
                }
                Action::Cut => match (step.from, step.to) {
                    (Some(a), Some(b)) if a != b => {
                        in_range(a)?;
                        in_range(b)?;
                    }
                    _ => return Err(err(l, "\"cut\" needs \"from\" and \"to\", two different nodes".into())),
                },
                Action::Network => {
                    let patch = step.network.as_ref().ok_or_else(|| {
                        err(l, "\"network\" needs \"network\": a preset name or fields".into())
                    })?;
                    network_patch(patch).map_err(|m| err(&format!("{l}.network"), m))?;
                }
                Action::Drift => {
                    let ppm = step.ppm.ok_or_else(|| err(l, "\"drift\" needs \"ppm\"".into()))?;
                    if ppm.abs() >= 500_000 {
                        return Err(err(
                            l,
                            format!("drift of {ppm} ppm: expected less than 500000 either way"),
                        ));
                    }
                }
                Action::Submit if step.ops.is_none() => {
                    return Err(err(l, "\"submit\" needs \"ops\"".into()))
                }
                Action::Mark => {
                    let name = step.name.clone().ok_or_else(|| err(l, "\"mark\" needs \"name\"".into()))?;
                    marks.insert(name);
                }
                _ => {}
            }
            if let Some(since) = &step.expect.since {
                if !marks.contains(since) {
                    return Err(err(
                        l,
                        format!("expect.since names \"{since}\", which no earlier step marks"),
                    ));
                }
            }
            let counts = step.expect.messages_at_most.is_some() || step.expect.bytes_at_most.is_some();
            if counts && step.expect.since.is_none() {
                return Err(err(
                    l,
                    "expect.messages_at_most and bytes_at_most need \"since\": a mark".into(),
                ));
            }
            if let Some(name) = &step.save_as {
                saved.insert(name.clone());
            }
        }
        Ok(())
    }
}

/// The names a `node` field may take.
pub const NAMED_NODES: [&str; 8] =
    ["leader", "follower", "random", "random-up", "random-down", "all", "up", "down"];

fn unroll(specs: &[StepSpec], path: &str, out: &mut Vec<Step>) -> Result<(), (String, String)> {
    for (i, spec) in specs.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let rounds = spec.repeat.unwrap_or(1);
        if rounds == 0 {
            return Err((format!("{here}.repeat"), "expected at least 1".into()));
        }
        for round in 1..=rounds {
            let label = if rounds > 1 { format!("{here} round {round}/{rounds}") } else { here.clone() };
            match &spec.steps {
                Some(group) => {
                    if spec.action.is_some()
                        || spec.node.is_some()
                        || spec.expect.is_some()
                        || spec.when.is_some()
                    {
                        return Err((
                            here,
                            "a step with \"steps\" groups others and cannot act, wait or check itself".into(),
                        ));
                    }
                    if spec.after.is_some() || spec.at.is_some() {
                        // A delay on the group applies to its first step: keep it as a wait.
                        out.push(wait_step(&label, spec));
                    }
                    unroll(group, &format!("{label} > steps"), out)?;
                }
                None => out.push(Step {
                    label,
                    note: spec.note.clone(),
                    at: spec.at.map(|d| d.0),
                    after: spec.after,
                    when: spec.when,
                    within_ns: spec.within.map_or(WITHIN_DEFAULT_NS, |d| d.0),
                    unless_up_at_least: spec.unless_up_at_least,
                    action: spec.action.unwrap_or(Action::Wait),
                    node: spec.node.clone(),
                    shape: spec.shape,
                    groups: spec.groups.clone(),
                    from: spec.from,
                    to: spec.to,
                    network: spec.network.clone(),
                    ppm: spec.ppm,
                    ops: spec.ops,
                    save_as: spec.save_as.clone(),
                    name: spec.name.clone(),
                    expect: spec.expect.clone().unwrap_or_default(),
                }),
            }
            if out.len() > STEPS_MAX {
                return Err((here, format!("the schedule unrolls to more than {STEPS_MAX} steps")));
            }
        }
    }
    Ok(())
}

fn wait_step(label: &str, spec: &StepSpec) -> Step {
    Step {
        label: label.to_string(),
        note: spec.note.clone(),
        at: spec.at.map(|d| d.0),
        after: spec.after,
        when: None,
        within_ns: WITHIN_DEFAULT_NS,
        unless_up_at_least: None,
        action: Action::Wait,
        node: None,
        shape: None,
        groups: None,
        from: None,
        to: None,
        network: None,
        ppm: None,
        ops: None,
        save_as: None,
        name: None,
        expect: StepExpect::default(),
    }
}

/// Network presets, after the lab suite's figures: `reliable` (short delays only),
/// `unreliable` (10% of messages lost, 0-26 ms delays), `unreliable-long-reordering` (the same,
/// plus two in three messages held back 200-2,200 ms).
pub fn network_preset(name: &str) -> Option<Value> {
    let ms = 1_000_000u64;
    Some(match name {
        "reliable" => serde_json::json!({
            "delay_ns_min": 200_000, "delay_ns_max": 2 * ms, "drop_ppm": 0, "duplicate_ppm": 0, "long_delay_ppm": 0
        }),
        "unreliable" => serde_json::json!({
            "delay_ns_min": 0, "delay_ns_max": 26 * ms, "drop_ppm": 100_000, "duplicate_ppm": 0, "long_delay_ppm": 0
        }),
        "unreliable-long-reordering" => serde_json::json!({
            "delay_ns_min": 0, "delay_ns_max": 26 * ms, "drop_ppm": 100_000, "duplicate_ppm": 0,
            "long_delay_ppm": 666_667, "long_delay_ns_min": 200 * ms, "long_delay_ns_max": 2_200 * ms
        }),
        _ => return None,
    })
}

/// The fields a `network` value sets: a preset's, or the given ones (durations and
/// percentages allowed), checked against the network's fields.
pub fn network_patch(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(name) => network_preset(name).ok_or_else(|| {
            format!("unknown network preset \"{name}\"; expected reliable, unreliable or unreliable-long-reordering")
        }),
        Value::Object(_) => {
            let patch = normalize(value, "network").map_err(|(l, m)| format!("{l}: {m}"))?;
            let mut base = serde_json::to_value(SimConfig::calm(0).network).map_err(|e| e.to_string())?;
            merge(&mut base, &patch, "network").map_err(|(l, m)| format!("{l}: {m}"))?;
            Ok(patch)
        }
        other => Err(format!("expected a preset name or an object of network fields, found {other}")),
    }
}

/// Rewrites human-friendly values: `"250ms"` for fields ending in `_ns`, `"10%"` for fields
/// ending in `_ppm`, and a preset name for `network`.
fn normalize(value: &Value, path: &str) -> Result<Value, (String, String)> {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, v) in map {
                let here = format!("{path}.{key}");
                let v = match (key.as_str(), v) {
                    ("network", Value::String(_)) => network_patch(v).map_err(|m| (here.clone(), m))?,
                    (k, Value::String(s)) if k.ends_with("_ns") => {
                        Value::from(crate::cli::parse_sim_duration(s).map_err(|m| (here.clone(), m))?)
                    }
                    (k, Value::String(s)) if k.ends_with("_ppm") => {
                        Value::from(parse_percent(s).map_err(|m| (here.clone(), m))?)
                    }
                    _ => normalize(v, &here)?,
                };
                out.insert(key.clone(), v);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| normalize(v, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// `"12.5%"` as parts per million.
fn parse_percent(text: &str) -> Result<u64, String> {
    let number = text
        .strip_suffix('%')
        .ok_or_else(|| format!("expected a percentage such as \"10%\", found {text:?}"))?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.len() > 4 || whole.is_empty() {
        return Err(format!("expected a percentage with at most 4 decimals, found {text:?}"));
    }
    let whole: u64 = whole.parse().map_err(|_| format!("expected a percentage, found {text:?}"))?;
    let frac_ppm: u64 = if frac.is_empty() {
        0
    } else {
        let digits: u64 = frac.parse().map_err(|_| format!("expected a percentage, found {text:?}"))?;
        digits * 10u64.pow(4 - frac.len() as u32)
    };
    let ppm = whole * 10_000 + frac_ppm;
    if ppm > 1_000_000 {
        return Err(format!("{text} is more than 100%"));
    }
    Ok(ppm)
}

/// Overlays `patch` on `base`, refusing keys that `base` does not have (so typos are errors).
fn merge(base: &mut Value, patch: &Value, path: &str) -> Result<(), (String, String)> {
    let (Value::Object(b), Value::Object(p)) = (&mut *base, patch) else {
        *base = patch.clone();
        return Ok(());
    };
    for (key, value) in p {
        let here = format!("{path}.{key}");
        match b.get_mut(key) {
            None => {
                let mut known: Vec<&String> = b.keys().collect();
                known.sort();
                let known: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
                return Err((here, format!("unknown field; expected one of: {}", known.join(", "))));
            }
            Some(slot) if slot.is_object() && value.is_object() => merge(slot, value, &here)?,
            Some(slot) => *slot = value.clone(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, "test.json")
    }

    #[test]
    fn a_small_scenario_loads_with_its_defaults_and_patches() {
        let s = parse(
            r#"{"name": "x", "description": "d",
                "config": {"cluster": {"nodes": 3}, "network": "unreliable", "workload": {"think_ns_max": "5ms"}},
                "schedule": [{"when": "leader", "do": "crash", "node": "leader", "save_as": "old"},
                             {"after": "1s", "do": "restart", "node": "$old"},
                             {"repeat": 3, "steps": [{"do": "mark", "name": "m"}, {"after": {"min": "1ms", "max": "2ms"}, "expect": {"since": "m", "messages_at_most": 10}}]}]}"#,
        )
        .expect("valid");
        assert_eq!(s.seeds, 100);
        assert_eq!(s.steps.len(), 2 + 3 * 2);
        assert!(s.steps[4].label.contains("round 2/3"), "{}", s.steps[4].label);
        let c = s.config(9).expect("config");
        assert_eq!(c.seed, 9);
        assert_eq!(c.cluster.nodes, 3);
        assert_eq!(c.network.drop_ppm, 100_000);
        assert_eq!(c.workload.think_ns_max, 5_000_000);
        assert!(!s.fixed_duration);
    }

    #[test]
    fn errors_name_the_file_the_field_and_what_was_expected() {
        let e = parse(r#"{"name": "x", "description": "d", "colour": 1}"#).unwrap_err();
        assert!(e.to_string().starts_with("test.json: "), "{e}");
        assert!(e.message.contains("colour"), "{e}");
        let e =
            parse(r#"{"name": "x", "description": "d", "config": {"cluster": {"nodez": 3}}}"#).unwrap_err();
        assert_eq!(e.location, "config.cluster.nodez");
        assert!(e.message.contains("expected one of"), "{e}");
        let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "crash"}]}"#).unwrap_err();
        assert_eq!(e.location, "schedule[0]");
        let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "crash", "node": 9}]}"#)
            .unwrap_err();
        assert!(e.message.contains("node 9 does not exist"), "{e}");
        let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "explode"}]}"#).unwrap_err();
        assert!(e.location.starts_with("schedule[0]"), "{e:?}");
        let e =
            parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "restart", "node": "$nobody"}]}"#)
                .unwrap_err();
        assert!(e.message.contains("nothing saved"), "{e}");
        let e = parse(r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": "five"}}}"#)
            .unwrap_err();
        assert!(e.location.contains("cluster.nodes"), "{e:?}");
        let e = parse("{\"name\": \"x\",\n \"description\": }").unwrap_err();
        assert!(e.location.starts_with("line 2"), "{e:?}");
        let e =
            parse(r#"{"name": "x", "description": "d", "config": {"workload": {"think_ns_max": "soon"}}}"#)
                .unwrap_err();
        assert_eq!(e.location, "config.workload.think_ns_max");
    }

    #[test]
    fn percentages_and_presets_translate_to_the_configuration() {
        assert_eq!(parse_percent("10%"), Ok(100_000));
        assert_eq!(parse_percent("0.5%"), Ok(5_000));
        assert_eq!(parse_percent("66.6667%"), Ok(666_667));
        assert!(parse_percent("150%").is_err());
        assert!(parse_percent("10").is_err());
        assert!(network_patch(&Value::String("lossy".into())).is_err());
        assert!(network_patch(&serde_json::json!({"drop_pm": 3})).is_err());
    }
}
