//! Boils a run's report, trace and history down to what the timeline page draws.
//!
//! The trace of a 10 s run has tens of thousands of lines, most of them messages; the page needs
//! intervals (roles and terms, downtime, pauses, partitions), the client operations and the
//! failing point. Pre-digesting here keeps the page a few hundred kilobytes instead of megabytes,
//! and keeps the JavaScript a renderer rather than a second trace reader.
//!
//! Every input is treated as untrusted: a missing or mistyped field drops that item (and is
//! counted in `problems`), never the page.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// Node numbers at or above this are ignored: a lane per node must stay a handful of lanes even
/// if a hand-written trace says `"node": 4000000000`.
const NODE_LANES_MAX: u64 = 256;
/// About this many message-count buckets over the whole run; the page merges them per pixel.
const MESSAGE_BUCKETS: u64 = 1000;
/// Values and outputs longer than this are clipped: the output of a read of an append-only key
/// grows with the run, and the full strings are in history.json next to the page.
const TEXT_CHARS_MAX: usize = 64;

/// A partition: (start, end or null while still cut at the end, shape, cut directed links).
pub(super) type PartitionSpan = (u64, Option<u64>, String, Vec<(u64, u64)>);

/// An operation: (id, client, f, key, value, output, status 0 ok / 1 failed / 2 unknown, call,
/// return, nodes its attempts went to). An array rather than an object: with 10,000 operations
/// the field names alone would be half the page.
pub(super) type OpRow =
    (u64, u64, usize, usize, Option<String>, Option<String>, u8, u64, Option<u64>, Vec<u64>);

/// Everything the page draws (embedded as JSON, read by timeline.js).
#[derive(Serialize, Default)]
pub(super) struct Digest {
    pub format: &'static str,
    pub version: u32,
    pub run: Run,
    pub nodes: Vec<NodeLane>,
    pub clients: Vec<u64>,
    pub duration_ns: Option<u64>,
    pub liveness_ns: Option<u64>,
    pub op_timeout_ns: Option<u64>,
    pub end_ns: u64,
    pub partitions: Vec<PartitionSpan>,
    /// (time, drop_ppm, duplicate_ppm, long_delay_ppm).
    pub network: Vec<(u64, u64, u64, u64)>,
    pub messages: Messages,
    pub ops: Ops,
    pub failure: Option<Failure>,
    pub violation: Option<ViolationView>,
    /// Periods with no node up and leading (see `availability.rs`), from the trace.
    pub leaderless: Vec<(u64, u64)>,
    /// Pages next to this one that it links to.
    pub links: Links,
    /// The curve `raftsim explain` measured, when it ran on the report folder.
    pub explain: Option<Value>,
    /// What could not be read, for a warning on the page.
    pub problems: Vec<String>,
}

#[derive(Serialize, Default)]
pub(super) struct Links {
    /// `messages.html` (the Lamport diagram) is next to the page.
    pub messages: bool,
}

#[derive(Serialize, Default)]
pub(super) struct Run {
    pub seed: Option<Value>,
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub command: Option<String>,
    pub version: Option<String>,
    pub scenario: Option<String>,
}

#[derive(Serialize)]
pub(super) struct NodeLane {
    pub node: u64,
    /// (start, end, role: "F" | "C" | "L" | other, term, commit at end, last index at end).
    pub roles: Vec<(u64, u64, String, u64, u64, u64)>,
    /// (crash, restart or null, writes lost, torn, torn bytes kept).
    pub down: Vec<(u64, Option<u64>, u64, bool, u64)>,
    /// (pause, resume or null, messages waiting at the resume).
    pub paused: Vec<(u64, Option<u64>, u64)>,
    /// (time, drift in ppm).
    pub drift: Vec<(u64, i64)>,
    /// Membership operations on this server: (time, "add" | "promote" | "remove" | "transfer" |
    /// "wipe", the leader that made it, refused).
    pub membership: Vec<(u64, String, Option<u64>, bool)>,
    /// While the server is out of the configuration (a removal started, until it is added back):
    /// (start, end or null while still out at the end).
    pub out: Vec<(u64, Option<u64>)>,
    #[serde(skip)]
    open_role: Option<(u64, String, u64, u64, u64)>,
}

