//! [`RaftRsNode`]: a raft-rs `RawNode` driven through the host contract. See the crate
//! documentation for how each part of the contract maps onto raft-rs.

use std::collections::VecDeque;
use std::sync::Arc;

use raft::eraftpb::{self, HardState};
use raft::{ProgressState, RawNode, SnapshotStatus, StateRole};
use raft_host::{
    Bug, DurableState, Entry, LogIndex, MessageView, NodeId, NotLeader, PersistOp, Ready, Role, Setup,
    Snapshot, SnapshotMeta, Term, View,
};

use crate::message::{node_of, peer_id, RsMessage};
use crate::storage::{from_pb, meta_of, WrittenLog};
use crate::timer::ElectionTimer;

/// raft-rs bounds an append by bytes, the contract by entries: the adapter allows this many
/// bytes per entry the setup allows (a client command encodes to a few dozen bytes).
pub const APPEND_BYTES_PER_ENTRY: u64 = 64;
/// raft-rs's default window of appends in flight to one follower.
const INFLIGHT_MSGS_MAX: usize = 256;

/// A snapshot write and the log cut that follows it once it is durable.
#[derive(Copy, Clone, Debug)]
struct PendingCut {
    /// The host ready that wrote the snapshot.
    written_in: u64,
    through: LogIndex,
    /// A snapshot installed from the leader (raft-rs's readies wait for its cut).
    installed: bool,
}

/// tikv/raft-rs behind the host contract.
pub struct RaftRsNode {
    raw: RawNode<WrittenLog>,
    id: NodeId,
    members: Vec<NodeId>,
    timer: ElectionTimer,
    /// How long a follower may stay in raft-rs's snapshot state before the adapter reports the
    /// snapshot failed, in ticks (see [`RaftRsNode::watch_snapshots`]).
    snapshot_ticks_max: u32,
    /// By member: ticks spent in the snapshot state, and the snapshot's index.
    snapshot_ticks: Vec<(u32, u64)>,
    /// Host readies handed out (numbered from 1), the newest the host says is durable, and the
    /// newest that carried writes.
    number: u64,
    persisted: u64,
    last_write: u64,
    /// raft-rs readies not yet reported persisted: (host ready they rest on, raft-rs number).
    unpersisted: VecDeque<(u64, u64)>,
    /// raft-rs's persisted messages, waiting for the host ready they rest on to be durable.
    held: VecDeque<(u64, Vec<eraftpb::Message>)>,
    /// Messages whose writes are durable, for the next ready.
    released: Vec<eraftpb::Message>,
    cuts: VecDeque<PendingCut>,
    /// A truncation the restart owes the disk (see [`RaftRsNode::boot`]), for the first ready.
    boot_truncate: Option<LogIndex>,
    /// A snapshot the host handed over, not written yet.
    unwritten_snapshot: Option<Snapshot>,
    /// An installed snapshot's cut is not handed over yet: raft-rs's next writes would continue
    /// a log the disk does not know starts there, so its readies wait.
    holding: bool,
    /// What the host applied: the last entry handed over, or the snapshot.
    applied: LogIndex,
    /// An installed snapshot raft-rs may count applied once it is durable (raft-rs refuses an
    /// applied index past its persisted one).
    apply_when_persisted: Option<u64>,
    /// The term and vote last written.
    written_term_vote: (u64, u64),
}

