//! Leader election: campaigns, votes, and the start of a leader's term (paper §5.2, §5.4.1).

use std::collections::BTreeMap;

use crate::message::{AppendResponse, Body, Message, Payload, SnapshotResponse};
use crate::node::{RaftNode, Role};
use crate::types::{LogIndex, NodeId, Term};
use crate::Bug;

impl RaftNode {
    /// Starts an election: a new term, a vote for ourselves, and a request to every voter of
    /// the configuration in force here. `transfer`: the leader asked for it (TimeoutNow).
    pub(crate) fn campaign(&mut self, transfer: bool) {
        assert_ne!(self.role, Role::Leader, "a leader does not campaign");
        assert!(self.is_voter(), "{} campaigns outside the voters", self.config.id);
        let term = self.term.next();
        self.reset(term);
        self.restart_election_timer();
        self.votes_requested_again = false;
        self.campaign_is_transfer = transfer;
        self.role = Role::Candidate;
        self.vote = Some(self.config.id);
        self.hard_state_dirty = true;
        self.votes.insert(self.config.id, true);
        if self.granted_votes() >= self.memberships.latest().quorum() {
            self.become_leader();
            return;
        }
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        for peer in self.peers() {
            // The request rests on our durable vote for ourselves: were we to crash and forget
            // it, we could vote for a rival in the same term.
            self.send_after_persist(peer, Body::RequestVote { last_log_index, last_log_term, transfer });
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
        let transfer = self.campaign_is_transfer;
        for peer in self.peers() {
            if !self.votes.contains_key(&peer) {
                self.send_after_persist(peer, Body::RequestVote { last_log_index, last_log_term, transfer });
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
        self.pre_votes.clear();
        self.pre_votes.insert(self.config.id, true);
        if self.tally(&self.pre_votes, true) >= self.memberships.latest().quorum() {
            self.campaign(false);
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
        self.pre_votes.entry(voter).or_insert(granted);
        let quorum = self.memberships.latest().quorum();
        if self.tally(&self.pre_votes, true) >= quorum {
            self.campaign(false);
        } else if self.tally(&self.pre_votes, false) >= quorum {
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
        self.votes.entry(voter).or_insert(granted);
        let quorum = self.memberships.latest().quorum();
        if self.granted_votes() >= quorum {
            self.become_leader();
        } else if self.rejected_votes() >= quorum {
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
            Body::AppendEntries { prev_log_index, seq, .. } => {
                let rejected = AppendResponse::Rejected {
                    rejected_prev_index: prev_log_index,
                    conflict_term: None,
                    conflict_index: LogIndex::ZERO,
                    lost: false,
                };
                self.send_after_persist(m.from, Body::AppendEntriesResponse { seq, response: rejected });
            }
            Body::InstallSnapshot { ref meta, seq, .. } => {
                let partial = SnapshotResponse::Partial { last_index: meta.last_index, received: 0 };
                self.send_after_persist(m.from, Body::InstallSnapshotResponse { seq, response: partial });
            }
            // Pre-votes never arrive here: `handle_pre_vote` refuses stale ones itself.
            Body::PreVote { .. } => {}
            // A deposed leader asking: no answer, so its check fails for want of a quorum; the
            // AppendEntries it also sends learn the new term.
            Body::ConfirmLeadership { .. } | Body::TimeoutNow => {}
            Body::RequestVoteResponse { .. }
            | Body::PreVoteResponse { .. }
            | Body::AppendEntriesResponse { .. }
            | Body::InstallSnapshotResponse { .. }
            | Body::LeadershipConfirmed { .. } => {}
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
        self.since_leader_ticks = 0;
        self.track_members();
        // A no-op of the new term lets earlier entries commit without waiting for a client
        // (paper §8, and the Figure 8 rule that only current-term entries commit by counting).
        self.append_own_entry(Payload::Noop);
        self.broadcast_append();
    }

    /// The voters of the configuration in force here, other than this node: whom a candidate
    /// asks. Learners are not asked, and their answers would not count.
    pub(crate) fn peers(&self) -> Vec<NodeId> {
        let me = self.config.id;
        let membership = self.memberships.latest();
        let asked = if self.config.bugs.has(Bug::LearnerVotes) {
            // The bug: learners are asked too, and their answers counted (see `tally`).
            membership.members()
        } else {
            membership.voters
        };
        asked.iter().filter(|m| *m != me).collect()
    }

    fn granted_votes(&self) -> usize {
        self.tally(&self.votes, true)
    }

    fn rejected_votes(&self) -> usize {
        self.tally(&self.votes, false)
    }

    /// How many voters of the configuration in force answered `answer`: quorums are counted in
    /// the latest configuration the node holds (thesis §4.1).
    fn tally(&self, answers: &BTreeMap<NodeId, bool>, answer: bool) -> usize {
        let membership = self.memberships.latest();
        let counted = if self.config.bugs.has(Bug::LearnerVotes) {
            // The bug: a learner's answer counts as a voter's.
            membership.members()
        } else {
            membership.voters
        };
        answers.iter().filter(|(id, a)| **a == answer && counted.contains(**id)).count()
    }

    /// The sticky-leader rule (thesis §4.2.3): a RequestVote for a higher term that arrives
    /// within the minimum election timeout of hearing from a leader is disregarded, neither the
    /// term nor the vote moves, unless the leader itself asked for that election (a transfer).
    /// A removed server that never learned of its removal keeps timing out; this, with
    /// pre-vote, keeps it from deposing the leader of the cluster it left. It is also what makes
    /// leases safe (see `read_index.rs`).
    ///
    /// Without `sticky_leader` the rule still holds for a candidate outside our configuration:
    /// with pre-vote off, a removed server otherwise deposed every leader it reached, again
    /// and again (swarm seed 4678). While a leader is heard no election is needed, so this
    /// costs no availability; a candidate outside our configuration is still granted a vote
    /// when no leader is heard (thesis §4.2.1: one may be needed to keep the cluster available).
    pub(crate) fn ignores_vote_request(&self, m: &Message) -> bool {
        let Body::RequestVote { transfer: false, .. } = m.body else { return false };
        let leader_heard =
            self.role == Role::Leader || self.since_leader_ticks < self.config.election_ticks_min;
        let sticky = self.config.sticky_leader || !self.memberships.latest().contains(m.from);
        sticky && m.term > self.term && leader_heard
    }
}
