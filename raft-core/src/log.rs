//! The in-memory replicated log of one node: the entries after its snapshot.

use crate::message::Entry;
use crate::snapshot::SnapshotMeta;
use crate::types::{LogIndex, Term};
use crate::wal::entry_bytes;

/// A node's log. It starts right after `base`, the last entry covered by the node's snapshot
/// (index 0 and term 0 before any snapshot): entry `i` sits at `entries[i - base.last_index - 1]`.
///
/// Invariants, asserted on every change: indexes are dense from `base.last_index + 1`, and terms
/// never decrease along the log, the base included (a leader only appends entries of its current
/// term, which is at least the term of anything it holds). The second one lets the term lookups
/// below binary-search.
#[derive(Clone, Default, Debug)]
pub struct RaftLog {
    base: SnapshotMeta,
    entries: Vec<Entry>,
    /// What `entries` take in the WAL format ([`crate::wal::entry_bytes`]), kept as they change.
    bytes: usize,
}

impl RaftLog {
    #[must_use]
    pub fn new() -> RaftLog {
        RaftLog::default()
    }

    /// Rebuilds a log from entries read back from disk, with no snapshot before them.
    ///
    /// # Panics
    /// If the entries are not dense from index 1 or their terms decrease: a host that recovered
    /// such a log has a storage bug.
    #[must_use]
    pub fn from_entries(entries: Vec<Entry>) -> RaftLog {
        RaftLog::after(SnapshotMeta::default(), entries)
    }

    /// A log that continues a snapshot: `entries` start at `base.last_index + 1`.
    ///
    /// # Panics
    /// If the entries are not dense from there or their terms decrease.
    #[must_use]
    pub fn after(base: SnapshotMeta, entries: Vec<Entry>) -> RaftLog {
        let mut prev = base.last_term;
        for (position, entry) in entries.iter().enumerate() {
            assert_eq!(entry.index, base.last_index.plus(position as u64 + 1), "restored log is not dense");
            assert!(prev <= entry.term, "restored log has decreasing terms");
            prev = entry.term;
        }
        let bytes = entries.iter().map(entry_bytes).sum();
        RaftLog { base, entries, bytes }
    }

