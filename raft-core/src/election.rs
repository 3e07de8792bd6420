//! Leader election: campaigns, votes, and the start of a leader's term (paper §5.2, §5.4.1).

use crate::message::{AppendResponse, Body, Message, Payload, SnapshotResponse};
use crate::node::{Progress, RaftNode, Role};
use crate::types::{LogIndex, NodeId, Term};
use crate::Bug;

impl RaftNode {
    /// Starts an election: a new term, a vote for ourselves, and a request to every peer.
    pub(crate) fn campaign(&mut self) {
        assert_ne!(self.role, Role::Leader, "a leader does not campaign");
        let term = self.term.next();
        self.reset(term);
        self.restart_election_timer();
        self.votes_requested_again = false;
        self.role = Role::Candidate;
        self.vote = Some(self.config.id);
        self.hard_state_dirty = true;
        let me = self.self_position();
        self.votes[me] = Some(true);
        if self.granted_votes() >= self.config.quorum() {
            self.become_leader();
            return;
        }
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        for peer in self.peers() {
            // The request rests on our durable vote for ourselves: were we to crash and forget
            // it, we could vote for a rival in the same term.
            self.send_after_persist(peer, Body::RequestVote { last_log_index, last_log_term });
        }
    }

    /// A candidate whose election timed out asks the members that have not answered once more,
    /// in the same term, before giving the term up: answers slower than a timeout (a slow or
    /// lossy network) still elect it, where starting over would discard them.
    pub(crate) fn request_votes_again(&mut self) {
        self.votes_requested_again = true;
        self.restart_election_timer();
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        for position in 0..self.config.members.len() {
            if self.votes[position].is_none() {
                let peer = self.config.members[position];
                self.send_after_persist(peer, Body::RequestVote { last_log_index, last_log_term });
            }
        }
    }

    /// Asks for pre-votes (thesis §9.6): only a node that a majority would elect goes on to a
    /// real election and raises its term.
    pub(crate) fn pre_campaign(&mut self) {
        assert_ne!(self.role, Role::Leader, "a leader does not campaign");
        // No `reset`: the term and the votes of a candidacy in it stay (see `pre_votes`).
        self.leader = None;
        self.restart_election_timer();
        self.role = Role::PreCandidate;
        let me = self.self_position();
        self.pre_votes.iter_mut().for_each(|v| *v = None);
        self.pre_votes[me] = Some(true);
        if count(&self.pre_votes, true) >= self.config.quorum() {
            self.campaign();
            return;
        }
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        let asked = self.term.next();
        for peer in self.peers() {
            // Nothing here rests on durable state: a pre-vote promises nothing.
            let m = Message {
                from: self.config.id,
                to: peer,
                term: asked,
                body: Body::PreVote { last_log_index, last_log_term },
            };
            self.out_messages.push(m);
        }
    }

    /// Answers a pre-vote for `term`. Granting changes nothing here: no term, no vote.
    pub(crate) fn handle_pre_vote(
        &mut self,
        candidate: NodeId,
        term: Term,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        // A node that hears from a leader, or leads, keeps it: the asker is the one cut off.
        let leader_alive = self.role == Role::Leader
            || (self.leader.is_some() && self.election_elapsed < self.config.election_ticks_min);
        let up_to_date = self.config.bugs.has(Bug::VoteWithoutLogCheck)
            || self.log.is_up_to_date(last_log_term, last_log_index);
        // Recovery rule 1: a fenced node judges no candidate against a log it may have lost.
        let granted = term > self.term && up_to_date && !leader_alive && !self.fenced();
        let answer_term = if granted { term } else { self.term };
        let m = Message {
            from: self.config.id,
            to: candidate,
            term: answer_term,
            body: Body::PreVoteResponse { granted },
        };
        self.out_messages.push(m);
    }

    pub(crate) fn handle_pre_vote_response(&mut self, voter: NodeId, granted: bool) {
        let Some(position) = self.position(voter) else { return };
        if self.pre_votes[position].is_none() {
            self.pre_votes[position] = Some(granted);
        }
        if count(&self.pre_votes, true) >= self.config.quorum() {
            self.campaign();
        } else if count(&self.pre_votes, false) >= self.config.quorum() {
            let term = self.term;
            self.become_follower(term, None);
        }
    }

