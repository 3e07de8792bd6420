//! Sweeps: many seeds of one configuration, on all cores, split across machines by shards, with
//! a summary that says what failed, how fast it ran and what the seeds covered.
//!
//! Each seed's run is single-threaded and deterministic; only the order in which results
//! arrive depends on threads, and the summary sorts them, so the same seeds give the same
//! summary (figures of wall time aside) whatever `--jobs` and `--shard` are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Implementation, SimConfig};
use crate::run::{Outcome, Verdict};

/// The seeds of a sweep: a half-open range, optionally one shard of it. Never built as a list.
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
    fn stride(&self) -> (u64, u64) {
        self.shard.map_or((0, 1), |(k, n)| (k - 1, n))
    }

    /// How many seeds the set holds.
    #[must_use]
    pub fn len(&self) -> u64 {
        let (offset, n) = self.stride();
        let width = self.end.saturating_sub(self.start);
        if width <= offset {
            0
        } else {
            (width - offset).div_ceil(n)
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed of the set (`i < len()`).
    #[must_use]
    pub fn nth(&self, i: u64) -> u64 {
        let (offset, n) = self.stride();
        self.start + offset + i * n
    }

    /// Whether `seed` is in the set.
    #[must_use]
    pub fn contains(&self, seed: u64) -> bool {
        let (offset, n) = self.stride();
        (self.start..self.end).contains(&seed) && (seed - self.start) % n == offset
    }

    /// Whether two sets share a seed: both are arithmetic progressions, so this is the Chinese
    /// remainder theorem on the overlap of their ranges.
    #[must_use]
    pub fn overlaps(&self, other: &SeedSet) -> bool {
        let lo = self.start.max(other.start);
        let hi = self.end.min(other.end);
        if lo >= hi || self.is_empty() || other.is_empty() {
            return false;
        }
        let (oa, na) = self.stride();
        let (ob, nb) = other.stride();
        let ra = (i128::from(self.start) + i128::from(oa)).rem_euclid(i128::from(na));
        let rb = (i128::from(other.start) + i128::from(ob)).rem_euclid(i128::from(nb));
        let (na, nb) = (i128::from(na), i128::from(nb));
        let (g, p, _) = extended_gcd(na, nb);
        if (rb - ra) % g != 0 {
            return false;
        }
        let lcm = na / g * nb;
        // x = ra + na * t with na * t = rb - ra (mod nb): t = p * (rb - ra) / g (mod nb / g).
        let t = (p * ((rb - ra) / g)).rem_euclid(nb / g);
        let x0 = (ra + na * t).rem_euclid(lcm);
        let first = i128::from(lo) + (x0 - i128::from(lo)).rem_euclid(lcm);
        first < i128::from(hi)
    }

    /// Whether the set is one a sweep can run: a non-empty range of at most
    /// [`crate::limits::SWEEP_SEEDS_MAX`] seeds, and a shard `K/N` with `1 <= K <= N <= 65536`.
    pub fn check(&self) -> Result<(), String> {
        if let Some((k, n)) = self.shard {
            if k == 0 || k > n || n > crate::limits::SHARDS_MAX {
                return Err(format!(
                    "shard {k}/{n} of seeds {}..{}: expected K/N with 1 <= K <= N <= {}",
                    self.start,
                    self.end,
                    crate::limits::SHARDS_MAX
                ));
            }
        }
        if self.end <= self.start || self.end - self.start > crate::limits::SWEEP_SEEDS_MAX {
            return Err(format!(
                "seeds {}..{}: expected a non-empty range of at most {} seeds",
                self.start,
                self.end,
                crate::limits::grouped(crate::limits::SWEEP_SEEDS_MAX)
            ));
        }
        Ok(())
    }

    /// The set in words: `seeds 0..300` or `seeds 0..300 (shard 2 of 8)`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.shard {
            None => format!("seeds {}..{}", self.start, self.end),
            Some((k, n)) => format!("seeds {}..{} (shard {k} of {n})", self.start, self.end),
        }
    }
}

/// `(g, x, y)` with `a x + b y = g = gcd(a, b)`.
fn extended_gcd(a: i128, b: i128) -> (i128, i128, i128) {
    if b == 0 {
        (a, 1, 0)
    } else {
        let (g, x, y) = extended_gcd(b, a % b);
        (g, y, x - (a / b) * y)
    }
}

