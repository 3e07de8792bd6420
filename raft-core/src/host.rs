//! `RaftNode` behind the host contract of `raft-host`: the node's own API, one to one, plus the
//! view a host's checks read.

use std::sync::Arc;

use raft_host::{
    Bug, ChangeError, DurableState, Entry, Feature, LogIndex, Membership, MembershipChange, MessageKind,
    MessageView, NodeId, NotLeader, Raft, ReadError, Setup, Term, TransferError, View,
};

use crate::config::Config;
use crate::message::{AppendResponse, Body, Message, SnapshotResponse};
use crate::node::{RaftNode, Ready};

impl Config {
    /// The configuration a host's setup describes.
    #[must_use]
    pub fn from_setup(setup: &Setup) -> Config {
        let mut config = Config::new(setup.id, setup.members.clone());
        config.election_ticks_min = setup.election_ticks_min;
        config.election_ticks_max = setup.election_ticks_max;
        config.heartbeat_ticks = setup.heartbeat_ticks;
        config.append_entries_max = setup.append_entries_max;
        config.snapshot_chunk_bytes_max = setup.snapshot_chunk_bytes_max;
        config.check_quorum = setup.check_quorum;
        config.pre_vote = setup.pre_vote;
        config.bugs = setup.bugs;
        // A lease rests on the sticky-leader rule (see read_index.rs).
        config.read_lease = setup.read_lease;
        config.sticky_leader = setup.read_lease || setup.sticky_leader;
        config.choices = setup.choices;
        config
    }
}

impl Raft for RaftNode {
    type Message = Message;

    const NAME: &'static str = "raft-core";

    /// Every protocol bug of the catalogue is planted in raft-core.
    fn supports(_bug: Bug) -> bool {
        true
    }

    fn boot(setup: &Setup, state: DurableState) -> Result<RaftNode, String> {
        let mut node = RaftNode::new(Config::from_setup(setup), setup.seed).map_err(|e| e.to_string())?;
        node.restore(state);
        Ok(node)
    }

    fn tick(&mut self) {
        RaftNode::tick(self);
    }

    fn step(&mut self, m: Message) {
        RaftNode::step(self, m);
    }

    fn propose(&mut self, data: Arc<[u8]>) -> Result<(LogIndex, Term), NotLeader> {
        RaftNode::propose(self, data)
    }

    fn persisted(&mut self, ready: u64) {
        RaftNode::persisted(self, ready);
    }

    fn maybe_compact(&mut self, index: LogIndex, data: Arc<[u8]>) -> bool {
        RaftNode::maybe_compact(self, index, data)
    }

    fn has_ready(&self) -> bool {
        RaftNode::has_ready(self)
    }

    fn ready_into(&mut self, ready: &mut Ready) {
        RaftNode::ready_into(self, ready);
    }

    fn view(&self) -> View {
        let log = self.log();
        View {
            role: self.role(),
            term: self.term(),
            vote: self.vote(),
            leader: self.leader(),
            commit: self.commit_index(),
            applied: self.applied_index(),
            durable: Some(self.durable_index()),
            snapshot: (log.snapshot_index() > LogIndex::ZERO).then(|| log.snapshot_meta()),
            last_index: log.last_index(),
        }
    }

    fn entry(&self, index: LogIndex) -> Option<Entry> {
        self.log().get(index).cloned()
    }

    fn raft_state_bytes(&self) -> u64 {
        RaftNode::raft_state_bytes(self) as u64
    }

    fn supports_feature(_feature: Feature) -> bool {
        true
    }

    fn configuration(&self) -> Option<Membership> {
        Some(self.membership())
    }

    fn change_membership(&mut self, change: MembershipChange) -> Result<LogIndex, ChangeError> {
        RaftNode::change_membership(self, change)
    }

    fn transfer_leadership(&mut self, to: NodeId) -> Result<(), TransferError> {
        RaftNode::transfer_leadership(self, to)
    }

    fn read_index(&mut self, ctx: u64) -> Result<(), ReadError> {
        RaftNode::read_index(self, ctx)
    }

    /// Everything a node holds is plain data (its random stream included), so a clone is exact.
    fn duplicate(&self) -> Option<RaftNode> {
        Some(self.clone())
    }

    fn inspect(m: &Message) -> MessageView {
        let kind = match &m.body {
            Body::RequestVote { last_log_index, last_log_term, .. } => {
                MessageKind::Vote { last_index: *last_log_index, last_term: *last_log_term }
            }
            Body::RequestVoteResponse { granted } => MessageKind::VoteReply { granted: *granted },
            Body::PreVote { last_log_index, last_log_term } => {
                MessageKind::PreVote { last_index: *last_log_index, last_term: *last_log_term }
            }
            Body::PreVoteResponse { granted } => MessageKind::PreVoteReply { granted: *granted },
            Body::AppendEntries { prev_log_index, prev_log_term, entries, leader_commit, .. } => {
                MessageKind::Append {
                    prev_index: *prev_log_index,
                    prev_term: *prev_log_term,
                    entries: entries.len(),
                    commit: *leader_commit,
                }
            }
            Body::AppendEntriesResponse { response: AppendResponse::Accepted { match_index }, .. } => {
                MessageKind::AppendReply { matched: Some(*match_index), rejected: None }
            }
            Body::AppendEntriesResponse {
                response: AppendResponse::Rejected { rejected_prev_index, .. },
                ..
            } => MessageKind::AppendReply { matched: None, rejected: Some(*rejected_prev_index) },
            Body::InstallSnapshot { meta, offset, data, done, .. } => MessageKind::Snapshot {
                last_index: meta.last_index,
                offset: *offset,
                bytes: data.len(),
                done: *done,
            },
            Body::InstallSnapshotResponse { response: SnapshotResponse::Done { match_index }, .. } => {
                MessageKind::SnapshotReply { matched: Some(*match_index) }
            }
            Body::InstallSnapshotResponse { response: SnapshotResponse::Partial { .. }, .. } => {
                MessageKind::SnapshotReply { matched: None }
            }
            Body::TimeoutNow => MessageKind::TimeoutNow,
            Body::ConfirmLeadership { .. } => MessageKind::Other("confirm"),
            Body::LeadershipConfirmed { .. } => MessageKind::Other("confirm_resp"),
        };
        MessageView { from: m.from, to: m.to, term: m.term, kind, bytes: m.size_bytes() }
    }
}
