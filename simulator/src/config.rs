//! Everything that shapes one run, drawn from the seed (swarm testing) or read from a scenario.
//!
//! Times are integer nanoseconds (`_ns`), probabilities integer parts per million (`_ppm`):
//! no floating point reaches a run.

use std::fmt::Write as _;

use raft_host::{Bug, BugSet};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::rng::{self, chance};

pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_SEC: u64 = 1_000_000_000;
/// Partitions are bitmasks of nodes, so a cluster has at most this many.
pub const NODES_MAX: usize = crate::limits::NODES_MAX as usize;

/// The whole configuration of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    pub seed: u64,
    pub cluster: ClusterConfig,
    pub network: NetworkConfig,
    pub disk: DiskConfig,
    pub faults: FaultConfig,
    pub workload: WorkloadConfig,
    /// When servers snapshot their state and compact their logs (off unless set).
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// Length of the fault phase, during which faults fire and clients issue operations.
    pub duration_ns: u64,
    /// After the fault phase the world heals; within this bound a leader must be elected, a
    /// probe command committed, every client answered and every replica caught up.
    pub liveness_ns: u64,
    /// The harder liveness phase (TigerBeetle's form): only a core, a majority chosen by the
    /// seed, is healed and restarted; every other server stays down, paused, isolated or cut off
    /// one way for good, and the core alone must elect a leader, commit, answer the clients and
    /// converge within `liveness_ns`. Off: everything heals. Not with membership changes: which
    /// majority can elect depends on the configuration, which may be in flight when the fault
    /// phase ends, so a run whose configuration changed heals everything (and the swarm does not
    /// draw both).
    #[serde(default)]
    pub liveness_core: bool,
    /// Planted bugs switched on (names from `raftsim bugs`).
    #[serde(default)]
    pub bugs: Vec<String>,
    /// The run's event budget (`--max-events`): a run that handles more events fails with
    /// verdict `liveness` (check `event-budget`). None: the default budget, which scales with
    /// the configuration and the simulated time (see `budget.rs`).
    #[serde(default)]
    pub max_events: Option<u64>,
    /// The branch of the seed's run this configuration runs (`--branch`, see `branch.rs`);
    /// empty for the seed's own path.
    #[serde(default, skip_serializing_if = "crate::branch::BranchPath::is_root")]
    pub branch: crate::branch::BranchPath,
    /// The Raft implementation in every server (`--impl`).
    #[serde(default)]
    pub implementation: Implementation,
}

/// The Raft implementations the simulator can drive, each behind the host contract of
/// `raft-host`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Implementation {
    /// This workspace's own `raft-core`.
    #[default]
    RaftCore,
    /// tikv/raft-rs (crate `raft` 0.7), through the adapter of `raft-rs-host`.
    RaftRs,
}

impl Implementation {
    pub const ALL: [Implementation; 2] = [Implementation::RaftCore, Implementation::RaftRs];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Implementation::RaftCore => "raft-core",
            Implementation::RaftRs => "raft-rs",
        }
    }

    /// Whether the implementation recovers from damaged storage by the rules of protocol-aware
    /// recovery (`raft-core/src/recovery.rs`): a node that may have lost what it promised
    /// neither votes nor counts until a leader repairs it. raft-rs assumes its storage keeps
    /// what it acknowledged, so its swarm leaves disk damage out; `--storage-faults` or a
    /// scenario can still inflict it on purpose.
    #[must_use]
    pub fn recovers_damaged_storage(self) -> bool {
        self == Implementation::RaftCore
    }

    /// Whether the implementation offers an optional part of the host contract.
    #[must_use]
    pub fn has_feature(self, feature: raft_host::Feature) -> bool {
        use raft_host::Raft as _;
        match self {
            Implementation::RaftCore => raft_core::RaftNode::supports_feature(feature),
            Implementation::RaftRs => raft_rs_host::RaftRsNode::supports_feature(feature),
        }
    }

    /// Whether the planted bug exists in this implementation (see `Raft::supports`).
    #[must_use]
    pub fn supports(self, bug: Bug) -> bool {
        use raft_host::Raft as _;
        match self {
            Implementation::RaftCore => raft_core::RaftNode::supports(bug),
            Implementation::RaftRs => raft_rs_host::RaftRsNode::supports(bug),
        }
    }
}

impl Implementation {
    /// The online checks this implementation cannot be held to, each with why, so that a run's
    /// summary says so rather than pass them silently. Every check reads only what crosses the
    /// host contract (the writes a node asks for, its messages' views, its view, what it hands
    /// the state machine), so none is skipped for either implementation today; an
    /// implementation whose view lacks something a check needs lists the check here.
    #[must_use]
    pub fn checks_skipped(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Implementation::RaftCore | Implementation::RaftRs => &[],
        }
    }

    /// What of the harness does not apply to this implementation, and why (shown in every
    /// run's summary, so that a reader does not look for it).
    #[must_use]
    pub fn not_applicable(self) -> &'static [&'static str] {
        match self {
            Implementation::RaftCore => &[],
            Implementation::RaftRs => &[
                "snapshot chunks (raft-rs sends a snapshot whole, in one message: snapshot.chunk_bytes_max is not used)",
                "planted bugs of the protocol layer (they are raft-core's; the state machine's apply)",
                "the coverage point \"snapshot: installed, later entries kept\" (raft-rs installs only a snapshot whose last entry its log lacks, and replaces the whole log)",
            ],
        }
    }
}