/// Parses `A..B` (half-open, as in Rust), of at most [`crate::limits::SWEEP_SEEDS_MAX`] seeds.
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) =
        text.split_once("..").ok_or_else(|| format!("expected a range such as 0..300, found {text:?}"))?;
    let a: u64 =
        a.trim().parse().map_err(|_| format!("expected a seed (0 to 2^64-1) before '..', found {a:?}"))?;
    let b: u64 =
        b.trim().parse().map_err(|_| format!("expected a seed (0 to 2^64-1) after '..', found {b:?}"))?;
    if b <= a {
        return Err(format!("the range {text} is empty: the end must exceed the start"));
    }
    if b - a > crate::limits::SWEEP_SEEDS_MAX {
        return Err(format!(
            "the range {text} holds {} seeds; a sweep runs at most {}",
            crate::limits::grouped(b - a),
            crate::limits::grouped(crate::limits::SWEEP_SEEDS_MAX)
        ));
    }
    Ok((a, b))
}

/// Parses `K/N` with `1 <= K <= N <= 65536`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) =
        text.split_once('/').ok_or_else(|| format!("expected a shard such as 2/8, found {text:?}"))?;
    let k: u64 = k.trim().parse().map_err(|_| format!("expected a shard number, found {k:?}"))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("expected a shard count, found {n:?}"))?;
    if n == 0 || k == 0 || k > n || n > crate::limits::SHARDS_MAX {
        return Err(format!("shard {text}: expected K/N with 1 <= K <= N <= {}", crate::limits::SHARDS_MAX));
    }
    Ok((k, n))
}

/// The value `map` holds under `key`, a default one put there first if none: the key is cloned
/// only the first time (a guided sweep counts a result per branch, and most branches cost less
/// to simulate than a clone of every key they count under).
pub fn counter<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("a key just put in the map")
}

