//! Raft's safety invariants, checked online after every event.
//!
//! The world does not trust the nodes: it checks what they do (the writes they ask for, the
//! entries they apply, the promises their messages make, their roles and commit indexes), never
//! what they claim about themselves. Each check is incremental, so that it costs O(1) per event
//! in the common case.
//!
//! | check | rule (Raft paper, Figure 3 and §5) |
//! |---|---|
//! | `election-safety` | at most one leader per term |
//! | `log-matching` | two logs with an entry of the same index and term hold the same command there and agree on everything before it |
//! | `truncation-without-conflict` | a follower deletes entries only where they conflict with the leader's (Figure 2) |
//! | `leader-completeness` | a leader holds every entry committed in an earlier term |
//! | `committed-entry-changed` | an index committed anywhere never commits to another entry |
//! | `commit-without-majority` | a leader's commit index is backed by an entry of its own term, at or after it, that a majority holds durably (§5.3, and §5.4.2's Figure 8 rule) |
//! | `state-machine-safety` | no two nodes apply different commands at one index |
//! | `apply-order` | each node applies indexes in order, each once per incarnation |
//! | `node-panic` | a node's own assertion fails (it panics) |
//! | `durable-regressed` | after a restart a node still holds everything it made durable or promised (votes, acknowledged entries) |

use std::collections::VecDeque;
use std::fmt;

use raft_core::{AppendResponse, DurableState};
use raft_core::{Body, ClientId, Entry, KvServer, LogIndex, Message, NodeId, Payload, PersistOp, Role, Term};

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
    DurableRegressed,
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
            Invariant::DurableRegressed => "durable-regressed",
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

/// Whether two payloads are the same command. Replicas share one allocation per command, so
/// the pointer comparison settles it almost always; after a restart (commands decoded from
/// disk) the contents are compared.
#[inline]
#[must_use]
pub fn same_payload(a: &Payload, b: &Payload) -> bool {
    match (a, b) {
        (Payload::Noop, Payload::Noop) => true,
        (Payload::Command(x), Payload::Command(y)) => std::sync::Arc::ptr_eq(x, y) || **x == **y,
        _ => false,
    }
}

/// What one operation of a write changes, kept until the write's fsync completes. The terms
/// of written entries wait in a queue of their own, so that no write allocates here.
#[derive(Clone, Copy, Debug)]
enum WriteSummary {
    HardState { term: Term, vote: Option<NodeId> },
    Entries { from: LogIndex, count: usize },
}

/// What the checks remember about one node.
#[derive(Clone, Debug, Default)]
struct Watch {
    role: Option<Role>,
    term: Term,
    commit: LogIndex,
    applied: LogIndex,
    /// Terms of the node's log as its writes describe it (including writes not yet durable).
    written_terms: Vec<Term>,
    /// What the disk acknowledged as durable.
    durable_term: Term,
    durable_vote: Option<NodeId>,
    durable_terms: Vec<Term>,
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
    crash_terms: Vec<Term>,
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
pub struct Invariants {
    quorum: usize,
    /// By term: the leader seen in it.
    leaders: Vec<Option<u8>>,
    /// By index - 1: every (term, payload, prev term) any node has written there.
    known: Vec<Known>,
    /// By index - 1: the committed entry.
    committed: Vec<Committed>,
    /// By index - 1: the applied payload and the node that applied it first.
    applied: Vec<(Payload, u8)>,
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
}

impl Invariants {
    #[must_use]
    pub fn new(nodes: usize) -> Invariants {
        Invariants {
            quorum: nodes / 2 + 1,
            leaders: Vec::new(),
            known: Vec::new(),
            committed: Vec::new(),
            applied: Vec::new(),
            watch: vec![Watch::default(); nodes],
            notes: Notes::default(),
        }
    }

