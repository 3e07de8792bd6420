//! The simulated world: servers with their disks and clocks, the network, the clients, and the
//! faults that hit them. Everything happens on one thread in virtual time.

use std::collections::BTreeMap;

use raft_host::{Bug, BugSet, MessageKind, NodeId, Raft, Role, Setup, Term};
use raft_kv::{KvResult, KvServer, ServerError, ServerReady};
use rand::Rng;

use crate::budget::{Budget, Overrun};
use crate::checks::{Invariants, Violation};
use crate::client::{Outgoing, Workload};
use crate::config::{NetworkConfig, SimConfig};
use crate::disk::Disk;
use crate::network::{Addr, DropReason, MsgIds, Network, Packet, Payload, Sent};
use crate::queue::{Event, EventQueue, Family};
use crate::rng::{self, between, Stream};
use crate::trace::Trace;

mod describe;
mod faults;
mod members;
pub use members::ScriptedOp;
mod observe;
mod storage;

/// A server process: the KV service above the Raft implementation `R`.
pub enum Process<R: Raft> {
    Up(Box<KvServer<R>>),
    /// Stalled: its clock stops and what reaches it waits in its inbox.
    Paused(Box<KvServer<R>>),
    Down,
}

/// What waits for a paused server.
#[derive(Clone)]
enum Held<M> {
    Packet(Packet<M>),
    Persisted(u64),
}

/// One server slot: a process, its disk, and its clock.
pub struct NodeSlot<R: Raft> {
    pub process: Process<R>,
    pub disk: Disk,
    disk_rng: Stream,
    /// Seeds for each incarnation's election timer.
    seed_rng: Stream,
    /// Bumped on crash, pause, resume and restart: ticks and wake-ups armed before go stale.
    epoch: u32,
    pub incarnation: u32,
    /// This node's tick length, nominal length adjusted by its clock drift.
    pub tick_ns: u64,
    pub drift_ppm: i64,
    inbox: Vec<Held<R::Message>>,
    /// When the node was last paused.
    paused_at: u64,
}

impl<R: Raft> Process<R> {
    /// An exact copy, the server's through [`KvServer::try_clone`]; `None` if it cannot copy
    /// itself.
    fn try_clone(&self) -> Option<Process<R>> {
        Some(match self {
            Process::Up(s) => Process::Up(Box::new(s.try_clone()?)),
            Process::Paused(s) => Process::Paused(Box::new(s.try_clone()?)),
            Process::Down => Process::Down,
        })
    }
}

impl<R: Raft> NodeSlot<R> {
    /// An exact copy of the slot; `None` if its server cannot copy itself.
    fn try_clone(&self) -> Option<NodeSlot<R>> {
        Some(NodeSlot {
            process: self.process.try_clone()?,
            disk: self.disk.clone(),
            disk_rng: self.disk_rng.clone(),
            seed_rng: self.seed_rng.clone(),
            epoch: self.epoch,
            incarnation: self.incarnation,
            tick_ns: self.tick_ns,
            drift_ppm: self.drift_ppm,
            inbox: self.inbox.clone(),
            paused_at: self.paused_at,
        })
    }

    #[must_use]
    pub fn server(&self) -> Option<&KvServer<R>> {
        match &self.process {
            Process::Up(s) | Process::Paused(s) => Some(s),
            Process::Down => None,
        }
    }

    #[must_use]
    pub fn is_up(&self) -> bool {
        matches!(self.process, Process::Up(_))
    }
}

/// What faults did during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultStats {
    pub crashes: u64,
    pub restarts: u64,
    pub pauses: u64,
    pub torn_writes: u64,
    pub torn_tails_recovered: u64,
    /// Crashes that caught a snapshot write in flight (lost, or torn into a damaged file).
    pub snapshot_write_crashes: u64,
    pub torn_snapshot_files: u64,
    /// Damaged snapshot files a restart found and refused to use.
    pub torn_snapshots_discarded: u64,
    pub partitions: BTreeMap<String, u64>,
    pub heals: u64,
    pub drift_changes: u64,
}

/// What membership changes, leadership transfers and reads without the log did during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MembershipStats {
    /// Changes the leader accepted (its configuration entry appended), by kind.
    pub learners_added: u64,
    pub learners_promoted: u64,
    pub servers_removed: u64,
    /// Removals of the leader itself.
    pub leaders_removed: u64,
    /// Changes the leader refused (one at a time, own term not committed, learner behind...).
    pub changes_refused: u64,
    /// Servers re-added with a wiped disk after their removal committed.
    pub wiped_and_readded: u64,
    pub transfers_started: u64,
    /// Transfers whose target led within the transfer's term + 1; the rest were abandoned or
    /// overtaken.
    pub transfers_completed: u64,
    /// Reads answered without the log (ReadIndex or lease, per `cluster.read_path`).
    pub reads_off_log: u64,
}

/// What snapshots did during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotStats {
    /// Snapshots servers took of their own state by the policy.
    pub taken: u64,
    /// Snapshots installed from a leader and handed to a server's store.
    pub installed: u64,
    /// InstallSnapshot offers refused because the server had committed what they cover.
    pub refused_stale: u64,
    /// Restarts whose disk held a snapshot to start from.
    pub restarts_from_snapshot: u64,
    /// InstallSnapshot chunks sent, and of those, lost or duplicated by the network.
    pub chunks_sent: u64,
    pub chunks_lost: u64,
    pub chunks_duplicated: u64,
}

/// A fault as it happened, for exporting a run as a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Realized {
    Crash(u8),
    Restart(u8),
    Pause(u8),
    Resume(u8),
    /// The whole set of cut links, replacing the previous one.
    Cuts {
        links: Vec<(usize, usize)>,
        label: String,
        counted: bool,
    },
    Heal,
    Network(NetworkConfig),
    Drift(u8, i64),
    Submit(u64),
    /// A membership operation tried at the leader of the moment (refused or not), on `node`;
    /// `wipe` with `Add`: the disk was wiped once the leader accepted it (the crash and restart
    /// that wipe makes are part of the operation, not faults of their own).
    Membership {
        op: ScriptedOp,
        node: u8,
        wipe: bool,
    },
}

/// A fault with the time it happened; `late` when it reacted to another event of that time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealizedAt {
    pub at: u64,
    pub late: bool,
    pub fault: Realized,
}

/// The state of the random fault schedule.
#[derive(Clone)]
struct Nemesis {
    partition: Stream,
    crash: Stream,
    pause: Stream,
    /// Crashes in the middle of snapshot writes.
    snapshot: Stream,
    /// Membership changes and leadership transfers.
    membership: Stream,
    /// The core of the harder liveness phase and the fates of the rest: a stream of its own,
    /// so that a scenario replaying the fault phase's faults draws the same split.
    liveness: Stream,
    /// Storage faults: damage to disks, failed fsyncs.
    storage: Stream,
    partitioned: bool,
    partition_token: u32,
}

