//! Snapshots: the state machine as it stood after a prefix of the log, standing in for that
//! prefix once the log is compacted (paper §7, thesis chapter 5). The data is opaque to Raft:
//! the state machine produces it and consumes it.

use std::fmt;
use std::sync::Arc;

use crate::membership::Membership;
use crate::types::{LogIndex, Term};

/// What a snapshot covers: the last entry it includes (the paper's "lastIncludedIndex" and
/// "lastIncludedTerm"), which the log consistency check uses in place of the compacted entry,
/// and the configuration in force at that entry (paper §7: "the latest configuration as of
/// lastIncludedIndex"), which the entries it stands for no longer carry.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct SnapshotMeta {
    pub last_index: LogIndex,
    pub last_term: Term,
    /// Empty when none is recorded: the cluster's bootstrap configuration is in force (and
    /// always so for an implementation that does not change its membership).
    pub membership: Membership,
}

impl SnapshotMeta {
    /// Metadata recording no configuration (a cluster that never changed its members).
    #[must_use]
    pub fn new(last_index: LogIndex, last_term: Term) -> SnapshotMeta {
        SnapshotMeta { last_index, last_term, membership: Membership::default() }
    }
}

/// A snapshot: its metadata and the state machine's bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Arc<[u8]>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snapshot({}/{}, {} bytes)", self.meta.last_index, self.meta.last_term, self.data.len())
    }
}

impl fmt::Display for SnapshotMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.last_index, self.last_term)
    }
}
