//! When was a failing run lost? `raftsim explain DIR` reruns a report's seed, forks it at points
//! before the failure and lets each fork go on with fresh randomness (a branch, `branch.rs`),
//! then counts how many continuations still fail the same way: the same verdict and the same
//! first failing check. Early on few do (the seed's luck was still to come); from some point
//! on all do: what had happened by then made the failure certain. The events just before that
//! point are the ones to read.
//!
//! The points: `points` forks spread evenly over virtual time from the start (or the report's
//! own last fork) to the failing event, which is the last point (forking there replays the
//! failing event itself, so it fails again unless the check depends on luck at that very
//! event). Then `refine` rounds halve the step where the fraction reaches 1 for good: each round
//! forks at the event halfway (in time) between the last point below 1 and the first point of
//! the run of 1s that ends the curve. Every continuation is the branch `PATH.EVENT.FORK` of the
//! report's path, forks numbered 1 to `forks`, so `raftsim run --seed N --branch PATH` replays
//! it, and results do not depend on `--jobs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::branch::BranchPath;
use crate::config::SimConfig;
use crate::pool::{run_parallel, Flow};
use crate::run::{run, run_scenario, Outcome, RunOptions, Verdict};
use crate::scenario::Scenario;

/// The trace lines listed around the moment the failure became certain, at most.
pub const AROUND_LINES_MAX: usize = 60;
/// The most points (evenly spread plus refinements) one explanation runs.
pub const POINTS_MAX: usize = 1000;
/// The most continuations from one point.
pub const FORKS_MAX: u32 = 1000;

/// How much to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Points spread evenly over the run, the failing event included (2 or more).
    pub points: usize,
    /// Continuations from each point.
    pub forks: u32,
    /// Rounds that halve the step where the curve reaches 1.
    pub refine: usize,
    pub jobs: usize,
    /// Limits of each run (wall clock); the runs keep no trace.
    pub run: RunOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options { points: 12, forks: 8, refine: 4, jobs: crate::pool::cores(), run: RunOptions::default() }
    }
}

/// The continuations forked at one point.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    pub event: u64,
    pub time_ns: u64,
    pub runs: u32,
    /// Continuations that failed the same way, and which (fork numbers).
    pub same: u32,
    pub fraction: f64,
    pub same_forks: Vec<u32>,
    /// The other continuations' verdicts (a different check counts under its verdict and check).
    pub other: BTreeMap<String, u32>,
    /// Whether this point was added by a refining round.
    pub refined: bool,
}

/// A point in the run.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Moment {
    pub event: u64,
    pub time_ns: u64,
}

/// What `explain` found: the curve and where it reaches 1.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub seed: u64,
    /// The report's own branch (empty for the seed's path); continuations extend it.
    pub branch: String,
    pub verdict: Verdict,
    pub check: String,
    pub failure: Moment,
    pub forks_per_point: u32,
    pub points: Vec<Point>,
    /// The first point of the run of points at 1 that ends the curve: forked there or later,
    /// every continuation failed the same way. None if the failing event's own point is below 1.
    pub certain_from: Option<Moment>,
    /// The point just before it, where some continuation escaped.
    pub last_uncertain: Option<Moment>,
    /// The trace lines of the events from `last_uncertain` to `certain_from`, with some context
    /// before: what happened in the step where the failure became certain (at most
    /// [`AROUND_LINES_MAX`]).
    pub around: Vec<String>,
    pub around_omitted: usize,
    /// A command that replays one continuation (the last point's first fork), as an example.
    pub replay_example: String,
    pub runs: u64,
    pub wall_ms: f64,
}

/// The same failure: the same verdict and, for a failure with a check, the same check.
fn same_failure(outcome: &Outcome, verdict: Verdict, check: &str) -> bool {
    outcome.verdict == verdict && outcome.failure.as_ref().map_or("", |f| f.check.as_str()) == check
}

fn verdict_key(outcome: &Outcome) -> String {
    match &outcome.failure {
        Some(f) if outcome.verdict != Verdict::Pass => format!("{} ({})", outcome.verdict, f.check),
        _ => outcome.verdict.name().to_string(),
    }
}

