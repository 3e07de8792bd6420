//! History files: the simulator's JSON, Porcupine's KV logs and Jepsen's EDN.
//!
//! Every reader here is our own and small, so that every error can say which line and which field
//! is wrong and what was expected, and no input can make the checker panic.

mod edn;
mod events;
mod jepsen_log;
mod json;
mod value;
mod write;

pub use write::{history_to_json, kv_history_to_json};

use crate::history::{Format, InputError, ModelKind, ParseOptions, ParsedHistory};
use events::Dialect;

/// Reads a history. Without `format`, it is recognised from the content: Jepsen log lines
/// (`... jepsen.util - 3 :invoke ...`) are `jepsen-log`; an object whose first field is a string
/// (`{"format": ...`) is JSON; anything else is EDN, read as Porcupine's KV log
/// when every event is a one-line `:invoke`/`:ok` map with a string `:key` and `:f` among get,
/// put, append. Without `model`, JSON says it; for EDN it is kv if any `:f` is `:get`, `:put` or
/// `:append`, else cas-register.
pub fn parse_history(
    text: &str,
    format: Option<Format>,
    model: Option<ModelKind>,
    source_name: &str,
) -> Result<ParsedHistory, InputError> {
    parse_history_with(text, &ParseOptions { format, model, ..ParseOptions::default() }, source_name)
}

/// `parse_history` with every option (`ParseOptions::nil_reads` for EDN register histories).
pub fn parse_history_with(
    text: &str,
    options: &ParseOptions,
    source_name: &str,
) -> Result<ParsedHistory, InputError> {
    let (format, model) = (options.format, options.model);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(f) => f,
        None => recognise(text, source_name)?,
    };
    let history = match format {
        Format::Json => json::history(&json::read(text, source_name)?, model, source_name)?,
        Format::Edn => {
            let forms = edn::read_all(text, source_name)?;
            events::history(&forms, model, Dialect::Jepsen(options.nil_reads), source_name)?
        }
        Format::PorcupineKv => {
            if model == Some(ModelKind::CasRegister) {
                return Err(InputError::new(source_name, None, "--model kv for a porcupine-kv history")
                    .field("--model")
                    .found("cas-register"));
            }
            let forms = edn::read_all(text, source_name)?;
            events::history(&forms, Some(ModelKind::Kv), Dialect::Porcupine, source_name)?
        }
        Format::JepsenLog => {
            if model == Some(ModelKind::Kv) {
                return Err(InputError::new(
                    source_name,
                    None,
                    "--model cas-register for a jepsen-log history",
                )
                .field("--model")
                .found("kv"));
            }
            jepsen_log::history(text, source_name)?
        }
    };
    Ok(ParsedHistory { source: source_name.to_string(), format, history })
}

fn recognise(text: &str, source: &str) -> Result<Format, InputError> {
    let mut meaningful = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(';'));
    let Some(first) = meaningful.next() else {
        return Err(InputError::new(source, None, "a history (JSON or EDN)").found("an empty file"));
    };
    if jepsen_log::is_event_line(first)
        || (first.starts_with("INFO") && text.lines().any(jepsen_log::is_event_line))
    {
        return Ok(Format::JepsenLog);
    }
    let after_brace = first.strip_prefix('{').map(str::trim_start);
    if first == "{" || after_brace.is_some_and(|rest| rest.starts_with('"')) {
        return Ok(Format::Json);
    }
    let porcupine_line = |l: &str| {
        l.starts_with('{')
            && l.ends_with('}')
            && l.contains(":key \"")
            && (l.contains(":type :invoke") || l.contains(":type :ok"))
            && [":f :get", ":f :put", ":f :append"].iter().any(|f| l.contains(f))
    };
    if porcupine_line(first) && meaningful.all(porcupine_line) {
        return Ok(Format::PorcupineKv);
    }
    Ok(Format::Edn)
}
