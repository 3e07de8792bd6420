//! Fuzzing the history readers: generated and mutated input in every format must give a
//! history or an error naming the file (and a line within it), never a panic, and the memory
//! a parse takes must stay proportional to the input. A seeded mutator keeps every run the same.
//!
//! One test in this binary, so that the counting allocator below measures only the parse at
//! hand (no other test thread allocates meanwhile).

use checker::cli::run_check_command_to;
use checker::generate::{hot_key_kv, registers, Workload};
use checker::{
    check_history, history_to_json, kv_history_to_json, parse_history, CheckArgs, CheckOptions, Format,
    History,
};
use clap::Parser;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces the mutator inserts: the formats' own punctuation, keywords and numbers at the edges.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    ":",
    ",",
    " ",
    "\n",
    "\t",
    "nil",
    "null",
    "true",
    "-",
    "-1",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "1e999",
    "99999999999999999999999N",
    "#_",
    "#inst",
    "#{",
    "\\u00",
    "\\",
    ";",
    ":invoke",
    ":ok",
    ":fail",
    ":info",
    ":process",
    ":type",
    ":f",
    ":value",
    ":key",
    ":read",
    ":write",
    ":cas",
    ":get",
    ":put",
    ":append",
    "\"id\"",
    "\"status\"",
    "\"ok\"",
    "\"unknown\"",
    "\"call_ns\"",
    "\"return_ns\"",
    "\"operations\"",
    "INFO  jepsen.util - ",
    "\u{e9}",
    "\u{feff}",
    "[[[[[[[[",
    "{:process 0 :type :invoke :f :read :value nil}",
];

fn mutate(rng: &mut Rng, seeds: &[String], input: &str) -> String {
    let mut bytes = input.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(8) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = (rng.next() % 128) as u8;
            }
            1 | 2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + rng.below(64)).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(200)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            5 => bytes.truncate(at),
            6 => {
                let other = seeds[rng.below(seeds.len())].as_bytes();
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(300)).min(other.len());
                bytes.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let depth = 1 + rng.below(400);
                let open = ["[", "{", "(", "#_"][rng.below(4)];
                bytes.splice(at..at, open.repeat(depth).into_bytes());
            }
        }
    }
    // The readers take text: invalid UTF-8 is refused before them (see the CLI test).
    String::from_utf8_lossy(&bytes).into_owned()
}

fn seeds_for(format: Format) -> Vec<String> {
    let small =
        Workload { seed: 9, clients: 3, calls: 12, unknown_ppm: 300_000, unknown_effect_ns_max: 5_000 };
    match format {
        Format::Json => vec![
            kv_history_to_json(&hot_key_kv(&small)),
            history_to_json(&History::Register { calls: registers(&small, 2, false), initial: Some(Some(0)) }),
        ],
        Format::PorcupineKv => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine-kv/c01-bad.txt");
            vec![std::fs::read_to_string(path).unwrap_or_default()]
        }
        Format::Edn => vec![
            "[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok, :f :write, :value 1}\n \
             {:process 1, :type :invoke, :f :cas, :value [1 2]}\n {:process 1, :type :fail, :f :cas, :value [1 2]}\n \
             {:process :nemesis, :type :info, :f :start}\n {:process 2, :type :invoke, :f :read, :value nil}\n \
             {:process 2, :type :ok, :f :read, :value 1, :time 12}]"
                .to_string(),
            "; kv with independent keys\n{:process 0 :type :invoke :f :append :value [\"k\" \"x\"]}\n\
             {:process 0 :type :ok :f :append :value [\"k\" \"x\"]}\n#jepsen.history.Op{:process 1 :type :invoke \
             :f :get :key :k2 :value nil}\n{:process 1 :type :info :f :get :key :k2 :value nil}\n"
                .to_string(),
        ],
        Format::JepsenLog => vec!["INFO  jepsen.util - 0\t:invoke\t:write\t3\nINFO  jepsen.util - 1\t:invoke\t:cas\t[3 4]\n\
             INFO  jepsen.util - 0\t:ok\t:write\t3\nINFO  jepsen.util - 1\t:fail\t:cas\t[3 4]\n\
             INFO  jepsen.util - 2\t:invoke\t:read\tnil\nINFO  jepsen.util - 2\t:ok\t:read\t3\n\
             INFO  jepsen.util - 3\t:invoke\t:write\t1\nINFO  jepsen.util - 3\t:info\t:write\t:timed-out\n"
            .to_string()],
    }
}

