//! One Raft server as a state machine: inputs in, a numbered batch of outputs out.
//!
//! The host contract (sans-IO, after etcd-raft's `Ready` and raft-rs's numbered readies):
//! - inputs: [`RaftNode::tick`], [`RaftNode::step`], [`RaftNode::propose`],
//!   [`RaftNode::persisted`], [`RaftNode::maybe_compact`] (a snapshot of the state machine to
//!   stand for the log prefix it covers), and [`RaftNode::restore`] once, before anything else,
//!   at restart; and the operations of a leader: [`RaftNode::change_membership`],
//!   [`RaftNode::transfer_leadership`] and [`RaftNode::read_index`];
//! - outputs: [`RaftNode::ready`] hands over everything produced since the last call as a
//!   [`Ready`] with a number. The host writes `persist` in order, sends `messages` in any order,
//!   replaces its state machine with `snapshot` if there is one, then applies `committed` in
//!   order, and serves each of `read_states` once it has applied up to its index. Once the writes of ready `n` (and all before it) are durable it calls
//!   `persisted(n)`.
//! - Messages that promise durability (a vote granted, entries acknowledged, a snapshot
//!   installed, a vote requested on the strength of our own vote) are held inside the node until
//!   every write produced so far is durable (paper Figure 2: persist "before responding to
//!   RPCs"). A leader's AppendEntries go out at once: the leader writes its own log in parallel
//!   and counts itself towards a majority only once its write is durable (thesis §10.2.1).
//!
//! Election randomness comes from a ChaCha stream seeded at construction, so the node's outputs
//! are a pure function of its inputs and its seed.

use std::collections::{BTreeMap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, ConfigError};
use crate::log::RaftLog;
use crate::membership::{Membership, Memberships};
use crate::message::{Body, Message, Payload};
pub(crate) use crate::progress::{Progress, Request, Transfer};
use crate::read_index::{ReadState, Reads};
use crate::snapshot::{Snapshot, SnapshotMeta};
use crate::storage::{DurableState, PersistOp};
use crate::transfer::LeaderTransfer;
use crate::types::{LogIndex, NodeId, Term};

pub use raft_host::{NotLeader, Role};

/// One batch of outputs. See the module documentation for what the host must do with it.
pub type Ready = raft_host::Ready<Message>;

/// A follower's snapshot in the making: the chunks received so far, in order.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    pub meta: SnapshotMeta,
    pub bytes: Vec<u8>,
}

/// A Raft node. Fields carry the invariants they obey. A clone is an exact, independent copy:
/// it goes on exactly as the original would for the same inputs (its random stream included).
#[derive(Clone)]
pub struct RaftNode {
    pub(crate) config: Config,
    pub(crate) rng: ChaCha8Rng,
    /// The configurations the log holds; the latest is in force here, committed or not
    /// (paper §6). Follows the log: appended, truncated and compacted with it.
    pub(crate) memberships: Memberships,
    /// Ticks since this node started: the leader's clock for its lease.
    pub(crate) ticks: u64,

    // Durable state, mirrored in memory; every change is also queued for the host to persist.
    pub(crate) term: Term,
    /// The candidate voted for in `term`; cleared whenever `term` changes.
    pub(crate) vote: Option<NodeId>,
    pub(crate) log: RaftLog,
    /// The newest snapshot, taken by the host or installed from a leader. Invariant: present
    /// exactly when the log starts after index 0, with the log's base as its metadata.
    pub(crate) snapshot: Option<Snapshot>,
    /// Planted bug `vote-not-persisted` only: the vote of this term is kept off the disk.
    pub(crate) vote_unpersisted: bool,
    /// What the node may have lost that it had promised, until a leader repairs it (see the
    /// `recovery` module): while up, it neither votes nor campaigns.
    pub(crate) fence: raft_host::storage::Fence,
    pub(crate) fence_dirty: bool,