/// The first broken invariant, where it broke.
#[derive(Clone, Debug)]
pub struct Failure {
    pub violation: Violation,
    pub event: u64,
    pub time_ns: u64,
}

/// The world of one run, with the Raft implementation `R` in every server.
pub struct World<R: Raft> {
    pub config: SimConfig,
    pub now: u64,
    pub queue: EventQueue,
    pub network: Network<R>,
    pub nodes: Vec<NodeSlot<R>>,
    pub workload: Workload,
    pub checks: Invariants,
    pub trace: Trace,
    pub faults: FaultStats,
    pub snapshots: SnapshotStats,
    /// Whether the random fault schedule is running (only in the fault phase).
    pub faults_on: bool,
    pub failure: Option<Failure>,
    /// Elections started before the liveness phase began (none before it begins).
    pub elections_before_liveness: Option<u64>,
    /// When the fault phase ended (once it has), and the clients' pace at the start of the run.
    pub fault_phase_end: Option<u64>,
    /// In the harder liveness phase, the core that must make progress and the fate of the rest.
    pub liveness_core: Option<LivenessCore>,
    pub initial_pace_ns: u64,
    /// Every fault of the fault phase with its time, when asked to record them.
    pub realized: Option<Vec<RealizedAt>>,
    /// Whether the event being handled is not itself a fault, so that a fault happening now
    /// reacts to it (a fresh leader isolated during the delivery that elected it).
    reacting: bool,
    /// The fewest voters any configuration a removal made in this run has (see
    /// [`World::fewest_voters`]).
    pub(crate) voters_floor: usize,
    bugs: BugSet,
    nemesis: Nemesis,
    /// Duplicate applications counted by servers that have since crashed.
    deduplicated_before_crashes: u64,
    /// The node whose code is running, to name it if it panics.
    busy_node: Option<u8>,
    scratch: ServerReady<R::Message>,
    /// The messages of the ready being handled, as the checks see them (reused).
    views: Vec<raft_host::MessageView>,
    /// Set once the run spent its event budget: what the cluster did in the window after.
    pub overrun: Option<Overrun>,
    /// For each read answered, by (client, seq): the answering node's applied index when it
    /// answered, the first time. A read that did not go through the log saw the state there;
    /// the linearizability check's witness places it after that index.
    pub reads_served: BTreeMap<(u64, u64), u64>,
    pub membership: MembershipStats,
    /// Slots whose disk was wiped: they boot knowing no configuration (a server joining).
    pub(crate) joins_empty: Vec<bool>,
    /// A transfer under way: (target, the leader's term when it started).
    pub(crate) transfer_watch: Option<(u8, Term)>,
    /// Whether some node is up and leading, for the summary's availability figures.
    pub leaders: crate::availability::LeaderWatch,
    /// The behaviours of the coverage catalogue this run reached, and when.
    pub reached: crate::coverage::Reached,
    /// Each node's view after its last event (None while down), to see what an event changed.
    last_views: Vec<Option<raft_host::View>>,
    /// Snapshot chunks on the wire, by sender.
    snapshot_chunks_in_flight: Vec<u32>,
    /// The event at which each node last became leader (coverage points dated to it).
    elected_at: Vec<u64>,
    /// The event at which each node last compacted its log (coverage points dated to it).
    compacted_at: Vec<u64>,
    /// The event at which each client last sent a call (coverage points dated to it).
    called_at: Vec<u64>,
    /// Granted votes on the wire, by (voter, candidate, term).
    vote_replies_in_flight: BTreeMap<(u8, u8, u64), u32>,
    /// The recoverability budget of the storage faults, and what they destroyed.
    pub atlas: crate::disk::atlas::Atlas,
    /// What storage faults and recoveries did (the world's part; see `storage_stats`).
    pub storage: crate::disk::atlas::StorageStats,
    /// Nodes whose pending restart follows a failed fsync: like the failure itself it is drawn
    /// again when an exported run replays, so it is not recorded as a fault.
    restart_after_fsync_failure: Vec<bool>,
}

impl<R: Raft> World<R> {
    /// Builds the world of a validated configuration; nothing has happened yet.
    ///
    /// # Panics
    /// If the configuration is invalid: callers validate it first.
    #[must_use]
    pub fn new(config: SimConfig, trace: Trace) -> World<R> {
        let bugs = config.bug_set().unwrap_or_else(|e| panic!("unvalidated configuration: {e}"));
        let seed = config.seed;
        let mut drift = rng::stream(seed, "drift");
        let nodes = (0..config.cluster.nodes)
            .map(|n| {
                let max = i64::from(config.cluster.drift_ppm_max);
                let drift_ppm = if max == 0 { 0 } else { drift.gen_range(-max..=max) };
                NodeSlot {
                    process: Process::Down,
                    disk: Disk::default(),
                    disk_rng: rng::stream(seed, &format!("disk.{n}")),
                    seed_rng: rng::stream(seed, &format!("node.{n}")),
                    epoch: 0,
                    incarnation: 0,
                    tick_ns: drifted(config.cluster.tick_ns, drift_ppm),
                    drift_ppm,
                    inbox: Vec::new(),
                    paused_at: 0,
                }
            })
            .collect();
        World {
            now: 0,
            queue: EventQueue::new(),
            network: Network::new(config.network.clone(), rng::stream(seed, "network")),
            nodes,
            workload: Workload::new(
                config.workload.clone(),
                config.cluster.nodes,
                config.duration_ns,
                rng::stream(seed, "workload"),
            ),
            checks: Invariants::new(config.cluster.nodes, !bugs.has(Bug::NoDeduplication)),
            trace,
            faults: FaultStats::default(),
            snapshots: SnapshotStats::default(),
            faults_on: false,
            failure: None,
            elections_before_liveness: None,
            fault_phase_end: None,
            liveness_core: None,
            initial_pace_ns: 0,
            realized: None,
            reacting: false,
            voters_floor: config.cluster.nodes,
            bugs,
            nemesis: Nemesis {
                partition: rng::stream(seed, "nemesis.partition"),
                crash: rng::stream(seed, "nemesis.crash"),
                pause: rng::stream(seed, "nemesis.pause"),
                snapshot: rng::stream(seed, "nemesis.snapshot"),
                membership: rng::stream(seed, "nemesis.membership"),
                liveness: rng::stream(seed, "nemesis.liveness"),
                storage: rng::stream(seed, "nemesis.storage"),
                partitioned: false,
                partition_token: 0,
            },
            scratch: ServerReady::default(),
            views: Vec::new(),
            deduplicated_before_crashes: 0,
            busy_node: None,
            overrun: None,
            reads_served: BTreeMap::new(),
            membership: MembershipStats::default(),
            joins_empty: vec![false; config.cluster.nodes],
            transfer_watch: None,
            leaders: crate::availability::LeaderWatch::new(),
            reached: crate::coverage::Reached::new(),
            last_views: vec![None; config.cluster.nodes],
            snapshot_chunks_in_flight: vec![0; config.cluster.nodes],
            elected_at: vec![0; config.cluster.nodes],
            compacted_at: vec![0; config.cluster.nodes],
            called_at: vec![0; config.workload.clients],
            vote_replies_in_flight: BTreeMap::new(),
            atlas: crate::disk::atlas::Atlas::new(
                config.cluster.nodes,
                if config.faults.storage.as_ref().is_some_and(|k| k.beyond_budget) {
                    crate::disk::atlas::Mode::BeyondBudget
                } else {
                    crate::disk::atlas::Mode::WithinBudget
                },
            ),
            storage: crate::disk::atlas::StorageStats::default(),
            restart_after_fsync_failure: vec![false; config.cluster.nodes],
            config,
        }
    }

