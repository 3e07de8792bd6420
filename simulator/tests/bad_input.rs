//! Fuzzing what a user can hand the simulator: command lines, scenario files, report folders and
//! sweep summaries, generated and mutated from real ones by a seeded mutator. Every input must be
//! refused with a message (or accepted) without a panic, without a hang, and without allocating
//! more than a run may (a counting allocator measures each input's peak).
//!
//! One test in this binary, so that the allocator counts one input at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use simulator::report::{self, ReportContext};
use simulator::sweep::{SeedSet, SweepSummary};
use simulator::{RunOptions, Scenario, SimConfig};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now =
                CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most one input may allocate above what was live before it: well under a run's 1 GiB.
const INPUT_BYTES_MAX: usize = 256 << 20;

/// What the fuzzer saw for one kind of input.
#[derive(Default, Debug)]
struct Tally {
    inputs: u64,
    refused: u64,
    peak_bytes: usize,
}

/// Runs `f` on one input: it must not panic, and must not allocate more than the cap.
fn one<T>(kind: &str, tally: &mut Tally, input: &str, f: impl FnOnce() -> Result<T, String>) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let used = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    tally.inputs += 1;
    tally.peak_bytes = tally.peak_bytes.max(used);
    let shown: String = input.chars().take(400).collect();
    match result {
        Err(_) => panic!("{kind}: panicked on input:\n{shown}"),
        Ok(Err(message)) => {
            tally.refused += 1;
            assert!(!message.trim().is_empty(), "{kind}: refused without a message:\n{shown}");
        }
        Ok(Ok(_)) => {}
    }
    assert!(used <= INPUT_BYTES_MAX, "{kind}: {used} bytes allocated for input:\n{shown}");
}

// ----- Mutations -----

const NUMBERS: [&str; 14] = [
    "0",
    "1",
    "-1",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "1e300",
    "0.5",
    "NaN",
    "",
    "99999999999999999999999",
    "1000000000000",
    "65536",
];

fn extreme_value(rng: &mut ChaCha8Rng) -> Value {
    match rng.gen_range(0..12) {
        0 => Value::from(u64::MAX),
        1 => Value::from(-1),
        2 => Value::from(0),
        3 => serde_json::json!(1e300),
        4 => Value::from(rng.gen::<u32>()),
        5 => Value::String("x".repeat(rng.gen_range(0..100_000))),
        6 => Value::String(
            ["10%", "250ms", "24h", "25h", "1000000h", "-5s", "1.5s", "100.00001%"]
                .choose(rng)
                .map_or(String::new(), |s| (*s).to_string()),
        ),
        7 => Value::Null,
        8 => Value::Bool(rng.gen()),
        9 => serde_json::json!([]),
        10 => serde_json::json!({}),
        _ => {
            let mut v = Value::from(1);
            for _ in 0..rng.gen_range(1..300) {
                v = Value::Array(vec![v]);
            }
            v
        }
    }
}