/// What one seed produced, reduced to what a summary needs.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub verdict: Verdict,
    pub reason: String,
    pub check: Option<String>,
    pub trace_hash: String,
    pub events: u64,
    pub sim_time_ns: u64,
    /// Coverage: for each kind, whether the configuration enabled it and whether it fired.
    /// Static names in a list, not a map of strings: a guided sweep makes one per branch, and
    /// most branches cost less to simulate than a map of allocated names to build.
    pub coverage: Vec<(&'static str, (bool, bool))>,
    /// The catalogue's points the run reached, with the first event at which.
    #[serde(default)]
    pub points: Vec<(&'static str, u64)>,
    /// The branch of the seed this run followed (`sweep --guided`); empty for the seed's own.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    /// What the storage faults did.
    #[serde(default)]
    pub storage: crate::disk::atlas::StorageStats,
}

impl SeedResult {
    #[must_use]
    pub fn from_outcome(seed: u64, config: &SimConfig, outcome: &Outcome) -> SeedResult {
        let s = &outcome.summary;
        let f = &config.faults;
        let net = &config.network;
        let mut coverage = Vec::with_capacity(64);
        // A fault a scenario's schedule fired counts as enabled, though no random fault was.
        let mut note = |kind: &'static str, enabled: bool, fired: bool| {
            coverage.push((kind, (enabled || fired, fired)));
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
                shape.coverage_kind(),
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
        // The dimensions the swarm draws: the liveness phase's form and the leader's choices.
        note("liveness: only a core healed", config.liveness_core, config.liveness_core);
        let ch = &config.cluster.choices;
        // Only raft-core takes the leader's choices; other implementations have their own.
        let takes_choices = config.implementation == crate::config::Implementation::RaftCore;
        for (name, backoff) in [
            ("choice: backoff conflict-term", crate::config::BackoffChoice::ConflictTerm),
            ("choice: backoff one-at-a-time", crate::config::BackoffChoice::OneAtATime),
            ("choice: backoff to-match-index", crate::config::BackoffChoice::ToMatchIndex),
        ] {
            let drawn = takes_choices && ch.backoff == backoff;
            note(name, drawn, drawn);
        }
        let drawn = |on: bool| takes_choices && on;
        note("choice: no pipelining", drawn(ch.pipelining_off), drawn(ch.pipelining_off));
        note("choice: empty heartbeats", drawn(ch.empty_heartbeats), drawn(ch.empty_heartbeats));
        note("choice: rotating followers", drawn(ch.rotate_followers), drawn(ch.rotate_followers));
        let storage = f.storage.as_ref();
        let kind_on = |k: crate::config::StorageFault| {
            storage.is_some_and(|st| st.damage_ppm > 0 && st.kinds.contains(&k))
        };
        let st = &s.storage;
        use crate::config::StorageFault as K;
        note("storage: bit rot", kind_on(K::BitRot), st.bit_rot > 0);
        note("storage: latent sector error", kind_on(K::LatentSectorError), st.latent_sector_errors > 0);
        note("storage: misdirected write", kind_on(K::MisdirectedWrite), st.misdirected_writes > 0);
        note("storage: lost write", kind_on(K::LostWrite), st.lost_writes > 0);
        note("storage: wiped disk", kind_on(K::Wipe), st.wipes > 0);
        note(
            "storage: fsync failure",
            storage.is_some_and(|k| k.fsync_failure_ppm > 0),
            st.fsync_failures > 0,
        );
        note("storage: damaged restart fenced", storage.is_some(), st.damaged_restarts > 0);
        note("storage: fence lifted by repair", storage.is_some(), st.fences_lifted > 0);
        // The fresh-leader crash has no counter of its own; a crash in such a seed counts.
        if let Some((_, entry)) =
            coverage.iter_mut().find(|(kind, _)| *kind == "fault: crash of a fresh leader")
        {
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
            points: s.points.iter().map(|p| (p.point, p.first_event)).collect(),
            branch: s.branch.clone(),
            storage: s.storage.clone(),
        }
    }
}

/// How a sweep reached one point of the catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointStats {
    /// Seeds (or branches) that reached it.
    pub seeds: u64,
    /// The lowest seed that reached it.
    pub first_seed: Option<u64>,
    /// The branch of `first_seed` that reached it first, in a guided sweep (none: the seed's own
    /// run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_branch: Option<String>,
    /// Not expected in an ordinary sweep (see `coverage.rs`).
    pub rare: bool,
    /// The sweep's implementation can never reach it (see `Point::unreachable_on`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
}

/// A failing seed in a summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub seed: u64,
    /// The branch of the seed that failed (`sweep --guided`); empty for the seed's own run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
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

/// The most failing seeds a summary lists one by one; the rest are counted.
pub const FAILED_LISTED_MAX: usize = 10_000;

/// A sweep of this many seeds or more warns about the points of the coverage catalogue that it
/// never reached and should have (the rare ones aside): an ordinary sweep of 300 seeds reaches them.
pub const UNREACHED_WARNING_SEEDS: u64 = 100;

/// The summary of a sweep (or of several merged shards).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SweepSummary {
    /// The seed sets run, one per shard.
    pub seed_sets: Vec<SeedSet>,
    pub scenario: Option<String>,
    pub bugs: Vec<String>,
    /// The options every seed ran with (as on the replay command line), so that only shards of
    /// one sweep merge.
    #[serde(default)]
    pub options: String,
    /// The Raft implementation every seed ran.
    #[serde(default)]
    pub implementation: Implementation,
    /// Seeds run (fewer than asked when a time budget or fail-fast stopped the sweep).
    pub seeds: u64,
    pub passed: u64,
    pub failed: Vec<Failed>,
    /// Failing seeds beyond the first [`FAILED_LISTED_MAX`], counted but not listed.
    #[serde(default)]
    pub failed_not_listed: u64,
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
    /// Every point of the catalogue, reached or not (see `coverage.rs`).
    #[serde(default)]
    pub points: BTreeMap<String, PointStats>,
    /// What a guided sweep did (`sweep --guided`); its `seeds` then count runs, roots and
    /// branches together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided: Option<crate::guided::GuidedStats>,
    pub warnings: Vec<String>,
    /// What the storage faults did over the sweep, summed.
    #[serde(default)]
    pub storage: crate::disk::atlas::StorageStats,
}

