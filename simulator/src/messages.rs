//! The messages page of a run (`messages.html` in a report folder): a Lamport diagram, one
//! column per node and per client, virtual time running down, one arrow per message from its
//! send to its delivery, and lost messages marked where they were lost. Self-contained like the
//! timeline (no fetch, inline script, style and data), and linked with it both ways.
//!
//! A failure's page opens on the failing point's causal past (everything that happened before
//! it, `messages/causal.rs`), the latest [`digest::CAUSAL_SHOWN`] messages of it; filters by
//! lane, message kind and term, and a switch to every message of the window, widen or narrow
//! it. Clicking an arrow shows the message and links to that moment on the timeline; clicking
//! the point where an arrow arrives shows that event's causal past instead; clicking the failing
//! point goes back to its past.
//!
//! DOM hooks (stable, used by the browser test): `#diagram` (`data-rendered="true"` once drawn),
//! `.lane-head[data-lane]`, `.msg[data-id][data-kind][data-from][data-to][data-term]` (`.msg-delivered`, `.msg-lost`, `.msg-held`,
//! `.msg-inflight`, `.msg-copy`; `.causal` when in the past shown), `#failure-point`,
//! `#diagram-status[data-arrows]`, `#scope`, `.lane-filter`, `.kind-filter`, `#term-min`,
//! `#term-max`, `#msg-details`, `#render-error`. The URL's fragment sets the view:
//! `#window=FROM,TO` (virtual ms), `&scope=all`, `&msg=ID`.

pub mod causal;
pub mod digest;

use std::fmt::Write as _;

use serde_json::Value;

use crate::timeline::{embed_json, escape, fill, ms, plain};

const PAGE: &str = include_str!("messages/page.html");
const CSS: &str = include_str!("messages/messages.css");
const JS: &str = include_str!("messages/messages.js");

/// Renders the messages page of a run from its report.json, trace and history (any of which may
/// be missing or damaged: what cannot be read is listed on the page).
#[must_use]
pub fn render(report: &Value, trace_jsonl: &str, history_json: &str) -> String {
    let d = digest::digest(report, trace_jsonl, history_json);
    let data = embed_json(&serde_json::to_string(&d).unwrap_or_else(|_| "{}".to_string()));
    let seed = d.seed.as_ref().map_or_else(|| "?".to_string(), plain);
    let mut out = String::with_capacity(PAGE.len() + CSS.len() + JS.len() + data.len());
    fill(PAGE, &mut out, |name, out| match name {
        "TITLE" => out.push_str(&escape(&format!("raftsim messages: seed {seed}"))),
        "CSS" => out.push_str(CSS),
        "HEADER" => header_html(report, &d, &seed, out),
        "PROBLEMS" if !d.problems.is_empty() => {
            out.push_str("<ul id=\"problems\">");
            for p in &d.problems {
                let _ = write!(out, "<li>{}</li>", escape(p));
            }
            out.push_str("</ul>");
        }
        "DATA" => out.push_str(&data),
        "JS" => out.push_str(JS),
        _ => {}
    });
    out
}

fn header_html(report: &Value, d: &digest::Digest, seed: &str, out: &mut String) {
    let verdict = d.verdict.clone().unwrap_or_else(|| "unknown".into());
    let class: String = verdict.chars().filter(char::is_ascii_alphanumeric).collect();
    let _ = write!(
        out,
        "<h1>Seed {} messages <span class=\"verdict verdict-{}\">{}</span></h1>",
        escape(seed),
        escape(&class),
        escape(&verdict)
    );
    if let Some(reason) = report["reason"].as_str().filter(|r| !r.is_empty()) {
        let _ = write!(out, "<p class=\"reason\">{}</p>", escape(reason));
    }
    out.push_str(
        "<p class=\"links\"><a id=\"to-timeline\" href=\"timeline.html#focus=failure\">timeline</a>",
    );
    out.push_str(" · <a href=\"trace.jsonl\">trace.jsonl</a></p>");
    let mut facts = vec![format!("{} messages in the run", d.total)];
    if let Some(f) = &d.failure {
        let _ = write!(
            out,
            "<p id=\"failure-text\">Failing point: <b>{}</b> at {}{}. {} of the run's messages are in its causal \
             past (they happened before it); the page opens on the window of the latest {} of them.</p>",
            escape(&f.label),
            ms(f.time_ns),
            f.event.map_or(String::new(), |e| format!(", event {e}")),
            d.total_causal,
            d.total_causal.min(digest::CAUSAL_SHOWN)
        );
    }
    if d.omitted_before > 0 {
        facts.push(format!(
            "the {} earliest, sent before {}, are not embedded (see trace.jsonl)",
            d.omitted_before,
            ms(d.msgs.first().map_or(0, |m| m.5))
        ));
    }
    let _ = write!(out, "<p class=\"facts\">{}</p>", escape(&facts.join("; ")));
}

#[cfg(test)]
mod tests;
