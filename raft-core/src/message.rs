//! What travels between servers: the Raft RPCs, as one-way messages.
//!
//! Requests and responses are separate one-way messages, as in etcd-raft: a host moves them over
//! any transport, and the core never waits on a reply.

use std::fmt;

use crate::snapshot::{SharedBytes, SnapshotMeta};
use crate::types::{LogIndex, NodeId, Term};

pub use raft_host::{Entry, Payload};

/// A Raft message between two servers. `term` is the sender's current term (paper Figure 2).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub body: Body,
}

/// The Raft RPCs of the paper's Figure 2, as one-way messages.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    RequestVote {
        last_log_index: LogIndex,
        last_log_term: Term,
        /// Sent by the target of a leadership transfer: voters grant it even while they hear
        /// from a leader (thesis §3.10 and §4.2.3), as the leader asked for this election.
        transfer: bool,
    },
    RequestVoteResponse {
        granted: bool,
    },
    /// "Would you vote for me in term `term`?", asked before a real election so that a node
    /// that cannot win (a stale log, or cut off while the others still hear a leader) does not
    /// raise everyone's term and depose a working leader (thesis §9.6). The message's term is
    /// the term the sender would campaign in; its own term does not change.
    PreVote {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    /// The answer; a granted pre-vote carries the asked-for term, a refusal the voter's.
    PreVoteResponse {
        granted: bool,
    },
    /// Also the heartbeat, with no entries. `prev_log_index` names the entry the follower must
    /// already hold for `entries` to follow it.
    AppendEntries {
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
        /// Numbers this request among all the leader sent (see `AppendEntriesResponse`).
        seq: u64,
    },
    /// The answer to the AppendEntries numbered `seq`. The number lets the leader tell which
    /// answers speak of a log that is gone: a server removed, wiped and added back must not be
    /// credited with entries it acknowledged before the wipe, nor a follower with entries it
    /// acknowledged before it reported lost ones; and a report of lost entries older than an
    /// acknowledgement speaks of a log since repaired (see `Progress` in `progress.rs`).
    AppendEntriesResponse {
        seq: u64,
        response: AppendResponse,
    },
    /// One chunk of the leader's snapshot, for a follower whose next entry the leader no longer
    /// holds (paper §7, Figure 13): `data` is the snapshot's bytes from `offset`; `done` marks
    /// the last chunk.
    InstallSnapshot {
        /// Boxed: with its configuration it would make this the largest message, and every
        /// message would pay for it.
        meta: Box<SnapshotMeta>,
        offset: u64,
        data: SharedBytes,
        done: bool,
        /// Numbered as AppendEntries are, from the same counter.
        seq: u64,
    },
    /// The answer to the chunk numbered `seq` (see `AppendEntriesResponse`).
    InstallSnapshotResponse {
        seq: u64,
        response: SnapshotResponse,
    },
    /// The leader asks the target of a leadership transfer, whose log matches its own, to
    /// start an election at once (thesis §3.10).
    TimeoutNow,
    /// A leadership check (thesis §6.4): "am I still your leader?". Round numbers grow within
    /// a term; an answer to round `r` proves that the answerer still followed this leader after
    /// the round was sent, which confirms ReadIndex reads and renews the leader's lease.
    ConfirmLeadership {
        round: u64,
    },
    /// The answer: the sender follows the leader of this term, as of round `round`.
    LeadershipConfirmed {
        round: u64,
    },
}

/// The answer to an InstallSnapshot chunk.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum SnapshotResponse {
    /// The snapshot through `last_index` has arrived in order up to byte `received`: the leader
    /// sends on from there (from 0 when the follower started over).
    Partial { last_index: LogIndex, received: u64 },
    /// The follower's log matches the leader's up to `match_index`: it installed the snapshot
    /// and made it durable, or it already held everything the snapshot covers.
    Done { match_index: LogIndex },
}

