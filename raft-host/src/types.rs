//! Newtypes for the numbers Raft juggles, so that a term is never passed where an index is meant.

use std::fmt;

/// A Raft term: a logical clock that increases with every election (Raft paper §5.1).
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Term(pub u64);

/// A 1-based position in the replicated log; `LogIndex(0)` means "before the first entry".
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LogIndex(pub u64);

/// The identity of a Raft server. Small and dense: nodes are numbered `0..n`.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId(pub u32);

impl Term {
    pub const ZERO: Term = Term(0);
    #[must_use]
    pub fn next(self) -> Term {
        Term(self.0 + 1)
    }
}

impl LogIndex {
    pub const ZERO: LogIndex = LogIndex(0);
    #[must_use]
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }
    /// The index before this one; `LogIndex(0).prev()` is a bug in the caller.
    #[must_use]
    pub fn prev(self) -> LogIndex {
        assert!(self.0 > 0, "LogIndex(0) has no predecessor");
        LogIndex(self.0 - 1)
    }
    #[must_use]
    pub fn plus(self, n: u64) -> LogIndex {
        LogIndex(self.0 + n)
    }
}

impl NodeId {
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}
impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}
