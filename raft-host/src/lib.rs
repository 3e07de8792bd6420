//! # raft-host
//!
//! The contract between a Raft implementation and the host that drives it, and the vocabulary
//! both speak. The deterministic simulator drives any implementation through [`Raft`]:
//! `raft-core` implements it directly, an adapter implements it for tikv/raft-rs, and the KV
//! service (`raft-kv`) runs above it on committed entries, so it works on any of them.
//!
//! - [`contract`]: the [`Raft`] trait, its numbered [`Ready`] batches, and the read-only view
//!   ([`View`], [`MessageView`]) the host's checks need;
//! - [`types`], [`entry`], [`snapshot`]: terms, indexes, node ids, log entries with opaque data,
//!   snapshots;
//! - [`storage`]: the writes an implementation asks its host to make durable ([`PersistOp`]) and
//!   the state it is restored from ([`DurableState`]);
//! - [`membership`]: cluster configurations (voters, learners) and single-server changes;
//! - [`wal`]: a checksummed record format for those writes, with torn-tail recovery;
//! - [`bugs`]: the catalogue of planted bugs the harness can switch on.

pub mod bugs;
pub mod contract;
pub mod entry;
pub mod membership;
pub mod snapshot;
pub mod storage;
pub mod types;
pub mod wal;

pub use bugs::{Bug, BugSet};
pub use contract::{
    Backoff, Choices, Feature, MessageKind, MessageView, NotLeader, Raft, ReadError, ReadState, Ready, Role,
    Setup, TransferError, View,
};
pub use entry::{Entry, Payload};
pub use membership::{ChangeError, Membership, MembershipChange, NodeSet};
pub use snapshot::{Snapshot, SnapshotMeta};
pub use storage::{DurableState, PersistOp, StorageError};
pub use types::{LogIndex, NodeId, Term};