    /// The last entry the snapshot covers; everything up to it is gone from the log.
    #[must_use]
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        self.base
    }

    /// The index of the last entry covered by the snapshot (0 without one).
    #[must_use]
    pub fn snapshot_index(&self) -> LogIndex {
        self.base.last_index
    }

    /// The first index the log still holds an entry for (or would, once one is appended).
    #[must_use]
    pub fn first_index(&self) -> LogIndex {
        self.base.last_index.next()
    }

    #[must_use]
    pub fn last_index(&self) -> LogIndex {
        self.base.last_index.plus(self.entries.len() as u64)
    }

    #[must_use]
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.base.last_term, |e| e.term)
    }

    /// The term of the entry at `index`: the snapshot's term at its last index, `None` for an
    /// index the snapshot covers (compacted) or past the end.
    #[must_use]
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.base.last_index {
            return Some(self.base.last_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`, if the log still holds it.
    #[must_use]
    pub fn get(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.base.last_index {
            return None;
        }
        self.entries.get((index.0 - self.base.last_index.0 - 1) as usize)
    }

    /// Entries from `from` to the end, at most `max` of them.
    ///
    /// # Panics
    /// If `from` is compacted: the caller must send the snapshot instead.
    #[must_use]
    pub fn slice_from(&self, from: LogIndex, max: usize) -> &[Entry] {
        assert!(
            from > self.base.last_index,
            "entries from {from} are compacted (snapshot through {})",
            self.base.last_index
        );
        let start = (from.0 - self.base.last_index.0 - 1) as usize;
        if start >= self.entries.len() {
            return &[];
        }
        let end = self.entries.len().min(start.saturating_add(max));
        &self.entries[start..end]
    }

    /// The entries the log holds, in order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The bytes the entries the log holds take in the WAL format.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends one entry at the end.
    pub fn push(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index().next(), "log append leaves a gap");
        assert!(entry.term >= self.last_term(), "log append decreases the term");
        self.bytes += entry_bytes(&entry);
        self.entries.push(entry);
    }

    /// Removes the entry at `from` and everything after it.
    ///
    /// # Panics
    /// If `from` is compacted: entries a snapshot covers are committed and never conflict.
    pub fn truncate_from(&mut self, from: LogIndex) {
        assert!(from > self.base.last_index, "cannot truncate compacted entries from {from}");
        let keep = ((from.0 - self.base.last_index.0 - 1) as usize).min(self.entries.len());
        self.bytes -= self.entries[keep..].iter().map(entry_bytes).sum::<usize>();
        self.entries.truncate(keep);
    }

    /// Drops every entry up to `meta.last_index`, which the log holds with `meta.last_term`:
    /// a snapshot now stands for them (paper §7).
    ///
    /// # Panics
    /// If the log does not hold that entry with that term.
    pub fn compact(&mut self, meta: SnapshotMeta) {
        assert_eq!(
            self.term_at(meta.last_index),
            Some(meta.last_term),
            "compacting through {meta}, which the log does not hold"
        );
        let dropped = (meta.last_index.0 - self.base.last_index.0) as usize;
        self.bytes -= self.entries[..dropped].iter().map(entry_bytes).sum::<usize>();
        self.entries.drain(..dropped);
        self.base = meta;
    }

    /// Replaces the log with one that starts after `meta`, keeping the entries that follow it
    /// if the log holds `meta`'s entry (paper Figure 13, InstallSnapshot steps 6 and 7).
    /// Returns whether the entries after it were kept.
    pub fn install(&mut self, meta: SnapshotMeta, keep_suffix: bool) -> bool {
        assert!(
            meta.last_index > self.base.last_index,
            "installing {meta} over a snapshot through {}",
            self.base.last_index
        );
        if keep_suffix && self.term_at(meta.last_index) == Some(meta.last_term) {
            self.compact(meta);
            true
        } else {
            self.entries.clear();
            self.bytes = 0;
            self.base = meta;
            false
        }
    }

    /// The first index holding `term`, given that the entry at `at` holds it. Entries the
    /// snapshot covers are out of reach: the first retained one stands in for them.
    #[must_use]
    pub fn first_index_of_term(&self, term: Term, at: LogIndex) -> LogIndex {
        debug_assert_eq!(self.term_at(at), Some(term));
        if at <= self.base.last_index {
            return at;
        }
        let upto = ((at.0 - self.base.last_index.0) as usize).min(self.entries.len());
        let position = self.entries[..upto].partition_point(|e| e.term < term);
        self.base.last_index.plus(position as u64 + 1)
    }

    /// The last index holding `term` among the entries the log still holds, if any does.
    #[must_use]
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        let end = self.entries.partition_point(|e| e.term <= term);
        (end > 0 && self.entries[end - 1].term == term).then_some(self.base.last_index.plus(end as u64))
    }

    /// Whether a log ending at (`last_term`, `last_index`) is at least as up to date as this one
    /// (paper §5.4.1: compare the last terms, then the lengths).
    #[must_use]
    pub fn is_up_to_date(&self, last_term: Term, last_index: LogIndex) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;

    fn log_of_terms(terms: &[u64]) -> RaftLog {
        let mut log = RaftLog::new();
        for (i, t) in terms.iter().enumerate() {
            log.push(Entry { term: Term(*t), index: LogIndex(i as u64 + 1), payload: Payload::Noop });
        }
        log
    }

    #[test]
    fn term_lookups_find_the_edges_of_each_term() {
        let log = log_of_terms(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term(Term(2), LogIndex(5)), LogIndex(3));
        assert_eq!(log.first_index_of_term(Term(1), LogIndex(2)), LogIndex(1));
        assert_eq!(log.last_index_of_term(Term(2)), Some(LogIndex(5)));
        assert_eq!(log.last_index_of_term(Term(3)), None);
        assert_eq!(log.last_index_of_term(Term(4)), Some(LogIndex(6)));
        assert_eq!(log.term_at(LogIndex(0)), Some(Term(0)));
        assert_eq!(log.term_at(LogIndex(7)), None);
    }

    #[test]
    fn up_to_date_compares_last_term_before_length() {
        let log = log_of_terms(&[1, 1, 2]);
        assert!(log.is_up_to_date(Term(3), LogIndex(1)));
        assert!(log.is_up_to_date(Term(2), LogIndex(3)));
        assert!(!log.is_up_to_date(Term(2), LogIndex(2)));
        assert!(!log.is_up_to_date(Term(1), LogIndex(9)));
    }

    #[test]
    #[should_panic(expected = "gap")]
    fn appending_with_a_gap_is_refused() {
        let mut log = log_of_terms(&[1]);
        log.push(Entry { term: Term(1), index: LogIndex(3), payload: Payload::Noop });
    }

    fn meta(index: u64, term: u64) -> SnapshotMeta {
        SnapshotMeta::new(LogIndex(index), Term(term))
    }

    #[test]
    fn a_compacted_log_answers_for_its_snapshot_and_not_for_what_it_covers() {
        let mut log = log_of_terms(&[1, 1, 2, 2, 3]);
        log.compact(meta(3, 2));
        assert_eq!(
            (log.snapshot_index(), log.first_index(), log.last_index()),
            (LogIndex(3), LogIndex(4), LogIndex(5))
        );
        assert_eq!(log.term_at(LogIndex(3)), Some(Term(2)), "the snapshot stands in for its last entry");
        assert_eq!(log.term_at(LogIndex(2)), None, "compacted");
        assert!(log.get(LogIndex(3)).is_none());
        assert_eq!(log.slice_from(LogIndex(4), 10).len(), 2);
        assert_eq!(
            log.first_index_of_term(Term(2), LogIndex(4)),
            LogIndex(4),
            "the first retained entry of its term"
        );
        assert_eq!(log.last_index_of_term(Term(3)), Some(LogIndex(5)));
        assert_eq!(log.last_index_of_term(Term(1)), None);
    }

    #[test]
    fn an_empty_log_after_a_snapshot_ends_at_the_snapshot() {
        let mut log = log_of_terms(&[1, 2]);
        log.compact(meta(2, 2));
        assert_eq!((log.last_index(), log.last_term()), (LogIndex(2), Term(2)));
        assert!(log.is_up_to_date(Term(2), LogIndex(2)));
        assert!(!log.is_up_to_date(Term(1), LogIndex(9)));
    }

    #[test]
    fn installing_keeps_the_entries_that_follow_a_matching_entry_and_only_then() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        assert!(log.install(meta(2, 1), true));
        assert_eq!(log.entries().len(), 2, "entries 3 and 4 follow the snapshot's entry");
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        assert!(!log.install(meta(3, 3), true), "entry 3 has term 2, not 3");
        assert_eq!((log.entries().len(), log.last_index()), (0, LogIndex(3)));
        let mut log = log_of_terms(&[1]);
        assert!(!log.install(meta(5, 2), true), "the log ends before the snapshot");
        assert_eq!(log.last_index(), LogIndex(5));
    }

    #[test]
    #[should_panic(expected = "compacted")]
    fn slicing_compacted_entries_is_refused() {
        let mut log = log_of_terms(&[1, 1, 1]);
        log.compact(meta(2, 1));
        let _ = log.slice_from(LogIndex(2), 1);
    }
}
