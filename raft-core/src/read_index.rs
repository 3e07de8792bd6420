//! Reads that skip the log (thesis §6.4): ReadIndex, and leases as an option (§6.4.1).
//!
//! The host asks [`RaftNode::read_index`] with a context of its choosing (a request id); some
//! time later a [`ReadState`] with that context and a log index comes out in
//! [`crate::Ready::read_states`], and the host serves the read from its state machine once it
//! has applied up to that index. The read is then linearizable: it reflects every write that
//! completed before it was asked, as if it had gone through the log at that index. As in
//! raft-rs (`read_index(ctx)`, `Ready::read_states`), the core never reads the state machine.
//!
//! **ReadIndex.** The leader (a follower refuses: the client retries the leader)
//! 1. waits, if need be, until an entry of its own term is committed: only then does its
//!    commit index cover every entry committed by earlier leaders (its no-op, paper §8);
//! 2. records its commit index as the read index;
//! 3. sends a leadership check (`ConfirmLeadership`, a new round) to the voters and waits until
//!    a majority of the configuration in force has answered that round: a round sent after the
//!    read was asked, so no leader of a later term existed when the majority answered, and none
//!    had committed anything past the read index;
//! 4. hands the read state to the host.
//!
//! **Leases** ([`crate::Config::read_lease`]). The leader skips step 3 while its lease holds:
//! for [`lease_ticks`] of its own ticks from the sending of the newest round a majority
//! answered. With the lease on, every heartbeat also sends a round, so the lease stays fresh.
//!
//! Why the lease is safe. A round sent at time `s` (leader's tick `k`) is answered by a
//! majority M. Each member of M heard the leader at or after `s`, and by the sticky-leader rule
//! ([`crate::Config::sticky_leader`], which a lease requires) grants no vote for a higher term
//! until `election_ticks_min` of its own ticks have passed since (TimeoutNow is the exception,
//! and a leader that sent one has no lease left in its term). Pre-vote alone would not do: a
//! candidate that passed its pre-votes before `s` could still collect real votes after it. A
//! restarted server counts from its restart (it may have heard the leader just before its
//! crash). Every new leader needs a vote from M, so none exists before `election_ticks_min`
//! ticks of some member of M: its `election_ticks_min`-th tick after hearing us comes later than
//! `s + (election_ticks_min - 1) / (1 + ρ)` in real time, if every clock runs at a rate within
//! `1 ± ρ` of the nominal. At our tick `c`, less than `(c + 1 - k) / (1 - ρ)` has passed since
//! `s`. So the lease holds while `c - k < lease_ticks`, with `lease_ticks` at most
//! `(election_ticks_min - 1) · (1 - ρ) / (1 + ρ)`; we take a margin of
//! [`LEASE_MARGIN_TICKS`] below that. Message delays only make every bound later.
//!
//! ρ is [`CLOCK_DRIFT_PPM_MAX`]: the one place where the bound lives.

use std::collections::VecDeque;

use crate::message::Body;
use crate::node::{RaftNode, Role};
use crate::types::{LogIndex, NodeId};
use crate::Bug;

/// The drift bound leases are sized by; it lives in the host contract, the one place.
pub use raft_host::contract::CLOCK_DRIFT_PPM_MAX;

/// Ticks taken off the lease beyond what the drift bound requires: a host's tick can be late by
/// a scheduling slip that drift does not model.
pub const LEASE_MARGIN_TICKS: u32 = 1;

/// How many of its own ticks a leader may serve reads without a round, counted from the tick at
/// which it sent the newest round a majority answered (see the module documentation): 0 when
/// the election timeout is too short for any lease.
#[must_use]
pub fn lease_ticks(election_ticks_min: u32) -> u32 {
    let ppm = u64::from(CLOCK_DRIFT_PPM_MAX);
    let safe = u64::from(election_ticks_min.saturating_sub(1)) * (1_000_000 - ppm) / (1_000_000 + ppm);
    (safe as u32).saturating_sub(LEASE_MARGIN_TICKS)
}

pub use raft_host::{ReadError, ReadState};

/// A read waiting for its round.
#[derive(Copy, Clone, Debug)]
struct PendingRead {
    ctx: u64,
    index: LogIndex,
    round: u64,
}

/// A leader's reads in flight and its lease; cleared whenever the term or the role changes.
#[derive(Clone, Default, Debug)]
pub(crate) struct Reads {
    /// Asked before an entry of this term was committed: no read index yet.
    waiting_for_term: Vec<u64>,
    /// Waiting for a majority to answer their round, oldest first.
    pending: VecDeque<PendingRead>,
    /// The newest round sent this term; rounds are numbered from 1.
    last_round: u64,
    /// Rounds not yet answered by a majority, with the leader's tick when each was sent.
    sent: VecDeque<(u64, u64)>,
    /// The tick at which the newest round a majority answered was sent.
    lease_from: Option<u64>,
    /// TimeoutNow went out: no lease for the rest of the term.
    lease_revoked: bool,
}

