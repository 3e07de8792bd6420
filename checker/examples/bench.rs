//! Times the checker on Porcupine's six KV histories and compares with Porcupine's own figures
//! (Go, same kind of 2-core machine, check only; from testdata/porcupine-kv/SOURCE.md).
//!
//! `cargo run --release -p checker --example bench [-- FILE...]`

use checker::bench_files;
use std::path::PathBuf;
use std::time::Duration;

/// Porcupine's check times in ms (for c50-bad the lower end of its 2.3-43 ms range).
const PORCUPINE_MS: [(&str, f64); 6] = [
    ("c01-ok.txt", 0.06),
    ("c01-bad.txt", 0.01),
    ("c10-ok.txt", 0.31),
    ("c10-bad.txt", 0.09),
    ("c50-ok.txt", 81.0),
    ("c50-bad.txt", 2.3),
];

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let paths = if args.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine-kv");
        PORCUPINE_MS.iter().map(|(name, _)| dir.join(name)).collect()
    } else {
        args
    };
    let rows = match bench_files(&paths, Duration::from_secs(2)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "{:<12} {:>5} {:>5} {:<16} {:>11} {:>11} {:>9} {:>14} {:>8}",
        "file", "ops", "parts", "verdict", "median µs", "min µs", "checks", "porcupine µs", "speedup"
    );
    for row in rows {
        let name =
            PathBuf::from(&row.file).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let reference = PORCUPINE_MS.iter().find(|(n, _)| *n == name).map(|(_, ms)| *ms);
        let (porcupine, speedup) = match reference {
            Some(ms) => (format!("{:.0}", ms * 1e3), format!("{:.1}x", ms / row.check_ms_median)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<12} {:>5} {:>5} {:<16} {:>11.2} {:>11.2} {:>9} {:>14} {:>8}",
            name,
            row.operations,
            row.parts,
            row.verdict.to_string(),
            row.check_ms_median * 1e3,
            row.check_ms_min * 1e3,
            row.iterations,
            porcupine,
            speedup
        );
    }
}