impl NodeLane {
    fn new(node: u64) -> NodeLane {
        NodeLane {
            node,
            roles: Vec::new(),
            down: Vec::new(),
            paused: Vec::new(),
            drift: Vec::new(),
            membership: Vec::new(),
            out: Vec::new(),
            open_role: None,
        }
    }

    /// Ends the current role segment: a role or term change, a crash, or the end of the run.
    fn close_role(&mut self, t: u64) {
        if let Some((start, role, term, commit, last)) = self.open_role.take() {
            self.roles.push((start, t.max(start), role, term, commit, last));
        }
    }
}

#[derive(Serialize, Default)]
pub(super) struct Messages {
    pub bucket_ns: u64,
    pub sent: Vec<u32>,
    pub delivered: Vec<u32>,
    pub dropped_loss: Vec<u32>,
    pub dropped_partition: Vec<u32>,
    pub dropped_down: Vec<u32>,
}

#[derive(Serialize, Default)]
pub(super) struct Ops {
    /// Operation names, indexed by a row's `f`.
    pub fs: Vec<String>,
    /// Keys, indexed by a row's `key`.
    pub keys: Vec<String>,
    pub rows: Vec<OpRow>,
}

#[derive(Serialize, Default)]
pub(super) struct Failure {
    pub check: Option<String>,
    pub node: Option<u64>,
    pub event: Option<u64>,
    pub time_ns: Option<u64>,
    /// Where the page draws the marker: the failure's time, or for a non-linearizable history the
    /// first return among the operations involved (the point where no order fits any more).
    pub marker_ns: Option<u64>,
    /// The reason the trace's `violation` line gives, when there is one.
    pub detail: Option<String>,
}

#[derive(Serialize, Default)]
pub(super) struct ViolationView {
    pub key: Option<String>,
    pub operations: Vec<u64>,
    pub longest_prefix: Vec<u64>,
    pub part_operations: Option<u64>,
    pub explanation: Option<String>,
    pub details: Vec<String>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Clips long strings to their head and tail (the tail of an append-only value is the news).
pub(super) fn clip(s: &str) -> String {
    let n = s.chars().count();
    if n <= TEXT_CHARS_MAX {
        return s.to_string();
    }
    let head: String = s.chars().take(16).collect();
    let tail: String = s.chars().skip(n - 40).collect();
    format!("{head}…{tail} [{n} chars]")
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
}

/// "n3" (a trace address) or 3 (a number) to a node number.
fn node_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.strip_prefix('n')).and_then(|s| s.parse().ok()))
}

