//! Raft's safety invariants, checked online after every event.
//!
//! The world does not trust the nodes: it checks what they do (the writes they ask for, the
//! entries and snapshots they apply, the promises their messages make, their roles and commit
//! indexes), never what they claim about themselves. Each check is incremental, so that it
//! costs O(1) per event in the common case; what the checks remember by log index is forgotten
//! below the lowest index any node can still write, commit or apply (every node's log, in memory
//! and on disk, starts after it), so that memory stays flat as logs are compacted.
//!
//! | check | rule (Raft paper, Figure 3, §5 and §7) |
//! |---|---|
//! | `election-safety` | at most one leader per term |
//! | `log-matching` | two logs with an entry of the same index and term hold the same command there and agree on everything before it; a snapshot's last entry is the committed one |
//! | `truncation-without-conflict` | a follower deletes entries only where they conflict with the leader's, or with a snapshot it installs (Figure 2, Figure 13) |
//! | `leader-completeness` | a leader holds every entry committed in an earlier term, in its log or under its snapshot |
//! | `committed-entry-changed` | an index committed anywhere never commits to another entry |
//! | `commit-without-majority` | a leader's commit index is backed by an entry of its own term, at or after it, that a majority holds durably (§5.3, and §5.4.2's Figure 8 rule) |
//! | `state-machine-safety` | no two nodes apply different commands at one index |
//! | `apply-order` | each node applies indexes in order, each once per incarnation; a snapshot handed to its host moves it forward, and a restarted node never applies again what its snapshot covers |
//! | `snapshot-mismatch` | a snapshot holds the state machine after applying exactly the prefix it covers, data and client sessions |
//! | `node-panic` | a node's own assertion fails (it panics) |
//! | `durable-regressed` | after a restart a node still holds everything it made durable or promised (votes, acknowledged entries, snapshots), unless the world damaged its disk: then its term and vote still stand (the budget keeps a superblock copy) and it must be fenced |
//! | `unverified-data` | a node restarted on a damaged disk holds no entry that no node ever wrote (it acted on a record its checksums should have refused) |
//! | `fenced-vote` | a node whose disk lost what it may have promised grants no vote or pre-vote until a leader repaired it (protocol-aware recovery, FAST 2018) |

mod logs;
mod snapshots;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use raft_host::{
    DurableState, Entry, LogIndex, MessageKind, MessageView, NodeId, Payload, PersistOp, Raft, Role,
};
use raft_host::{Snapshot, SnapshotMeta, Term};
use raft_kv::{ClientId, Command, KvServer};

use logs::{TermLog, Window};
use snapshots::Model;

/// One of the invariants above.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    ElectionSafety,
    LogMatching,
    TruncationWithoutConflict,
    LeaderCompleteness,
    CommittedEntryChanged,
    CommitWithoutMajority,
    StateMachineSafety,
    ApplyOrder,
    SnapshotMismatch,
    DurableRegressed,
    UnverifiedData,
    FencedVote,
    /// A node's own assertion failed (it panicked).
    NodePanic,
}

impl Invariant {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Invariant::ElectionSafety => "election-safety",
            Invariant::LogMatching => "log-matching",
            Invariant::TruncationWithoutConflict => "truncation-without-conflict",
            Invariant::LeaderCompleteness => "leader-completeness",
            Invariant::CommittedEntryChanged => "committed-entry-changed",
            Invariant::CommitWithoutMajority => "commit-without-majority",
            Invariant::StateMachineSafety => "state-machine-safety",
            Invariant::ApplyOrder => "apply-order",
            Invariant::SnapshotMismatch => "snapshot-mismatch",
            Invariant::DurableRegressed => "durable-regressed",
            Invariant::UnverifiedData => "unverified-data",
            Invariant::FencedVote => "fenced-vote",
            Invariant::NodePanic => "node-panic",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant, with a sentence saying how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub node: u8,
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.reason)
    }
}

/// What one operation of a write changes, kept until the write's fsync completes. The terms
/// of written entries wait in a queue of their own, so that no write allocates here.
#[derive(Clone, Copy, Debug)]
enum WriteSummary {
    HardState {
        term: Term,
        vote: Option<NodeId>,
    },
    Entries {
        from: LogIndex,
        count: usize,
    },
    /// The truncation of entries that conflict with a snapshot being installed.
    Truncation(LogIndex),
    Snapshot(SnapshotMeta),
    Cut(LogIndex),
    /// The node's recovery fence (nothing the log checks follow).
    Fence,
}

