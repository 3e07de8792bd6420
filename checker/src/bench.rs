//! Timing the checker on history files: parse once, check many times, report the median.
//! `cargo run --release -p checker --example bench` prints the table for Porcupine's histories.

use crate::check::{check_history, CheckOptions};
use crate::formats::parse_history;
use crate::history::InputError;
use crate::report::Verdict;
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
}

/// Runs at least this many checks per file, whatever `min_total` says.
const ITERATIONS_MIN: usize = 11;
/// And at most this many, however fast the check.
const ITERATIONS_MAX: usize = 2_000_000;

/// Checks each file repeatedly (at least `min_total` of checking per file, after a warm-up) with
/// default options, format and model recognised from the content.
pub fn bench_files(paths: &[PathBuf], min_total: Duration) -> Result<Vec<BenchRow>, InputError> {
    let mut rows = Vec::with_capacity(paths.len());
    let opts = CheckOptions::default();
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&name, None, "a readable history file").found(e.to_string()))?;
        let parsed = parse_history(&text, None, None, &name)?;
        for _ in 0..3 {
            check_history(&parsed.history, None, &opts);
        }
        let mut samples: Vec<Duration> = Vec::new();
        let mut total = Duration::ZERO;
        let mut report = check_history(&parsed.history, None, &opts);
        while (total < min_total || samples.len() < ITERATIONS_MIN) && samples.len() < ITERATIONS_MAX {
            let start = Instant::now();
            report = check_history(&parsed.history, None, &opts);
            let took = start.elapsed();
            samples.push(took);
            total += took;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        rows.push(BenchRow {
            file: name,
            operations: report.operations,
            parts: report.parts,
            verdict: report.verdict,
            check_ms_median: ms(samples[samples.len() / 2]),
            check_ms_min: ms(samples[0]),
            iterations: samples.len(),
        });
    }
    Ok(rows)
}
