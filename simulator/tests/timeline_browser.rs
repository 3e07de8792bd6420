//! The timeline page, rendered by a real browser: headless Chromium loads the page of a failing
//! run and dumps the DOM its script built, and we read the lanes, the operations and the failing
//! point back from it. Chromium is required (Debian's `chromium`, which `.ci/run` installs): a
//! missing browser fails these tests rather than skipping them, since a skipped check of a page
//! nobody looks at until a failure is a check that never runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checker::{KvCall, Status};
use serde_json::{json, Value};
use simulator::{run, Outcome, RunOptions, SimConfig, Verdict};

/// A run of `bug` on the first swarm seed whose verdict is `want`.
fn failing_run(bug: &str, want: Verdict) -> (SimConfig, Outcome) {
    for seed in 1..200 {
        let mut config = SimConfig::swarm(seed);
        config.bugs = vec![bug.into()];
        let outcome = run(&config, &RunOptions { trace_lines: true, ..Default::default() });
        if outcome.verdict == want {
            return (config, outcome);
        }
    }
    panic!("no seed below 200 gives a {want} verdict with the bug {bug}");
}

/// report.json as the report writer builds it, from the pieces of an outcome.
fn report_of(config: &SimConfig, outcome: &Outcome) -> Value {
    json!({
        "version": "raftsim 0.1.0",
        "seed": config.seed,
        "scenario": null,
        "command": format!(
            "cargo run --release -- --seed {}{}",
            config.seed,
            config.bugs.iter().map(|b| format!(" --bug {b}")).collect::<String>()
        ),
        "config": serde_json::to_value(config).unwrap_or_default(),
        "verdict": outcome.verdict.name(),
        "reason": outcome.reason,
        "failure": serde_json::to_value(&outcome.failure).unwrap_or_default(),
        "summary": serde_json::to_value(&outcome.summary).unwrap_or_default(),
        "linearizability": outcome.check.as_ref().map(checker::CheckReport::to_json),
    })
}

/// The browser: Debian's `chromium`, else `chromium-browser`, else `google-chrome`.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()))
            .unwrap_or_default();
        if let Some(path) = found {
            return path;
        }
    }
    panic!(
        "headless Chromium is needed to test the timeline page and was not found (tried chromium, \
         chromium-browser, google-chrome). Install Debian's package: `apt-get install -y chromium` \
         (CI's .ci/run installs it)."
    );
}

/// A fresh directory for one test's files (the page, and the browser's profile).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Loads `url` in headless Chromium and returns the DOM after its scripts ran.
fn dump_dom(url: &str, dir: &Path) -> String {
    let profile = dir.join("profile");
    let log_path = dir.join("chromium.log");
    let log = std::fs::File::create(&log_path).expect("create chromium's log");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start chromium");
    // Read stdout on a thread so that a large DOM cannot fill the pipe while we wait.
    let mut stdout = child.stdout.take().expect("chromium's stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish rendering {url} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().expect("read chromium's output");
    if !dom.contains("</html>") {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: String =
            log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        panic!("chromium printed no DOM for {url} (got {:.300}); the end of its log:\n{tail}", dom);
    }
    dom
}

/// Writes the page and returns the file:// URL of it.
fn write_page(dir: &Path, page: &str) -> String {
    let path = dir.join("timeline.html");
    std::fs::write(&path, page).expect("write the page");
    format!("file://{}", path.display())
}

/// One start tag of the dumped DOM.
#[derive(Debug)]
struct Tag {
    attrs: BTreeMap<String, String>,
}

impl Tag {
    fn has_class(&self, class: &str) -> bool {
        self.attrs.get("class").is_some_and(|c| c.split_whitespace().any(|w| w == class))
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// The start tags of the DOM outside `<script>` elements (whose text holds the data and the code,
/// not what was drawn). Chromium serialises attributes as `name="value"` with `&quot;` inside.
fn parse_tags(dom: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with("script") {
            rest = rest.find("</script>").map_or("", |e| &rest[e + 9..]);
            continue;
        }
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        let mut attrs = BTreeMap::new();
        let mut s = tag.split_once(char::is_whitespace).map_or("", |t| t.1);
        while let Some(eq) = s.find("=\"") {
            let name = s[..eq].trim().to_string();
            let Some(close) = s[eq + 2..].find('"') else { break };
            attrs.insert(name, s[eq + 2..eq + 2 + close].replace("&quot;", "\"").replace("&amp;", "&"));
            s = &s[eq + 3 + close..];
        }
        out.push(Tag { attrs });
    }
    out
}

fn with_class<'t>(tags: &'t [Tag], class: &str) -> Vec<&'t Tag> {
    tags.iter().filter(|t| t.has_class(class)).collect()
}

