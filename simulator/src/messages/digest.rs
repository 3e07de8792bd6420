//! Reads a run's trace into the messages the page draws: each send matched to its delivery, hold
//! or drop by the message id the trace carries (see `network.rs`), the lanes they connect, the
//! failing point and its causal past.
//!
//! A long run sends hundreds of thousands of messages; the page embeds the last
//! [`EMBEDDED_MAX`] sent up to the failing point (counting the rest), and opens on the latest
//! [`CAUSAL_SHOWN`] of those in the failing event's causal past. Every input is untrusted: what
//! cannot be read is skipped and counted in `problems`, never a panic.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::causal::{self, Hop};

/// The most messages a page embeds, the latest sent up to the failing point.
pub const EMBEDDED_MAX: usize = 3000;
/// How many of the latest messages of the causal past the page shows when it opens.
pub const CAUSAL_SHOWN: usize = 150;
/// Lanes beyond this many are not drawn (a hand-written trace may name node 4000000000).
const LANES_MAX: usize = 300;
/// Message texts are clipped to this many characters.
const TEXT_CHARS_MAX: usize = 80;

/// What became of a message, as the page's codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Delivered = 0,
    /// Held in a paused node's inbox, handed over when it resumed.
    HeldThenDelivered = 1,
    /// Still on its way (or in a paused node's inbox) when the trace ends.
    InFlight = 2,
    DroppedLoss = 3,
    DroppedPartition = 4,
    DroppedDown = 5,
    DroppedOverflow = 6,
    /// Held by a paused node that crashed before it resumed.
    LostInCrash = 7,
}

/// A message: `[id, from lane, to lane, kind, term (-1 if none), send time, send event,
/// send position, fate, end time, end event, end position, copy of (-1 if not a copy), in the
/// causal past (0/1), held since (-1), text]`. Arrays, not objects: the names would be half the
/// page. The end is where it arrived, or was lost (-1 while in flight).
pub type MsgRow = (u64, usize, usize, usize, i64, u64, u64, u64, u8, i64, i64, i64, i64, u8, i64, String);

#[derive(Serialize, Default)]
pub struct Digest {
    pub format: &'static str,
    pub version: u32,
    pub seed: Option<Value>,
    pub verdict: Option<String>,
    pub lanes: Vec<String>,
    pub kinds: Vec<String>,
    pub failure: Option<FailurePoint>,
    /// The window the page opens on (virtual ns).
    pub window: (u64, u64),
    /// Messages sent up to the failing point that are not embedded (the earliest ones).
    pub omitted_before: usize,
    /// Messages in the whole run, and of them in the causal past of the failing point.
    pub total: usize,
    pub total_causal: usize,
    pub msgs: Vec<MsgRow>,
    /// Per node lane (by index), `(start, end, role letter, term)` within the embedded span.
    pub roles: Vec<Vec<(u64, u64, String, u64)>>,
    /// `(lane, from, to or -1, "down" | "paused")`.
    pub outages: Vec<(usize, u64, i64, &'static str)>,
    /// The end of the trace (virtual ns).
    pub end_ns: u64,
    pub problems: Vec<String>,
    /// Per lane, the last trace position in the causal past of the failing point (-1: none),
    /// for the page to tell whether a drawn event is in it.
    pub horizons: Vec<i64>,
}

/// Where the page draws the failing point, and what its causal past starts from.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct FailurePoint {
    pub label: String,
    pub time_ns: u64,
    pub event: Option<u64>,
    /// The lane of the failing event; `None` when the failure is the whole cluster's state at a
    /// time (a liveness failure, the end of a run), whose past starts on every lane.
    pub lane: Option<usize>,
    /// The trace position of the failing event.
    pub position: u64,
}

/// One message as read from the trace.
struct Raw {
    from: String,
    to: String,
    kind: String,
    term: Option<u64>,
    text: String,
    send: (u64, u64, u64),
    fate: Fate,
    end: Option<(u64, u64, u64)>,
    copy_of: Option<u64>,
    held_since: Option<u64>,
}