/// Every path into a JSON value, for picking a node to change.
fn paths(v: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(here.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                here.push(PathStep::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(PathStep::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut v = v;
    for step in path {
        v = match (step, v) {
            (PathStep::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (PathStep::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A structural mutation of a JSON document: values replaced by extreme ones, fields deleted,
/// unknown fields added, lists repeated.
fn mutate_json(doc: &Value, rng: &mut ChaCha8Rng) -> Value {
    let mut doc = doc.clone();
    for _ in 0..rng.gen_range(1..4) {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let Some(path) = all.choose(rng).cloned() else { break };
        let choice = rng.gen_range(0..10);
        let Some(node) = at(&mut doc, &path) else { continue };
        match choice {
            0..=5 => *node = extreme_value(rng),
            6 => {
                if let Value::Object(map) = node {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    if let Some(k) = keys.choose(rng) {
                        map.remove(k);
                    }
                }
            }
            7 => {
                if let Value::Object(map) = node {
                    map.insert("no_such_field".into(), Value::from(1));
                }
            }
            8 => {
                if let Value::Array(items) = node {
                    let copy = items.clone();
                    for _ in 0..rng.gen_range(1..50) {
                        items.extend(copy.iter().cloned());
                        if items.len() > 20_000 {
                            break;
                        }
                    }
                }
            }
            _ => {
                if let Value::Number(n) = node {
                    let text = NUMBERS.choose(rng).copied().unwrap_or("0");
                    *node = serde_json::from_str(text)
                        .unwrap_or_else(|_| Value::from(n.as_u64().map_or(0, |x| x ^ 1)));
                }
            }
        }
    }
    doc
}

/// A textual mutation: truncation, a flipped byte, a repeated slice, or a stray character.
fn mutate_text(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.is_empty() {
        return "{".into();
    }
    match rng.gen_range(0..4) {
        0 => bytes.truncate(rng.gen_range(0..bytes.len())),
        1 => {
            let i = rng.gen_range(0..bytes.len());
            bytes[i] ^= 1 << rng.gen_range(0..8);
        }
        2 => {
            let a = rng.gen_range(0..bytes.len());
            let b = (a + rng.gen_range(1..200)).min(bytes.len());
            let slice = bytes[a..b].to_vec();
            bytes.splice(a..a, slice);
        }
        _ => {
            let i = rng.gen_range(0..bytes.len());
            bytes.insert(i, *b"{}[],:\"0-9e".choose(rng).unwrap_or(&b'x'));
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ----- Inputs -----

fn scenario_texts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).expect("readable")))
        .collect()
}

/// Command lines that are valid, to mutate one argument of.
const COMMANDS: [&[&str]; 12] = [
    &["raftsim", "--seed", "7", "--nodes", "3", "--clients", "4", "--ops", "100", "--duration", "2s"],
    &["raftsim", "run", "--seed", "1", "--max-events", "5000", "--run-time-limit", "10s"],
    &["raftsim", "run", "--seed", "1", "--check-time-limit", "500ms", "--bug", "stale-leader-read"],
    &["raftsim", "sweep", "--seeds", "0..100", "--shard", "2/8", "--jobs", "2", "--max-reports", "3"],
    &["raftsim", "sweep", "--count", "10", "--time-budget", "1m", "--nodes", "7"],
    &["raftsim", "sweep", "--seeds", "5..6", "--fail-fast", "--max-events", "100000"],
    &["raftsim", "shrink", "--seed", "3", "--budget", "50", "--bug", "ack-before-durable"],
    &["raftsim", "selftest", "--budget", "20", "--trials", "2", "--jobs", "1"],
    &["raftsim", "run", "--seed", "2", "--scenario", "SCENARIO", "--ops", "10"],
    &["raftsim", "replay", "REPORT", "--until", "100"],
    &["raftsim", "sweep", "merge", "SUMMARY"],
    &["raftsim", "bench", "sim", "--quick"],
];

const WORDS: [&str; 12] =
    ["--seed", "--nodes", "--sede", "run", "sweep", "--", "-", "--json", "..", "1/0", "0..0", "--calm"];

fn command_lines(rng: &mut ChaCha8Rng, scenario: &str, report: &str, summary: &str) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    for template in COMMANDS {
        let base: Vec<String> = template
            .iter()
            .map(|a| a.replace("SCENARIO", scenario).replace("REPORT", report).replace("SUMMARY", summary))
            .collect();
        lines.push(base.clone());
        for _ in 0..150 {
            let mut line = base.clone();
            let i = rng.gen_range(1..line.len());
            line[i] = match rng.gen_range(0..5) {
                0 | 1 => NUMBERS.choose(rng).copied().unwrap_or("0").to_string(),
                2 => format!("{}..{}", rng.gen::<u64>(), NUMBERS.choose(rng).copied().unwrap_or("0")),
                3 => format!(
                    "{}{}",
                    NUMBERS.choose(rng).copied().unwrap_or("1"),
                    ["s", "ms", "h", "m", "x", ""].choose(rng).copied().unwrap_or("")
                ),
                _ => WORDS.choose(rng).copied().unwrap_or("--").to_string(),
            };
            lines.push(line);
        }
    }
    lines
}

/// A real report folder: a failing run's.
fn real_report(dir: &Path) -> PathBuf {
    let mut config = SimConfig::swarm(0);
    config.bugs = vec!["ack-before-durable".into()];
    let ctx =
        ReportContext { config: &config, scenario: None, command: "cargo run --release -- --seed 0".into() };
    let (folder, _) = report::write(dir, &ctx, None, &RunOptions::default()).expect("a report");
    folder
}

fn real_summary() -> SweepSummary {
    SweepSummary {
        seed_sets: vec![SeedSet { start: 0, end: 10, shard: Some((1, 2)) }],
        seeds: 5,
        passed: 5,
        verdicts: [("pass".to_string(), 5)].into_iter().collect(),
        jobs: 2,
        wall_ms: 12.0,
        wall_ms_total: 12.0,
        ..SweepSummary::default()
    }
}

#[test]
fn malformed_inputs_are_refused_with_a_message_without_panic_hang_or_runaway_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let started = std::time::Instant::now();
    let dir = std::env::temp_dir().join(format!("raftsim-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Scenario files: each real one mutated in structure and in text, and loaded.
    let mut scenarios = Tally::default();
    for (name, text) in scenario_texts() {
        let doc: Value = serde_json::from_str(&text).expect("a real scenario is JSON");
        for round in 0..60 {
            let input = if round % 4 == 3 {
                mutate_text(&text, &mut rng)
            } else {
                serde_json::to_string(&mutate_json(&doc, &mut rng)).expect("serializable")
            };
            one("scenario", &mut scenarios, &input, || {
                Scenario::parse(&input, "fuzz.json").map_err(|e| {
                    let message = e.to_string();
                    assert!(message.starts_with("fuzz.json"), "the error names the file: {message} ({name})");
                    message
                })
            });
        }
    }

    // Report folders: a real report.json mutated, then loaded as `replay` and `shrink` load it.
    let mut reports = Tally::default();
    let folder = real_report(&dir);
    let report_text = std::fs::read_to_string(folder.join("report.json")).expect("report.json");
    let report_doc: Value = serde_json::from_str(&report_text).expect("JSON");
    let bad_folder = dir.join("bad-report");
    std::fs::create_dir_all(&bad_folder).expect("dir");
    for round in 0..1000 {
        let input = if round % 5 == 4 {
            mutate_text(&report_text, &mut rng)
        } else {
            serde_json::to_string(&mutate_json(&report_doc, &mut rng)).expect("serializable")
        };
        std::fs::write(bad_folder.join("report.json"), &input).expect("write");
        one("report", &mut reports, &input, || {
            report::load(&bad_folder).map_err(|message| {
                assert!(message.contains("report.json"), "the error names the file: {message}");
                message
            })
        });
    }

    // Sweep summaries: a real one and mutations of it, merged with themselves and with it.
    let mut merges = Tally::default();
    let summary_doc = serde_json::to_value(real_summary()).expect("serializable");
    let good = dir.join("good.json");
    std::fs::write(&good, summary_doc.to_string()).expect("write");
    let bad = dir.join("bad.json");
    for round in 0..1000 {
        let input = if round % 5 == 4 {
            mutate_text(&summary_doc.to_string(), &mut rng)
        } else {
            mutate_json(&summary_doc, &mut rng).to_string()
        };
        std::fs::write(&bad, &input).expect("write");
        let files = if round % 2 == 0 { vec![bad.clone()] } else { vec![good.clone(), bad.clone()] };
        one("summary", &mut merges, &input, || {
            simulator::cli::prepare_merge(&files).map_err(|message| {
                assert!(message.contains(".json"), "the error names a file: {message}");
                message
            })
        });
    }

    // Command lines: valid ones with one argument replaced by an extreme number, a range, a
    // duration or a stray word, checked as the commands check them before running.
    let mut cli = Tally::default();
    let scenario_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/lab-election-initial.json");
    let lines = command_lines(
        &mut rng,
        &scenario_file.display().to_string(),
        &folder.display().to_string(),
        &good.display().to_string(),
    );
    for line in &lines {
        let shown = line.join(" ");
        one("command line", &mut cli, &shown, || simulator::cli::dry_run(line.clone()));
    }

    let _ = std::fs::remove_dir_all(&dir);
    for (kind, t) in [
        ("scenario files", &scenarios),
        ("report folders", &reports),
        ("sweep summaries", &merges),
        ("command lines", &cli),
    ] {
        eprintln!(
            "{kind}: {} inputs, {} refused with a message, 0 panics, at most {} KiB allocated per input",
            t.inputs,
            t.refused,
            t.peak_bytes / 1024
        );
        assert!(
            t.refused > 0 && t.refused < t.inputs,
            "{kind}: the mutations should produce good and bad inputs: {t:?}"
        );
    }
    eprintln!("fuzzed in {:.1} s", started.elapsed().as_secs_f64());
}