/// `(time, event)` of the first trace line of each event that wrote one, in order.
fn event_times(trace: &str) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for line in trace.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let (Some(t), Some(n)) = (v["t"].as_u64(), v["n"].as_u64()) else { continue };
        if out.last().is_none_or(|l| l.1 < n) {
            out.push((t, n));
        }
    }
    out
}

/// The time of an event: that of the first traced event at or after it (events that write no
/// line, such as ticks, happen no later), or the end.
fn time_of(times: &[(u64, u64)], event: u64, end_ns: u64) -> u64 {
    let i = times.partition_point(|(_, n)| *n < event);
    times.get(i).map_or(end_ns, |l| l.0)
}

/// The first traced event at or after `t` within `[lo, hi]`.
fn event_at(times: &[(u64, u64)], t: u64, lo: u64, hi: u64) -> u64 {
    let i = times.partition_point(|(time, n)| *time < t || *n < lo);
    times.get(i).map_or(hi, |l| l.1).clamp(lo, hi)
}

/// Runs the base run and the continuations, and finds where the curve reaches 1.
///
/// `base` must be the report's run rerun with a trace (its failure is the one explained).
pub fn explain(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    base: &Outcome,
    options: &Options,
) -> Result<Explanation, String> {
    let started = std::time::Instant::now();
    let failure = base.failure.as_ref().filter(|_| base.verdict != Verdict::Pass).ok_or_else(|| {
        format!("seed {} passes (verdict {}): there is no failure to explain", config.seed, base.verdict)
    })?;
    if options.points < 2 || options.points > POINTS_MAX {
        return Err(format!("--points must be 2 to {POINTS_MAX}, found {}", options.points));
    }
    if options.forks == 0 || options.forks > FORKS_MAX {
        return Err(format!("--forks must be 1 to {FORKS_MAX}, found {}", options.forks));
    }
    let (verdict, check) = (base.verdict, failure.check.clone());
    let times = event_times(&base.trace_lines);
    let end_ns = base.summary.sim_time_ns;
    let first = config.branch.forks().last().map_or(0, |f| f.event + 1);
    let last = failure.event.max(first);
    let (t_first, t_last) =
        (time_of(&times, first, end_ns), time_of(&times, last, end_ns).max(failure.time_ns));
    let mut events: Vec<u64> = (0..options.points)
        .map(|i| {
            let t = t_first + (t_last - t_first) / (options.points as u64 - 1) * i as u64;
            if i + 1 == options.points {
                last
            } else {
                event_at(&times, t, first, last)
            }
        })
        .collect();
    events.sort_unstable();
    events.dedup();

    let mut points: Vec<Point> = Vec::new();
    let mut runs = 0u64;
    let run_points = |events: &[u64], refined: bool| -> Vec<Point> {
        let forks = u64::from(options.forks);
        let mut results: Vec<Option<(bool, String)>> = vec![None; events.len() * options.forks as usize];
        run_parallel(
            results.len() as u64,
            options.jobs,
            |i| {
                let (p, fork) = ((i / forks) as usize, (i % forks) as u32 + 1);
                let mut c = config.clone();
                c.branch = config.branch.then(events[p], fork);
                let outcome = match scenario {
                    Some(s) => run_scenario(s, &c, &options.run),
                    None => run(&c, &options.run),
                };
                (same_failure(&outcome, verdict, &check), verdict_key(&outcome))
            },
            |i, r| {
                results[i as usize] = Some(r);
                Flow::Continue
            },
            |_| {},
        );
        events
            .iter()
            .enumerate()
            .map(|(p, &event)| {
                let mut point = Point {
                    event,
                    time_ns: time_of(&times, event, end_ns),
                    runs: options.forks,
                    same: 0,
                    fraction: 0.0,
                    same_forks: Vec::new(),
                    other: BTreeMap::new(),
                    refined,
                };
                for fork in 1..=options.forks {
                    match &results[p * options.forks as usize + fork as usize - 1] {
                        Some((true, _)) => {
                            point.same += 1;
                            point.same_forks.push(fork);
                        }
                        Some((false, key)) => *point.other.entry(key.clone()).or_default() += 1,
                        None => *point.other.entry("not run".into()).or_default() += 1,
                    }
                }
                point.fraction = f64::from(point.same) / f64::from(options.forks);
                point
            })
            .collect()
    };
    points.extend(run_points(&events, false));
    runs += (events.len() as u64) * u64::from(options.forks);
    for _ in 0..options.refine {
        let Some(k) = certain_index(&points).filter(|k| *k > 0) else { break };
        let (a, b) = (&points[k - 1], &points[k]);
        let mid = event_at(&times, a.time_ns + (b.time_ns - a.time_ns) / 2, a.event + 1, b.event - 1);
        if mid <= a.event || mid >= b.event {
            break;
        }
        let added = run_points(&[mid], true);
        runs += u64::from(options.forks);
        points.extend(added);
        points.sort_by_key(|p| p.event);
    }
    let certain = certain_index(&points);
    let moment = |p: &Point| Moment { event: p.event, time_ns: p.time_ns };
    let certain_from = certain.map(|k| moment(&points[k]));
    let last_uncertain = certain.and_then(|k| k.checked_sub(1)).map(|k| moment(&points[k]));
    let (around, around_omitted) = match (last_uncertain, certain_from) {
        (Some(a), Some(b)) => lines_between(&base.trace_lines, a.event, b.event),
        _ => (Vec::new(), 0),
    };
    let example = points.last().map_or_else(BranchPath::root, |p| config.branch.then(p.event, 1));
    Ok(Explanation {
        seed: config.seed,
        branch: config.branch.to_string(),
        verdict,
        check,
        failure: Moment { event: failure.event, time_ns: failure.time_ns },
        forks_per_point: options.forks,
        points,
        certain_from,
        last_uncertain,
        around,
        around_omitted,
        replay_example: example.to_string(),
        runs,
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The first point of the run of points at 1 that ends the curve.
fn certain_index(points: &[Point]) -> Option<usize> {
    let tail = points.iter().rev().take_while(|p| p.same == p.runs).count();
    (tail > 0).then(|| points.len() - tail)
}

/// Lines of context shown before the step when the step itself wrote fewer lines.
const CONTEXT_LINES: usize = 12;

/// The trace lines of events `from <= n <= to` (the events whose randomness the two forks drew
/// differently, and the first one both redrew), preceded by earlier lines when the step wrote
/// fewer than [`CONTEXT_LINES`] (ticks write none); the first and the last half of the
/// allowance when there are more, with how many were left out.
fn lines_between(trace: &str, from: u64, to: u64) -> (Vec<String>, usize) {
    let event_of = |l: &str| serde_json::from_str::<Value>(l).ok().and_then(|v| v["n"].as_u64());
    let all: Vec<(u64, &str)> = trace.lines().filter_map(|l| Some((event_of(l)?, l))).collect();
    let start = all.partition_point(|(n, _)| *n < from);
    let end = all.partition_point(|(n, _)| *n <= to);
    let start = start.min(end.saturating_sub(CONTEXT_LINES));
    let lines: Vec<&str> = all[start..end].iter().map(|(_, l)| *l).collect();
    if lines.len() <= AROUND_LINES_MAX {
        return (lines.iter().map(|l| (*l).to_string()).collect(), 0);
    }
    let half = AROUND_LINES_MAX / 2;
    let mut out: Vec<String> = lines[..half].iter().map(|l| (*l).to_string()).collect();
    out.extend(lines[lines.len() - half..].iter().map(|l| (*l).to_string()));
    (out, lines.len() - AROUND_LINES_MAX)
}

impl Explanation {
    /// The curve as text, one line a point.
    #[must_use]
    pub fn to_text(&self, replay_base: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "explain: seed {}{}: {} ({}) at event {} (t={})",
            self.seed,
            if self.branch.is_empty() { String::new() } else { format!(" branch {}", self.branch) },
            self.verdict,
            self.check,
            self.failure.event,
            crate::config::ms(self.failure.time_ns)
        );
        let _ = writeln!(
            s,
            "{} continuations from each of {} points ({} runs, {:.1} s): how many fail the same way",
            self.forks_per_point,
            self.points.len(),
            self.runs,
            self.wall_ms / 1e3
        );
        for p in &self.points {
            let others: Vec<String> = p.other.iter().map(|(k, v)| format!("{v} {k}")).collect();
            let mark = match self.certain_from {
                Some(c) if c.event == p.event => "  <- certain from here",
                _ => "",
            };
            let _ = writeln!(
                s,
                "  event {:>8}  t={:>12}  {:>3}/{:<3} {:<28}{}{mark}",
                p.event,
                crate::config::ms(p.time_ns),
                p.same,
                p.runs,
                "#".repeat((p.fraction * 20.0).round() as usize),
                if others.is_empty() { String::new() } else { format!(" others: {}", others.join(", ")) }
            );
        }
        match (self.last_uncertain, self.certain_from) {
            (Some(a), Some(b)) => {
                let _ = writeln!(
                    s,
                    "the failure became certain between event {} (t={}) and event {} (t={}); what happened then:",
                    a.event,
                    crate::config::ms(a.time_ns),
                    b.event,
                    crate::config::ms(b.time_ns)
                );
                for l in &self.around {
                    let _ = writeln!(s, "  {l}");
                }
                if self.around_omitted > 0 {
                    let _ = writeln!(s, "  ({} more lines in between, in trace.jsonl)", self.around_omitted);
                }
            }
            (None, Some(b)) => {
                let _ = writeln!(
                    s,
                    "every continuation failed the same way from the first point on (event {}): the failure was certain early",
                    b.event
                );
            }
            _ => {
                let _ = writeln!(s, "even forked at the failing event, some continuations escape: the check depends on luck at that event");
            }
        }
        let _ = write!(s, "replay a continuation: {replay_base} --branch {}", self.replay_example);
        s
    }
}

/// The command line of a report, with its own `--branch` (if any) removed, so that a
/// continuation's branch can be appended.
#[must_use]
pub fn command_without_branch(command: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--branch" {
            words.next();
        } else if !w.starts_with("--branch=") {
            out.push(w);
        }
    }
    out.join(" ")
}