fn clip(s: &str) -> String {
    if s.chars().count() <= TEXT_CHARS_MAX {
        return s.to_string();
    }
    let head: String = s.chars().take(TEXT_CHARS_MAX - 1).collect();
    format!("{head}…")
}

/// A node down or paused: `(from, to while it lasts, "down" | "paused")`.
type Outage = (u64, Option<u64>, &'static str);

/// Everything a trace says about messages and lanes.
#[derive(Default)]
struct Read {
    msgs: BTreeMap<u64, Raw>,
    /// Per node, role changes `(time, role letter, term)`.
    roles: BTreeMap<u64, Vec<(u64, String, u64)>>,
    /// Per node, `(from, to, kind)`.
    outages: BTreeMap<u64, Vec<Outage>>,
    /// The first violation line: (position, time, event, node).
    violation: Option<(u64, u64, u64, Option<u64>)>,
    /// Per client, `(time, position)` of each delivery to it, for finding a return.
    client_deliveries: BTreeMap<String, Vec<(u64, u64)>>,
    /// `(time, event, position)` of every line, for finding positions by time or event.
    lines: Vec<(u64, u64, u64)>,
    unmatched: usize,
    without_ids: usize,
    unreadable: usize,
    end_ns: u64,
}

fn read(trace_jsonl: &str) -> Read {
    let mut r = Read::default();
    // Per paused node, the ids held in its inbox.
    let mut held: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (i, line) in trace_jsonl.lines().enumerate() {
        let pos = i as u64;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            r.unreadable += 1;
            continue;
        };
        let (Some(t), Some(kind)) = (ev["t"].as_u64(), ev["ev"].as_str()) else {
            r.unreadable += 1;
            continue;
        };
        let n = ev["n"].as_u64().unwrap_or(0);
        r.end_ns = r.end_ns.max(t);
        r.lines.push((t, n, pos));
        let here = (t, n, pos);
        let text = |f: &str| ev[f].as_str().unwrap_or("").to_string();
        let node = ev["node"].as_u64();
        match kind {
            "send" | "deliver" | "hold" | "drop" => {
                let Some(id) = ev["id"].as_u64() else {
                    r.without_ids += 1;
                    continue;
                };
                if kind == "deliver" {
                    let to = text("to");
                    if to.starts_with('c') {
                        r.client_deliveries.entry(to).or_default().push((t, pos));
                    }
                }
                let fresh = || Raw {
                    from: text("from"),
                    to: text("to"),
                    kind: clip(ev["kind"].as_str().unwrap_or("?")),
                    term: ev["term"].as_u64(),
                    text: clip(ev["msg"].as_str().unwrap_or("")),
                    send: here,
                    fate: Fate::InFlight,
                    end: None,
                    copy_of: ev["copy_of"].as_u64(),
                    held_since: None,
                };
                match kind {
                    "send" => {
                        if let Some(copy) = ev["copy"].as_u64() {
                            let mut c = fresh();
                            c.copy_of = Some(id);
                            r.msgs.insert(copy, c);
                        }
                        r.msgs.insert(id, fresh());
                    }
                    "drop" => {
                        let fate = match ev["reason"].as_str() {
                            Some("partition") => Fate::DroppedPartition,
                            Some("down") => Fate::DroppedDown,
                            Some("overflow") => Fate::DroppedOverflow,
                            _ => Fate::DroppedLoss,
                        };
                        // A message dropped as it is sent has no send line of its own.
                        let m = r.msgs.entry(id).or_insert_with(fresh);
                        m.fate = fate;
                        m.end = Some(here);
                    }
                    "deliver" => match r.msgs.get_mut(&id) {
                        Some(m) => {
                            m.fate = Fate::Delivered;
                            m.end = Some(here);
                        }
                        None => r.unmatched += 1,
                    },
                    _ => match r.msgs.get_mut(&id) {
                        Some(m) => {
                            m.held_since = Some(t);
                            held.entry(text("to")).or_default().push(id);
                        }
                        None => r.unmatched += 1,
                    },
                }
            }
            "state" => {
                if let Some(n) = node {
                    let role = match ev["role"].as_str().unwrap_or("?") {
                        "Follower" => "F",
                        "Candidate" => "C",
                        "Leader" => "L",
                        _ => "?",
                    };
                    let term = ev["term"].as_u64().unwrap_or(0);
                    let changes = r.roles.entry(n).or_default();
                    if changes.last().is_none_or(|(_, r0, t0)| r0 != role || *t0 != term) {
                        changes.push((t, role.to_string(), term));
                    }
                }
            }
            "crash" | "pause" => {
                if let Some(n) = node {
                    let what = if kind == "crash" { "down" } else { "paused" };
                    let list = r.outages.entry(n).or_default();
                    // A crash of a paused node ends the pause.
                    if let Some(last) = list.last_mut().filter(|o| o.1.is_none()) {
                        last.1 = Some(t);
                    }
                    list.push((t, None, what));
                    if kind == "crash" {
                        r.roles.entry(n).or_default().push((t, "-".into(), 0));
                        for id in held.remove(&format!("n{n}")).unwrap_or_default() {
                            if let Some(m) = r.msgs.get_mut(&id) {
                                m.fate = Fate::LostInCrash;
                                m.end = Some(here);
                            }
                        }
                    }
                }
            }
            "restart" | "resume" => {
                if let Some(n) = node {
                    if let Some(last) = r.outages.entry(n).or_default().last_mut().filter(|o| o.1.is_none()) {
                        last.1 = Some(t);
                    }
                    // A resumed node takes in what it held, in arrival order, now.
                    for id in held.remove(&format!("n{n}")).unwrap_or_default() {
                        if let Some(m) = r.msgs.get_mut(&id) {
                            m.fate = Fate::HeldThenDelivered;
                            m.end = Some(here);
                        }
                    }
                }
            }
            "violation" if r.violation.is_none() => r.violation = Some((pos, t, n, node)),
            _ => {}
        }
    }
    r
}

