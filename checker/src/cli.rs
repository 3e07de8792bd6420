//! `raftsim check FILE`: the command-line face of the checker. The simulator binary embeds
//! `CheckArgs` as a clap subcommand and calls `run_check_command`.
//!
//! Exit codes: 0 linearizable, 1 not linearizable, 2 bad input or usage, 3 unknown.

use crate::check::{check_history, CheckOptions};
use crate::formats::parse_history_with;
use crate::history::{Format, History, InputError, ModelKind, NilReads, ParseOptions};
use crate::report::human_duration;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Exit code for bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;

/// The default cap on the bytes read from a history file or standard input (`--input-limit`).
pub const INPUT_LIMIT_BYTES_DEFAULT: u64 = 256 << 20;

/// Arguments of `raftsim check`.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct CheckArgs {
    /// History file to check ("-" reads standard input).
    pub file: PathBuf,
    /// File format; recognised from the content when not given.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Model to check against; from the file when not given (JSON says it; for EDN, kv when
    /// any :f is :get/:put/:append, else cas-register).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Initial value of the register(s) for the cas-register model: an integer or nil
    /// [default: nil, or the file's "initial"].
    #[arg(long, value_parser = parse_initial)]
    pub initial: Option<Initial>,
    /// Give up with "unknown" (exit 3) after this long, e.g. 10s, 500ms, 2m.
    #[arg(long, value_parser = parse_duration)]
    pub time_limit: Option<Duration>,
    /// Memo entries allowed alive at once before giving up with "unknown" [default: 20000000].
    #[arg(long)]
    pub memo_limit: Option<usize>,
    /// Bytes of memo and of values built by appends allowed before giving up with "unknown",
    /// e.g. 1GiB, 512MiB [default: 4GiB].
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Refuse (exit 2) a history larger than this, e.g. 1GiB [default: 256MiB].
    #[arg(long, value_parser = parse_size)]
    pub input_limit: Option<u64>,
    /// EDN register histories: what a completed read of nil means. unknown: the read says
    /// nothing (Knossos's reading); value: nil is the register's value [default: unknown].
    #[arg(long, value_enum)]
    pub nil_reads: Option<NilReads>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A register's initial value: `None` is nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Initial(pub Option<i64>);

/// Parses `--initial`: "nil" or an integer.
pub fn parse_initial(text: &str) -> Result<Initial, String> {
    if text == "nil" {
        return Ok(Initial(None));
    }
    text.parse::<i64>()
        .map(|v| Initial(Some(v)))
        .map_err(|_| format!("expected an integer or nil, found {text:?}"))
}

/// Parses a duration: a number followed by ns, us, µs, ms, s, m or h ("10s", "500ms", "1.5s").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("expected a duration such as 10s or 500ms, found {text:?}"))?;
    let seconds = match unit {
        "ns" => value * 1e-9,
        "us" | "µs" => value * 1e-6,
        "ms" => value * 1e-3,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("expected a unit among ns, us, ms, s, m, h, found {unit:?}")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("expected a representable duration, found {text:?}"))
}