pub(super) fn digest(report: &Value, trace_jsonl: &str, history_json: &str) -> Digest {
    let config = &report["config"];
    let summary = &report["summary"];
    let mut d = Digest {
        format: "raftsim-timeline",
        version: 1,
        duration_ns: config["duration_ns"].as_u64(),
        liveness_ns: config["liveness_ns"].as_u64(),
        op_timeout_ns: config["workload"]["op_timeout_ns"].as_u64(),
        ..Digest::default()
    };
    let either = |field: &str| if report[field].is_null() { &summary[field] } else { &report[field] };
    let seed = either("seed");
    d.run = Run {
        seed: (!seed.is_null()).then(|| seed.clone()),
        verdict: text(either("verdict")),
        reason: text(either("reason")),
        command: text(&report["command"]).or_else(|| text(&summary["replay"])),
        version: text(&report["version"]),
        scenario: match &report["scenario"] {
            Value::Null => None,
            Value::String(s) => Some(clip(s)),
            other => Some(clip(&other.to_string())),
        },
    };

    let mut nodes: BTreeMap<u64, NodeLane> = BTreeMap::new();
    for n in 0..config["cluster"]["nodes"].as_u64().unwrap_or(0).min(NODE_LANES_MAX) {
        nodes.insert(n, NodeLane::new(n));
    }
    // A lane per client that made calls: the history's clients and those the trace saw call
    // (a client whose only call was cut off by the end of the run may be missing from one).
    let mut clients = BTreeSet::new();
    let trace = read_trace(trace_jsonl, &mut d, &mut nodes);
    let ops = read_history(history_json, &mut d, &trace.attempts);
    for row in &d.ops.rows {
        clients.insert(row.1);
    }
    clients.extend(trace.attempts.keys().copied());

    // The run ends at its last event, or later if the summary or an operation says so. Not at
    // the planned fault phase: a run stopped by a violation ends there, and drawing roles on
    // to the planned end would invent a history.
    let op_end = d.ops.rows.iter().map(|r| r.8.unwrap_or(r.7)).max().unwrap_or(0);
    d.end_ns = trace.end_ns.max(summary["sim_time_ns"].as_u64().unwrap_or(0)).max(op_end);
    if d.end_ns == 0 {
        d.end_ns = d.duration_ns.unwrap_or(0).max(1);
    }
    for lane in nodes.values_mut() {
        lane.close_role(d.end_ns);
    }
    d.leaderless = trace.leaders.finish(d.end_ns).3;
    d.nodes = nodes.into_values().collect();
    d.clients = clients.into_iter().collect();
    d.messages = bucket_messages(&trace.messages, d.end_ns);
    d.violation = read_violation(&report["linearizability"]["violation"]);
    d.failure = read_failure(report, trace.violation.as_ref(), d.violation.as_ref(), &ops);
    d
}

/// What the trace gives beyond the lanes it fills in directly.
#[derive(Default)]
struct TraceFacts {
    end_ns: u64,
    /// (time, kind): 0 sent, 1 delivered, 2 dropped (loss), 3 (partition), 4 (node down).
    messages: Vec<(u64, u8)>,
    /// Per client, (time, node) of every attempt of a call.
    attempts: BTreeMap<u64, Vec<(u64, u64)>>,
    /// The first `violation` line.
    violation: Option<TraceViolation>,
    /// Leadership as the trace shows it, for the periods without a leader.
    leaders: crate::availability::LeaderWatch,
}

struct TraceViolation {
    t: u64,
    event: Option<u64>,
    node: Option<u64>,
    invariant: Option<String>,
    reason: Option<String>,
}

