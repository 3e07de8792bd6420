//! The host contract: what a Raft implementation offers the host that drives it.
//!
//! The host (the deterministic simulator, or a real server) owns the clock, the network, the
//! disk and the state machine. The implementation is a state machine with no I/O:
//! - inputs: [`Raft::tick`], [`Raft::step`] (a message from a peer), [`Raft::propose`],
//!   [`Raft::persisted`] ("every write of readies up to `n` is durable"),
//!   [`Raft::maybe_compact`] (a snapshot of the state machine), and the durable state it was
//!   booted from ([`Raft::boot`]);
//! - outputs, drained by [`Raft::ready_into`] as numbered [`Ready`] batches: writes to make
//!   durable (in order), messages to send (in any order), a snapshot to load into the state
//!   machine, and committed entries to apply (in order). A message that promises durability
//!   (a vote, an acknowledgement) is released only once the writes it rests on are durable.
//! - a read-only view for the host's checks: [`Raft::view`], [`Raft::entry`] and
//!   [`Raft::inspect`] of a message.
//!
//! The implementation's messages are its own type; the host moves them opaquely and looks at
//! them only through [`MessageView`]. Everything else crosses the contract in the shared
//! vocabulary of this crate (terms, indexes, entries, writes, snapshots).
//!
//! What the host needs from an implementation to be deterministic: every output must be a
//! function of the inputs and of the seed handed to [`Raft::boot`]: no wall clock, no global
//! random source, no iteration over hash maps in an order that reaches an output (or the
//! adapter puts the outputs in a canonical order).

use std::fmt;
use std::sync::Arc;

use crate::bugs::BugSet;
use crate::entry::Entry;
use crate::membership::{ChangeError, Membership, MembershipChange};
use crate::snapshot::{Snapshot, SnapshotMeta};
use crate::storage::{DurableState, PersistOp};
use crate::types::{LogIndex, NodeId, Term};

/// What a node currently believes it is.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Role {
    Follower,
    /// Asking for pre-votes (thesis §9.6); its term has not moved yet.
    PreCandidate,
    Candidate,
    Leader,
}

/// How one node is set up: who it is, who its peers are, and its timing, in ticks of its own
/// clock. The same for every implementation; an implementation takes what it understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    pub id: NodeId,
    /// Every member of the cluster, this node included, in a fixed order.
    pub members: Vec<NodeId>,
    /// A follower that hears nothing for a timeout in `[election_ticks_min,
    /// election_ticks_max)` starts an election.
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    pub heartbeat_ticks: u32,
    /// The most entries one append message carries.
    pub append_entries_max: usize,
    pub check_quorum: bool,
    pub pre_vote: bool,
    /// The most snapshot bytes one message carries.
    pub snapshot_chunk_bytes_max: usize,
    /// Planted bugs of the protocol layer; an implementation that has none refuses them (see
    /// [`Raft::supports`]).
    pub bugs: BugSet,
    /// Serve [`Raft::read_index`] from a leader lease (thesis §6.4.1) instead of a round of
    /// heartbeats while the lease holds. Safe only while no clock drifts more than
    /// [`CLOCK_DRIFT_PPM_MAX`]. An implementation without [`Feature::LeaseRead`] ignores it.
    pub read_lease: bool,
    /// The sticky-leader rule (thesis §4.2.3): a vote request for a higher term that arrives
    /// within the minimum election timeout of hearing a leader is disregarded, so that a
    /// disruptive candidate (a removed server, or one cut off for a while) cannot depose a
    /// working leader. A lease implies it. An implementation that ties it to check-quorum, as
    /// etcd-raft and raft-rs do, ignores the flag.
    pub sticky_leader: bool,
    /// Every random choice of this incarnation derives from this seed.
    pub seed: u64,
    /// Choices the paper leaves to the implementation, each correct on its own; the swarm draws
    /// them so that followers meet more than one kind of leader. An implementation takes those
    /// it has and ignores the rest.
    pub choices: Choices,
}

/// Legal implementation choices (see [`Setup::choices`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Choices {
    pub backoff: Backoff,
    /// Several append messages in flight to one follower at once; off: one at a time, the next
    /// sent when the last is answered (or at the next heartbeat).
    pub no_pipelining: bool,
    /// Heartbeats carry no entries (only the consistency check and the commit index); entries
    /// follow once the follower has answered.
    pub empty_heartbeats: bool,
    /// The leader serves its followers in an order that rotates with every heartbeat, not by id.
    pub rotate_followers: bool,
}

/// How a leader moves `nextIndex` back after a follower rejects an append.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backoff {
    /// Past the follower's whole conflicting term, using its hint (thesis §5.3's optimization).
    #[default]
    ConflictTerm,
    /// One entry back per rejection (the paper's Figure 2).
    OneAtATime,
    /// Straight back to the entry after the last one known to match.
    ToMatchIndex,
}

