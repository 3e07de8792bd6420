//! Node configuration, validated once at construction.

use std::fmt;

use crate::bugs::BugSet;
use crate::membership::NodeSet;
use crate::read_index::lease_ticks;
use crate::types::NodeId;

/// How one Raft node behaves. Times are in ticks of the node's own clock: the host decides how
/// long a tick is.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// The bootstrap configuration: the voters of a cluster that has never changed its members,
    /// this node included, the same at every one of them. Empty for a server that joins an
    /// existing cluster: it learns its configuration from the leader's log or snapshot. Once
    /// the log or a snapshot records a configuration, that one is in force
    /// ([`crate::membership`]).
    pub members: Vec<NodeId>,
    /// A follower or candidate that hears nothing for a timeout drawn uniformly from
    /// `[election_ticks_min, election_ticks_max)` starts an election. Randomization makes split
    /// votes rare (paper §5.2).
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    /// A leader sends AppendEntries to every follower at least this often. It must be well below
    /// the election timeout or followers would start elections against a live leader.
    pub heartbeat_ticks: u32,
    /// The most entries one AppendEntries carries, so that a far-behind follower is caught up in
    /// bounded messages.
    pub append_entries_max: usize,
    /// The most snapshot bytes one InstallSnapshot carries. A snapshot travels in chunks sent
    /// one at a time, each answered, so that a large one neither fills the network nor starts
    /// over from scratch when one message is lost.
    pub snapshot_chunk_bytes_max: usize,
    /// A leader that has not heard from a majority for `election_ticks_max` steps down, so that a
    /// leader cut off in a minority stops accepting commands it cannot commit (thesis §6.2). The
    /// longest timeout, not the shortest, so that slow answers do not depose a working leader.
    pub check_quorum: bool,
    /// Run a pre-vote round before each election (thesis §9.6), and refuse pre-votes while a
    /// leader is heard from: a node that cannot win does not disturb the cluster.
    pub pre_vote: bool,
    /// Disregard a RequestVote for a higher term within `election_ticks_min` of hearing from a
    /// leader (or of leading, or of starting), unless it comes from the target of a leadership
    /// transfer (thesis §4.2.3): a server removed from the cluster, or cut off and back, cannot
    /// depose a working leader. Off by default; leases require it.
    pub sticky_leader: bool,
    /// Serve [`crate::RaftNode::read_index`] without a leadership round while the leader's lease
    /// holds (thesis §6.4.1). Safe only if no clock drifts more than
    /// [`crate::read_index::CLOCK_DRIFT_PPM_MAX`]; requires `sticky_leader`.
    pub read_lease: bool,
    /// Planted bugs; empty except in the harness's self-test.
    pub bugs: BugSet,
    /// Choices the paper leaves open (back-off, pipelining, heartbeat contents, the order in
    /// which followers are served); every combination is correct.
    pub choices: raft_host::Choices,
}

/// A configuration that cannot work.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid raft configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// A configuration with the timing the classic lab suite expects when one tick is 10 ms:
    /// heartbeats every 100 ms, elections after 300 to 600 ms of silence.
    #[must_use]
    pub fn new(id: NodeId, members: Vec<NodeId>) -> Config {
        Config {
            id,
            members,
            election_ticks_min: 30,
            election_ticks_max: 60,
            heartbeat_ticks: 10,
            append_entries_max: 64,
            snapshot_chunk_bytes_max: 64 * 1024,
            check_quorum: true,
            pre_vote: true,
            sticky_leader: false,
            read_lease: false,
            bugs: BugSet::none(),
            choices: raft_host::Choices::default(),
        }
    }

    /// Checks the relationships the protocol relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.members.is_empty() && !self.members.contains(&self.id) {
            return Err(ConfigError(format!("{} is not among the members", self.id)));
        }
        if let Some(id) = self.members.iter().chain([&self.id]).find(|id| !NodeSet::fits(**id)) {
            return Err(ConfigError(format!(
                "{id} is beyond the {} ids a configuration holds",
                NodeSet::CAPACITY
            )));
        }
        let mut sorted = self.members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.members.len() {
            return Err(ConfigError("a member is listed twice".into()));
        }
        if self.heartbeat_ticks == 0 {
            return Err(ConfigError("heartbeat_ticks must be at least 1".into()));
        }
        if self.election_ticks_min <= self.heartbeat_ticks {
            return Err(ConfigError(format!(
                "election_ticks_min ({}) must exceed heartbeat_ticks ({})",
                self.election_ticks_min, self.heartbeat_ticks
            )));
        }
        if self.election_ticks_max <= self.election_ticks_min {
            return Err(ConfigError(format!(
                "election_ticks_max ({}) must exceed election_ticks_min ({})",
                self.election_ticks_max, self.election_ticks_min
            )));
        }
        if self.append_entries_max == 0 {
            return Err(ConfigError("append_entries_max must be at least 1".into()));
        }
        if self.snapshot_chunk_bytes_max == 0 {
            return Err(ConfigError("snapshot_chunk_bytes_max must be at least 1".into()));
        }
        if self.read_lease && !self.sticky_leader {
            return Err(ConfigError("read_lease requires sticky_leader (see read_index.rs)".into()));
        }
        if self.read_lease && lease_ticks(self.election_ticks_min) == 0 {
            return Err(ConfigError(format!(
                "election_ticks_min ({}) is too short for a lease",
                self.election_ticks_min
            )));
        }
        Ok(())
    }
}
