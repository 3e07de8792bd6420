//! The shapes the checks keep: a log seen as its terms, which may start after a cut, and a
//! window of per-index facts that forgets the indexes no node can need any more.

use std::collections::VecDeque;

use raft_host::{DurableState, LogIndex, Raft, Term};

/// A log as its terms: the entries after `base` (the last index cut or covered by a snapshot),
/// and the term at `base` when it is known.
#[derive(Clone, Debug, Default)]
pub(crate) struct TermLog {
    base: LogIndex,
    base_term: Option<Term>,
    terms: VecDeque<Term>,
}

impl TermLog {
    /// The log a durable state holds, as the host wrote it (entries a snapshot covers included
    /// until the cut); the term at the cut is the snapshot's when the cut is at the snapshot.
    pub(crate) fn of_state(state: &DurableState) -> TermLog {
        let base = state.compacted_through;
        let base_term = match &state.snapshot {
            Some(s) if s.meta.last_index == base => Some(s.meta.last_term),
            _ if base == LogIndex::ZERO => Some(Term::ZERO),
            _ => None,
        };
        TermLog { base, base_term, terms: state.entries.iter().map(|e| e.term).collect() }
    }

    /// The terms of a node's log up to `through`, from its snapshot on.
    pub(crate) fn of_log<R: Raft>(node: &R, through: LogIndex) -> TermLog {
        let view = node.view();
        let meta = view.snapshot.unwrap_or_default();
        let last = through.min(view.last_index);
        let terms = (meta.last_index.0 + 1..=last.0).map_while(|i| node.term_at(LogIndex(i))).collect();
        TermLog { base: meta.last_index, base_term: Some(meta.last_term), terms }
    }

    pub(crate) fn base(&self) -> LogIndex {
        self.base
    }

    pub(crate) fn last(&self) -> LogIndex {
        self.base.plus(self.terms.len() as u64)
    }

    /// The term at `index`: known at the base, stored after it, `None` before it or past the end.
    pub(crate) fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.base {
            return self.base_term;
        }
        if index < self.base {
            return None;
        }
        self.terms.get((index.0 - self.base.0 - 1) as usize).copied()
    }

    /// The entries after `base`, with their indexes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (LogIndex, Term)> + '_ {
        self.terms.iter().enumerate().map(|(k, t)| (self.base.plus(k as u64 + 1), *t))
    }

    /// Drops the entry at `from` (past the base) and everything after it.
    pub(crate) fn truncate_from(&mut self, from: LogIndex) {
        let keep = from.0.saturating_sub(self.base.0 + 1) as usize;
        self.terms.truncate(keep);
    }

    pub(crate) fn push(&mut self, term: Term) {
        self.terms.push_back(term);
    }

    /// Drops every entry through `through`, which becomes the base with `term` (if known).
    pub(crate) fn cut_through(&mut self, through: LogIndex, term: Option<Term>) {
        if through <= self.base {
            return;
        }
        let dropped = ((through.0 - self.base.0) as usize).min(self.terms.len());
        self.terms.drain(..dropped);
        self.base = through;
        self.base_term = term;
    }
}

/// Facts by log index from `base + 1` on; the ones at or below `base` were forgotten because
/// no node can write, commit or apply there any more.
#[derive(Clone, Debug)]
pub(crate) struct Window<T> {
    base: u64,
    items: VecDeque<T>,
}

impl<T> Default for Window<T> {
    fn default() -> Window<T> {
        Window { base: 0, items: VecDeque::new() }
    }
}

impl<T> Window<T> {
    /// The highest index with a fact (or the base, when none is kept).
    pub(crate) fn last(&self) -> LogIndex {
        LogIndex(self.base + self.items.len() as u64)
    }

    /// The lowest index a fact can be kept at (`base + 1`).
    pub(crate) fn first(&self) -> LogIndex {
        LogIndex(self.base + 1)
    }

    pub(crate) fn get(&self, index: LogIndex) -> Option<&T> {
        if index.0 <= self.base {
            return None;
        }
        self.items.get((index.0 - self.base - 1) as usize)
    }

    pub(crate) fn get_mut(&mut self, index: LogIndex) -> Option<&mut T> {
        if index.0 <= self.base {
            return None;
        }
        self.items.get_mut((index.0 - self.base - 1) as usize)
    }

    /// The fact at `last() + 1`.
    pub(crate) fn push(&mut self, item: T) {
        self.items.push_back(item);
    }

    /// A fact at `index`, creating empty ones up to it (for facts gathered out of order).
    pub(crate) fn slot(&mut self, index: LogIndex) -> Option<&mut T>
    where
        T: Default,
    {
        if index.0 <= self.base {
            return None;
        }
        while self.last() < index {
            self.items.push_back(T::default());
        }
        self.get_mut(index)
    }

    /// Forgets every fact at or below `index`.
    pub(crate) fn forget_through(&mut self, index: LogIndex) {
        if index.0 <= self.base {
            return;
        }
        let dropped = ((index.0 - self.base) as usize).min(self.items.len());
        self.items.drain(..dropped);
        self.base = index.0.max(self.base);
    }

    /// The facts kept, with their indexes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (LogIndex, &T)> + '_ {
        self.items.iter().enumerate().map(|(k, t)| (LogIndex(self.base + k as u64 + 1), t))
    }

    /// How many facts are kept.
    pub(crate) fn kept(&self) -> usize {
        self.items.len()
    }
}