/// The lane of an address: nodes first in number order, then clients.
fn lane_names(r: &Read, nodes: u64) -> Vec<String> {
    let mut node_ids: std::collections::BTreeSet<u64> = (0..nodes).collect();
    let mut clients = std::collections::BTreeSet::new();
    for m in r.msgs.values() {
        for a in [&m.from, &m.to] {
            if let Some(n) = a.strip_prefix('n').and_then(|s| s.parse::<u64>().ok()) {
                node_ids.insert(n);
            } else if let Some(c) = a.strip_prefix('c').and_then(|s| s.parse::<u64>().ok()) {
                clients.insert(c);
            }
        }
    }
    node_ids.extend(r.roles.keys().copied());
    node_ids
        .into_iter()
        .map(|n| format!("n{n}"))
        .chain(clients.into_iter().map(|c| format!("c{c}")))
        .take(LANES_MAX)
        .collect()
}

/// The failing point: the violation's event on its node, or for a non-linearizable history the
/// client's receipt of the first return among the operations involved, or else the whole
/// cluster at the failure's time.
fn failure_point(
    report: &Value,
    history_json: &str,
    r: &Read,
    lane_of: &BTreeMap<String, usize>,
) -> Option<FailurePoint> {
    let f = if report["failure"].is_object() { &report["failure"] } else { &report["summary"]["failure"] };
    let check = f["check"].as_str().map(str::to_string);
    let last_at = |t: u64| r.lines.iter().rev().find(|l| l.0 <= t).map_or(0, |l| l.2);
    if let Some((pos, t, n, node)) = r.violation {
        let lane = node.and_then(|n| lane_of.get(&format!("n{n}")).copied());
        let label = format!(
            "{}{}",
            check.unwrap_or_else(|| "violation".into()),
            node.map_or(String::new(), |n| format!(" on n{n}"))
        );
        return Some(FailurePoint { label, time_ns: t, event: Some(n), lane, position: pos });
    }
    let check = check?;
    let time_ns = f["time_ns"].as_u64().unwrap_or(r.end_ns);
    let event = f["event"].as_u64();
    if check == "linearizability" {
        if let Some(point) = forced_return(report, history_json, r, lane_of) {
            return Some(point);
        }
    }
    if let (Some(node), Some(e)) = (f["node"].as_u64(), event) {
        let lane = lane_of.get(&format!("n{node}")).copied();
        let pos = r.lines.iter().rev().find(|l| l.1 <= e).map_or(0, |l| l.2);
        return Some(FailurePoint {
            label: format!("{check} on n{node}"),
            time_ns,
            event,
            lane,
            position: pos,
        });
    }
    Some(FailurePoint { label: check, time_ns, event, lane: None, position: last_at(time_ns) })
}