    /// An exact, independent copy of the world at this moment: continued the same way, the copy
    /// and the original handle the same events and end with the same trace hash and verdict.
    /// Every field is copied (random streams at their position, the trace with its rolling hash
    /// and lines, the checks, the coverage reached), the servers through [`Raft::duplicate`].
    /// `None` if some server's implementation cannot copy itself: replay the run instead.
    #[must_use]
    pub fn try_clone(&self) -> Option<World<R>> {
        let nodes = self.nodes.iter().map(NodeSlot::try_clone).collect::<Option<Vec<_>>>()?;
        Some(World {
            config: self.config.clone(),
            now: self.now,
            queue: self.queue.clone(),
            network: self.network.clone(),
            nodes,
            workload: self.workload.clone(),
            checks: self.checks.clone(),
            trace: self.trace.clone(),
            faults: self.faults.clone(),
            snapshots: self.snapshots.clone(),
            faults_on: self.faults_on,
            failure: self.failure.clone(),
            elections_before_liveness: self.elections_before_liveness,
            fault_phase_end: self.fault_phase_end,
            liveness_core: self.liveness_core.clone(),
            initial_pace_ns: self.initial_pace_ns,
            realized: self.realized.clone(),
            reacting: self.reacting,
            voters_floor: self.voters_floor,
            bugs: self.bugs,
            nemesis: self.nemesis.clone(),
            deduplicated_before_crashes: self.deduplicated_before_crashes,
            busy_node: self.busy_node,
            scratch: self.scratch.clone(),
            views: self.views.clone(),
            overrun: self.overrun.clone(),
            reads_served: self.reads_served.clone(),
            membership: self.membership.clone(),
            joins_empty: self.joins_empty.clone(),
            transfer_watch: self.transfer_watch,
            leaders: self.leaders.clone(),
            reached: self.reached.clone(),
            last_views: self.last_views.clone(),
            snapshot_chunks_in_flight: self.snapshot_chunks_in_flight.clone(),
            elected_at: self.elected_at.clone(),
            compacted_at: self.compacted_at.clone(),
            called_at: self.called_at.clone(),
            vote_replies_in_flight: self.vote_replies_in_flight.clone(),
            atlas: self.atlas.clone(),
            storage: self.storage.clone(),
            restart_after_fsync_failure: self.restart_after_fsync_failure.clone(),
        })
    }

    /// Boots every server on an empty disk, starts the clients and, if asked, the random faults.
    pub fn start(&mut self, random_faults: bool) {
        for n in 0..self.nodes.len() {
            self.boot(n as u8);
        }
        if self.nodes.iter().any(|slot| slot.drift_ppm != 0) {
            self.sometimes(crate::coverage::Point::FaultDrift);
        }
        self.initial_pace_ns = self.workload.pace_ns();
        self.workload.start(self.now, &mut self.queue);
        if random_faults {
            self.faults_on = true;
            let f = self.config.faults.clone();
            if let Some(p) = &f.partition {
                let at = between(&mut self.nemesis.partition, p.heal_ns_min, p.heal_ns_max);
                self.queue.push(at, Event::Nemesis { family: Family::Partition, token: 0 });
            }
            if let Some(k) = &f.crash {
                let at = between(&mut self.nemesis.crash, k.every_ns_min, k.every_ns_max);
                self.queue.push(at, Event::Nemesis { family: Family::Crash, token: 0 });
            }
            if let Some(p) = &f.pause {
                let at = between(&mut self.nemesis.pause, p.every_ns_min, p.every_ns_max);
                self.queue.push(at, Event::Nemesis { family: Family::Pause, token: 0 });
            }
            if let Some(m) = &f.membership {
                let at = between(&mut self.nemesis.membership, m.every_ns_min, m.every_ns_max);
                self.queue.push(at, Event::Nemesis { family: Family::Membership, token: 0 });
            }
        }
    }

    /// Handles one event: the heart of the simulation.
    pub fn dispatch(&mut self, time: u64, event: Event) {
        debug_assert!(time >= self.now, "time went backwards");
        self.now = time;
        // A membership step with token 1 was pushed by a leader's election, at its time.
        self.reacting = matches!(
            event,
            Event::Tick { .. }
                | Event::Deliver { .. }
                | Event::FsyncDone { .. }
                | Event::ClientTimer { .. }
                | Event::Nemesis { family: crate::queue::Family::Membership, token: 1 }
        );
        self.busy_node = match event {
            Event::Tick { node, .. }
            | Event::FsyncDone { node, .. }
            | Event::Restart { node, .. }
            | Event::Crash { node, .. }
            | Event::Resume { node, .. } => Some(node),
            Event::Deliver { packet } => match self.network.peek(packet).map(|p| p.to) {
                Some(Addr::Node(n)) => Some(n),
                _ => None,
            },
            _ => None,
        };
        match event {
            Event::Tick { node, epoch } => self.on_tick(node, epoch),
            Event::Deliver { packet } => self.on_deliver(packet),
            Event::FsyncDone { node, epoch } => self.on_fsync(node, epoch),
            Event::ClientTimer { client, token } => {
                self.trace.mix(&[time, 5, u64::from(client), u64::from(token)]);
                let before = self.workload.stats.clone();
                let out = self.workload.on_timer(time, client, token, &mut self.queue);
                self.observe_clients(&before);
                self.send_request(client, out);
            }
            Event::Nemesis { family, token } => {
                let stale = family == Family::Partition && token != self.nemesis.partition_token;
                if self.faults_on && !stale {
                    self.nemesis_step(family, token);
                }
            }
            Event::Crash { node, epoch } => {
                if self.nodes[node as usize].epoch == epoch {
                    self.scheduled_crash(node);
                }
            }
            Event::Restart { node, epoch } => {
                if self.nodes[node as usize].epoch == epoch {
                    self.restart(node);
                }
            }
            Event::Resume { node, epoch } => {
                if self.nodes[node as usize].epoch == epoch {
                    self.resume(node);
                }
            }
            Event::ScheduleStep { .. } | Event::FaultPhaseEnd => {}
        }
        self.trace.end_event();
    }