fn read_trace(trace_jsonl: &str, d: &mut Digest, nodes: &mut BTreeMap<u64, NodeLane>) -> TraceFacts {
    let mut facts = TraceFacts::default();
    if trace_jsonl.trim().is_empty() {
        d.problems.push("no trace was given: node lanes, partitions and messages are not shown".into());
    }
    let mut unreadable = 0usize;
    let mut first_unreadable = None;
    for (i, line) in trace_jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            unreadable += 1;
            first_unreadable.get_or_insert(i + 1);
            continue;
        };
        let (Some(t), Some(kind)) = (ev["t"].as_u64(), ev["ev"].as_str()) else {
            unreadable += 1;
            first_unreadable.get_or_insert(i + 1);
            continue;
        };
        facts.end_ns = facts.end_ns.max(t);
        let node = ev["node"].as_u64().filter(|n| *n < NODE_LANES_MAX);
        let num = |field: &str| ev[field].as_u64().unwrap_or(0);
        match (kind, node) {
            ("state", Some(n)) => {
                let role = match ev["role"].as_str().unwrap_or("?") {
                    "Follower" => "F".to_string(),
                    "Candidate" => "C".to_string(),
                    "Leader" => "L".to_string(),
                    other => clip(other),
                };
                let (term, commit, last) = (num("term"), num("commit"), num("last"));
                facts.leaders.role(t, n, role == "L");
                let lane = lane(nodes, n);
                match &mut lane.open_role {
                    // Only a role or term change starts a segment; commit moves update it.
                    Some(open) if open.1 == role && open.2 == term => (open.3, open.4) = (commit, last),
                    _ => {
                        lane.close_role(t);
                        lane.open_role = Some((t, role, term, commit, last));
                    }
                }
            }
            ("crash", Some(n)) => {
                facts.leaders.stall(t, n, true, true);
                let lane = lane(nodes, n);
                lane.close_role(t);
                if let Some(p) = lane.paused.last_mut().filter(|p| p.1.is_none()) {
                    p.1 = Some(t);
                }
                let torn = ev["torn"].as_bool().unwrap_or(false);
                lane.down.push((t, None, num("writes_lost"), torn, num("torn_bytes_kept")));
            }
            ("restart", Some(n)) => match lane_restarted(nodes, &mut facts.leaders, t, n).down.last_mut() {
                Some(down) if down.1.is_none() => down.1 = Some(t),
                // A restart with no crash before it: the node was down from the start.
                _ => lane(nodes, n).down.push((0, Some(t), 0, false, 0)),
            },
            ("pause", Some(n)) => {
                facts.leaders.stall(t, n, true, false);
                lane(nodes, n).paused.push((t, None, 0));
            }
            ("resume", Some(n)) => {
                facts.leaders.stall(t, n, false, false);
                let inbox = num("inbox");
                match lane(nodes, n).paused.last_mut() {
                    Some(p) if p.1.is_none() => (p.1, p.2) = (Some(t), inbox),
                    _ => lane(nodes, n).paused.push((0, Some(t), inbox)),
                }
            }
            ("drift", Some(n)) => lane(nodes, n).drift.push((t, ev["ppm"].as_i64().unwrap_or(0))),
            ("membership", _) => {
                let target = ev["target"].as_u64().filter(|n| *n < NODE_LANES_MAX);
                let (Some(n), Some(kind)) = (target, ev["kind"].as_str()) else { continue };
                let refused = ev["refused"].as_bool().unwrap_or(false);
                let leader = ev["leader"].as_u64().filter(|l| *l < NODE_LANES_MAX);
                let lane = lane(nodes, n);
                lane.membership.push((t, clip(kind), leader, refused));
                match kind {
                    "remove" if !refused => lane.out.push((t, None)),
                    "add" if !refused => {
                        if let Some(o) = lane.out.last_mut().filter(|o| o.1.is_none()) {
                            o.1 = Some(t);
                        }
                    }
                    _ => {}
                }
            }
            ("wipe", Some(n)) => lane(nodes, n).membership.push((t, "wipe".to_string(), None, false)),
            ("partition", _) => {
                close_partition(&mut d.partitions, t);
                let cut = ev["cut"]
                    .as_array()
                    .map(|links| {
                        links.iter().filter_map(|l| Some((l[0].as_u64()?, l[1].as_u64()?))).collect()
                    })
                    .unwrap_or_default();
                let shape = clip(ev["shape"].as_str().unwrap_or("partition"));
                d.partitions.push((t, None, shape, cut));
            }
            ("heal", _) => close_partition(&mut d.partitions, t),
            ("network", _) => {
                d.network.push((t, num("drop_ppm"), num("duplicate_ppm"), num("long_delay_ppm")));
            }
            ("send", _) => facts.messages.push((t, 0)),
            ("deliver", _) => facts.messages.push((t, 1)),
            ("drop", _) => {
                let reason = match ev["reason"].as_str() {
                    Some("partition") => 3,
                    Some("down") => 4,
                    _ => 2,
                };
                facts.messages.push((t, reason));
            }
            ("call", _) => {
                if let (Some(client), Some(to)) = (ev["client"].as_u64(), node_number(&ev["to"])) {
                    facts.attempts.entry(client).or_default().push((t, to));
                }
            }
            ("violation", _) if facts.violation.is_none() => {
                facts.violation = Some(TraceViolation {
                    t,
                    event: ev["n"].as_u64(),
                    node: ev["node"].as_u64(),
                    invariant: text(&ev["invariant"]),
                    reason: text(&ev["reason"]),
                });
            }
            _ => {}
        }
    }
    if unreadable > 0 {
        d.problems.push(format!(
            "{unreadable} trace line(s) could not be read (the first is line {})",
            first_unreadable.unwrap_or(0)
        ));
    }
    facts
}