/// What the checks remember about one node.
#[derive(Clone, Debug, Default)]
struct Watch {
    role: Option<Role>,
    term: Term,
    commit: LogIndex,
    /// What the node's host applied: entries handed out, or a snapshot it restored or installed.
    applied: LogIndex,
    /// The node's log as its writes describe it (including writes not yet durable).
    written: TermLog,
    /// The newest snapshot the node asked to write.
    written_snapshot: SnapshotMeta,
    /// What the disk acknowledged as durable.
    durable_term: Term,
    durable_vote: Option<NodeId>,
    durable: TermLog,
    durable_snapshot: SnapshotMeta,
    /// By ready number, oldest first.
    writes_in_flight: VecDeque<(u64, WriteSummary)>,
    /// The terms of the entries in `writes_in_flight`, in the same order.
    terms_in_flight: VecDeque<Term>,
    /// Promises made to other nodes, which must survive any crash.
    promised_term: Term,
    promised_vote: Option<(Term, NodeId)>,
    /// The node acknowledged its log up to here (lowered when it legitimately truncates).
    acked_index: LogIndex,
    /// The node's log terms up to `acked_index` as they were when it crashed.
    crash_terms: TermLog,
    /// A truncation of entries conflicting with an installed snapshot, in flight at the crash:
    /// it may have landed without the snapshot, and the entries from there may be gone.
    truncation_at_crash: Option<LogIndex>,
    /// Restarted on a damaged disk with its fence up, and not repaired yet.
    fenced: bool,
    /// While fenced: what it held durably before the damage. A leader may still count an
    /// acknowledgement the disk lost since (the recovery rules make that safe), so the commit
    /// check counts it as held until the node is repaired.
    lost: Option<(TermLog, SnapshotMeta)>,
}

impl Watch {
    /// What a node holds after a restart from `state`: no role, the durable term and vote, the
    /// log and snapshot it recovered, and (the host restored its store from the snapshot) that
    /// much committed and applied.
    fn restarted_from(&mut self, state: &DurableState, snapshot: SnapshotMeta) {
        self.role = None;
        self.term = state.term;
        self.commit = snapshot.last_index;
        self.applied = snapshot.last_index;
        self.written = TermLog::of_state(state);
        self.durable = TermLog::of_state(state);
        self.written_snapshot = snapshot;
        self.durable_snapshot = snapshot;
        self.durable_term = state.term;
        self.durable_vote = state.vote;
        self.truncation_at_crash = None;
    }

    /// The lowest index this node may still write at, less one: its logs start after it.
    fn floor(&self) -> LogIndex {
        self.written.base().min(self.durable.base())
    }
}

/// An entry some node counted as committed.
#[derive(Clone, Debug)]
struct Committed {
    term: Term,
    payload: Payload,
    /// The node that first counted it committed.
    by: u8,
    /// The earliest term in which any node counted it committed. Leader Completeness speaks of
    /// leaders of later terms only: a leader of an older term may learn of its victory late
    /// (say, after a pause) when newer leaders have committed more.
    in_term: Term,
}

/// One index's known entries: (term, payload, term of the entry before it).
type Known = Vec<(Term, Payload, Term)>;

/// The online checker.
#[derive(Clone)]
pub struct Invariants {
    quorum: usize,
    /// By term: the leader seen in it. A map, not a vector indexed by term: a server that trusts
    /// a damaged record (a planted bug) can take a term near 2^64.
    leaders: BTreeMap<Term, u8>,
    /// By index: every (term, payload, prev term) any node has written there.
    known: Window<Known>,
    /// By index: the committed entry.
    committed: Window<Committed>,
    /// By index: the applied payload and the node that applied it first.
    applied: Window<(Payload, u8)>,
    /// The state machine each applied index leads to, for the snapshots.
    model: Model,
    /// The `(client, seq)` and index of every command applied anywhere, in index order: what
    /// the final check of acknowledged writes and the linearizability witness look in (24 bytes
    /// a command, kept for the whole run).
    applied_commands: Vec<(ClientId, u64, LogIndex)>,
    watch: Vec<Watch>,
    /// How many times each kind of notable protocol event happened, for coverage figures.
    pub notes: Notes,
}

/// What changed at a node in one event.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub role_or_term_changed: bool,
    pub commit_moved: bool,
}

/// Notable protocol events seen by the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notes {
    pub elections: u64,
    pub leader_changes: u64,
    pub leader_step_downs: u64,
    pub conflict_truncations: u64,
    pub split_votes: u64,
    /// Installed snapshots whose last entry conflicted with the follower's written log.
    pub snapshot_truncations: u64,
}

impl Invariants {
    /// Checks for a cluster of `nodes` whose stores deduplicate retried commands (the planted
    /// bug `no-deduplication` says they do not).
    #[must_use]
    pub fn new(nodes: usize, deduplicate: bool) -> Invariants {
        Invariants {
            quorum: nodes / 2 + 1,
            leaders: BTreeMap::new(),
            known: Window::default(),
            committed: Window::default(),
            applied: Window::default(),
            model: Model::new(deduplicate),
            applied_commands: Vec::new(),
            watch: vec![Watch::default(); nodes],
            notes: Notes::default(),
        }
    }

