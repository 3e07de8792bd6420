//! Where the world notices the behaviours of the coverage catalogue (`coverage.rs`): a message
//! as it reaches a node (with the node's view before it handles it), a node's view before and
//! after an event, and the faults as they fire. Everything here only looks: nothing changes the
//! run, and nothing reaches the trace hash.

use raft_host::{LogIndex, MessageKind, MessageView, Raft, Role, Term, View};

use super::World;
use crate::coverage::Point;

impl<R: Raft> World<R> {
    /// Marks a point reached at the event being handled.
    pub(super) fn sometimes(&mut self, point: Point) {
        self.reached.hit(point, self.trace.events());
    }

    /// The last entry of a node's log as (term, index), for the up-to-date comparison.
    fn last_entry(node: &R, view: &View) -> (Term, LogIndex) {
        (node.term_at(view.last_index).unwrap_or_default(), view.last_index)
    }

    /// A message is about to reach node `n`, which is up.
    pub(super) fn observe_delivery(&mut self, n: u8, m: &MessageView) {
        let Some(server) = self.nodes[n as usize].server() else { return };
        let node = server.node();
        let v = node.view();
        let mut points = [None; 4];
        match m.kind {
            MessageKind::Vote { last_index, last_term } => {
                let ours = Self::last_entry(node, &v);
                points[0] = if m.term < v.term {
                    Some(Point::VoteRequestStaleTerm)
                } else if (last_term, last_index) < ours {
                    Some(Point::VoteRequestStaleLog)
                } else {
                    None
                };
                points[1] = match v.vote {
                    Some(voted) if m.term == v.term && voted == m.from => Some(Point::VoteRequestRepeated),
                    Some(_) if m.term == v.term => Some(Point::VoteRequestAfterVoting),
                    _ => None,
                };
                let outside =
                    node.configuration().is_some_and(|c| !c.voters.is_empty() && !c.contains(m.from));
                let leader_heard = v.role == Role::Leader || (v.role == Role::Follower && v.leader.is_some());
                if outside && leader_heard && m.term > v.term {
                    points[2] = Some(Point::VoteFromOutsideWhileLeaderHeard);
                }
            }
            MessageKind::PreVote { last_index, last_term } => {
                if v.role == Role::Follower && v.leader.is_some() {
                    points[0] = Some(Point::PreVoteWhileLeaderHeard);
                }
                if (last_term, last_index) < Self::last_entry(node, &v) {
                    points[1] = Some(Point::PreVoteStaleLog);
                }
            }
            MessageKind::VoteReply { granted: true } if m.term == v.term && v.role != Role::Candidate => {
                points[0] = Some(Point::VoteReplyLate);
            }
            MessageKind::Append { prev_index, prev_term, entries, commit } => {
                let snapshot = v.snapshot.map_or(LogIndex::ZERO, |s| s.last_index);
                let end = prev_index.plus(entries as u64);
                points[0] = if m.term < v.term {
                    Some(Point::AppendStaleTerm)
                } else if prev_index > v.last_index {
                    Some(Point::AppendPrevBeyondLog)
                } else if prev_index < snapshot {
                    Some(Point::AppendPrevInSnapshot)
                } else if node.term_at(prev_index) != Some(prev_term) {
                    Some(Point::AppendPrevTermMismatch)
                } else if entries > 0 && v.last_index >= end {
                    Some(Point::AppendSpanAlreadyHeld)
                } else {
                    None
                };
                let matching = m.term >= v.term && node.term_at(prev_index) == Some(prev_term);
                if matching && v.last_index > end && commit > end {
                    points[1] = Some(Point::AppendEndsBeforeFollowerLogCommitAhead);
                }
                // The sender still leads the message's term, so its log only grew since it sent.
                let sender = self.nodes.get(m.from.0 as usize).and_then(|s| s.server()).map(|s| s.node());
                let sender = sender.filter(|s| s.view().role == Role::Leader && s.view().term == m.term);
                let last_term = sender.and_then(|s| s.term_at(end));
                if entries > 0 && m.term >= v.term && commit < end && last_term.is_some_and(|t| t < m.term) {
                    points[3] = Some(Point::AppendEarlierTermsOnly);
                }
                if m.term == v.term && v.role == Role::Candidate {
                    points[2] = Some(Point::CandidateStepsDownForLeader);
                } else if m.term >= v.term && commit.0 >= v.last_index.0 + 50 {
                    points[2] = Some(Point::FollowerFarBehind);
                }
            }
            MessageKind::AppendReply { rejected, matched } if v.role == Role::Leader => {
                if m.term < v.term {
                    points[0] = Some(Point::AppendReplyStale);
                } else if rejected.is_some() {
                    points[0] = Some(Point::AppendRejectedAtLeader);
                }
                // The leader's own disk ends in an earlier term past its commit, its own
                // entries not durable yet, and a follower vouches for that earlier entry.
                let durable = v.durable.unwrap_or(v.last_index);
                if m.term == v.term
                    && durable > v.commit
                    && durable < v.last_index
                    && node.term_at(durable).is_some_and(|t| t < v.term)
                    && matched.is_some_and(|i| i >= durable)
                {
                    let elected =
                        self.elected_at.get(n as usize).copied().unwrap_or_else(|| self.trace.events());
                    self.reached.hit(Point::AckBeforeLeaderDurable, elected);
                }
            }
            MessageKind::Snapshot { last_index, done: true, .. }
                if last_index <= v.commit && m.term >= v.term =>
            {
                points[0] = Some(Point::SnapshotOfferedStale);
            }
            MessageKind::TimeoutNow => points[0] = Some(Point::TimeoutNowReceived),
            _ => {}
        }
        for p in points.into_iter().flatten() {
            self.sometimes(p);
        }
    }

