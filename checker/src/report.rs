//! The outcome of a check, for people (`Display`) and machines (`to_json`).

use serde_json::json;
use std::fmt;
use std::time::Duration;

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search did not finish: time limit, memory limit, or an invalid history given through
    /// the API (see `CheckReport::unknown_reason`).
    Unknown,
}

impl Verdict {
    /// The process exit code of `raftsim check`: 0 linearizable, 1 not, 3 unknown
    /// (2 is bad input, which never reaches a verdict).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Linearizable => 0,
            Verdict::NotLinearizable => 1,
            Verdict::Unknown => 3,
        }
    }

    /// The machine name used in JSON: `linearizable`, `not_linearizable`, `unknown`.
    pub fn json_name(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not_linearizable",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not linearizable",
            Verdict::Unknown => "unknown",
        })
    }
}

/// Why a part has no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key of the part ("" for the single register).
    pub part: String,
    /// Ids of the operations involved: those that could come next after the longest prefix (the
    /// one whose return forces the issue first), all of which fail.
    pub operations: Vec<u64>,
    /// Ids of the longest sequence the search could linearize, in linearization order.
    pub longest_prefix: Vec<u64>,
    /// How many operations the part has (the prefix is this many short of a linearization).
    pub part_operations: usize,
    /// One or two sentences for people.
    pub explanation: String,
    /// One line per operation in `operations`: id, client, what it did, when.
    pub details: Vec<String>,
}

/// Which path decided a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecidedBy {
    /// Every key was proven linearizable by its witness (`check_kv_with_witness`).
    Witness,
    /// `keys_searched` keys were checked without the witness's help (replayed when sequential,
    /// refuted at once by a read nothing wrote, or searched); `window_only` more were proven
    /// linearizable by searching only the calls after the point where their witness stopped
    /// holding (a quiescent cut). Keys counted in neither were decided by their witness, or not
    /// reached: a violation ends the check at once.
    Search { keys_searched: usize, window_only: usize },
}

/// What `check_*` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub verdict: Verdict,
    /// Calls in the history, including failed ones.
    pub operations: usize,
    /// Independent parts (keys) checked.
    pub parts: usize,
    /// Wall time of the check (parsing excluded).
    pub elapsed: Duration,
    /// Present iff the verdict is `NotLinearizable`.
    pub violation: Option<Violation>,
    /// Present iff the verdict is `Unknown`.
    pub unknown_reason: Option<String>,
    /// Which path decided: the witness, or the search.
    pub decided_by: DecidedBy,
}

impl CheckReport {
    /// One JSON object:
    /// `{"verdict", "elapsed_ms", "operations", "parts", "violation", "unknown_reason",
    /// "decided_by"}`, where `violation` is null or `{"part", "operations", "longest_prefix",
    /// "part_operations", "explanation", "details"}` and `decided_by` is `{"path": "witness"}` or
    /// `{"path": "search", "keys_searched", "window_only"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let violation = self.violation.as_ref().map(|v| {
            json!({
                "part": v.part,
                "operations": v.operations,
                "longest_prefix": v.longest_prefix,
                "part_operations": v.part_operations,
                "explanation": v.explanation,
                "details": v.details,
            })
        });
        json!({
            "verdict": self.verdict.json_name(),
            "elapsed_ms": self.elapsed.as_secs_f64() * 1e3,
            "operations": self.operations,
            "parts": self.parts,
            "violation": violation,
            "unknown_reason": self.unknown_reason,
            "decided_by": match self.decided_by {
                DecidedBy::Witness => json!({"path": "witness"}),
                DecidedBy::Search { keys_searched, window_only } => {
                    json!({"path": "search", "keys_searched": keys_searched, "window_only": window_only})
                }
            },
        })
    }
}

/// How many ids of the longest prefix are printed before eliding the middle.
const PREFIX_IDS_SHOWN: usize = 24;

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}, {} operations, {} parts)",
            self.verdict,
            human_duration(self.elapsed),
            self.operations,
            self.parts
        )?;
        if let Some(reason) = &self.unknown_reason {
            writeln!(f, "reason: {reason}")?;
        }
        match self.decided_by {
            DecidedBy::Witness => writeln!(f, "decided by: the witness (every key verified)")?,
            DecidedBy::Search { keys_searched, window_only: 0 } => {
                writeln!(f, "decided by: search ({keys_searched} key(s) searched)")?
            }
            DecidedBy::Search { keys_searched, window_only } => writeln!(
                f,
                "decided by: search ({keys_searched} key(s) searched in full, {window_only} only after the \
                 witness's cut)"
            )?,
        }
        if let Some(v) = &self.violation {
            writeln!(f, "part: key {:?}", v.part)?;
            writeln!(f, "why: {}", v.explanation)?;
            writeln!(f, "operations involved:")?;
            for line in &v.details {
                writeln!(f, "  {line}")?;
            }
            let n = v.longest_prefix.len();
            write!(f, "longest linearizable prefix ({n} of {} operations): [", v.part_operations)?;
            let ids = |f: &mut fmt::Formatter<'_>, ids: &[u64]| -> fmt::Result {
                let text: Vec<String> = ids.iter().map(u64::to_string).collect();
                f.write_str(&text.join(", "))
            };
            if n <= PREFIX_IDS_SHOWN {
                ids(f, &v.longest_prefix)?;
            } else {
                let half = PREFIX_IDS_SHOWN / 2;
                ids(f, &v.longest_prefix[..half])?;
                write!(f, ", ... {} more ..., ", n - 2 * half)?;
                ids(f, &v.longest_prefix[n - half..])?;
            }
            writeln!(f, "]")?;
        }
        Ok(())
    }
}

/// "812 µs", "4.21 ms", "1.30 s".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}