    /// Checks a node's batch of outputs: its writes, the snapshot and entries it applied and
    /// its messages.
    pub fn on_ready(
        &mut self,
        node: u8,
        ready: u64,
        persist: &[PersistOp],
        snapshot: Option<&Snapshot>,
        committed: &[Entry],
        messages: &[MessageView],
    ) -> Result<(), Violation> {
        // A truncation that comes with a snapshot install is judged against that snapshot.
        let installing = persist.iter().find_map(|op| match op {
            PersistOp::Snapshot(s) => Some(s.meta),
            _ => None,
        });
        let mut checked_snapshot = None;
        for op in persist {
            let summary = match op {
                PersistOp::HardState { term, vote } => WriteSummary::HardState { term: *term, vote: *vote },
                PersistOp::Entries { from, entries } => {
                    let truncation = self.check_write(node, *from, entries, installing)?;
                    let w = &mut self.watch[node as usize];
                    w.terms_in_flight.extend(entries.iter().map(|e| e.term));
                    if truncation {
                        WriteSummary::Truncation(*from)
                    } else {
                        WriteSummary::Entries { from: *from, count: entries.len() }
                    }
                }
                PersistOp::Snapshot(s) => {
                    self.check_snapshot(node, s)?;
                    checked_snapshot = Some(s.meta);
                    self.watch[node as usize].written_snapshot = s.meta;
                    WriteSummary::Snapshot(s.meta)
                }
                PersistOp::CompactLog { through } => {
                    self.check_cut(node, *through)?;
                    WriteSummary::Cut(*through)
                }
                PersistOp::Fence(fence) => {
                    if *fence == raft_host::storage::Fence::None {
                        let w = &mut self.watch[node as usize];
                        w.fenced = false;
                        w.lost = None;
                    }
                    WriteSummary::Fence
                }
            };
            self.watch[node as usize].writes_in_flight.push_back((ready, summary));
        }
        if let Some(s) = snapshot {
            if checked_snapshot != Some(s.meta) {
                self.check_snapshot(node, s)?;
            }
            self.check_snapshot_applied(node, s.meta)?;
        }
        for entry in committed {
            self.check_apply(node, entry)?;
        }
        for m in messages {
            self.check_fenced_vote(node, m)?;
            self.note_promise(node, m);
        }
        Ok(())
    }

    /// A fenced node grants no vote and no pre-vote.
    fn check_fenced_vote(&self, node: u8, m: &MessageView) -> Result<(), Violation> {
        let granted = matches!(
            m.kind,
            MessageKind::VoteReply { granted: true } | MessageKind::PreVoteReply { granted: true }
        );
        if granted && self.watch[node as usize].fenced {
            return Err(Violation {
                invariant: Invariant::FencedVote,
                node,
                reason: format!(
                    "n{node} lost log entries it may have acknowledged to its disk and, not yet repaired, granted n{} a {} in term {}",
                    m.to.0,
                    if matches!(m.kind, MessageKind::VoteReply { .. }) { "vote" } else { "pre-vote" },
                    m.term
                ),
            });
        }
        Ok(())
    }

    /// Log Matching, checked on every entry a node writes, and the rule that only a conflict
    /// may truncate a log: with the leader's entries, or with a snapshot being installed (says
    /// whether it was that).
    fn check_write(
        &mut self,
        node: u8,
        from: LogIndex,
        entries: &[Entry],
        installing: Option<SnapshotMeta>,
    ) -> Result<bool, Violation> {
        // Every entry but a leader's new ones was written by some node before: a write that
        // starts past the end of all of them leaves a gap no leader filled.
        if !entries.is_empty() && from > self.known.last().next() {
            return Err(Violation {
                invariant: Invariant::LogMatching,
                node,
                reason: format!(
                    "n{node} wrote its log from {from}, but no node ever wrote an entry past {}: there is no entry {} for it to follow",
                    self.known.last(),
                    from.prev()
                ),
            });
        }
        let w = &mut self.watch[node as usize];
        if from <= w.written.base() {
            return Err(Violation {
                invariant: Invariant::CommittedEntryChanged,
                node,
                reason: format!(
                    "n{node} wrote its log from {from}, which it had cut (through {})",
                    w.written.base()
                ),
            });
        }
        // Installing a snapshot whose last entry conflicts with the written one drops that entry
        // and everything after it (paper Figure 13, step 7).
        let snapshot = installing.unwrap_or(w.written_snapshot);
        let install_truncation = entries.is_empty()
            && from == snapshot.last_index
            && w.written.term_at(from).is_some_and(|t| t != snapshot.last_term);
        if from <= w.written.last() {
            let old = w.written.term_at(from).unwrap_or_default();
            if install_truncation {
                self.notes.snapshot_truncations += 1;
            } else if entries.first().is_none_or(|e| e.term == old) {
                let what = if entries.is_empty() && installing.is_some() {
                    format!(" on installing a snapshot through {snapshot}")
                } else {
                    String::new()
                };
                return Err(Violation {
                    invariant: Invariant::TruncationWithoutConflict,
                    node,
                    reason: format!(
                        "n{node} cut its log from {from}{what}, where its entry {from}/{old} matched (log had entries to {})",
                        w.written.last()
                    ),
                });
            } else {
                self.notes.conflict_truncations += 1;
            }
        }
        // A first write of entries the node already counts committed (held behind the cut of an
        // install) rewrites nothing.
        if from <= w.commit && from <= w.written.last() && !install_truncation {
            return Err(Violation {
                invariant: Invariant::CommittedEntryChanged,
                node,
                reason: format!(
                    "n{node} rewrote its log from {from}, at or below its own commit index {}",
                    w.commit
                ),
            });
        }
        if from <= w.acked_index {
            w.acked_index = from.prev();
        }
        let mut prev_term = w.written.term_at(from.prev()).unwrap_or_default();
        w.written.truncate_from(from);
        for entry in entries {
            let index = entry.index;
            if let Some(known) = self.known.slot(index) {
                match known.iter().find(|(t, _, _)| *t == entry.term) {
                    Some((_, payload, p)) if !payload.same(&entry.payload) || *p != prev_term => {
                        let what = if payload.same(&entry.payload) {
                            "a different history before it"
                        } else {
                            "a different command"
                        };
                        return Err(Violation {
                            invariant: Invariant::LogMatching,
                            node,
                            reason: format!(
                                "n{node} wrote entry {index}/{} with {what} than another node's entry {index}/{} \
                                 (previous term {} vs {})",
                                entry.term, entry.term, prev_term, p
                            ),
                        });
                    }
                    Some(_) => {}
                    None => known.push((entry.term, entry.payload.clone(), prev_term)),
                }
            }
            self.watch[node as usize].written.push(entry.term);
            prev_term = entry.term;
        }
        Ok(install_truncation)
    }

