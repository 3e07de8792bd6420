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
    let report = report_of(&SimConfig::swarm(3), &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let messages = simulator::messages::render(&report, &outcome.trace_lines, &history);
    println!("default run (seed 3): messages page {} bytes", messages.len());
    assert!(messages.len() < 1_000_000, "{} bytes", messages.len());

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
    // Its messages page embeds a bounded number of messages, however long the run.
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let messages = simulator::messages::render(&report, &outcome.trace_lines, &history);
    println!("10,000-operation run: messages page {} bytes", messages.len());
    assert!(messages.len() < 1_000_000, "{} bytes", messages.len());
    // Kept for a look in a browser: target/tmp/timeline/real-ten-thousand/timeline.html.
    write_page(&scratch("real-ten-thousand"), &page);
}

// ----- The messages page, the latency plot, explain's curve and the sweep page -----

/// Writes `page` as `name` in `dir` and returns its file:// URL.
fn write_named(dir: &Path, name: &str, page: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, page).expect("write the page");
    format!("file://{}", path.display())
}

/// The arrows a messages page drew: id to its tag.
fn arrows(tags: &[Tag]) -> BTreeMap<u64, &Tag> {
    with_class(tags, "msg").into_iter().filter_map(|t| Some((t.attr("data-id")?.parse().ok()?, t))).collect()
}

#[test]
fn the_messages_page_draws_the_failing_events_causal_past_and_no_other_message() {
    let (config, outcome) = failing_run("leader-ignores-higher-term", Verdict::Safety);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let page = simulator::messages::render(&report, &outcome.trace_lines, &history);
    let d = simulator::messages::digest::digest(&report, &outcome.trace_lines, &history);
    println!(
        "messages page (seed {}): {} bytes, {} messages embedded of {}, {} in the causal past",
        config.seed,
        page.len(),
        d.msgs.len(),
        d.total,
        d.total_causal
    );
    assert!(page.len() < 1_000_000, "{} bytes", page.len());

    // The past, recomputed from the trace's message lines here: hops by id, receipts by line.
    let lines: Vec<Value> =
        outcome.trace_lines.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let lane = |a: &Value| d.lanes.iter().position(|l| Some(l.as_str()) == a.as_str());
    let mut sends: BTreeMap<u64, (usize, usize, u64)> = BTreeMap::new();
    let mut hops = Vec::new();
    let mut held: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (pos, l) in lines.iter().enumerate() {
        let pos = pos as u64;
        let id = l["id"].as_u64();
        match l["ev"].as_str() {
            Some("send") => {
                let (Some(id), Some(from), Some(to)) = (id, lane(&l["from"]), lane(&l["to"])) else {
                    continue;
                };
                sends.insert(id, (from, to, pos));
                if let Some(copy) = l["copy"].as_u64() {
                    sends.insert(copy, (from, to, pos));
                }
            }
            Some("deliver") => {
                let s = sends[&id.expect("a delivery has an id")];
                hops.push(simulator::messages::causal::Hop {
                    from: s.0,
                    to: s.1,
                    sent: s.2,
                    received: Some(pos),
                });
            }
            Some("hold") => {
                held.entry(l["to"].as_str().unwrap_or("").into()).or_default().push(id.unwrap_or(0))
            }
            Some("resume") => {
                for id in held.remove(&format!("n{}", l["node"])).unwrap_or_default() {
                    let s = sends[&id];
                    hops.push(simulator::messages::causal::Hop {
                        from: s.0,
                        to: s.1,
                        sent: s.2,
                        received: Some(pos),
                    });
                }
            }
            _ => {}
        }
    }
    let failing = lines.iter().position(|l| l["ev"] == "violation").expect("a violation line") as u64;
    let node = outcome.failure.as_ref().and_then(|f| f.node).expect("a failing node");
    let start: Vec<Option<u64>> =
        (0..d.lanes.len()).map(|i| (d.lanes[i] == format!("n{node}")).then_some(failing)).collect();
    let horizon = simulator::messages::causal::horizons(&start, &hops);
    let (from, to) = d.window;
    // In the window: sent before its end and still on its way, or arrived, after its start.
    let expected: BTreeSet<u64> = d
        .msgs
        .iter()
        .filter(|m| m.5 <= to && m.5.max(u64::try_from(m.9).unwrap_or(0)) >= from)
        .filter(|m| {
            let hop = simulator::messages::causal::Hop {
                from: m.1,
                to: m.2,
                sent: m.7,
                received: (m.8 <= 1).then_some(m.11 as u64),
            };
            match hop.received {
                Some(_) => simulator::messages::causal::received_in_past(&hop, &horizon),
                None => simulator::messages::causal::sent_in_past(&hop, &horizon),
            }
        })
        .map(|m| m.0)
        .collect();
    assert!(!expected.is_empty(), "the failing event has a causal past");

    let dir = scratch("messages");
    let tags = parse_tags(&dump_dom(&write_named(&dir, "messages.html", &page), &dir));
    assert_eq!(by_id(&tags, "diagram").attr("data-rendered"), Some("true"), "the script did not finish");
    assert!(by_id(&tags, "render-error").attrs.contains_key("hidden"));
    let drawn = arrows(&tags);
    assert_eq!(
        drawn.keys().copied().collect::<BTreeSet<u64>>(),
        expected,
        "exactly the causal past of the window"
    );
    assert!(drawn.values().all(|t| t.has_class("causal")));
    assert_eq!(by_id(&tags, "diagram-status").attr("data-arrows"), Some(expected.len().to_string().as_str()));
    assert_eq!(by_id(&tags, "failure-point").attr("data-lane"), Some(format!("n{node}").as_str()));
    // One column per node and per client that sent or received.
    let heads: BTreeSet<String> = with_class(&tags, "lane-head")
        .iter()
        .filter_map(|t| t.attr("data-lane").map(str::to_string))
        .collect();
    assert_eq!(heads, d.lanes.iter().cloned().collect::<BTreeSet<_>>());
    // The latest message that reached the failing node before its failure is drawn.
    let last_in = hops
        .iter()
        .filter(|h| d.lanes[h.to] == format!("n{node}") && h.received < Some(failing))
        .max_by_key(|h| h.received);
    if let Some(h) = last_in {
        let m = d.msgs.iter().find(|m| m.11 == h.received.map_or(-1, |r| r as i64)).expect("embedded");
        assert!(m.9 >= from as i64, "it arrived in the window");
        assert!(drawn.contains_key(&m.0), "message {} into n{node} just before the failure", m.0);
    }
}

