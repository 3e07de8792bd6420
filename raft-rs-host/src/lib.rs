//! # raft-rs-host
//!
//! tikv/raft-rs (crate `raft` 0.7) behind the host contract of `raft-host`, so that the
//! deterministic simulator (and the KV service above the contract) drive it exactly as they
//! drive raft-core. The adapter passes raft-rs's messages through untouched, persists what
//! raft-rs asks to persist, and shows raft-rs's own state; where raft-rs's API and the contract
//! differ it adapts, and every such place is listed here.
//!
//! ## How the contract maps onto raft-rs
//!
//! | contract | raft-rs |
//! | --- | --- |
//! | [`Raft::boot`] | `RawNode::new` over a [`WrittenLog`] built from the durable state; the durable snapshot and the log after it (a log that contradicts the snapshot at its last entry is dropped, Figure 13); `Config::applied` is the snapshot's index; the voters are the setup's members |
//! | [`Raft::tick`] | `RawNode::tick` |
//! | [`Raft::step`] | `RawNode::step`, for messages addressed to this node by another member |
//! | [`Raft::propose`] | `RawNode::propose` on a leader; the entry's index is raft-rs's new last index |
//! | [`Raft::ready_into`] | `RawNode::ready`, then `advance_append_async` and `advance_apply_to` (the host applies committed entries inside `ready_into`) |
//! | [`Raft::persisted`] | `RawNode::on_persist_ready` with the newest raft-rs ready the host ready rests on |
//! | [`Raft::maybe_compact`] | the storage keeps the snapshot and drops the entries it covers |
//! | [`Raft::view`] | raft-rs's term, vote, role, leader, `committed`, `persisted` (the durable index) and last index; the adapter's applied index and snapshot |
//! | [`Raft::inspect`] | [`message::view`]: raft-rs's fields, with the promises raft-rs makes |
//!
//! Ready numbers: the host's readies are the adapter's own, numbered from 1 per incarnation; a
//! host ready holds at most one raft-rs ready, and may hold writes of the adapter's (a log cut, a
//! snapshot the host took). `persisted(n)` reports to raft-rs the newest raft-rs ready whose
//! writes, and every earlier one's, are in host readies up to `n`.
//!
//! ## Where raft-rs and the contract differ
//!
//! - **Persisted messages.** raft-rs splits a ready's messages into those a leader may send at
//!   once (appends to followers, before its own write, as the thesis §10.2.1 allows) and
//!   "persisted messages" (votes, append and heartbeat responses, vote requests) to send only
//!   after the ready's writes are durable. The adapter hands the first kind over with the ready
//!   and holds the second until `persisted` covers the host ready they rest on (that ready's
//!   writes, or for a ready without writes, the last writes before it).
//! - **Hard state.** The contract's durable state has a term and a vote, no commit index: the
//!   adapter writes `HardState { term, vote }` when either changes and drops raft-rs's commit
//!   index (a ready that moves only the commit index has `must_sync` false: raft-rs does not need
//!   it durable). A restarted node starts with its snapshot's index committed and learns the
//!   rest from the leader.
//! - **Applied.** raft-rs is told what the host applied (`advance_apply_to`) right after the
//!   ready that handed it over, since the KV service applies committed entries inside
//!   `ready_into`. A snapshot installed from the leader is handed to the host at once but counted
//!   applied by raft-rs only once it is durable (raft-rs refuses an applied index past its
//!   persisted one).
//! - **Snapshots.** raft-rs sends a snapshot whole (no chunks: `snapshot_chunk_bytes_max` is not
//!   used) and answers it with an append response, never an InstallSnapshot reply. It installs
//!   a snapshot only when its log does not hold the snapshot's last entry, and then replaces the
//!   whole log. The adapter writes that as the contract's normalized operations: a truncation
//!   from the snapshot's index if a written entry conflicts there, the snapshot, and, once the
//!   snapshot is durable, the cut through it (never the cut before the snapshot is durable; until
//!   the cut is handed over, raft-rs's readies wait, since their entries would continue a log the
//!   disk does not know starts there). A snapshot the host takes is written in the next ready and
//!   the log cut once it is durable; raft-rs's in-memory log drops the covered entries at once.
//! - **Reporting snapshots.** raft-rs pauses a follower it sent a snapshot to until the host
//!   calls `report_snapshot` or the follower answers; the adapter reports a failure after an
//!   election timeout without an answer, as a transport would time out.
//! - **The election timeout** comes from the seed, not from `thread_rng`: see [`timer`].
//! - **Batching.** raft-rs bounds an append by bytes, the contract by entries: the adapter
//!   allows [`node::APPEND_BYTES_PER_ENTRY`] bytes per entry of `append_entries_max` (raft-rs
//!   always sends at least one entry).
//! - **Entries.** raft-rs appends an empty entry when a leader takes office: the contract's
//!   [`raft_host::Payload::Noop`] (client commands are never empty). Entry types and contexts are
//!   not written: the adapter proposes no configuration changes, so every entry is a normal one
//!   with an empty context.
//! - **Membership** is static: the setup's members are raft-rs's voters, in every snapshot too.
//! - **Planted bugs** of the protocol layer are raft-core's: [`Raft::supports`] says no to them,
//!   and `boot` refuses a setup that names one. Those of the state machine work above any Raft.
//!
//! ## Determinism
//!
//! raft-rs draws its election timeout from `rand::thread_rng()`; the adapter overwrites each
//! draw before it is used ([`timer`]). raft-rs keeps its peers' progress and votes in hash maps
//! with a fixed hasher (`fxhash`, no random state), so their iteration order is the same on every
//! run of one binary; where it reaches an output (the order of a broadcast's messages) the
//! adapter sorts the ready's messages by destination, keeping each destination's messages in
//! raft-rs's order. raft-rs logs through `slog`; the adapter gives it a discarding logger.

