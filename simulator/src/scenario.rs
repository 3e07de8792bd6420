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
    /// A behaviour of the implementation the scenario runs that the harness flags and that is
    /// recorded rather than fixed (see `scenarios/README.md`): the scenario is expected to fail
    /// this way on these seeds, and the test suite checks that it still does.
    pub known_finding: Option<KnownFinding>,
}

/// A recorded finding: the seeds on which the scenario fails, and with which verdict.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFinding {
    /// What was found, in one or two sentences, and where it is written up.
    pub about: String,
    /// The verdict each of `seeds` gives (not `pass`).
    pub verdict: crate::run::Verdict,
    /// Seeds that fail so (at most 1,000).
    pub seeds: Vec<u64>,
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
            Value::String(s) => crate::config::parse_sim_duration(&s).map(Dur).map_err(de::Error::custom),
            other => Err(de::Error::custom(format!("expected a duration such as \"500ms\", found {other}"))),
        }
        .and_then(|d| {
            if d.0 > crate::limits::SIM_NS_MAX {
                Err(de::Error::custom(format!("expected a duration of at most 24h, found {} ns", d.0)))
            } else {
                Ok(d)
            }
        })
    }
}

/// A delay before a step: fixed, or drawn uniformly from `[min, max]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(Dur),
    Range { min: Dur, max: Dur },
}

/// A probability in a file: `"10%"`, or an integer number of parts per million.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ppm(pub u32);

impl<'de> Deserialize<'de> for Ppm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ppm, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .filter(|ppm| *ppm <= 1_000_000)
                .map(|ppm| Ppm(ppm as u32))
                .ok_or_else(|| de::Error::custom("expected parts per million, from 0 to 1000000")),
            Value::String(s) => parse_percent(&s).map(|ppm| Ppm(ppm as u32)).map_err(de::Error::custom),
            other => Err(de::Error::custom(format!("expected a percentage such as \"10%\", found {other}"))),
        }
    }
}

/// Which nodes a step acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeSpec {
    Id(u8),
    List(Vec<u8>),
    /// A list with names or picks in it (`["$a", "$b"]`): every node any of them names.
    Union(Vec<NodeSpec>),
    /// `{"random": K, "from": ..., "except": [...]}`: see [`Pick`].
    Pick(Pick),
    /// `leader`, `follower`, `random`, `random-up`, `random-down`, `all`, `down`, `up`, or
    /// `$name` for nodes a previous step saved with `save_as`.
    Named(String),
}

/// Nodes chosen from a set: the nodes of `from` (default: all) that are not in any of
/// `except`, and of those `random` distinct ones drawn by the seed (default: all of them).
/// The lab names nodes relative to each other ("the leader and one follower", "the three
/// others"); this is how a file says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pick {
    #[serde(default)]
    pub random: Option<usize>,
    #[serde(default)]
    pub from: Option<Box<NodeSpec>>,
    #[serde(default)]
    pub except: Vec<NodeSpec>,
}

impl<'de> Deserialize<'de> for NodeSpec {
    // By hand rather than `untagged`, so that a mistake inside an object (`{"randon": 2}`)
    // is reported as what it is instead of "matched no variant".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeSpec, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .map(NodeSpec::Id)
                .ok_or_else(|| de::Error::custom(format!("expected a node number, found {n}"))),
            Value::Array(items) if items.iter().all(Value::is_number) => items
                .iter()
                .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(NodeSpec::List)
                .ok_or_else(|| de::Error::custom("expected a list of node numbers")),
            Value::Array(items) => items
                .into_iter()
                .map(|v| serde_json::from_value(v).map_err(de::Error::custom))
                .collect::<Result<Vec<NodeSpec>, D::Error>>()
                .map(NodeSpec::Union),
            Value::String(s) => Ok(NodeSpec::Named(s)),
            v @ Value::Object(_) => {
                let pick: Pick = serde_json::from_value(v).map_err(de::Error::custom)?;
                if pick.random.is_none() && pick.from.is_none() && pick.except.is_empty() {
                    return Err(de::Error::custom(
                        "expected at least one of \"random\", \"from\", \"except\"",
                    ));
                }
                Ok(NodeSpec::Pick(pick))
            }
            other => Err(de::Error::custom(format!(
                "expected a node: a number, a list, a name or {{\"random\": K}}, found {other}"
            ))),
        }
    }
}

