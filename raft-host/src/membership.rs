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
//!      bug `Bug::ChangeBeforeOwnTermCommit` and its story.
//! - A new server joins as a learner, so that it is caught up before its vote and its log count
//!   (thesis §4.2.1); a promotion is refused until its log holds everything committed.
//! - A leader that removes itself keeps leading until the change commits, counting quorums
//!   without itself, then steps down (thesis §4.2.2).
//! - A removed server may never hear that it was removed and keep timing out; pre-vote (thesis
//!   §9.6), check-quorum (§6.2) and the sticky-leader rule (§4.2.3, (raft-core's `Config::sticky_leader`))
//!   keep it from deposing a working leader.
//!
//! Why not joint consensus (thesis §4.3, paper §6)? It allows arbitrary changes in one step, at
//! the price of two configurations in force at once (every quorum counted twice), a second log
//! entry per change, and more states to get wrong. Every operation a cluster needs (grow,
//! shrink, replace a server) is a sequence of single-server steps, and the extra rules above are
//! two comparisons. LogCabin ships only single-server changes; etcd's raft and raft-rs began
//! with them and added joint consensus later, for changes of several servers in one step.
//!
//! Node ids in a configuration are at most [`NodeSet::CAPACITY`] - 1: a configuration is a pair
//! of bit sets, so that it (and the snapshot metadata that carries it) stays `Copy`.

use std::fmt;

use crate::types::{LogIndex, NodeId};

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
    /// The implementation behind the host contract does not change its membership.
    Unsupported,
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
            ChangeError::Unsupported => f.write_str("this implementation does not change its membership"),
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
