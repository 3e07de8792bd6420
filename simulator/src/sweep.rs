//! Sweeps: many seeds of one configuration, on all cores, split across machines by shards, with
//! a summary that says what failed, how fast it ran and what the seeds covered.
//!
//! Each seed's run is single-threaded and deterministic; only the order in which results
//! arrive depends on threads, and the summary sorts them, so the same seeds give the same
//! summary (figures of wall time aside) whatever `--jobs` and `--shard` are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::SimConfig;
use crate::run::{Outcome, Verdict};

/// The seeds of a sweep: a half-open range, optionally one shard of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSet {
    pub start: u64,
    pub end: u64,
    /// Shard `k` of `n` (1-based), or the whole range.
    pub shard: Option<(u64, u64)>,
}

impl SeedSet {
    /// Seeds are dealt to shards in turn (seed `start + i` goes to shard `i mod n + 1`), so
    /// shards get the same mix of slow and fast seeds, with no overlap and no gap.
    #[must_use]
    pub fn seeds(&self) -> Vec<u64> {
        (self.start..self.end)
            .filter(|s| self.shard.is_none_or(|(k, n)| (s - self.start) % n == k - 1))
            .collect()
    }
}

/// Parses `A..B` (half-open, as in Rust).
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) =
        text.split_once("..").ok_or_else(|| format!("expected a range such as 0..300, found {text:?}"))?;
    let a: u64 = a.trim().parse().map_err(|_| format!("expected a seed before '..', found {a:?}"))?;
    let b: u64 = b.trim().parse().map_err(|_| format!("expected a seed after '..', found {b:?}"))?;
    if b <= a {
        return Err(format!("the range {text} is empty: the end must exceed the start"));
    }
    Ok((a, b))
}

/// Parses `K/N` with `1 <= K <= N`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) =
        text.split_once('/').ok_or_else(|| format!("expected a shard such as 2/8, found {text:?}"))?;
    let k: u64 = k.trim().parse().map_err(|_| format!("expected a shard number, found {k:?}"))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("expected a shard count, found {n:?}"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {text}: expected 1 <= K <= N"));
    }
    Ok((k, n))
}

/// What one seed produced, reduced to what a summary needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub verdict: Verdict,
    pub reason: String,
    pub check: Option<String>,
    pub trace_hash: String,
    pub events: u64,
    pub sim_time_ns: u64,
    /// Coverage: for each kind, whether the configuration enabled it and whether it fired.
    pub coverage: BTreeMap<String, (bool, bool)>,
}

impl SeedResult {
    #[must_use]
    pub fn from_outcome(seed: u64, config: &SimConfig, outcome: &Outcome) -> SeedResult {
        let s = &outcome.summary;
        let f = &config.faults;
        let net = &config.network;
        let mut coverage = BTreeMap::new();
        // A fault a scenario's schedule fired counts as enabled, though no random fault was.
        let mut note = |kind: &str, enabled: bool, fired: bool| {
            coverage.insert(kind.to_string(), (enabled || fired, fired));
        };
        let crashes = f.crash.is_some();
        note("fault: crash", crashes, s.faults.crashes > 0);
        note("fault: crash of a fresh leader", f.crash.as_ref().is_some_and(|c| c.new_leader_ppm > 0), false);
        note("fault: torn write", crashes && config.disk.torn_write_ppm > 0, s.faults.torn_writes > 0);
        note("fault: pause", f.pause.is_some(), s.faults.pauses > 0);
        note("fault: message loss", net.drop_ppm > 0, s.messages.dropped_loss > 0);
        note("fault: duplication", net.duplicate_ppm > 0, s.messages.duplicated > 0);
        note("fault: long delay", net.long_delay_ppm > 0, s.messages.delayed_long > 0);
        note("fault: clock drift", config.cluster.drift_ppm_max > 0, config.cluster.drift_ppm_max > 0);
        for shape in crate::config::Shape::ALL {
            let enabled = f.partition.as_ref().is_some_and(|p| p.shapes.contains(&shape));
            note(
                &format!("partition: {}", shape.name()),
                enabled,
                s.faults.partitions.get(shape.name()).is_some_and(|n| *n > 0),
            );
        }
        let isolate_new = f.partition.as_ref().is_some_and(|p| p.new_leader_ppm > 0);
        note(
            "partition: isolate-new-leader",
            isolate_new,
            s.faults.partitions.get("isolate-new-leader").is_some_and(|n| *n > 0),
        );
        note("raft: split vote", true, s.split_votes > 0);
        note("raft: leader stepped down", true, s.leader_step_downs > 0);
        note("raft: log truncated on conflict", true, s.conflict_truncations > 0);
        note(
            "raft: torn tail recovered",
            crashes && config.disk.torn_write_ppm > 0,
            s.faults.torn_tails_recovered > 0,
        );
        note("raft: retried command deduplicated", true, s.ops.deduplicated > 0);
        let snapshots = config.snapshot.enabled();
        let n = &s.snapshots;
        note("raft: snapshot taken", snapshots, n.taken > 0);
        note("raft: snapshot installed", snapshots, n.installed > 0);
        note("raft: stale snapshot refused", snapshots, n.refused_stale > 0);
        note("raft: restart from a snapshot", snapshots && crashes, n.restarts_from_snapshot > 0);
        note("fault: snapshot chunk lost", snapshots && net.drop_ppm > 0, n.chunks_lost > 0);
        note("fault: snapshot chunk duplicated", snapshots && net.duplicate_ppm > 0, n.chunks_duplicated > 0);
        let crash_on_write = f.crash.as_ref().is_some_and(|c| c.snapshot_write_ppm > 0);
        note(
            "fault: crash while writing a snapshot",
            snapshots && crash_on_write,
            s.faults.snapshot_write_crashes > 0,
        );
        note(
            "fault: torn snapshot file",
            snapshots && crash_on_write && config.disk.torn_write_ppm > 0,
            s.faults.torn_snapshot_files > 0,
        );
        note("raft: liveness needed more than one election", true, s.liveness_elections > 1);
        // The fresh-leader crash has no counter of its own; a crash in such a seed counts.
        if let Some(entry) = coverage.get_mut("fault: crash of a fresh leader") {
            entry.1 = entry.0 && s.faults.crashes > 0;
        }
        SeedResult {
            seed,
            verdict: outcome.verdict,
            reason: outcome.reason.clone(),
            check: outcome.failure.as_ref().map(|f| f.check.clone()),
            trace_hash: s.trace_hash.clone(),
            events: s.events,
            sim_time_ns: s.sim_time_ns,
            coverage,
        }
    }
}