    /// A snapshot a node writes (its own, or one it installs): it covers committed entries only,
    /// its last entry is the committed one, and it holds the state after exactly its prefix.
    fn check_snapshot(&mut self, node: u8, snapshot: &Snapshot) -> Result<(), Violation> {
        let meta = snapshot.meta;
        if meta.last_index > self.committed.last() {
            return Err(Violation {
                invariant: Invariant::SnapshotMismatch,
                node,
                reason: format!(
                    "n{node}'s snapshot through {meta} covers entries no node committed (up to {})",
                    self.committed.last()
                ),
            });
        }
        if let Some(c) = self.committed.get(meta.last_index) {
            if c.term != meta.last_term {
                return Err(Violation {
                    invariant: Invariant::LogMatching,
                    node,
                    reason: format!(
                        "n{node}'s snapshot ends at {meta}, but n{} committed {}/{} there",
                        c.by, meta.last_index, c.term
                    ),
                });
            }
        }
        self.model.check(node, snapshot)
    }

    /// A log cut must be covered by a snapshot the node wrote.
    fn check_cut(&mut self, node: u8, through: LogIndex) -> Result<(), Violation> {
        let w = &mut self.watch[node as usize];
        if through > w.written_snapshot.last_index {
            return Err(Violation {
                invariant: Invariant::DurableRegressed,
                node,
                reason: format!(
                    "n{node} cut its log through {through}, past its snapshot (through {})",
                    w.written_snapshot.last_index
                ),
            });
        }
        let term = (through == w.written_snapshot.last_index)
            .then_some(w.written_snapshot.last_term)
            .or(w.written.term_at(through));
        w.written.cut_through(through, term);
        self.forget_below_every_log();
        Ok(())
    }

    /// A snapshot handed to a node's host replaces its state machine: it must move forward.
    fn check_snapshot_applied(&mut self, node: u8, meta: SnapshotMeta) -> Result<(), Violation> {
        let w = &mut self.watch[node as usize];
        if meta.last_index <= w.applied {
            return Err(Violation {
                invariant: Invariant::ApplyOrder,
                node,
                reason: format!(
                    "n{node} was handed a snapshot through {} after applying {}: its state machine goes back or applies again",
                    meta.last_index, w.applied
                ),
            });
        }
        w.applied = meta.last_index;
        Ok(())
    }

    fn check_apply(&mut self, node: u8, entry: &Entry) -> Result<(), Violation> {
        let w = &mut self.watch[node as usize];
        if entry.index != w.applied.next() {
            return Err(Violation {
                invariant: Invariant::ApplyOrder,
                node,
                reason: format!("n{node} applied {} right after {}", entry.index, w.applied),
            });
        }
        w.applied = entry.index;
        if entry.index <= self.applied.last() {
            if let Some((first, by)) = self.applied.get(entry.index) {
                if !first.same(&entry.payload) {
                    return Err(Violation {
                        invariant: Invariant::StateMachineSafety,
                        node,
                        reason: format!(
                            "n{node} applied {} at {}, but n{by} applied a different command there",
                            describe(&entry.payload),
                            entry.index
                        ),
                    });
                }
            }
        } else if entry.index == self.applied.last().next() {
            self.applied.push((entry.payload.clone(), node));
            self.model.apply(&entry.payload);
            if let Some((client, seq)) = entry.payload.data().and_then(Command::peek_id) {
                self.applied_commands.push((client, seq, entry.index));
            }
        } else {
            return Err(Violation {
                invariant: Invariant::ApplyOrder,
                node,
                reason: format!(
                    "n{node} applied {}, past anything applied anywhere ({})",
                    entry.index,
                    self.applied.last()
                ),
            });
        }
        Ok(())
    }