impl SweepSummary {
    /// Counts one seed's result. A failing seed's details come separately ([`Self::add_failed`]).
    pub fn add(&mut self, r: &SeedResult) {
        self.seeds += 1;
        *counter(&mut self.verdicts, r.verdict.name()) += 1;
        if !r.verdict.is_failure() {
            self.passed += 1;
        }
        self.events = self.events.saturating_add(r.events);
        self.storage.add(&r.storage);
        self.sim_time_ns = self.sim_time_ns.saturating_add(r.sim_time_ns);
        for &(kind, (enabled, fired)) in &r.coverage {
            let c = counter(&mut self.coverage, kind);
            c.enabled_seeds += u64::from(enabled);
            c.fired_seeds += u64::from(fired);
        }
        self.list_every_point();
        for (name, _) in &r.points {
            let p = counter(&mut self.points, name);
            p.seeds += 1;
            if p.first_seed.is_none_or(|f| r.seed < f) {
                p.first_seed = Some(r.seed);
                p.first_branch = (!r.branch.is_empty()).then(|| r.branch.clone());
            }
        }
    }

    /// Makes sure every point of the catalogue is listed, reached or not.
    fn list_every_point(&mut self) {
        if self.points.len() >= crate::coverage::Point::ALL.len() {
            return;
        }
        for p in crate::coverage::Point::ALL {
            let unreachable = p.unreachable_on(self.implementation).is_some();
            self.points.entry(p.name().to_string()).or_insert(PointStats {
                rare: p.rare(),
                unreachable,
                ..PointStats::default()
            });
        }
    }

    /// Names the implementation every seed ran: points it can never reach are marked so, and
    /// are not counted missed.
    pub fn set_implementation(&mut self, implementation: Implementation) {
        self.implementation = implementation;
        for p in crate::coverage::Point::ALL {
            if let Some(stats) = self.points.get_mut(p.name()) {
                stats.unreachable = p.unreachable_on(implementation).is_some();
            }
        }
        self.refresh_warnings();
    }