/// For a non-linearizable history: the receipt of the first return among the operations
/// involved, the point where no order fits any more.
fn forced_return(
    report: &Value,
    history_json: &str,
    r: &Read,
    lane_of: &BTreeMap<String, usize>,
) -> Option<FailurePoint> {
    let involved: Vec<u64> = report["linearizability"]["violation"]["operations"]
        .as_array()?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let history: Value = serde_json::from_str(history_json).ok()?;
    let (client, ret, id) = history["operations"]
        .as_array()?
        .iter()
        .filter(|op| op["id"].as_u64().is_some_and(|id| involved.contains(&id)))
        .filter_map(|op| Some((op["client"].as_u64()?, op["return_ns"].as_u64()?, op["id"].as_u64()?)))
        .min_by_key(|(_, ret, _)| *ret)?;
    let name = format!("c{client}");
    let lane = lane_of.get(&name).copied()?;
    let pos = r.client_deliveries.get(&name)?.iter().find(|(t, _)| *t == ret)?.1;
    let event = r.lines.iter().find(|l| l.2 == pos).map(|l| l.1);
    Some(FailurePoint {
        label: format!("linearizability: op {id} returns to c{client}, and no order fits"),
        time_ns: ret,
        event,
        lane: Some(lane),
        position: pos,
    })
}

