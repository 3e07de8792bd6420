//! The leader's bookkeeping for each follower (paper Figure 2's nextIndex and matchIndex, and
//! what the leader needs besides to replicate safely), and the numbering of its requests that
//! lets it tell which answers speak of a log still there.

use crate::types::{LogIndex, NodeId};

/// The leader's view of one follower's log (paper Figure 2's nextIndex and matchIndex).
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// The follower's log is known to match ours up to here. Only grows, except when a follower
    /// proves it lost acknowledged entries (broken storage; the harness flags that).
    pub match_index: LogIndex,
    /// The next entry to send. Optimistic while replicating: it moves past entries as soon as
    /// they are sent, so a burst of proposals sends each entry once.
    pub next_index: LogIndex,
    /// Searching backwards for the point where the logs agree: one AppendEntries at a time.
    pub probing: bool,
    /// A probe is in flight; nothing more is sent until its answer or the next heartbeat.
    pub probe_outstanding: bool,
    /// Heard from since the leader last checked for a quorum.
    pub recently_active: bool,
    /// Sending our snapshot, because the follower needs entries it covers.
    pub transfer: Option<Transfer>,
    /// The newest leadership-check round the follower answered (see `read_index.rs`).
    pub round_acked: u64,
    /// The number of the first AppendEntries or InstallSnapshot sent after the leader (re-)added
    /// the follower: answers to older ones are about a server the leader dropped, perhaps
    /// wiped since, and are ignored. Numbers: see `Body::AppendEntriesResponse`.
    pub first_seq: u64,
    /// Acknowledgements and snapshot answers are taken only of requests numbered from here:
    /// `first_seq`, or the newest request whose rejection reported that the follower's disk
    /// lost entries (what it acknowledged before may be gone).
    pub acks_from: u64,
    /// Rejections that report lost entries are taken only of requests numbered from here:
    /// `first_seq`, or the newest request whose acknowledgement was taken (an older report
    /// speaks of a log since repaired).
    pub lost_from: u64,
}

impl Progress {
    /// A member the leader knows nothing of yet: probed from the end of the leader's log.
    /// `sent_seq` is the number of the leader's last AppendEntries or InstallSnapshot.
    pub(crate) fn new(next_index: LogIndex, sent_seq: u64) -> Progress {
        Progress {
            match_index: LogIndex::ZERO,
            next_index,
            probing: true,
            probe_outstanding: false,
            recently_active: false,
            transfer: None,
            round_acked: 0,
            first_seq: sent_seq + 1,
            acks_from: sent_seq + 1,
            lost_from: sent_seq + 1,
        }
    }
}

/// A snapshot on its way to one follower, one chunk at a time.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Transfer {
    /// Which snapshot: a newer one starts over.
    pub last_index: LogIndex,
    /// The follower has the bytes before this offset; the next chunk starts here.
    pub acked: u64,
}

/// The leader's request a follower answers, and the number its answer echoes.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Request {
    pub leader: NodeId,
    pub seq: u64,
}
