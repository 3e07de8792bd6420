//! Cluster membership: who votes, who only listens, and how that changes one server at a time.
//!
//! # The method: single-server changes (thesis §4.1, with the fix of the 2015 raft-dev post)
//!
//! A configuration lists the **voters** (they elect leaders and count towards every quorum) and
//! the **learners** (they receive the log, by AppendEntries or by snapshot, and nothing they do
//! counts). A change is one log entry carrying the whole new configuration, and it differs from
//! the one before by one server: add a learner, promote a learner to voter, or remove a server.
//! Replacing a server is add, promote, remove.
//!
//! - A configuration takes effect on every server as soon as its entry is in the server's log,
//!   committed or not (paper §6, thesis §4.1), and the server counts every quorum in the latest
//!   configuration it holds. An entry truncated by a new leader takes its configuration with it:
//!   the server falls back on the latest configuration still in its log.
//! - Any two majorities of configurations one voter apart intersect, so a single-server change
//!   never lets two majorities decide apart, *provided* the old configuration no longer decides
//!   anything once the new one is in use. Two rules make sure of it:
//!   1. one change at a time: a leader starts a change only once the previous one is committed;
//!   2. a leader starts a change only once it has committed an entry of its own term. Without
//!      this rule (the bug Ongaro published on raft-dev in 2015) a leader can commit a change
//!      under a configuration that a deposed leader's uncommitted change has already replaced
//!      on other servers, and the two leaders' majorities need not intersect: see the planted
//!      bug [`crate::Bug::ChangeBeforeOwnTermCommit`] and its story.
//! - A new server joins as a learner, so that it is caught up before its vote and its log count
//!   (thesis §4.2.1); a promotion is refused until its log holds everything committed.
//! - A leader that removes itself keeps leading until the change commits, counting quorums
//!   without itself, then steps down (thesis §4.2.2).
//! - A removed server may never hear that it was removed and keep timing out; pre-vote (thesis
//!   §9.6), check-quorum (§6.2) and the sticky-leader rule (§4.2.3, [`crate::Config::sticky_leader`])
//!   keep it from deposing a working leader.
//!
//! Why not joint consensus (thesis §4.3, paper §6)? It allows arbitrary changes in one step, at
//! the price of two configurations in force at once (every quorum counted twice), a second log
//! entry per change, and more states to get wrong. Every operation a cluster needs (grow,
//! shrink, replace a server) is a sequence of single-server steps, and the extra rules above are
//! two comparisons. etcd, raft-rs and LogCabin ship single-server changes for the same reason.
//!
//! Node ids in a configuration are at most [`NodeSet::CAPACITY`] - 1: a configuration is a pair
//! of bit sets, so that it (and the snapshot metadata that carries it) stays `Copy`.

use std::fmt;

use crate::message::Payload;
use crate::node::{RaftNode, Role};
use crate::types::{LogIndex, NodeId};
use crate::Bug;

/// A set of node ids, as bits: copied freely, iterated in id order, never allocated.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash)]
pub struct NodeSet(u128);

impl NodeSet {
    /// Ids from 0 to `CAPACITY - 1` fit.
    pub const CAPACITY: u32 = 128;

    #[must_use]
    pub fn new() -> NodeSet {
        NodeSet(0)
    }
    /// Whether `id` can be held.
    #[must_use]
    pub fn fits(id: NodeId) -> bool {
        id.0 < NodeSet::CAPACITY
    }
    #[must_use]
    pub fn contains(self, id: NodeId) -> bool {
        NodeSet::fits(id) && self.0 & (1 << id.0) != 0
    }
    /// # Panics
    /// If `id` does not fit: callers check [`NodeSet::fits`] on anything from outside.
    pub fn insert(&mut self, id: NodeId) {
        assert!(NodeSet::fits(id), "{id} does not fit a node set");
        self.0 |= 1 << id.0;
    }
    pub fn remove(&mut self, id: NodeId) {
        if NodeSet::fits(id) {
            self.0 &= !(1 << id.0);
        }
    }
    #[must_use]
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    #[must_use]
    pub fn union(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 | other.0)
    }
    #[must_use]
    pub fn intersects(self, other: NodeSet) -> bool {
        self.0 & other.0 != 0
    }
    /// The ids, smallest first.
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let id = bits.trailing_zeros();
            bits &= bits - 1;
            Some(NodeId(id))
        })
    }
}

impl FromIterator<NodeId> for NodeSet {
    fn from_iter<I: IntoIterator<Item = NodeId>>(ids: I) -> NodeSet {
        let mut set = NodeSet::new();
        ids.into_iter().for_each(|id| set.insert(id));
        set
    }
}

impl fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A cluster configuration. Invariant: no server is both a voter and a learner.
///
/// The empty configuration means "none recorded": a snapshot taken before any configuration
/// entry, or a server that joins and knows nothing yet (a real configuration has a voter).
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash)]
pub struct Membership {
    pub voters: NodeSet,
    pub learners: NodeSet,
}

