//! raft-rs's messages as the host moves them: wrapped, never changed, and read through
//! [`MessageView`] with the promises raft-rs makes in them and no others.

use std::fmt;

use raft::eraftpb::{self, MessageType};
use raft_host::{LogIndex, MessageKind, MessageView, NodeId, Term};

/// A raft-rs message between servers, exactly as raft-rs produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct RsMessage(pub eraftpb::Message);

/// raft-rs numbers its peers from 1 (0 means "none"); the contract numbers nodes from 0.
#[must_use]
pub fn peer_id(node: NodeId) -> u64 {
    u64::from(node.0) + 1
}

/// The node a raft-rs peer id names, if it names one.
#[must_use]
pub fn node_of(id: u64) -> Option<NodeId> {
    id.checked_sub(1).and_then(|n| u32::try_from(n).ok()).map(NodeId)
}

/// What a message promises and carries, read off raft-rs's fields.
///
/// Promises, only where raft-rs makes them:
/// - `MsgRequestVote`: the sender voted for itself in the message's term (raft-rs sends it after
///   the ready holding that vote);
/// - a `MsgRequestVoteResponse` that does not reject: the sender voted for the receiver in the
///   message's term (raft-rs sets the request's term on it);
/// - a `MsgAppendResponse` that does not reject, with an index: the sender's log matches the
///   leader's up to that index. raft-rs answers an append with the last index it matched, an
///   append below its commit index with its commit index, and a snapshot with its last index
///   (installed) or its commit index (not needed): each time its log holds that prefix, and the
///   adapter sends the answer only once the ready that produced it is durable. An answer with
///   index 0 that does not reject is raft-rs's reply to a leader of an older term (with
///   check-quorum or pre-vote): it promises nothing.
///
/// raft-rs answers a snapshot with an append response, so no `SnapshotReply` is ever seen.
#[must_use]
pub fn view(m: &eraftpb::Message) -> MessageView {
    let kind = match m.msg_type {
        MessageType::MsgRequestVote => {
            MessageKind::Vote { last_index: LogIndex(m.index), last_term: Term(m.log_term) }
        }
        MessageType::MsgRequestVoteResponse => MessageKind::VoteReply { granted: !m.reject },
        MessageType::MsgRequestPreVote => {
            MessageKind::PreVote { last_index: LogIndex(m.index), last_term: Term(m.log_term) }
        }
        MessageType::MsgRequestPreVoteResponse => MessageKind::PreVoteReply { granted: !m.reject },
        MessageType::MsgAppend => MessageKind::Append {
            prev_index: LogIndex(m.index),
            prev_term: Term(m.log_term),
            entries: m.entries.len(),
            commit: LogIndex(m.commit),
        },
        MessageType::MsgAppendResponse if m.reject => {
            MessageKind::AppendReply { matched: None, rejected: Some(LogIndex(m.index)) }
        }
        MessageType::MsgAppendResponse => {
            MessageKind::AppendReply { matched: (m.index > 0).then_some(LogIndex(m.index)), rejected: None }
        }
        MessageType::MsgHeartbeat => MessageKind::Heartbeat { commit: LogIndex(m.commit) },
        MessageType::MsgHeartbeatResponse => MessageKind::HeartbeatReply,
        MessageType::MsgSnapshot => {
            let s = m.get_snapshot();
            MessageKind::Snapshot {
                last_index: LogIndex(s.get_metadata().index),
                offset: 0,
                bytes: s.data.len(),
                done: true,
            }
        }
        MessageType::MsgTimeoutNow => MessageKind::TimeoutNow,
        other => MessageKind::Other(type_name(other)),
    };
    MessageView {
        from: node_of(m.from).unwrap_or_default(),
        to: node_of(m.to).unwrap_or_default(),
        term: Term(m.term),
        kind,
        bytes: size_bytes(m),
    }
}

/// Bytes on the wire, roughly: fixed fields, each entry's with its data, the snapshot's data.
fn size_bytes(m: &eraftpb::Message) -> usize {
    let entries: usize = m.entries.iter().map(|e| 24 + e.data.len()).sum();
    let snapshot = if m.has_snapshot() { 24 + m.get_snapshot().data.len() } else { 0 };
    48 + entries + snapshot
}

fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::MsgHup => "hup",
        MessageType::MsgBeat => "beat",
        MessageType::MsgPropose => "propose",
        MessageType::MsgAppend => "append",
        MessageType::MsgAppendResponse => "append_resp",
        MessageType::MsgRequestVote => "vote",
        MessageType::MsgRequestVoteResponse => "vote_resp",
        MessageType::MsgSnapshot => "snapshot",
        MessageType::MsgHeartbeat => "heartbeat",
        MessageType::MsgHeartbeatResponse => "heartbeat_resp",
        MessageType::MsgUnreachable => "unreachable",
        MessageType::MsgSnapStatus => "snap_status",
        MessageType::MsgCheckQuorum => "check_quorum",
        MessageType::MsgTransferLeader => "transfer_leader",
        MessageType::MsgTimeoutNow => "timeout_now",
        MessageType::MsgReadIndex => "read_index",
        MessageType::MsgReadIndexResp => "read_index_resp",
        MessageType::MsgRequestPreVote => "prevote",
        MessageType::MsgRequestPreVoteResponse => "prevote_resp",
    }
}

/// One line, in raft-rs's own terms (its 1-based peer ids, its field names).
impl fmt::Display for RsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(f, "{:?} {}->{} term {}", m.msg_type, m.from, m.to, m.term)?;
        match m.msg_type {
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote => {
                write!(f, " last {}/{} commit {}/{}", m.index, m.log_term, m.commit, m.commit_term)
            }
            MessageType::MsgRequestVoteResponse | MessageType::MsgRequestPreVoteResponse => {
                write!(f, " {}", if m.reject { "reject" } else { "grant" })?;
                if m.reject && m.commit > 0 {
                    write!(f, " commit {}/{}", m.commit, m.commit_term)?;
                }
                Ok(())
            }
            MessageType::MsgAppend => {
                write!(f, " prev {}/{} entries {}", m.index, m.log_term, m.entries.len())?;
                if let (Some(first), Some(last)) = (m.entries.first(), m.entries.last()) {
                    write!(f, " ({}/{}..{}/{})", first.index, first.term, last.index, last.term)?;
                }
                write!(f, " commit {}", m.commit)
            }
            MessageType::MsgAppendResponse if m.reject => {
                write!(f, " reject {} hint {}/{} commit {}", m.index, m.reject_hint, m.log_term, m.commit)
            }
            MessageType::MsgAppendResponse => write!(f, " index {} commit {}", m.index, m.commit),
            MessageType::MsgHeartbeat | MessageType::MsgHeartbeatResponse => {
                write!(f, " commit {}", m.commit)
            }
            MessageType::MsgSnapshot => {
                let s = m.get_snapshot();
                let meta = s.get_metadata();
                write!(f, " snapshot {}/{} ({} bytes)", meta.index, meta.term, s.data.len())
            }
            _ => Ok(()),
        }
    }
}
