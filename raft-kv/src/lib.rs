//! # raft-kv
//!
//! A fault-tolerant key/value service (Get / Put / Append over string keys) above any Raft
//! implementation behind the host contract of `raft-host`. It sees only what the contract shows:
//! committed entries, whose opaque data it encodes and decodes, snapshots, and the node's view.
//!
//! - [`command`]: client calls and replies, and the encoding of a command into a log entry;
//! - [`KvStore`]: the state machine, with a per-client session table so that a retried command
//!   applies once (thesis §6.3), and its snapshots (data and sessions);
//! - [`KvServer`]: a node, its store, and the client calls waiting for their commands to apply.

pub mod command;
pub mod server;
pub mod store;

pub use command::{ClientError, ClientId, ClientReply, ClientRequest, Command, KvOp, KvResult};
pub use server::{KvServer, ReadPath, ServerError, ServerReady};
pub use store::{Applied, KvStore, ValueDigest};