    /// Checks a node's batch of outputs: its writes, the entries it applied and its messages.
    pub fn on_ready(
        &mut self,
        node: u8,
        ready: u64,
        persist: &[PersistOp],
        committed: &[Entry],
        messages: &[Message],
    ) -> Result<(), Violation> {
        for op in persist {
            let summary = match op {
                PersistOp::HardState { term, vote } => WriteSummary::HardState { term: *term, vote: *vote },
                PersistOp::Entries { from, entries } => {
                    self.check_write(node, *from, entries)?;
                    let w = &mut self.watch[node as usize];
                    w.terms_in_flight.extend(entries.iter().map(|e| e.term));
                    WriteSummary::Entries { from: *from, count: entries.len() }
                }
                // Not produced yet: the world takes no snapshots until its policy says so.
                PersistOp::Snapshot(_) | PersistOp::CompactLog { .. } => continue,
            };
            self.watch[node as usize].writes_in_flight.push_back((ready, summary));
        }
        for entry in committed {
            self.check_apply(node, entry)?;
        }
        for m in messages {
            self.note_promise(node, m);
        }
        Ok(())
    }

    /// Log Matching, checked on every entry a node writes, and the rule that only a conflict
    /// may truncate a log.
    fn check_write(&mut self, node: u8, from: LogIndex, entries: &[Entry]) -> Result<(), Violation> {
        let w = &mut self.watch[node as usize];
        let position = (from.0 - 1) as usize;

        if position < w.written_terms.len() {
            let old = w.written_terms[position];
            if entries.first().is_none_or(|e| e.term == old) {
                return Err(Violation {
                    invariant: Invariant::TruncationWithoutConflict,
                    node,
                    reason: format!(
                        "n{node} cut its log from {from}, where its entry {from}/{old} matched the new one (log had {} entries)",
                        w.written_terms.len()
                    ),
                });
            }
            self.notes.conflict_truncations += 1;
        }
        if from <= w.commit {
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
        let mut prev_term = if position == 0 { Term::ZERO } else { w.written_terms[position - 1] };
        w.written_terms.truncate(position);
        for entry in entries {
            let index = entry.index;
            let slot = (index.0 - 1) as usize;
            if self.known.len() <= slot {
                self.known.resize_with(slot + 1, Vec::new);
            }
            let known = &mut self.known[slot];
            match known.iter().find(|(t, _, _)| *t == entry.term) {
                Some((_, payload, p)) if !same_payload(payload, &entry.payload) || *p != prev_term => {
                    let what = if same_payload(payload, &entry.payload) {
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
            self.watch[node as usize].written_terms.push(entry.term);
            prev_term = entry.term;
        }
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
        let slot = (entry.index.0 - 1) as usize;
        if slot < self.applied.len() {
            let (first, by) = &self.applied[slot];
            if !same_payload(first, &entry.payload) {
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
        } else {
            assert_eq!(slot, self.applied.len(), "some node applied past the first unapplied index");
            self.applied.push((entry.payload.clone(), node));
        }
        Ok(())
    }

    fn note_promise(&mut self, node: u8, m: &Message) {
        let w = &mut self.watch[node as usize];
        match &m.body {
            Body::RequestVote { .. } => {
                w.promised_term = w.promised_term.max(m.term);
                w.promised_vote = Some((m.term, m.from));
            }
            Body::RequestVoteResponse { granted: true } => {
                w.promised_term = w.promised_term.max(m.term);
                w.promised_vote = Some((m.term, m.to));
            }
            Body::AppendEntriesResponse(AppendResponse::Accepted { match_index }) => {
                w.promised_term = w.promised_term.max(m.term);
                w.acked_index = w.acked_index.max(*match_index);
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
                    w.durable_terms.truncate((from.0 - 1) as usize);
                    w.durable_terms.extend(w.terms_in_flight.drain(..count));
                }
            }
        }
    }

    /// Observes a node after it handled an event: its role, term and commit index. Says what
    /// changed.
    pub fn after_event(&mut self, node: u8, server: &KvServer) -> Result<Observed, Violation> {
        let raft = server.node();
        let (role, term, commit) = (raft.role(), raft.term(), raft.commit_index());
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

    fn check_new_leader(&mut self, node: u8, server: &KvServer) -> Result<(), Violation> {
        let raft = server.node();
        let term = raft.term();
        let slot = term.0 as usize;
        if self.leaders.len() <= slot {
            self.leaders.resize(slot + 1, None);
        }
        match self.leaders[slot] {
            Some(other) if other != node => {
                return Err(Violation {
                    invariant: Invariant::ElectionSafety,
                    node,
                    reason: format!("n{node} and n{other} are both leader of term {term}"),
                });
            }
            Some(_) => return Ok(()),
            None => {
                self.leaders[slot] = Some(node);
                self.notes.leader_changes += 1;
            }
        }
        for (i, c) in self.committed.iter().enumerate() {
            if c.in_term >= term {
                continue;
            }
            let index = LogIndex(i as u64 + 1);
            let held = raft.log().get(index);
            if held.is_none_or(|e| e.term != c.term || !same_payload(&e.payload, &c.payload)) {
                return Err(Violation {
                    invariant: Invariant::LeaderCompleteness,
                    node,
                    reason: format!(
                        "n{node} became leader of term {term} without entry {index}/{}, which n{} committed in term {}{}",
                        c.term,
                        c.by,
                        c.in_term,
                        held.map_or(String::from(" (its log is shorter)"), |e| format!(" (it holds {index}/{})", e.term))
                    ),
                });
            }
        }
        Ok(())
    }

    fn check_commit(&mut self, node: u8, server: &KvServer) -> Result<(), Violation> {
        let raft = server.node();
        let commit = raft.commit_index();
        let from = self.watch[node as usize].commit.next();
        for i in from.0..=commit.0 {
            let index = LogIndex(i);
            let Some(entry) = raft.log().get(index) else {
                unreachable!("the node asserts commit <= last index")
            };
            let slot = (i - 1) as usize;
            if slot < self.committed.len() {
                let c = &mut self.committed[slot];
                if c.term != entry.term || !same_payload(&c.payload, &entry.payload) {
                    return Err(Violation {
                        invariant: Invariant::CommittedEntryChanged,
                        node,
                        reason: format!(
                            "n{node} committed {index}/{} but n{} had committed {index}/{} there",
                            entry.term, c.by, c.term
                        ),
                    });
                }
                c.in_term = c.in_term.min(raft.term());
            } else {
                self.committed.push(Committed {
                    term: entry.term,
                    payload: entry.payload.clone(),
                    by: node,
                    in_term: raft.term(),
                });
            }
        }
        if raft.role() == Role::Leader {
            self.check_leader_commit(node, server)?;
        }
        self.watch[node as usize].commit = commit;
        Ok(())
    }

    /// A leader's commit index must be backed by an entry of its own term, at or after it, that
    /// a majority holds durably. That is the majority rule (paper §5.3) together with the rule
    /// that only entries of the leader's own term commit by counting replicas (§5.4.2, the
    /// paper's Figure 8): entries of earlier terms commit only underneath such an entry.
    fn check_leader_commit(&self, node: u8, server: &KvServer) -> Result<(), Violation> {
        let raft = server.node();
        let (commit, term) = (raft.commit_index(), raft.term());
        let log = raft.log();
        // The leader's own-term entries form the tail of its log; a node holding a later one
        // holds the earlier ones too, so the first at or after `commit` is the one to count.
        let backing = (commit.0..=log.last_index().0).map(LogIndex).find(|i| log.term_at(*i) == Some(term));
        let holders = |index: LogIndex, term: Term| {
            self.watch.iter().filter(|w| w.durable_terms.get((index.0 - 1) as usize) == Some(&term)).count()
        };
        let reason = match backing {
            Some(index) if holders(index, term) >= self.quorum => return Ok(()),
            Some(index) if index == commit => format!(
                "n{node} committed {commit}/{term} while only {} of {} nodes held it durably",
                holders(index, term),
                self.watch.len()
            ),
            _ => {
                let committed_term = log.term_at(commit).unwrap_or_default();
                format!(
                    "n{node}, leader of {term}, committed {commit}/{committed_term} by counting replicas: no entry of \
                     its own term at or after it is held by a majority ({} of {} hold {commit}/{committed_term})",
                    holders(commit, committed_term),
                    self.watch.len()
                )
            }
        };
        Err(Violation { invariant: Invariant::CommitWithoutMajority, node, reason })
    }

    /// A node crashed: remember what it promised, forget its volatile state.
    pub fn on_crash(&mut self, node: u8, server: &KvServer) {
        let w = &mut self.watch[node as usize];
        let acked = w.acked_index.0 as usize;
        w.crash_terms = server.node().log().entries()[..acked.min(server.node().log().entries().len())]
            .iter()
            .map(|e| e.term)
            .collect();
        w.writes_in_flight.clear();
        w.terms_in_flight.clear();
    }

    /// A node restarted from `state`: it must still hold what it made durable and what it
    /// promised others.
    pub fn on_restart(&mut self, node: u8, state: &DurableState) -> Result<(), Violation> {
        let w = &mut self.watch[node as usize];
        let regressed =
            |reason: String| Err(Violation { invariant: Invariant::DurableRegressed, node, reason });
        if state.term < w.durable_term || state.term < w.promised_term {
            return regressed(format!(
                "n{node} restarted in term {} after making term {} durable and promising term {}",
                state.term, w.durable_term, w.promised_term
            ));
        }
        if let Some((term, vote)) = w.promised_vote {
            if state.term == term && state.vote != Some(vote) {
                return regressed(format!(
                    "n{node} voted for n{} in term {term} but restarted with vote {:?} in that term",
                    vote.0,
                    state.vote.map(|v| v.0)
                ));
            }
        }
        if state.term == w.durable_term && w.durable_vote.is_some() && state.vote != w.durable_vote {
            return regressed(format!("n{node} lost its durable vote in term {}", state.term));
        }
        let restored: Vec<Term> = state.entries.iter().map(|e| e.term).collect();
        for (i, &term) in w.crash_terms.iter().enumerate() {
            if restored.get(i) != Some(&term) {
                return regressed(format!(
                    "n{node} acknowledged entry {}/{term} but restarted {}",
                    LogIndex(i as u64 + 1),
                    restored.get(i).map_or("without it".to_string(), |t| format!(
                        "with {}/{t} there",
                        LogIndex(i as u64 + 1)
                    ))
                ));
            }
        }
        // Durable entries may only be replaced by later entries of higher terms, never lost.
        for (i, &term) in w.durable_terms.iter().enumerate() {
            match restored.get(i) {
                Some(&t) if t == term => {}
                Some(&t) if t > term => break,
                other => {
                    return regressed(format!(
                        "n{node} lost durable entry {}/{term} (restarted with {})",
                        LogIndex(i as u64 + 1),
                        other.map_or("nothing there".to_string(), |t| format!("term {t}"))
                    ));
                }
            }
        }
        w.role = None;
        w.term = state.term;
        w.commit = LogIndex::ZERO;
        w.applied = LogIndex::ZERO;
        w.written_terms = restored.clone();
        w.durable_terms = restored;
        w.durable_term = state.term;
        w.durable_vote = state.vote;
        Ok(())
    }

    /// The commands applied anywhere, by index, with their `(client, seq)`.
    pub fn applied_commands(&self) -> impl Iterator<Item = (ClientId, u64)> + '_ {
        self.applied.iter().filter_map(|(payload, _)| match payload {
            Payload::Command(c) => Some((c.client, c.seq)),
            Payload::Noop => None,
        })
    }

    /// How many log indexes some node has counted committed.
    #[must_use]
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// The highest index any node applied.
    #[must_use]
    pub fn applied_len(&self) -> usize {
        self.applied.len()
    }
}

fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Noop => "a no-op".into(),
        Payload::Command(c) => format!("{} seq {} {:?}", c.client, c.seq, c.op),
    }
}