    /// What a message promises: a vote asked for (the sender's own), a vote granted, an
    /// acknowledgement of entries or of a snapshot. The node must keep each across a crash.
    fn note_promise(&mut self, node: u8, m: &MessageView) {
        let w = &mut self.watch[node as usize];
        match m.kind {
            MessageKind::Vote { .. } => {
                w.promised_term = w.promised_term.max(m.term);
                w.promised_vote = Some((m.term, m.from));
            }
            MessageKind::VoteReply { granted: true } => {
                w.promised_term = w.promised_term.max(m.term);
                w.promised_vote = Some((m.term, m.to));
            }
            MessageKind::AppendReply { matched: Some(index), .. }
            | MessageKind::SnapshotReply { matched: Some(index) } => {
                w.promised_term = w.promised_term.max(m.term);
                w.acked_index = w.acked_index.max(index);
            }
            _ => {}
        }
    }

    /// A write became durable.
    pub fn on_fsync(&mut self, node: u8, ready: u64) {
        let w = &mut self.watch[node as usize];
        assert!(
            w.writes_in_flight.front().is_some_and(|(number, _)| *number == ready),
            "n{node}: fsync of ready {ready} is not the oldest write in flight"
        );
        let mut cut = false;
        while let Some(&(number, summary)) = w.writes_in_flight.front() {
            if number != ready {
                break;
            }
            w.writes_in_flight.pop_front();
            match summary {
                WriteSummary::HardState { term, vote } => {
                    w.durable_term = term;
                    w.durable_vote = vote;
                }
                WriteSummary::Entries { from, count } => {
                    w.durable.truncate_from(from);
                    for term in w.terms_in_flight.drain(..count) {
                        w.durable.push(term);
                    }
                }
                WriteSummary::Truncation(from) => w.durable.truncate_from(from),
                WriteSummary::Snapshot(meta) => w.durable_snapshot = meta,
                WriteSummary::Fence => {}
                WriteSummary::Cut(through) => {
                    let s = w.durable_snapshot;
                    let term =
                        (through == s.last_index).then_some(s.last_term).or(w.durable.term_at(through));
                    w.durable.cut_through(through, term);
                    cut = true;
                }
            }
        }
        if cut {
            self.forget_below_every_log();
        }
    }

    /// Forgets the per-index facts no node can need: at or below the start of every node's
    /// logs, written and durable (each node's snapshot, in memory, covers at least that much).
    fn forget_below_every_log(&mut self) {
        let Some(floor) = self.watch.iter().map(Watch::floor).min() else { return };
        self.known.forget_through(floor);
        self.committed.forget_through(floor);
        self.applied.forget_through(floor);
        self.model.forget_through(floor);
    }

    /// Observes a node after it handled an event: its role, term and commit index. Says what
    /// changed.
    pub fn after_event<R: Raft>(&mut self, node: u8, server: &KvServer<R>) -> Result<Observed, Violation> {
        let view = server.node().view();
        let (role, term, commit) = (view.role, view.term, view.commit);
        let w = &self.watch[node as usize];
        let changed = w.role != Some(role) || w.term != term;
        let commit_moved = commit > w.commit;
        let observed = Observed { role_or_term_changed: changed, commit_moved };
        if !changed && !commit_moved {
            return Ok(observed);
        }
        if changed {
            if role == Role::Candidate {
                self.notes.elections += 1;
            }
            if w.role == Some(Role::Leader) && role != Role::Leader {
                self.notes.leader_step_downs += 1;
            }
            if w.role == Some(Role::Candidate) && role == Role::Candidate {
                self.notes.split_votes += 1;
            }
            if role == Role::Leader {
                self.check_new_leader(node, server)?;
            }
            let w = &mut self.watch[node as usize];
            w.role = Some(role);
            w.term = term;
        }
        if commit_moved {
            self.check_commit(node, server)?;
        }
        Ok(observed)
    }