/// A valid history in `format`, freshly generated: a small random workload.
fn generated(rng: &mut Rng, format: Format) -> String {
    let w = Workload {
        seed: rng.next(),
        clients: 1 + rng.below(6) as u32,
        calls: rng.below(40),
        unknown_ppm: rng.below(500_000) as u32,
        unknown_effect_ns_max: 1 + rng.below(10_000) as u64,
    };
    let keys = 1 + rng.below(3) as u32;
    match format {
        Format::Json if rng.below(2) == 0 => kv_history_to_json(&hot_key_kv(&w)),
        Format::Json => {
            history_to_json(&History::Register { calls: registers(&w, keys, false), initial: None })
        }
        Format::PorcupineKv => {
            // Calls one after another per client, as events in time order.
            let mut events: Vec<(u64, String)> = Vec::new();
            for c in hot_key_kv(&w).iter().filter(|c| c.status == checker::Status::Ok) {
                let kind = c.kind.name();
                let arg =
                    if c.kind == checker::KvKind::Get { "nil".to_string() } else { format!("{:?}", c.value) };
                let out = c.output.as_ref().map_or(arg.clone(), |o| format!("{o:?}"));
                let p = c.client;
                events.push((
                    c.call_ns,
                    format!("{{:process {p}, :type :invoke, :f :{kind}, :key \"{}\", :value {arg}}}", c.key),
                ));
                let ret = c.return_ns.unwrap_or(c.call_ns);
                events.push((
                    ret,
                    format!("{{:process {p}, :type :ok, :f :{kind}, :key \"{}\", :value {out}}}", c.key),
                ));
            }
            events.sort_by_key(|e| e.0);
            events.into_iter().map(|e| e.1 + "\n").collect()
        }
        Format::Edn | Format::JepsenLog => {
            let mut events: Vec<(u64, u8, String)> = Vec::new();
            for c in registers(&w, 1, false) {
                let (f, value) = match c.op {
                    checker::RegisterOp::Read { .. } => ("read", "nil".to_string()),
                    checker::RegisterOp::Write { value } => ("write", value.to_string()),
                    checker::RegisterOp::Cas { from, to, .. } => ("cas", format!("[{from} {to}]")),
                };
                let out = match (c.op, c.status) {
                    (checker::RegisterOp::Read { output: Some(Some(v)) }, _) => v.to_string(),
                    (checker::RegisterOp::Read { .. }, _) => "nil".to_string(),
                    _ => value.clone(),
                };
                let kind = match (c.op, c.status) {
                    (_, checker::Status::Unknown) => "info",
                    (checker::RegisterOp::Cas { succeeded: Some(false), .. }, _) => "fail",
                    _ => "ok",
                };
                let line = |t: &str, v: &str| match format {
                    Format::JepsenLog => format!("INFO  jepsen.util - {}\t:{t}\t:{f}\t{v}\n", c.client),
                    _ => format!("{{:process {}, :type :{t}, :f :{f}, :value {v}}}\n", c.client),
                };
                events.push((c.call_ns, 0, line("invoke", &value)));
                events.push((c.return_ns.unwrap_or(c.call_ns + 5_000), 1, line(kind, &out)));
            }
            events.sort_by_key(|e| (e.0, e.1));
            events.into_iter().map(|e| e.2).collect()
        }
    }
}

/// Inputs per format (each also read with the format recognised from the content).
const INPUTS_PER_FORMAT: usize = 20_000;
/// Every this many inputs also goes through `raftsim check` on a file.
const CLI_EVERY: usize = 250;
/// A parse may take at most this many bytes per input byte, plus `PARSE_BYTES_FIXED`.
const PARSE_BYTES_PER_INPUT_BYTE: usize = 160;
const PARSE_BYTES_FIXED: usize = 64 << 10;

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    check: CheckArgs,
}

