//! Building blocks for bare-node stories: one [`RaftNode`] driven by hand, the test playing
//! the other servers with crafted messages, and the helpers that read what it sent.

use std::sync::Arc;

use raft_core::{
    AppendResponse, Body, BugSet, Config, DurableState, Entry, LogIndex, Message, NodeId, Payload, RaftNode,
    Role, Snapshot, SnapshotMeta, Term,
};
use raft_kv::{ClientId, Command, KvOp};

use super::{node_seed, Host, SEED};

pub fn n(id: u32) -> NodeId {
    NodeId(id)
}

/// The members `n0 .. n{size-1}`.
pub fn ids(size: usize) -> Vec<NodeId> {
    (0..size as u32).map(NodeId).collect()
}

/// A fresh node `id` of a cluster of `size`, default configuration.
pub fn bare(id: u32, size: usize) -> RaftNode {
    bare_with(id, size, BugSet::none(), DurableState::default())
}

/// A node `id` of a cluster of `size` with planted `bugs`, restarted from `state`.
pub fn bare_with(id: u32, size: usize, bugs: BugSet, state: DurableState) -> RaftNode {
    let mut config = Config::new(NodeId(id), ids(size));
    config.pre_vote = false;
    config.bugs = bugs;
    RaftNode::boot(config, node_seed(SEED, NodeId(id), 0), state)
}

/// A durable state with this term, vote and a log whose entry `i` has term `terms[i-1]`.
pub fn durable(term: u64, vote: Option<u32>, terms: &[u64]) -> DurableState {
    DurableState {
        term: Term(term),
        vote: vote.map(NodeId),
        entries: entries_from(1, terms),
        ..DurableState::default()
    }
}

/// No-op entries starting at `first` with the given terms.
pub fn entries_from(first: u64, terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(k, t)| Entry { term: Term(*t), index: LogIndex(first + k as u64), payload: Payload::Noop })
        .collect()
}

pub fn log_terms(node: &RaftNode) -> Vec<u64> {
    node.log().entries().iter().map(|e| e.term.0).collect()
}

pub fn vote_request(from: u32, to: u32, term: u64, last_index: u64, last_term: u64) -> Message {
    let body = Body::RequestVote {
        last_log_index: LogIndex(last_index),
        last_log_term: Term(last_term),
        transfer: false,
    };
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

pub fn vote_response(from: u32, to: u32, term: u64, granted: bool) -> Message {
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(term),
        body: Body::RequestVoteResponse { granted },
    }
}