    fn on_tick(&mut self, node: u8, epoch: u32) {
        let slot = &mut self.nodes[node as usize];
        if slot.epoch != epoch {
            return;
        }
        let Process::Up(server) = &mut slot.process else { return };
        server.tick();
        let next = self.now + slot.tick_ns;
        self.queue.push(next, Event::Tick { node, epoch });
        self.trace.mix(&[self.now, 1, u64::from(node)]);
        self.after_node_input(node);
    }

    fn on_deliver(&mut self, slot: u32) {
        let ids = self.network.ids(slot).unwrap_or_default();
        let packet = match self.network.arrive(slot) {
            Ok(p) => p,
            Err((p, reason)) => {
                self.note_off_the_wire(&p);
                self.trace_drop(&p, reason, ids);
                return;
            }
        };
        self.note_off_the_wire(&packet);
        match packet.to {
            Addr::Client(_) => {
                self.trace_packet(2, &packet, ids);
                self.network.count_delivered();
                if let Payload::Reply(reply) = packet.payload {
                    let client = reply.client.0 as u16;
                    let before = self.workload.stats.clone();
                    let out = self.workload.on_reply(self.now, reply, &mut self.queue);
                    self.observe_clients(&before);
                    self.send_request(client, out);
                }
            }
            Addr::Node(n) => match &mut self.nodes[n as usize].process {
                Process::Down => {
                    self.network.count_down_drop();
                    self.trace_drop(&packet, DropReason::Down, ids);
                }
                Process::Paused(_) => {
                    self.trace_packet(6, &packet, ids);
                    self.nodes[n as usize].inbox.push(Held::Packet(packet));
                }
                Process::Up(_) => {
                    self.trace_packet(2, &packet, ids);
                    self.network.count_delivered();
                    self.deliver_to_node(n, packet);
                }
            },
        }
    }

    fn deliver_to_node(&mut self, n: u8, packet: Packet<R::Message>) {
        if !matches!(self.nodes[n as usize].process, Process::Up(_)) {
            return;
        }
        match packet.payload {
            Payload::Raft(m) => {
                let view = R::inspect(&m);
                self.observe_delivery(n, &view);
                let Process::Up(server) = &mut self.nodes[n as usize].process else { return };
                // The last chunk of a snapshot the server had already committed: it must refuse.
                let offered = match view.kind {
                    MessageKind::Snapshot { last_index, done: true, .. }
                        if last_index <= server.node().view().commit =>
                    {
                        Some(last_index)
                    }
                    _ => None,
                };
                server.step(m);
                let installed = server.node().view().snapshot.map(|s| s.last_index);
                if offered.is_some_and(|index| installed != Some(index)) {
                    self.snapshots.refused_stale += 1;
                }
            }
            Payload::Request(r) => {
                if r.op.is_read() {
                    self.observe_read_request(n, r.client);
                }
                let Process::Up(server) = &mut self.nodes[n as usize].process else { return };
                let from_state = server.reads_from_state();
                server.handle_request(r);
                if server.reads_from_state() > from_state {
                    self.sometimes(crate::coverage::Point::ReadServedFromState);
                }
            }
            Payload::Reply(_) => return,
        }
        self.after_node_input(n);
    }

    fn on_fsync(&mut self, node: u8, epoch: u32) {
        let slot = &mut self.nodes[node as usize];
        if slot.disk.epoch != epoch {
            return; // the write was lost in a crash
        }
        if slot.disk.writes_in_flight() > 0 && slot.server().is_some() && self.fsync_fails() {
            self.on_fsync_failure(node);
            return;
        }
        let slot = &mut self.nodes[node as usize];
        let Some(ready) = slot.disk.complete_oldest() else { return };
        self.note_durable_fence(node);
        self.trace.mix(&[self.now, 4, u64::from(node), ready]);
        if self.trace.detailed() {
            self.trace.line(self.now, "fsync", format_args!("\"node\":{node},\"ready\":{ready}"));
        }
        self.checks.on_fsync(node, ready);
        match &mut self.nodes[node as usize].process {
            Process::Up(server) => {
                server.persisted(ready);
                self.after_node_input(node);
            }
            Process::Paused(_) => self.nodes[node as usize].inbox.push(Held::Persisted(ready)),
            Process::Down => unreachable!("a crash bumps the disk epoch"),
        }
    }

    /// After a server handled an input: carry out its outputs, take a snapshot if the policy
    /// says so (and carry out what that produced), and check the invariants.
    fn after_node_input(&mut self, n: u8) {
        if !self.flush_ready(n) {
            return;
        }
        self.watch_transfer();
        let Some(server) = self.nodes[n as usize].server() else { return };
        let observed = match self.checks.after_event(n, server) {
            Ok(observed) => observed,
            Err(v) => {
                self.fail(v);
                return;
            }
        };
        let now = server.node().view();
        let before = self.last_views[n as usize].replace(now);
        if before != Some(now) {
            self.observe_transition(n, before);
        }
        // The policy runs once the checks know what the node committed and applied, and
        // before the faults that react to this event (a fresh leader isolated or crashed).
        if self.maybe_take_snapshot(n) && !self.flush_ready(n) {
            return;
        }
        if observed.role_or_term_changed {
            self.note_state(n, true);
        } else if observed.commit_moved && self.trace.detailed() {
            self.note_state(n, false);
        }
    }