/// Parses a size: a whole number of bytes, optionally followed by KiB, MiB, GiB or TiB (or K,
/// M, G, T; all powers of 1024), e.g. "256MiB", "1G", "4096".
pub fn parse_size(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 =
        number.parse().map_err(|_| format!("expected a size such as 256MiB or 1GiB, found {text:?}"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        other => return Err(format!("expected a unit among B, KiB, MiB, GiB, TiB, found {other:?}")),
    };
    value.checked_mul(1 << shift).ok_or_else(|| format!("expected a size below 16 EiB, found {text:?}"))
}

/// Runs the command, printing to stdout/stderr; returns the exit code.
pub fn run_check_command(args: &CheckArgs) -> i32 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_check_command_to(args, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs the command with the given output streams (for tests); returns the exit code.
pub fn run_check_command_to(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let name = args.file.display().to_string();
    let text = match read_input(args, &name) {
        Ok(text) => text,
        Err(error) => return bad_input(args, &error, out, err),
    };
    let options = ParseOptions {
        format: args.format,
        model: args.model,
        nil_reads: args.nil_reads.unwrap_or_default(),
    };
    let parsed = match parse_history_with(&text, &options, &name) {
        Ok(parsed) => parsed,
        Err(error) => return bad_input(args, &error, out, err),
    };
    if args.initial.is_some() && matches!(parsed.history, History::Kv(_)) {
        let error = InputError::new(&name, None, "no --initial for a kv history (every key starts as \"\")")
            .field("--initial");
        return bad_input(args, &error, out, err);
    }
    if args.nil_reads.is_some() && parsed.format != Format::Edn {
        let error = InputError::new(&name, None, "--nil-reads only with EDN histories")
            .field("--nil-reads")
            .found(format!("a {} history", parsed.format.name()));
        return bad_input(args, &error, out, err);
    }
    let defaults = CheckOptions::default();
    let opts = CheckOptions {
        time_limit: args.time_limit,
        memo_limit_entries: args.memo_limit.unwrap_or(defaults.memo_limit_entries),
        memo_limit_bytes: args
            .memory_limit
            .map_or(defaults.memo_limit_bytes, |b| usize::try_from(b).unwrap_or(usize::MAX)),
    };
    let report = check_history(&parsed.history, args.initial.map(|i| i.0), &opts);
    let model = parsed.history.model();
    // Printing failures (a closed pipe) cannot change the verdict: ignore them.
    if args.json {
        let mut value = report.to_json();
        if let Some(object) = value.as_object_mut() {
            object.insert("file".into(), name.clone().into());
            object.insert("format".into(), parsed.format.name().into());
            object.insert("model".into(), model.name().into());
            if let Some(limit) = args.time_limit {
                object.insert("time_limit_ms".into(), (limit.as_secs_f64() * 1e3).into());
            }
        }
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(out, "{name} ({}, model {}):", parsed.format.name(), model.name());
        let _ = write!(out, "{report}");
        if let (Some(limit), Some(_)) = (args.time_limit, &report.unknown_reason) {
            let _ = writeln!(out, "time limit: {}", human_duration(limit));
        }
    }
    report.verdict.exit_code()
}

/// Reads the whole input, refusing more than `--input-limit` bytes (without reading further)
/// and text that is not UTF-8.
fn read_input(args: &CheckArgs, name: &str) -> Result<String, InputError> {
    let limit = args.input_limit.unwrap_or(INPUT_LIMIT_BYTES_DEFAULT);
    let unreadable =
        |e: std::io::Error| InputError::new(name, None, "a readable history file").found(e.to_string());
    let mut bytes = Vec::new();
    let reader: Box<dyn Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&args.file).map_err(unreadable)?)
    };
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::new(
            name,
            None,
            format!("a history of at most {limit} bytes (the input limit; raise it with --input-limit)"),
        )
        .found("more"));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        InputError::new(name, Some(line), "UTF-8 text")
            .found(format!("a byte that is not UTF-8 at offset {at}"))
    })
}

fn bad_input(args: &CheckArgs, error: &InputError, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = writeln!(err, "error: {error}");
    if args.json {
        let value = serde_json::json!({
            "verdict": "bad_input",
            "file": error.source,
            "line": error.line,
            "field": error.field,
            "expected": error.expected,
            "found": error.found,
            "message": error.to_string(),
        });
        let _ = writeln!(out, "{value}");
    }
    EXIT_BAD_INPUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn initial_values_are_integers_or_nil() {
        assert_eq!(parse_initial("nil"), Ok(Initial(None)));
        assert_eq!(parse_initial("-3"), Ok(Initial(Some(-3))));
        assert!(parse_initial("zero").is_err());
    }
}