fn lane(nodes: &mut BTreeMap<u64, NodeLane>, n: u64) -> &mut NodeLane {
    nodes.entry(n).or_insert_with(|| NodeLane::new(n))
}

/// The lane of a node that restarts, noting that it is up again.
fn lane_restarted<'a>(
    nodes: &'a mut BTreeMap<u64, NodeLane>,
    leaders: &mut crate::availability::LeaderWatch,
    t: u64,
    n: u64,
) -> &'a mut NodeLane {
    leaders.stall(t, n, false, false);
    lane(nodes, n)
}

fn close_partition(partitions: &mut [PartitionSpan], t: u64) {
    if let Some(p) = partitions.last_mut().filter(|p| p.1.is_none()) {
        p.1 = Some(t.max(p.0));
    }
}

fn bucket_messages(messages: &[(u64, u8)], end_ns: u64) -> Messages {
    // A round bucket width (1, 2 or 5 times a power of ten) so that counts read as rates.
    let mut bucket_ns = 1u64;
    while end_ns / bucket_ns >= MESSAGE_BUCKETS {
        bucket_ns = match bucket_ns.to_string().as_bytes().first() {
            Some(b'1') => bucket_ns * 2,
            Some(b'2') => bucket_ns / 2 * 5,
            _ => bucket_ns * 2,
        };
    }
    let buckets = (end_ns / bucket_ns + 1) as usize;
    let mut m = Messages {
        bucket_ns,
        sent: vec![0; buckets],
        delivered: vec![0; buckets],
        dropped_loss: vec![0; buckets],
        dropped_partition: vec![0; buckets],
        dropped_down: vec![0; buckets],
    };
    for &(t, kind) in messages {
        let b = ((t / bucket_ns) as usize).min(buckets - 1);
        let counts = match kind {
            0 => &mut m.sent,
            1 => &mut m.delivered,
            2 => &mut m.dropped_loss,
            3 => &mut m.dropped_partition,
            _ => &mut m.dropped_down,
        };
        counts[b] = counts[b].saturating_add(1);
    }
    m
}