/// What a step waits for before acting (`when`), or needs in order to act at all (`if`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// A leader that reaches a majority of the nodes (itself included) both ways.
    Leader,
    /// No such leader.
    NoLeader,
    /// Every client is idle and every submitted operation has been issued.
    Idle,
    /// Every submitted operation has been issued (clients may still wait for answers): no
    /// backlog. `{"if": "issued", "do": "submit"}` submits only when the last submission was
    /// taken up, like the lab's fire-and-forget Start.
    Issued,
    /// A leader exists whose commit index covers every entry committed anywhere, and every
    /// up node has applied up to it.
    Converged,
    /// `{"applied-on": K}`: at least K running nodes have applied every entry committed
    /// anywhere: the lab's "committed on K servers" once an agreement is done.
    AppliedOn(usize),
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
    /// Replace the partition: a named `shape`, explicit `groups`, or the exact set of cut
    /// `links` (what `--export-scenario` writes).
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
    /// Damage the nodes' disks with a storage `fault` (`bit-rot`, `latent-sector-error`,
    /// `misdirected-write`, `lost-write`, `wipe`): a node that is up crashes first, and its
    /// next restart finds the damage. Within the recoverability budget unless the scenario's
    /// `faults.storage.beyond_budget` is set: a fault the budget forbids is skipped.
    DamageDisk,
    /// Only choose nodes and remember them under `save_as`, for later steps.
    Pick,
    /// Remember the message counters under `name`, for later `since` expectations.
    Mark,
    /// Nothing: the step only waits (`when`, `after`) or checks (`expect`).
    Wait,
    /// Membership, at the current leader (refused, and traced so, without one): add `node` as
    /// a learner (with `"wipe": true`, its disk wiped first: it rejoins knowing nothing)...
    AddServer,
    /// ... promote the learner `node` to voter (refused while it lags) ...
    PromoteServer,
    /// ... take `node` out of the configuration (the leader itself, with `"node": "leader"`) ...
    RemoveServer,
    /// ... or hand leadership to the voter `node`.
    TransferLeader,
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
    #[serde(default, rename = "if")]
    if_: Option<Condition>,
    #[serde(default)]
    chance: Option<Ppm>,
    #[serde(default)]
    unless_up_at_least: Option<usize>,
    #[serde(default)]
    unless_connected_at_least: Option<usize>,
    #[serde(default, rename = "do")]
    action: Option<Action>,
    #[serde(default, alias = "nodes")]
    node: Option<NodeSpec>,
    #[serde(default)]
    shape: Option<Shape>,
    #[serde(default)]
    links: Option<Vec<[u8; 2]>>,
    /// With `at`: act after every other event of that time, as a fault that reacted to one of
    /// them did (exported runs use it).
    #[serde(default)]
    late: Option<bool>,
    /// For `links`: the name the partition is counted under, and whether it counts as a new
    /// partition (an exported reconnection does not).
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    counted: Option<bool>,
    #[serde(default)]
    groups: Option<Vec<NodeSpec>>,
    #[serde(default)]
    from: Option<u8>,
    #[serde(default)]
    to: Option<u8>,
    #[serde(default)]
    network: Option<Value>,
    #[serde(default)]
    ppm: Option<i64>,
    #[serde(default)]
    fault: Option<crate::config::StorageFault>,
    #[serde(default)]
    ops: Option<u64>,
    #[serde(default)]
    wipe: Option<bool>,
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
    /// None of these running nodes believes it leads, reachable majority or not (the lab's
    /// "no connected server is leader").
    #[serde(default)]
    pub no_leader_on: Option<NodeSpec>,
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
    /// With `no_commit_for`: watch only these nodes' commit indexes (the others may commit).
    #[serde(default)]
    pub on: Option<NodeSpec>,
    /// At least this many client commands have been committed (in the whole run).
    #[serde(default)]
    pub committed_at_least: Option<u64>,
    /// At most this many client commands have been committed (in the whole run).
    #[serde(default)]
    pub committed_at_most: Option<u64>,
    /// On every running node, each key's value holds every acknowledged append to it exactly
    /// once, no append twice, and each client's appends in the order it made them (the lab's
    /// final check of a client's appends). Needs a workload without puts.
    #[serde(default)]
    pub appends_intact: Option<bool>,
    /// Every up node has applied every committed entry.
    #[serde(default)]
    pub applied_on_all: Option<bool>,
    /// The mark the counts of this expectation are measured from: messages, bytes, and the
    /// committed and completed counts (which are otherwise counted from the start).
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
    /// On every running node, the persisted Raft state (term, vote and log in the WAL format,
    /// the lab's `RaftStateSize`) takes at most this many bytes.
    #[serde(default)]
    pub raft_state_bytes_at_most: Option<u64>,
    /// On every running node, the snapshot's data takes at most this many bytes.
    #[serde(default)]
    pub snapshot_bytes_at_most: Option<u64>,
    /// At least this many snapshots were installed from a leader (since the mark, if any).
    #[serde(default)]
    pub snapshots_installed_at_least: Option<u64>,
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
    /// Skipped unless this holds when the step starts.
    pub if_: Option<Condition>,
    /// Skipped unless a draw of the seed falls under this many parts per million.
    pub chance: Option<u32>,
    pub unless_up_at_least: Option<usize>,
    pub unless_connected_at_least: Option<usize>,
    pub action: Action,
    pub node: Option<NodeSpec>,
    pub shape: Option<Shape>,
    pub links: Option<Vec<[u8; 2]>>,
    pub late: bool,
    pub partition_label: Option<String>,
    pub counted: Option<bool>,
    pub groups: Option<Vec<NodeSpec>>,
    pub from: Option<u8>,
    pub to: Option<u8>,
    pub network: Option<Value>,
    pub ppm: Option<i64>,
    pub fault: Option<crate::config::StorageFault>,
    pub ops: Option<u64>,
    /// With `add-server`: wipe the server's disk first.
    pub wipe: bool,
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
    #[serde(default)]
    known_finding: Option<KnownFinding>,
}