/// An AppendEntries `from -> to` in `term`, after (`prev_index`, `prev_term`).
pub fn append(
    from: u32,
    to: u32,
    term: u64,
    (prev_index, prev_term): (u64, u64),
    entries: Vec<Entry>,
    commit: u64,
) -> Message {
    let body = Body::AppendEntries {
        prev_log_index: LogIndex(prev_index),
        prev_log_term: Term(prev_term),
        entries,
        leader_commit: LogIndex(commit),
        seq: REQUEST_SEQ,
    };
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

/// The number hand-made requests carry; a follower echoes it.
pub const REQUEST_SEQ: u64 = 1;

/// The number hand-made answers carry: the highest, so that a leader takes them as answers to
/// its newest request, whenever it added the follower.
pub const ANSWER_SEQ: u64 = u64::MAX;

/// An acknowledgement `from -> to` in `term`: the follower's log matches through `match_index`.
pub fn accepted(from: u32, to: u32, term: u64, match_index: u64) -> Message {
    let response = AppendResponse::Accepted { match_index: LogIndex(match_index) };
    let body = Body::AppendEntriesResponse { seq: ANSWER_SEQ, response };
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

/// A whole snapshot through (`index`, `term`) holding `data`.
pub fn snapshot(index: u64, term: u64, data: &[u8]) -> Snapshot {
    Snapshot { meta: SnapshotMeta::new(LogIndex(index), Term(term)), data: data.into() }
}

/// The InstallSnapshot chunk `from -> to` in `term` carrying bytes `range` of `snapshot`.
pub fn install(from: u32, to: u32, term: u64, snapshot: &Snapshot, range: std::ops::Range<usize>) -> Message {
    let done = range.end == snapshot.data.len();
    let body = Body::InstallSnapshot {
        meta: Box::new(snapshot.meta),
        offset: range.start as u64,
        data: raft_core::SharedBytes::new(Arc::clone(&snapshot.data), range.start, range.end),
        done,
        seq: REQUEST_SEQ,
    };
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

/// The same snapshot in one chunk.
pub fn install_whole(from: u32, to: u32, term: u64, snapshot: &Snapshot) -> Message {
    install(from, to, term, snapshot, 0..snapshot.data.len())
}

/// A durable state holding a snapshot and a log from `first` with the given terms, never cut.
pub fn durable_with_snapshot(term: u64, snapshot: Snapshot, first: u64, terms: &[u64]) -> DurableState {
    DurableState {
        term: Term(term),
        compacted_through: LogIndex(first - 1),
        entries: entries_from(first, terms),
        snapshot: Some(snapshot),
        ..DurableState::default()
    }
}

/// Drains every ready of a bare node, acknowledging each write at once, and returns the
/// messages it sent.
pub fn drain(node: &mut RaftNode) -> Vec<Message> {
    let mut sent = Vec::new();
    while node.has_ready() {
        let ready = node.ready();
        sent.extend(ready.messages);
        node.persisted(ready.number);
    }
    sent
}

/// As [`drain`], writing each ready's persist ops to `disk` before acknowledging it.
pub fn drain_to(node: &mut RaftNode, disk: &mut DurableState) -> Vec<Message> {
    let mut sent = Vec::new();
    while node.has_ready() {
        let ready = node.ready();
        for op in &ready.persist {
            disk.apply(op).expect("a write that fits the disk");
        }
        sent.extend(ready.messages);
        node.persisted(ready.number);
    }
    sent
}

/// Ticks a bare node until it stands for election (its requests wait in the node until its
/// vote for itself is persisted). Returns the ticks it took.
pub fn tick_until_candidate(node: &mut RaftNode) -> u32 {
    let mut ticks = 0;
    while node.role() == Role::Follower {
        node.tick();
        ticks += 1;
        assert!(ticks <= 10_000, "{} never campaigned", node.id());
    }
    ticks
}

/// Makes a bare node leader of its cluster: it campaigns, persists, and a majority grants.
pub fn make_leader(node: &mut RaftNode) {
    tick_until_candidate(node);
    drain(node);
    let term = node.term().0;
    let me = node.id();
    let voters: Vec<NodeId> = node.config().members.iter().copied().filter(|m| *m != me).collect();
    for voter in voters {
        if node.role() == Role::Leader {
            break;
        }
        node.step(vote_response(voter.0, me.0, term, true));
    }
    assert_eq!(node.role(), Role::Leader);
}

/// A client command that appends `value` to `key`.
pub fn append_cmd(client: u64, seq: u64, key: &str, value: &str) -> Arc<[u8]> {
    Command { client: ClientId(client), seq, op: KvOp::Append { key: key.into(), value: value.into() } }
        .encode()
}

pub fn get_op(key: &str) -> KvOp {
    KvOp::Get { key: key.into() }
}

pub fn append_op(key: &str, value: &str) -> KvOp {
    KvOp::Append { key: key.into(), value: value.into() }
}

/// An entry carrying a command, for stories that check what was applied.
pub fn command_entry(term: u64, index: u64, command: Arc<[u8]>) -> Entry {
    Entry { term: Term(term), index: LogIndex(index), payload: Payload::Data(command) }
}

/// The messages of one kind, rendered one a line.
pub fn lines(messages: &[Message]) -> Vec<String> {
    messages.iter().map(ToString::to_string).collect()
}

/// Compares transcript lines with an expected block (one line each, surrounding blanks ignored),
/// printing both in full on a mismatch.
#[track_caller]
pub fn assert_transcript(actual: &[String], expected: &str) {
    let expected: Vec<&str> = expected.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    assert!(
        actual == expected,
        "transcript differs\n--- expected\n{}\n--- actual\n{}\n",
        expected.join("\n"),
        actual.join("\n")
    );
}