/// Drives the messages page's filters and clicks, recording what is drawn after each step.
const MESSAGES_PROBE: &str = r#"<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const results = [];
  const record = (step) => {
    const drawn = [...document.querySelectorAll('#diagram .msg')].map((g) => ({ id: +g.getAttribute('data-id'),
      kind: g.getAttribute('data-kind'), from: g.getAttribute('data-from'), to: g.getAttribute('data-to'),
      term: g.getAttribute('data-term') }));
    results.push({ step: step, drawn: drawn, scope: $('diagram-status').getAttribute('data-scope'),
      details: $('msg-details').hidden ? null : $('msg-details').textContent,
      link: ($('msg-on-timeline') || { getAttribute: () => null }).getAttribute('href'),
      focus: !!$('focus-point') });
  };
  const uncheck = (cls, value) => { const c = [...document.querySelectorAll('.' + cls)].find((x) => x.value === value); c.checked = false; c.dispatchEvent(new Event('change')); };
  const steps = [
    ['loaded', () => {}],
    ['scope-all', () => { $('scope').value = 'all'; $('scope').dispatchEvent(new Event('change')); }],
    ['no-append', () => uncheck('kind-filter', 'append')],
    ['no-n0', () => uncheck('lane-filter', '0')],
    ['term-min', () => { $('term-min').value = '2'; $('term-min').dispatchEvent(new Event('change')); }],
    ['click-arrow', () => { const g = document.querySelector('#diagram .msg'); g.querySelector('.shaft').dispatchEvent(new MouseEvent('click', { bubbles: true })); }],
    ['click-arrival', () => { const a = [...document.querySelectorAll('#diagram .arrival')].pop(); a.dispatchEvent(new MouseEvent('click', { bubbles: true })); }],
    ['back', () => $('back-to-failure').click()],
  ];
  let i = 0;
  const next = () => {
    if (i > 0) record(steps[i - 1][0]);
    if (i === steps.length) { const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(results); document.body.appendChild(out); return; }
    try { steps[i][1](); } catch (e) { results.push({ step: steps[i][0], error: String(e) }); }
    i++;
    setTimeout(next, 50);
  };
  next();
})();
</script></body>"#;