    /// Carries out a server's ready, if it has one: its writes to the disk, its messages and
    /// replies to the network, after the checks saw them. False if a check failed.
    fn flush_ready(&mut self, n: u8) -> bool {
        let slot = &mut self.nodes[n as usize];
        let Process::Up(server) = &mut slot.process else { return true };
        if !server.has_ready() {
            return true;
        }
        // A reply produced before this ready applied anything saw the state up to here.
        let applied_before = server.node().view().applied.0;
        let dedup_before = server.deduplicated();
        let mut ready = std::mem::take(&mut self.scratch);
        let off_log_before = server.reads_from_state();
        server.ready_into(&mut ready);
        // Reads without the log are answered after this ready's entries are applied.
        let applied_after = server.node().view().applied.0;
        let off_log_reads = server.reads_from_state() - off_log_before;
        self.membership.reads_off_log += off_log_reads;
        let read_point = match server.read_path() {
            raft_kv::ReadPath::ReadIndex => Some(crate::coverage::Point::ReadByIndex),
            raft_kv::ReadPath::Lease => Some(crate::coverage::Point::ReadByLease),
            raft_kv::ReadPath::Log => None,
        };
        let retried = server.deduplicated() > dedup_before;
        let kept_suffix =
            ready.raft.snapshot.as_ref().is_some_and(|s| server.node().view().last_index > s.meta.last_index);
        let raft = &ready.raft;
        if off_log_reads > 0 {
            if let Some(p) = read_point {
                self.reached.hit(p, self.trace.events());
            }
        }
        self.views.clear();
        self.views.extend(raft.messages.iter().map(R::inspect));
        let truncations = self.checks.notes.conflict_truncations;
        let checked = self.checks.on_ready(
            n,
            raft.number,
            &raft.persist,
            raft.snapshot.as_ref(),
            &raft.committed,
            &self.views,
        );
        if let Some(installed) = &raft.snapshot {
            self.snapshots.installed += 1;
            self.reached.hit(crate::coverage::Point::SnapshotInstalled, self.trace.events());
            if kept_suffix {
                self.reached.hit(crate::coverage::Point::SnapshotKeptSuffix, self.trace.events());
            }
            self.trace.mix(&[self.now, 16, u64::from(n), installed.meta.last_index.0]);
            if self.trace.detailed() {
                let index = installed.meta.last_index.0;
                self.trace.line(self.now, "snapshot", format_args!("\"node\":{n},\"installed\":{index}"));
            }
        }
        if !raft.persist.is_empty() {
            let done_at =
                slot.disk.write(self.now, raft.number, &raft.persist, &self.config.disk, &mut slot.disk_rng);
            let epoch = slot.disk.epoch;
            self.queue.push(done_at, Event::FsyncDone { node: n, epoch });
            if slot.disk.writing_snapshot() {
                self.maybe_crash_mid_snapshot_write(n, done_at);
            }
        }
        let views = std::mem::take(&mut self.views);
        for (m, view) in ready.raft.messages.drain(..).zip(&views) {
            let to = view.to.0 as u8;
            self.send(Packet { from: Addr::Node(n), to: Addr::Node(to), payload: Payload::Raft(m) });
        }
        self.views = views;
        if retried {
            self.sometimes(crate::coverage::Point::RetryDeduplicated);
        }
        if self.checks.notes.conflict_truncations > truncations {
            self.sometimes(crate::coverage::Point::ConflictTruncated);
        }
        for r in ready.replies.drain(..) {
            if matches!(r.result, Err(raft_kv::ClientError::LostLeadership { .. })) {
                self.sometimes(crate::coverage::Point::LostLeadershipAnswered);
            }
            if matches!(r.result, Ok(KvResult::Value(_))) {
                let at = if off_log_reads > 0 { applied_after } else { applied_before };
                self.reads_served.entry((r.client.0, r.seq)).or_insert(at);
            }
            let to = Addr::Client(r.client.0 as u16);
            self.send(Packet { from: Addr::Node(n), to, payload: Payload::Reply(r) });
        }
        self.scratch = ready;
        match checked {
            Ok(()) => true,
            Err(v) => {
                self.fail(v);
                false
            }
        }
    }

    /// The snapshot policy: a server snapshots its store once it applied `every_entries`
    /// entries past its last snapshot, or once its Raft state passes `raft_state_bytes_max`.
    fn maybe_take_snapshot(&mut self, n: u8) -> bool {
        let policy = &self.config.snapshot;
        if !policy.enabled() {
            return false;
        }
        let Process::Up(server) = &mut self.nodes[n as usize].process else { return false };
        let raft = server.node();
        let view = raft.view();
        let snapshot_index = view.snapshot.map_or(0, |s| s.last_index.0);
        let by_count = policy.every_entries > 0 && view.applied.0 >= snapshot_index + policy.every_entries;
        let by_size =
            policy.raft_state_bytes_max > 0 && raft.raft_state_bytes() > policy.raft_state_bytes_max;
        if !(by_count || by_size) || !server.maybe_snapshot() {
            return false;
        }
        self.snapshots.taken += 1;
        let index = server.node().view().snapshot.map_or(0, |s| s.last_index.0);
        self.sometimes(crate::coverage::Point::SnapshotTaken);
        if let Some(at) = self.compacted_at.get_mut(n as usize) {
            *at = self.trace.events();
        }
        self.trace.mix(&[self.now, 17, u64::from(n), index]);
        if self.trace.detailed() {
            self.trace.line(self.now, "snapshot", format_args!("\"node\":{n},\"taken\":{index}"));
        }
        true
    }

