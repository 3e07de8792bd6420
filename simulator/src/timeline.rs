//! The timeline page of a run: one self-contained HTML file (no network, no external script,
//! style or font) that draws, against virtual time, a lane per node with its role and term,
//! crashes, restarts and pauses, the partitions and the links they cut, a lane per client with
//! its operations as intervals, and the failing point.
//!
//! The page is data plus a renderer. [`render`] digests the report, the trace and the history
//! (`timeline/digest.rs`) into a compact JSON document embedded in a
//! `<script type="application/json">` element, and inline JavaScript (`timeline/*.js`) draws it
//! as SVG, materialising only what the visible time window shows, so that a run with 10,000
//! operations pans and zooms smoothly. The verdict, the figures, the failing check and the
//! linearizability violation are also written as static HTML, so the page is readable without
//! JavaScript (and a test can read them from the DOM).
//!
//! Under the lanes, a latency plot shares the window (`timeline/latency.js`): one mark per
//! operation at the time it ended, its latency on a log scale (ok, failed and unknown drawn
//! differently; unknown ones at the time their client gave up, a lower bound), throughput
//! above it, and shading for partitions, crashed or paused nodes and periods without a leader.
//! When `raftsim explain` ran on the report folder, a strip plots the fraction of fresh
//! continuations that still fail against the time they forked, and a panel lists the events
//! around the step where it reaches 1.
//!
//! DOM hooks (stable, used by the browser test): `#timeline` (with `data-rendered="true"` once
//! drawn), `.lane.node-lane[data-node]` (`.failing` on the failing node), `.lane.client-lane
//! [data-client]`, `.op.op-ok|.op-failed|.op-unknown[data-op]` (`.op-involved`, `.op-prefix` for a
//! linearizability violation), `.op-bin[data-count]` (operations merged when too many are
//! visible), `#failure-marker[data-time-ns]`, `#liveness-start[data-time-ns]`, `#violation`,
//! `#failure`, `#summary`, `#view-status[data-ops-drawn]`, `#render-error`; the latency plot:
//! `#latency` (`data-marks`, `data-binned`), `.lat-mark.lat-ok|.lat-failed|.lat-unknown[data-op]`,
//! `.shade-leaderless`, `.shade-partition`, `.shade-down`, `.tput-bar[data-count]`; the explain
//! strip and panel: `#explain-plot`, `.explain-point[data-event][data-fraction]`,
//! `#explain-certain[data-time-ns]`, `#explain`; `#messages-link`.
//!
//! The URL's fragment picks the view, so a report or a bug comment can link to a moment:
//! `timeline.html#window=2000,2200` (virtual ms), `&key=k3` (that key's operations only),
//! `&op=17` (select an operation), or `#focus=failure` (open on the failing point).

mod digest;

use std::fmt::Write as _;

use serde_json::Value;

use digest::Digest;

const PAGE: &str = include_str!("timeline/page.html");
const CSS: &str = include_str!("timeline/timeline.css");
const JS_DRAW: &str = include_str!("timeline/draw.js");
const JS_VIEW: &str = include_str!("timeline/view.js");
const JS_LATENCY: &str = include_str!("timeline/latency.js");

/// What a report folder adds to its timeline page beyond the run itself.
#[derive(Default)]
pub struct Extras {
    /// `messages.html` is next to the page: link the failing point to its causal past there.
    pub messages_page: bool,
    /// The curve `raftsim explain` measured (the object it writes to `explain.json`).
    pub explain: Option<Value>,
}

/// How many ids of the longest linearizable prefix the static panel lists before eliding.
const PREFIX_IDS_SHOWN: usize = 60;

/// Renders the timeline page of a run.
///
/// `report` is the run's report.json object, `trace_jsonl` its trace (one JSON event a line),
/// `history_json` its history in the checker's JSON format. Every field is optional: what is
/// missing or unreadable is left out and listed on the page, never a panic.
#[must_use]
pub fn render(report: &Value, trace_jsonl: &str, history_json: &str) -> String {
    render_with(report, trace_jsonl, history_json, &Extras::default())
}