    /// The points an ordinary sweep should reach that this one never did.
    #[must_use]
    pub fn unreached(&self) -> Vec<&str> {
        self.points
            .iter()
            .filter(|(_, p)| !p.rare && !p.unreachable && p.seeds == 0)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Lists a failing seed, or counts it once the list is full.
    pub fn add_failed(&mut self, f: Failed) {
        if self.failed.len() < FAILED_LISTED_MAX {
            self.failed.push(f);
        } else {
            self.failed_not_listed += 1;
        }
    }

    /// Builds a summary from per-seed results (any order) and the failing seeds' details.
    #[must_use]
    pub fn from_results(results: &[SeedResult], failed: Vec<Failed>) -> SweepSummary {
        let mut s = SweepSummary::default();
        for r in results {
            s.add(r);
        }
        for f in failed {
            s.add_failed(f);
        }
        s.finish();
        s
    }

    /// Puts the failures in seed order and refreshes the warnings.
    pub fn finish(&mut self) {
        self.failed.sort_by_key(|f| f.seed);
        self.refresh_warnings();
    }

    /// Checks that the counts of a summary read from a file add up; `name` is the file.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        let failing = self.seeds.checked_sub(self.passed).ok_or_else(|| {
            format!("{name}: {} seeds passed out of {} run, more than were run", self.passed, self.seeds)
        })?;
        let verdicts = self.verdicts.values().try_fold(0u64, |a, v| a.checked_add(*v));
        if verdicts != Some(self.seeds) {
            return Err(format!(
                "{name}: the verdict counts add up to {} but the summary says {} seeds were run",
                verdicts.map_or("more than 2^64".to_string(), |v| v.to_string()),
                self.seeds
            ));
        }
        // Runs unrecoverable by design (beyond the storage budget) count as passed.
        let passing = self.verdicts.get("pass").copied().unwrap_or(0)
            + self.verdicts.get("unrecoverable-by-design").copied().unwrap_or(0);
        if passing != self.passed {
            return Err(format!("{name}: {} seeds passed, but {passing} have verdict pass", self.passed));
        }
        if (self.failed.len() as u64).checked_add(self.failed_not_listed) != Some(failing) {
            return Err(format!(
                "{name}: {failing} seeds failed, but {} are listed and {} counted beyond the list",
                self.failed.len(),
                self.failed_not_listed
            ));
        }
        if self.seed_sets.is_empty() {
            return Err(format!("{name}: the summary names no seed set"));
        }
        for set in &self.seed_sets {
            set.check().map_err(|e| format!("{name}: {e}"))?;
        }
        let capacity = self.seed_sets.iter().try_fold(0u64, |a, s| a.checked_add(s.len()));
        if capacity.is_none_or(|c| self.seeds > c) {
            return Err(format!(
                "{name}: {} seeds were run, more than its seed sets ({}) hold",
                self.seeds,
                self.seed_sets.iter().map(SeedSet::describe).collect::<Vec<_>>().join(", ")
            ));
        }
        for (i, a) in self.seed_sets.iter().enumerate() {
            if let Some(b) = self.seed_sets[i + 1..].iter().find(|b| a.overlaps(b)) {
                return Err(format!("{name}: its seed sets {} and {} overlap", a.describe(), b.describe()));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.failed {
            if !self.seed_sets.iter().any(|s| s.contains(f.seed)) {
                return Err(format!("{name}: failing seed {} is not in any of its seed sets", f.seed));
            }
            if !f.verdict.is_failure() {
                return Err(format!(
                    "{name}: seed {} is listed as failing with verdict {}",
                    f.seed, f.verdict
                ));
            }
            if !seen.insert(f.seed) {
                return Err(format!("{name}: failing seed {} is listed twice", f.seed));
            }
        }
        for (kind, c) in &self.coverage {
            if c.fired_seeds > self.seeds || c.enabled_seeds > self.seeds {
                return Err(format!(
                    "{name}: coverage of \"{kind}\" counts {} seeds, more than the {} run",
                    c.fired_seeds.max(c.enabled_seeds),
                    self.seeds
                ));
            }
        }
        for (point, p) in &self.points {
            if p.seeds > self.seeds {
                return Err(format!(
                    "{name}: point \"{point}\" was reached by {} seeds, more than the {} run",
                    p.seeds, self.seeds
                ));
            }
            if p.first_seed.is_some_and(|f| !self.seed_sets.iter().any(|s| s.contains(f))) {
                return Err(format!("{name}: point \"{point}\" names a first seed outside its seed sets"));
            }
        }
        if !(self.wall_ms.is_finite() && self.wall_ms >= 0.0 && self.wall_ms_total.is_finite()) {
            return Err(format!("{name}: wall_ms must be a non-negative number"));
        }
        Ok(())
    }

    /// Joins shards' summaries into one, each named by its file; refuses summaries whose counts
    /// do not add up, summaries of different sweeps, seed sets run twice or overlapping, and
    /// totals that would overflow.
    pub fn merge(parts: Vec<(String, SweepSummary)>) -> Result<SweepSummary, String> {
        let mut all = SweepSummary::default();
        let mut first_name = String::new();
        for (i, (name, p)) in parts.into_iter().enumerate() {
            p.validate(&name)?;
            if i == 0 {
                all.scenario.clone_from(&p.scenario);
                all.bugs.clone_from(&p.bugs);
                all.options.clone_from(&p.options);
                all.implementation = p.implementation;
                // Guided shards merge only with guided shards explored with the same knobs.
                all.guided = p
                    .guided
                    .as_ref()
                    .map(|g| crate::guided::GuidedStats { guide: g.guide.clone(), ..Default::default() });
                first_name.clone_from(&name);
            } else if p.scenario != all.scenario
                || p.bugs != all.bugs
                || p.options != all.options
                || p.implementation != all.implementation
                || p.exploration() != all.exploration()
            {
                return Err(format!(
                    "{name} is not a shard of the same sweep as {first_name}: it ran {} where {first_name} ran {}",
                    p.what_ran(),
                    all.what_ran()
                ));
            }
            for set in &p.seed_sets {
                if let Some(seen) = all.seed_sets.iter().find(|s| s.overlaps(set)) {
                    let how = if seen == set { "repeats" } else { "overlaps" };
                    return Err(format!(
                        "{name}: {} {how} {}, already merged: every seed must be counted once",
                        set.describe(),
                        seen.describe()
                    ));
                }
            }
            let overflow = |what: &str| format!("{name}: adding its {what} would overflow the merged count");
            all.seeds = all.seeds.checked_add(p.seeds).ok_or_else(|| overflow("seeds"))?;
            all.passed = all.passed.checked_add(p.passed).ok_or_else(|| overflow("passed seeds"))?;
            all.events = all.events.checked_add(p.events).ok_or_else(|| overflow("events"))?;
            all.storage.add(&p.storage);
            all.sim_time_ns =
                all.sim_time_ns.checked_add(p.sim_time_ns).ok_or_else(|| overflow("simulated time"))?;
            all.failed_not_listed = all
                .failed_not_listed
                .checked_add(p.failed_not_listed)
                .ok_or_else(|| overflow("unlisted failures"))?;
            for (k, v) in p.verdicts {
                let e = all.verdicts.entry(k).or_default();
                *e = e.checked_add(v).ok_or_else(|| overflow("verdict counts"))?;
            }
            for (k, stats) in p.points {
                let e = all.points.entry(k).or_insert(PointStats {
                    rare: stats.rare,
                    unreachable: stats.unreachable,
                    ..PointStats::default()
                });
                e.seeds = e.seeds.checked_add(stats.seeds).ok_or_else(|| overflow("point counts"))?;
                if stats.first_seed.is_some_and(|b| e.first_seed.is_none_or(|a| b < a)) {
                    e.first_seed = stats.first_seed;
                    e.first_branch = stats.first_branch;
                }
            }
            if let Some(g) = p.guided {
                let e = all.guided.get_or_insert_with(Default::default);
                e.roots = e.roots.saturating_add(g.roots);
                e.branches = e.branches.saturating_add(g.branches);
                e.planned_new = e.planned_new.saturating_add(g.planned_new);
                e.planned_rare = e.planned_rare.saturating_add(g.planned_rare);
                e.planned_hazard = e.planned_hazard.saturating_add(g.planned_hazard);
                e.planned_liveness = e.planned_liveness.saturating_add(g.planned_liveness);
                e.dropped = e.dropped.saturating_add(g.dropped);
                e.unrun = e.unrun.saturating_add(g.unrun);
                e.deepest = e.deepest.max(g.deepest);
            }
            for (k, c) in p.coverage {
                let e = all.coverage.entry(k).or_default();
                e.enabled_seeds = e
                    .enabled_seeds
                    .checked_add(c.enabled_seeds)
                    .ok_or_else(|| overflow("coverage counts"))?;
                e.fired_seeds =
                    e.fired_seeds.checked_add(c.fired_seeds).ok_or_else(|| overflow("coverage counts"))?;
            }
            all.seed_sets.extend(p.seed_sets);
            for f in p.failed {
                all.add_failed(f);
            }
            all.wall_ms = all.wall_ms.max(p.wall_ms);
            all.wall_ms_total += p.wall_ms_total;
            all.jobs = all.jobs.max(p.jobs);
            if let Some(why) = p.stopped_early {
                all.stopped_early = Some(format!("{name}: {why}"));
            }
        }
        all.finish();
        Ok(all)
    }

    /// What a sweep ran, in words, for merge errors.
    fn what_ran(&self) -> String {
        let mut s = self.scenario.as_ref().map_or("random seeds".to_string(), |n| format!("scenario {n}"));
        if !self.options.is_empty() {
            s += &format!(" with options \"{}\"", self.options);
        }
        if !self.bugs.is_empty() {
            s += &format!(" with bugs {}", self.bugs.join(", "));
        }
        match self.exploration() {
            None => {}
            Some("") => s += ", guided",
            Some(knobs) => s += &format!(", guided with --guide {knobs}"),
        }
        s
    }

    /// How the sweep explored: None for plain seeds, else the `--guide` knobs of a guided
    /// sweep (empty: the default guide).
    #[must_use]
    pub fn exploration(&self) -> Option<&str> {
        self.guided.as_ref().map(|g| g.guide.as_str())
    }

    /// A fault kind that some seed's configuration enabled but no seed fired is suspicious: the
    /// fault model may have a hole. So is a point of the catalogue that a sweep of
    /// [`UNREACHED_WARNING_SEEDS`] or more never reached (a shorter sweep is not expected to).
    fn refresh_warnings(&mut self) {
        self.list_every_point();
        self.warnings = self
            .coverage
            .iter()
            .filter(|(k, _)| k.starts_with("fault") || k.starts_with("partition"))
            .filter(|(_, c)| c.enabled_seeds > 0 && c.fired_seeds == 0)
            .map(|(k, c)| format!("{k}: enabled in {} seeds but fired in none", c.enabled_seeds))
            .collect();
        let unreached = self.unreached();
        if !unreached.is_empty() && self.seeds >= UNREACHED_WARNING_SEEDS {
            self.warnings.push(format!(
                "{} points of the catalogue that a sweep should reach were never reached: {}",
                unreached.len(),
                unreached.join("; ")
            ));
        }
    }

    /// What the sweep's count counts: seeds, or runs for a guided sweep (its roots and their
    /// branches).
    #[must_use]
    pub fn unit(&self) -> &'static str {
        if self.guided.is_some() {
            "runs"
        } else {
            "seeds"
        }
    }

    /// The sweep's figures on one line.
    #[must_use]
    pub fn figures(&self) -> String {
        let wall_s = (self.wall_ms / 1e3).max(1e-9);
        let cpu_s = (self.wall_ms_total / 1e3).max(1e-9);
        let unit = self.unit();
        format!(
            "{} {unit} in {:.1} s: {:.0} {unit}/s, {:.2} M events/s, {:.0} simulated seconds per wall second ({} jobs)",
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

    fn all(set: SeedSet) -> Vec<u64> {
        (0..set.len()).map(|i| set.nth(i)).collect()
    }

    #[test]
    fn shards_split_a_range_with_no_overlap_and_no_gap() {
        let whole = all(SeedSet { start: 10, end: 110, shard: None });
        let mut joined: Vec<u64> =
            (1..=7).flat_map(|k| all(SeedSet { start: 10, end: 110, shard: Some((k, 7)) })).collect();
        joined.sort_unstable();
        assert_eq!(joined, whole);
        assert_eq!(whole.len(), 100);
        for k in 1..=7 {
            let set = SeedSet { start: 10, end: 110, shard: Some((k, 7)) };
            assert!(all(set).iter().all(|s| set.contains(*s)));
            assert_eq!(all(set).len() as u64, set.len());
        }
        assert_eq!(SeedSet { start: 0, end: 3, shard: Some((5, 8)) }.len(), 0);
    }

    #[test]
    fn a_huge_seed_set_is_counted_without_being_built() {
        let set = SeedSet { start: u64::MAX - 1_000_000_000_000, end: u64::MAX, shard: Some((3, 7)) };
        assert_eq!(set.len(), 142_857_142_857);
        assert!(set.contains(set.nth(set.len() - 1)));
    }

    #[test]
    fn overlap_is_exact_for_shards_of_different_ranges_and_counts() {
        // Brute force over small sets agrees with the arithmetic.
        let sets: Vec<SeedSet> = [(0, 12), (5, 20), (7, 8), (11, 30)]
            .iter()
            .flat_map(|&(start, end)| {
                let mut v = vec![SeedSet { start, end, shard: None }];
                for n in 1..=4 {
                    for k in 1..=n {
                        v.push(SeedSet { start, end, shard: Some((k, n)) });
                    }
                }
                v
            })
            .collect();
        for a in &sets {
            for b in &sets {
                let brute = all(*a).iter().any(|s| b.contains(*s));
                assert_eq!(a.overlaps(b), brute, "{} vs {}", a.describe(), b.describe());
            }
        }
    }

    #[test]
    fn ranges_and_shards_parse_or_say_what_was_expected() {
        assert_eq!(parse_range("0..300"), Ok((0, 300)));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("0-300").is_err());
        assert!(parse_range("0..18446744073709551615").unwrap_err().contains("at most"));
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("0/8").is_err());
        assert!(parse_shard("9/8").is_err());
        assert!(parse_shard("1/99999999").is_err());
    }

    fn result(seed: u64, verdict: Verdict, crash: (bool, bool)) -> SeedResult {
        let coverage = vec![("fault: crash", crash)];
        SeedResult {
            seed,
            verdict,
            reason: String::new(),
            check: None,
            trace_hash: String::new(),
            events: 10,
            sim_time_ns: 1_000,
            coverage,
            points: vec![("fault: crash", u64::from(crash.0))],
            branch: String::new(),
            storage: crate::disk::atlas::StorageStats::default(),
        }
    }

    fn failed(seed: u64) -> Failed {
        Failed {
            seed,
            branch: String::new(),
            verdict: Verdict::Safety,
            check: None,
            reason: String::new(),
            replay: String::new(),
            report: None,
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

    fn shards() -> (SweepSummary, SweepSummary) {
        let mut a = SweepSummary::from_results(
            &[result(1, Verdict::Pass, (true, true)), result(3, Verdict::Safety, (true, true))],
            vec![failed(3)],
        );
        a.seed_sets = vec![SeedSet { start: 0, end: 4, shard: Some((2, 2)) }];
        a.wall_ms = 5.0;
        let mut b = SweepSummary::from_results(
            &[result(0, Verdict::Safety, (true, false)), result(2, Verdict::Pass, (true, false))],
            vec![failed(0)],
        );
        b.seed_sets = vec![SeedSet { start: 0, end: 4, shard: Some((1, 2)) }];
        b.wall_ms = 7.0;
        (a, b)
    }

    #[test]
    fn merged_shards_add_up_and_keep_failures_in_seed_order() {
        let (a, b) = shards();
        let m = SweepSummary::merge(vec![("a".into(), a), ("b".into(), b)]).expect("shards of one sweep");
        assert_eq!(m.seeds, 4);
        assert_eq!(m.passed, 2);
        assert_eq!(m.failed.iter().map(|f| f.seed).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(m.verdicts.get("safety"), Some(&2));
        assert_eq!(m.coverage["fault: crash"], Coverage { enabled_seeds: 4, fired_seeds: 2 });
        assert!((m.wall_ms - 7.0).abs() < 1e-9);
    }

    #[test]
    fn merge_refuses_repeated_or_overlapping_seeds_in_words() {
        let (a, b) = shards();
        let e = SweepSummary::merge(vec![("a.json".into(), a.clone()), ("again.json".into(), a.clone())])
            .unwrap_err();
        assert!(e.contains("again.json") && e.contains("seeds 0..4 (shard 2 of 2) repeats"), "{e}");
        let mut whole = b.clone();
        whole.seed_sets = vec![SeedSet { start: 2, end: 3, shard: None }];
        whole.seeds = 1;
        whole.passed = 1;
        whole.failed.clear();
        whole.verdicts = BTreeMap::from([("pass".to_string(), 1)]);
        whole.coverage.clear();
        whole.points.clear();
        let e = SweepSummary::merge(vec![("a".into(), b), ("w.json".into(), whole)]).unwrap_err();
        assert!(e.contains("w.json") && e.contains("overlaps"), "{e}");
        assert!(!e.contains("SeedSet") && !e.contains("Some("), "no Rust debug output: {e}");
    }

    #[test]
    fn merge_refuses_counts_that_do_not_add_up_or_would_overflow() {
        let (a, b) = shards();
        let mut bad = a.clone();
        bad.passed = 9;
        assert!(SweepSummary::merge(vec![("x.json".into(), bad)]).unwrap_err().contains("x.json"));
        let mut bad = a.clone();
        bad.failed.clear();
        assert!(SweepSummary::merge(vec![("x.json".into(), bad)]).unwrap_err().contains("listed"));
        let mut bad = a.clone();
        bad.failed[0].seed = 2;
        assert!(SweepSummary::merge(vec![("x.json".into(), bad)]).unwrap_err().contains("not in any"));
        let mut huge = a.clone();
        huge.events = u64::MAX;
        let e = SweepSummary::merge(vec![("a".into(), huge), ("b.json".into(), b.clone())]).unwrap_err();
        assert!(e.contains("b.json") && e.contains("overflow"), "{e}");
        let mut other = b;
        other.options = "--nodes 3".into();
        let e = SweepSummary::merge(vec![("a".into(), a), ("o.json".into(), other)]).unwrap_err();
        assert!(e.contains("not a shard of the same sweep") && e.contains("--nodes 3"), "{e}");
    }
}
