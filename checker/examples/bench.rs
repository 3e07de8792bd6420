//! Times the checker on Porcupine's six KV histories and three of its etcd histories, and on the
//! generated workloads (by the search alone, and with their witness), with Porcupine's figures
//! beside ours where it has one (`checker::bench::PORCUPINE_MS`).
//!
//! `cargo run --release -p checker --example bench [-- --quick] [-- FILE...]`

use checker::bench::{bench_files, bench_generated, porcupine_ms, BenchRow};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let files: Vec<PathBuf> = args.iter().filter(|a| *a != "--quick").map(PathBuf::from).collect();
    let paths = if files.is_empty() {
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let kv = ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt", "c50-ok.txt", "c50-bad.txt"];
        let etcd = ["etcd_000.log", "etcd_002.log", "etcd_007.log"];
        kv.iter()
            .map(|n| data.join("porcupine-kv").join(n))
            .chain(etcd.iter().map(|n| data.join("porcupine-etcd").join(n)))
            .collect()
    } else {
        files.clone()
    };
    let min_total = if quick { Duration::from_millis(100) } else { Duration::from_secs(2) };
    let mut rows = match bench_files(&paths, min_total) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if files.is_empty() {
        let (total, samples) = if quick { (Duration::ZERO, 1) } else { (Duration::from_secs(3), 3) };
        rows.extend(bench_generated(quick, total, samples, Duration::from_secs(30)));
    }
    print_rows(&rows);
}

fn print_rows(rows: &[BenchRow]) {
    println!(
        "{:<38} {:>7} {:>5} {:<16} {:<9} {:>12} {:>12} {:>7} {:>13} {:>8}",
        "history",
        "ops",
        "parts",
        "verdict",
        "path",
        "median ms",
        "min ms",
        "checks",
        "porcupine ms",
        "speedup"
    );
    for row in rows {
        let name = PathBuf::from(&row.file)
            .file_name()
            .map_or(row.file.clone(), |n| n.to_string_lossy().to_string());
        let (porcupine, speedup) = match porcupine_ms(&row.file) {
            Some(ms) => (format!("{ms}"), format!("{:.1}x", ms / row.check_ms_median)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<38} {:>7} {:>5} {:<16} {:<9} {:>12.4} {:>12.4} {:>7} {:>13} {:>8}",
            name,
            row.operations,
            row.parts,
            row.verdict.to_string(),
            row.path,
            row.check_ms_median,
            row.check_ms_min,
            row.iterations,
            porcupine,
            speedup
        );
    }
}