    // Volatile state.
    pub(crate) role: Role,
    /// The leader of `term`, once known. Only a leader of `term` sets itself here.
    pub(crate) leader: Option<NodeId>,
    /// Invariant: `log.snapshot_index() <= commit_index <= log.last_index()` after every input:
    /// a snapshot covers only committed entries.
    pub(crate) commit_index: LogIndex,
    /// The last entry handed to the host for applying (or covered by the snapshot handed to it).
    /// Invariant: `applied_index <= commit_index`, and at least the snapshot's index unless the
    /// snapshot is waiting to be handed over.
    pub(crate) applied_index: LogIndex,
    /// The snapshot must be handed to the host to replace its state machine: it was installed
    /// from a leader and the host has not seen it.
    pub(crate) snapshot_to_apply: bool,
    /// Follower: the snapshot arriving from the leader.
    pub(crate) incoming: Option<Incoming>,
    pub(crate) election_elapsed: u32,
    pub(crate) election_timeout: u32,
    pub(crate) heartbeat_elapsed: u32,
    /// Heartbeat rounds sent, for the rotating order of followers (an implementation choice).
    pub(crate) heartbeats_sent: u64,
    /// AppendEntries and InstallSnapshot messages sent (as leader, in any term): each carries
    /// its number, and its answer echoes it.
    pub(crate) sent_seq: u64,
    /// Ticks since this node last heard from a leader (or led, or started: a restarted node
    /// cannot know it did not hear one just before its crash). Invariant: at least
    /// `election_elapsed` outside leadership. The sticky-leader rule reads it.
    pub(crate) since_leader_ticks: u32,
    /// Candidate: the answer from each server this term.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    /// Pre-candidate: the pre-vote answers of this round. Kept apart from `votes`, so that a
    /// candidate whose election timed out can still win its term if late votes arrive while
    /// it asks for pre-votes again.
    pub(crate) pre_votes: BTreeMap<NodeId, bool>,
    /// Candidate: whether this term's vote requests went out a second time already.
    pub(crate) votes_requested_again: bool,
    /// Candidate: this election was asked for by the leader (TimeoutNow).
    pub(crate) campaign_is_transfer: bool,
    /// Leader: one entry per member of the latest configuration other than this node.
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    /// Leader: the leadership transfer under way, if any.
    pub(crate) transfer: Option<LeaderTransfer>,
    /// Leader: reads waiting to be confirmed, and the lease.
    pub(crate) reads: Reads,

    // Durability bookkeeping.
    /// The prefix of `log` known durable. Invariant: `durable_index <= log.last_index()`.
    pub(crate) durable_index: LogIndex,
    pub(crate) hard_state_dirty: bool,
    /// The lowest log index changed since the last ready, if any.
    pub(crate) log_dirty_from: Option<LogIndex>,
    /// The number the next ready gets; readies are numbered from 1.
    pub(crate) next_ready: u64,
    /// The last ready that carried writes.
    pub(crate) last_write_ready: u64,
    /// Every ready up to this one is durable.
    pub(crate) persisted_ready: u64,
    /// For each ready that wrote log entries or a snapshot: its number and the last entry it
    /// wrote (or the snapshot covers).
    pub(crate) unstable_writes: VecDeque<(u64, LogIndex, Term)>,
    /// The snapshot has not been handed over for writing yet.
    pub(crate) snapshot_dirty: bool,
    /// The end of the log as the host was told to write it. Entries are handed over only if
    /// they continue that log: after a snapshot install discards the log, what follows the
    /// snapshot waits until the cut through it (`pending_cut`) has been handed over, so the disk
    /// never holds a gap.
    pub(crate) written_last: LogIndex,
    /// Installing a snapshot whose last entry conflicts with the written log: the written log
    /// is truncated from here, in the snapshot's write.
    pub(crate) truncate_written_from: Option<LogIndex>,
    /// The log cut waiting for its snapshot to be durable: the ready that wrote the snapshot and
    /// the index it covers. Cutting in the same write would let a crash land the cut alone.
    pub(crate) pending_cut: Option<(u64, LogIndex)>,

    // Outputs.
    pub(crate) out_messages: Vec<Message>,
    /// Produced since the last ready; released once everything written so far is durable.
    pub(crate) out_messages_after_persist: Vec<Message>,
    /// Held until the ready number they wait for is durable.
    pub(crate) waiting: VecDeque<(u64, Message)>,
    pub(crate) out_read_states: Vec<ReadState>,
}