fn by_id<'t>(tags: &'t [Tag], id: &str) -> &'t Tag {
    tags.iter().find(|t| t.attr("id") == Some(id)).unwrap_or_else(|| panic!("no element with id {id}"))
}

fn numbers(tags: &[&Tag], attr: &str) -> BTreeSet<u64> {
    tags.iter().filter_map(|t| t.attr(attr)?.parse().ok()).collect()
}

/// The checks every rendered page passes: drawn, no error, one lane per node and per client.
fn assert_drawn(tags: &[Tag], nodes: usize, clients: &BTreeSet<u64>) {
    assert_eq!(by_id(tags, "timeline").attr("data-rendered"), Some("true"), "the script did not finish");
    assert!(by_id(tags, "render-error").attrs.contains_key("hidden"), "the page reports a rendering error");
    let node_lanes = with_class(tags, "node-lane");
    assert!(node_lanes.iter().all(|t| t.has_class("lane")));
    assert_eq!(node_lanes.len(), nodes, "one lane per node");
    assert_eq!(numbers(&node_lanes, "data-node"), (0..nodes as u64).collect());
    let client_lanes = with_class(tags, "client-lane");
    assert_eq!(client_lanes.len(), clients.len(), "one lane per client");
    assert_eq!(&numbers(&client_lanes, "data-client"), clients);
}