impl Reads {
    pub(crate) fn revoke_lease(&mut self) {
        self.lease_revoked = true;
        self.lease_from = None;
    }
}

impl RaftNode {
    /// Asks for a linearizable read without a log entry; the answer comes out later as a
    /// [`ReadState`] carrying `ctx`, or never if this node stops leading first (the host sees
    /// the role change and tells the client to retry). A follower refuses.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ReadError> {
        if self.role != Role::Leader {
            return Err(ReadError::NotLeader { hint: self.leader });
        }
        if self.log.term_at(self.commit_index) == Some(self.term) {
            self.start_read(ctx);
        } else {
            self.reads.waiting_for_term.push(ctx);
        }
        self.assert_invariants();
        Ok(())
    }

    /// Whether this leader's lease holds now (always false with leases off).
    #[must_use]
    pub fn lease_holds(&self) -> bool {
        let ticks = if self.config.bugs.has(Bug::LeaseIgnoresDrift) {
            // The bug: the raw election timeout, as if clocks never drifted.
            self.config.election_ticks_min
        } else {
            lease_ticks(self.config.election_ticks_min)
        };
        self.config.read_lease
            && self.role == Role::Leader
            && !self.reads.lease_revoked
            && self.transfer.is_none()
            && self.reads.lease_from.is_some_and(|from| self.ticks - from < u64::from(ticks))
    }

    /// Commit index as the read index; served at once under a lease, otherwise after a round.
    fn start_read(&mut self, ctx: u64) {
        let index = self.commit_index;
        if self.lease_holds() || self.config.bugs.has(Bug::ReadBeforeConfirm) {
            // The bug `read-before-confirm`: as if the leader were sure it still leads.
            self.out_read_states.push(ReadState { ctx, index });
            return;
        }
        let round = self.start_leadership_round();
        self.reads.pending.push_back(PendingRead { ctx, index, round });
        self.maybe_confirm_reads();
    }

    /// Reads that waited for an entry of this term to commit: it just did.
    pub(crate) fn maybe_start_waiting_reads(&mut self) {
        if self.reads.waiting_for_term.is_empty() || self.log.term_at(self.commit_index) != Some(self.term) {
            return;
        }
        for ctx in std::mem::take(&mut self.reads.waiting_for_term) {
            self.start_read(ctx);
        }
    }

    /// Sends a new leadership check to every other voter; returns its round.
    pub(crate) fn start_leadership_round(&mut self) -> u64 {
        self.reads.last_round += 1;
        let round = self.reads.last_round;
        self.reads.sent.push_back((round, self.ticks));
        for peer in self.peers() {
            self.send_now(peer, Body::ConfirmLeadership { round });
        }
        round
    }

    /// A follower's side: the check comes from the leader of our term, and counts as hearing
    /// from it. The answer promises nothing durable and leaves at once.
    pub(crate) fn handle_confirm_leadership(&mut self, leader: NodeId, round: u64) {
        debug_assert_eq!(self.role, Role::Follower);
        self.leader = Some(leader);
        self.election_elapsed = 0;
        self.since_leader_ticks = 0;
        self.send_now(leader, Body::LeadershipConfirmed { round });
    }

    pub(crate) fn handle_leadership_confirmed(&mut self, follower: NodeId, round: u64) {
        if round > self.reads.last_round {
            return; // a round never sent: a broken peer
        }
        let Some(progress) = self.progress.get_mut(&follower) else { return };
        progress.recently_active = true;
        progress.round_acked = progress.round_acked.max(round);
        self.maybe_confirm_reads();
    }

    /// Hands over the reads whose round a majority of the configuration in force answered,
    /// and renews the lease from that round.
    pub(crate) fn maybe_confirm_reads(&mut self) {
        let me = self.config.id;
        let last_round = self.reads.last_round;
        let membership = *self.memberships.latest();
        let mut acked: Vec<u64> = membership
            .voters
            .iter()
            .map(|id| if id == me { last_round } else { self.progress.get(&id).map_or(0, |p| p.round_acked) })
            .collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&confirmed) = acked.get(membership.quorum() - 1) else { return };
        while let Some(&(round, sent_at)) = self.reads.sent.front() {
            if round > confirmed {
                break;
            }
            self.reads.sent.pop_front();
            if !self.reads.lease_revoked {
                self.reads.lease_from = Some(sent_at);
            }
        }
        while let Some(read) = self.reads.pending.front().copied() {
            if read.round > confirmed {
                break;
            }
            self.reads.pending.pop_front();
            self.out_read_states.push(ReadState { ctx: read.ctx, index: read.index });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_the_election_timeout_shrunk_by_drift_both_ways_and_a_margin() {
        // (30 - 1) * 0.95 / 1.05 = 26.2, less a margin of 1.
        assert_eq!(lease_ticks(30), 25);
        assert_eq!(lease_ticks(1), 0);
        assert_eq!(lease_ticks(0), 0);
    }
}
