//! Cluster membership in raft-core: the configurations a node's log holds, and how a leader
//! starts a change. The vocabulary (configurations, changes, the method and why) is in
//! [`raft_host::membership`], shared with the host.

use crate::message::Payload;
use crate::node::{RaftNode, Role};
use crate::types::LogIndex;
use crate::Bug;
pub use raft_host::membership::{ChangeError, Membership, MembershipChange, NodeSet};

/// The configurations a node's log holds: the one in force at the log's base (the snapshot's,
/// or the bootstrap configuration) and one per configuration entry after it, in index order.
/// The latest is the one in force at the node, committed or not.
#[derive(Clone, Debug)]
pub(crate) struct Memberships {
    /// The configuration of a cluster that never changed, from [`crate::Config::members`].
    bootstrap: Membership,
    /// The configuration in force at the log's base index.
    base: (LogIndex, Membership),
    /// Configuration entries after the base, by increasing index.
    entries: Vec<(LogIndex, Membership)>,
}

impl Memberships {
    pub(crate) fn new(bootstrap: Membership) -> Memberships {
        Memberships { bootstrap, base: (LogIndex::ZERO, bootstrap), entries: Vec::new() }
    }

    /// The configuration recorded in a snapshot, the bootstrap one if it records none.
    pub(crate) fn or_bootstrap(&self, recorded: Membership) -> Membership {
        if recorded.is_empty() {
            self.bootstrap
        } else {
            recorded
        }
    }

    pub(crate) fn latest(&self) -> &Membership {
        self.entries.last().map_or(&self.base.1, |(_, m)| m)
    }

    /// The index of the latest configuration entry; the base index if the log holds none.
    pub(crate) fn latest_index(&self) -> LogIndex {
        self.entries.last().map_or(self.base.0, |(i, _)| *i)
    }

    /// The configuration in force once the log holds everything up to `index` (at least the
    /// base index).
    pub(crate) fn at(&self, index: LogIndex) -> Membership {
        debug_assert!(index >= self.base.0, "{index} is before the base {}", self.base.0);
        self.entries.iter().rev().find(|(i, _)| *i <= index).map_or(self.base.1, |(_, m)| *m)
    }

    /// A configuration entry was appended at `index`.
    pub(crate) fn push(&mut self, index: LogIndex, membership: Membership) {
        assert!(index > self.latest_index(), "configuration entries out of order at {index}");
        self.entries.push((index, membership));
    }

    /// The log lost its entries from `from` on: their configurations go with them.
    pub(crate) fn truncate_from(&mut self, from: LogIndex) {
        self.entries.retain(|(i, _)| *i < from);
    }

    /// The log now starts after `index` (compaction, or an installed snapshot whose last entry
    /// the log held): the configuration there becomes the base.
    pub(crate) fn compact(&mut self, index: LogIndex) {
        let at = self.at(index);
        self.base = (index, at);
        self.entries.retain(|(i, _)| *i > index);
    }

    /// The log was replaced by a snapshot through `index` recording `membership`.
    pub(crate) fn reset(&mut self, index: LogIndex, membership: Membership) {
        self.base = (index, self.or_bootstrap(membership));
        self.entries.clear();
    }
}

