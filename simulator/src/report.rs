//! The report a failing run leaves behind, so that it can be understood without rerunning
//! anything and replayed exactly.
//!
//! `reports/<scenario-or-random>-seed-<N>/` holds:
//! - `report.json`: the binary's version, the seed, the full configuration (and the scenario file
//!   if there was one), the verdict, the reason, where the first check failed, the run's figures
//!   and the linearizability checker's report;
//! - `trace.jsonl`: every event of the run, one JSON object a line;
//! - `history.json`: the clients' history in the checker's `json` format;
//! - `timeline.html`: a self-contained page drawing the run against virtual time;
//! - `messages.html`: a self-contained Lamport diagram of its messages, opening on the failing
//!   point's causal past;
//! - `explain.json`, once `raftsim explain` ran on the folder (it also redraws the timeline).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::run::{run, run_scenario, Outcome, RunOptions};
use crate::scenario::Scenario;

/// What `report.json` records besides the run itself.
pub struct ReportContext<'a> {
    pub config: &'a SimConfig,
    pub scenario: Option<&'a Scenario>,
    /// The command that replays the run.
    pub command: String,
}

/// The folder name of a run's report.
#[must_use]
pub fn folder_name(scenario: Option<&Scenario>, seed: u64) -> String {
    let name = scenario.map_or("random", |s| s.name.as_str());
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    format!("{safe}-seed-{seed}")
}

/// Runs the seed again with a full trace and writes its report under `root`. `expected_hash`
/// is the trace hash of the run being reported; a rerun that differs is refused, since the
/// report would describe another run.
pub fn write(
    root: &Path,
    ctx: &ReportContext<'_>,
    expected_hash: Option<&str>,
    limits: &RunOptions,
) -> Result<(PathBuf, Outcome), String> {
    let options = RunOptions {
        trace_lines: true,
        run_time_limit: limits.run_time_limit,
        check_time_limit: limits.check_time_limit,
        ..RunOptions::default()
    };
    let outcome = match ctx.scenario {
        Some(s) => run_scenario(s, ctx.config, &options),
        None => run(ctx.config, &options),
    };
    if let Some(expected) = expected_hash {
        if outcome.summary.trace_hash != expected {
            return Err(format!(
                "NONDETERMINISM: rerunning seed {} for its report gave trace hash {} instead of {expected}",
                ctx.config.seed, outcome.summary.trace_hash
            ));
        }
    }
    let dir = root.join(folder_name(ctx.scenario, ctx.config.seed));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let report = report_json(ctx, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let extras = crate::timeline::Extras { messages_page: true, ..Default::default() };
    let page = crate::timeline::render_with(&report, &outcome.trace_lines, &history, &extras);
    let messages = crate::messages::render(&report, &outcome.trace_lines, &history);
    let files: [(&str, String); 5] = [
        ("report.json", serde_json::to_string_pretty(&report).unwrap_or_default()),
        ("trace.jsonl", outcome.trace_lines.clone()),
        ("history.json", history),
        ("timeline.html", page),
        ("messages.html", messages),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok((dir, outcome))
}

/// The contents of `report.json`.
#[must_use]
pub fn report_json(ctx: &ReportContext<'_>, outcome: &Outcome) -> Value {
    let scenario_file = ctx
        .scenario
        .and_then(|s| std::fs::read_to_string(&s.source).ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    json!({
        "version": format!("raftsim {}", env!("CARGO_PKG_VERSION")),
        "seed": ctx.config.seed,
        "scenario": ctx.scenario.map(|s| json!({"name": s.name, "source": s.source, "file": scenario_file})),
        "command": ctx.command,
        "config": ctx.config,
        "verdict": outcome.verdict,
        "reason": outcome.reason,
        "failure": outcome.failure,
        "summary": outcome.summary,
        "linearizability": outcome.check.as_ref().map(checker::CheckReport::to_json),
        "trace_truncated": outcome.end.trace_truncated,
    })
}

/// A report read back for `replay`.
pub struct LoadedReport {
    pub config: SimConfig,
    pub scenario: Option<Scenario>,
    pub trace_hash: String,
    pub verdict: String,
    pub command: String,
}

/// Reads `report.json` from a report folder. Errors name the file and the field.
pub fn load(dir: &Path) -> Result<LoadedReport, String> {
    let path = dir.join("report.json");
    let name = path.display().to_string();
    let text = crate::limits::read_file(&path)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{name}: line {} column {}: not valid JSON: {e}", e.line(), e.column()))?;
    let field = |key: &str| value.get(key).ok_or_else(|| format!("{name}: field \"{key}\" is missing"));
    let config: SimConfig = serde_path_to_error::deserialize(field("config")?)
        .map_err(|e| format!("{name}: config.{}: {}", e.path(), e.inner()))?;
    config.validate().map_err(|e| format!("{name}: config: {e}"))?;
    let scenario = match value.get("scenario") {
        None | Some(Value::Null) => None,
        Some(s) => {
            let file = s
                .get("file")
                .filter(|f| !f.is_null())
                .ok_or_else(|| format!("{name}: scenario.file is missing"))?;
            let source = s.get("source").and_then(Value::as_str).unwrap_or("report.json").to_string();
            Some(
                Scenario::parse(&file.to_string(), &source)
                    .map_err(|e| format!("{name}: scenario.file: {e}"))?,
            )
        }
    };
    let text_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let summary = field("summary")?;
    Ok(LoadedReport {
        config,
        scenario,
        trace_hash: text_of(summary, "trace_hash")
            .ok_or_else(|| format!("{name}: summary.trace_hash is missing"))?,
        verdict: text_of(&value, "verdict").unwrap_or_default(),
        command: text_of(&value, "command").unwrap_or_default(),
    })
}