    fn check_new_leader<R: Raft>(&mut self, node: u8, server: &KvServer<R>) -> Result<(), Violation> {
        let raft = server.node();
        let view = raft.view();
        let term = view.term;
        match self.leaders.get(&term).copied() {
            Some(other) if other != node => {
                return Err(Violation {
                    invariant: Invariant::ElectionSafety,
                    node,
                    reason: format!("n{node} and n{other} are both leader of term {term}"),
                });
            }
            Some(_) => return Ok(()),
            None => {
                self.leaders.insert(term, node);
                self.notes.leader_changes += 1;
            }
        }
        // Entries under the leader's snapshot are held through it (the snapshot checks make sure
        // it holds exactly the committed prefix); its last entry must be the committed one.
        let covered = view.snapshot.map_or(LogIndex::ZERO, |s| s.last_index);
        for (index, c) in self.committed.iter() {
            if c.in_term >= term || index < covered {
                continue;
            }
            let held = raft.term_at(index);
            let same_entry = raft.entry(index).is_none_or(|e| e.payload.same(&c.payload));
            if held != Some(c.term) || !same_entry {
                return Err(Violation {
                    invariant: Invariant::LeaderCompleteness,
                    node,
                    reason: format!(
                        "n{node} became leader of term {term} without entry {index}/{}, which n{} committed in term {}{}",
                        c.term,
                        c.by,
                        c.in_term,
                        held.map_or(String::from(" (its log is shorter)"), |t| format!(" (it holds {index}/{t})"))
                    ),
                });
            }
        }
        Ok(())
    }

    fn check_commit<R: Raft>(&mut self, node: u8, server: &KvServer<R>) -> Result<(), Violation> {
        let raft = server.node();
        let view = raft.view();
        let commit = view.commit;
        // What a snapshot installed just now covers was committed by the leader it came from.
        let covered = view.snapshot.map_or(LogIndex::ZERO, |s| s.last_index);
        let from = self.watch[node as usize].commit.max(covered).next();
        for i in from.0..=commit.0 {
            let index = LogIndex(i);
            let Some(entry) = raft.entry(index) else {
                return Err(Violation {
                    invariant: Invariant::CommittedEntryChanged,
                    node,
                    reason: format!("n{node} counts {index} committed but its log does not hold it"),
                });
            };
            if index <= self.committed.last() {
                let Some(c) = self.committed.get_mut(index) else { continue };
                if c.term != entry.term || !c.payload.same(&entry.payload) {
                    return Err(Violation {
                        invariant: Invariant::CommittedEntryChanged,
                        node,
                        reason: format!(
                            "n{node} committed {index}/{} but n{} had committed {index}/{} there",
                            entry.term, c.by, c.term
                        ),
                    });
                }
                c.in_term = c.in_term.min(view.term);
            } else if index == self.committed.last().next() {
                self.committed.push(Committed {
                    term: entry.term,
                    payload: entry.payload.clone(),
                    by: node,
                    in_term: view.term,
                });
            } else {
                return Err(Violation {
                    invariant: Invariant::CommittedEntryChanged,
                    node,
                    reason: format!(
                        "n{node} committed {index}, past anything committed ({})",
                        self.committed.last()
                    ),
                });
            }
        }
        if view.role == Role::Leader {
            self.check_leader_commit(node, server)?;
        }
        self.watch[node as usize].commit = commit;
        Ok(())
    }

    /// A leader's commit index must be backed by an entry of its own term, at or after it, that
    /// a majority holds durably. That is the majority rule (paper §5.3) together with the rule
    /// that only entries of the leader's own term commit by counting replicas (§5.4.2, the
    /// paper's Figure 8): entries of earlier terms commit only underneath such an entry.
    fn check_leader_commit<R: Raft>(&self, node: u8, server: &KvServer<R>) -> Result<(), Violation> {
        let raft = server.node();
        let view = raft.view();
        let (commit, term) = (view.commit, view.term);
        // The leader's own-term entries form the tail of its log; a node holding a later one
        // holds the earlier ones too, so the first at or after `commit` is the one to count.
        let backing = (commit.0..=view.last_index.0).map(LogIndex).find(|i| raft.term_at(*i) == Some(term));
        // The quorum is counted among the voters of the configuration in force at the leader
        // (the one it counts in itself); without one reported, among every node.
        let (voters, quorum): (Vec<usize>, usize) = match raft.configuration() {
            Some(c) if !c.voters.is_empty() => {
                (c.voters.iter().map(|id| id.0 as usize).collect(), c.voters.len() / 2 + 1)
            }
            _ => ((0..self.watch.len()).collect(), self.quorum),
        };
        // A node holds an entry durably in its log, or under a durable snapshot that covers it.
        let holders = |index: LogIndex, term: Term| {
            let in_log = |log: &TermLog, s: SnapshotMeta| {
                log.term_at(index) == Some(term)
                    || index < s.last_index
                    || (index == s.last_index && term == s.last_term)
            };
            let held = |w: &Watch| {
                in_log(&w.durable, w.durable_snapshot) || w.lost.as_ref().is_some_and(|(l, s)| in_log(l, *s))
            };
            self.watch.iter().enumerate().filter(|(n, w)| voters.contains(n) && held(w)).count()
        };
        let reason = match backing {
            Some(index) if holders(index, term) >= quorum => return Ok(()),
            Some(index) if index == commit => format!(
                "n{node} committed {commit}/{term} while only {} of its {} voters held it durably",
                holders(index, term),
                voters.len()
            ),
            _ => {
                let committed_term = raft.term_at(commit).unwrap_or_default();
                format!(
                    "n{node}, leader of {term}, committed {commit}/{committed_term} by counting replicas: no entry of \
                     its own term at or after it is held by a majority ({} of {} voters hold {commit}/{committed_term})",
                    holders(commit, committed_term),
                    voters.len()
                )
            }
        };
        Err(Violation { invariant: Invariant::CommitWithoutMajority, node, reason })
    }

