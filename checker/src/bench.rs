//! Timing the checker on history files and on generated workloads: parse or generate once,
//! check many times, report the median. `cargo run --release -p checker --example bench`
//! prints the table, with Porcupine's figures beside ours where it has one.

use crate::check::{check_history, check_kv_with_witness, check_register_with_witness, CheckOptions};
use crate::formats::parse_history;
use crate::generate::{hot_key_kv_witnessed, registers_witnessed, Workload};
use crate::history::{History, InputError};
use crate::report::{DecidedBy, Verdict};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One file's figures. Times are of the check alone (parsing excluded), in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    pub file: String,
    pub operations: usize,
    pub parts: usize,
    pub verdict: Verdict,
    pub check_ms_median: f64,
    pub check_ms_min: f64,
    pub iterations: usize,
    /// "search", "witness", or "search, N by window": which path decided the last check.
    pub path: String,
}

/// Porcupine's own check times (Go, check only, parsing excluded), in ms, by file name: the KV
/// files from `testdata/porcupine-kv/SOURCE.md` (for c50-bad the low end of its 2.3-43 ms), the
/// etcd ones measured with its `BenchmarkEtcdJepsenNNN` on this project's kind of machine, best of
/// six runs (see checker/README.md).
pub const PORCUPINE_MS: &[(&str, f64)] = &[
    ("c01-ok.txt", 0.06),
    ("c01-bad.txt", 0.01),
    ("c10-ok.txt", 0.31),
    ("c10-bad.txt", 0.09),
    ("c50-ok.txt", 81.0),
    ("c50-bad.txt", 2.3),
    ("etcd_000.log", 0.29),
    ("etcd_002.log", 129.0),
    ("etcd_007.log", 89.0),
];

/// Porcupine's figure for a file, by its name.
pub fn porcupine_ms(file: &str) -> Option<f64> {
    let name = std::path::Path::new(file).file_name()?.to_str()?;
    PORCUPINE_MS.iter().find(|(n, _)| *n == name).map(|&(_, ms)| ms)
}

/// A generated workload: a history and the witness its generator knows.
pub struct Generated {
    pub name: String,
    pub history: History,
    pub witness: Vec<Option<u64>>,
}

/// The generated workloads of the benchmark (checker/README.md), from fixed seeds. `quick`
/// makes them a tenth of the size.
pub fn generated_workloads(quick: bool) -> Vec<Generated> {
    let calls = if quick { 10_000 } else { 100_000 };
    let hot = Workload { seed: 1, clients: 10, calls, unknown_ppm: 200_000, unknown_effect_ns_max: 20_000 };
    let reg = Workload { seed: 1, clients: 200, calls, unknown_ppm: 300_000, unknown_effect_ns_max: 20_000 };
    let k = calls / 1000;
    let mut out = Vec::new();
    let (kv, witness) = hot_key_kv_witnessed(&hot);
    out.push(Generated { name: format!("hot-key-{k}k"), history: History::Kv(kv), witness });
    for plant in [false, true] {
        let (calls, witness) = registers_witnessed(&reg, 100, plant);
        let name = format!("registers-100-keys-{k}k{}", if plant { "-violation" } else { "" });
        out.push(Generated { name, history: History::Register { calls, initial: None }, witness });
    }
    out
}

/// Times the generated workloads, each by the search alone and with its witness. Each check
/// runs at least `samples_min` times and until `min_total` has passed, with `time_limit`.
pub fn bench_generated(
    quick: bool,
    min_total: Duration,
    samples_min: usize,
    time_limit: Duration,
) -> Vec<BenchRow> {
    let opts = CheckOptions { time_limit: Some(time_limit), ..CheckOptions::default() };
    let mut rows = Vec::new();
    for g in generated_workloads(quick) {
        for with_witness in [false, true] {
            let check = || match (&g.history, with_witness) {
                (history, false) => check_history(history, None, &opts),
                (History::Kv(calls), true) => check_kv_with_witness(calls, &g.witness, &opts),
                (History::Register { calls, .. }, true) => {
                    check_register_with_witness(calls, None, &g.witness, &opts)
                }
            };
            let name = format!("{}{}", g.name, if with_witness { " (witness)" } else { "" });
            rows.push(time_checks(name, check, min_total, samples_min));
        }
    }
    rows
}

fn path_of(decided_by: DecidedBy) -> String {
    match decided_by {
        DecidedBy::Witness => "witness".to_string(),
        DecidedBy::Search { window_only: 0, .. } => "search".to_string(),
        DecidedBy::Search { window_only, .. } => format!("search, {window_only} by window"),
    }
}

/// Times `check` (a few samples when it is slow, batches when it is fast).
fn time_checks(
    name: String,
    mut check: impl FnMut() -> crate::report::CheckReport,
    min_total: Duration,
    samples_min: usize,
) -> BenchRow {
    let warm = Instant::now();
    let mut report = check();
    let one = warm.elapsed();
    let batch = (SAMPLE_MIN.as_nanos() / one.as_nanos().max(1)).clamp(1, 10_000) as u32;
    let mut samples: Vec<Duration> = Vec::new();
    let mut total = Duration::ZERO;
    while (total < min_total || samples.len() < samples_min)
        && samples.len() * (batch as usize) < ITERATIONS_MAX
    {
        let start = Instant::now();
        for _ in 0..batch {
            report = check();
        }
        let took = start.elapsed();
        samples.push(took / batch);
        total += took;
    }
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    BenchRow {
        file: name,
        operations: report.operations,
        parts: report.parts,
        verdict: report.verdict,
        check_ms_median: samples.get(samples.len() / 2).map_or(ms(one), |&d| ms(d)),
        check_ms_min: samples.first().map_or(ms(one), |&d| ms(d)),
        iterations: samples.len() * batch as usize,
        path: path_of(report.decided_by),
    }
}

/// How long one timed sample lasts at least (it checks the file as many times as that takes).
const SAMPLE_MIN: Duration = Duration::from_micros(20);
/// Takes at least this many samples per file, whatever `min_total` says.
const SAMPLES_MIN: usize = 11;
/// And at most this many, however fast the check.
const ITERATIONS_MAX: usize = 2_000_000;

/// Checks each file repeatedly (at least `min_total` of checking per file, after a warm-up) with
/// default options, format and model recognised from the content. Each sample times a batch of
/// checks lasting at least 20 µs and divides: the median and minimum are over samples.
pub fn bench_files(paths: &[PathBuf], min_total: Duration) -> Result<Vec<BenchRow>, InputError> {
    let mut rows = Vec::with_capacity(paths.len());
    let opts = CheckOptions::default();
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&name, None, "a readable history file").found(e.to_string()))?;
        let parsed = parse_history(&text, None, None, &name)?;
        // Each sample times a batch of checks lasting at least 20 µs, so that the clock's own
        // cost (~30 ns a read here) stays out of the figures.
        let check = || check_history(&parsed.history, None, &opts);
        rows.push(time_checks(name, check, min_total, SAMPLES_MIN));
    }
    Ok(rows)
}