/// Renders the timeline page of a run with what its report folder adds (see [`Extras`]).
#[must_use]
pub fn render_with(report: &Value, trace_jsonl: &str, history_json: &str, extras: &Extras) -> String {
    let mut d = digest::digest(report, trace_jsonl, history_json);
    d.links.messages = extras.messages_page;
    d.explain = extras.explain.clone();
    let data = embed_json(&serde_json::to_string(&d).unwrap_or_else(|_| "{}".to_string()));
    let title = match &d.run.seed {
        Some(seed) => format!("raftsim timeline: seed {}", plain(seed)),
        None => "raftsim timeline".to_string(),
    };
    let mut out = String::with_capacity(
        PAGE.len() + CSS.len() + JS_DRAW.len() + JS_VIEW.len() + JS_LATENCY.len() + data.len(),
    );
    fill(PAGE, &mut out, |name, out| match name {
        "TITLE" => out.push_str(&escape(&title)),
        "CSS" => out.push_str(CSS),
        "HEADER" => header_html(report, &d, out),
        "SUMMARY" => summary_html(report, &d, out),
        "FAILURE" => failure_html(&d, out),
        "VIOLATION" => violation_html(&d, out),
        "EXPLAIN" => crate::explain::panel_html(d.explain.as_ref(), out),
        "PROBLEMS" => problems_html(&d, out),
        "DATA" => out.push_str(&data),
        "JS" => {
            out.push_str(JS_DRAW);
            out.push('\n');
            out.push_str(JS_LATENCY);
            out.push('\n');
            out.push_str(JS_VIEW);
        }
        _ => {}
    });
    out
}

/// Copies `template` into `out`, replacing each `{{NAME}}` by what `put` writes. One pass over
/// the template only, so text substituted in (a reason, a key) is never scanned for placeholders.
pub(crate) fn fill(template: &str, out: &mut String, mut put: impl FnMut(&str, &mut String)) {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                put(&after[..end], out);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
}

/// Makes JSON safe inside a `<script>` element. In JSON `<` only occurs inside strings, where
/// `\u003c` means the same; with no `<` left, neither `</script>` nor `<!--` can end or confuse
/// the element.
pub(crate) fn embed_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as people read it: strings without quotes.
pub(crate) fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A point in virtual time, to the nanosecond's thousandth of a millisecond.
pub(crate) fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// A configured span as people write it: "10 s", "250 ms", "1.5 ms".
fn span(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{} s", (ns / 1_000_000) as f64 / 1e3)
    } else {
        format!("{} ms", (ns / 1_000) as f64 / 1e3)
    }
}

fn header_html(report: &Value, d: &Digest, out: &mut String) {
    let verdict = d.run.verdict.clone().unwrap_or_else(|| "unknown".into());
    let class: String = verdict.chars().filter(char::is_ascii_alphanumeric).collect();
    let seed = d.run.seed.as_ref().map_or_else(|| "?".to_string(), plain);
    let _ = write!(
        out,
        "<h1>Seed {} <span class=\"verdict verdict-{}\" id=\"verdict\">{}</span></h1>",
        escape(&seed),
        escape(&class),
        escape(&verdict)
    );
    if let Some(reason) = d.run.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(out, "<p class=\"reason\" id=\"reason\">{}</p>", escape(reason));
    }
    if let Some(command) = &d.run.command {
        let _ = write!(
            out,
            "<p class=\"command\">Replay: <code id=\"command\">{}</code> \
             <button type=\"button\" id=\"copy-command\" hidden>copy</button></p>",
            escape(command)
        );
    }
    let mut facts = Vec::new();
    if let Some(v) = &d.run.version {
        facts.push(escape(v));
    }
    if let Some(s) = &d.run.scenario {
        facts.push(format!("scenario {}", escape(s)));
    }
    let config = &report["config"];
    if let Some(n) = config["cluster"]["nodes"].as_u64() {
        facts.push(format!("{n} nodes"));
    }
    if let Some(c) = config["workload"]["clients"].as_u64() {
        facts.push(format!("{c} clients"));
    }
    if let Some(ns) = d.duration_ns {
        facts.push(format!("fault phase {}", span(ns)));
    }
    let bugs = report["config"]["bugs"].as_array().or_else(|| report["summary"]["bugs"].as_array());
    let bugs: Vec<String> = bugs.into_iter().flatten().filter_map(Value::as_str).map(escape).collect();
    if !bugs.is_empty() {
        facts.push(format!("planted bugs: {}", bugs.join(", ")));
    }
    if !facts.is_empty() {
        let _ = write!(out, "<p class=\"facts\">{}</p>", facts.join(" · "));
    }
    if d.links.messages {
        out.push_str(
            "<p class=\"links\"><a id=\"messages-link\" href=\"messages.html\">messages</a>: a Lamport diagram \
             of who told whom what, opening on the failing point's causal past</p>",
        );
    }
}