impl Scenario {
    /// Reads and validates a scenario file (of at most 64 MiB).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let source = path.display().to_string();
        let text = crate::limits::read_file(path).map_err(|e| ScenarioError {
            source: source.clone(),
            location: String::new(),
            message: e.trim_start_matches(&format!("{source}: ")).to_string(),
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
        let seeds = file.seeds.unwrap_or(100);
        crate::limits::in_range("seeds", seeds, 1, crate::limits::SCENARIO_SEEDS_MAX)
            .map_err(|m| err("seeds".into(), m.trim_start_matches("seeds: ").to_string()))?;
        if let Some(k) = &file.known_finding {
            if k.about.trim().is_empty() {
                return Err(err("known_finding.about".into(), "expected a non-empty description".into()));
            }
            if k.verdict == crate::run::Verdict::Pass {
                return Err(err(
                    "known_finding.verdict".into(),
                    "expected a failing verdict, not pass".into(),
                ));
            }
            if k.seeds.is_empty() || k.seeds.len() > 1_000 {
                return Err(err("known_finding.seeds".into(), "expected 1 to 1000 seeds".into()));
            }
        }
        let scenario = Scenario {
            name: file.name,
            description: file.description,
            seeds,
            source: source.to_string(),
            config,
            steps,
            expect: file.expect,
            fixed_duration,
            known_finding: file.known_finding,
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

    /// Operations the schedule's `submit` steps add, in all (for the event budget).
    #[must_use]
    pub fn ops_submitted(&self) -> u64 {
        self.steps
            .iter()
            .filter(|s| s.action == Action::Submit)
            .filter_map(|s| s.ops)
            .fold(0, u64::saturating_add)
    }

    fn validate_steps(&self) -> Result<(), ScenarioError> {
        let config = self.config(0)?;
        let nodes = config.cluster.nodes;
        let err = |location: &str, message: String| ScenarioError {
            source: self.source.clone(),
            location: location.to_string(),
            message,
        };
        let mut saved = std::collections::BTreeSet::new();
        let mut marks = std::collections::BTreeSet::new();
        let mut submitted = 0u64;
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
            if let Some(spec) = &step.node {
                validate_nodes(spec, nodes, &saved).map_err(|m| err(&format!("{l}.node"), m))?;
            }
            for (i, group) in step.groups.iter().flatten().enumerate() {
                validate_nodes(group, nodes, &saved).map_err(|m| err(&format!("{l}.groups[{i}]"), m))?;
            }
            if let Some(spec) = &step.expect.no_leader_on {
                validate_nodes(spec, nodes, &saved)
                    .map_err(|m| err(&format!("{l}.expect.no_leader_on"), m))?;
            }
            if let Some(spec) = &step.expect.on {
                validate_nodes(spec, nodes, &saved).map_err(|m| err(&format!("{l}.expect.on"), m))?;
                if step.expect.no_commit_for.is_none() {
                    return Err(err(
                        &format!("{l}.expect.on"),
                        "\"on\" applies to \"no_commit_for\" only".into(),
                    ));
                }
            }
            for (field, condition) in [("when", step.when), ("if", step.if_)] {
                if let Some(Condition::AppliedOn(k)) = condition {
                    if k == 0 || k > nodes {
                        return Err(err(
                            &format!("{l}.{field}"),
                            format!("applied-on {k}: expected 1 to {nodes} nodes"),
                        ));
                    }
                }
            }
            for (field, count) in [
                ("unless_up_at_least", step.unless_up_at_least),
                ("unless_connected_at_least", step.unless_connected_at_least),
            ] {
                if count.is_some_and(|k| k > nodes) {
                    return Err(err(&format!("{l}.{field}"), format!("expected at most {nodes} nodes")));
                }
            }
            if step.expect.appends_intact == Some(true) && config.workload.put_ppm > 0 {
                return Err(err(
                    &format!("{l}.expect.appends_intact"),
                    "needs a workload without puts (workload.put_ppm 0): a put replaces the appends before it".into(),
                ));
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
                    | Action::Pick
                    | Action::AddServer
                    | Action::PromoteServer
                    | Action::RemoveServer
                    | Action::TransferLeader
                    | Action::DamageDisk
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
            if step.save_as.is_some() && step.node.is_none() {
                return Err(err(
                    &format!("{l}.save_as"),
                    "\"save_as\" saves the nodes of \"node\", and there is none".into(),
                ));
            }
            if step.action == Action::Pick && step.save_as.is_none() {
                return Err(err(l, "\"pick\" needs \"save_as\": it only remembers nodes".into()));
            }
            let requires = |present: bool, field: &str, action: Action| -> Result<(), ScenarioError> {
                let applies = match field {
                    "shape" | "groups" | "links" | "label" | "counted" => action == Action::Partition,
                    "from" | "to" => action == Action::Cut,
                    "network" => action == Action::Network,
                    "ppm" => action == Action::Drift,
                    "fault" => action == Action::DamageDisk,
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
            requires(step.links.is_some(), "links", step.action)?;
            if step.late && step.at.is_none() {
                return Err(err(l, "\"late\" goes with \"at\"".into()));
            }
            requires(step.partition_label.is_some(), "label", step.action)?;
            requires(step.counted.is_some(), "counted", step.action)?;
            requires(step.from.is_some(), "from", step.action)?;
            requires(step.to.is_some(), "to", step.action)?;
            requires(step.network.is_some(), "network", step.action)?;
            requires(step.ppm.is_some(), "ppm", step.action)?;
            if step.wipe && step.action != Action::AddServer {
                return Err(err(l, "\"wipe\" applies to \"add-server\" only".into()));
            }
            requires(step.fault.is_some(), "fault", step.action)?;
            requires(step.ops.is_some(), "ops", step.action)?;
            requires(step.name.is_some(), "name", step.action)?;
            match step.action {
                Action::Partition
                    if usize::from(step.shape.is_some())
                        + usize::from(step.groups.is_some())
                        + usize::from(step.links.is_some())
                        != 1 =>
                {
                    return Err(err(
                        l,
                        "\"partition\" needs exactly one of \"shape\", \"groups\" or \"links\"".into(),
                    ));
                }
                Action::Partition
                    if step.links.is_none() && (step.partition_label.is_some() || step.counted.is_some()) =>
                {
                    return Err(err(l, "\"label\" and \"counted\" go with \"links\"".into()));
                }
                Action::Partition if step.links.is_some() => {
                    for (i, [a, b]) in step.links.iter().flatten().enumerate() {
                        if usize::from(*a) >= nodes || usize::from(*b) >= nodes || a == b {
                            return Err(err(
                                &format!("{l}.links[{i}]"),
                                format!("expected two different nodes below {nodes}, found [{a}, {b}]"),
                            ));
                        }
                    }
                }
                Action::Partition if step.groups.as_ref().is_some_and(|g| g.len() < 2) => {
                    return Err(err(&format!("{l}.groups"), "expected at least two groups".into()));
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
                    if ppm.unsigned_abs() >= crate::limits::DRIFT_PPM_LIMIT {
                        return Err(err(
                            l,
                            format!("drift of {ppm} ppm: expected less than 500000 either way"),
                        ));
                    }
                }
                Action::DamageDisk if step.fault.is_none() => {
                    return Err(err(
                        l,
                        "\"damage-disk\" needs \"fault\": bit-rot, latent-sector-error, misdirected-write, lost-write or wipe".into(),
                    ))
                }
                Action::Submit if step.ops.is_none() => {
                    return Err(err(l, "\"submit\" needs \"ops\"".into()))
                }
                Action::Submit => {
                    submitted = submitted.saturating_add(step.ops.unwrap_or(0));
                    if config.workload.ops.saturating_add(submitted) > crate::limits::OPS_MAX {
                        return Err(err(
                            &format!("{l}.ops"),
                            format!(
                                "the workload's ops and the schedule's submissions reach {} operations by here; \
                                 a run holds at most 1,000,000",
                                crate::limits::grouped(config.workload.ops.saturating_add(submitted))
                            ),
                        ));
                    }
                    let bytes = (config.workload.ops.saturating_add(submitted))
                        .saturating_mul(config.workload.value_bytes as u64);
                    if bytes > crate::limits::PAYLOAD_BYTES_MAX {
                        return Err(err(
                            &format!("{l}.ops"),
                            format!(
                                "operations x workload.value_bytes reach {} bytes by here, more than the 64 MiB \
                                 every node's log and disk could be asked to hold",
                                crate::limits::grouped(bytes)
                            ),
                        ));
                    }
                }
                Action::Mark => {
                    let name = step.name.clone().ok_or_else(|| err(l, "\"mark\" needs \"name\"".into()))?;
                    marks.insert(name);
                }
                _ => {}
            }
            if let Some(Delay::Range { min, max }) = step.after {
                if min.0 > max.0 {
                    return Err(err(
                        &format!("{l}.after"),
                        format!("min ({} ns) exceeds max ({} ns)", min.0, max.0),
                    ));
                }
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

/// Checks a node spec against the cluster and the names saved so far.
fn validate_nodes(
    spec: &NodeSpec,
    nodes: usize,
    saved: &std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let in_range = |n: u8| -> Result<(), String> {
        if usize::from(n) >= nodes {
            return Err(format!("node {n} does not exist: the cluster has nodes 0 to {}", nodes - 1));
        }
        Ok(())
    };
    match spec {
        NodeSpec::Id(n) => in_range(*n),
        NodeSpec::List(list) => list.iter().try_for_each(|n| in_range(*n)),
        NodeSpec::Union(specs) => specs.iter().try_for_each(|s| validate_nodes(s, nodes, saved)),
        NodeSpec::Pick(pick) => {
            if let Some(random) = pick.random {
                if random == 0 || random > nodes {
                    return Err(format!("cannot pick {random} of {nodes} nodes"));
                }
            }
            if let Some(from) = &pick.from {
                validate_nodes(from, nodes, saved)?;
            }
            pick.except.iter().try_for_each(|e| validate_nodes(e, nodes, saved))
        }
        NodeSpec::Named(name) => match name.strip_prefix('$') {
            Some(var) if !saved.contains(var) => {
                Err(format!("node \"{name}\" refers to nothing saved by an earlier step"))
            }
            Some(_) => Ok(()),
            None if !NAMED_NODES.contains(&name.as_str()) => Err(format!(
                "unknown node \"{name}\"; expected a number, a list, {{\"random\": K}}, \"$name\" or one of {}",
                NAMED_NODES.join(", ")
            )),
            None => Ok(()),
        },
    }
}

/// The names a `node` field may take.
pub const NAMED_NODES: [&str; 8] =
    ["leader", "follower", "random", "random-up", "random-down", "all", "up", "down"];

fn unroll(specs: &[StepSpec], path: &str, out: &mut Vec<Step>) -> Result<(), (String, String)> {
    for (i, spec) in specs.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let rounds = spec.repeat.unwrap_or(1);
        if rounds == 0 || u64::from(rounds) > crate::limits::REPEAT_MAX {
            return Err((format!("{here}.repeat"), "expected 1 to 1,000,000".into()));
        }
        for round in 1..=rounds {
            let label = if rounds > 1 { format!("{here} round {round}/{rounds}") } else { here.clone() };
            match &spec.steps {
                Some(group) => {
                    if spec.action.is_some()
                        || spec.node.is_some()
                        || spec.expect.is_some()
                        || spec.when.is_some()
                        || spec.if_.is_some()
                        || spec.chance.is_some()
                        || spec.unless_up_at_least.is_some()
                        || spec.unless_connected_at_least.is_some()
                    {
                        return Err((
                            here,
                            "a step with \"steps\" groups others and cannot act, wait, check or be skipped itself".into(),
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
                    if_: spec.if_,
                    chance: spec.chance.map(|p| p.0),
                    unless_up_at_least: spec.unless_up_at_least,
                    unless_connected_at_least: spec.unless_connected_at_least,
                    action: spec.action.unwrap_or(Action::Wait),
                    node: spec.node.clone(),
                    shape: spec.shape,
                    links: spec.links.clone(),
                    late: spec.late.unwrap_or(false),
                    partition_label: spec.label.clone(),
                    counted: spec.counted,
                    groups: spec.groups.clone(),
                    from: spec.from,
                    to: spec.to,
                    network: spec.network.clone(),
                    ppm: spec.ppm,
                    fault: spec.fault,
                    ops: spec.ops,
                    wipe: spec.wipe.unwrap_or(false),
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
        if_: None,
        chance: None,
        unless_up_at_least: None,
        unless_connected_at_least: None,
        action: Action::Wait,
        node: None,
        shape: None,
        links: None,
        late: false,
        partition_label: None,
        counted: None,
        groups: None,
        from: None,
        to: None,
        network: None,
        ppm: None,
        fault: None,
        ops: None,
        wipe: false,
        save_as: None,
        name: None,
        expect: StepExpect::default(),
    }
}

/// Network presets, after the lab suite's figures: `reliable` (short delays only),
/// `unreliable` (10% of messages lost, 0-26 ms delays), `unreliable-long-reordering` (the same,
/// plus two in three answers held back 200-2,200 ms, as the lab's long reordering holds back
/// replies).
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
            "long_delay_ppm": 666_667, "long_delay_ns_min": 200 * ms, "long_delay_ns_max": 2_200 * ms,
            "long_delay_replies_only": true
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
            // Types are checked now, so that a bad value fails the load, not the run.
            serde_path_to_error::deserialize::<_, crate::config::NetworkConfig>(&base)
                .map_err(|e| format!("network.{}: {}", e.path().clone(), e.into_inner()))?;
            Ok(patch)
        }
        other => Err(format!("expected a preset name or an object of network fields, found {other}")),
    }
}

/// Rewrites human-friendly values: `"250ms"` for duration fields (`_ns`, `_ns_min`, `_ns_max`),
/// `"10%"` for probability fields (`_ppm`, `_ppm_max`), and a preset name for `network`.
fn normalize(value: &Value, path: &str) -> Result<Value, (String, String)> {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, v) in map {
                let here = format!("{path}.{key}");
                let v = match (key.as_str(), v) {
                    ("network", Value::String(_)) => network_patch(v).map_err(|m| (here.clone(), m))?,
                    (k, Value::String(s)) if unit_field(k, "_ns") => {
                        Value::from(crate::config::parse_sim_duration(s).map_err(|m| (here.clone(), m))?)
                    }
                    (k, Value::String(s)) if unit_field(k, "_ppm") => {
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

/// Whether a field name carries `unit`, last or before a `_min` / `_max` qualifier
/// (`delay_ns`, `delay_ns_max`).
fn unit_field(key: &str, unit: &str) -> bool {
    key.ends_with(unit)
        || [format!("{unit}_min"), format!("{unit}_max")].iter().any(|u| key.ends_with(u.as_str()))
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
    if whole > 100 {
        return Err(format!("{text} is more than 100%"));
    }
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
mod tests;
