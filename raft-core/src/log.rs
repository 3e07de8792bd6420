//! The in-memory replicated log of one node.

use crate::message::Entry;
use crate::types::{LogIndex, Term};

/// A node's log. Entry `i` (1-based) sits at `entries[i - 1]`.
///
/// Invariants, asserted on every change: indexes are dense from 1, and terms never decrease
/// along the log (a leader only appends entries of its current term, which is at least the term
/// of anything it holds). The second one lets the term lookups below binary-search.
#[derive(Clone, Default, Debug)]
pub struct RaftLog {
    entries: Vec<Entry>,
}

impl RaftLog {
    #[must_use]
    pub fn new() -> RaftLog {
        RaftLog::default()
    }

    /// Rebuilds a log from entries read back from disk.
    ///
    /// # Panics
    /// If the entries are not dense from index 1 or their terms decrease: a host that recovered
    /// such a log has a storage bug.
    #[must_use]
    pub fn from_entries(entries: Vec<Entry>) -> RaftLog {
        for (position, entry) in entries.iter().enumerate() {
            assert_eq!(entry.index, LogIndex(position as u64 + 1), "restored log is not dense");
            if position > 0 {
                assert!(entries[position - 1].term <= entry.term, "restored log has decreasing terms");
            }
        }
        RaftLog { entries }
    }

    #[must_use]
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.entries.len() as u64)
    }

    #[must_use]
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(Term::ZERO, |e| e.term)
    }

    /// The term of the entry at `index`; `Some(Term(0))` for index 0, `None` past the end.
    #[must_use]
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == LogIndex::ZERO {
            return Some(Term::ZERO);
        }
        self.get(index).map(|e| e.term)
    }

    #[must_use]
    pub fn get(&self, index: LogIndex) -> Option<&Entry> {
        if index == LogIndex::ZERO {
            return None;
        }
        self.entries.get(index.0 as usize - 1)
    }

    /// Entries from `from` to the end, at most `max` of them.
    #[must_use]
    pub fn slice_from(&self, from: LogIndex, max: usize) -> &[Entry] {
        assert!(from.0 >= 1, "slices start at index 1 or later");
        let start = (from.0 - 1) as usize;
        if start >= self.entries.len() {
            return &[];
        }
        let end = self.entries.len().min(start.saturating_add(max));
        &self.entries[start..end]
    }

    /// All entries, in order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends one entry at the end.
    pub fn push(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index().next(), "log append leaves a gap");
        assert!(entry.term >= self.last_term(), "log append decreases the term");
        self.entries.push(entry);
    }

    /// Removes the entry at `from` and everything after it.
    pub fn truncate_from(&mut self, from: LogIndex) {
        assert!(from.0 >= 1, "cannot truncate the empty prefix");
        self.entries.truncate((from.0 - 1) as usize);
    }

    /// The first index holding `term`, given that the entry at `at` holds it.
    #[must_use]
    pub fn first_index_of_term(&self, term: Term, at: LogIndex) -> LogIndex {
        debug_assert_eq!(self.term_at(at), Some(term));
        let upto = (at.0 as usize).min(self.entries.len());
        LogIndex(self.entries[..upto].partition_point(|e| e.term < term) as u64 + 1)
    }

    /// The last index holding `term`, if any entry holds it.
    #[must_use]
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        let end = self.entries.partition_point(|e| e.term <= term);
        (end > 0 && self.entries[end - 1].term == term).then_some(LogIndex(end as u64))
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
}