fn summary_html(report: &Value, d: &Digest, out: &mut String) {
    let s = &report["summary"];
    let mut rows: Vec<(String, String)> = Vec::new();
    rows.push(("verdict".into(), d.run.verdict.clone().unwrap_or_default()));
    if let Some(r) = d.run.reason.as_deref().filter(|r| !r.is_empty()) {
        rows.push(("reason".into(), r.to_string()));
    }
    if let Some(f) = &d.failure {
        let mut text = f.check.clone().unwrap_or_else(|| "?".into());
        if let Some(n) = f.node {
            let _ = write!(text, " on n{n}");
        }
        if let Some(e) = f.event {
            let _ = write!(text, " at event {e}");
        }
        if let Some(t) = f.time_ns {
            let _ = write!(text, ", t = {}", ms(t));
        }
        rows.push(("first failing check".into(), text));
    }
    let n = |v: &Value| v.as_u64().map(|n| n.to_string());
    let ops = &s["ops"];
    if let Some(issued) = n(&ops["issued"]) {
        rows.push((
            "operations".into(),
            format!(
                "{issued} issued: {} ok, {} failed, {} unknown ({} retries)",
                plain(&ops["ok"]),
                plain(&ops["failed"]),
                plain(&ops["unknown"]),
                plain(&ops["retries"])
            ),
        ));
    } else if !d.ops.rows.is_empty() {
        let count = |st: u8| d.ops.rows.iter().filter(|r| r.6 == st).count();
        rows.push((
            "operations".into(),
            format!("{}: {} ok, {} failed, {} unknown", d.ops.rows.len(), count(0), count(1), count(2)),
        ));
    }
    if let Some(e) = n(&s["elections"]) {
        rows.push((
            "raft".into(),
            format!(
                "{e} elections, {} leader changes, {} step-downs",
                plain(&s["leader_changes"]),
                plain(&s["leader_step_downs"])
            ),
        ));
    }
    let f = &s["faults"];
    if f.is_object() {
        let partitions: u64 =
            f["partitions"].as_object().map_or(0, |p| p.values().filter_map(Value::as_u64).sum());
        rows.push((
            "faults".into(),
            format!(
                "{} crashes, {} restarts, {} pauses, {partitions} partitions, {} heals",
                plain(&f["crashes"]),
                plain(&f["restarts"]),
                plain(&f["pauses"]),
                plain(&f["heals"])
            ),
        ));
    }
    let m = &s["messages"];
    if let Some(sent) = n(&m["sent"]) {
        let dropped: u64 =
            ["dropped_loss", "dropped_partition", "dropped_down"].iter().filter_map(|k| m[*k].as_u64()).sum();
        rows.push((
            "messages".into(),
            format!("{sent} sent, {} delivered, {dropped} dropped", plain(&m["delivered"])),
        ));
    }
    if s["availability"].is_object() {
        rows.push(("availability".into(), availability_text(&s["availability"])));
    }
    if let Some(v) = s["linearizability"]["verdict"].as_str() {
        rows.push(("linearizability".into(), v.to_string()));
    }
    if let Some(e) = n(&s["events"]) {
        let sim = s["sim_time_ns"].as_u64().map_or(String::new(), |t| format!(", {} simulated", ms(t)));
        rows.push(("events".into(), format!("{e}{sim}")));
    }
    if let Some(h) = s["trace_hash"].as_str() {
        rows.push(("trace hash".into(), h.to_string()));
    }
    out.push_str("<table id=\"summary\">");
    for (name, value) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(&name), escape(&value));
    }
    out.push_str("</table>");
}