/// Clients that made calls: in the history, or in the trace's `call` lines.
fn calling_clients(history: &[KvCall], trace: &str) -> BTreeSet<u64> {
    let from_trace = trace
        .lines()
        .filter(|l| l.contains("\"ev\":\"call\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["client"].as_u64());
    history.iter().map(|c| c.client).chain(from_trace).collect()
}

/// Every operation is drawn once, with the class of its status.
fn assert_ops_drawn(tags: &[Tag], history: &[KvCall]) {
    let ops = with_class(tags, "op");
    let drawn: BTreeMap<u64, &Tag> =
        ops.iter().filter_map(|t| Some((t.attr("data-op")?.parse().ok()?, *t))).collect();
    assert_eq!(drawn.len(), ops.len(), "each operation is drawn once");
    assert_eq!(drawn.len(), history.len(), "every operation is drawn when the whole run is in view");
    for call in history {
        let tag = drawn.get(&call.id).unwrap_or_else(|| panic!("operation {} is not drawn", call.id));
        let class = format!("op-{}", call.status.name());
        assert!(tag.has_class(&class), "operation {} should be {class}: {:?}", call.id, tag.attr("class"));
    }
}

#[test]
fn a_safety_violation_draws_every_lane_and_marks_the_failing_event_and_node() {
    let (config, outcome) = failing_run("leader-ignores-higher-term", Verdict::Safety);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let page = simulator::timeline::render(&report, &outcome.trace_lines, &history);
    println!(
        "safety run (seed {}): page {} bytes for {} trace lines ({} bytes) and {} operations",
        config.seed,
        page.len(),
        outcome.trace_lines.lines().count(),
        outcome.trace_lines.len(),
        outcome.history.len()
    );
    assert!(page.len() < 2_000_000, "the page of one run stays small: {} bytes", page.len());
    let dir = scratch("safety");
    let dom = dump_dom(&write_page(&dir, &page), &dir);
    let tags = parse_tags(&dom);

    assert_drawn(&tags, config.cluster.nodes, &calling_clients(&outcome.history, &outcome.trace_lines));
    assert_ops_drawn(&tags, &outcome.history);
    let failure = outcome.failure.as_ref().expect("a safety verdict has a failing point");
    let marker = by_id(&tags, "failure-marker");
    assert_eq!(marker.attr("data-time-ns"), Some(failure.time_ns.to_string().as_str()));
    assert_eq!(marker.attr("data-check"), Some(failure.check.as_str()));
    assert_eq!(marker.attr("data-visible"), Some("true"));
    let node = failure.node.expect("an online invariant names its node");
    assert_eq!(marker.attr("data-node"), Some(node.to_string().as_str()));
    let failing = with_class(&tags, "failing");
    assert_eq!(numbers(&failing, "data-node"), BTreeSet::from([u64::from(node)]), "the failing node's lane");
    assert!(dom.contains(&format!("<b>{}</b> on <b>n{node}</b>", failure.check)), "the failure panel");
    // Roles are drawn as segments, and a leader appears somewhere before the failure.
    assert!(!with_class(&tags, "role-L").is_empty(), "no leader segment drawn");
}

#[test]
fn a_nonlinearizable_history_names_the_key_and_highlights_the_operations_involved() {
    let (config, outcome) = failing_run("no-deduplication", Verdict::Nonlinearizable);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let page = simulator::timeline::render(&report, &outcome.trace_lines, &history);
    let violation = outcome.check.as_ref().and_then(|c| c.violation.clone()).expect("a violation");
    let dir = scratch("nonlinearizable");
    let dom = dump_dom(&write_page(&dir, &page), &dir);
    let tags = parse_tags(&dom);

    assert_drawn(&tags, config.cluster.nodes, &calling_clients(&outcome.history, &outcome.trace_lines));
    assert_ops_drawn(&tags, &outcome.history);
    let panel = by_id(&tags, "violation");
    assert_eq!(panel.attr("data-key"), Some(violation.part.as_str()));
    let start = dom.find("id=\"violation\"").expect("the violation panel");
    let panel_html = &dom[start..start + dom[start..].find("</section>").expect("the panel ends")];
    assert!(panel_html.contains(&format!("<code>{}</code>", violation.part)), "the panel names the key");
    for id in &violation.operations {
        assert!(panel_html.contains(&format!("data-op=\"{id}\"")), "the panel lists operation {id}");
    }
    let involved = numbers(&with_class(&tags, "op-involved"), "data-op");
    assert_eq!(involved, violation.operations.iter().copied().collect(), "involved operations highlighted");
    // The marker sits where no order fits any more: the first return among those operations.
    let forced = violation
        .operations
        .iter()
        .filter_map(|id| outcome.history.iter().find(|c| c.id == *id))
        .map(|c| c.return_ns.unwrap_or(c.call_ns))
        .min()
        .expect("the involved operations are in the history");
    assert_eq!(by_id(&tags, "failure-marker").attr("data-time-ns"), Some(forced.to_string().as_str()));
    assert!(dom.contains("Longest linearizable prefix"));
}

/// A synthetic history of `n` operations by 5 clients over 10 s, some failed and some unknown.
fn synthetic_history(n: u64) -> Vec<KvCall> {
    let clients = 5;
    let slot_ns = 10_000_000_000 / (n / clients);
    (0..n)
        .map(|id| {
            let (client, k) = (id % clients, id / clients);
            let call = k * slot_ns + client * 1000;
            let key = format!("k{}", id % 7);
            let c = match id % 3 {
                0 => KvCall::get(id, client, &key, &format!("v{}", id / 3), call, call + slot_ns / 2),
                1 => KvCall::put(id, client, &key, &format!("v{id}"), call, call + slot_ns / 2),
                _ => KvCall::append(id, client, &key, &format!("c{client}.{k};"), call, call + slot_ns / 2),
            };
            match id % 97 {
                0 => c.unknown(),
                1 => KvCall { status: Status::Failed, ..c },
                _ => c,
            }
        })
        .collect()
}

#[test]
fn ten_thousand_operations_keep_the_page_small_and_the_dom_bounded() {
    let calls = synthetic_history(10_000);
    let history = checker::kv_history_to_json(&calls);
    let mut trace = String::new();
    for node in 0..5 {
        trace.push_str(&format!(
            "{{\"t\":0,\"n\":0,\"ev\":\"state\",\"node\":{node},\"role\":\"Follower\",\"term\":0,\"commit\":0,\"last\":0}}\n"
        ));
    }
    trace.push_str("{\"t\":300000000,\"n\":1,\"ev\":\"state\",\"node\":2,\"role\":\"Leader\",\"term\":1,\"commit\":0,\"last\":0}\n");
    let report = json!({
        "seed": 1, "verdict": "pass", "reason": "",
        "config": {"cluster": {"nodes": 5}, "workload": {"clients": 5, "op_timeout_ns": 4_000_000_000u64},
                   "duration_ns": 10_000_000_000u64, "liveness_ns": 1_000_000_000u64},
    });
    let page = simulator::timeline::render(&report, &trace, &history);
    println!("10,000 operations: page {} bytes (history.json {} bytes)", page.len(), history.len());
    assert!(page.len() < 5_000_000, "the page is {} bytes", page.len());

    let dir = scratch("ten-thousand");
    let url = write_page(&dir, &page);
    let clients: BTreeSet<u64> = (0..5).collect();
    let started = Instant::now();
    let tags = parse_tags(&dump_dom(&url, &dir));
    println!("whole run rendered and dumped in {:?}", started.elapsed());
    assert_drawn(&tags, 5, &clients);
    // The whole run in view is too many operations to draw one by one: lanes show bins.
    let status = by_id(&tags, "view-status");
    assert_eq!(status.attr("data-binned"), Some("true"));
    assert_eq!(status.attr("data-ops-visible"), Some("10000"));
    assert!(
        with_class(&tags, "op").len() <= 2000,
        "operations materialised: {}",
        with_class(&tags, "op").len()
    );
    let bins = with_class(&tags, "op-bin");
    assert!(!bins.is_empty() && bins.len() < 5 * 1000, "{} bins", bins.len());
    let binned: u64 = bins.iter().filter_map(|b| b.attr("data-count")?.parse::<u64>().ok()).sum();
    assert!(binned >= 10_000, "every visible operation is in some bin ({binned})");

    // A window of the URL (#window=FROM,TO in ms) draws just the operations in it, one by one.
    let (from_ns, to_ns) = (2_000_000_000u64, 2_200_000_000u64);
    let dir = scratch("ten-thousand-window");
    let url = format!("{}#window=2000,2200", write_page(&dir, &page));
    let tags = parse_tags(&dump_dom(&url, &dir));
    assert_drawn(&tags, 5, &clients);
    let in_window: BTreeSet<u64> = calls
        .iter()
        .filter(|c| c.call_ns <= to_ns && c.return_ns.unwrap_or(u64::MAX) >= from_ns)
        .map(|c| c.id)
        .collect();
    let drawn = numbers(&with_class(&tags, "op"), "data-op");
    assert_eq!(drawn, in_window, "exactly the operations of the window are drawn");
    assert!(drawn.len() < 1000, "{} operations drawn", drawn.len());
}

/// Drives the page's controls one step at a time and writes, after each step, the visible window
/// and what is drawn into `<pre id="probe">` as JSON.
const PROBE: &str = r#"<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const plot = $('plot');
  const results = [];
  const record = (step) => {
    const s = $('view-status');
    results.push({ step: step, from: Number(s.getAttribute('data-window-from-ns')),
      to: Number(s.getAttribute('data-window-to-ns')), ops: document.querySelectorAll('#plot .op').length,
      key: $('key-filter').value, details: $('details').hidden ? null : $('details').textContent,
      marker: ($('failure-marker') || { getAttribute: () => null }).getAttribute('data-visible') });
  };
  const r = plot.getBoundingClientRect(), cx = r.left + r.width * 0.6, cy = r.top + 60;
  const steps = [
    ['loaded', () => {}],
    ['zoom-in', () => $('zoom-in').click()],
    ['wheel', () => plot.dispatchEvent(new WheelEvent('wheel', { deltaY: -200, clientX: cx, clientY: cy, bubbles: true, cancelable: true }))],
    ['drag', () => {
      plot.dispatchEvent(new MouseEvent('mousedown', { button: 0, clientX: cx, clientY: cy, bubbles: true }));
      window.dispatchEvent(new MouseEvent('mousemove', { clientX: cx - 200, clientY: cy, bubbles: true }));
      window.dispatchEvent(new MouseEvent('mouseup', { clientX: cx - 200, clientY: cy, bubbles: true }));
    }],
    ['key-0', () => document.dispatchEvent(new KeyboardEvent('keydown', { key: '0', bubbles: true }))],
    ['form', () => { $('window-from').value = '1000'; $('window-to').value = '1500'; $('window-form').requestSubmit(); }],
    ['failing-point', () => $('zoom-failure').click()],
    ['opref', () => document.querySelector('#violation a.opref').click()],
  ];
  let i = 0;
  const next = () => {
    if (i > 0) record(steps[i - 1][0]);
    if (i === steps.length) { const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(results); document.body.appendChild(out); return; }
    try { steps[i][1](); } catch (e) { results.push({ step: steps[i][0], error: String(e) }); }
    i++;
    // Headless Chromium runs no animation frames; the page falls back to a 100 ms timer.
    setTimeout(next, 150);
  };
  next();
})();
</script></body>"#;