/// The answer to an AppendEntries.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum AppendResponse {
    /// The follower's log now matches the leader's up to and including `match_index`.
    Accepted { match_index: LogIndex },
    /// The follower has no entry matching (`rejected_prev_index`, prev term). The hint lets the
    /// leader skip back a whole term at a time instead of one index per round trip (the "fast
    /// back-off" sketched at the end of paper §5.3).
    Rejected {
        rejected_prev_index: LogIndex,
        /// The term of the follower's entry at `rejected_prev_index`, if it has one there.
        conflict_term: Option<Term>,
        /// The first index of `conflict_term` in the follower's log, or its last index + 1 when
        /// its log is too short.
        conflict_index: LogIndex,
        /// The follower's disk lost entries it may have acknowledged (it is fenced, see the
        /// `recovery` module): the leader's match index for it may be stale and must come down.
        lost: bool,
    },
}

impl Body {
    /// A short name for traces and counters.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Body::RequestVote { .. } => "vote",
            Body::RequestVoteResponse { .. } => "vote_resp",
            Body::PreVote { .. } => "prevote",
            Body::PreVoteResponse { .. } => "prevote_resp",
            Body::AppendEntries { .. } => "append",
            Body::AppendEntriesResponse { .. } => "append_resp",
            Body::InstallSnapshot { .. } => "snapshot",
            Body::InstallSnapshotResponse { .. } => "snapshot_resp",
            Body::TimeoutNow => "timeout_now",
            Body::ConfirmLeadership { .. } => "confirm",
            Body::LeadershipConfirmed { .. } => "confirm_resp",
        }
    }
}

impl Message {
    /// Approximate encoded size, for byte counters.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        let body = match &self.body {
            Body::AppendEntries { entries, .. } => 24 + entries.iter().map(Entry::size_bytes).sum::<usize>(),
            Body::InstallSnapshot { data, .. } => 33 + data.len(),
            _ => 24,
        };
        16 + body
    }
}

impl fmt::Display for Message {
    /// One compact line, for traces and test transcripts: `n1->n2 t3 append prev=i4/t2 n=2 commit=i3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{} {} ", self.from, self.to, self.term)?;
        match &self.body {
            Body::RequestVote { last_log_index, last_log_term, transfer } => {
                write!(
                    f,
                    "vote last={last_log_index}/{last_log_term}{}",
                    if *transfer { " transfer" } else { "" }
                )
            }
            Body::RequestVoteResponse { granted } => write!(f, "vote_resp granted={granted}"),
            Body::PreVote { last_log_index, last_log_term } => {
                write!(f, "prevote last={last_log_index}/{last_log_term}")
            }
            Body::PreVoteResponse { granted } => write!(f, "prevote_resp granted={granted}"),
            Body::AppendEntries { prev_log_index, prev_log_term, entries, leader_commit, .. } => write!(
                f,
                "append prev={prev_log_index}/{prev_log_term} n={} commit={leader_commit}",
                entries.len()
            ),
            Body::AppendEntriesResponse { response: AppendResponse::Accepted { match_index }, .. } => {
                write!(f, "append_resp ok match={match_index}")
            }
            Body::AppendEntriesResponse {
                response:
                    AppendResponse::Rejected { rejected_prev_index, conflict_term, conflict_index, lost },
                ..
            } => write!(
                f,
                "append_resp reject prev={rejected_prev_index} conflict={}/{conflict_index}{}",
                conflict_term.map_or(0, |t| t.0),
                if *lost { " lost" } else { "" }
            ),
            Body::InstallSnapshot { meta, offset, data, done, .. } => {
                write!(f, "snapshot {meta} at={offset} n={}{}", data.len(), if *done { " done" } else { "" })
            }
            Body::InstallSnapshotResponse {
                response: SnapshotResponse::Partial { last_index, received },
                ..
            } => {
                write!(f, "snapshot_resp partial {last_index} got={received}")
            }
            Body::InstallSnapshotResponse { response: SnapshotResponse::Done { match_index }, .. } => {
                write!(f, "snapshot_resp done match={match_index}")
            }
            Body::TimeoutNow => write!(f, "timeout_now"),
            Body::ConfirmLeadership { round } => write!(f, "confirm round={round}"),
            Body::LeadershipConfirmed { round } => write!(f, "confirm_resp round={round}"),
        }
    }
}
