//! `raftsim explain` from the command line: on a report folder, on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn raftsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_raftsim"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

#[test]
fn explain_prints_a_curve_that_ends_at_one_and_writes_it_into_the_report_folder() {
    let dir = scratch("curve");
    let run = raftsim()
        .args(["--seed", "5", "--bug", "leader-ignores-higher-term", "--reports"])
        .arg(&dir)
        .output()
        .expect("run raftsim");
    assert_eq!(run.status.code(), Some(1), "seed 5 fails with this bug");
    let report = dir.join("random-seed-5");
    let out = raftsim()
        .args(["explain", "--points", "6", "--forks", "4", "--json"])
        .arg(&report)
        .output()
        .expect("run raftsim explain");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let curve: Value = serde_json::from_slice(&out.stdout).expect("a JSON curve");
    let points = curve["points"].as_array().expect("points");
    assert!(points.len() >= 6, "{curve}");
    let last = points.last().expect("a point");
    assert_eq!(last["event"], curve["failure"]["event"], "the last point is the failing event");
    assert_eq!(last["fraction"], 1.0);
    assert_eq!(curve["check"], "election-safety");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("explain.json")).expect("explain.json"))
            .expect("JSON");
    assert_eq!(written["points"], curve["points"]);
    let page = std::fs::read_to_string(report.join("timeline.html")).expect("the timeline");
    assert!(page.contains("When the run was lost"), "the timeline was redrawn with the curve");
    // A continuation replays as a branch of the seed.
    let branch = curve["replay_example"].as_str().expect("an example branch");
    let replay = raftsim()
        .args([
            "--seed",
            "5",
            "--bug",
            "leader-ignores-higher-term",
            "--no-report",
            "--json",
            "--branch",
            branch,
        ])
        .output()
        .expect("replay a continuation");
    let summary: Value = serde_json::from_slice(&replay.stdout).expect("a summary");
    assert_eq!(summary["branch"], branch);
    assert_eq!(summary["verdict"], "safety", "forked at the failing event, it fails again");
}

#[test]
fn explain_refuses_a_damaged_report_folder_naming_the_file() {
    let dir = scratch("damaged");
    let out = raftsim().arg("explain").arg(dir.join("missing")).output().expect("run raftsim explain");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("report.json"), "{err}");
    std::fs::write(dir.join("report.json"), "{\"config\": 3").expect("write");
    let out = raftsim().arg("explain").arg(&dir).output().expect("run raftsim explain");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("report.json"));
    let out = raftsim().args(["explain", "--points", "1"]).arg(&dir).output().expect("run raftsim explain");
    assert_eq!(out.status.code(), Some(2), "one point is not a curve");
}