impl std::fmt::Display for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Implementation {
    type Err = String;
    fn from_str(s: &str) -> Result<Implementation, String> {
        Implementation::ALL.into_iter().find(|i| i.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Implementation::ALL.iter().map(|i| i.name()).collect();
            format!("unknown implementation {s:?}; expected one of: {}", names.join(", "))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub nodes: usize,
    /// Nominal length of one tick of a node's clock.
    pub tick_ns: u64,
    pub heartbeat_ticks: u32,
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    pub append_entries_max: usize,
    pub check_quorum: bool,
    /// A pre-vote round before each election (thesis §9.6).
    #[serde(default = "yes")]
    pub pre_vote: bool,
    /// Each node's clock runs fast or slow by up to this much (drawn per node). With lease
    /// reads, at most [`raft_host::contract::CLOCK_DRIFT_PPM_MAX`] (the bound leases rest on).
    pub drift_ppm_max: u32,
    /// How servers answer reads: `log` (an entry of their own), `read-index` or `lease`.
    #[serde(default)]
    pub read_path: ReadPathName,
    /// Choices the paper leaves to the implementation (each correct): how a leader backs off
    /// after a rejection (`conflict-term`, `one-at-a-time`, `to-match-index`), whether it
    /// pipelines appends, whether heartbeats carry entries, whether it serves followers in a
    /// rotating order. The swarm draws them; a scenario may set them.
    #[serde(default)]
    pub choices: LeaderChoices,
}

/// The serialized form of [`raft_host::Choices`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaderChoices {
    pub backoff: BackoffChoice,
    pub pipelining_off: bool,
    pub empty_heartbeats: bool,
    pub rotate_followers: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackoffChoice {
    #[default]
    ConflictTerm,
    OneAtATime,
    ToMatchIndex,
}

impl LeaderChoices {
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == LeaderChoices::default()
    }

    #[must_use]
    pub fn to_host(&self) -> raft_host::Choices {
        raft_host::Choices {
            backoff: match self.backoff {
                BackoffChoice::ConflictTerm => raft_host::Backoff::ConflictTerm,
                BackoffChoice::OneAtATime => raft_host::Backoff::OneAtATime,
                BackoffChoice::ToMatchIndex => raft_host::Backoff::ToMatchIndex,
            },
            no_pipelining: self.pipelining_off,
            empty_heartbeats: self.empty_heartbeats,
            rotate_followers: self.rotate_followers,
        }
    }
}

/// A server's read path (see `raft_kv::ReadPath`), as configurations and the CLI spell it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadPathName {
    #[default]
    Log,
    ReadIndex,
    Lease,
}

impl ReadPathName {
    #[must_use]
    pub fn kv(self) -> raft_kv::ReadPath {
        match self {
            ReadPathName::Log => raft_kv::ReadPath::Log,
            ReadPathName::ReadIndex => raft_kv::ReadPath::ReadIndex,
            ReadPathName::Lease => raft_kv::ReadPath::Lease,
        }
    }

    /// The path named as the CLI and the JSON spell it.
    pub fn parse(name: &str) -> Result<ReadPathName, String> {
        match raft_kv::ReadPath::parse(name) {
            Some(raft_kv::ReadPath::Log) => Ok(ReadPathName::Log),
            Some(raft_kv::ReadPath::ReadIndex) => Ok(ReadPathName::ReadIndex),
            Some(raft_kv::ReadPath::Lease) => Ok(ReadPathName::Lease),
            None => Err(format!("read path: expected log, read-index or lease, got {name:?}")),
        }
    }
}

/// The snapshot policy: a server hands Raft a snapshot of its store once it applied
/// `every_entries` entries past its last snapshot, or once its persisted Raft state (term, vote
/// and log, in the WAL format) passes `raft_state_bytes_max` (the lab's `maxraftstate`). Either
/// may be 0 (not used); both 0 is no snapshots at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    #[serde(default)]
    pub every_entries: u64,
    #[serde(default)]
    pub raft_state_bytes_max: u64,
    /// The most snapshot bytes one InstallSnapshot carries (0: the default, 64 KiB).
    #[serde(default)]
    pub chunk_bytes_max: usize,
}

impl SnapshotConfig {
    /// Whether servers take snapshots at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.every_entries > 0 || self.raft_state_bytes_max > 0
    }

    /// Every `entries` applied entries, chunks as configured.
    #[must_use]
    pub fn every(entries: u64) -> SnapshotConfig {
        SnapshotConfig { every_entries: entries, ..SnapshotConfig::default() }
    }
}

/// The network's fault model: see `network.rs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub delay_ns_min: u64,
    pub delay_ns_max: u64,
    pub drop_ppm: u32,
    pub duplicate_ppm: u32,
    /// A message is held back by a long delay with this probability: the long tail that
    /// reorders messages across heartbeats and elections.
    pub long_delay_ppm: u32,
    pub long_delay_ns_min: u64,
    pub long_delay_ns_max: u64,
    /// Hold back only answers (vote and append responses, client replies), as the lab suite's
    /// long reordering does.
    #[serde(default)]
    pub long_delay_replies_only: bool,
}

/// The disk's fault model: see `disk.rs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    pub fsync_ns_min: u64,
    pub fsync_ns_max: u64,
    /// When a node crashes with a write in flight, the write is torn (a prefix survives) with
    /// this probability; otherwise it is lost whole.
    pub torn_write_ppm: u32,
}

/// The random fault schedule of the fault phase; each family may be off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    #[serde(default)]
    pub partition: Option<PartitionFaults>,
    #[serde(default)]
    pub crash: Option<CrashFaults>,
    #[serde(default)]
    pub pause: Option<PauseFaults>,
    #[serde(default)]
    pub membership: Option<MembershipFaults>,
    /// Disks that lie (see `disk/` and its `atlas`, the budget).
    #[serde(default)]
    pub storage: Option<StorageFaults>,
}

/// Membership operations of the fault phase, one every `every_ns_min..every_ns_max`, each at
/// the leader of the moment: take out a voter (the leader itself sometimes), add a server that
/// is out back as a learner (its disk wiped first with `wipe_ppm`, once its removal is
/// committed), promote a learner, or (with `transfer_ppm`) hand leadership to another voter.
/// The cluster keeps at least three voters. Needs an implementation with the membership
/// feature; others are left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipFaults {
    pub every_ns_min: u64,
    pub every_ns_max: u64,
    #[serde(default)]
    pub transfer_ppm: u32,
    #[serde(default)]
    pub wipe_ppm: u32,
    /// A step also follows a leader's election at once with this probability.
    #[serde(default)]
    pub new_leader_ppm: u32,
}

/// Storage faults: a crashed node's disk may take one fault while it is down (so the restart
/// finds it), and an fsync may fail (the host then stops the node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageFaults {
    /// A crashed node's disk takes a fault with this probability, if the budget allows.
    pub damage_ppm: u32,
    /// The faults drawn from, evenly.
    pub kinds: Vec<StorageFault>,
    /// An fsync fails with this probability; the host stops the node and restarts it later.
    #[serde(default)]
    pub fsync_failure_ppm: u32,
    /// Ignore the recoverability budget (runs may lose data by design).
    #[serde(default)]
    pub beyond_budget: bool,
}