/// The JSON a probe script left in `<pre id="probe">`.
fn probe_output(dom: &str) -> Vec<Value> {
    let start = dom.find("<pre id=\"probe\">").expect("the probe finished") + "<pre id=\"probe\">".len();
    let text = &dom[start..start + dom[start..].find("</pre>").expect("the probe's output ends")];
    serde_json::from_str(
        &text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"),
    )
    .expect("the probe wrote JSON")
}

#[test]
fn the_messages_pages_filters_and_clicks_change_what_is_drawn() {
    let (config, outcome) = failing_run("leader-ignores-higher-term", Verdict::Safety);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let page = simulator::messages::render(&report, &outcome.trace_lines, &history)
        .replace("</body>", MESSAGES_PROBE);
    let dir = scratch("messages-filters");
    let dom = dump_dom(&write_named(&dir, "messages.html", &page), &dir);
    let steps = probe_output(&dom);
    assert!(steps.iter().all(|s| s["error"].is_null()), "a control threw: {steps:?}");
    let step =
        |name: &str| steps.iter().find(|s| s["step"] == name).unwrap_or_else(|| panic!("no step {name}"));
    let drawn = |name: &str| step(name)["drawn"].as_array().cloned().unwrap_or_default();
    let ids = |name: &str| drawn(name).iter().filter_map(|m| m["id"].as_u64()).collect::<BTreeSet<u64>>();
    assert_eq!(step("loaded")["scope"], "causal");
    assert_eq!(step("scope-all")["scope"], "all");
    assert!(ids("scope-all").is_superset(&ids("loaded")), "every message of the window includes the past");
    assert!(ids("scope-all").len() > ids("loaded").len(), "the window holds messages outside the past");
    assert!(drawn("scope-all").iter().any(|m| m["kind"] == "append"), "appends are drawn before filtering");
    assert!(drawn("no-append").iter().all(|m| m["kind"] != "append"), "the kind filter hides appends");
    assert!(!drawn("no-append").is_empty());
    assert!(
        drawn("no-n0").iter().all(|m| m["from"] != "n0" && m["to"] != "n0"),
        "the lane filter hides n0's"
    );
    assert!(
        drawn("term-min")
            .iter()
            .all(|m| m["term"] == "" || m["term"].as_str().and_then(|t| t.parse::<u64>().ok()) >= Some(2)),
        "the term filter hides earlier terms"
    );
    let clicked = step("click-arrow");
    assert!(clicked["details"].as_str().is_some_and(|d| d.starts_with("message ")), "{clicked:?}");
    assert!(
        clicked["link"].as_str().is_some_and(|l| l.starts_with("timeline.html#window=")),
        "linked to the timeline"
    );
    assert!(
        step("click-arrival")["focus"] == true,
        "an arrival clicked becomes the point whose past is shown"
    );
    assert_eq!(step("click-arrival")["scope"], "causal");
    assert_eq!(step("back")["focus"], false, "back to the failing point");
}