/// Boils a run down to its messages page's data.
#[must_use]
pub fn digest(report: &Value, trace_jsonl: &str, history_json: &str) -> Digest {
    let r = read(trace_jsonl);
    let mut d =
        Digest { format: "raftsim-messages", version: 1, end_ns: r.end_ns.max(1), ..Digest::default() };
    let either = |k: &str| if report[k].is_null() { &report["summary"][k] } else { &report[k] };
    d.seed = Some(either("seed").clone()).filter(|v| !v.is_null());
    d.verdict = either("verdict").as_str().map(str::to_string);
    if trace_jsonl.trim().is_empty() {
        d.problems.push("no trace was given: there are no messages to draw".into());
    }
    if r.unreadable > 0 {
        d.problems.push(format!("{} trace line(s) could not be read", r.unreadable));
    }
    if r.without_ids > 0 {
        d.problems.push(format!(
            "{} message line(s) carry no message id (a trace from an older raftsim): they are not drawn",
            r.without_ids
        ));
    }
    if r.unmatched > 0 {
        d.problems.push(format!("{} arrival(s) match no send in the trace and are not drawn", r.unmatched));
    }
    let nodes = report["config"]["cluster"]["nodes"].as_u64().unwrap_or(0).min(LANES_MAX as u64);
    d.lanes = lane_names(&r, nodes);
    let lane_of: BTreeMap<String, usize> = d.lanes.iter().enumerate().map(|(i, l)| (l.clone(), i)).collect();

    // Causality over every message of the run, not just those embedded.
    let failure = failure_point(report, history_json, &r, &lane_of);
    let ids: Vec<u64> = r.msgs.keys().copied().collect();
    let lane = |a: &str| lane_of.get(a).copied();
    let hops: Vec<Option<Hop>> = r
        .msgs
        .values()
        .map(|m| {
            let arrived = matches!(m.fate, Fate::Delivered | Fate::HeldThenDelivered);
            let received = m.end.filter(|_| arrived).map(|e| e.2);
            Some(Hop { from: lane(&m.from)?, to: lane(&m.to)?, sent: m.send.2, received })
        })
        .collect();
    let start: Vec<Option<u64>> = match &failure {
        Some(FailurePoint { lane: Some(l), position, .. }) => {
            (0..d.lanes.len()).map(|i| (i == *l).then_some(*position)).collect()
        }
        Some(FailurePoint { lane: None, position, .. }) => vec![Some(*position); d.lanes.len()],
        None => vec![None; d.lanes.len()],
    };
    let valid: Vec<Hop> = hops.iter().flatten().copied().collect();
    let horizon = causal::horizons(&start, &valid);
    d.horizons = horizon.iter().map(|h| h.map_or(-1, |p| p as i64)).collect();
    let in_past = |h: &Hop| match h.received {
        Some(_) => causal::received_in_past(h, &horizon),
        None => causal::sent_in_past(h, &horizon),
    };
    d.total = r.msgs.len();
    d.total_causal = hops.iter().flatten().filter(|h| in_past(h)).count();

    // Embed the latest messages sent up to the failing point.
    let cut = failure.as_ref().map_or(u64::MAX, |f| f.position);
    let sent_before: Vec<usize> = (0..ids.len()).filter(|&i| r.msgs[&ids[i]].send.2 <= cut).collect();
    let skip = sent_before.len().saturating_sub(EMBEDDED_MAX);
    d.omitted_before = skip;
    let mut kinds: Vec<String> = Vec::new();
    for &i in &sent_before[skip..] {
        let m = &r.msgs[&ids[i]];
        let Some(hop) = hops[i] else { continue };
        let kind = match kinds.iter().position(|k| *k == m.kind) {
            Some(k) => k,
            None => {
                kinds.push(m.kind.clone());
                kinds.len() - 1
            }
        };
        let signed = |v: Option<u64>| v.map_or(-1, |v| v as i64);
        d.msgs.push((
            ids[i],
            hop.from,
            hop.to,
            kind,
            signed(m.term),
            m.send.0,
            m.send.1,
            m.send.2,
            m.fate as u8,
            signed(m.end.map(|e| e.0)),
            signed(m.end.map(|e| e.1)),
            signed(m.end.map(|e| e.2)),
            signed(m.copy_of),
            u8::from(in_past(&hop)),
            signed(m.held_since),
            m.text.clone(),
        ));
    }
    d.kinds = kinds;

    // The window the page opens on: the latest CAUSAL_SHOWN messages of the causal past.
    let to = failure.as_ref().map_or(r.end_ns, |f| f.time_ns);
    let causal_sends: Vec<u64> = d.msgs.iter().filter(|m| m.13 == 1).map(|m| m.5).collect();
    let from = match causal_sends.len() {
        0 => d.msgs.first().map_or(0, |m| m.5).max(to.saturating_sub(1_000_000_000)),
        n => causal_sends[n.saturating_sub(CAUSAL_SHOWN)],
    };
    d.window = (from.min(to), to.max(from + 1));
    let span_from = d.msgs.first().map_or(from, |m| m.5).min(from);
    for (i, name) in d.lanes.iter().enumerate() {
        let Some(n) = name.strip_prefix('n').and_then(|s| s.parse::<u64>().ok()) else { continue };
        let changes = r.roles.get(&n).map_or(&[][..], Vec::as_slice);
        let mut segs = Vec::new();
        for (k, (t, role, term)) in changes.iter().enumerate() {
            let end = changes.get(k + 1).map_or(r.end_ns, |c| c.0);
            if end >= span_from && role != "-" {
                segs.push((*t, end, role.clone(), *term));
            }
        }
        d.roles.resize(i + 1, Vec::new());
        d.roles[i] = segs;
        for (a, b, what) in r.outages.get(&n).map_or(&[][..], Vec::as_slice) {
            if b.is_none_or(|b| b >= span_from) {
                d.outages.push((i, *a, b.map_or(-1, |b| b as i64), what));
            }
        }
    }
    d.failure = failure;
    d
}
