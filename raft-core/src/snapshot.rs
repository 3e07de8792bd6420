//! Snapshots: the state machine as it stood after a prefix of the log, standing in for that
//! prefix once the log is compacted (paper §7, thesis chapter 5).
//!
//! The data is opaque to Raft: the state machine produces it and consumes it (the KV store
//! serializes its data and its client sessions). Raft only keeps it durably, hands it to a
//! follower whose next entry it no longer holds, and hands an installed one to its host.
//!
//! On the wire a snapshot travels in chunks of at most `Config::snapshot_chunk_bytes_max`
//! bytes, one at a time: the follower assembles them in order and restarts when a different
//! snapshot begins. Chunks share the snapshot's bytes, so sending one copies nothing.

use std::fmt;
use std::sync::Arc;

pub use raft_host::{Snapshot, SnapshotMeta};

/// A run of bytes shared with the whole snapshot they come from.
#[derive(Clone)]
pub struct SharedBytes {
    whole: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl SharedBytes {
    /// The bytes `start..end` of `whole`.
    ///
    /// # Panics
    /// If the range does not lie within `whole`.
    #[must_use]
    pub fn new(whole: Arc<[u8]>, start: usize, end: usize) -> SharedBytes {
        assert!(start <= end && end <= whole.len(), "chunk {start}..{end} outside {} bytes", whole.len());
        SharedBytes { whole, start, end }
    }

    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.whole[self.start..self.end]
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> SharedBytes {
        let end = bytes.len();
        SharedBytes { whole: bytes.into(), start: 0, end }
    }
}

impl PartialEq for SharedBytes {
    fn eq(&self, other: &SharedBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SharedBytes {}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.len())
    }
}
