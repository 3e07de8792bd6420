//! Log entries: what a Raft log holds, as every implementation behind the host contract sees it.

use std::sync::Arc;

use crate::membership::Membership;
use crate::types::{LogIndex, Term};

/// What a log entry carries. The data is opaque to Raft: the state machine above it (the KV
/// service) encodes its commands into it and decodes them when they are applied.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Payload {
    /// Appended by a new leader at the start of its term so that entries of earlier terms become
    /// committed promptly (Raft paper §8: a leader may only commit entries of its own term by
    /// counting replicas; the no-op gives it one). Implementations without one never write it.
    Noop,
    /// A command for the state machine. Shared, not copied, when the same entry goes to several
    /// followers or is retransmitted.
    Data(Arc<[u8]>),
    /// A new cluster configuration, one server away from the one before it; in force at every
    /// server whose log holds it (see [`crate::membership`]). Implementations that do not change
    /// their membership never write it.
    Config(Arc<Membership>),
}

impl Payload {
    /// The command's bytes, if the entry carries one.
    #[must_use]
    pub fn data(&self) -> Option<&[u8]> {
        match self {
            Payload::Noop | Payload::Config(_) => None,
            Payload::Data(d) => Some(d),
        }
    }

    /// Whether two payloads are the same. Replicas share one allocation per command, so the
    /// pointer comparison settles it almost always; after a restart (bytes read back from disk)
    /// the contents are compared.
    #[inline]
    #[must_use]
    pub fn same(&self, other: &Payload) -> bool {
        match (self, other) {
            (Payload::Noop, Payload::Noop) => true,
            (Payload::Data(a), Payload::Data(b)) => Arc::ptr_eq(a, b) || a[..] == b[..],
            (Payload::Config(a), Payload::Config(b)) => a == b,
            _ => false,
        }
    }
}

/// One entry of the replicated log.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub payload: Payload,
}

impl Entry {
    /// Bytes this entry occupies on the wire, roughly: fixed fields plus the data.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        24 + match &self.payload {
            Payload::Config(_) => 32,
            p => p.data().map_or(0, <[u8]>::len),
        }
    }
}
