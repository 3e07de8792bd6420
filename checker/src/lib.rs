//! # checker: is a history linearizable?
//!
//! A linearizability checker for key/value and register histories: Wing & Gong's search (1993)
//! with Lowe's just-in-time linearization and memo of (linearized set, model state) (Lowe 2017,
//! "Testing for linearizability"), on histories split per key (P-compositionality). A call whose
//! outcome is unknown may take effect at any point after its invocation, or never. Equal
//! timestamps are concurrent (see [`history`]). The search is deterministic: the verdict and the
//! explanation never depend on hash-map order or on timing (except that a time limit can turn a
//! verdict into "unknown").
//!
//! ## API
//! ```text
//! // histories
//! pub enum KvKind { Get, Put, Append }
//! pub enum Status { Ok, Unknown, Failed }
//! pub struct KvCall { id, client, kind, key, value, output: Option<String>, status, call_ns, return_ns: Option<u64> }
//! pub struct RegisterCall { id, client, key, op: RegisterOp, status, call_ns, return_ns }
//! pub enum RegisterOp { Read { output: Option<Option<i64>> }, Write { value }, Cas { from, to, succeeded: Option<bool> } }
//! pub enum History { Kv(Vec<KvCall>), Register { calls, initial: Option<Option<i64>> } }
//! // checking
//! pub struct CheckOptions { time_limit: Option<Duration>, memo_limit_entries: usize, memo_limit_bytes: usize }
//! pub fn check_kv(calls: &[KvCall], opts: &CheckOptions) -> CheckReport;
//! pub fn check_register(calls: &[RegisterCall], initial: Option<i64>, opts: &CheckOptions) -> CheckReport;
//! pub fn check_history(history: &History, initial: Option<Option<i64>>, opts: &CheckOptions) -> CheckReport;
//! pub struct CheckReport { verdict: Verdict, operations, parts, elapsed, violation: Option<Violation>, unknown_reason: Option<String> }
//! impl CheckReport { pub fn to_json(&self) -> serde_json::Value }   // and Display for people
//! pub enum Verdict { Linearizable, NotLinearizable, Unknown }       // .exit_code(): 0, 1, 3
//! pub struct Violation { part, operations: Vec<u64>, longest_prefix: Vec<u64>, part_operations, explanation, details }
//! // files
//! pub enum Format { Json, PorcupineKv, Edn }
//! pub enum ModelKind { Kv, CasRegister }
//! pub fn parse_history(text: &str, format: Option<Format>, model: Option<ModelKind>, source_name: &str)
//!     -> Result<ParsedHistory, InputError>;                          // format/model recognised when None
//! pub fn kv_history_to_json(calls: &[KvCall]) -> String;             // the simulator's history.json
//! pub fn history_to_json(history: &History) -> String;
//! pub struct InputError { source, line: Option<usize>, field: Option<String>, expected, found }  // Display
//! // command line (`raftsim check`)
//! #[derive(clap::Args)] pub struct CheckArgs { file, --format, --model, --initial, --time-limit, --memo-limit, --json }
//! pub fn run_check_command(args: &CheckArgs) -> i32;                 // 0 / 1 / 2 bad input / 3 unknown
//! // benchmark
//! pub fn bench_files(paths: &[PathBuf], min_total: Duration) -> Result<Vec<BenchRow>, InputError>;
//! pub struct BenchRow { file, operations, verdict, check_ms_median, check_ms_min, iterations }
//! ```
//!
//! ## Example
//! ```
//! use checker::{check_kv, CheckOptions, KvCall, Verdict};
//!
//! // Client 1 puts "a" during [0, 10]; client 2 then reads "a", then client 3 reads "".
//! let calls = vec![
//!     KvCall::put(0, 1, "k", "a", 0, 10),
//!     KvCall::get(1, 2, "k", "a", 20, 30),
//!     KvCall::get(2, 3, "k", "", 40, 50),
//! ];
//! let report = check_kv(&calls, &CheckOptions::default());
//! assert_eq!(report.verdict, Verdict::NotLinearizable);
//! let violation = report.violation.unwrap();
//! assert_eq!(violation.part, "k");
//! assert_eq!(violation.longest_prefix, vec![0, 1]);
//! assert_eq!(violation.operations, vec![2]);
//!
//! // Had the put's outcome been unknown, the second read could come before it took effect...
//! // no: the first read saw "a", so the put happened before 30. Still not linearizable.
//! let unknown_put = vec![calls[0].clone().unknown(), calls[1].clone(), calls[2].clone()];
//! assert_eq!(check_kv(&unknown_put, &CheckOptions::default()).verdict, Verdict::NotLinearizable);
//! // Without the first read it is fine: the put may take effect after 50, or never.
//! assert_eq!(check_kv(&[calls[0].clone().unknown(), calls[2].clone()], &CheckOptions::default()).verdict,
//!            Verdict::Linearizable);
//! ```

pub mod bench;
mod check;
pub mod cli;
mod explain;
pub mod formats;
pub mod history;
mod memo;
mod model;
mod parts;
mod pool;
pub mod report;
mod search;
mod states;

pub use bench::{bench_files, BenchRow};
pub use check::{check_history, check_kv, check_register, CheckOptions};
pub use cli::{run_check_command, CheckArgs};
pub use formats::{history_to_json, kv_history_to_json, parse_history};
pub use history::{
    Format, History, InputError, KvCall, KvKind, ModelKind, ParsedHistory, RegisterCall, RegisterOp, Status,
};
pub use report::{CheckReport, Verdict, Violation};
