//! What a node asks its host to make durable, and the durable state it is restored from.
//!
//! The durable state is a term, a vote, a snapshot, and a log that may still hold entries the
//! snapshot covers: the log is cut only after the snapshot covering the cut is durable, never in
//! the same write (a crash can land the cut without the snapshot, and the cut entries would be
//! gone with nothing standing for them). So between a snapshot's write and the cut, the log and
//! the snapshot overlap, and a restart resolves the overlap as InstallSnapshot does (paper
//! Figure 13, steps 6 and 7).

use std::fmt;

use crate::entry::Entry;
use crate::snapshot::Snapshot;
use crate::types::{LogIndex, NodeId, Term};

/// One change to durable state, in the order the host must apply it. Operations of one ready
/// may reach the disk in any order if the host crashes before it acknowledges the ready; a node
/// never puts two operations in one ready when one is safe only after the other.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PersistOp {
    /// The current term and the vote cast in it (paper Figure 2: "updated on stable storage
    /// before responding to RPCs").
    HardState { term: Term, vote: Option<NodeId> },
    /// Discard every durable entry at `from` or later, then append `entries`, which are contiguous
    /// and start at `from` (there may be none: a pure truncation). This is how a follower's
    /// conflicting suffix is replaced.
    Entries { from: LogIndex, entries: Vec<Entry> },
    /// Keep this snapshot, newer than any kept before, beside the log (which it does not change).
    Snapshot(Snapshot),
    /// Drop every log entry up to and including `through`, which a durable snapshot covers; the
    /// log now starts at `through + 1` (empty if it ended before).
    CompactLog { through: LogIndex },
}

/// The state a node keeps across crashes: term, vote, snapshot and log.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct DurableState {
    pub term: Term,
    pub vote: Option<NodeId>,
    /// The newest snapshot kept.
    pub snapshot: Option<Snapshot>,
    /// The last index cut from the log: `entries[0]` is entry `compacted_through + 1`. At most
    /// the snapshot's last index (the cut never passes the snapshot).
    pub compacted_through: LogIndex,
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
    /// The index of the last log entry kept (the cut point when the log is empty).
    #[must_use]
    pub fn last_index(&self) -> LogIndex {
        self.compacted_through.plus(self.entries.len() as u64)
    }

    /// The index of the snapshot's last entry, 0 without a snapshot.
    #[must_use]
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot.as_ref().map_or(LogIndex::ZERO, |s| s.meta.last_index)
    }

    /// The entry kept at `index`, if any.
    #[must_use]
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.compacted_through {
            return None;
        }
        self.entries.get((index.0 - self.compacted_through.0 - 1) as usize)
    }

    /// Applies one operation, refusing any that would leave a gap, move the term backwards,
    /// replace a snapshot with an older one, or cut the log past the snapshot.
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
                if *from <= self.compacted_through || *from > self.last_index().next() {
                    return Err(StorageError(format!(
                        "entries start at {} but the log holds {} to {}",
                        from,
                        self.compacted_through.next(),
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
                self.entries.truncate((from.0 - self.compacted_through.0 - 1) as usize);
                self.entries.extend(entries.iter().cloned());
            }
            PersistOp::Snapshot(snapshot) => {
                if snapshot.meta.last_index <= self.snapshot_index() {
                    return Err(StorageError(format!(
                        "a snapshot through {} does not replace the one through {}",
                        snapshot.meta.last_index,
                        self.snapshot_index()
                    )));
                }
                self.snapshot = Some(snapshot.clone());
            }
            PersistOp::CompactLog { through } => {
                if *through > self.snapshot_index() {
                    return Err(StorageError(format!(
                        "the log is cut through {through}, past the snapshot, which ends at {}",
                        self.snapshot_index()
                    )));
                }
                if *through > self.compacted_through {
                    let dropped = ((through.0 - self.compacted_through.0) as usize).min(self.entries.len());
                    self.entries.drain(..dropped);
                    self.compacted_through = *through;
                }
            }
        }
        Ok(())
    }
}