    /// Records a node's role, term and commit index in the trace.
    fn note_state(&mut self, n: u8, role_changed: bool) {
        let Some(server) = self.nodes[n as usize].server() else { return };
        let view = server.node().view();
        let (role, term) = (view.role, view.term);
        let (commit, last) = (view.commit.0, view.last_index.0);
        if role_changed {
            self.trace.mix(&[self.now, 12, u64::from(n), role as u64, term.0]);
            self.leaders.role(self.now, u64::from(n), role == Role::Leader);
        }
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "state",
                format_args!(
                    "\"node\":{n},\"role\":\"{role:?}\",\"term\":{},\"commit\":{commit},\"last\":{last}",
                    term.0
                ),
            );
        }
        if role_changed && role == Role::Leader {
            self.maybe_crash_new_leader(n);
            self.maybe_isolate_new_leader(n);
            self.maybe_change_at_new_leader();
        }
    }

    fn send(&mut self, packet: Packet<R::Message>) {
        let (from, to) = (packet.from, packet.to);
        if let Some(o) = &mut self.overrun {
            o.note_send(payload_kind::<R>(&packet.payload), addr(from), addr(to));
        }
        let copy = self.trace.detailed().then(|| packet.clone());
        let view = match &packet.payload {
            Payload::Raft(m) => Some(R::inspect(m)),
            _ => None,
        };
        let chunk = view.is_some_and(|v| matches!(v.kind, MessageKind::Snapshot { .. }));
        let outcome = self.network.send(self.now, packet, &mut self.queue);
        let (id, copy_id) = self.network.last_sent_ids();
        self.note_on_the_wire(view.as_ref(), outcome);
        if chunk {
            self.snapshots.chunks_sent += 1;
            match outcome {
                Sent::Dropped(DropReason::Loss) => {
                    self.snapshots.chunks_lost += 1;
                    self.sometimes(crate::coverage::Point::SnapshotChunkLost);
                }
                Sent::Scheduled { copy_at: Some(_), .. } => {
                    self.snapshots.chunks_duplicated += 1;
                    self.sometimes(crate::coverage::Point::SnapshotChunkDuplicated);
                }
                _ => {}
            }
        }
        match (outcome, copy) {
            (Sent::Dropped(reason), Some(p)) => self.trace_drop(&p, reason, MsgIds { id, copy_of: None }),
            (Sent::Dropped(reason), None) => {
                self.trace.mix(&[self.now, 3, addr_word(from), addr_word(to), reason as u64]);
            }
            (Sent::Scheduled { at, copy_at, long }, Some(p)) => {
                let copy = match (copy_at, copy_id) {
                    (Some(c), Some(copy_id)) => format!(",\"copy_at\":{c},\"copy\":{copy_id}"),
                    _ => String::new(),
                };
                self.trace.line(
                    self.now,
                    "send",
                    format_args!(
                        "\"from\":\"{}\",\"to\":\"{}\",{},\"msg\":{},\"at\":{at},\"long\":{long}{copy}",
                        addr(p.from),
                        addr(p.to),
                        msg_fields::<R>(&p.payload, MsgIds { id, copy_of: None }),
                        crate::trace::json_str(&describe_payload(&p.payload))
                    ),
                );
            }
            (Sent::Scheduled { .. }, None) => {}
        }
    }

    /// Sends the liveness probe's first request.
    pub fn send_probe(&mut self, out: Option<Outgoing>) {
        if let Some(o) = &out {
            let client = o.request.client.0 as u16;
            self.send_request(client, out);
        }
    }

    /// Commands that replicas recognised as retries and did not apply again, over the run.
    #[must_use]
    pub fn deduplicated(&self) -> u64 {
        self.deduplicated_before_crashes
            + self.nodes.iter().filter_map(NodeSlot::server).map(KvServer::deduplicated).sum::<u64>()
    }

    fn send_request(&mut self, client: u16, out: Option<Outgoing>) {
        let Some(Outgoing { to, request }) = out else { return };
        if let Some(at) = self.called_at.get_mut(usize::from(client)) {
            *at = self.trace.events();
        }
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "call",
                format_args!(
                    "\"client\":{client},\"seq\":{},\"to\":\"n{to}\",\"op\":{}",
                    request.seq,
                    crate::trace::json_str(&format!("{:?}", request.op))
                ),
            );
        }
        let packet =
            Packet { from: Addr::Client(client), to: Addr::Node(to), payload: Payload::Request(request) };
        self.send(packet);
    }

    fn trace_packet(&mut self, code: u64, p: &Packet<R::Message>, ids: MsgIds) {
        self.trace.mix(&[self.now, code, addr_word(p.from), addr_word(p.to), payload_word::<R>(&p.payload)]);
        if self.trace.detailed() {
            let kind = if code == 6 { "hold" } else { "deliver" };
            self.trace.line(
                self.now,
                kind,
                format_args!(
                    "\"from\":\"{}\",\"to\":\"{}\",{},\"msg\":{}",
                    addr(p.from),
                    addr(p.to),
                    msg_fields::<R>(&p.payload, ids),
                    crate::trace::json_str(&describe_payload(&p.payload))
                ),
            );
        }
    }

    fn trace_drop(&mut self, p: &Packet<R::Message>, reason: DropReason, ids: MsgIds) {
        self.trace.mix(&[self.now, 3, addr_word(p.from), addr_word(p.to), reason as u64]);
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "drop",
                format_args!(
                    "\"from\":\"{}\",\"to\":\"{}\",\"reason\":\"{}\",{},\"msg\":{}",
                    addr(p.from),
                    addr(p.to),
                    reason.name(),
                    msg_fields::<R>(&p.payload, ids),
                    crate::trace::json_str(&describe_payload(&p.payload))
                ),
            );
        }
    }

    /// A node panicked while handling the current event.
    pub fn record_panic(&mut self, message: &str) {
        let node = self.busy_node.unwrap_or(0);
        let who = self.busy_node.map_or_else(|| "the world".to_string(), |n| format!("n{n}"));
        self.fail(Violation {
            invariant: crate::checks::Invariant::NodePanic,
            node,
            reason: format!("{who} panicked: {message}"),
        });
    }

    fn fail(&mut self, violation: Violation) {
        if self.failure.is_none() {
            if self.trace.detailed() {
                self.trace.line(
                    self.now,
                    "violation",
                    format_args!(
                        "\"node\":{},\"invariant\":\"{}\",\"reason\":{}",
                        violation.node,
                        violation.invariant,
                        crate::trace::json_str(&violation.reason)
                    ),
                );
            }
            self.failure = Some(Failure { violation, event: self.trace.events(), time_ns: self.now });
        }
    }

    // ----- Process faults -----

    /// How node `n` is set up for this incarnation.
    fn setup(&self, n: u8, seed: u64) -> Setup {
        let c = &self.config.cluster;
        let chunk = self.config.snapshot.chunk_bytes_max;
        Setup {
            id: NodeId(u32::from(n)),
            // A wiped server joins knowing nobody: the leader's log tells it its configuration.
            members: if self.joins_empty[n as usize] {
                Vec::new()
            } else {
                (0..c.nodes as u32).map(NodeId).collect()
            },
            election_ticks_min: c.election_ticks_min,
            election_ticks_max: c.election_ticks_max,
            heartbeat_ticks: c.heartbeat_ticks,
            append_entries_max: c.append_entries_max,
            check_quorum: c.check_quorum,
            pre_vote: c.pre_vote,
            snapshot_chunk_bytes_max: if chunk > 0 { chunk } else { SNAPSHOT_CHUNK_BYTES_DEFAULT },
            bugs: self.bugs,
            read_lease: self.config.cluster.read_path == crate::config::ReadPathName::Lease,
            // Without pre-vote the sticky-leader rule is what keeps a disruptive candidate from
            // deposing a working leader (swarm seed 37011: a removed server, through a member
            // too far behind to know of the removal). It needs check-quorum: otherwise a leader
            // that lost its majority but still reaches some followers keeps them from ever
            // electing another. etcd-raft and raft-rs tie the rule to check-quorum likewise.
            sticky_leader: c.check_quorum && !c.pre_vote,
            seed,
            choices: c.choices.to_host(),
        }
    }

    /// Starts a server from whatever its disk holds. Damage the world injected (within its
    /// budget) is salvaged: the node boots fenced on what verified. Damage it did not inject
    /// means the node wrote something its own recovery cannot use: a failure.
    fn boot(&mut self, n: u8) {
        let verify = !self.bugs.has(Bug::TrustUnverifiedRecord);
        let slot = &mut self.nodes[n as usize];
        let recovery = slot.disk.recover_salvaging(verify);
        let injected = self.atlas.is_damaged(n);
        if let Some(damage) = &recovery.damage {
            if !injected {
                let reason = format!("n{n} cannot read its own log after a restart: {damage}");
                self.fail(Violation {
                    invariant: crate::checks::Invariant::DurableRegressed,
                    node: n,
                    reason,
                });
                return;
            }
        }
        self.storage.superblock_copies_bad += recovery.superblock_copies_bad as u64;
        if recovery.superblock_copies_bad > 0 && !recovery.superblock_lost {
            self.sometimes(crate::coverage::Point::SuperblockCopyOutvoted);
        }
        let damaged = recovery.damage.is_some() || recovery.superblock_lost;
        if damaged {
            self.storage.damaged_restarts += 1;
            self.storage.superblocks_lost += u64::from(recovery.superblock_lost);
            self.sometimes(crate::coverage::Point::DamagedRestart);
            let held = self.checks.durable_entries(n);
            let kept = recovery.recovery.state.last_index().0;
            self.storage.entries_dropped += held.saturating_sub(kept);
            if self.trace.detailed() {
                let what = recovery.damage.clone().unwrap_or_else(|| "the superblock is lost".into());
                self.trace.line(
                    self.now,
                    "damaged_restart",
                    format_args!("\"node\":{n},\"damage\":{:?},\"kept_through\":{kept}", what),
                );
            }
        } else if injected && recovery.recovery.state.fence == raft_host::storage::Fence::None {
            // The fault destroyed nothing the node needed (a superblock copy outvoted).
            self.atlas.repaired(n);
        }
        let slot = &mut self.nodes[n as usize];
        let seed: u64 = slot.seed_rng.gen();
        let setup = self.setup(n, seed);
        let torn = recovery.recovery.torn_bytes;
        self.faults.torn_snapshots_discarded += recovery.torn_snapshots_discarded as u64;
        let state = recovery.recovery.state;
        if state.snapshot.is_some() {
            self.snapshots.restarts_from_snapshot += 1;
            self.sometimes(crate::coverage::Point::RestartFromSnapshot);
        }
        let server = match KvServer::<R>::boot(&setup, state.clone()) {
            Ok(mut s) => {
                s.set_read_path(self.config.cluster.read_path.kv());
                s
            }
            Err(ServerError::Snapshot(e)) => {
                let reason = format!("n{n} cannot restore its store from its durable snapshot: {e}");
                self.fail(Violation {
                    invariant: crate::checks::Invariant::SnapshotMismatch,
                    node: n,
                    reason,
                });
                return;
            }
            Err(ServerError::Boot(e)) => panic!("{} refused a validated setup: {e}", R::NAME),
        };
        if let Err(v) = self.checks.on_restart(n, &state, &server, damaged) {
            self.fail(v);
        }
        let term = server.node().view().term;
        self.observe_restart(n, term);
        self.last_views[n as usize] = None;
        if torn > 0 {
            self.faults.torn_tails_recovered += 1;
            self.sometimes(crate::coverage::Point::TornTailRecovered);
        }
        let slot = &mut self.nodes[n as usize];
        slot.process = Process::Up(Box::new(server));
        slot.incarnation += 1;
        slot.epoch += 1;
        let (epoch, tick_ns) = (slot.epoch, slot.tick_ns);
        self.queue.push(self.now + tick_ns, Event::Tick { node: n, epoch });
        self.after_node_input(n);
    }

    /// A branch forks here: every random stream of the world is drawn anew from `root` (the
    /// seed mixed with the branch path so far), named as at the start. See `branch.rs`.
    pub fn reseed(&mut self, root: u64, fork: crate::branch::Fork) {
        self.trace.mix(&[self.now, 18, fork.event, u64::from(fork.fork)]);
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "fork",
                format_args!("\"event\":{},\"fork\":{}", fork.event, fork.fork),
            );
        }
        self.network.reseed(rng::stream(root, "network"));
        self.workload.reseed(rng::stream(root, "workload"));
        for (n, slot) in self.nodes.iter_mut().enumerate() {
            slot.disk_rng = rng::stream(root, &format!("disk.{n}"));
            slot.seed_rng = rng::stream(root, &format!("node.{n}"));
        }
        self.nemesis.partition = rng::stream(root, "nemesis.partition");
        self.nemesis.crash = rng::stream(root, "nemesis.crash");
        self.nemesis.pause = rng::stream(root, "nemesis.pause");
        self.nemesis.snapshot = rng::stream(root, "nemesis.snapshot");
        self.nemesis.liveness = rng::stream(root, "nemesis.liveness");
        self.nemesis.storage = rng::stream(root, "nemesis.storage");
    }

    /// The run has spent its event budget: from now on, record what the cluster is busy with.
    pub fn begin_overrun(&mut self, budget: &Budget) {
        if self.overrun.is_none() {
            let start = self.commits_and_terms();
            self.overrun = Some(Overrun::new(self.trace.events(), self.now, budget, start));
        }
    }

    /// Each node's commit index and term (None while it is down), for the budget's diagnosis.
    #[must_use]
    pub fn commits_and_terms(&self) -> Vec<Option<(u64, u64)>> {
        self.nodes
            .iter()
            .map(|slot| slot.server().map(|s| (s.node().view().commit.0, s.node().view().term.0)))
            .collect()
    }

    /// A message leaves the sender: what the catalogue tracks on the wire, and the network's
    /// faults as they hit it.
    fn note_on_the_wire(&mut self, view: Option<&raft_host::MessageView>, outcome: Sent) {
        use crate::coverage::Point;
        let copies = match outcome {
            Sent::Dropped(DropReason::Loss) => {
                self.sometimes(Point::FaultLoss);
                0
            }
            Sent::Dropped(DropReason::Overflow) => {
                self.sometimes(Point::FaultOverflow);
                0
            }
            Sent::Dropped(_) => 0,
            Sent::Scheduled { copy_at, long, .. } => {
                if copy_at.is_some() {
                    self.sometimes(Point::FaultDuplicate);
                }
                if long {
                    self.sometimes(Point::FaultLongDelay);
                }
                1 + u32::from(copy_at.is_some())
            }
        };
        let Some(v) = view else { return };
        match v.kind {
            MessageKind::Snapshot { last_index, .. } => {
                if let Some(c) = self.snapshot_chunks_in_flight.get_mut(v.from.0 as usize) {
                    *c += copies;
                }
                if copies > 0 {
                    self.observe_snapshot_sent(v.from.0 as u8, v.to.0 as u8, last_index);
                }
            }
            MessageKind::VoteReply { granted: true } if copies > 0 => {
                *self.vote_replies_in_flight.entry((v.from.0 as u8, v.to.0 as u8, v.term.0)).or_default() +=
                    copies;
            }
            _ => {}
        }
    }

    /// A message comes off the wire (delivered, or dropped on arrival).
    fn note_off_the_wire(&mut self, packet: &Packet<R::Message>) {
        let Payload::Raft(m) = &packet.payload else { return };
        let v = R::inspect(m);
        match v.kind {
            MessageKind::Snapshot { .. } => {
                if let Some(c) = self.snapshot_chunks_in_flight.get_mut(v.from.0 as usize) {
                    *c = c.saturating_sub(1);
                }
            }
            MessageKind::VoteReply { granted: true } => {
                let key = (v.from.0 as u8, v.to.0 as u8, v.term.0);
                if let Some(c) = self.vote_replies_in_flight.get_mut(&key) {
                    *c -= 1;
                    if *c == 0 {
                        self.vote_replies_in_flight.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }

    /// What the clients did in answer to an event, from their counters before it.
    fn observe_clients(&mut self, before: &crate::client::WorkloadStats) {
        use crate::coverage::Point;
        let now = &self.workload.stats;
        let (hint, unknown) = (now.hints_followed > before.hints_followed, now.unknown > before.unknown);
        if hint {
            self.sometimes(Point::ClientFollowedHint);
        }
        if unknown {
            self.sometimes(Point::OutcomeUnknown);
        }
    }

    /// Whether node `n` is outside the configuration of the current leader (removed, or not
    /// added back yet). False when there is no leader or it reports no configuration.
    #[must_use]
    pub fn outside_configuration(&self, n: u8) -> bool {
        let Some(leader) = self.current_leader() else { return false };
        let Some(server) = self.nodes[leader as usize].server() else { return false };
        server
            .node()
            .configuration()
            .is_some_and(|c| !c.voters.is_empty() && !c.contains(NodeId(u32::from(n))))
    }

    /// Whether any running server holds a configuration other than the bootstrap one (every
    /// node a voter): then which majority can elect is not fixed, and the harder liveness
    /// phase, which picks a majority of all nodes, does not apply.
    #[must_use]
    pub fn configuration_changed(&self) -> bool {
        let n = self.nodes.len();
        self.nodes.iter().filter_map(|slot| slot.server()).any(|server| {
            // An empty configuration is "none recorded" (the bootstrap one is in force).
            server.node().configuration().is_some_and(|c| {
                !c.voters.is_empty()
                    && (!c.learners.is_empty() || (0..n).any(|x| !c.voters.contains(NodeId(x as u32))))
            })
        })
    }

    /// The fewest voters of any configuration a running server holds (an empty one, "none
    /// recorded", is the bootstrap one of every node), and of any a removal made in this run
    /// (a server that holds it may be down now): what the recoverability budget counts.
    #[must_use]
    pub fn fewest_voters(&self) -> usize {
        let n = self.voters_floor.min(self.nodes.len());
        self.nodes
            .iter()
            .filter_map(|slot| slot.server())
            .filter_map(|server| server.node().configuration())
            .filter(|c| !c.voters.is_empty())
            .map(|c| c.voters.len())
            .fold(n, usize::min)
    }

    /// The live leader with the highest term, if any.
    #[must_use]
    pub fn current_leader(&self) -> Option<u8> {
        let mut best: Option<(Term, u8)> = None;
        for (n, slot) in self.nodes.iter().enumerate() {
            if let Some(server) = slot.server() {
                let view = server.node().view();
                if view.role == Role::Leader && best.is_none_or(|(t, _)| view.term > t) {
                    best = Some((view.term, n as u8));
                }
            }
        }
        best.map(|(_, n)| n)
    }
}

/// The harder liveness phase's split (see [`World::heal_core`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivenessCore {
    /// The majority healed and restarted, which must make progress on its own.
    pub core: Vec<u8>,
    /// What became of each other server, for good.
    pub outside: Vec<(u8, OutsideFate)>,
}

impl LivenessCore {
    #[must_use]
    pub fn in_core(&self, n: u8) -> bool {
        self.core.contains(&n)
    }

    /// "core n0,n2,n4; n1 down, n3 speaks only"
    #[must_use]
    pub fn describe(&self) -> String {
        let core: Vec<String> = self.core.iter().map(|n| format!("n{n}")).collect();
        let rest: Vec<String> = self.outside.iter().map(|(n, f)| format!("n{n} {}", f.name())).collect();
        format!("core {}; {}", core.join(","), rest.join(", "))
    }
}

/// The fate of a server outside the liveness core.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutsideFate {
    Down,
    Paused,
    /// Cut off both ways.
    Isolated,
    /// Hears the others but cannot reach them.
    HearsOnly,
    /// Reaches the others but cannot hear them (a deposed leader's heartbeats still arrive).
    SpeaksOnly,
}

impl OutsideFate {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            OutsideFate::Down => "down",
            OutsideFate::Paused => "paused",
            OutsideFate::Isolated => "isolated",
            OutsideFate::HearsOnly => "hears only",
            OutsideFate::SpeaksOnly => "speaks only",
        }
    }
}