    /// A node out of the configuration lost its disk (a new machine taking its id): nothing it
    /// promised binds the next incarnation, which starts empty.
    pub fn on_wipe(&mut self, node: u8) {
        self.watch[node as usize] = Watch::default();
    }

    /// A node crashed: remember what it promised, forget its volatile state.
    pub fn on_crash<R: Raft>(&mut self, node: u8, server: &KvServer<R>) {
        let w = &mut self.watch[node as usize];
        w.crash_terms = TermLog::of_log(server.node(), w.acked_index);
        w.truncation_at_crash = w
            .writes_in_flight
            .iter()
            .filter_map(|(_, s)| match s {
                WriteSummary::Truncation(from) => Some(*from),
                _ => None,
            })
            .min();
        w.writes_in_flight.clear();
        w.terms_in_flight.clear();
    }

    /// A node restarted from `state` as `server`: it must still hold what it made durable and
    /// what it promised others, in its log or under its snapshot.
    pub fn on_restart<R: Raft>(
        &mut self,
        node: u8,
        state: &DurableState,
        server: &KvServer<R>,
        damaged: bool,
    ) -> Result<(), Violation> {
        self.check_verified(node, server)?;
        let w = &mut self.watch[node as usize];
        let regressed =
            |reason: String| Err(Violation { invariant: Invariant::DurableRegressed, node, reason });
        if damaged {
            return self.on_damaged_restart(node, state);
        }
        kept_term_and_vote(w, node, state, "")?;
        if state.term == w.durable_term && w.durable_vote.is_some() && state.vote != w.durable_vote {
            return regressed(format!("n{node} lost its durable vote in term {}", state.term));
        }
        let restored_snapshot = state.snapshot.as_ref().map_or(SnapshotMeta::default(), |s| s.meta);
        if restored_snapshot.last_index < w.durable_snapshot.last_index {
            return regressed(format!(
                "n{node} restarted from a snapshot through {} after making one through {} durable",
                restored_snapshot.last_index, w.durable_snapshot.last_index
            ));
        }
        // What the node holds now: its snapshot, and the log it rebuilt after it.
        let log = server.node();
        let covered = log.view().snapshot.map_or(LogIndex::ZERO, |s| s.last_index);
        for (index, term) in w.crash_terms.iter() {
            if index > covered && log.term_at(index) != Some(term) {
                return regressed(format!(
                    "n{node} acknowledged entry {index}/{term} but restarted {}",
                    log.term_at(index)
                        .map_or("without it".to_string(), |t| format!("with {index}/{t} there"))
                ));
            }
        }
        // Durable entries may only be replaced by later entries of higher terms, never lost,
        // except those that conflict with a snapshot the node installed: after a durable
        // snapshot whose last entry they contradict (the restart drops them, as Figure 13 does),
        // or from a truncation for a snapshot that a crash let land alone.
        let conflicting = w
            .durable
            .term_at(restored_snapshot.last_index)
            .is_some_and(|t| {
                restored_snapshot.last_index > LogIndex::ZERO && t != restored_snapshot.last_term
            })
            .then_some(restored_snapshot.last_index);
        let droppable = conflicting.into_iter().chain(w.truncation_at_crash).min();
        for (index, term) in w.durable.iter() {
            if index <= covered {
                continue;
            }
            if droppable.is_some_and(|from| index >= from) {
                break;
            }
            match log.term_at(index) {
                Some(t) if t == term => {}
                Some(t) if t > term => break,
                other => {
                    return regressed(format!(
                        "n{node} lost durable entry {index}/{term} (restarted with {})",
                        other.map_or("nothing there".to_string(), |t| format!("term {t}"))
                    ));
                }
            }
        }
        w.restarted_from(state, restored_snapshot);
        Ok(())
    }

