//! What a node asks its host to make durable, and the durable state it is restored from.

use std::fmt;

use crate::message::Entry;
use crate::types::{LogIndex, NodeId, Term};

/// One change to durable state, in the order the host must apply it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PersistOp {
    /// The current term and the vote cast in it (paper Figure 2: "updated on stable storage
    /// before responding to RPCs").
    HardState { term: Term, vote: Option<NodeId> },
    /// Discard every durable entry at `from` or later, then append `entries`, which are contiguous
    /// and start at `from` (there may be none: a pure truncation). This is how a follower's
    /// conflicting suffix is replaced.
    Entries { from: LogIndex, entries: Vec<Entry> },
}

/// The state a node keeps across crashes: term, vote and log.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct DurableState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub entries: Vec<Entry>,
}

/// A persist operation that does not fit the state it is applied to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StorageError {}

impl DurableState {
    #[must_use]
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.entries.len() as u64)
    }

    /// Applies one operation, refusing any that would leave a gap or move the term backwards.
    pub fn apply(&mut self, op: &PersistOp) -> Result<(), StorageError> {
        match op {
            PersistOp::HardState { term, vote } => {
                if *term < self.term {
                    return Err(StorageError(format!(
                        "hard state moves the term back from {} to {}",
                        self.term, term
                    )));
                }
                self.term = *term;
                self.vote = *vote;
            }
            PersistOp::Entries { from, entries } => {
                if from.0 == 0 || *from > self.last_index().next() {
                    return Err(StorageError(format!(
                        "entries start at {} but the log ends at {}",
                        from,
                        self.last_index()
                    )));
                }
                for (k, entry) in entries.iter().enumerate() {
                    if entry.index != from.plus(k as u64) {
                        return Err(StorageError(format!(
                            "entry {} of a write starting at {from} has index {}",
                            k, entry.index
                        )));
                    }
                }
                self.entries.truncate((from.0 - 1) as usize);
                self.entries.extend(entries.iter().cloned());
            }
        }
        Ok(())
    }
}