    /// Answers a vote request of our current term (the term check already happened).
    pub(crate) fn handle_request_vote(
        &mut self,
        candidate: NodeId,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        // One vote per term (paper §5.2); repeating the same vote is harmless.
        let can_vote = self.vote.is_none() || self.vote == Some(candidate);
        // Only a candidate whose log is at least as up to date as ours may win our vote, which
        // is what guarantees a new leader holds every committed entry (paper §5.4.1).
        let up_to_date = self.config.bugs.has(Bug::VoteWithoutLogCheck)
            || self.log.is_up_to_date(last_log_term, last_log_index);
        let granted = can_vote && up_to_date && !self.fenced();
        if granted {
            self.vote = Some(candidate);
            // Granting a vote resets the election timer, so we do not compete with the
            // candidate we just backed (paper Figure 2, Rules for Servers: Followers).
            self.restart_election_timer();
            if self.config.bugs.has(Bug::VoteNotPersisted) {
                // The bug: the vote never reaches the disk, and the answer does not wait.
                self.vote_unpersisted = true;
                self.send_now(candidate, Body::RequestVoteResponse { granted });
                return;
            }
            self.hard_state_dirty = true;
        }
        self.send_after_persist(candidate, Body::RequestVoteResponse { granted });
    }

    pub(crate) fn handle_vote_response(&mut self, voter: NodeId, granted: bool) {
        let Some(position) = self.position(voter) else { return };
        if self.votes[position].is_none() {
            self.votes[position] = Some(granted);
        }
        if self.granted_votes() >= self.config.quorum() {
            self.become_leader();
        } else if self.rejected_votes() >= self.config.quorum() {
            // This election is lost; wait for the winner's heartbeat or our next timeout.
            let term = self.term;
            self.become_follower(term, None);
        }
    }

    /// Answers a message from an older term, so that its sender learns the newer one and steps
    /// down. Responses from older terms need no answer.
    pub(crate) fn answer_stale(&mut self, m: &crate::message::Message) {
        match m.body {
            Body::RequestVote { .. } => {
                self.send_after_persist(m.from, Body::RequestVoteResponse { granted: false });
            }
            Body::AppendEntries { prev_log_index, .. } => {
                let rejected = AppendResponse::Rejected {
                    rejected_prev_index: prev_log_index,
                    conflict_term: None,
                    conflict_index: LogIndex::ZERO,
                    lost: false,
                };
                self.send_after_persist(m.from, Body::AppendEntriesResponse(rejected));
            }
            Body::InstallSnapshot { meta, .. } => {
                let partial = SnapshotResponse::Partial { last_index: meta.last_index, received: 0 };
                self.send_after_persist(m.from, Body::InstallSnapshotResponse(partial));
            }
            // Pre-votes never arrive here: `handle_pre_vote` refuses stale ones itself.
            Body::PreVote { .. } => {}
            Body::RequestVoteResponse { .. }
            | Body::PreVoteResponse { .. }
            | Body::AppendEntriesResponse(_)
            | Body::InstallSnapshotResponse(_) => {}
        }
    }

    fn become_leader(&mut self) {
        assert!(
            self.role == Role::Candidate
                || (self.role == Role::PreCandidate && self.vote == Some(self.config.id)),
            "only a candidate of this term can become leader, not a {:?}",
            self.role
        );
        let term = self.term;
        self.reset(term);
        // The leader's own election timer counts towards the check-quorum deadline.
        self.restart_election_timer();
        self.role = Role::Leader;
        self.leader = Some(self.config.id);
        let next_index = self.log.last_index().next();
        self.progress = (0..self.config.members.len())
            .map(|_| Progress {
                match_index: LogIndex::ZERO,
                next_index,
                probing: true,
                probe_outstanding: false,
                recently_active: false,
                transfer: None,
            })
            .collect();
        // A no-op of the new term lets earlier entries commit without waiting for a client
        // (paper §8, and the Figure 8 rule that only current-term entries commit by counting).
        self.append_own_entry(Payload::Noop);
        self.broadcast_append();
    }

    pub(crate) fn peers(&self) -> Vec<NodeId> {
        let me = self.config.id;
        self.config.members.iter().copied().filter(|m| *m != me).collect()
    }

    fn granted_votes(&self) -> usize {
        count(&self.votes, true)
    }

    fn rejected_votes(&self) -> usize {
        count(&self.votes, false)
    }
}

/// How many answers in a tally are `answer`.
fn count(tally: &[Option<bool>], answer: bool) -> usize {
    tally.iter().filter(|v| **v == Some(answer)).count()
}