impl Choices {
    /// "backoff one-at-a-time, no pipelining, empty heartbeats, rotating followers" (empty for
    /// the defaults).
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.backoff {
            Backoff::ConflictTerm => {}
            Backoff::OneAtATime => parts.push("backoff one-at-a-time"),
            Backoff::ToMatchIndex => parts.push("backoff to-match-index"),
        }
        if self.no_pipelining {
            parts.push("no pipelining");
        }
        if self.empty_heartbeats {
            parts.push("empty heartbeats");
        }
        if self.rotate_followers {
            parts.push("rotating followers");
        }
        parts.join(", ")
    }
}

/// The clock drift lease reads are safe against, in parts per million: every node's tick rate
/// stays within `1 ± CLOCK_DRIFT_PPM_MAX / 1e6` of nominal. **The one place the bound lives**:
/// implementations size their leases by it, and a host that runs lease reads (the simulator's
/// drift model included) must never let a clock drift more. With more drift, a lease can outlive
/// the leadership it stands for and a read can be stale.
pub const CLOCK_DRIFT_PPM_MAX: u32 = 50_000;

/// What an implementation offers beyond the core of the contract (see [`Raft::supports_feature`]).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Feature {
    /// [`Raft::change_membership`] and [`Raft::configuration`].
    Membership,
    /// [`Raft::transfer_leadership`].
    Transfer,
    /// [`Raft::read_index`] with [`Ready::read_states`].
    ReadIndex,
    /// [`Setup::read_lease`].
    LeaseRead,
}

/// Why a leadership transfer did not start.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum TransferError {
    NotLeader {
        hint: Option<NodeId>,
    },
    /// The target is not a voter of the configuration in force (or is this leader).
    NotAVoter(NodeId),
    /// A transfer to another server is under way.
    InProgress {
        to: NodeId,
    },
    /// The implementation does not transfer leadership.
    Unsupported,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader { hint } => write!(f, "not the leader (leader: {hint:?})"),
            TransferError::NotAVoter(id) => write!(f, "{id} is not another voter"),
            TransferError::InProgress { to } => write!(f, "a transfer to {to} is under way"),
            TransferError::Unsupported => f.write_str("this implementation does not transfer leadership"),
        }
    }
}

impl std::error::Error for TransferError {}

/// A read the leader confirmed without the log: the host serves it from its state machine once
/// it has applied up to `index` (thesis §6.4).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct ReadState {
    /// What the host passed to [`Raft::read_index`].
    pub ctx: u64,
    pub index: LogIndex,
}

/// Why a read was refused; the client retries elsewhere.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ReadError {
    NotLeader {
        hint: Option<NodeId>,
    },
    /// The implementation does not serve reads without the log.
    Unsupported,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotLeader { hint } => write!(f, "not the leader (leader: {hint:?})"),
            ReadError::Unsupported => f.write_str("this implementation does not serve reads without the log"),
        }
    }
}

impl std::error::Error for ReadError {}

/// `propose` (or another leader-only call) on a node that is not the leader.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct NotLeader {
    /// The leader this node knows of in its current term, if any.
    pub hint: Option<NodeId>,
}

/// One batch of outputs, numbered from 1. See the module documentation for what the host must
/// do with it.
#[derive(Clone, Debug)]
pub struct Ready<M> {
    pub number: u64,
    pub persist: Vec<PersistOp>,
    pub messages: Vec<M>,
    /// A snapshot installed from the leader: the state machine becomes this, before `committed`
    /// (which follow it) are applied.
    pub snapshot: Option<Snapshot>,
    pub committed: Vec<Entry>,
    /// Reads confirmed without the log (see [`Raft::read_index`]): the host answers each once it
    /// has applied its index. Always empty for an implementation without [`Feature::ReadIndex`].
    pub read_states: Vec<ReadState>,
}

impl<M> Default for Ready<M> {
    fn default() -> Self {
        Ready {
            number: 0,
            persist: Vec::new(),
            messages: Vec::new(),
            snapshot: None,
            committed: Vec::new(),
            read_states: Vec::new(),
        }
    }
}

impl<M> Ready<M> {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty()
            && self.messages.is_empty()
            && self.snapshot.is_none()
            && self.committed.is_empty()
            && self.read_states.is_empty()
    }

    /// Empties the batch, keeping its vectors' memory for the next one.
    pub fn clear(&mut self) {
        self.number = 0;
        self.persist.clear();
        self.messages.clear();
        self.snapshot = None;
        self.committed.clear();
        self.read_states.clear();
    }
}