#[test]
fn the_latency_plot_has_one_mark_per_operation_and_shades_each_period_without_a_leader() {
    let (config, outcome) = failing_run("no-deduplication", Verdict::Nonlinearizable);
    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let extras = simulator::timeline::Extras { messages_page: true, explain: None };
    let page = simulator::timeline::render_with(&report, &outcome.trace_lines, &history, &extras);
    let dir = scratch("latency");
    let dom = dump_dom(&write_page(&dir, &page), &dir);
    let tags = parse_tags(&dom);
    assert_drawn(&tags, config.cluster.nodes, &calling_clients(&outcome.history, &outcome.trace_lines));
    let latency = by_id(&tags, "latency");
    assert_eq!(latency.attr("data-binned"), Some("false"));
    let marks = with_class(&tags, "lat-mark");
    assert_eq!(marks.len(), outcome.history.len(), "one mark per operation");
    assert_eq!(latency.attr("data-marks"), Some(outcome.history.len().to_string().as_str()));
    for call in &outcome.history {
        let mark = marks
            .iter()
            .find(|t| t.attr("data-op") == Some(call.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("operation {} has no mark", call.id));
        assert!(
            mark.has_class(&format!("lat-{}", call.status.name())),
            "op {} is {}",
            call.id,
            call.status.name()
        );
    }
    let ok = outcome.history.iter().filter(|c| c.status == checker::Status::Ok).count() as u64;
    let bars: u64 =
        with_class(&tags, "tput-bar").iter().filter_map(|t| t.attr("data-count")?.parse::<u64>().ok()).sum();
    assert_eq!(bars, ok, "throughput counts every ok completion once");
    let a = &outcome.summary.availability;
    // The plot's shades (the legend's swatch has the class too, without a tip).
    let shades =
        with_class(&tags, "shade-leaderless").into_iter().filter(|t| t.attr("data-tip").is_some()).count();
    assert_eq!(shades as u64, a.leaderless_periods, "{a:?}");
    assert!(dom.contains("<th>availability</th>"), "the summary table has the availability figures");
    assert!(by_id(&tags, "messages-link").attr("href") == Some("messages.html"));
}

#[test]
fn explain_finds_the_curve_ending_at_one_at_the_failure_and_the_timeline_draws_it() {
    let (config, outcome) = failing_run("leader-ignores-higher-term", Verdict::Safety);
    let options =
        simulator::explain::Options { points: 6, forks: 4, refine: 2, jobs: 2, ..Default::default() };
    let e = simulator::explain::explain(&config, None, &outcome, &options).expect("explained");
    let failure = outcome.failure.as_ref().expect("a failure");
    let last = e.points.last().expect("points");
    assert_eq!(last.event, failure.event, "the last point is the failing event");
    assert!(
        (last.fraction - 1.0).abs() < f64::EPSILON,
        "forked at the failing event, it fails again: {last:?}"
    );
    assert!(e.certain_from.is_some());
    let one_job = simulator::explain::Options { jobs: 1, ..options.clone() };
    let again = simulator::explain::explain(&config, None, &outcome, &one_job).expect("explained");
    assert_eq!(again.points, e.points, "the curve does not depend on --jobs");

    let report = report_of(&config, &outcome);
    let history = checker::kv_history_to_json(&outcome.history);
    let extras = simulator::timeline::Extras {
        messages_page: false,
        explain: Some(serde_json::to_value(&e).expect("serialises")),
    };
    let page = simulator::timeline::render_with(&report, &outcome.trace_lines, &history, &extras);
    let dir = scratch("explain");
    let tags = parse_tags(&dump_dom(&write_page(&dir, &page), &dir));
    let points = with_class(&tags, "explain-point");
    assert_eq!(points.len(), e.points.len(), "one point per fork point");
    let fractions: Vec<f64> = points.iter().filter_map(|t| t.attr("data-fraction")?.parse().ok()).collect();
    assert_eq!(fractions.last().copied(), Some(1.0), "the curve ends at 1");
    let certain = e.certain_from.expect("certain");
    assert_eq!(
        by_id(&tags, "explain-certain").attr("data-time-ns"),
        Some(certain.time_ns.to_string().as_str())
    );
    by_id(&tags, "explain");
}

#[test]
fn the_sweep_page_lists_the_failing_seeds_and_links_to_reports_that_exist() {
    let dir = scratch("sweep");
    let page = dir.join("pages").join("sweep.html");
    let out = Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args([
            "sweep",
            "--seeds",
            "0..30",
            "--bug",
            "leader-ignores-higher-term",
            "--max-reports",
            "3",
            "--json",
        ])
        .arg("--reports")
        .arg(dir.join("reports"))
        .arg("--html")
        .arg(&page)
        .output()
        .expect("run raftsim sweep");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a sweep with failures exits 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    let failed: BTreeSet<u64> =
        summary["failed"].as_array().expect("failed").iter().filter_map(|f| f["seed"].as_u64()).collect();
    assert!(!failed.is_empty(), "the planted bug fails some seed below 30");
    let dom = dump_dom(&format!("file://{}", page.display()), &dir);
    let tags = parse_tags(&dom);
    assert_eq!(
        numbers(&with_class(&tags, "failed-seed"), "data-seed"),
        failed,
        "every failing seed is listed"
    );
    let links = with_class(&tags, "report-link");
    assert_eq!(links.len(), 2 * 3.min(failed.len()), "timeline and messages of each report written");
    for link in links {
        let href = link.attr("href").expect("a link");
        assert!(!href.starts_with('/') && !href.contains("://"), "relative: {href}");
        assert!(page.parent().expect("a folder").join(href).is_file(), "{href} exists");
    }
    let safety = summary["verdicts"]["safety"].as_u64().unwrap_or(0);
    assert!(dom.contains(&format!("data-verdict=\"safety\" data-count=\"{safety}\"")), "the verdict counts");
    by_id(&tags, "speed");
    by_id(&tags, "coverage");
}