/// The most snapshot bytes one message carries unless the configuration says otherwise.
const SNAPSHOT_CHUNK_BYTES_DEFAULT: usize = 64 << 10;

/// A tick length stretched or shrunk by a drift in parts per million.
fn drifted(tick_ns: u64, drift_ppm: i64) -> u64 {
    let scaled = i128::from(tick_ns) * (1_000_000 + i128::from(drift_ppm)) / 1_000_000;
    scaled.max(1) as u64
}

fn addr(a: Addr) -> String {
    match a {
        Addr::Node(n) => format!("n{n}"),
        Addr::Client(c) => format!("c{c}"),
    }
}

fn addr_word(a: Addr) -> u64 {
    match a {
        Addr::Node(n) => u64::from(n),
        Addr::Client(c) => 0x1_0000 | u64::from(c),
    }
}

/// A few identifying bits of a payload for the trace hash.
fn payload_word<R: Raft>(p: &Payload<R::Message>) -> u64 {
    match p {
        Payload::Raft(m) => {
            let view = R::inspect(m);
            view.kind.hash_word() ^ (view.term.0 << 48)
        }
        Payload::Request(r) => 7 | (r.seq << 8),
        Payload::Reply(r) => 8 | (r.seq << 8) | (u64::from(r.result.is_ok()) << 7),
    }
}

