//! Leadership transfer (thesis §3.10): a leader hands its role to a chosen voter, for
//! maintenance or to move leadership next to the clients.
//!
//! 1. The leader stops taking proposals, so that the target can catch up with a log that no
//!    longer grows (`propose` answers `NotLeader` with no hint).
//! 2. It replicates to the target as usual; once the target's log matches its own to the last
//!    entry, it sends TimeoutNow.
//! 3. The target starts an election at once, without pre-vote: the point is to win now, and a
//!    pre-vote would be refused by every voter that still hears the leader. Its vote requests
//!    carry `transfer`, so voters grant them even though they heard from a leader within the
//!    minimum election timeout (the sticky-leader rule, thesis §4.2.3, is for elections nobody
//!    asked for). Its log is as up to date as the leader's, so it wins unless another server
//!    does.
//! 4. The leader steps down when it hears the higher term. If nothing happens within an election
//!    timeout (`election_ticks_min`), it abandons the transfer and takes proposals again.
//!
//! Once TimeoutNow is sent the leader's lease is void for the rest of its term: the target may
//! win with votes that ignore the lease, at any time the message arrives.

use crate::message::Body;
use crate::node::{RaftNode, Role};
use crate::types::NodeId;

pub use raft_host::TransferError;

/// A transfer under way at the leader.
#[derive(Copy, Clone, Debug)]
pub(crate) struct LeaderTransfer {
    pub to: NodeId,
    /// Ticks since it started; abandoned at `election_ticks_min`.
    pub elapsed: u32,
    /// TimeoutNow went out (once per transfer).
    pub timeout_sent: bool,
}

impl RaftNode {
    /// Starts handing leadership to `to`, a voter of the configuration in force. Asking again
    /// for the same target changes nothing.
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader { hint: self.leader });
        }
        if to == self.config.id || !self.memberships.latest().is_voter(to) {
            return Err(TransferError::NotAVoter(to));
        }
        match self.transfer {
            Some(t) if t.to == to => return Ok(()),
            Some(t) => return Err(TransferError::InProgress { to: t.to }),
            None => {}
        }
        self.transfer = Some(LeaderTransfer { to, elapsed: 0, timeout_sent: false });
        self.maybe_send_timeout_now();
        // Catch the target up now rather than at the next heartbeat: what it lacks may have
        // been sent already and lost.
        self.heartbeat_to(to);
        self.assert_invariants();
        Ok(())
    }

    /// Sends TimeoutNow once the target's log matches ours to the last entry.
    pub(crate) fn maybe_send_timeout_now(&mut self) {
        let Some(transfer) = self.transfer else { return };
        let caught_up =
            self.progress.get(&transfer.to).is_some_and(|p| p.match_index == self.log.last_index());
        if transfer.timeout_sent || !caught_up {
            return;
        }
        self.transfer = Some(LeaderTransfer { timeout_sent: true, ..transfer });
        self.reads.revoke_lease();
        self.send_now(transfer.to, Body::TimeoutNow);
    }

    /// Leader: one tick of the transfer; abandoned after an election timeout.
    pub(crate) fn tick_transfer(&mut self) {
        let Some(transfer) = &mut self.transfer else { return };
        transfer.elapsed += 1;
        if transfer.elapsed >= self.config.election_ticks_min {
            self.transfer = None;
        }
    }

    /// The target's side: campaign now, skipping pre-vote. Ignored by a node that is not a
    /// voter here or already leads or stands.
    pub(crate) fn handle_timeout_now(&mut self, from: NodeId) {
        if self.role != Role::Follower || !self.is_voter() || self.leader.is_some_and(|l| l != from) {
            return;
        }
        self.campaign(true);
    }
}