    /// Node `n` handled an event; `before` is its view before it (None: it just booted).
    pub(super) fn observe_transition(&mut self, n: u8, before: Option<View>) {
        let Some(before) = before else { return };
        // Outside the current leader's configuration (removed, or not added back yet).
        let outside = self.outside_configuration(n);
        let Some(server) = self.nodes[n as usize].server() else { return };
        let node = server.node();
        let after = node.view();
        let me = raft_host::NodeId(u32::from(n));
        let outside =
            outside || node.configuration().is_some_and(|c| !c.voters.is_empty() && !c.is_voter(me));
        let mut hits = Hits::default();
        if after.role != before.role || after.term != before.term {
            match (before.role, after.role) {
                (Role::Leader, Role::Follower) if outside && after.term == before.term => {
                    hits.add(Point::RemovedLeaderSteppedDown)
                }
                (_, Role::Candidate | Role::PreCandidate) if outside => {
                    hits.add(Point::RemovedServerCampaigns)
                }
                (Role::Candidate, Role::Candidate) => hits.add(Point::SplitVote),
                (_, Role::Candidate) => hits.add(Point::ElectionStarted),
                (Role::PreCandidate, Role::Follower) if after.term == before.term => {
                    hits.add(Point::PreVoteLost)
                }
                (Role::Leader, r) if r != Role::Leader => {
                    hits.add(if after.term > before.term {
                        Point::LeaderDeposedByTerm
                    } else {
                        Point::LeaderStepDownQuorum
                    });
                    if self.snapshot_chunks_in_flight[n as usize] > 0 {
                        hits.add(Point::LeaderDeposedSnapshotInFlight);
                    }
                }
                _ => {}
            }
        }
        if after.commit > before.commit {
            if after.role == Role::Leader {
                let own = |i: u64| node.term_at(LogIndex(i)) == Some(after.term);
                let earlier = (before.commit.0 + 1..=after.commit.0).any(|i| !own(i));
                if earlier && own(after.commit.0) {
                    hits.add(Point::EarlierTermCommittedThroughOwn);
                }
            } else {
                hits.add(Point::FollowerCommitAdvanced);
            }
        }
        let new_leader = after.role == Role::Leader && before.role != Role::Leader;
        for p in hits.iter() {
            self.sometimes(p);
        }
        if new_leader {
            self.observe_new_leader(n, &after);
        }
    }