/// The kind of a payload, for counters.
fn payload_kind<R: Raft>(p: &Payload<R::Message>) -> &'static str {
    match p {
        Payload::Raft(m) => R::inspect(m).kind.name(),
        Payload::Request(_) => "request",
        Payload::Reply(_) => "reply",
    }
}

/// The id fields and the kind and term of a message, as JSON members for its trace lines:
/// `"id":7,"copy_of":6,"kind":"append","term":3` (`copy_of` for a duplicate only, `term` for
/// Raft messages only).
fn msg_fields<R: Raft>(p: &Payload<R::Message>, ids: MsgIds) -> String {
    let copy = ids.copy_of.map_or(String::new(), |c| format!(",\"copy_of\":{c}"));
    let term = match p {
        Payload::Raft(m) => format!(",\"term\":{}", R::inspect(m).term.0),
        _ => String::new(),
    };
    format!("\"id\":{}{copy},\"kind\":\"{}\"{term}", ids.id, payload_kind::<R>(p))
}

fn describe_payload<M: std::fmt::Display>(p: &Payload<M>) -> String {
    match p {
        Payload::Raft(m) => m.to_string(),
        Payload::Request(r) => format!("request c{} seq {} {:?}", r.client.0, r.seq, r.op),
        Payload::Reply(r) => format!("reply c{} seq {} {:?}", r.client.0, r.seq, r.result),
    }
}
