//! Porcupine's six KV histories (testdata/porcupine-kv, MIT) and three of its etcd histories
//! (testdata/porcupine-etcd, MIT) get their labelled verdicts.

use checker::{bench_files, check_history, parse_history, CheckOptions, Format, History, ModelKind, Verdict};
use std::path::PathBuf;
use std::time::Duration;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine-kv").join(name)
}

fn check(name: &str, format: Option<Format>) -> (checker::CheckReport, Format) {
    let text = std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let parsed = parse_history(&text, format, None, name).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(parsed.history, History::Kv(_)));
    (check_history(&parsed.history, None, &CheckOptions::default()), parsed.format)
}

#[test]
fn every_porcupine_history_gets_its_label() {
    for (name, operations, expected) in [
        ("c01-ok.txt", 58, Verdict::Linearizable),
        ("c01-bad.txt", 38, Verdict::NotLinearizable),
        ("c10-ok.txt", 337, Verdict::Linearizable),
        ("c10-bad.txt", 405, Verdict::NotLinearizable),
        ("c50-ok.txt", 1712, Verdict::Linearizable),
        ("c50-bad.txt", 2024, Verdict::NotLinearizable),
    ] {
        let (report, format) = check(name, None);
        assert_eq!(format, Format::PorcupineKv, "{name} is recognised as Porcupine's format");
        assert_eq!(report.verdict, expected, "{name}");
        assert_eq!(report.operations, operations, "{name}");
        assert!(report.parts > 0);
        assert_eq!(report.violation.is_some(), expected == Verdict::NotLinearizable, "{name}");
    }
}

#[test]
fn porcupines_etcd_histories_get_their_labels_read_as_jepsen_logs() {
    for (name, operations, expected) in [
        ("etcd_000.log", 85, Verdict::NotLinearizable),
        ("etcd_002.log", 77, Verdict::Linearizable),
        ("etcd_007.log", 81, Verdict::Linearizable),
    ] {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine-etcd").join(name);
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let parsed = parse_history(&text, None, None, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.format, Format::JepsenLog, "{name}");
        let report = check_history(&parsed.history, None, &CheckOptions::default());
        assert_eq!((report.verdict, report.operations), (expected, operations), "{name}");
    }
}

#[test]
fn reading_them_as_generic_edn_gives_the_same_verdicts() {
    for (name, expected) in [("c10-ok.txt", Verdict::Linearizable), ("c10-bad.txt", Verdict::NotLinearizable)]
    {
        let (report, format) = check(name, Some(Format::Edn));
        assert_eq!(format, Format::Edn);
        assert_eq!(report.verdict, expected, "{name}");
    }
}

#[test]
fn the_c01_violation_is_the_stale_read_of_key_7() {
    let (report, _) = check("c01-bad.txt", None);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert_eq!(v.part, "7");
    // Event positions: append x 0 0 y at 36, append x 0 3 y at 54, then a get at 58 that reads
    // only the first.
    assert_eq!(v.longest_prefix, vec![2, 36, 54]);
    assert_eq!(v.operations, vec![58]);
    assert!(
        v.explanation.contains("get(\"7\") -> \"x 0 0 y\" by client 0 (op 58) cannot be linearized"),
        "{}",
        v.explanation
    );
    assert!(v.explanation.contains("the value can only be \"x 0 0 yx 0 3 y\""), "{}", v.explanation);
}

#[test]
fn the_c10_violation_names_the_read_whose_writers_are_all_used() {
    let (report, _) = check("c10-bad.txt", None);
    let v = report.violation.unwrap_or_else(|| panic!("a violation"));
    assert_eq!(v.part, "0");
    assert_eq!(v.operations, vec![157]);
    assert!(
        v.explanation.starts_with(
            "get(\"0\") -> \"x 9 0 yx 0 0 yx 8 0 y\" by client 8 (op 157) cannot be linearized: after the \
             longest linearizable prefix (5 of 36 operations) the value is \"x 9 0 yx 0 0 yx 8 0 yx 7 1 y\", which is \
             neither what it read nor the start of it, and no operation left sets what it read"
        ),
        "{}",
        v.explanation
    );
}

#[test]
fn verdicts_do_not_depend_on_the_model_being_named() {
    let text = std::fs::read_to_string(path("c01-ok.txt")).unwrap_or_default();
    let parsed =
        parse_history(&text, None, Some(ModelKind::Kv), "c01-ok.txt").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check_history(&parsed.history, None, &CheckOptions::default()).verdict, Verdict::Linearizable);
}

#[test]
fn bench_files_reports_a_row_per_file() {
    let rows = bench_files(&[path("c01-ok.txt"), path("c01-bad.txt")], Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].verdict, Verdict::Linearizable);
    assert_eq!(rows[1].verdict, Verdict::NotLinearizable);
    assert!(rows.iter().all(|r| r.iterations >= 11 && r.check_ms_min <= r.check_ms_median));
    assert!(bench_files(&[path("no-such-file.txt")], Duration::ZERO).is_err());
}