/// The static panel of the timeline page for an explanation (nothing without one).
pub fn panel_html(explain: Option<&Value>, out: &mut String) {
    use crate::timeline::{escape, ms};
    let Some(e) = explain.filter(|e| e.is_object()) else { return };
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    out.push_str("<section id=\"explain\" class=\"panel\"><h2>When the run was lost</h2>");
    let forks = n(&e["forks_per_point"]);
    let points = e["points"].as_array().map_or(&[][..], Vec::as_slice);
    let _ = write!(
        out,
        "<p>The run was forked at {} points and each went on {forks} times with fresh randomness; a \
         continuation counts when it fails the same way ({}, check <code>{}</code>).",
        points.len(),
        escape(e["verdict"].as_str().unwrap_or("?")),
        escape(e["check"].as_str().unwrap_or("?"))
    );
    match (&e["last_uncertain"], &e["certain_from"]) {
        (a, b) if a.is_object() && b.is_object() => {
            let _ = write!(
                out,
                " Forked at event {} ({}) some escaped; from event {} ({}) on, none did: the failure \
                 became certain in between.</p>",
                n(&a["event"]),
                ms(n(&a["time_ns"])),
                n(&b["event"]),
                ms(n(&b["time_ns"]))
            );
        }
        (_, b) if b.is_object() => {
            let _ = write!(
                out,
                " Every continuation failed from the first point on (event {}).</p>",
                n(&b["event"])
            );
        }
        _ => out.push_str(" Even forked at the failing event some continuations escape.</p>"),
    }
    let certain = e["certain_from"]["event"].as_u64();
    out.push_str("<table><tr><th>event</th><th>time</th><th>same failure</th></tr>");
    for p in points {
        let class = if certain.is_some_and(|c| c <= n(&p["event"])) { " class=\"certain\"" } else { "" };
        let _ = write!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
            n(&p["event"]),
            ms(n(&p["time_ns"])),
            n(&p["same"]),
            n(&p["runs"])
        );
    }
    out.push_str("</table>");
    if let Some(lines) = e["around"].as_array().filter(|l| !l.is_empty()) {
        out.push_str("<h3>What happened in that step</h3><pre id=\"explain-around\">");
        for l in lines.iter().filter_map(Value::as_str) {
            out.push_str(&escape(l));
            out.push('\n');
        }
        let omitted = n(&e["around_omitted"]);
        if omitted > 0 {
            let _ = writeln!(out, "({omitted} more lines in between, in trace.jsonl)");
        }
        out.push_str("</pre>");
    }
    if let Some(r) = e["replay_example"].as_str() {
        let _ = write!(
            out,
            "<p>Each continuation is a branch: <code>--branch {}</code> replays one.</p>",
            escape(r)
        );
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(event: u64, same: u32, runs: u32) -> Point {
        Point {
            event,
            time_ns: event * 10,
            runs,
            same,
            fraction: f64::from(same) / f64::from(runs),
            same_forks: Vec::new(),
            other: BTreeMap::new(),
            refined: false,
        }
    }

    #[test]
    fn the_failure_is_certain_from_the_first_point_of_the_run_of_ones_that_ends_the_curve() {
        let pts = [point(0, 1, 8), point(10, 8, 8), point(20, 3, 8), point(30, 8, 8), point(40, 8, 8)];
        assert_eq!(certain_index(&pts), Some(3), "a 1 followed by a dip does not count");
        assert_eq!(certain_index(&pts[..3]), None);
        assert_eq!(certain_index(&[point(0, 8, 8)]), Some(0));
    }

    #[test]
    fn events_are_timed_by_the_first_traced_event_at_or_after_them() {
        let trace = "{\"t\":5,\"n\":0,\"ev\":\"a\"}\n{\"t\":5,\"n\":0,\"ev\":\"b\"}\n{\"t\":40,\"n\":7,\"ev\":\"c\"}\n";
        let times = event_times(trace);
        assert_eq!(times, vec![(5, 0), (40, 7)]);
        assert_eq!(
            time_of(&times, 3, 99),
            40,
            "an untraced event (a tick) is no later than the next traced one"
        );
        assert_eq!(time_of(&times, 8, 99), 99);
        assert_eq!(event_at(&times, 6, 0, 100), 7);
        assert_eq!(event_at(&times, 6, 0, 5), 5, "clamped to the range asked");
    }

    #[test]
    fn a_reports_own_branch_is_replaced_by_the_continuations() {
        assert_eq!(
            command_without_branch("cargo run --release -- --seed 7 --branch 10.2 --bug x"),
            "cargo run --release -- --seed 7 --bug x"
        );
        assert_eq!(command_without_branch("raftsim --seed 1"), "raftsim --seed 1");
    }

    #[test]
    fn the_lines_around_the_step_are_capped_at_both_ends() {
        let trace: String = (0..200).map(|n| format!("{{\"t\":{n},\"n\":{n},\"ev\":\"x\"}}\n")).collect();
        let (lines, omitted) = lines_between(&trace, 10, 30);
        assert_eq!((lines.len(), omitted), (21, 0));
        let (lines, _) = lines_between(&trace, 10, 11);
        assert_eq!(lines.len(), CONTEXT_LINES, "a short step comes with the lines before it");
        assert!(lines[CONTEXT_LINES - 1].contains("\"n\":11,"));
        let (lines, omitted) = lines_between(&trace, 0, 200);
        assert_eq!((lines.len(), omitted), (AROUND_LINES_MAX, 200 - AROUND_LINES_MAX));
        assert!(lines[0].contains("\"n\":0,") && lines[AROUND_LINES_MAX - 1].contains("\"n\":199,"));
    }
}