#[test]
fn the_controls_zoom_pan_pick_a_window_and_jump_to_the_failing_point() {
    let (config, outcome) = failing_run("no-deduplication", Verdict::Nonlinearizable);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let page = simulator::timeline::render(&report, &outcome.trace_lines, &history).replace("</body>", PROBE);
    let dir = scratch("controls");
    let dom = dump_dom(&write_page(&dir, &page), &dir);
    let start = dom.find("<pre id=\"probe\">").expect("the probe finished") + "<pre id=\"probe\">".len();
    let text = &dom[start..start + dom[start..].find("</pre>").expect("the probe's output ends")];
    let steps: Vec<Value> = serde_json::from_str(&text.replace("&quot;", "\"").replace("&amp;", "&"))
        .expect("the probe wrote JSON");
    let step = |name: &str| -> &Value {
        steps.iter().find(|s| s["step"] == name).unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
    };
    assert!(steps.iter().all(|s| s["error"].is_null()), "a control threw: {steps:?}");
    assert!(by_id(&parse_tags(&dom), "render-error").attrs.contains_key("hidden"), "a redraw failed");
    let span = |s: &Value| s["to"].as_f64().unwrap_or(0.0) - s["from"].as_f64().unwrap_or(0.0);
    let whole = span(step("loaded"));
    assert!((span(step("zoom-in")) - whole / 2.0).abs() <= 2.0, "+ halves the window: {steps:?}");
    assert!(span(step("wheel")) < span(step("zoom-in")), "the wheel zooms in: {steps:?}");
    assert!((span(step("drag")) - span(step("wheel"))).abs() <= 2.0, "a drag keeps the width");
    assert!(step("drag")["from"].as_f64() > step("wheel")["from"].as_f64(), "dragging left moves later");
    assert_eq!(span(step("key-0")), whole, "0 shows the whole run");
    assert_eq!(
        (step("form")["from"].as_u64(), step("form")["to"].as_u64()),
        (Some(1_000_000_000), Some(1_500_000_000))
    );
    // The failing point of a non-linearizable run: its key only, its operations in view.
    let violation = outcome.check.as_ref().and_then(|c| c.violation.clone()).expect("a violation");
    let failing = step("failing-point");
    assert_eq!(failing["key"], violation.part.as_str());
    assert_eq!(failing["marker"], "true", "the marker is in the window");
    let (from, to) = (failing["from"].as_u64().unwrap_or(0), failing["to"].as_u64().unwrap_or(0));
    for id in &violation.operations {
        let call = outcome.history.iter().find(|c| c.id == *id).expect("an involved op in the history");
        assert!(from <= call.call_ns && call.call_ns <= to, "op {id} is in the window {from}..{to}");
    }
    let picked = step("opref");
    // The panel lists the operations involved first.
    let first = violation.operations.first().expect("an involved operation");
    let details = picked["details"].as_str().unwrap_or_default();
    assert!(details.starts_with(&format!("op {first} ")), "a link shows its operation: {details}");
}

