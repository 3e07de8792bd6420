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
//! // histories (history.rs)
//! pub enum KvKind { Get, Put, Append }
//! pub enum Status { Ok, Unknown, Failed }            // Failed: did not happen, dropped
//! pub struct KvCall { id: u64, client: u64, kind: KvKind, key: String, value: String /* "" for get */,
//!                     output: Option<String> /* Some(read) for an Ok get */, status: Status,
//!                     call_ns: u64, return_ns: Option<u64> /* None when unknown */ }
//!     KvCall::get / put / append (id, client, key, value_or_output, call_ns, return_ns), .unknown(), .failed()
//! pub struct RegisterCall { id, client, key: String /* "" = the register */, op: RegisterOp, status, call_ns, return_ns }
//! pub enum RegisterOp { Read { output: Option<Option<i64>> }, Write { value: i64 },
//!                       Cas { from: i64, to: i64, succeeded: Option<bool> } }
//! pub enum History { Kv(Vec<KvCall>), Register { calls: Vec<RegisterCall>, initial: Option<Option<i64>> } }
//! // checking (check.rs, report.rs)
//! pub struct CheckOptions { time_limit: Option<Duration>, memo_limit_entries: usize, memo_limit_bytes: usize }
//!     // Default: no time limit, 20M entries, 4 GiB; reaching a limit gives Unknown naming it
//!     CheckOptions::with_memory_limit(bytes) -> CheckOptions  // e.g. 1 GiB for one simulator run
//! pub fn check_kv(calls: &[KvCall], opts: &CheckOptions) -> CheckReport;
//! pub fn check_register(calls: &[RegisterCall], initial: Option<i64>, opts: &CheckOptions) -> CheckReport;
//! pub fn check_history(history: &History, initial: Option<Option<i64>>, opts: &CheckOptions) -> CheckReport;
//! // witnesses (check.rs, witness.rs): witness[i] = order key of calls[i] (e.g. its log index), None = not
//! // placed; verified per key in O(n log n), never trusted (a key where it fails is searched)
//! pub fn check_kv_with_witness(calls: &[KvCall], witness: &[Option<u64>], opts: &CheckOptions) -> CheckReport;
//! pub fn check_register_with_witness(calls: &[RegisterCall], initial: Option<i64>, witness: &[Option<u64>],
//!                                    opts: &CheckOptions) -> CheckReport;
//! pub struct CheckReport { verdict: Verdict, operations: usize, parts: usize, elapsed: Duration,
//!                          violation: Option<Violation>, unknown_reason: Option<String>, decided_by: DecidedBy }
//!     impl Display (the text `raftsim check` prints); fn to_json(&self) -> serde_json::Value
//! pub enum DecidedBy { Witness, Search { keys_searched: usize, window_only: usize } }
//! pub enum Verdict { Linearizable, NotLinearizable, Unknown }     // .exit_code(): 0, 1, 3
//! pub struct Violation { part: String /* the key */, operations: Vec<u64>, longest_prefix: Vec<u64>,
//!                        part_operations: usize, explanation: String, details: Vec<String> }
//! // files (formats/)
//! pub enum Format { Json, PorcupineKv, Edn, JepsenLog }
//! pub enum ModelKind { Kv, CasRegister }
//! pub enum NilReads { Unknown /* default: Knossos's reading */, Value }   // EDN register reads of nil
//! pub struct ParseOptions { format: Option<Format>, model: Option<ModelKind>, nil_reads: NilReads }
//! pub fn parse_history(text: &str, format: Option<Format>, model: Option<ModelKind>, source_name: &str)
//!     -> Result<ParsedHistory, InputError>;       // format and model recognised when None
//! pub fn parse_history_with(text: &str, options: &ParseOptions, source_name: &str)
//!     -> Result<ParsedHistory, InputError>;
//! pub struct ParsedHistory { source: String, format: Format, history: History }
//! pub struct InputError { source: String, line: Option<usize>, field: Option<String>,
//!                         expected: String, found: Option<String> }   // Display: "file:line: field F: expected E, found X"
//! pub fn kv_history_to_json(calls: &[KvCall]) -> String;            // the simulator's history.json
//! pub fn history_to_json(history: &History) -> String;
//! // command line (cli.rs): `raftsim check`
//! #[derive(clap::Args)] pub struct CheckArgs { file: PathBuf, format: Option<Format>, model: Option<ModelKind>,
//!     initial: Option<Initial>, time_limit: Option<Duration>, memo_limit: Option<usize>,
//!     memory_limit: Option<u64>, input_limit: Option<u64>, nil_reads: Option<NilReads>, json: bool }
//! pub fn run_check_command(args: &CheckArgs) -> i32;                // 0 / 1 / 2 bad input / 3 unknown
//! pub fn cli::run_check_command_to(args, out: &mut dyn Write, err: &mut dyn Write) -> i32;
//! pub fn cli::parse_duration(&str) -> Result<Duration, String>;    // "10s", "500ms", ...
//! pub fn cli::parse_size(&str) -> Result<u64, String>;             // "256MiB", "1GiB", "4096"
//! pub const cli::INPUT_LIMIT_BYTES_DEFAULT: u64;                    // 256 MiB
//! // generated workloads (generate.rs; seeded, deterministic)
//! pub struct Workload { seed: u64, clients: u32, calls: usize, unknown_ppm: u32, unknown_effect_ns_max: u64 }
//! pub fn generate::hot_key_kv(&Workload) -> Vec<KvCall>;          // and hot_key_kv_witnessed -> (calls, witness)
//! pub fn generate::registers(&Workload, keys: u32, plant_violation: bool) -> Vec<RegisterCall>;  // and registers_witnessed
//! // benchmark (bench.rs; `cargo run --release -p checker --example bench`)
//! pub fn bench_files(paths: &[PathBuf], min_total: Duration) -> Result<Vec<BenchRow>, InputError>;
//! pub fn bench::bench_generated(quick: bool, min_total: Duration, samples_min: usize, time_limit: Duration) -> Vec<BenchRow>;
//! pub fn bench::generated_workloads(quick: bool) -> Vec<Generated>;   // { name, history, witness }
//! pub fn bench::porcupine_ms(file: &str) -> Option<f64>;           // Porcupine's figure, by file name
//! pub struct BenchRow { file, operations, parts, verdict, check_ms_median, check_ms_min, iterations, path }
//! ```
//!
//! The formats, the output and the design are described in checker/README.md.
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
//! // With the put's outcome unknown it is no better: the first read saw "a", so the put took
//! // effect before 30, and the value cannot go back to "" at 40.
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
pub mod generate;
pub mod history;
mod memo;
mod model;
mod parts;
mod pool;
pub mod report;
mod search;
mod states;
mod witness;

pub use bench::{bench_files, BenchRow};
pub use check::{
    check_history, check_kv, check_kv_with_witness, check_register, check_register_with_witness, CheckOptions,
};
pub use cli::{run_check_command, CheckArgs};
pub use formats::{history_to_json, kv_history_to_json, parse_history, parse_history_with};
pub use history::{
    Format, History, InputError, KvCall, KvKind, ModelKind, NilReads, ParseOptions, ParsedHistory,
    RegisterCall, RegisterOp, Status,
};
pub use report::{CheckReport, DecidedBy, Verdict, Violation};