impl StorageFaults {
    /// Every kind of damage, at the given rate, within the budget.
    #[must_use]
    pub fn all(damage_ppm: u32, fsync_failure_ppm: u32) -> StorageFaults {
        StorageFaults {
            damage_ppm,
            kinds: StorageFault::ALL.to_vec(),
            fsync_failure_ppm,
            beyond_budget: false,
        }
    }
}

/// One kind of damage to a disk (each a module under `disk/`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageFault {
    BitRot,
    LatentSectorError,
    MisdirectedWrite,
    LostWrite,
    Wipe,
}

impl StorageFault {
    pub const ALL: [StorageFault; 5] = [
        StorageFault::BitRot,
        StorageFault::LatentSectorError,
        StorageFault::MisdirectedWrite,
        StorageFault::LostWrite,
        StorageFault::Wipe,
    ];
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StorageFault::BitRot => "bit-rot",
            StorageFault::LatentSectorError => "latent-sector-error",
            StorageFault::MisdirectedWrite => "misdirected-write",
            StorageFault::LostWrite => "lost-write",
            StorageFault::Wipe => "wipe",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionFaults {
    /// Connected time between two partitions.
    pub heal_ns_min: u64,
    pub heal_ns_max: u64,
    /// How long a partition holds. The minimum should leave room for an election inside it.
    pub hold_ns_min: u64,
    pub hold_ns_max: u64,
    pub shapes: Vec<Shape>,
    /// A node that has just become leader is cut off from all others at once with this
    /// probability (when no partition holds), for a hold time as above.
    #[serde(default)]
    pub new_leader_ppm: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashFaults {
    /// Time between two crashes (of any node).
    pub every_ns_min: u64,
    pub every_ns_max: u64,
    /// How long a crashed node stays down before it restarts from its disk.
    pub down_ns_min: u64,
    pub down_ns_max: u64,
    /// The victim is the current leader with this probability, otherwise any node: leaders
    /// crashing mid-replication is where elections and log repair get interesting.
    #[serde(default)]
    pub leader_ppm: u32,
    /// A node that has just become leader is crashed with this probability, within
    /// `new_leader_delay_ns_max` of its election, the way the lab's Figure 8 tests crash leaders
    /// right after giving them work.
    #[serde(default)]
    pub new_leader_ppm: u32,
    #[serde(default)]
    pub new_leader_delay_ns_max: u64,
    /// A server that starts writing a snapshot (its own, or one it installs) is crashed before
    /// the write is durable with this probability: the old snapshot must remain, and a torn new
    /// one must be refused.
    #[serde(default)]
    pub snapshot_write_ppm: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseFaults {
    pub every_ns_min: u64,
    pub every_ns_max: u64,
    pub pause_ns_min: u64,
    pub pause_ns_max: u64,
    /// The victim is the current leader with this probability, otherwise any node.
    #[serde(default)]
    pub leader_ppm: u32,
}

/// The shapes of partition the simulator knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Two random halves (sizes n/2 and n - n/2): a majority and a minority when n is odd.
    Halves,
    /// One random node cut off from all others.
    IsolateNode,
    /// The current leader cut off from all others.
    IsolateLeader,
    /// The current leader and enough others to stay a minority, cut off from the majority.
    LeaderMinority,
    /// Two halves joined by one node that sees both sides.
    Bridge,
    /// Each node hears only its two ring neighbours.
    Ring,
    /// One random node can send but not receive (or receive but not send).
    OneWay,
}

impl Shape {
    pub const ALL: [Shape; 7] = [
        Shape::Halves,
        Shape::IsolateNode,
        Shape::IsolateLeader,
        Shape::LeaderMinority,
        Shape::Bridge,
        Shape::Ring,
        Shape::OneWay,
    ];
    #[must_use]
    pub fn name(self) -> &'static str {
        let kind = self.coverage_kind();
        kind.strip_prefix("partition: ").unwrap_or(kind)
    }

    /// The sweep's coverage kind for the shape: `partition: ` and its name (spelled out whole,
    /// so that a sweep's results can name it without building a string per run).
    #[must_use]
    pub fn coverage_kind(self) -> &'static str {
        match self {
            Shape::Halves => "partition: halves",
            Shape::IsolateNode => "partition: isolate-node",
            Shape::IsolateLeader => "partition: isolate-leader",
            Shape::LeaderMinority => "partition: leader-minority",
            Shape::Bridge => "partition: bridge",
            Shape::Ring => "partition: ring",
            Shape::OneWay => "partition: one-way",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    pub clients: usize,
    /// Operations issued in all, spread over the fault phase.
    pub ops: u64,
    pub keys: usize,
    /// Share of Gets and Puts; the rest are Appends.
    pub get_ppm: u32,
    pub put_ppm: u32,
    /// A client waits this long between its operations, and paces itself so that its share of
    /// `ops` spreads over the fault phase.
    pub think_ns_min: u64,
    pub think_ns_max: u64,
    /// A client that hears nothing for this long tries the next server.
    pub request_timeout_ns: u64,
    /// A client gives up an operation after this long; its outcome is then unknown.
    pub op_timeout_ns: u64,
    /// Written values are padded with `-` to this many bytes (0: no padding), for tests that
    /// count the bytes a command costs on the wire, such as the lab's RPC-bytes test.
    #[serde(default)]
    pub value_bytes: usize,
    /// Each client starts its k-th operation no earlier than k times this; by default the
    /// fault phase divided by the client's share of `ops`, so that operations spread over it.
    #[serde(default)]
    pub pace_ns: Option<u64>,
}

impl SimConfig {
    /// A calm configuration: 5 nodes on a reliable network, no faults, the lab's timing with a
    /// 10 ms tick (heartbeats every 100 ms, elections after 300-600 ms of silence).
    #[must_use]
    pub fn calm(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            cluster: ClusterConfig {
                nodes: 5,
                tick_ns: 10 * NS_PER_MS,
                heartbeat_ticks: 10,
                election_ticks_min: 30,
                election_ticks_max: 60,
                append_entries_max: 64,
                check_quorum: true,
                pre_vote: true,
                drift_ppm_max: 0,
                read_path: ReadPathName::Log,
                choices: LeaderChoices::default(),
            },
            network: NetworkConfig {
                delay_ns_min: 200_000,
                delay_ns_max: 2 * NS_PER_MS,
                drop_ppm: 0,
                duplicate_ppm: 0,
                long_delay_ppm: 0,
                long_delay_ns_min: 50 * NS_PER_MS,
                long_delay_ns_max: 500 * NS_PER_MS,
                long_delay_replies_only: false,
            },
            disk: DiskConfig { fsync_ns_min: 200_000, fsync_ns_max: 2 * NS_PER_MS, torn_write_ppm: 0 },
            faults: FaultConfig::default(),
            workload: WorkloadConfig {
                clients: 5,
                ops: 1000,
                keys: 5,
                get_ppm: 400_000,
                put_ppm: 200_000,
                think_ns_min: 0,
                think_ns_max: 10 * NS_PER_MS,
                request_timeout_ns: 200 * NS_PER_MS,
                op_timeout_ns: 4 * NS_PER_SEC,
                value_bytes: 0,
                pace_ns: None,
            },
            snapshot: SnapshotConfig::default(),
            duration_ns: 10 * NS_PER_SEC,
            liveness_ns: 10 * NS_PER_SEC,
            liveness_core: false,
            bugs: Vec::new(),
            max_events: None,
            branch: crate::branch::BranchPath::root(),
            implementation: Implementation::RaftCore,
        }
    }

    /// The configuration without membership operations and with reads through the log: the
    /// swarm as it was before those paths existed. For tests of other paths whose figures
    /// (budgets, witness rates, exported schedules) the new paths would change; exported
    /// scenarios do not record membership operations yet.
    #[must_use]
    pub fn classic(mut self) -> SimConfig {
        self.faults.membership = None;
        self.cluster.read_path = ReadPathName::Log;
        self
    }

    /// Switches on what a planted bug needs to be reachable at all: the read path it lives on
    /// (and, for the lease, clocks drifting at the bound). Everything else stays as drawn. The
    /// self-test hunts each bug on swarm configurations fitted so.
    pub fn fit_for(&mut self, bug: raft_host::Bug) {
        use raft_host::Bug;
        let election_ns = u64::from(self.cluster.election_ticks_max) * self.cluster.tick_ns;
        match bug {
            Bug::ReadBeforeConfirm => self.cluster.read_path = ReadPathName::ReadIndex,
            Bug::LeaseIgnoresDrift => {
                // The bug's window is the drift's share of an election timeout: followers that
                // time out near the minimum, a leader cut off often, no check-quorum step-down
                // to end its term first.
                self.cluster.read_path = ReadPathName::Lease;
                self.cluster.drift_ppm_max = raft_host::contract::CLOCK_DRIFT_PPM_MAX;
                // A long election timeout makes the window (the drift's share of it) long in
                // real time, against clients that retry within a few heartbeats.
                self.cluster.election_ticks_min = self.cluster.heartbeat_ticks * 10;
                self.cluster.election_ticks_max = self.cluster.election_ticks_min + 1;
                self.cluster.check_quorum = false;
                self.workload.clients = self.workload.clients.max(10);
                let election_ns = u64::from(self.cluster.election_ticks_max) * self.cluster.tick_ns;
                self.faults.membership = None;
                self.faults.partition = Some(PartitionFaults {
                    heal_ns_min: election_ns / 2,
                    heal_ns_max: election_ns,
                    hold_ns_min: election_ns * 2,
                    hold_ns_max: election_ns * 3,
                    shapes: vec![Shape::IsolateLeader],
                    new_leader_ppm: 0,
                });
            }
            Bug::ChangeBeforeOwnTermCommit | Bug::LearnerVotes => {
                let m = self.faults.membership.get_or_insert(MembershipFaults {
                    every_ns_min: election_ns,
                    every_ns_max: election_ns * 4,
                    transfer_ppm: 0,
                    wipe_ppm: 0,
                    new_leader_ppm: 0,
                });
                m.new_leader_ppm = 1_000_000;
            }
            _ => {}
        }
    }

    /// Runs every server on `implementation`, leaving out of a drawn configuration the faults
    /// it does not claim to survive (see [`Implementation::recovers_damaged_storage`]) and the
    /// paths it does not offer (membership changes, reads off the log), so that the report
    /// does not claim them.
    pub fn set_implementation(&mut self, implementation: Implementation) {
        use raft_host::Feature;
        self.implementation = implementation;
        if !implementation.recovers_damaged_storage() {
            self.faults.storage = None;
        }
        if !implementation.has_feature(Feature::Membership) {
            self.faults.membership = None;
        }
        let path_offered = match self.cluster.read_path {
            ReadPathName::Log => true,
            ReadPathName::ReadIndex => implementation.has_feature(Feature::ReadIndex),
            ReadPathName::Lease => implementation.has_feature(Feature::LeaseRead),
        };
        if !path_offered {
            self.cluster.read_path = ReadPathName::Log;
        }
    }

    /// Swarm testing: the seed picks which fault families are on and how hard they hit, from a
    /// calm run to a storm, so that a sweep covers both (Groce et al., "Swarm Testing", 2012).
    /// Every draw comes from the seed's own "swarm" stream.
    #[must_use]
    pub fn swarm(seed: u64) -> SimConfig {
        let mut c = SimConfig::calm(seed);
        let mut r = rng::stream(seed, "swarm");

        // Timing: faster clusters have more elections per simulated second.
        let heartbeat_ticks = r.gen_range(3..=10u32);
        c.cluster.heartbeat_ticks = heartbeat_ticks;
        c.cluster.election_ticks_min = heartbeat_ticks * r.gen_range(3..=5u32);
        c.cluster.election_ticks_max = c.cluster.election_ticks_min * 2;
        c.cluster.append_entries_max = *[1usize, 3, 16, 64].choose(&mut r).unwrap_or(&64);
        c.cluster.check_quorum = chance(&mut r, 800_000);
        c.cluster.pre_vote = chance(&mut r, 750_000);
        if chance(&mut r, 500_000) {
            c.cluster.drift_ppm_max = *[1_000u32, 10_000, 50_000].choose(&mut r).unwrap_or(&1_000);
        }

        // Reads: a stream of their own, so that the other draws of a seed stay as they were.
        let mut reads = rng::stream(seed, "swarm.reads");
        c.cluster.read_path = *[ReadPathName::Log, ReadPathName::ReadIndex, ReadPathName::Lease]
            .choose(&mut reads)
            .unwrap_or(&ReadPathName::Log);

        let election_ns = u64::from(c.cluster.election_ticks_max) * c.cluster.tick_ns;
        // Membership changes and transfers: a stream of their own too.
        let mut members = rng::stream(seed, "swarm.membership");
        if chance(&mut members, 500_000) {
            let every = election_ns * members.gen_range(2..=8u64);
            c.faults.membership = Some(MembershipFaults {
                every_ns_min: every / 2,
                every_ns_max: every * 2,
                transfer_ppm: *[0u32, 200_000, 500_000].choose(&mut members).unwrap_or(&0),
                wipe_ppm: *[0u32, 300_000, 1_000_000].choose(&mut members).unwrap_or(&0),
                new_leader_ppm: *[0u32, 300_000].choose(&mut members).unwrap_or(&0),
            });
        }

        // The network: each impairment on for about half the seeds.
        c.network.delay_ns_max =
            *[NS_PER_MS, 5 * NS_PER_MS, 20 * NS_PER_MS].choose(&mut r).unwrap_or(&NS_PER_MS);
        if chance(&mut r, 500_000) {
            c.network.drop_ppm = *[10_000u32, 50_000, 100_000, 200_000].choose(&mut r).unwrap_or(&10_000);
        }
        if chance(&mut r, 400_000) {
            c.network.duplicate_ppm = *[10_000u32, 50_000].choose(&mut r).unwrap_or(&10_000);
        }
        if chance(&mut r, 400_000) {
            c.network.long_delay_ppm = *[10_000u32, 50_000, 200_000].choose(&mut r).unwrap_or(&10_000);
            c.network.long_delay_ns_max =
                *[200 * NS_PER_MS, 2 * NS_PER_SEC].choose(&mut r).unwrap_or(&NS_PER_SEC);
        }

        // The disk.
        c.disk.fsync_ns_max =
            *[NS_PER_MS, 5 * NS_PER_MS, 20 * NS_PER_MS].choose(&mut r).unwrap_or(&NS_PER_MS);
        c.disk.fsync_ns_min = c.disk.fsync_ns_max / 10;

        // Faults.
        if chance(&mut r, 500_000) {
            let mut shapes: Vec<Shape> = Shape::ALL.into_iter().filter(|_| chance(&mut r, 600_000)).collect();
            if shapes.is_empty() {
                shapes.push(*Shape::ALL.choose(&mut r).unwrap_or(&Shape::Halves));
            }
            let hold_ns_min = election_ns * 2;
            c.faults.partition = Some(PartitionFaults {
                heal_ns_min: election_ns,
                heal_ns_max: election_ns * r.gen_range(2..=6u64),
                hold_ns_min,
                hold_ns_max: hold_ns_min * r.gen_range(1..=4u64),
                shapes,
                new_leader_ppm: *[0u32, 0, 300_000].choose(&mut r).unwrap_or(&0),
            });
        }
        if chance(&mut r, 500_000) {
            let every = *[300 * NS_PER_MS, NS_PER_SEC, 3 * NS_PER_SEC].choose(&mut r).unwrap_or(&NS_PER_SEC);
            c.faults.crash = Some(CrashFaults {
                every_ns_min: every / 4,
                every_ns_max: every * 2,
                down_ns_min: 10 * NS_PER_MS,
                down_ns_max: election_ns * r.gen_range(1..=4u64),
                leader_ppm: *[0u32, 300_000, 700_000].choose(&mut r).unwrap_or(&0),
                new_leader_ppm: *[0u32, 0, 200_000, 500_000].choose(&mut r).unwrap_or(&0),
                new_leader_delay_ns_max: *[5 * NS_PER_MS, 50 * NS_PER_MS]
                    .choose(&mut r)
                    .unwrap_or(&NS_PER_MS),
                snapshot_write_ppm: 0,
            });
            if chance(&mut r, 600_000) {
                c.disk.torn_write_ppm = 500_000;
            }
        }
        if chance(&mut r, 300_000) {
            c.faults.pause = Some(PauseFaults {
                every_ns_min: 500 * NS_PER_MS,
                every_ns_max: 3 * NS_PER_SEC,
                pause_ns_min: 10 * NS_PER_MS,
                pause_ns_max: election_ns * 2,
                leader_ppm: *[0u32, 500_000].choose(&mut r).unwrap_or(&0),
            });
        }

        // The workload.
        c.workload.keys = *[1usize, 3, 5, 10].choose(&mut r).unwrap_or(&5);
        c.workload.request_timeout_ns = election_ns / 2;

        // Storage faults, from a stream of their own so that the draws above stay as they were.
        let mut r = rng::stream(seed, "swarm.storage");
        if chance(&mut r, 500_000) {
            let mut kinds: Vec<StorageFault> =
                StorageFault::ALL.into_iter().filter(|_| chance(&mut r, 600_000)).collect();
            if kinds.is_empty() {
                kinds.push(*StorageFault::ALL.choose(&mut r).unwrap_or(&StorageFault::BitRot));
            }
            c.faults.storage = Some(StorageFaults {
                damage_ppm: *[200_000u32, 500_000, 1_000_000].choose(&mut r).unwrap_or(&500_000),
                kinds,
                fsync_failure_ppm: *[0u32, 0, 1_000, 5_000].choose(&mut r).unwrap_or(&0),
                beyond_budget: false,
            });
        }

        // Snapshots, from a stream of their own so that the draws above stay as they were.
        let mut r = rng::stream(seed, "swarm.snapshot");
        if chance(&mut r, 800_000) {
            if chance(&mut r, 700_000) {
                c.snapshot.every_entries = *[3u64, 10, 30, 100].choose(&mut r).unwrap_or(&10);
            } else {
                c.snapshot.raft_state_bytes_max = *[500u64, 2_000, 8_000].choose(&mut r).unwrap_or(&2_000);
            }
            c.snapshot.chunk_bytes_max = *[16usize, 64, 256, 65_536].choose(&mut r).unwrap_or(&65_536);
            if let Some(crash) = &mut c.faults.crash {
                crash.snapshot_write_ppm = *[0u32, 100_000, 300_000].choose(&mut r).unwrap_or(&0);
            }
        }

        // The leader's legal choices, from a stream of their own: half the seeds keep the
        // defaults, the rest draw each.
        let mut r = rng::stream(seed, "swarm.choices");
        if chance(&mut r, 500_000) {
            let ch = &mut c.cluster.choices;
            ch.backoff =
                *[BackoffChoice::ConflictTerm, BackoffChoice::OneAtATime, BackoffChoice::ToMatchIndex]
                    .choose(&mut r)
                    .unwrap_or(&BackoffChoice::ConflictTerm);
            ch.pipelining_off = chance(&mut r, 300_000);
            ch.empty_heartbeats = chance(&mut r, 500_000);
            ch.rotate_followers = chance(&mut r, 500_000);
        }

        // The liveness phase, from a stream of its own too: half the seeds heal only a core.
        let mut r = rng::stream(seed, "swarm.liveness");
        c.liveness_core = c.cluster.nodes >= 3 && chance(&mut r, 500_000) && c.faults.membership.is_none();
        c
    }

    /// The planted bugs, parsed.
    pub fn bug_set(&self) -> Result<BugSet, String> {
        self.bugs.iter().map(|name| name.parse::<Bug>()).collect()
    }

    /// Checks every bound a run relies on (the ranges of [`crate::limits`]); the message names
    /// the field and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        use crate::limits::{self as l, in_range};
        let c = &self.cluster;
        in_range("cluster.nodes", c.nodes as u64, 1, l::NODES_MAX)?;
        in_range("cluster.tick_ns", c.tick_ns, l::TICK_NS_MIN, l::TICK_NS_MAX)?;
        in_range("cluster.heartbeat_ticks", u64::from(c.heartbeat_ticks), 1, l::TICKS_MAX)?;
        in_range("cluster.election_ticks_min", u64::from(c.election_ticks_min), 2, l::TICKS_MAX)?;
        in_range("cluster.election_ticks_max", u64::from(c.election_ticks_max), 3, l::TICKS_MAX)?;
        if c.election_ticks_min <= c.heartbeat_ticks {
            return Err("cluster: expected 0 < heartbeat_ticks < election_ticks_min".into());
        }
        if c.election_ticks_max <= c.election_ticks_min {
            return Err("cluster.election_ticks_max: expected more than election_ticks_min".into());
        }
        in_range("cluster.append_entries_max", c.append_entries_max as u64, 1, l::BATCH_MAX)?;
        in_range("cluster.drift_ppm_max", u64::from(c.drift_ppm_max), 0, l::DRIFT_PPM_LIMIT - 1)?;
        if c.read_path == ReadPathName::Lease {
            let bound = raft_host::contract::CLOCK_DRIFT_PPM_MAX;
            if c.drift_ppm_max > bound {
                return Err(format!(
                    "cluster.drift_ppm_max: lease reads are safe only with clocks within {bound} ppm \
                     (raft_host::contract::CLOCK_DRIFT_PPM_MAX), got {}",
                    c.drift_ppm_max
                ));
            }
            if c.election_ticks_min < 4 {
                return Err("cluster.election_ticks_min: lease reads need at least 4 ticks".into());
            }
        }
        let n = &self.network;
        delays("network.delay_ns", n.delay_ns_min, n.delay_ns_max)?;
        delays("network.long_delay_ns", n.long_delay_ns_min, n.long_delay_ns_max)?;
        for (field, ppm) in [
            ("network.drop_ppm", n.drop_ppm),
            ("network.duplicate_ppm", n.duplicate_ppm),
            ("network.long_delay_ppm", n.long_delay_ppm),
            ("disk.torn_write_ppm", self.disk.torn_write_ppm),
            ("workload.get_ppm", self.workload.get_ppm),
            ("workload.put_ppm", self.workload.put_ppm),
            ("faults.crash.leader_ppm", self.faults.crash.as_ref().map_or(0, |k| k.leader_ppm)),
            ("faults.crash.new_leader_ppm", self.faults.crash.as_ref().map_or(0, |k| k.new_leader_ppm)),
            (
                "faults.partition.new_leader_ppm",
                self.faults.partition.as_ref().map_or(0, |p| p.new_leader_ppm),
            ),
            ("faults.pause.leader_ppm", self.faults.pause.as_ref().map_or(0, |p| p.leader_ppm)),
            ("faults.membership.transfer_ppm", self.faults.membership.as_ref().map_or(0, |m| m.transfer_ppm)),
            ("faults.membership.wipe_ppm", self.faults.membership.as_ref().map_or(0, |m| m.wipe_ppm)),
            (
                "faults.membership.new_leader_ppm",
                self.faults.membership.as_ref().map_or(0, |m| m.new_leader_ppm),
            ),
            (
                "faults.crash.snapshot_write_ppm",
                self.faults.crash.as_ref().map_or(0, |k| k.snapshot_write_ppm),
            ),
            ("faults.storage.damage_ppm", self.faults.storage.as_ref().map_or(0, |k| k.damage_ppm)),
            (
                "faults.storage.fsync_failure_ppm",
                self.faults.storage.as_ref().map_or(0, |k| k.fsync_failure_ppm),
            ),
        ] {
            if u64::from(ppm) > l::PPM_MAX {
                return Err(format!("{field}: expected at most 1000000 parts per million, got {ppm}"));
            }
        }
        delays("disk.fsync_ns", self.disk.fsync_ns_min, self.disk.fsync_ns_max)?;
        if let Some(m) = &self.faults.membership {
            delays("faults.membership.every_ns", m.every_ns_min, m.every_ns_max)?;
            if m.every_ns_min == 0 {
                return Err("faults.membership.every_ns_min: expected a positive time".into());
            }
        }
        if let Some(k) = &self.faults.storage {
            if k.damage_ppm > 0 && k.kinds.is_empty() {
                return Err("faults.storage.kinds: expected at least one kind when damage_ppm > 0".into());
            }
        }
        if let Some(p) = &self.faults.partition {
            delays("faults.partition.heal_ns", p.heal_ns_min, p.heal_ns_max)?;
            delays("faults.partition.hold_ns", p.hold_ns_min, p.hold_ns_max)?;
            if p.shapes.is_empty() {
                return Err("faults.partition.shapes: expected at least one shape".into());
            }
            if p.hold_ns_min == 0 || p.heal_ns_min == 0 {
                return Err("faults.partition: hold and heal times must be positive".into());
            }
        }
        if let Some(k) = &self.faults.crash {
            delays("faults.crash.every_ns", k.every_ns_min, k.every_ns_max)?;
            delays("faults.crash.down_ns", k.down_ns_min, k.down_ns_max)?;
            in_range("faults.crash.new_leader_delay_ns_max", k.new_leader_delay_ns_max, 0, l::DELAY_NS_MAX)?;
            if k.every_ns_min == 0 {
                return Err("faults.crash.every_ns_min: expected a positive interval".into());
            }
        }
        if let Some(p) = &self.faults.pause {
            delays("faults.pause.every_ns", p.every_ns_min, p.every_ns_max)?;
            delays("faults.pause.pause_ns", p.pause_ns_min, p.pause_ns_max)?;
            if p.every_ns_min == 0 {
                return Err("faults.pause.every_ns_min: expected a positive interval".into());
            }
        }
        let w = &self.workload;
        in_range("workload.clients", w.clients as u64, 0, l::CLIENTS_MAX)?;
        in_range("workload.ops", w.ops, 0, l::OPS_MAX)?;
        in_range("workload.keys", w.keys as u64, 1, l::KEYS_MAX)?;
        in_range("workload.value_bytes", w.value_bytes as u64, 0, l::VALUE_BYTES_MAX)?;
        if w.ops.saturating_mul(w.value_bytes as u64) > l::PAYLOAD_BYTES_MAX {
            return Err(format!(
                "workload: ops x value_bytes is {} bytes, more than the {} MiB every node's log and disk could be asked to hold",
                crate::limits::grouped(w.ops.saturating_mul(w.value_bytes as u64)),
                l::PAYLOAD_BYTES_MAX >> 20
            ));
        }
        if u64::from(w.get_ppm) + u64::from(w.put_ppm) > l::PPM_MAX {
            return Err("workload: get_ppm + put_ppm must not exceed 1000000".into());
        }
        delays("workload.think_ns", w.think_ns_min, w.think_ns_max)?;
        in_range("workload.request_timeout_ns", w.request_timeout_ns, 1, l::DELAY_NS_MAX)?;
        in_range("workload.op_timeout_ns", w.op_timeout_ns, 1, l::DELAY_NS_MAX)?;
        if w.op_timeout_ns < w.request_timeout_ns {
            return Err("workload: expected 0 < request_timeout_ns <= op_timeout_ns".into());
        }
        if let Some(pace) = w.pace_ns {
            in_range("workload.pace_ns", pace, 0, l::DELAY_NS_MAX)?;
        }
        in_range("duration_ns", self.duration_ns, 0, l::SIM_NS_MAX)?;
        in_range("liveness_ns", self.liveness_ns, 1, l::SIM_NS_MAX)?;
        if let Some(max) = self.max_events {
            in_range("max_events", max, 1, l::MAX_EVENTS_MAX)?;
        }
        if self.snapshot.raft_state_bytes_max > 0 && self.snapshot.raft_state_bytes_max < 64 {
            return Err(format!(
                "snapshot.raft_state_bytes_max: expected 0 (off) or at least 64 bytes, got {}: an empty log takes {} already",
                self.snapshot.raft_state_bytes_max,
                raft_host::wal::HARD_STATE_RECORD_BYTES + raft_host::wal::ENTRIES_RECORD_BYTES
            ));
        }
        let bugs = self.bug_set().map_err(|e| format!("bugs: {e}"))?;
        if let Some(bug) = bugs.iter().find(|b| !self.implementation.supports(*b)) {
            return Err(format!(
                "bugs: {} has no planted bug {bug}: it is planted in raft-core's protocol layer (with --impl {} only the state machine's bugs apply: {})",
                self.implementation,
                self.implementation,
                Bug::ALL.iter().filter(|b| self.implementation.supports(**b)).map(|b| b.name()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    }

    /// Every option of the run on a few lines, printed before it starts so that a failure can
    /// be understood from the log alone.
    #[must_use]
    pub fn banner(&self) -> String {
        let c = &self.cluster;
        let n = &self.network;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "seed {}: {}{} nodes, tick {}, heartbeat {} ticks, election {}-{} ticks, batch {}, check-quorum {}, pre-vote {}, drift ±{}ppm",
            self.seed,
            if self.implementation == Implementation::RaftCore {
                String::new()
            } else {
                format!("{}, ", self.implementation)
            },
            c.nodes,
            ms(c.tick_ns),
            c.heartbeat_ticks,
            c.election_ticks_min,
            c.election_ticks_max,
            c.append_entries_max,
            if c.check_quorum { "on" } else { "off" },
            if c.pre_vote { "on" } else { "off" },
            c.drift_ppm_max
        );
        if c.read_path != ReadPathName::Log {
            let _ = writeln!(s, "  reads: {}", c.read_path.kv());
        }
        if !c.choices.is_default() {
            let _ = writeln!(s, "  leader: {}", c.choices.to_host().describe());
        }
        let _ = writeln!(
            s,
            "  network: delay {}-{}, drop {}, duplicate {}, long delay {} of {}-{}",
            ms(n.delay_ns_min),
            ms(n.delay_ns_max),
            pct(n.drop_ppm),
            pct(n.duplicate_ppm),
            pct(n.long_delay_ppm),
            ms(n.long_delay_ns_min),
            ms(n.long_delay_ns_max)
        );
        let _ = writeln!(
            s,
            "  disk: fsync {}-{}, torn writes {}",
            ms(self.disk.fsync_ns_min),
            ms(self.disk.fsync_ns_max),
            pct(self.disk.torn_write_ppm)
        );
        let f = &self.faults;
        let partition = f.partition.as_ref().map_or("off".to_string(), |p| {
            let shapes: Vec<&str> = p.shapes.iter().map(|s| s.name()).collect();
            format!(
                "hold {}-{} heal {}-{} [{}]",
                ms(p.hold_ns_min),
                ms(p.hold_ns_max),
                ms(p.heal_ns_min),
                ms(p.heal_ns_max),
                shapes.join(",")
            )
        });
        let crash = f.crash.as_ref().map_or("off".to_string(), |k| {
            format!(
                "every {}-{} down {}-{}",
                ms(k.every_ns_min),
                ms(k.every_ns_max),
                ms(k.down_ns_min),
                ms(k.down_ns_max)
            )
        });
        let pause = f.pause.as_ref().map_or("off".to_string(), |p| {
            format!(
                "every {}-{} for {}-{}",
                ms(p.every_ns_min),
                ms(p.every_ns_max),
                ms(p.pause_ns_min),
                ms(p.pause_ns_max)
            )
        });
        let _ = writeln!(s, "  faults: partitions {partition}; crashes {crash}; pauses {pause}");
        if let Some(k) = &f.storage {
            let kinds: Vec<&str> = k.kinds.iter().map(|k| k.name()).collect();
            let _ = writeln!(
                s,
                "  storage faults: {} of crashes damage the disk [{}], fsync failures {}, {}",
                pct(k.damage_ppm),
                kinds.join(","),
                pct(k.fsync_failure_ppm),
                if k.beyond_budget {
                    "BEYOND the recoverability budget"
                } else {
                    "within the recoverability budget"
                }
            );
        }
        let w = &self.workload;
        let _ = writeln!(
            s,
            "  workload: {} clients, {} ops on {} keys (get {}, put {}), think {}-{}, retry after {}",
            w.clients,
            w.ops,
            w.keys,
            pct(w.get_ppm),
            pct(w.put_ppm),
            ms(w.think_ns_min),
            ms(w.think_ns_max),
            ms(w.request_timeout_ns)
        );
        let sn = &self.snapshot;
        let policy = match (sn.every_entries, sn.raft_state_bytes_max) {
            (0, 0) => "off".to_string(),
            (n, 0) => format!("every {n} entries"),
            (0, b) => format!("when the Raft state passes {b} bytes"),
            (n, b) => format!("every {n} entries or past {b} bytes"),
        };
        let chunks = if sn.chunk_bytes_max == 0 {
            "default".to_string()
        } else {
            format!("{} bytes", sn.chunk_bytes_max)
        };
        let crash_on_write = self.faults.crash.as_ref().map_or(0, |k| k.snapshot_write_ppm);
        if sn.enabled() {
            let _ = writeln!(
                s,
                "  snapshots: {policy}, chunks of {chunks}, crash while writing one {}",
                pct(crash_on_write)
            );
        } else {
            let _ = writeln!(s, "  snapshots: off");
        }
        let _ =
            write!(s, "  phases: faults {}, liveness bound {}", ms(self.duration_ns), ms(self.liveness_ns));
        if self.liveness_core {
            s.push_str(" (only a core heals)");
        }
        if !self.bugs.is_empty() {
            let _ = write!(s, "\n  planted bugs: {}", self.bugs.join(", "));
        }
        s
    }
}

fn yes() -> bool {
    true
}

/// A `_min` / `_max` pair of delays: each at most [`crate::limits::DELAY_NS_MAX`], in order.
fn delays(field: &str, min: u64, max: u64) -> Result<(), String> {
    use crate::limits::{in_range, DELAY_NS_MAX};
    in_range(&format!("{field}_min"), min, 0, DELAY_NS_MAX)?;
    in_range(&format!("{field}_max"), max, 0, DELAY_NS_MAX)?;
    if min > max {
        return Err(format!("{field}_min ({min}) must not exceed {field}_max ({max})"));
    }
    Ok(())
}

/// Parses a virtual-time duration into integer nanoseconds: `250ms`, `10s`, `2m`, `1h`, `1500us`.
/// Integers only, so that no floating point reaches a run.
pub fn parse_sim_duration(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 =
        number.parse().map_err(|_| format!("expected a duration such as 10s or 500ms, found {text:?}"))?;
    let scale = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" | "" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(format!("expected a unit among ns, us, ms, s, m, h, found {unit:?}")),
    };
    value.checked_mul(scale).ok_or_else(|| format!("duration {text:?} is too long"))
}

/// `12.5ms`-style rendering of a duration in nanoseconds.
#[must_use]
pub fn ms(ns: u64) -> String {
    if ns.is_multiple_of(NS_PER_MS) {
        format!("{}ms", ns / NS_PER_MS)
    } else {
        format!("{}.{:03}ms", ns / NS_PER_MS, (ns % NS_PER_MS) / 1000)
    }
}

fn pct(ppm: u32) -> String {
    if ppm.is_multiple_of(10_000) {
        format!("{}%", ppm / 10_000)
    } else {
        format!("{}.{:02}%", ppm / 10_000, (ppm % 10_000) / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_configurations_are_valid_and_differ_between_seeds() {
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let c = SimConfig::swarm(seed);
            assert_eq!(c.validate(), Ok(()), "seed {seed}");
            assert_eq!(c, SimConfig::swarm(seed), "seed {seed} draws the same options twice");
            distinct.insert(c.banner().lines().skip(1).collect::<Vec<_>>().join("\n"));
        }
        assert!(distinct.len() > 150, "only {} distinct fault mixes in 200 seeds", distinct.len());
    }

    #[test]
    fn the_swarm_covers_calm_runs_and_storms() {
        let configs: Vec<SimConfig> = (0..200).map(SimConfig::swarm).collect();
        // Membership operations are not faults: a calm run may still change its members.
        let calm = configs
            .iter()
            .filter(|c| {
                FaultConfig { membership: None, ..c.faults.clone() } == FaultConfig::default()
                    && c.network.drop_ppm == 0
            })
            .count();
        let storm = configs
            .iter()
            .filter(|c| c.faults.partition.is_some() && c.faults.crash.is_some() && c.network.drop_ppm > 0)
            .count();
        assert!(calm > 5, "{calm} calm runs");
        assert!(storm > 5, "{storm} storms");
    }

    #[test]
    fn sim_durations_parse_to_integer_nanoseconds() {
        assert_eq!(parse_sim_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_sim_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_sim_duration("3"), Ok(3_000_000_000));
        assert!(parse_sim_duration("1.5s").is_err());
        assert!(parse_sim_duration("5 parsecs").is_err());
        assert!(parse_sim_duration("99999999999999m").is_err());
        assert_eq!(parse_sim_duration("2h"), Ok(7_200_000_000_000));
    }

    #[test]
    fn validation_names_the_field_at_fault() {
        let mut c = SimConfig::calm(1);
        c.network.drop_ppm = 2_000_000;
        assert!(c.validate().unwrap_err().contains("network.drop_ppm"));
        let mut c = SimConfig::calm(1);
        c.bugs.push("nonsense".into());
        assert!(c.validate().unwrap_err().contains("bugs"));
    }
}