/// One single-server change (see the module documentation).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum MembershipChange {
    /// A new server joins as a learner: it receives the log and does not vote.
    AddLearner(NodeId),
    /// A learner becomes a voter; refused until its log holds everything committed.
    Promote(NodeId),
    /// A voter or a learner leaves.
    Remove(NodeId),
}

/// Why a membership change was not started.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ChangeError {
    /// Only a leader starts a change; `hint` is the leader this node knows of.
    NotLeader {
        hint: Option<NodeId>,
    },
    /// A leadership transfer to `to` is under way.
    Transferring {
        to: NodeId,
    },
    /// The leader has not yet committed an entry of its own term (the 2015 fix).
    OwnTermNotCommitted,
    /// The configuration entry at `index` is not committed yet: one change at a time.
    ChangeInProgress {
        index: LogIndex,
    },
    AlreadyMember(NodeId),
    NotALearner(NodeId),
    NotAMember(NodeId),
    /// The change would leave no voter.
    LastVoter(NodeId),
    /// The learner's log does not yet hold everything committed.
    LearnerBehind {
        id: NodeId,
        matched: LogIndex,
        committed: LogIndex,
    },
    /// The id is beyond [`NodeSet::CAPACITY`].
    IdOutOfRange(NodeId),
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::NotLeader { hint } => write!(f, "not the leader (leader: {hint:?})"),
            ChangeError::Transferring { to } => write!(f, "leadership is being transferred to {to}"),
            ChangeError::OwnTermNotCommitted => f.write_str("no entry of the leader's term is committed yet"),
            ChangeError::ChangeInProgress { index } => {
                write!(f, "the configuration change at {index} is not committed yet")
            }
            ChangeError::AlreadyMember(id) => write!(f, "{id} is already a member"),
            ChangeError::NotALearner(id) => write!(f, "{id} is not a learner"),
            ChangeError::NotAMember(id) => write!(f, "{id} is not a member"),
            ChangeError::LastVoter(id) => write!(f, "removing {id} would leave no voter"),
            ChangeError::LearnerBehind { id, matched, committed } => {
                write!(f, "{id} holds the log to {matched}, short of the commit index {committed}")
            }
            ChangeError::IdOutOfRange(id) => {
                write!(f, "{id} is beyond the {} ids a set holds", NodeSet::CAPACITY)
            }
        }
    }
}

impl std::error::Error for ChangeError {}

impl Membership {
    /// A configuration of voters only.
    #[must_use]
    pub fn voters(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership { voters: voters.into_iter().collect(), learners: NodeSet::new() }
    }
    #[must_use]
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(id)
    }
    #[must_use]
    pub fn is_learner(&self, id: NodeId) -> bool {
        self.learners.contains(id)
    }
    #[must_use]
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.is_learner(id)
    }
    /// Voters and learners, in id order.
    #[must_use]
    pub fn members(&self) -> NodeSet {
        self.voters.union(self.learners)
    }
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.voters.is_empty() && self.learners.is_empty()
    }
    /// The number of voters that make a majority.
    #[must_use]
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
    /// Whether the voters for which `yes` holds make a majority.
    #[must_use]
    pub fn is_quorum(&self, yes: impl Fn(NodeId) -> bool) -> bool {
        self.voters.iter().filter(|id| yes(*id)).count() >= self.quorum()
    }

    /// The configuration after `change`, or why the change does not fit this one.
    pub fn after(&self, change: MembershipChange) -> Result<Membership, ChangeError> {
        let mut next = *self;
        match change {
            MembershipChange::AddLearner(id) => {
                if !NodeSet::fits(id) {
                    return Err(ChangeError::IdOutOfRange(id));
                }
                if self.contains(id) {
                    return Err(ChangeError::AlreadyMember(id));
                }
                next.learners.insert(id);
            }
            MembershipChange::Promote(id) => {
                if !self.is_learner(id) {
                    return Err(ChangeError::NotALearner(id));
                }
                next.learners.remove(id);
                next.voters.insert(id);
            }
            MembershipChange::Remove(id) => {
                if !self.contains(id) {
                    return Err(ChangeError::NotAMember(id));
                }
                if self.is_voter(id) && self.voters.len() == 1 {
                    return Err(ChangeError::LastVoter(id));
                }
                next.voters.remove(id);
                next.learners.remove(id);
            }
        }
        assert!(!next.voters.intersects(next.learners), "a server both votes and learns");
        Ok(next)
    }
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters {:?} learners {:?}", self.voters, self.learners)
    }
}

impl fmt::Display for Membership {
    /// `{n0,n1,n2}+{n3}`: voters, then learners if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |set: NodeSet| set.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",");
        write!(f, "{{{}}}", list(self.voters))?;
        if !self.learners.is_empty() {
            write!(f, "+{{{}}}", list(self.learners))?;
        }
        Ok(())
    }
}

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