/// What a node shows of itself, for the host's checks and reports. Cheap to take.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct View {
    pub role: Role,
    pub term: Term,
    /// The candidate voted for in `term`.
    pub vote: Option<NodeId>,
    /// The leader of `term`, once known.
    pub leader: Option<NodeId>,
    pub commit: LogIndex,
    /// The last entry handed to the host to apply (or covered by a snapshot handed to it).
    pub applied: LogIndex,
    /// The prefix of the log the node knows durable, if it tracks it.
    pub durable: Option<LogIndex>,
    /// The snapshot the log starts after, if it was compacted.
    pub snapshot: Option<SnapshotMeta>,
    /// The last index of the log.
    pub last_index: LogIndex,
}

impl View {
    /// The first index the log still holds.
    #[must_use]
    pub fn first_index(&self) -> LogIndex {
        self.snapshot.map_or(LogIndex(1), |s| s.last_index.next())
    }
}

/// What kind of message, and what in it the host's checks rely on.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum MessageKind {
    /// A request for a vote: its sender voted for itself in the message's term.
    Vote {
        last_index: LogIndex,
        last_term: Term,
    },
    /// A granted vote promises the sender voted for the receiver in the message's term.
    VoteReply {
        granted: bool,
    },
    PreVote {
        last_index: LogIndex,
        last_term: Term,
    },
    PreVoteReply {
        granted: bool,
    },
    /// Entries (or none: a heartbeat) after `prev_index`.
    Append {
        prev_index: LogIndex,
        prev_term: Term,
        entries: usize,
        commit: LogIndex,
    },
    /// `matched`: the sender's log matches the leader's up to there, durably (a promise).
    /// `rejected`: the sender has no entry matching at that index.
    AppendReply {
        matched: Option<LogIndex>,
        rejected: Option<LogIndex>,
    },
    /// A heartbeat that carries no log position (implementations that separate them).
    Heartbeat {
        commit: LogIndex,
    },
    HeartbeatReply,
    /// A chunk of a snapshot through `last_index`, from byte `offset`; `done` on the last one.
    Snapshot {
        last_index: LogIndex,
        offset: u64,
        bytes: usize,
        done: bool,
    },
    /// `matched`: the sender installed the snapshot durably, or held everything it covers, and
    /// its log matches the leader's up to there (a promise).
    SnapshotReply {
        matched: Option<LogIndex>,
    },
    /// "Campaign now" (leadership transfer).
    TimeoutNow,
    /// Anything else an implementation sends, named.
    Other(&'static str),
}

impl MessageKind {
    /// A short name for traces and counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            MessageKind::Vote { .. } => "vote",
            MessageKind::VoteReply { .. } => "vote_resp",
            MessageKind::PreVote { .. } => "prevote",
            MessageKind::PreVoteReply { .. } => "prevote_resp",
            MessageKind::Append { .. } => "append",
            MessageKind::AppendReply { .. } => "append_resp",
            MessageKind::Heartbeat { .. } => "heartbeat",
            MessageKind::HeartbeatReply => "heartbeat_resp",
            MessageKind::Snapshot { .. } => "snapshot",
            MessageKind::SnapshotReply { .. } => "snapshot_resp",
            MessageKind::TimeoutNow => "timeout_now",
            MessageKind::Other(name) => name,
        }
    }

    /// Whether the message answers another (networks that hold back answers treat it so).
    #[must_use]
    pub fn is_reply(&self) -> bool {
        matches!(
            self,
            MessageKind::VoteReply { .. }
                | MessageKind::PreVoteReply { .. }
                | MessageKind::AppendReply { .. }
                | MessageKind::HeartbeatReply
                | MessageKind::SnapshotReply { .. }
        )
    }

    /// A few identifying bits, for a host's trace hash.
    #[must_use]
    pub fn hash_word(&self) -> u64 {
        match *self {
            MessageKind::Vote { .. } => 1,
            MessageKind::VoteReply { granted } => 2 + u64::from(granted),
            MessageKind::Append { prev_index, entries, .. } => {
                4 | (prev_index.0 << 8) | ((entries as u64) << 40)
            }
            MessageKind::AppendReply { matched: Some(m), .. } => 5 | (m.0 << 8),
            MessageKind::AppendReply { rejected, .. } => 6 | (rejected.map_or(0, |r| r.0) << 8),
            MessageKind::PreVote { .. } => 9,
            MessageKind::PreVoteReply { granted } => 10 + u64::from(granted),
            MessageKind::Snapshot { last_index, offset, done, .. } => {
                13 | (last_index.0 << 8) | (offset << 32) | (u64::from(done) << 7)
            }
            MessageKind::SnapshotReply { matched } => 14 | (matched.map_or(0, |m| m.0) << 8),
            MessageKind::Heartbeat { commit } => 15 | (commit.0 << 8),
            MessageKind::HeartbeatReply => 16,
            MessageKind::TimeoutNow => 17,
            MessageKind::Other(name) => 18 | ((name.len() as u64) << 8),
        }
    }
}

