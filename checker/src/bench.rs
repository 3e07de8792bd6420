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
        // Warm up, and estimate one check's time to size batches: a sample times `batch`
        // checks, so that the clock's own cost (~30 ns a read here) stays out of the figures.
        let warm = Instant::now();
        let mut report = check_history(&parsed.history, None, &opts);
        for _ in 0..2 {
            report = check_history(&parsed.history, None, &opts);
        }
        let one = warm.elapsed() / 3;
        let batch = (SAMPLE_MIN.as_nanos() / one.as_nanos().max(1)).clamp(1, 10_000) as u32;
        let mut samples: Vec<Duration> = Vec::new();
        let mut total = Duration::ZERO;
        while (total < min_total || samples.len() < SAMPLES_MIN)
            && samples.len() * (batch as usize) < ITERATIONS_MAX
        {
            let start = Instant::now();
            for _ in 0..batch {
                report = check_history(&parsed.history, None, &opts);
            }
            let took = start.elapsed();
            samples.push(took / batch);
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
            iterations: samples.len() * batch as usize,
        });
    }
    Ok(rows)
}