/// Reads the operations; returns, per id, its (call, return) for placing the failure marker.
fn read_history(
    history_json: &str,
    d: &mut Digest,
    attempts: &BTreeMap<u64, Vec<(u64, u64)>>,
) -> BTreeMap<u64, (u64, Option<u64>)> {
    let mut by_id = BTreeMap::new();
    if history_json.trim().is_empty() {
        d.problems.push("no history was given: client operations are not shown".into());
        return by_id;
    }
    let history: Value = match serde_json::from_str(history_json) {
        Ok(v) => v,
        Err(e) => {
            d.problems.push(format!("the history could not be read ({e}): client operations are not shown"));
            return by_id;
        }
    };
    let Some(operations) = history["operations"].as_array() else {
        d.problems.push("the history has no \"operations\" list: client operations are not shown".into());
        return by_id;
    };
    d.ops.fs = ["get", "put", "append"].map(String::from).to_vec();
    let mut key_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut skipped = 0usize;
    for (i, op) in operations.iter().enumerate() {
        let (Some(client), Some(call)) = (op["client"].as_u64(), op["call_ns"].as_u64()) else {
            skipped += 1;
            continue;
        };
        let id = op["id"].as_u64().unwrap_or(i as u64);
        let f_name = op["f"].as_str().unwrap_or("?");
        let f = match d.ops.fs.iter().position(|f| f == f_name) {
            Some(f) => f,
            None => {
                d.ops.fs.push(clip(f_name));
                d.ops.fs.len() - 1
            }
        };
        let key_name = match &op["key"] {
            Value::String(s) => clip(s),
            Value::Null => String::new(),
            other => clip(&other.to_string()),
        };
        let next = key_index.len();
        let key = *key_index.entry(key_name.clone()).or_insert_with(|| {
            d.ops.keys.push(key_name);
            next
        });
        let show = |v: &Value| match v {
            Value::Null => None,
            Value::String(s) => Some(clip(s)),
            other => Some(clip(&other.to_string())),
        };
        let status = match op["status"].as_str() {
            Some("ok") => 0,
            Some("failed") => 1,
            // Anything else is drawn as unknown, the status that claims the least.
            _ => 2,
        };
        let ret = op["return_ns"].as_u64().filter(|_| status != 2);
        by_id.insert(id, (call, ret));
        d.ops.rows.push((
            id,
            client,
            f,
            key,
            show(&op["value"]),
            show(&op["output"]),
            status,
            call,
            ret,
            Vec::new(),
        ));
    }
    if skipped > 0 {
        d.problems.push(format!("{skipped} operation(s) without a client or call time were left out"));
    }
    attach_attempts(&mut d.ops.rows, attempts);
    by_id
}

/// Gives each operation the nodes its attempts went to. A client has one call outstanding at a
/// time, so an attempt belongs to the client's last operation called at or before it.
fn attach_attempts(rows: &mut [OpRow], attempts: &BTreeMap<u64, Vec<(u64, u64)>>) {
    let mut by_client: BTreeMap<u64, Vec<(u64, usize)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_client.entry(r.1).or_default().push((r.7, i));
    }
    for (client, ops) in &mut by_client {
        ops.sort_unstable();
        for &(t, node) in attempts.get(client).map_or(&[][..], Vec::as_slice) {
            let after = ops.partition_point(|(call, _)| *call <= t);
            if let Some(&(_, i)) = after.checked_sub(1).and_then(|k| ops.get(k)) {
                rows[i].9.push(node);
            }
        }
    }
}

fn read_violation(v: &Value) -> Option<ViolationView> {
    if !v.is_object() {
        return None;
    }
    Some(ViolationView {
        key: v["part"].as_str().map(clip),
        operations: ids(&v["operations"]),
        longest_prefix: ids(&v["longest_prefix"]),
        part_operations: v["part_operations"].as_u64(),
        explanation: text(&v["explanation"]),
        details: v["details"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

fn read_failure(
    report: &Value,
    trace_violation: Option<&TraceViolation>,
    violation: Option<&ViolationView>,
    ops: &BTreeMap<u64, (u64, Option<u64>)>,
) -> Option<Failure> {
    let f = if report["failure"].is_object() { &report["failure"] } else { &report["summary"]["failure"] };
    let mut failure = if f.is_object() {
        Failure {
            check: text(&f["check"]),
            node: f["node"].as_u64(),
            event: f["event"].as_u64(),
            time_ns: f["time_ns"].as_u64(),
            ..Failure::default()
        }
    } else if let Some(v) = trace_violation {
        Failure {
            check: v.invariant.clone(),
            node: v.node,
            event: v.event,
            time_ns: Some(v.t),
            ..Failure::default()
        }
    } else if violation.is_some() {
        Failure { check: Some("linearizability".into()), ..Failure::default() }
    } else {
        return None;
    };
    failure.detail = trace_violation.and_then(|v| v.reason.clone());
    failure.marker_ns = failure.time_ns;
    if let Some(v) = violation {
        let involved = v.operations.iter().filter_map(|id| ops.get(id));
        let forced = involved.map(|(call, ret)| ret.unwrap_or(*call)).min();
        failure.marker_ns = forced.or(failure.marker_ns);
    }
    Some(failure)
}