/// The page of a real run, with the whole trace and history.
fn page_of(config: &SimConfig) -> (String, Outcome) {
    let outcome = run(config, &RunOptions { trace_lines: true, ..Default::default() });
    let report = report_of(config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    (simulator::timeline::render(&report, &outcome.trace_lines, &history), outcome)
}

#[test]
fn pages_of_real_runs_stay_far_smaller_than_their_traces() {
    let (page, outcome) = page_of(&SimConfig::swarm(3));
    println!(
        "default run (seed 3, {}): page {} bytes for {} trace lines ({} bytes) and {} operations",
        outcome.verdict,
        page.len(),
        outcome.trace_lines.lines().count(),
        outcome.trace_lines.len(),
        outcome.history.len()
    );
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    assert!(page.len() < outcome.trace_lines.len() / 4, "the page does not copy the trace");

    // Clients call one at a time, so 10,000 operations in 10 s take many clients.
    let mut config = SimConfig::calm(3);
    config.workload.ops = 10_000;
    config.workload.clients = 50;
    let (page, outcome) = page_of(&config);
    println!(
        "10,000-operation run (seed 3, {}): page {} bytes for {} trace lines ({} bytes) and {} operations",
        outcome.verdict,
        page.len(),
        outcome.trace_lines.lines().count(),
        outcome.trace_lines.len(),
        outcome.history.len()
    );
    assert!(outcome.history.len() >= 9_000, "only {} operations", outcome.history.len());
    assert!(page.len() < 5_000_000, "{} bytes", page.len());
    // Kept for a look in a browser: target/tmp/timeline/real-ten-thousand/timeline.html.
    write_page(&scratch("real-ten-thousand"), &page);
}