    /// A read from `client` is about to reach node `n`, which is up. A leader whose state
    /// machine lacks entries the cluster committed must not answer it from that state, nor may
    /// a leader that a newer one deposed (unknown to it) without confirming it still leads.
    /// Both hazards are dated just before the client's call, so that a branch draws the call
    /// anew (its operation and key) while the leader still lags or still believes it leads.
    pub(super) fn observe_read_request(&mut self, n: u8, client: raft_kv::ClientId) {
        let Some(server) = self.nodes[n as usize].server() else { return };
        let v = server.node().view();
        if v.role != Role::Leader {
            return;
        }
        let called = self.called_at.get(client.0 as usize).copied().unwrap_or_else(|| self.trace.events());
        if v.applied < LogIndex(self.checks.committed_len() as u64) {
            self.reached.hit(Point::ReadAtLeaderBehindCommit, called.saturating_sub(1));
        }
        let deposed = self.nodes.iter().filter_map(|slot| slot.server()).any(|other| {
            let o = other.node().view();
            o.role == Role::Leader && o.term > v.term
        });
        if deposed {
            self.reached.hit(Point::ReadAtDeposedLeader, called.saturating_sub(1));
        }
    }

    /// Leader `n` sends `to` a chunk of its snapshot through `through`. If `to` already holds
    /// every entry the snapshot covers (the leader compacted past what it heard from `to`: an
    /// acknowledgement lost or late), the snapshot may arrive after `to` committed past it and
    /// must then be refused (Figure 13 installs only what moves a follower forward). Dated at
    /// the leader's compaction, the moment guided exploration tries again.
    pub(super) fn observe_snapshot_sent(&mut self, n: u8, to: u8, through: LogIndex) {
        let holds = self.nodes.get(to as usize).and_then(|slot| slot.server()).is_some_and(|s| {
            let v = s.node().view();
            v.last_index >= through && v.snapshot.is_none_or(|snap| snap.last_index < through)
        });
        if holds {
            let at = self.compacted_at.get(n as usize).copied().unwrap_or_else(|| self.trace.events());
            self.reached.hit(Point::SnapshotSentToFollowerHoldingIt, at);
        }
    }

    /// Node `n` has just become leader.
    fn observe_new_leader(&mut self, n: u8, view: &View) {
        if let Some(at) = self.elected_at.get_mut(n as usize) {
            *at = self.trace.events();
        }
        let mut hits = Hits::default();
        hits.add(Point::LeaderElected);
        let mut longest = LogIndex::ZERO;
        let mut other_leader = false;
        for (m, slot) in self.nodes.iter().enumerate() {
            if m == n as usize {
                continue;
            }
            if let Some(s) = slot.server() {
                let v = s.node().view();
                longest = longest.max(v.last_index);
                other_leader |= v.role == Role::Leader && slot.is_up();
            }
        }
        if longest > view.last_index {
            hits.add(Point::LeaderShorterLog);
        }
        if other_leader {
            hits.add(Point::TwoLeadersDifferentTerms);
        }
        let committed = LogIndex(self.checks.committed_len() as u64);
        let node = self.nodes[n as usize].server().map(|s| s.node());
        let uncommitted_earlier = node.is_some_and(|node| {
            (committed.0 + 1..=view.last_index.0)
                .any(|i| node.term_at(LogIndex(i)).is_some_and(|t| t < view.term))
        });
        if uncommitted_earlier {
            hits.add(Point::LeaderUncommittedEarlierTerms);
        }
        if view.applied < committed {
            hits.add(Point::LeaderBehindCommit);
        }
        for p in hits.iter() {
            self.sometimes(p);
        }
    }

