//! # raft-core
//!
//! The Raft consensus protocol, written as a pure state machine with no I/O: no clock, no
//! threads, no sockets, no files, no global randomness. A host (the deterministic simulator in
//! this workspace, or a real server) feeds inputs and carries out the outputs, through the host
//! contract of `raft-host` ([`raft_host::Raft`]), which [`RaftNode`] implements. The state
//! machine above it (the KV service of `raft-kv`) sees only committed entries with opaque data.
//!
//! - [`RaftNode`]: one Raft server. See [`node`] for the host contract (ticks, messages,
//!   proposals, numbered readies and persistence acknowledgements).
//! - [`snapshot`]: snapshots of the state machine, which let a node compact its log and catch
//!   up a far-behind follower with InstallSnapshot (paper §7).
//! - [`wal`]: a checksummed record format for persisted state, with torn-tail recovery.
//! - [`recovery`]: protocol-aware recovery, the rules a node follows after its disk lost
//!   something it had promised (no vote, no campaign until a later leader repairs it).
//! - [`Bug`]: planted bugs, off by default, with which the harness proves its checks work.
//!
//! Rules cite the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", 2014) by section, and Ongaro's thesis (2014) where the paper is silent.

mod compaction;
pub mod config;
mod election;
mod host;
pub mod log;
pub mod membership;
pub mod message;
pub mod node;
mod progress;
pub mod read_index;
pub mod recovery;
mod replication;
pub mod snapshot;
pub mod transfer;

// The vocabulary of the host contract, under the paths this crate always used.
pub use raft_host::{bugs, storage, types, wal};

pub use bugs::{Bug, BugSet};
pub use config::{Config, ConfigError};
pub use log::RaftLog;
pub use membership::{ChangeError, Membership, MembershipChange, NodeSet};
pub use message::{AppendResponse, Body, Entry, Message, Payload, SnapshotResponse};
pub use node::{NotLeader, RaftNode, Ready, Role};
pub use read_index::{ReadError, ReadState};
pub use snapshot::{SharedBytes, Snapshot, SnapshotMeta};
pub use storage::{DurableState, PersistOp};
pub use transfer::TransferError;
pub use types::{LogIndex, NodeId, Term};