    /// A restart on a disk the world damaged: the log may have lost anything after the damage,
    /// but the term and vote stand (the budget keeps a superblock copy) unless the superblock
    /// was destroyed too (beyond the budget), and the node must be fenced.
    fn on_damaged_restart(&mut self, node: u8, state: &DurableState) -> Result<(), Violation> {
        use raft_host::storage::Fence;
        let w = &mut self.watch[node as usize];
        let regressed =
            |reason: String| Err(Violation { invariant: Invariant::DurableRegressed, node, reason });
        if state.fence == Fence::None {
            return regressed(format!("n{node} restarted on a damaged disk without a fence"));
        }
        if state.fence != Fence::Unknown {
            kept_term_and_vote(w, node, state, " on a damaged disk")?;
        }
        if w.lost.is_none() {
            w.lost = Some((w.durable.clone(), w.durable_snapshot));
        }
        let restored_snapshot = state.snapshot.as_ref().map_or(SnapshotMeta::default(), |s| s.meta);
        w.fenced = true;
        w.restarted_from(state, restored_snapshot);
        // What it acknowledged is gone with the damage: only its new log counts from here.
        w.acked_index = LogIndex::ZERO;
        Ok(())
    }

    /// A restarted node holds no entry that no node ever wrote: what it booted from must have
    /// passed its host's checksums.
    ///
    /// Only the indexes some node wrote are looked at: a log that reaches past all of them
    /// (an index read from a damaged record can be near 2^64) is itself the violation, found
    /// without walking it.
    fn check_verified<R: Raft>(&self, node: u8, server: &KvServer<R>) -> Result<(), Violation> {
        let raft = server.node();
        let view = raft.view();
        if view.last_index > self.known.last() {
            return Err(Violation {
                invariant: Invariant::UnverifiedData,
                node,
                reason: format!(
                    "n{node} restarted holding a log to {}, past every entry any node ever wrote (to {}): it used a record its disk damaged",
                    view.last_index,
                    self.known.last()
                ),
            });
        }
        let from = view.first_index().max(self.known.first());
        for i in from.0..=view.last_index.0 {
            let index = LogIndex(i);
            let (Some(entry), Some(known)) = (raft.entry(index), self.known.get(index)) else { continue };
            if !known.iter().any(|(t, p, _)| *t == entry.term && p.same(&entry.payload)) {
                return Err(Violation {
                    invariant: Invariant::UnverifiedData,
                    node,
                    reason: format!(
                        "n{node} restarted holding entry {index}/{} that no node ever wrote: it used a record its disk damaged",
                        entry.term
                    ),
                });
            }
        }
        Ok(())
    }

    /// The last index node `n` holds durably, as its acknowledged writes describe it.
    #[must_use]
    pub fn durable_entries(&self, node: u8) -> u64 {
        self.watch[node as usize].durable.last().0
    }

    /// The commands applied anywhere, with the index each was applied at, in index order (a
    /// retry the state machine did not recognise is there once for each index).
    #[must_use]
    pub fn applied_commands(&self) -> &[(ClientId, u64, LogIndex)] {
        &self.applied_commands
    }

    /// The highest index node `n` acknowledged since it last truncated its log.
    #[must_use]
    pub fn acked_index(&self, node: u8) -> LogIndex {
        self.watch.get(node as usize).map_or(LogIndex::ZERO, |w| w.acked_index)
    }

    /// How many client commands have been applied anywhere.
    #[must_use]
    pub fn applied_command_count(&self) -> usize {
        self.applied_commands.len()
    }

    /// The highest index some node has counted committed.
    #[must_use]
    pub fn committed_len(&self) -> usize {
        self.committed.last().0 as usize
    }

    /// The highest index any node applied.
    #[must_use]
    pub fn applied_len(&self) -> usize {
        self.applied.last().0 as usize
    }

    /// How many per-index facts the checks keep (known entries, committed, applied): flat when
    /// every node compacts its log.
    #[must_use]
    pub fn indexes_kept(&self) -> usize {
        self.known.kept() + self.committed.kept() + self.applied.kept()
    }
}

fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Noop => "a no-op".into(),
        Payload::Config(m) => format!("the configuration {m}"),
        Payload::Data(data) => {
            Command::decode(data).map_or_else(|e| format!("undecodable data ({e})"), |c| c.to_string())
        }
    }
}

/// A restarted node's term and vote: never behind the term it made durable or promised, and in
/// the term of a vote it promised, that vote. `how` qualifies the restart in the reason.
fn kept_term_and_vote(w: &Watch, node: u8, state: &DurableState, how: &str) -> Result<(), Violation> {
    let regressed = |reason: String| Err(Violation { invariant: Invariant::DurableRegressed, node, reason });
    if state.term < w.durable_term || state.term < w.promised_term {
        return regressed(format!(
            "n{node} restarted{how} in term {} after making term {} durable and promising term {}",
            state.term, w.durable_term, w.promised_term
        ));
    }
    match w.promised_vote {
        Some((term, vote)) if state.term == term && state.vote != Some(vote) => regressed(format!(
            "n{node} voted for n{} in term {term} but restarted{how} with vote {:?} in that term",
            vote.0,
            state.vote.map(|v| v.0)
        )),
        _ => Ok(()),
    }
}