/// The availability figures of a summary in words (the field names are `availability.rs`'s).
fn availability_text(a: &Value) -> String {
    let t = |k: &str| a[k].as_u64().map_or_else(|| "?".to_string(), ms);
    let mut s = format!(
        "no leader for {} in {} period(s), longest {}",
        t("leaderless_ns"),
        plain(&a["leaderless_periods"]),
        t("leaderless_longest_ns")
    );
    if let Some(from) = a["unavailable_from_ns"].as_u64() {
        let _ = write!(s, "; longest unavailability {} from {}", t("unavailable_longest_ns"), ms(from));
    }
    if a["latency_ok_ns_p50"].is_u64() {
        let _ = write!(
            s,
            "; ok latency p50 {}, p99 {}, max {}",
            t("latency_ok_ns_p50"),
            t("latency_ok_ns_p99"),
            t("latency_ok_ns_max")
        );
    }
    s
}

fn failure_html(d: &Digest, out: &mut String) {
    let Some(f) = &d.failure else { return };
    out.push_str("<section id=\"failure\" class=\"panel\"><h2>Failing point</h2><p>");
    let _ = write!(out, "<b>{}</b>", escape(f.check.as_deref().unwrap_or("?")));
    if let Some(n) = f.node {
        let _ = write!(out, " on <b>n{n}</b>");
    }
    if let Some(e) = f.event {
        let _ = write!(out, " at event {e}");
    }
    if let Some(t) = f.time_ns {
        let _ = write!(out, ", virtual time {}", ms(t));
    }
    out.push('.');
    if let (Some(marker), Some(_)) = (f.marker_ns, &d.violation) {
        let _ = write!(
            out,
            " Marked on the timeline at {}: the first return among the operations involved, where \
             no order fits any more.",
            ms(marker)
        );
    }
    out.push_str(" <button type=\"button\" class=\"goto-failure\" hidden>show on the timeline</button>");
    if d.links.messages {
        out.push_str(" <a id=\"causal-past-link\" href=\"messages.html\">its causal past (messages)</a>");
    }
    out.push_str("</p>");
    if let Some(detail) = &f.detail {
        let _ = write!(out, "<p class=\"detail\">{}</p>", escape(detail));
    }
    out.push_str("</section>");
}

fn violation_html(d: &Digest, out: &mut String) {
    let Some(v) = &d.violation else { return };
    let key = v.key.as_deref().unwrap_or("");
    let _ = write!(
        out,
        "<section id=\"violation\" class=\"panel\" data-key=\"{}\"><h2>Not linearizable: key <code>{}</code></h2>",
        escape(key),
        escape(key)
    );
    if let Some(e) = &v.explanation {
        let _ = write!(out, "<p>{}</p>", escape(e));
    }
    out.push_str("<h3>Operations involved</h3><ul class=\"involved\">");
    let opref = |id: u64| format!("<a class=\"opref\" href=\"#op-{id}\" data-op=\"{id}\">{id}</a>");
    for (i, id) in v.operations.iter().enumerate() {
        let detail = v.details.get(i).map_or(String::new(), |d| format!(": {}", escape(d)));
        let _ = write!(out, "<li>op {}{detail}</li>", opref(*id));
    }
    out.push_str("</ul>");
    let total = v.part_operations.map_or(String::new(), |n| format!(" of {n}"));
    let _ = write!(
        out,
        "<h3>Longest linearizable prefix ({}{total} operations)</h3><p class=\"prefix\">",
        v.longest_prefix.len()
    );
    let shown: Vec<String> = v.longest_prefix.iter().take(PREFIX_IDS_SHOWN).map(|id| opref(*id)).collect();
    out.push_str(&shown.join(" → "));
    if v.longest_prefix.len() > PREFIX_IDS_SHOWN {
        let _ = write!(out, " → … {} more", v.longest_prefix.len() - PREFIX_IDS_SHOWN);
    }
    out.push_str(
        "</p><p><button type=\"button\" class=\"goto-violation\" hidden>show key on the timeline</button></p>\
         </section>",
    );
}

fn problems_html(d: &Digest, out: &mut String) {
    if d.problems.is_empty() {
        return;
    }
    out.push_str("<ul id=\"problems\">");
    for p in &d.problems {
        let _ = write!(out, "<li>{}</li>", escape(p));
    }
    out.push_str("</ul>");
}

#[cfg(test)]
mod tests;