impl RaftRsNode {
    /// A node restarted from what its disk kept.
    ///
    /// # Errors
    /// If the setup is one raft-rs refuses, or the durable state is inconsistent.
    pub fn boot(setup: &Setup, state: DurableState) -> Result<RaftRsNode, String> {
        if !setup.members.contains(&setup.id) {
            return Err(format!("{} is not among the members", setup.id));
        }
        if let Some(bug) = setup.bugs.iter().find(|b| !b.in_state_machine()) {
            return Err(format!("raft-rs has no planted bug {bug} (a bug of raft-core's protocol layer)"));
        }
        if setup.heartbeat_ticks == 0 || setup.election_ticks_min <= setup.heartbeat_ticks {
            return Err("raft-rs needs 0 < heartbeat_ticks < election_ticks_min".into());
        }
        if setup.election_ticks_max <= setup.election_ticks_min {
            return Err("raft-rs needs election_ticks_min < election_ticks_max".into());
        }
        let (snapshot, entries) = resolve(&state)?;
        // What the disk must still be told: a log written before the snapshot and contradicting
        // it goes (from the snapshot's index on), and a cut through a durable snapshot that
        // never became durable itself is written again. Until the cut is handed over, raft-rs's
        // readies wait: their entries would continue a log the disk does not know starts there.
        let mut boot_truncate = None;
        let mut cuts = VecDeque::new();
        if let Some(s) = &snapshot {
            let at = s.meta.last_index;
            let follows =
                state.compacted_through == at || state.entry(at).is_some_and(|e| e.term == s.meta.last_term);
            if !follows && state.last_index() >= at {
                boot_truncate = Some(at);
            }
            if state.compacted_through < at {
                cuts.push_back(PendingCut { written_in: 0, through: at, installed: true });
            }
        }
        let holding = !cuts.is_empty();
        let voters: Vec<u64> = setup.members.iter().map(|m| peer_id(*m)).collect();
        let vote = state.vote.map_or(0, peer_id);
        let applied = snapshot.as_ref().map_or(LogIndex::ZERO, |s| s.meta.last_index);
        let log = WrittenLog::new(voters, state.term, vote, snapshot, entries);
        let config = raft::Config {
            id: peer_id(setup.id),
            election_tick: setup.election_ticks_min as usize,
            heartbeat_tick: setup.heartbeat_ticks as usize,
            applied: applied.0,
            max_size_per_msg: (setup.append_entries_max as u64).saturating_mul(APPEND_BYTES_PER_ENTRY),
            max_inflight_msgs: INFLIGHT_MSGS_MAX,
            check_quorum: setup.check_quorum,
            pre_vote: setup.pre_vote,
            min_election_tick: setup.election_ticks_min as usize,
            max_election_tick: setup.election_ticks_max as usize,
            ..raft::Config::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raw = RawNode::new(&config, log, &logger).map_err(|e| format!("raft-rs: {e}"))?;
        let mut timer = ElectionTimer::new(
            setup.seed,
            setup.election_ticks_min as usize,
            setup.election_ticks_max as usize,
        );
        timer.after(&mut raw.raft);
        Ok(RaftRsNode {
            raw,
            id: setup.id,
            members: setup.members.clone(),
            timer,
            snapshot_ticks_max: setup.election_ticks_min,
            snapshot_ticks: vec![(0, 0); setup.members.len()],
            number: 0,
            persisted: 0,
            last_write: 0,
            unpersisted: VecDeque::new(),
            held: VecDeque::new(),
            released: Vec::new(),
            boot_truncate,
            cuts,
            unwritten_snapshot: None,
            holding,
            applied,
            apply_when_persisted: None,
            written_term_vote: (state.term.0, vote),
        })
    }

    pub fn tick(&mut self) {
        self.raw.tick();
        self.timer.after(&mut self.raw.raft);
        self.watch_snapshots();
    }

    /// A message from a peer: ignored unless it is addressed to this node by another member.
    pub fn step(&mut self, m: RsMessage) {
        let from = node_of(m.0.from);
        let to = node_of(m.0.to);
        if to != Some(self.id) || from == Some(self.id) || from.is_none_or(|f| !self.members.contains(&f)) {
            return;
        }
        // raft-rs refuses local message types and answers from outside its configuration; like
        // any message a node does not expect, they change nothing.
        let _ = self.raw.step(m.0);
        self.timer.after(&mut self.raw.raft);
    }

    pub fn propose(&mut self, data: &[u8]) -> Result<(LogIndex, Term), NotLeader> {
        let raft = &self.raw.raft;
        if raft.state != StateRole::Leader {
            return Err(NotLeader { hint: node_of(raft.leader_id) });
        }
        let before = raft.raft_log.last_index();
        let proposed = self.raw.propose(Vec::new(), data.to_vec());
        self.timer.after(&mut self.raw.raft);
        let raft = &self.raw.raft;
        let last = raft.raft_log.last_index();
        match proposed {
            Ok(()) if last == before + 1 => Ok((LogIndex(last), Term(raft.term))),
            // raft-rs drops a proposal while it transfers leadership or past its uncommitted
            // size limit; the adapter uses neither.
            _ => Err(NotLeader { hint: None }),
        }
    }

    /// Every write of host readies up to `number` is durable.
    pub fn persisted(&mut self, number: u64) {
        if number <= self.persisted || number > self.number {
            return;
        }
        self.persisted = number;
        let mut upto = None;
        while let Some(&(rests_on, rs_number)) = self.unpersisted.front() {
            if rests_on > number {
                break;
            }
            self.unpersisted.pop_front();
            upto = Some(rs_number);
        }
        if let Some(rs_number) = upto {
            self.raw.on_persist_ready(rs_number);
        }
        while self.held.front().is_some_and(|(rests_on, _)| *rests_on <= number) {
            if let Some((_, messages)) = self.held.pop_front() {
                self.released.extend(messages);
            }
        }
        if let Some(index) = self.apply_when_persisted {
            let log = &self.raw.raft.raft_log;
            if log.persisted >= index && log.committed >= index {
                self.raw.advance_apply_to(index);
                self.apply_when_persisted = None;
            }
        }
        self.timer.after(&mut self.raw.raft);
    }

    /// The host's snapshot of its state machine through `index` (which it applied): kept, and
    /// the log it covers dropped from memory at once, from the disk once the snapshot is durable.
    ///
    /// # Panics
    /// If the host has not applied `index`.
    pub fn maybe_compact(&mut self, index: LogIndex, data: Arc<[u8]>) -> bool {
        let log = self.raw.store();
        if index.0 <= log.snapshot_index() || self.holding {
            return false;
        }
        assert!(index <= self.applied, "a snapshot through {index}, but only {} was applied", self.applied);
        let Some(term) = log.term_at(index.0) else { return false };
        let snapshot = Snapshot { meta: SnapshotMeta::new(index, Term(term)), data };
        self.raw.mut_store().compact(snapshot.clone());
        self.unwritten_snapshot = Some(snapshot);
        true
    }

    pub fn has_ready(&self) -> bool {
        !self.released.is_empty()
            || self.boot_truncate.is_some()
            || self.unwritten_snapshot.is_some()
            || self.cut_due()
            || (!self.holding && self.raw.has_ready())
    }

    fn cut_due(&self) -> bool {
        self.cuts.front().is_some_and(|c| c.written_in <= self.persisted)
    }

    /// One host ready: the log cuts now due, a snapshot the host took, and raft-rs's ready (if
    /// it has one and may write), with the messages whose writes became durable.
    pub fn ready_into(&mut self, out: &mut Ready<RsMessage>) {
        out.clear();
        self.number += 1;
        let number = self.number;
        out.number = number;
        if let Some(from) = self.boot_truncate.take() {
            out.persist.push(PersistOp::Entries { from, entries: Vec::new() });
        }
        while self.cuts.front().is_some_and(|c| c.written_in <= self.persisted) {
            if let Some(cut) = self.cuts.pop_front() {
                out.persist.push(PersistOp::CompactLog { through: cut.through });
                self.holding &= !cut.installed;
            }
        }
        if let Some(snapshot) = self.unwritten_snapshot.take() {
            self.cuts.push_back(PendingCut {
                written_in: number,
                through: snapshot.meta.last_index,
                installed: false,
            });
            out.persist.push(PersistOp::Snapshot(snapshot));
        }
        let mut messages = std::mem::take(&mut self.released);
        let mut waiting = Vec::new();
        let mut rs_number = None;
        if !self.holding && self.raw.has_ready() {
            let (immediate, persisted, rs) = self.take_ready(number, out);
            messages.extend(immediate);
            waiting = persisted;
            rs_number = Some(rs);
        }
        // What this ready's persisted messages rest on: its own writes, or the last ones before.
        if !out.persist.is_empty() {
            self.last_write = number;
        }
        let rests_on = self.last_write;
        if let Some(rs) = rs_number {
            if rests_on <= self.persisted {
                self.raw.on_persist_ready(rs);
            } else {
                self.unpersisted.push_back((rests_on, rs));
            }
        }
        if !waiting.is_empty() {
            if rests_on <= self.persisted {
                messages.extend(waiting);
            } else {
                self.held.push_back((rests_on, waiting));
            }
        }
        // raft-rs broadcasts by iterating a hash map of peers: a canonical order (by destination,
        // each destination's messages in the order raft-rs produced them) keeps that order off
        // the network's dice.
        messages.sort_by_key(|m| m.to);
        out.messages.extend(messages.into_iter().map(RsMessage));
        self.timer.after(&mut self.raw.raft);
    }

    /// Takes raft-rs's ready into `out` and advances it: writes the hard state, snapshot and
    /// entries it asks for, hands over what it committed. Returns its messages to send now (a
    /// leader's), those to send once this ready is durable, and its number.
    fn take_ready(
        &mut self,
        number: u64,
        out: &mut Ready<RsMessage>,
    ) -> (Vec<eraftpb::Message>, Vec<eraftpb::Message>, u64) {
        let mut rd = self.raw.ready();
        let rs_number = rd.number();
        if let Some(hs) = rd.hs() {
            self.write_hard_state(hs, out);
        }
        if !rd.snapshot().is_empty() {
            self.install(rd.snapshot(), number, out);
        }
        let entries = rd.take_entries();
        if let Some(from) = entries.first().map(|e| LogIndex(e.index)) {
            assert!(!self.holding, "raft-rs handed over entries with the snapshot it installs");
            let written = self.raw.mut_store().append(entries);
            out.persist.push(PersistOp::Entries { from, entries: written });
        }
        let immediate = rd.take_messages();
        let persisted = rd.take_persisted_messages();
        for e in rd.take_committed_entries() {
            let entry = self.raw.store().entry(e.index).cloned().unwrap_or_else(|| from_pb(&e));
            self.applied = entry.index;
            out.committed.push(entry);
        }
        self.raw.advance_append_async(rd);
        if let Some(last) = out.committed.last() {
            self.raw.advance_apply_to(last.index.0);
        }
        (immediate, persisted, rs_number)
    }

    fn write_hard_state(&mut self, hs: &HardState, out: &mut Ready<RsMessage>) {
        self.raw.mut_store().set_hard_state(hs);
        // The contract's durable state keeps no commit index (raft-rs does not need it synced:
        // a ready that moves only the commit index has `must_sync` false).
        if (hs.term, hs.vote) != self.written_term_vote {
            self.written_term_vote = (hs.term, hs.vote);
            out.persist.push(PersistOp::HardState { term: Term(hs.term), vote: node_of(hs.vote) });
        }
    }

    /// A snapshot raft-rs installed from the leader: written, handed to the host's state machine,
    /// and the log it replaces cut once it is durable.
    fn install(&mut self, pb: &eraftpb::Snapshot, number: u64, out: &mut Ready<RsMessage>) {
        let meta = meta_of(pb);
        let at = meta.last_index;
        let log = self.raw.store();
        // raft-rs installs only a snapshot whose last entry its log does not hold: a written entry
        // there conflicts, and goes with everything after it (paper Figure 13, step 7).
        if at.0 > log.snapshot_index() && log.term_at(at.0).is_some_and(|t| t != meta.last_term.0) {
            out.persist.push(PersistOp::Entries { from: at, entries: Vec::new() });
        }
        let snapshot = Snapshot { meta, data: Arc::from(&pb.data[..]) };
        out.persist.push(PersistOp::Snapshot(snapshot.clone()));
        self.raw.mut_store().install(snapshot.clone());
        out.snapshot = Some(snapshot);
        self.applied = at;
        self.apply_when_persisted = Some(at.0);
        self.cuts.push_back(PendingCut { written_in: number, through: at, installed: true });
        self.holding = true;
    }

    /// raft-rs pauses a follower it sent a snapshot to until the host reports the snapshot's
    /// fate (`report_snapshot`) or the follower answers it; a snapshot lost on the way would
    /// pause it for good. The host's transport here cannot tell, so after an election timeout
    /// without an answer the adapter reports the snapshot failed, as a transport would time
    /// out: raft-rs then probes the follower again and sends a new snapshot if it still needs
    /// one.
    fn watch_snapshots(&mut self) {
        if self.raw.raft.state != StateRole::Leader {
            self.snapshot_ticks.iter_mut().for_each(|t| *t = (0, 0));
            return;
        }
        for (k, member) in self.members.iter().enumerate() {
            let id = peer_id(*member);
            let pending = self
                .raw
                .raft
                .prs()
                .get(id)
                .filter(|pr| pr.state == ProgressState::Snapshot)
                .map(|pr| pr.pending_snapshot);
            let slot = &mut self.snapshot_ticks[k];
            match pending {
                Some(p) if p == slot.1 => {
                    slot.0 += 1;
                    if slot.0 >= self.snapshot_ticks_max {
                        *slot = (0, 0);
                        self.raw.report_snapshot(id, SnapshotStatus::Failure);
                    }
                }
                Some(p) => *slot = (1, p),
                None => *slot = (0, 0),
            }
        }
    }

    pub fn view(&self) -> View {
        let raft = &self.raw.raft;
        let log = &raft.raft_log;
        let snapshot = match &log.unstable.snapshot {
            Some(s) => Some(meta_of(s)),
            None => self.raw.store().snapshot().map(|s| s.meta),
        };
        View {
            role: match raft.state {
                StateRole::Follower => Role::Follower,
                StateRole::PreCandidate => Role::PreCandidate,
                StateRole::Candidate => Role::Candidate,
                StateRole::Leader => Role::Leader,
            },
            term: Term(raft.term),
            vote: node_of(raft.vote),
            leader: node_of(raft.leader_id),
            commit: LogIndex(log.committed),
            applied: self.applied,
            durable: Some(LogIndex(log.persisted)),
            snapshot,
            last_index: LogIndex(log.last_index()),
        }
    }

    /// The entry at `index`, from raft-rs's unstable tail or the written log.
    pub fn entry(&self, index: LogIndex) -> Option<Entry> {
        let unstable = &self.raw.raft.raft_log.unstable;
        if unstable.snapshot.as_ref().is_some_and(|s| index.0 <= s.get_metadata().index) {
            return None;
        }
        if index.0 >= unstable.offset {
            return unstable.entries.get((index.0 - unstable.offset) as usize).map(from_pb);
        }
        self.raw.store().entry(index.0).cloned()
    }

    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        let unstable = &self.raw.raft.raft_log.unstable;
        if let Some(s) = &unstable.snapshot {
            let meta = s.get_metadata();
            if index.0 == meta.index {
                return Some(Term(meta.term));
            }
            if index.0 < meta.index {
                return None;
            }
        }
        if index.0 >= unstable.offset {
            return unstable.entries.get((index.0 - unstable.offset) as usize).map(|e| Term(e.term));
        }
        self.raw.store().term_at(index.0).map(Term)
    }