impl RaftNode {
    /// A fresh node: term 0, no vote, empty log, follower, in the configuration of
    /// `config.members` (all voters; none for a server that will join an existing cluster).
    pub fn new(config: Config, seed: u64) -> Result<RaftNode, ConfigError> {
        config.validate()?;
        let bootstrap = Membership::voters(config.members.iter().copied());
        let mut node = RaftNode {
            rng: ChaCha8Rng::seed_from_u64(seed),
            memberships: Memberships::new(bootstrap),
            ticks: 0,
            term: Term::ZERO,
            vote: None,
            log: RaftLog::new(),
            snapshot: None,
            vote_unpersisted: false,
            fence: raft_host::storage::Fence::None,
            fence_dirty: false,
            role: Role::Follower,
            leader: None,
            commit_index: LogIndex::ZERO,
            applied_index: LogIndex::ZERO,
            snapshot_to_apply: false,
            incoming: None,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            heartbeats_sent: 0,
            sent_seq: 0,
            since_leader_ticks: 0,
            votes: BTreeMap::new(),
            pre_votes: BTreeMap::new(),
            votes_requested_again: false,
            campaign_is_transfer: false,
            progress: BTreeMap::new(),
            transfer: None,
            reads: Reads::default(),
            durable_index: LogIndex::ZERO,
            hard_state_dirty: false,
            log_dirty_from: None,
            next_ready: 1,
            last_write_ready: 0,
            persisted_ready: 0,
            unstable_writes: VecDeque::new(),
            snapshot_dirty: false,
            written_last: LogIndex::ZERO,
            truncate_written_from: None,
            pending_cut: None,
            out_messages: Vec::new(),
            out_messages_after_persist: Vec::new(),
            waiting: VecDeque::new(),
            out_read_states: Vec::new(),
            config,
        };
        node.randomize_election_timeout();
        Ok(node)
    }

    /// Rebuilds the node from what its disk kept, at restart. Must precede every other input.
    ///
    /// With a snapshot, the node starts from it: commit and applied indexes at its last index
    /// (the host restores its state machine from the snapshot's data, and nothing it covers is
    /// applied again), and the log keeps the durable entries that follow it when the durable
    /// log holds its last entry, as InstallSnapshot does (paper Figure 13, steps 6 and 7): a
    /// crash may have come between the snapshot's write and the cut of the log it covers.
    ///
    /// # Panics
    /// If the node has already run, the restored log is not dense with nondecreasing terms, or
    /// it was cut past its snapshot (the host lost entries and must not use this state).
    pub fn restore(&mut self, state: DurableState) {
        assert!(
            self.term == Term::ZERO && self.log.last_index() == LogIndex::ZERO && self.next_ready == 1,
            "restore must come before any other input"
        );
        self.term = state.term;
        self.vote = state.vote;
        self.fence = state.fence;
        self.written_last = state.last_index();
        let snapshot = state.snapshot.clone();
        match snapshot {
            None => {
                assert_eq!(
                    state.compacted_through,
                    LogIndex::ZERO,
                    "the durable log was cut with no snapshot"
                );
                self.log = RaftLog::from_entries(state.entries);
                self.memberships.reset(LogIndex::ZERO, Membership::default());
            }
            Some(snapshot) => {
                let meta = snapshot.meta;
                let cut = state.compacted_through;
                assert!(
                    cut <= meta.last_index,
                    "the durable log was cut through {cut}, past its snapshot {meta}"
                );
                let follows = cut == meta.last_index
                    || state.entry(meta.last_index).is_some_and(|e| e.term == meta.last_term);
                if !follows && state.last_index() >= meta.last_index {
                    // Written before the snapshot and conflicting with it: dropped on disk too.
                    self.truncate_written_from = Some(meta.last_index);
                }
                if cut < meta.last_index {
                    // The snapshot is durable; the cut never was.
                    self.pending_cut = Some((0, meta.last_index));
                }
                let mut entries = state.entries;
                let covered = ((meta.last_index.0 - cut.0) as usize).min(entries.len());
                entries.drain(..covered);
                if !follows {
                    entries.clear();
                }
                self.log = RaftLog::after(meta, entries);
                self.memberships.reset(meta.last_index, meta.membership);
                self.commit_index = meta.last_index;
                if self.config.bugs.has(crate::Bug::RestartAppliedZero) {
                    // The bug: as if the host had not restored the snapshot.
                    self.snapshot_to_apply = true;
                } else {
                    self.applied_index = meta.last_index;
                }
                self.snapshot = Some(snapshot);
            }
        }
        // Everything restored came from disk, so it is durable by definition.
        self.durable_index = self.log.last_index();
        // The configuration in force is the latest the log holds (thesis §4.1).
        let first = self.log.first_index();
        self.sync_memberships(first);
        self.assert_invariants();
    }

