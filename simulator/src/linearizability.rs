//! The linearizability check of a run's history, helped by what the run knows.
//!
//! The cluster applied every client command at a log index, and answered every read either
//! through the log (at the read's own index) or from a node's state (after the index that node
//! had applied). Sorting the calls of each key by that order gives a candidate linearization, a
//! **witness**, which the checker verifies against the history alone in O(n log n)
//! (`checker::check_kv_with_witness`): the witness is a hint, never trusted. Where it fails (a
//! real violation, a call it cannot place) the checker searches, only the keys and the window
//! where the witness broke. `--cross-check` decides every history both ways and fails the run
//! when they disagree.

use raft_host::Raft;
use std::collections::BTreeMap;

use checker::{CheckOptions, CheckReport, KvCall, Status, Verdict};

use crate::world::World;

/// Order keys leave room between two log indexes for reads served from state in between.
const INDEX_SHIFT: u32 = 20;

/// The commands the cluster applied, to look up by `(client, seq)`: what a run's end asks of
/// every call in its history (was it applied, and first at which index). Sorted flat triples
/// rather than a map: a run cut by a guided sweep's horizon builds this once per branch, and
/// sorting is several times faster than building a tree of the same entries.
pub struct AppliedCommands {
    /// `(client, seq, index)`, sorted.
    by_id: Vec<(u64, u64, u64)>,
}

impl AppliedCommands {
    /// The commands `world`'s cluster applied so far.
    #[must_use]
    pub fn of<R: Raft>(world: &World<R>) -> AppliedCommands {
        let mut by_id: Vec<(u64, u64, u64)> = world
            .checks
            .applied_commands()
            .iter()
            .map(|(client, seq, index)| (client.0, *seq, index.0))
            .collect();
        by_id.sort_unstable();
        AppliedCommands { by_id }
    }

    /// The lowest index at which client `client`'s command `seq` was applied, if it was.
    #[must_use]
    pub fn first_index(&self, client: u64, seq: u64) -> Option<u64> {
        let i = self.by_id.partition_point(|&(c, s, _)| (c, s) < (client, seq));
        self.by_id.get(i).filter(|&&(c, s, _)| (c, s) == (client, seq)).map(|&(_, _, index)| index)
    }
}

/// The witness of a run's history: for each call, its place in the order the cluster served it,
/// or `None` when the cluster never applied it (or the call failed).
#[must_use]
pub fn witness<R: Raft>(
    world: &World<R>,
    applied: &AppliedCommands,
    history: &[KvCall],
    seqs: &[u64],
) -> Vec<Option<u64>> {
    // Reads served from state after index `a` go after it, in the order they were called.
    let mut after: BTreeMap<u64, u64> = BTreeMap::new();
    history
        .iter()
        .zip(seqs)
        .map(|(call, seq)| {
            if call.status == Status::Failed {
                return None;
            }
            if let Some(index) = applied.first_index(call.client, *seq) {
                return Some(index << INDEX_SHIFT);
            }
            let id = (call.client, *seq);
            let applied = *world.reads_served.get(&id)?;
            let k = after.entry(applied).or_insert(0);
            *k += 1;
            Some((applied << INDEX_SHIFT) + (*k).min((1 << INDEX_SHIFT) - 1))
        })
        .collect()
}

/// What the check found.
pub struct HistoryCheck {
    pub report: CheckReport,
    /// With `--cross-check`: the two ways decided differently, and how.
    pub disagreement: Option<String>,
}

/// Checks `history`, helped by `witness`; with `cross_check`, also by the full search alone.
#[must_use]
pub fn check(
    history: &[KvCall],
    witness: &[Option<u64>],
    opts: &CheckOptions,
    cross_check: bool,
) -> HistoryCheck {
    let report = checker::check_kv_with_witness(history, witness, opts);
    if !cross_check {
        return HistoryCheck { report, disagreement: None };
    }
    let search = checker::check_kv(history, opts);
    let decided = |v: Verdict| v != Verdict::Unknown;
    let disagreement = (decided(report.verdict) && decided(search.verdict) && report.verdict != search.verdict)
        .then(|| {
            format!(
                "the checker decided {} with the run's witness ({}) but {} by the full search: a bug in the checker",
                name(report.verdict),
                path(&report),
                name(search.verdict)
            )
        });
    // The search's verdict stands where the witness path could not decide.
    let report = if decided(report.verdict) { report } else { search };
    HistoryCheck { report, disagreement }
}

fn name(v: Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable => "not linearizable",
        Verdict::Unknown => "unknown",
    }
}

/// Which path decided, in words: `witness`, or `search (2 keys, 1 window)`.
#[must_use]
pub fn path(report: &CheckReport) -> String {
    match report.decided_by {
        checker::DecidedBy::Witness => "witness".into(),
        checker::DecidedBy::Search { keys_searched, window_only } => {
            format!("search ({keys_searched} keys in full, {window_only} windows)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AppliedCommands;

    #[test]
    fn a_command_is_found_at_the_first_index_it_was_applied_at() {
        // Applied in index order: client 2's command 5 twice (a retry not recognised), at 3
        // and at 9; client 1's command 7 at 4.
        let mut by_id = vec![(2, 5, 3), (1, 7, 4), (2, 5, 9)];
        by_id.sort_unstable();
        let applied = AppliedCommands { by_id };
        assert_eq!(applied.first_index(2, 5), Some(3));
        assert_eq!(applied.first_index(1, 7), Some(4));
        assert_eq!(applied.first_index(1, 5), None, "another client's seq");
        assert_eq!(applied.first_index(2, 6), None, "a seq never applied");
        assert_eq!(applied.first_index(3, 0), None, "past the last client");
        assert_eq!(AppliedCommands { by_id: Vec::new() }.first_index(0, 0), None);
    }
}
