//! The page of a sweep (`raftsim sweep ... --html FILE`, `raftsim sweep merge ... --html FILE`):
//! one self-contained HTML file, static (no script), with the verdict counts, the failing seeds
//! grouped by check and reason with links to their reports, what the seeds covered, and how
//! fast they ran.
//!
//! Reasons are grouped by their shape: the verdict, the check, and the reason with every run
//! of digits replaced by `#`, so that "n0 and n2 are both leader of term t2" and "n3 and n1 are
//! both leader of term t7" are one group. Report links are relative to the page's folder, so
//! a CI artifact holding the page and the reports keeps working where it is unpacked; a report
//! that is not where the summary says (a shard's report on another machine) is named, not
//! linked.
//!
//! DOM hooks (stable, used by the browser test): `#verdicts tr[data-verdict][data-count]`,
//! `#failures .group[data-check][data-count]`, `.failed-seed[data-seed]`, `a.report-link`,
//! `.report-missing`, `#coverage tr[data-kind]`, `#speed`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::sweep::{Failed, SweepSummary};
use crate::timeline::escape;

const CSS: &str = r"
body { margin: 0; padding: 14px 18px 40px; color: #1f2328; font: 13px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 18px 0 6px; } h3 { font-size: 13px; margin: 10px 0 4px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f8fa; padding: 0 4px; border-radius: 4px; }
.facts { color: #6e7781; margin: 2px 0; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; } th { color: #6e7781; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 10px; background: #4a8fe0; vertical-align: -1px; border-radius: 2px; }
.bar.fail { background: #d1242f; } .bar.pass { background: #1a7f37; } .bar.none { background: #d0d7de; }
.stack { display: flex; height: 16px; width: 100%; max-width: 720px; border-radius: 4px; overflow: hidden; margin: 6px 0; }
.stack span { display: block; height: 100%; }
.v-pass { background: #1a7f37; } .v-safety, .v-nonlinearizable { background: #d1242f; } .v-liveness { background: #bc4c00; }
.v-expectation { background: #8250df; } .v-inconclusive { background: #6e7781; } .v-checker-disagreement { background: #000; }
.group { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; margin: 8px 0; background: #f6f8fa; max-width: 1100px; }
.group h3 { margin-top: 2px; }
.group ul { margin: 4px 0; padding-left: 20px; }
.failed-seed { margin: 3px 0; }
.replay { color: #57606a; font-size: 12px; }
.report-missing { color: #9a6700; }
.warnings { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px 6px 28px; border-radius: 6px; }
#coverage td.zero { color: #d1242f; }
";

/// The most seeds listed in one group before the rest are counted.
const SEEDS_PER_GROUP_SHOWN: usize = 200;

/// A reason reduced to its shape: every run of digits becomes `#`.
#[must_use]
pub fn reason_shape(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut in_digits = false;
    for c in reason.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// `to` relative to the folder `from`, both made absolute against the working directory.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from), abs(to));
    let a: Vec<Component<'_>> = from.components().collect();
    let b: Vec<Component<'_>> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..a.len() {
        p.push("..");
    }
    for c in &b[common..] {
        p.push(c.as_os_str());
    }
    p
}

/// A path as a URL path: `/` between parts, anything but unreserved characters escaped.
fn url_path(p: &Path) -> String {
    let mut out = String::new();
    for (i, part) in p.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.as_os_str().to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Renders the page of a sweep summary that will be written into the folder `page_dir`.
#[must_use]
pub fn render(s: &SweepSummary, page_dir: &Path) -> String {
    let mut out = String::new();
    let failing = s.seeds.saturating_sub(s.passed);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>raftsim sweep: {} {}, {failing} failed</title><style>{CSS}</style></head><body>",
        s.seeds,
        s.unit()
    );
    let _ = write!(out, "<h1>Sweep: {} {}, {} passed, {failing} failed</h1>", s.seeds, s.unit(), s.passed);
    let sets: Vec<String> = s.seed_sets.iter().map(crate::sweep::SeedSet::describe).collect();
    let mut facts = vec![sets.join(", ")];
    if let Some(sc) = &s.scenario {
        facts.push(format!("scenario {sc}"));
    }
    if !s.options.is_empty() {
        facts.push(format!("options {}", s.options));
    }
    if !s.bugs.is_empty() {
        facts.push(format!("planted bugs: {}", s.bugs.join(", ")));
    }
    let _ = write!(out, "<p class=\"facts\">{}</p>", escape(&facts.join(" · ")));
    if let Some(why) = &s.stopped_early {
        let _ = write!(out, "<p class=\"warnings\">Stopped early: {}</p>", escape(why));
    }
    verdicts_html(s, &mut out);
    failures_html(s, page_dir, &mut out);
    coverage_html(s, &mut out);
    speed_html(s, &mut out);
    out.push_str("</body></html>\n");
    out
}

fn verdicts_html(s: &SweepSummary, out: &mut String) {
    out.push_str("<h2>Verdicts</h2><div class=\"stack\">");
    let total = s.seeds.max(1) as f64;
    for (v, n) in &s.verdicts {
        let _ = write!(
            out,
            "<span class=\"v-{}\" style=\"width:{:.3}%\" title=\"{} {}\"></span>",
            escape(v),
            *n as f64 * 100.0 / total,
            escape(v),
            n
        );
    }
    out.push_str("</div><table id=\"verdicts\">");
    for (v, n) in &s.verdicts {
        let _ = write!(
            out,
            "<tr data-verdict=\"{0}\" data-count=\"{n}\"><th>{0}</th><td class=\"num\">{n}</td><td class=\"num\">{1:.1}%</td></tr>",
            escape(v),
            *n as f64 * 100.0 / total
        );
    }
    out.push_str("</table>");
}

fn failures_html(s: &SweepSummary, page_dir: &Path, out: &mut String) {
    if s.failed.is_empty() && s.failed_not_listed == 0 {
        out.push_str("<h2>Failing seeds</h2><p id=\"failures\">None.</p>");
        return;
    }
    // Groups by verdict, check and the shape of the reason, largest first.
    let mut groups: BTreeMap<(String, String, String), Vec<&Failed>> = BTreeMap::new();
    for f in &s.failed {
        let key =
            (f.verdict.name().to_string(), f.check.clone().unwrap_or_default(), reason_shape(&f.reason));
        groups.entry(key).or_default().push(f);
    }
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let _ = write!(
        out,
        "<h2>Failing seeds: {} in {} group(s) by check and reason</h2><div id=\"failures\">",
        s.failed.len() as u64 + s.failed_not_listed,
        ordered.len()
    );
    for ((verdict, check, shape), list) in &ordered {
        let _ = write!(
            out,
            "<section class=\"group\" data-verdict=\"{}\" data-check=\"{}\" data-count=\"{}\"><h3>{} · <code>{}</code> · {} seed(s)</h3>\
             <p class=\"shape\">{}</p><ul>",
            escape(verdict),
            escape(check),
            list.len(),
            escape(verdict),
            escape(if check.is_empty() { "-" } else { check }),
            list.len(),
            escape(shape)
        );
        for f in list.iter().take(SEEDS_PER_GROUP_SHOWN) {
            let _ = write!(
                out,
                "<li class=\"failed-seed\" data-seed=\"{}\"><b>seed {}</b>: {}<br><span class=\"replay\">replay: <code>{}</code></span>",
                f.seed,
                f.seed,
                escape(&f.reason),
                escape(&f.replay)
            );
            match &f.report {
                Some(dir) => {
                    let abs_dir = Path::new(dir);
                    if abs_dir.join("timeline.html").is_file() {
                        let rel = url_path(&relative(page_dir, abs_dir));
                        let _ = write!(
                            out,
                            " · <a class=\"report-link\" href=\"{rel}/timeline.html\">timeline</a>"
                        );
                        if abs_dir.join("messages.html").is_file() {
                            let _ = write!(
                                out,
                                " · <a class=\"report-link\" href=\"{rel}/messages.html\">messages</a>"
                            );
                        }
                    } else {
                        let _ = write!(
                            out,
                            " · <span class=\"report-missing\">report {} (not found from here)</span>",
                            escape(dir)
                        );
                    }
                }
                None => out.push_str(
                    " · <span class=\"report-missing\">no report written (see --max-reports)</span>",
                ),
            }
            out.push_str("</li>");
        }
        if list.len() > SEEDS_PER_GROUP_SHOWN {
            let _ = write!(out, "<li>… and {} more</li>", list.len() - SEEDS_PER_GROUP_SHOWN);
        }
        out.push_str("</ul></section>");
    }
    if s.failed_not_listed > 0 {
        let _ = write!(out, "<p>{} more failing seeds are counted but not listed.</p>", s.failed_not_listed);
    }
    out.push_str("</div>");
}

fn coverage_html(s: &SweepSummary, out: &mut String) {
    out.push_str(
        "<h2>Coverage</h2><p class=\"facts\">For each fault and notable protocol event: in how many seeds it \
         happened, of the seeds whose configuration enabled it.</p><table id=\"coverage\">\
         <tr><th>what</th><th>happened in</th><th>enabled in</th><th></th></tr>",
    );
    for (kind, c) in &s.coverage {
        let share = if c.enabled_seeds == 0 { 0.0 } else { c.fired_seeds as f64 / c.enabled_seeds as f64 };
        let zero =
            if c.enabled_seeds > 0 && c.fired_seeds == 0 { " class=\"num zero\"" } else { " class=\"num\"" };
        let _ = write!(
            out,
            "<tr data-kind=\"{0}\" data-fired=\"{1}\" data-enabled=\"{2}\"><td>{0}</td><td{zero}>{1}</td><td class=\"num\">{2}</td>\
             <td><span class=\"bar\" style=\"width:{3:.0}px\"></span><span class=\"bar none\" style=\"width:{4:.0}px\"></span></td></tr>",
            escape(kind),
            c.fired_seeds,
            c.enabled_seeds,
            share * 200.0,
            (1.0 - share) * 200.0 * f64::from(u8::from(c.enabled_seeds > 0))
        );
    }
    out.push_str("</table>");
    if !s.warnings.is_empty() {
        out.push_str("<ul class=\"warnings\">");
        for w in &s.warnings {
            let _ = write!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>");
    }
}

fn speed_html(s: &SweepSummary, out: &mut String) {
    let wall_s = (s.wall_ms / 1e3).max(1e-9);
    let _ = write!(
        out,
        "<h2>Speed</h2><p id=\"speed\">{}</p><table><tr><th>seeds</th><td class=\"num\">{}</td></tr>\
         <tr><th>wall time</th><td class=\"num\">{:.1} s</td></tr><tr><th>seeds / s</th><td class=\"num\">{:.0}</td></tr>\
         <tr><th>events</th><td class=\"num\">{}</td></tr><tr><th>million events / s</th><td class=\"num\">{:.2}</td></tr>\
         <tr><th>simulated seconds / wall second</th><td class=\"num\">{:.0}</td></tr><tr><th>jobs</th><td class=\"num\">{}</td></tr></table>",
        escape(&s.figures()),
        s.seeds,
        wall_s,
        s.seeds as f64 / wall_s,
        s.events,
        s.events as f64 / wall_s / 1e6,
        s.sim_time_ns as f64 / 1e9 / wall_s,
        s.jobs
    );
}

/// Writes the page to `path`, creating its folder; the error names the file.
pub fn write(s: &SweepSummary, path: &Path) -> Result<(), String> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(path, render(s, dir)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Verdict;
    use crate::sweep::{Coverage, SeedSet};

    #[test]
    fn reasons_group_by_their_shape_with_the_numbers_stripped() {
        assert_eq!(
            reason_shape("n0 and n2 are both leader of term t2"),
            "n# and n# are both leader of term t#"
        );
        assert_eq!(
            reason_shape("n3 and n1 are both leader of term t17"),
            reason_shape("n0 and n2 are both leader of term t2")
        );
        assert_eq!(reason_shape(""), "");
    }

    #[test]
    fn links_are_relative_to_the_page_and_escaped() {
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/c/d")), PathBuf::from("../c/d"));
        assert_eq!(relative(Path::new("/a"), Path::new("/a/r s")), PathBuf::from("r s"));
        assert_eq!(url_path(Path::new("../r s/x<y")), "../r%20s/x%3Cy");
    }

    #[test]
    fn the_page_groups_failures_names_missing_reports_and_fetches_nothing() {
        let failed = |seed: u64, reason: &str| Failed {
            seed,
            branch: String::new(),
            verdict: Verdict::Safety,
            check: Some("election-safety".into()),
            reason: reason.into(),
            replay: format!("cargo run --release -- --seed {seed}"),
            report: Some(format!("/nonexistent/random-seed-{seed}")),
        };
        let s = SweepSummary {
            seed_sets: vec![SeedSet { start: 0, end: 10, shard: None }],
            seeds: 10,
            passed: 7,
            failed: vec![
                failed(1, "n0 and n2 are both leader of term t2"),
                failed(4, "n3 and n1 are both leader of term t9"),
                Failed { check: Some("log-matching".into()), ..failed(6, "<script>") },
            ],
            verdicts: BTreeMap::from([("pass".to_string(), 7), ("safety".to_string(), 3)]),
            coverage: BTreeMap::from([(
                "fault: crash".to_string(),
                Coverage { enabled_seeds: 5, fired_seeds: 0 },
            )]),
            ..SweepSummary::default()
        };
        let page = render(&s, Path::new("/tmp"));
        assert_eq!(page.matches("class=\"group\"").count(), 2, "two shapes of reason");
        assert!(page.contains("data-check=\"election-safety\" data-count=\"2\""));
        assert_eq!(page.matches("class=\"failed-seed\"").count(), 3);
        assert!(page.contains("not found from here"), "a report that is not there is named, not linked");
        assert!(!page.contains("<script"), "escaped, and no script of its own");
        for needle in ["src=\"http", "href=\"http", "<link", "@import"] {
            assert!(!page.contains(needle), "fetches nothing: {needle}");
        }
        assert!(page.contains("data-kind=\"fault: crash\" data-fired=\"0\" data-enabled=\"5\""));
    }
}