pub mod message;
pub mod node;
pub mod storage;
pub mod timer;

use std::sync::Arc;

use raft_host::{Bug, DurableState, Entry, LogIndex, MessageView, NotLeader, Raft, Ready, Setup, Term, View};

pub use message::RsMessage;
pub use node::RaftRsNode;
pub use storage::WrittenLog;

/// raft-rs itself, for hosts and tests that look inside.
pub use raft;

impl Raft for RaftRsNode {
    type Message = RsMessage;

    const NAME: &'static str = "raft-rs";

    fn supports(bug: Bug) -> bool {
        RaftRsNode::supports(bug)
    }

    fn boot(setup: &Setup, state: DurableState) -> Result<Self, String> {
        RaftRsNode::boot(setup, state)
    }

    fn tick(&mut self) {
        RaftRsNode::tick(self);
    }

    fn step(&mut self, m: RsMessage) {
        RaftRsNode::step(self, m);
    }

    fn propose(&mut self, data: Arc<[u8]>) -> Result<(LogIndex, Term), NotLeader> {
        RaftRsNode::propose(self, &data)
    }

    fn persisted(&mut self, ready: u64) {
        RaftRsNode::persisted(self, ready);
    }

    fn maybe_compact(&mut self, index: LogIndex, data: Arc<[u8]>) -> bool {
        RaftRsNode::maybe_compact(self, index, data)
    }

    fn has_ready(&self) -> bool {
        RaftRsNode::has_ready(self)
    }

    fn ready_into(&mut self, ready: &mut Ready<RsMessage>) {
        RaftRsNode::ready_into(self, ready);
    }

    fn view(&self) -> View {
        RaftRsNode::view(self)
    }

    fn entry(&self, index: LogIndex) -> Option<Entry> {
        RaftRsNode::entry(self, index)
    }

    fn term_at(&self, index: LogIndex) -> Option<Term> {
        RaftRsNode::term_at(self, index)
    }

    fn raft_state_bytes(&self) -> u64 {
        RaftRsNode::raft_state_bytes(self)
    }

    fn inspect(m: &RsMessage) -> MessageView {
        RaftRsNode::inspect(m)
    }
}