impl RaftNode {
    /// Starts a single-server membership change at this leader: appends the new configuration,
    /// which is in force here at once, and returns its index. The change is done when that
    /// entry commits; [`RaftNode::membership_index`] and the commit index tell.
    ///
    /// Refused unless this node leads, no leadership transfer is under way, an entry of this
    /// leader's term is committed, and the previous change is committed (see the module
    /// documentation); and a promotion waits until the learner holds every committed entry.
    pub fn change_membership(&mut self, change: MembershipChange) -> Result<LogIndex, ChangeError> {
        if self.role != Role::Leader {
            return Err(ChangeError::NotLeader { hint: self.leader });
        }
        if let Some(to) = self.transferring_to() {
            return Err(ChangeError::Transferring { to });
        }
        let own_term_committed = self.log.term_at(self.commit_index) == Some(self.term);
        if !own_term_committed && !self.config.bugs.has(Bug::ChangeBeforeOwnTermCommit) {
            return Err(ChangeError::OwnTermNotCommitted);
        }
        let latest_index = self.memberships.latest_index();
        if latest_index > self.commit_index {
            return Err(ChangeError::ChangeInProgress { index: latest_index });
        }
        let next = self.memberships.latest().after(change)?;
        if let MembershipChange::Promote(id) = change {
            let matched = self.progress.get(&id).map_or(LogIndex::ZERO, |p| p.match_index);
            if matched < self.commit_index {
                return Err(ChangeError::LearnerBehind { id, matched, committed: self.commit_index });
            }
        }
        let index = self.append_own_entry(Payload::Config(std::sync::Arc::new(next)));
        assert_eq!(*self.memberships.latest(), next, "a configuration takes effect when appended");
        self.broadcast_append();
        // A removal can shrink the quorum: what the remaining voters hold may commit now.
        self.maybe_commit();
        self.assert_invariants();
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;

    fn set(ids: &[u32]) -> NodeSet {
        ids.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn a_node_set_iterates_in_id_order_and_ignores_ids_that_do_not_fit() {
        let s = set(&[5, 0, 127, 3]);
        assert_eq!(s.iter().map(|n| n.0).collect::<Vec<_>>(), vec![0, 3, 5, 127]);
        assert_eq!(s.len(), 4);
        assert!(!s.contains(NodeId(128)));
        assert!(!NodeSet::fits(NodeId(128)));
    }

    #[test]
    fn each_change_moves_one_server_and_refuses_what_does_not_fit() {
        let c = Membership::voters([NodeId(0), NodeId(1), NodeId(2)]);
        let added = c.after(MembershipChange::AddLearner(NodeId(3))).expect("fits");
        assert_eq!(added.to_string(), "{n0,n1,n2}+{n3}");
        assert_eq!(added.quorum(), 2, "a learner does not count");
        let promoted = added.after(MembershipChange::Promote(NodeId(3))).expect("fits");
        assert_eq!((promoted.to_string(), promoted.quorum()), ("{n0,n1,n2,n3}".into(), 3));
        assert_eq!(
            c.after(MembershipChange::AddLearner(NodeId(1))),
            Err(ChangeError::AlreadyMember(NodeId(1)))
        );
        assert_eq!(c.after(MembershipChange::Promote(NodeId(1))), Err(ChangeError::NotALearner(NodeId(1))));
        assert_eq!(c.after(MembershipChange::Remove(NodeId(9))), Err(ChangeError::NotAMember(NodeId(9))));
        let one = Membership::voters([NodeId(4)]);
        assert_eq!(one.after(MembershipChange::Remove(NodeId(4))), Err(ChangeError::LastVoter(NodeId(4))));
        assert_eq!(
            c.after(MembershipChange::AddLearner(NodeId(200))),
            Err(ChangeError::IdOutOfRange(NodeId(200)))
        );
    }

    #[test]
    fn the_configuration_in_force_follows_appends_truncations_and_compaction() {
        let c0 = Membership::voters([NodeId(0), NodeId(1)]);
        let c1 = c0.after(MembershipChange::AddLearner(NodeId(2))).expect("fits");
        let c2 = c1.after(MembershipChange::Promote(NodeId(2))).expect("fits");
        let mut m = Memberships::new(c0);
        m.push(LogIndex(3), c1);
        m.push(LogIndex(5), c2);
        assert_eq!((*m.latest(), m.latest_index()), (c2, LogIndex(5)));
        assert_eq!(m.at(LogIndex(4)), c1);
        m.truncate_from(LogIndex(5));
        assert_eq!(*m.latest(), c1, "the truncated entry's configuration is gone");
        m.compact(LogIndex(4));
        assert_eq!((*m.latest(), m.latest_index()), (c1, LogIndex(4)));
        m.reset(LogIndex(9), Membership::default());
        assert_eq!(*m.latest(), c0, "a snapshot recording no configuration means the bootstrap one");
    }
}