/// A failing seed in a summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub seed: u64,
    pub verdict: Verdict,
    pub check: Option<String>,
    pub reason: String,
    pub replay: String,
    pub report: Option<String>,
}

/// How many seeds enabled and fired one kind of fault or event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub enabled_seeds: u64,
    pub fired_seeds: u64,
}

/// The summary of a sweep (or of several merged shards).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SweepSummary {
    /// The seed sets run, one per shard.
    pub seed_sets: Vec<SeedSet>,
    pub scenario: Option<String>,
    pub bugs: Vec<String>,
    /// Seeds run (fewer than asked when a time budget or fail-fast stopped the sweep).
    pub seeds: u64,
    pub passed: u64,
    pub failed: Vec<Failed>,
    pub verdicts: BTreeMap<String, u64>,
    pub events: u64,
    pub sim_time_ns: u64,
    /// Wall time of the sweep; for merged shards, of the slowest shard.
    pub wall_ms: f64,
    /// Wall time summed over shards (equals `wall_ms` for one shard).
    pub wall_ms_total: f64,
    pub jobs: usize,
    pub stopped_early: Option<String>,
    pub coverage: BTreeMap<String, Coverage>,
    pub warnings: Vec<String>,
}

impl SweepSummary {
    /// Builds a summary from per-seed results (any order) and the failing seeds' details.
    #[must_use]
    pub fn from_results(results: &[SeedResult], failed: Vec<Failed>) -> SweepSummary {
        let mut s = SweepSummary { seeds: results.len() as u64, ..SweepSummary::default() };
        for r in results {
            *s.verdicts.entry(r.verdict.name().to_string()).or_default() += 1;
            if r.verdict == Verdict::Pass {
                s.passed += 1;
            }
            s.events += r.events;
            s.sim_time_ns += r.sim_time_ns;
            for (kind, (enabled, fired)) in &r.coverage {
                let c = s.coverage.entry(kind.clone()).or_default();
                c.enabled_seeds += u64::from(*enabled);
                c.fired_seeds += u64::from(*fired);
            }
        }
        s.failed = failed;
        s.failed.sort_by_key(|f| f.seed);
        s.refresh_warnings();
        s
    }