    pub fn raft_state_bytes(&self) -> u64 {
        self.raw.store().raft_state_bytes()
    }

    /// A message as the host sees it.
    pub fn inspect(m: &RsMessage) -> MessageView {
        crate::message::view(&m.0)
    }

    /// Whether a planted bug exists here: only those of the state machine above the contract.
    pub fn supports(bug: Bug) -> bool {
        bug.in_state_machine()
    }

    /// raft-rs itself, for tests that look inside.
    pub fn raw(&self) -> &RawNode<WrittenLog> {
        &self.raw
    }
}

/// The snapshot and the log a restart starts from: the durable snapshot, and the durable log's
/// entries after it if the log holds its last entry (or was cut there); a log that contradicts
/// the snapshot at its last entry, or ends before it, is discarded, as InstallSnapshot does
/// (paper Figure 13, steps 6 and 7).
fn resolve(state: &DurableState) -> Result<(Option<Snapshot>, &[Entry]), String> {
    let cut = state.compacted_through;
    match &state.snapshot {
        None if cut > LogIndex::ZERO => Err(format!("the log is cut through {cut} but there is no snapshot")),
        None => Ok((None, &state.entries)),
        Some(s) if s.meta.last_index < cut => {
            Err(format!("the log is cut through {cut}, past the snapshot through {}", s.meta.last_index))
        }
        Some(s) => {
            let at = s.meta.last_index;
            let kept: &[Entry] = if at == cut {
                &state.entries
            } else if state.entry(at).is_some_and(|e| e.term == s.meta.last_term) {
                &state.entries[(at.0 - cut.0) as usize..]
            } else {
                &[]
            };
            Ok((Some(s.clone()), kept))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_host::{BugSet, Payload};

    fn setup(seed: u64) -> Setup {
        Setup {
            id: NodeId(0),
            members: vec![NodeId(0), NodeId(1), NodeId(2)],
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            append_entries_max: 16,
            check_quorum: false,
            pre_vote: false,
            snapshot_chunk_bytes_max: 1024,
            bugs: BugSet::default(),
            read_lease: false,
            sticky_leader: false,
            seed,
            choices: raft_host::Choices::default(),
        }
    }

    fn entries(terms: &[u64]) -> Vec<Entry> {
        terms
            .iter()
            .enumerate()
            .map(|(i, t)| Entry {
                term: Term(*t),
                index: LogIndex(i as u64 + 1),
                payload: Payload::Data(Arc::from(&b"x"[..])),
            })
            .collect()
    }

    fn restarted(log_terms: &[u64]) -> DurableState {
        let meta = SnapshotMeta::new(LogIndex(5), Term(2));
        DurableState {
            term: Term(2),
            vote: None,
            snapshot: Some(Snapshot { meta, data: Arc::from(&b"state"[..]) }),
            compacted_through: LogIndex::ZERO,
            entries: entries(log_terms),
            fence: raft_host::storage::Fence::default(),
        }
    }

    /// The adapter mistake the lab's crash-and-install test caught: a node restarted from a
    /// snapshot whose log cut never became durable must write the cut (and drop a log that
    /// contradicts the snapshot) before anything else, or its next entries continue a log the
    /// disk does not know starts after the snapshot.
    #[test]
    fn a_restart_from_a_snapshot_past_the_durable_cut_writes_the_cut_first() {
        // The log ends before the snapshot: only the cut is owed.
        let mut node = RaftRsNode::boot(&setup(1), restarted(&[1, 1, 1])).expect("boots");
        assert!(node.has_ready());
        let mut ready = Ready::default();
        node.ready_into(&mut ready);
        assert!(
            matches!(ready.persist.first(), Some(PersistOp::CompactLog { through }) if *through == LogIndex(5)),
            "{:?}",
            ready.persist
        );
        assert!(!ready
            .persist
            .iter()
            .any(|op| matches!(op, PersistOp::Entries { from, .. } if *from < LogIndex(5))));
        // The log holds the snapshot's index with another term: truncated there, then cut.
        let mut node = RaftRsNode::boot(&setup(1), restarted(&[1, 1, 1, 1, 1, 1])).expect("boots");
        node.ready_into(&mut ready);
        assert!(
            matches!(ready.persist.first(), Some(PersistOp::Entries { from, entries }) if *from == LogIndex(5) && entries.is_empty()),
            "{:?}",
            ready.persist
        );
        assert!(
            matches!(ready.persist.get(1), Some(PersistOp::CompactLog { through }) if *through == LogIndex(5))
        );
        // The log follows the snapshot (entry 5 has its term): the cut only, entry 6 kept.
        let node = RaftRsNode::boot(&setup(1), restarted(&[1, 1, 1, 2, 2, 2])).expect("boots");
        assert_eq!(node.view().last_index, LogIndex(6));
    }

    /// Ticks a lone node until it stands for election; returns after how many ticks.
    fn ticks_to_first_election(seed: u64) -> u32 {
        let mut node = RaftRsNode::boot(&setup(seed), DurableState::default()).expect("boots");
        let mut ready = Ready::default();
        for tick in 1..=100 {
            node.tick();
            while node.has_ready() {
                node.ready_into(&mut ready);
                node.persisted(ready.number);
            }
            if node.view().role == Role::Candidate {
                return tick;
            }
        }
        panic!("no election in 100 ticks");
    }

    #[test]
    fn the_election_timeout_comes_from_the_seed_within_the_setups_range() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..30 {
            let ticks = ticks_to_first_election(seed);
            assert_eq!(ticks, ticks_to_first_election(seed), "seed {seed}: thread_rng reached the timeout");
            assert!((10..=20).contains(&ticks), "seed {seed}: {ticks} ticks");
            seen.insert(ticks);
        }
        assert!(seen.len() >= 3, "the seed spreads the timeouts: {seen:?}");
    }
}