    // ----- Inputs -----

    /// One tick of this node's clock.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.since_leader_ticks = self.since_leader_ticks.saturating_add(1);
        match self.role {
            Role::Leader => self.tick_leader(),
            Role::Follower | Role::PreCandidate | Role::Candidate => self.tick_election(),
        }
        self.maybe_step_down_removed();
        self.assert_invariants();
    }

    /// Handles a message from another server. Messages addressed to another node or claiming
    /// to come from this one are ignored: the core does not trust its transport. Messages from
    /// servers outside the configuration are processed (thesis §4.1: a server may not know the
    /// latest configuration yet, nor may its sender); only voters' answers are counted.
    pub fn step(&mut self, m: Message) {
        if m.to != self.config.id || m.from == self.config.id {
            return;
        }
        if self.ignores_vote_request(&m) {
            return;
        }
        // The term check applies to every role and every message (paper Figure 2, "Rules for
        // Servers": a higher term always wins; a lower term is stale).
        // Pre-votes are the exception: a request names the term its sender would campaign in,
        // and a granted answer echoes it; neither may move our term.
        let future_term = matches!(m.body, Body::PreVote { .. } | Body::PreVoteResponse { granted: true });
        if m.term > self.term && !future_term {
            if self.role == Role::Leader && self.config.bugs.has(crate::Bug::LeaderIgnoresHigherTerm) {
                self.term = m.term;
                self.vote = None;
                self.hard_state_dirty = true;
            } else {
                let from_leader = matches!(m.body, Body::AppendEntries { .. } | Body::InstallSnapshot { .. });
                let leader = from_leader.then_some(m.from);
                self.become_follower(m.term, leader);
            }
        } else if m.term < self.term && !future_term {
            self.answer_stale(&m);
            return;
        }
        match m.body {
            Body::RequestVote { last_log_index, last_log_term, .. } => {
                self.handle_request_vote(m.from, last_log_index, last_log_term);
            }
            Body::RequestVoteResponse { granted } => {
                // A pre-candidate that stood in this term (its vote is its own) still counts
                // the term's votes: they are as good as when it was a candidate.
                let stood = self.role == Role::PreCandidate && self.vote == Some(self.config.id);
                if self.role == Role::Candidate || stood {
                    self.handle_vote_response(m.from, granted);
                }
            }
            Body::PreVote { last_log_index, last_log_term } => {
                self.handle_pre_vote(m.from, m.term, last_log_index, last_log_term);
            }
            Body::PreVoteResponse { granted } => {
                // A granted answer must be for the term we would campaign in.
                if self.role == Role::PreCandidate && (!granted || m.term == self.term.next()) {
                    self.handle_pre_vote_response(m.from, granted);
                }
            }
            Body::AppendEntries { prev_log_index, prev_log_term, entries, leader_commit, seq } => {
                match self.role {
                    // Two leaders in one term cannot happen in a correct cluster; a leader that
                    // receives this is facing a broken peer and keeps its own course.
                    Role::Leader => {}
                    Role::PreCandidate | Role::Candidate | Role::Follower => {
                        if self.role != Role::Follower {
                            // Someone won this term (paper §5.2).
                            self.become_follower(self.term, Some(m.from));
                        }
                        let request = Request { leader: m.from, seq };
                        self.handle_append(request, prev_log_index, prev_log_term, entries, leader_commit);
                    }
                }
            }
            Body::AppendEntriesResponse { seq, response } => {
                if self.role == Role::Leader {
                    self.handle_append_response(m.from, seq, response);
                }
            }
            Body::InstallSnapshot { meta, offset, data, done, seq } => match self.role {
                // As for AppendEntries: a leader of this term is facing a broken peer.
                Role::Leader => {}
                Role::PreCandidate | Role::Candidate | Role::Follower => {
                    if self.role != Role::Follower {
                        self.become_follower(self.term, Some(m.from));
                    }
                    self.handle_install_snapshot(Request { leader: m.from, seq }, *meta, offset, data, done);
                }
            },
            Body::InstallSnapshotResponse { seq, response } => {
                if self.role == Role::Leader {
                    self.handle_snapshot_response(m.from, seq, response);
                }
            }
            Body::TimeoutNow => self.handle_timeout_now(m.from),
            Body::ConfirmLeadership { round } => match self.role {
                // As for AppendEntries: a leader of this term is facing a broken peer.
                Role::Leader => {}
                Role::PreCandidate | Role::Candidate | Role::Follower => {
                    if self.role != Role::Follower {
                        self.become_follower(self.term, Some(m.from));
                    }
                    self.handle_confirm_leadership(m.from, round);
                }
            },
            Body::LeadershipConfirmed { round } => {
                if self.role == Role::Leader {
                    self.handle_leadership_confirmed(m.from, round);
                }
            }
        }
        self.maybe_step_down_removed();
        self.assert_invariants();
    }

    /// Appends a client command to the log if this node leads, returning where it was placed.
    /// The command is committed only if the entry at that index still has that term when it is
    /// applied; a host compares the applied entry to know. Refused while leadership is being
    /// transferred, with no hint: the client retries shortly.
    pub fn propose(&mut self, data: std::sync::Arc<[u8]>) -> Result<(LogIndex, Term), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader { hint: self.leader });
        }
        if self.transfer.is_some() {
            // No hint: the target does not lead yet and would point back here, and a client
            // bouncing between the two would spin. It retries shortly.
            return Err(NotLeader { hint: None });
        }
        let index = self.append_own_entry(Payload::Data(data));
        self.broadcast_append();
        self.assert_invariants();
        Ok((index, self.term))
    }

    /// The host says every write up to and including ready `number` is durable.
    ///
    /// # Panics
    /// If `number` was never handed out, or acknowledgements go backwards.
    pub fn persisted(&mut self, number: u64) {
        assert!(number < self.next_ready, "persisted({number}) acknowledges a ready never handed out");
        assert!(number >= self.persisted_ready, "persist acknowledgements went backwards");
        self.persisted_ready = number;
        while let Some(&(ready, index, term)) = self.unstable_writes.front() {
            if ready > number {
                break;
            }
            self.unstable_writes.pop_front();
            // The write covered the log up to `index` as it was then; if that entry is still
            // there (same index and term), the whole prefix is the same (Log Matching).
            if self.log.term_at(index) == Some(term) && index > self.durable_index {
                self.durable_index = index;
            }
        }
        while let Some((ready, _)) = self.waiting.front() {
            if *ready > number {
                break;
            }
            if let Some((_, m)) = self.waiting.pop_front() {
                self.out_messages.push(m);
            }
        }
        if self.role == Role::Leader {
            self.maybe_commit();
        }
        self.maybe_step_down_removed();
        self.assert_invariants();
    }

    // ----- Outputs -----

    /// Whether `ready` would hand over anything.
    #[must_use]
    pub fn has_ready(&self) -> bool {
        let held = self.writes_held();
        self.hard_state_dirty
            || self.fence_dirty
            || self.snapshot_dirty
            || self.truncate_written_from.is_some()
            || self.cut_due()
            || (self.log_dirty_from.is_some() && !held)
            || !self.out_messages.is_empty()
            || (!self.out_messages_after_persist.is_empty() && !held)
            || self.snapshot_to_apply
            || self.commit_index > self.applied_index
            || !self.out_read_states.is_empty()
    }

    /// Hands over everything produced since the last call. See the module documentation.
    pub fn ready(&mut self) -> Ready {
        let mut ready = Ready::default();
        self.ready_into(&mut ready);
        ready
    }

    /// As [`RaftNode::ready`], filling a batch whose vectors the host reuses.
    pub fn ready_into(&mut self, ready: &mut Ready) {
        ready.persist.clear();
        ready.messages.clear();
        ready.committed.clear();
        ready.read_states.clear();
        ready.snapshot = None;
        ready.number = self.next_ready;
        self.next_ready += 1;

        if self.hard_state_dirty {
            self.hard_state_dirty = false;
            let vote = if self.vote_unpersisted { None } else { self.vote };
            ready.persist.push(PersistOp::HardState { term: self.term, vote });
        }
        if let Some(op) = self.take_fence_write() {
            ready.persist.push(op);
        }
        self.write_snapshot_and_cut(ready);
        if let Some(from) = self.log_dirty_from.filter(|_| !self.writes_held()) {
            self.log_dirty_from = None;
            assert!(from <= self.log.last_index().next(), "dirty mark past the end of the log");
            let entries = self.log.slice_from(from, usize::MAX).to_vec();
            let last = self.log.last_index();
            let last_term = self.log.last_term();
            self.unstable_writes.push_back((ready.number, last, last_term));
            ready.persist.push(PersistOp::Entries { from, entries });
            self.written_last = last;
        }
        if !ready.persist.is_empty() {
            self.last_write_ready = ready.number;
        }
        // A message waits for every write produced so far, including this ready's, and for the
        // writes held back behind a cut.
        if !self.writes_held() {
            let needed = self.last_write_ready;
            for m in self.out_messages_after_persist.drain(..) {
                if needed <= self.persisted_ready {
                    self.out_messages.push(m);
                } else {
                    self.waiting.push_back((needed, m));
                }
            }
        }
        std::mem::swap(&mut ready.messages, &mut self.out_messages);
        if self.snapshot_to_apply {
            self.snapshot_to_apply = false;
            ready.snapshot.clone_from(&self.snapshot);
            assert!(ready.snapshot.is_some(), "a snapshot to apply, and none kept");
            self.applied_index = self.log.snapshot_index();
        }
        if self.commit_index > self.applied_index {
            let count = (self.commit_index.0 - self.applied_index.0) as usize;
            ready.committed.extend_from_slice(self.log.slice_from(self.applied_index.next(), count));
            assert_eq!(ready.committed.len(), count, "committed entries missing from the log");
            self.applied_index = self.commit_index;
        }
        std::mem::swap(&mut ready.read_states, &mut self.out_read_states);
    }

    // ----- Accessors -----

    #[must_use]
    pub fn id(&self) -> NodeId {
        self.config.id
    }
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }
    #[must_use]
    pub fn term(&self) -> Term {
        self.term
    }
    #[must_use]
    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    #[must_use]
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }
    /// The last entry handed to the host to apply.
    #[must_use]
    pub fn applied_index(&self) -> LogIndex {
        self.applied_index
    }
    #[must_use]
    pub fn durable_index(&self) -> LogIndex {
        self.durable_index
    }
    #[must_use]
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    /// The configuration in force at this node: the latest its log holds, committed or not.
    #[must_use]
    pub fn membership(&self) -> Membership {
        *self.memberships.latest()
    }
    /// The index of the entry that set [`RaftNode::membership`] (the snapshot's index, or 0,
    /// when no entry the log holds did); it is committed once the commit index reaches it.
    #[must_use]
    pub fn membership_index(&self) -> LogIndex {
        self.memberships.latest_index()
    }
    /// The leadership transfer under way at this leader: its target.
    #[must_use]
    pub fn transferring_to(&self) -> Option<NodeId> {
        self.transfer.as_ref().map(|t| t.to)
    }
    /// The newest snapshot: the log starts after it.
    #[must_use]
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }
    /// The bytes the term, vote and log take in the WAL format once the log is cut to what the
    /// node holds (the lab's "persisted Raft state"; snapshots are kept apart). A host's snapshot
    /// policy can compare it with a bound.
    #[must_use]
    pub fn raft_state_bytes(&self) -> usize {
        crate::wal::HARD_STATE_RECORD_BYTES + crate::wal::ENTRIES_RECORD_BYTES + self.log.bytes()
    }

    // ----- Role changes (etcd-raft style: every `become_*` goes through `reset`) -----

    /// Clears the per-term state. The vote survives only if the term does not move.
    pub(crate) fn reset(&mut self, term: Term) {
        assert!(term >= self.term, "reset would move the term back from {} to {term}", self.term);
        if term != self.term {
            self.term = term;
            self.vote = None;
            self.vote_unpersisted = false;
            self.hard_state_dirty = true;
        }
        self.leader = None;
        self.heartbeat_elapsed = 0;
        self.votes.clear();
        self.progress.clear();
        self.transfer = None;
        // Reads waiting at a leader that lost its term are dropped: the host, which sees the
        // role change, tells their clients to retry elsewhere.
        self.reads = Reads::default();
    }

    /// Restarts the election timer with a fresh random timeout. Only three things do this
    /// (paper Figure 2, Rules for Servers): hearing from the current leader, granting a vote,
    /// and starting an election. Merely learning of a higher term does not: a node that
    /// refuses a stale candidate's vote must keep counting towards its own campaign, or
    /// candidates that cannot win keep the one node that can from ever trying.
    pub(crate) fn restart_election_timer(&mut self) {
        self.election_elapsed = 0;
        self.randomize_election_timeout();
    }

    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if self.role == Role::Leader {
            // A leader counts as hearing itself: after it steps down it honours its own lease
            // as its followers do (see `ignores_vote_request`).
            self.since_leader_ticks = 0;
        }
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
        if leader.is_some() {
            self.heard_from_leader();
        }
    }

    /// A message from the leader of our term arrived.
    pub(crate) fn heard_from_leader(&mut self) {
        self.restart_election_timer();
        self.since_leader_ticks = 0;
    }

    /// Whether this node is a voter of the configuration in force here.
    pub(crate) fn is_voter(&self) -> bool {
        self.memberships.latest().is_voter(self.config.id)
    }

    pub(crate) fn randomize_election_timeout(&mut self) {
        self.election_timeout =
            self.rng.gen_range(self.config.election_ticks_min..self.config.election_ticks_max);
    }

    /// Numbers the next AppendEntries or InstallSnapshot this leader sends.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.sent_seq += 1;
        self.sent_seq
    }

    /// Queues a message that must wait until everything written so far is durable.
    pub(crate) fn send_after_persist(&mut self, to: NodeId, body: Body) {
        let m = Message { from: self.config.id, to, term: self.term, body };
        self.out_messages_after_persist.push(m);
    }

    /// Queues a message that may leave at once.
    pub(crate) fn send_now(&mut self, to: NodeId, body: Body) {
        let m = Message { from: self.config.id, to, term: self.term, body };
        self.out_messages.push(m);
    }

    /// Records that the log changed from `index` on, so the next ready persists that suffix.
    pub(crate) fn mark_log_dirty(&mut self, index: LogIndex) {
        self.log_dirty_from = Some(self.log_dirty_from.map_or(index, |d| d.min(index)));
        if index <= self.durable_index {
            self.durable_index = index.prev();
        }
        self.sync_memberships(index);
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        // Only a voter of the configuration in force here stands for election: a learner, a
        // server that has not learned it joined, or one that learned it was removed, waits.
        if self.election_elapsed >= self.election_timeout && !self.is_voter() {
            self.restart_election_timer();
            return;
        }
        if self.election_elapsed >= self.election_timeout && self.fenced() {
            // Recovery rule 2: a node that may have lost committed entries does not stand.
            self.restart_election_timer();
            return;
        }
        if self.election_elapsed >= self.election_timeout {
            if self.role == Role::Candidate && !self.votes_requested_again {
                self.request_votes_again();
            } else if self.config.pre_vote {
                self.pre_campaign();
            } else {
                self.campaign(false);
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        self.since_leader_ticks = 0;
        self.tick_transfer();
        if self.config.check_quorum && self.election_elapsed >= self.config.election_ticks_max {
            self.election_elapsed = 0;
            if !self.quorum_recently_active() {
                let term = self.term;
                self.become_follower(term, None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.heartbeat();
            if self.config.read_lease {
                // Keeps the lease fresh without waiting for a read.
                self.start_leadership_round();
            }
        }
    }

    /// Whether a majority of the configuration in force, counting this leader if it votes,
    /// answered since the last check; clears the marks.
    fn quorum_recently_active(&mut self) -> bool {
        let me = self.config.id;
        let progress = &self.progress;
        let active = self
            .memberships
            .latest()
            .is_quorum(|id| id == me || progress.get(&id).is_some_and(|p| p.recently_active));
        self.progress.values_mut().for_each(|p| p.recently_active = false);
        active
    }

    /// The log changed from `from` on (appended or truncated): the configurations it holds
    /// follow (a configuration takes effect when appended and is undone when truncated, thesis
    /// §4.1), and a leader tracks the members of the configuration now in force.
    pub(crate) fn sync_memberships(&mut self, from: LogIndex) {
        let before = *self.memberships.latest();
        self.memberships.truncate_from(from);
        if from > self.log.snapshot_index() {
            for entry in self.log.slice_from(from, usize::MAX) {
                if let Payload::Config(membership) = &entry.payload {
                    self.memberships.push(entry.index, **membership);
                }
            }
        }
        if *self.memberships.latest() != before && self.role == Role::Leader {
            self.track_members();
        }
    }

    /// Leader: one progress per member of the configuration in force, other than this node.
    pub(crate) fn track_members(&mut self) {
        let members = self.memberships.latest().members();
        let me = self.config.id;
        self.progress.retain(|id, _| members.contains(*id));
        let next_index = self.log.last_index().next();
        let sent_seq = self.sent_seq;
        for id in members.iter().filter(|id| *id != me) {
            self.progress.entry(id).or_insert_with(|| Progress::new(next_index, sent_seq));
        }
        if self.transfer.as_ref().is_some_and(|t| !self.memberships.latest().is_voter(t.to)) {
            self.transfer = None;
        }
    }

    /// A leader whose removal is committed steps down (thesis §4.2.2): until then it led a
    /// configuration without itself, counting quorums without its own log.
    fn maybe_step_down_removed(&mut self) {
        if self.role == Role::Leader
            && !self.is_voter()
            && self.commit_index >= self.memberships.latest_index()
        {
            let term = self.term;
            self.become_follower(term, None);
        }
    }

    /// Internal invariants, cheap enough to check after every input in release builds.
    pub(crate) fn assert_invariants(&self) {
        assert!(self.applied_index <= self.commit_index, "applied past the commit index");
        assert!(self.commit_index <= self.log.last_index(), "committed past the end of the log");
        assert!(self.durable_index <= self.log.last_index(), "durable past the end of the log");
        assert!(self.log.snapshot_index() <= self.commit_index, "a snapshot of entries not committed");
        assert!(
            self.snapshot_to_apply || self.applied_index >= self.log.snapshot_index(),
            "the snapshot covers entries the host neither applied nor was handed"
        );
        assert_eq!(
            self.snapshot.as_ref().map_or(SnapshotMeta::default(), |s| s.meta),
            self.log.snapshot_meta(),
            "the log does not start after the snapshot"
        );
        assert!(
            self.role != Role::Leader || self.leader == Some(self.config.id),
            "a leader that does not know itself as leader"
        );
        assert!(self.role == Role::Leader || self.progress.is_empty(), "progress kept outside leadership");
        if self.role == Role::Leader {
            let members = self.memberships.latest().members();
            assert!(
                self.progress.keys().all(|id| members.contains(*id) && *id != self.config.id),
                "progress kept for a server outside the configuration"
            );
            assert_eq!(
                self.progress.len(),
                members.iter().filter(|id| *id != self.config.id).count(),
                "a member without progress"
            );
        }
        assert!(self.transfer.is_none() || self.role == Role::Leader, "a transfer outside leadership");
    }
}