    /// Node `n` is about to crash (it is still there).
    pub(super) fn observe_crash(&mut self, n: u8, writes_lost: usize, torn: bool) {
        let mut hits = Hits::default();
        hits.add(Point::FaultCrash);
        if writes_lost > 0 {
            hits.add(Point::CrashWritesInFlight);
        }
        if torn {
            hits.add(Point::TornWrite);
        }
        if let Some(server) = self.nodes[n as usize].server() {
            let v = server.node().view();
            if v.role == Role::Leader {
                hits.add(Point::CrashOfLeader);
                if v.last_index > v.commit {
                    hits.add(Point::CrashOfLeaderUncommitted);
                }
            } else if self.checks.acked_index(n) > LogIndex(self.checks.committed_len() as u64) {
                hits.add(Point::CrashAfterAck);
            }
            let votes = (n, 0, v.term.0)..=(n, u8::MAX, v.term.0);
            if self.vote_replies_in_flight.range(votes).any(|(_, c)| *c > 0) {
                hits.add(Point::CrashAfterVoteBeforeReply);
            }
        }
        for p in hits.iter() {
            self.sometimes(p);
        }
    }

    /// After a crash: how many nodes are down now.
    pub(super) fn observe_down(&mut self) {
        let down = self.nodes.iter().filter(|s| s.server().is_none()).count();
        if down * 2 > self.nodes.len() {
            self.sometimes(Point::MajorityDown);
        }
        if down == self.nodes.len() {
            self.sometimes(Point::AllDown);
        }
    }

    /// Node `n` restarted from its disk, into term `term`.
    pub(super) fn observe_restart(&mut self, n: u8, term: Term) {
        let behind = self.nodes.iter().enumerate().any(|(m, s)| {
            m != n as usize
                && s.server()
                    .is_some_and(|s| s.node().view().role == Role::Leader && s.node().view().term > term)
        });
        if behind {
            self.sometimes(Point::RestartIntoHigherTerm);
        }
    }

    /// The healed cluster converged (the liveness phase's goal).
    pub fn observe_convergence(&mut self) {
        let elections =
            self.elections_before_liveness.map_or(0, |before| self.checks.notes.elections - before);
        if elections > 1 {
            self.sometimes(Point::LivenessSeveralElections);
        }
        if self.current_leader().is_some_and(|l| self.nodes[l as usize].incarnation > 1) {
            self.sometimes(Point::LivenessRestartedLeader);
        }
        if self.liveness_core.is_some() {
            self.sometimes(Point::LivenessCoreConverged);
        }
    }

    /// The harder liveness phase split the cluster.
    pub(super) fn observe_liveness_core(
        &mut self,
        left_out: Option<u8>,
        outside: &[(u8, super::OutsideFate)],
    ) {
        self.sometimes(Point::LivenessCoreOnly);
        if let Some(leader) = left_out {
            self.sometimes(Point::LivenessCoreWithoutLeader);
            if outside.iter().any(|&(n, f)| n == leader && f == super::OutsideFate::SpeaksOnly) {
                self.sometimes(Point::LivenessDeposedLeaderSpeaks);
            }
        }
    }

    /// A partition of the named shape began.
    pub(super) fn observe_partition(&mut self, label: &str) {
        let point = match label {
            "halves" => Point::PartitionHalves,
            "isolate-node" => Point::PartitionIsolateNode,
            "isolate-leader" => Point::PartitionIsolateLeader,
            "leader-minority" => Point::PartitionLeaderMinority,
            "bridge" => Point::PartitionBridge,
            "ring" => Point::PartitionRing,
            "one-way" => Point::PartitionOneWay,
            "isolate-new-leader" => Point::PartitionIsolateNewLeader,
            _ => return,
        };
        self.sometimes(point);
    }
}

/// A few points found together, hit once the world is free to be changed.
#[derive(Default)]
struct Hits {
    points: [Option<Point>; 8],
    len: usize,
}

impl Hits {
    fn add(&mut self, point: Point) {
        if let Some(slot) = self.points.get_mut(self.len) {
            *slot = Some(point);
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = Point> + '_ {
        self.points.iter().flatten().copied()
    }
}