/// A message as the host sees it.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct MessageView {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's term (for a pre-vote: the term it would campaign in).
    pub term: Term,
    pub kind: MessageKind,
    /// Its size on the wire, roughly, for byte counters.
    pub bytes: usize,
}

/// A Raft implementation behind the host contract.
pub trait Raft: Sized {
    /// A message between servers, as this implementation defines it.
    type Message: Clone + fmt::Debug + fmt::Display;

    /// The implementation's name (`raft-core`, `raft-rs`), for summaries and reports.
    const NAME: &'static str;

    /// Whether a planted bug of the protocol layer exists in this implementation.
    fn supports(bug: crate::bugs::Bug) -> bool;

    /// A node restarted from what its disk kept (an empty state for a fresh node). The error
    /// says why the setup or the state cannot be used.
    fn boot(setup: &Setup, state: DurableState) -> Result<Self, String>;

    /// One tick of the node's clock.
    fn tick(&mut self);

    /// A message from a peer. An implementation does not trust its transport: a message from
    /// outside the cluster or addressed to another node is ignored.
    fn step(&mut self, m: Self::Message);

    /// Appends a command to the log if this node leads, returning where it was placed. It is
    /// committed only if the entry at that index still has that term when it is applied.
    fn propose(&mut self, data: Arc<[u8]>) -> Result<(LogIndex, Term), NotLeader>;

    /// Every write of readies up to and including `ready` is durable.
    fn persisted(&mut self, ready: u64);

    /// The state machine's snapshot after applying everything up to `index`: the node may keep
    /// it and drop the log prefix it covers. Returns whether it did.
    fn maybe_compact(&mut self, index: LogIndex, data: Arc<[u8]>) -> bool;

    /// Whether [`Raft::ready_into`] would hand over anything.
    fn has_ready(&self) -> bool;

    /// Hands over everything produced since the last call, into a batch whose vectors the host
    /// reuses.
    fn ready_into(&mut self, ready: &mut Ready<Self::Message>);

    /// What the node shows of itself.
    fn view(&self) -> View;

    /// The entry at `index`, if the log holds it (not one a snapshot covers).
    fn entry(&self, index: LogIndex) -> Option<Entry>;

    /// The term of the entry at `index`: the snapshot's term at its last index, term 0 at
    /// index 0, `None` for an index a snapshot covers or past the end of the log.
    fn term_at(&self, index: LogIndex) -> Option<Term> {
        match self.view().snapshot {
            Some(s) if index == s.last_index => Some(s.last_term),
            Some(s) if index < s.last_index => None,
            _ if index == LogIndex::ZERO => Some(Term::ZERO),
            _ => self.entry(index).map(|e| e.term),
        }
    }

    /// Bytes of the node's Raft state (term, vote and log) as it would persist them, for
    /// snapshot policies that bound it (the lab's `maxraftstate`).
    fn raft_state_bytes(&self) -> u64;

    /// A message as the host sees it.
    fn inspect(m: &Self::Message) -> MessageView;

    // ----- Optional features: each defaults to "not offered" -----

    /// Whether the implementation offers `feature`. A host uses a feature only when it is
    /// offered, and its checks that need one skip visibly when it is not.
    fn supports_feature(_feature: Feature) -> bool {
        false
    }

    /// The configuration in force at this node (the latest its log holds, committed or not):
    /// a companion of [`Raft::view`], kept apart so that `View` stays as it was. `None` when the
    /// implementation does not report it; the host then assumes the bootstrap members.
    fn configuration(&self) -> Option<Membership> {
        None
    }

    /// Starts a single-server membership change at the leader, returning the index of its
    /// configuration entry.
    fn change_membership(&mut self, _change: MembershipChange) -> Result<LogIndex, ChangeError> {
        Err(ChangeError::Unsupported)
    }

    /// Starts handing leadership to the voter `to` (thesis §3.10).
    fn transfer_leadership(&mut self, _to: NodeId) -> Result<(), TransferError> {
        Err(TransferError::Unsupported)
    }

    /// Asks the leader to confirm a read without the log; a [`ReadState`] with `ctx` comes out
    /// in a later [`Ready`] (or never, if leadership is lost: the host times the read out).
    fn read_index(&mut self, _ctx: u64) -> Result<(), ReadError> {
        Err(ReadError::Unsupported)
    }

    /// An exact, independent copy of the node's whole state: given the same inputs from here
    /// on, the copy and the original produce the same outputs (the same future), and neither
    /// sees what is done to the other. `None` where the implementation cannot copy itself; a
    /// host that wanted a copy then replays the run from its seed instead.
    fn duplicate(&self) -> Option<Self> {
        None
    }
}