#[test]
fn mutated_histories_in_every_format_give_a_history_or_an_error_never_a_panic() {
    let opts = CheckOptions {
        time_limit: Some(Duration::from_millis(50)),
        ..CheckOptions::with_memory_limit(64 << 20)
    };
    let dir = std::env::temp_dir().join(format!("checker-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Rng(0x6675_7A7A);
    let mut report = Vec::new();
    let mut worst_ratio = 0.0f64;
    for format in [Format::Json, Format::PorcupineKv, Format::Edn, Format::JepsenLog] {
        let seeds = seeds_for(format);
        let (mut parsed, mut refused, mut cli_runs) = (0usize, 0usize, 0usize);
        let mut input = seeds[0].clone();
        for n in 0..INPUTS_PER_FORMAT {
            // Mutate the last input or a fresh seed: mutations pile up, or start over.
            input = match rng.below(4) {
                0 => generated(&mut rng, format),
                1 => mutate(&mut rng, &seeds, &input),
                _ => {
                    let seed = seeds[rng.below(seeds.len())].clone();
                    mutate(&mut rng, &seeds, &seed)
                }
            };
            if input.len() > 64 << 10 {
                input = seeds[0].clone();
            }
            for given in [Some(format), None] {
                let before = LIVE.load(Ordering::Relaxed);
                PEAK.store(before, Ordering::Relaxed);
                let result = parse_history(&input, given, None, "fuzz.txt");
                let taken = PEAK.load(Ordering::Relaxed).saturating_sub(before);
                if input.len() >= 4096 {
                    worst_ratio = worst_ratio.max(taken as f64 / input.len() as f64);
                }
                assert!(
                    taken <= PARSE_BYTES_PER_INPUT_BYTE * input.len() + PARSE_BYTES_FIXED,
                    "{} bytes to parse {} bytes of {:?}: {input:?}",
                    taken,
                    input.len(),
                    format
                );
                match result {
                    Ok(history) => {
                        parsed += 1;
                        // The checker must cope with whatever the readers accept.
                        let _ = check_history(&history.history, None, &opts);
                    }
                    Err(e) => {
                        refused += 1;
                        let message = e.to_string();
                        assert!(message.starts_with("fuzz.txt"), "{message}");
                        assert!(message.contains("expected "), "{message}");
                        let lines = input.lines().count() + 1;
                        assert!(
                            e.line.is_none_or(|l| l >= 1 && l <= lines),
                            "line {:?} of {lines}: {message}",
                            e.line
                        );
                    }
                }
            }
            if n % CLI_EVERY == 0 {
                cli_runs += 1;
                let path = dir.join(format!("input-{n}.txt"));
                std::fs::write(&path, &input).unwrap_or_else(|e| panic!("{e}"));
                let p = path.to_string_lossy().to_string();
                let argv = ["raftsim-check", "--time-limit", "50ms", "--format", format.name(), p.as_str()];
                let args = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}")).check;
                let (mut out, mut err) = (Vec::new(), Vec::new());
                let code = run_check_command_to(&args, &mut out, &mut err);
                let err = String::from_utf8_lossy(&err);
                assert!([0, 1, 2, 3].contains(&code), "exit {code}");
                if code == 2 {
                    assert!(err.starts_with(&format!("error: {p}")), "{err}");
                }
            }
        }
        report.push(format!(
            "{}: {} inputs x 2 readings, {parsed} parsed, {refused} refused, {cli_runs} through raftsim check",
            format.name(),
            INPUTS_PER_FORMAT
        ));
    }
    // Large inputs built to make a reader allocate: many tiny values, deep nesting, long strings.
    let large = [
        (Format::Edn, "1 ".repeat(500_000)),
        (Format::Edn, "[".repeat(1_000_000)),
        (Format::Edn, format!("[{}]", "{:process 0 :type :invoke} ".repeat(40_000))),
        (
            Format::Json,
            format!("{{\"format\": \"raftsim-history\", \"operations\": [{}0]}}", "0,".repeat(500_000)),
        ),
        (Format::Json, format!("{{\"format\": \"{}\"}}", "x".repeat(1 << 20))),
        (Format::JepsenLog, "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n".repeat(30_000)),
    ];
    for (format, input) in &large {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let _ = parse_history(input, Some(*format), None, "large.txt");
        let taken = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        let ratio = taken as f64 / input.len() as f64;
        worst_ratio = worst_ratio.max(ratio);
        assert!(
            taken <= PARSE_BYTES_PER_INPUT_BYTE * input.len(),
            "{ratio:.0} bytes per byte for {:?}",
            &input[..40]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "fuzz: {}; worst parse allocation {worst_ratio:.0} bytes per input byte (inputs of 4 KiB or more, \
         and {} large ones built to make readers allocate)",
        report.join("; "),
        large.len()
    );
}
