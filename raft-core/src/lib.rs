//! # raft-core
//!
//! The Raft consensus protocol and a replicated key/value state machine, written as pure state
//! machines with no I/O: no clock, no threads, no sockets, no files, no global randomness. A host
//! (the deterministic simulator in this workspace, or a real server) feeds inputs and carries out
//! the outputs.
//!
//! - [`RaftNode`]: one Raft server. See [`node`] for the host contract (ticks, messages,
//!   proposals, numbered readies and persistence acknowledgements).
//! - [`KvStore`]: Get / Put / Append over string keys with per-client sessions, so that a retried
//!   command applies once.
//! - [`KvServer`]: a node plus its store plus the client calls waiting for their commands to
//!   apply: the KV service a client talks to.
//! - [`snapshot`]: snapshots of the state machine, which let a node compact its log and catch
//!   up a far-behind follower with InstallSnapshot (paper §7).
//! - [`wal`]: a checksummed record format for persisted state, with torn-tail recovery.
//! - [`Bug`]: planted bugs, off by default, with which the harness proves its checks work.
//!
//! Rules cite the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", 2014) by section, and Ongaro's thesis (2014) where the paper is silent.

pub mod bugs;
mod compaction;
pub mod config;
mod election;
pub mod kv;
pub mod log;
pub mod membership;
pub mod message;
pub mod node;
pub mod read_index;
mod replication;
pub mod server;
pub mod snapshot;
pub mod storage;
pub mod transfer;
pub mod types;
pub mod wal;

pub use bugs::{Bug, BugSet};
pub use config::{Config, ConfigError};
pub use kv::{Applied, KvStore, ValueDigest};
pub use log::RaftLog;
pub use membership::{ChangeError, Membership, MembershipChange, NodeSet};
pub use message::{
    AppendResponse, Body, ClientError, ClientReply, ClientRequest, Command, Entry, KvOp, KvResult, Message,
    Payload, SnapshotResponse,
};
pub use node::{NotLeader, ProposeError, RaftNode, Ready, Role};
pub use read_index::{ReadError, ReadState};
pub use server::{KvServer, ServerError, ServerReady};
pub use snapshot::{SharedBytes, Snapshot, SnapshotMeta};
pub use storage::{DurableState, PersistOp};
pub use transfer::TransferError;
pub use types::{ClientId, LogIndex, NodeId, Term};