    /// Joins shards' summaries into one.
    pub fn merge(parts: Vec<SweepSummary>) -> Result<SweepSummary, String> {
        let mut all = SweepSummary::default();
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 && (p.scenario != all.scenario || p.bugs != all.bugs) {
                return Err(format!(
                    "summary {} ran {:?} with bugs {:?}, unlike the first ({:?} with {:?}): not shards of one sweep",
                    i + 1,
                    p.scenario,
                    p.bugs,
                    all.scenario,
                    all.bugs
                ));
            }
            if i == 0 {
                all.scenario.clone_from(&p.scenario);
                all.bugs.clone_from(&p.bugs);
            }
            for set in &p.seed_sets {
                if all.seed_sets.contains(set) {
                    return Err(format!("the seed set {set:?} appears twice"));
                }
            }
            all.seed_sets.extend(p.seed_sets);
            all.seeds += p.seeds;
            all.passed += p.passed;
            all.failed.extend(p.failed);
            for (k, v) in p.verdicts {
                *all.verdicts.entry(k).or_default() += v;
            }
            all.events += p.events;
            all.sim_time_ns += p.sim_time_ns;
            all.wall_ms = all.wall_ms.max(p.wall_ms);
            all.wall_ms_total += p.wall_ms_total;
            all.jobs = all.jobs.max(p.jobs);
            if let Some(why) = p.stopped_early {
                all.stopped_early = Some(why);
            }
            for (k, c) in p.coverage {
                let e = all.coverage.entry(k).or_default();
                e.enabled_seeds += c.enabled_seeds;
                e.fired_seeds += c.fired_seeds;
            }
        }
        all.failed.sort_by_key(|f| f.seed);
        all.refresh_warnings();
        Ok(all)
    }

    /// A fault kind that some seed's configuration enabled but no seed fired is suspicious: the
    /// fault model may have a hole.
    fn refresh_warnings(&mut self) {
        self.warnings = self
            .coverage
            .iter()
            .filter(|(k, _)| k.starts_with("fault") || k.starts_with("partition"))
            .filter(|(_, c)| c.enabled_seeds > 0 && c.fired_seeds == 0)
            .map(|(k, c)| format!("{k}: enabled in {} seeds but fired in none", c.enabled_seeds))
            .collect();
    }

    /// The sweep's figures on one line.
    #[must_use]
    pub fn figures(&self) -> String {
        let wall_s = (self.wall_ms / 1e3).max(1e-9);
        let cpu_s = (self.wall_ms_total / 1e3).max(1e-9);
        format!(
            "{} seeds in {:.1} s: {:.0} seeds/s, {:.2} M events/s, {:.0} simulated seconds per wall second ({} jobs)",
            self.seeds,
            wall_s,
            self.seeds as f64 / wall_s,
            self.events as f64 / wall_s / 1e6,
            self.sim_time_ns as f64 / 1e9 / wall_s,
            self.jobs
        ) + &if self.seed_sets.len() > 1 { format!("; {:.1} s summed over {} shards", cpu_s, self.seed_sets.len()) } else { String::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_range_with_no_overlap_and_no_gap() {
        let whole = SeedSet { start: 10, end: 110, shard: None }.seeds();
        let mut joined: Vec<u64> =
            (1..=7).flat_map(|k| SeedSet { start: 10, end: 110, shard: Some((k, 7)) }.seeds()).collect();
        joined.sort_unstable();
        assert_eq!(joined, whole);
        assert_eq!(whole.len(), 100);
    }

    #[test]
    fn ranges_and_shards_parse_or_say_what_was_expected() {
        assert_eq!(parse_range("0..300"), Ok((0, 300)));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("0-300").is_err());
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("0/8").is_err());
        assert!(parse_shard("9/8").is_err());
    }

    fn result(seed: u64, verdict: Verdict, crash: (bool, bool)) -> SeedResult {
        let mut coverage = BTreeMap::new();
        coverage.insert("fault: crash".to_string(), crash);
        SeedResult {
            seed,
            verdict,
            reason: String::new(),
            check: None,
            trace_hash: String::new(),
            events: 10,
            sim_time_ns: 1_000,
            coverage,
        }
    }

    #[test]
    fn a_fault_enabled_but_never_fired_is_a_warning() {
        let s = SweepSummary::from_results(
            &[result(1, Verdict::Pass, (true, false)), result(2, Verdict::Pass, (false, false))],
            vec![],
        );
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        let s = SweepSummary::from_results(&[result(1, Verdict::Pass, (true, true))], vec![]);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn merged_shards_add_up_and_keep_failures_in_seed_order() {
        let failed = |seed| Failed {
            seed,
            verdict: Verdict::Safety,
            check: None,
            reason: String::new(),
            replay: String::new(),
            report: None,
        };
        let mut a = SweepSummary::from_results(
            &[result(1, Verdict::Pass, (true, true)), result(3, Verdict::Safety, (true, true))],
            vec![failed(3)],
        );
        a.seed_sets = vec![SeedSet { start: 0, end: 4, shard: Some((1, 2)) }];
        a.wall_ms = 5.0;
        let mut b = SweepSummary::from_results(&[result(0, Verdict::Safety, (true, false))], vec![failed(0)]);
        b.seed_sets = vec![SeedSet { start: 0, end: 4, shard: Some((2, 2)) }];
        b.wall_ms = 7.0;
        let m = SweepSummary::merge(vec![a.clone(), b]).expect("shards of one sweep");
        assert_eq!(m.seeds, 3);
        assert_eq!(m.passed, 1);
        assert_eq!(m.failed.iter().map(|f| f.seed).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(m.verdicts.get("safety"), Some(&2));
        assert_eq!(m.coverage["fault: crash"], Coverage { enabled_seeds: 3, fired_seeds: 2 });
        assert!((m.wall_ms - 7.0).abs() < 1e-9);
        assert!(SweepSummary::merge(vec![a.clone(), a]).is_err(), "the same shard twice is refused");
    }
}
