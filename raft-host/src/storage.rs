//! What a node asks its host to make durable, and the durable state it is restored from.
//!
//! The durable state is a term, a vote, a snapshot, and a log that may still hold entries the
//! snapshot covers: the log is cut only after the snapshot covering the cut is durable, never in
//! the same write (a crash can land the cut without the snapshot, and the cut entries would be
//! gone with nothing standing for them). So between a snapshot's write and the cut, the log and
//! the snapshot overlap, and a restart resolves the overlap as InstallSnapshot does (paper
//! Figure 13, steps 6 and 7).
//!
//! ## Disks that lie
//!
//! Raft assumes that what a node made durable stays as it was. Real disks flip bits, fail reads,
//! put a write at the wrong place or lose a write they acknowledged; a node that restarts on such
//! a disk must neither use what it cannot verify nor act as if it had kept what it lost: it may
//! have promised it to others (a vote, an acknowledged entry). This is protocol-aware recovery
//! (Alagappan et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST 2018): the
//! host's recovery keeps what its checksums verify and reports the rest, and the protocol repairs
//! the rest from its peers without breaking a promise.
//!
//! The contract between the two is the [`Fence`] in [`DurableState`]. A host whose recovery
//! found damage (a record that fails its checksum or cannot be read, a snapshot file that is not
//! whole, a disk that lost its data) keeps the valid state before the damage, sets the fence
//! (to [`Fence::Through`] its durable term, or [`Fence::Unknown`] when the term and vote were
//! lost too) and makes the fence durable **before** it discards the damaged bytes and starts the
//! node: otherwise a crash right after could restart the node on a shorter log that no longer
//! shows any damage. What the node must then do is the implementation's business (raft-core's
//! rules are in its `recovery` module); [`PersistOp::Fence`] is how it records its progress.
//!
//! A host whose write fails (an fsync returns an error) must neither acknowledge it nor retry it:
//! it stops the node and restarts it from what its disk holds. After a failed fsync the kernel
//! may have dropped the dirty pages and marked them clean, so a second fsync can report success
//! for data that never reached the disk (PostgreSQL's "fsyncgate", 2018).

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
    /// The node's recovery fence (see [`Fence`]), kept with the term and vote.
    Fence(Fence),
}

/// What a node may have promised and lost with its disk. Set by the host's recovery when it
/// found damage; advanced by the node as it repairs itself (protocol-aware recovery).
#[derive(Copy, Clone, Default, PartialEq, Eq, Debug)]
pub enum Fence {
    /// Nothing lost: every promise the node made rests on data it still holds.
    #[default]
    None,
    /// The node lost log entries or a snapshot it may have acknowledged (and with them what its
    /// votes rested on). Every promise it made was in a term up to and including this one, its
    /// durable term when the damage was found: a node persists its term before it promises
    /// anything in it.
    Through(Term),
    /// The node lost its term and vote as well (a wiped disk): it cannot tell in which terms it
    /// voted, and must learn that from its peers before it takes part in anything.
    Unknown,
}

impl Fence {
    /// The fence after more damage is found: `Through` the later of the two terms, `Unknown`
    /// if either is.
    #[must_use]
    pub fn widen(self, term: Term) -> Fence {
        match self {
            Fence::None => Fence::Through(term),
            Fence::Through(t) => Fence::Through(t.max(term)),
            Fence::Unknown => Fence::Unknown,
        }
    }
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
    /// What the node may have lost that it had promised (set by the host's recovery).
    pub fence: Fence,
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
    /// replace a snapshot with an older one, or cut the log past the snapshot. A refused
    /// operation leaves the state exactly as it was (every check comes before any change):
    /// recovery relies on it to keep what the records before a bad one made.
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
            PersistOp::Fence(fence) => self.fence = *fence,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Payload;
    use crate::snapshot::SnapshotMeta;

    fn entry(term: u64, index: u64) -> Entry {
        Entry { term: Term(term), index: LogIndex(index), payload: Payload::Noop }
    }

    #[test]
    fn a_refused_operation_leaves_the_state_as_it_was() {
        let mut state = DurableState::default();
        let setup = [
            PersistOp::HardState { term: Term(3), vote: Some(NodeId(2)) },
            PersistOp::Entries { from: LogIndex(1), entries: vec![entry(1, 1), entry(2, 2), entry(3, 3)] },
            PersistOp::Snapshot(Snapshot {
                meta: SnapshotMeta::new(LogIndex(2), Term(2)),
                data: Vec::new().into(),
            }),
        ];
        for op in &setup {
            state.apply(op).expect("a consistent setup");
        }
        let refused = [
            PersistOp::HardState { term: Term(2), vote: None },
            PersistOp::Entries { from: LogIndex(5), entries: vec![entry(3, 5)] },
            PersistOp::Entries { from: LogIndex(2), entries: vec![entry(3, 2), entry(3, 4)] },
            PersistOp::Snapshot(Snapshot {
                meta: SnapshotMeta::new(LogIndex(1), Term(1)),
                data: Vec::new().into(),
            }),
            PersistOp::CompactLog { through: LogIndex(3) },
        ];
        for op in &refused {
            let before = state.clone();
            assert!(state.apply(op).is_err(), "{op:?} should be refused");
            assert_eq!(state, before, "{op:?} changed the state it was refused by");
        }
    }
}
