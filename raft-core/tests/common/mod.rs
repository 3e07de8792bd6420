//! A small deterministic world for driving raft-core through its public API only.
//!
//! - [`Cluster`]: N hosts (bare [`RaftNode`]s or [`KvServer`]s) wired to an in-memory network that
//!   delivers nothing on its own. The test decides what is delivered ([`Cluster::deliver_all`],
//!   [`Cluster::deliver_where`]), dropped or held back ([`Cluster::take_where`]) and replayed later
//!   ([`Cluster::inject`]), and which links are cut ([`Cluster::isolate`], [`Cluster::partition`]).
//! - [`Disk`]: one per node. It applies the node's [`PersistOp`]s to a [`DurableState`] and
//!   acknowledges `persisted(n)` at once, or only when the test calls [`Cluster::sync`]. A crash
//!   loses what was not synced; a restart rebuilds the node from the durable state.
//! - A transcript: one line per delivered or dropped message (`Message`'s `Display`) and per
//!   role change, crash and restart, so that a failing story prints what happened.
//! - Membership: a server joins the world with an empty configuration ([`Cluster::join`]) and
//!   the leader adds it ([`Cluster::change`]); reads without the log hand out read states, kept
//!   per peer ([`Peer::read_states`]).
//! - Snapshots: a test compacts a node's log now ([`Cluster::compact`]) or lets the cluster do it
//!   every N applied entries ([`Builder::snapshot_every`]); a bare node's snapshot is a short
//!   text naming its index, a KV server's is its store.
//! - Online checks after every step: one leader per term, committed entries handed out once and
//!   in index order, snapshots handed out only when they move a node forward, and no two nodes
//!   committing different entries at one index. Planted-bug stories tolerate and inspect the
//!   violations instead of panicking on them.
//! - Bare-node helpers (`vote_request`, `append`, `drain`, ...; in `bare.rs`) for tests that
//!   play the other servers by hand with crafted messages.
//!
//! Everything is deterministic: node seeds derive from the cluster seed, queues are FIFO, maps
//! are `BTreeMap`s.
#![allow(dead_code)] // each test crate uses a different part of the harness

mod bare;
pub mod stories;

pub use bare::*;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use raft_core::{
    Bug, BugSet, ChangeError, Config, DurableState, Entry, LogIndex, MembershipChange, Message, NodeId,
    PersistOp, RaftNode, ReadState, Ready, Role, Snapshot, SnapshotMeta, Term,
};
use raft_kv::{ClientId, ClientReply, ClientRequest, KvOp};

/// The KV service on raft-core.
pub type KvServer = raft_kv::KvServer<RaftNode>;

/// The host contract's setup of a node configured as `config`.
pub fn setup_of(config: &Config, seed: u64) -> raft_host::Setup {
    raft_host::Setup {
        id: config.id,
        members: config.members.clone(),
        election_ticks_min: config.election_ticks_min,
        election_ticks_max: config.election_ticks_max,
        heartbeat_ticks: config.heartbeat_ticks,
        append_entries_max: config.append_entries_max,
        check_quorum: config.check_quorum,
        pre_vote: config.pre_vote,
        snapshot_chunk_bytes_max: config.snapshot_chunk_bytes_max,
        bugs: config.bugs,
        read_lease: config.read_lease,
        sticky_leader: config.sticky_leader,
        seed,
        choices: config.choices,
    }
}

/// The seed of every story unless it says otherwise.
pub const SEED: u64 = 7;

/// The most messages one `deliver_all` moves before it declares a livelock.
const DELIVERIES_MAX: usize = 100_000;

// ----- Hosts -----

/// What the cluster needs from a node: a bare `RaftNode` or a `KvServer` around one.
pub trait Host: Sized {
    fn boot(config: Config, seed: u64, state: DurableState) -> Self;
    fn raft(&self) -> &RaftNode;
    fn tick(&mut self);
    fn step(&mut self, m: Message);
    fn persisted(&mut self, number: u64);
    fn has_ready(&self) -> bool;
    fn take_ready(&mut self) -> (Ready, Vec<ClientReply>);
    /// Hands the node a snapshot of everything applied; whether it took it.
    fn compact(&mut self) -> bool;
}

/// The snapshot data of a bare node: it has no state machine, so a text naming the index.
pub fn bare_snapshot_data(index: LogIndex) -> Arc<[u8]> {
    format!("state through {index}").into_bytes().into()
}

impl Host for RaftNode {
    fn boot(config: Config, seed: u64, state: DurableState) -> RaftNode {
        let mut node = RaftNode::new(config, seed).expect("valid config");
        node.restore(state);
        node
    }
    fn raft(&self) -> &RaftNode {
        self
    }
    fn tick(&mut self) {
        RaftNode::tick(self);
    }
    fn step(&mut self, m: Message) {
        RaftNode::step(self, m);
    }
    fn persisted(&mut self, number: u64) {
        RaftNode::persisted(self, number);
    }
    fn has_ready(&self) -> bool {
        RaftNode::has_ready(self)
    }
    fn take_ready(&mut self) -> (Ready, Vec<ClientReply>) {
        (self.ready(), Vec::new())
    }
    fn compact(&mut self) -> bool {
        let index = self.applied_index();
        self.maybe_compact(index, bare_snapshot_data(index))
    }
}

impl Host for KvServer {
    fn boot(config: Config, seed: u64, state: DurableState) -> KvServer {
        KvServer::boot(&setup_of(&config, seed), state).expect("valid config")
    }
    fn raft(&self) -> &RaftNode {
        self.node()
    }
    fn tick(&mut self) {
        KvServer::tick(self);
    }
    fn step(&mut self, m: Message) {
        KvServer::step(self, m);
    }
    fn persisted(&mut self, number: u64) {
        KvServer::persisted(self, number);
    }
    fn has_ready(&self) -> bool {
        KvServer::has_ready(self)
    }
    fn take_ready(&mut self) -> (Ready, Vec<ClientReply>) {
        let out = self.ready();
        (out.raft, out.replies)
    }
    fn compact(&mut self) -> bool {
        self.maybe_snapshot()
    }
}

// ----- Disk -----

/// One node's storage: durable contents, plus writes handed over but not yet synced.
#[derive(Default)]
pub struct Disk {
    pub durable: DurableState,
    /// Writes of readies not yet acknowledged, oldest first. A crash loses them.
    pub unsynced: Vec<(u64, Vec<PersistOp>)>,
    /// Every operation made durable, in order.
    pub history: Vec<PersistOp>,
    /// The same operations encoded with `raft_core::wal`.
    pub wal: Vec<u8>,
    /// Acknowledge every ready as soon as it is handed over (the default).
    pub sync_at_once: bool,
}

impl Disk {
    fn write(&mut self, number: u64, ops: Vec<PersistOp>) {
        self.unsynced.push((number, ops));
    }

    /// Makes every unsynced write durable; returns the last ready number it covered.
    fn sync(&mut self) -> Option<u64> {
        let mut last = None;
        for (number, ops) in self.unsynced.drain(..) {
            for op in ops {
                self.durable.apply(&op).expect("the node asked for a write that does not fit its disk");
                raft_core::wal::encode(&op, &mut self.wal);
                self.history.push(op);
            }
            last = Some(number);
        }
        last
    }
}

// ----- Peers and the cluster -----

/// One member of the cluster: its host (absent while crashed), its disk and what it handed out.
pub struct Peer<H> {
    pub id: NodeId,
    pub config: Config,
    pub host: Option<H>,
    pub disk: Disk,
    /// Committed entries handed out by this incarnation, in the order they came.
    pub applied: Vec<Entry>,
    /// Snapshots handed out by this incarnation (installed from a leader), in order.
    pub installed: Vec<SnapshotMeta>,
    /// The last index this incarnation applied or was handed a snapshot through; a restarted
    /// node starts at its durable snapshot's index.
    pub applied_through: LogIndex,
    /// Client replies this server produced, all incarnations.
    pub replies: Vec<ClientReply>,
    /// Reads without the log this server confirmed, all incarnations, in order.
    pub read_states: Vec<ReadState>,
    /// Every persist op handed over, synced or not, with the ready that carried it.
    pub written: Vec<(u64, PersistOp)>,
    pub incarnation: u64,
    seen: Option<(Role, Term)>,
}

/// A cluster and the network between its members.
pub struct Cluster<H: Host> {
    pub peers: Vec<Peer<H>>,
    /// Sent and not yet delivered, in send order.
    pub in_flight: VecDeque<Message>,
    /// Directed links that lose every message.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Every message delivered, in order.
    pub delivered: Vec<Message>,
    pub transcript: Vec<String>,
    seed: u64,
    // Online checks.
    leaders_by_term: BTreeMap<Term, NodeId>,
    committed_by_index: BTreeMap<LogIndex, (Term, NodeId)>,
    tolerate_violations: bool,
    pub violations: Vec<String>,
    /// Compact a node once it applied this many entries past its snapshot.
    snapshot_every: Option<u64>,
}

/// A change to every node's configuration.
type Configure = Box<dyn Fn(&mut Config)>;

/// Builds a cluster: size, seed, configuration changes, planted bugs, restored disks.
pub struct Builder {
    size: usize,
    seed: u64,
    bugs: BugSet,
    configure: Vec<Configure>,
    disks: BTreeMap<u32, DurableState>,
    tolerate_violations: bool,
    snapshot_every: Option<u64>,
}

impl Builder {
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = seed;
        self
    }
    pub fn bug(mut self, bug: Bug) -> Builder {
        self.bugs = self.bugs.with(bug);
        self
    }
    pub fn bugs(mut self, bugs: BugSet) -> Builder {
        self.bugs = bugs;
        self
    }
    /// Applies `f` to every node's configuration.
    pub fn configure(mut self, f: impl Fn(&mut Config) + 'static) -> Builder {
        self.configure.push(Box::new(f));
        self
    }
    /// Starts node `id` from this disk instead of an empty one.
    pub fn disk(mut self, id: u32, state: DurableState) -> Builder {
        self.disks.insert(id, state);
        self
    }
    /// Records safety violations in `Cluster::violations` instead of panicking (bug stories).
    pub fn tolerate_violations(mut self) -> Builder {
        self.tolerate_violations = true;
        self
    }
    /// Compacts every node's log once it applied `entries` entries past its snapshot.
    pub fn snapshot_every(mut self, entries: u64) -> Builder {
        self.snapshot_every = Some(entries);
        self
    }
    pub fn build<H: Host>(mut self) -> Cluster<H> {
        let members = ids(self.size);
        let mut peers = Vec::new();
        for &id in &members {
            let mut config = Config::new(id, members.clone());
            // These stories test the paper's rules; pre-vote has its own tests and opts in.
            config.pre_vote = false;
            config.bugs = self.bugs;
            for f in &self.configure {
                f(&mut config);
            }
            let state = self.disks.remove(&id.0).unwrap_or_default();
            let applied_through = state.snapshot_index();
            let disk = Disk { durable: state.clone(), sync_at_once: true, ..Disk::default() };
            let host = H::boot(config.clone(), node_seed(self.seed, id, 0), state);
            peers.push(Peer {
                id,
                config,
                host: Some(host),
                disk,
                applied: Vec::new(),
                installed: Vec::new(),
                applied_through,
                replies: Vec::new(),
                read_states: Vec::new(),
                written: Vec::new(),
                incarnation: 0,
                seen: None,
            });
        }
        let mut cluster = Cluster {
            peers,
            in_flight: VecDeque::new(),
            cut: BTreeSet::new(),
            delivered: Vec::new(),
            transcript: Vec::new(),
            seed: self.seed,
            leaders_by_term: BTreeMap::new(),
            committed_by_index: BTreeMap::new(),
            tolerate_violations: self.tolerate_violations,
            violations: Vec::new(),
            snapshot_every: self.snapshot_every,
        };
        for i in 0..cluster.peers.len() {
            cluster.note_role(i);
        }
        cluster
    }
}

/// A cluster of bare Raft nodes.
pub type Nodes = Cluster<RaftNode>;
/// A cluster of KV servers.
pub type Servers = Cluster<KvServer>;

/// Starts describing a cluster of `size` nodes: `cluster(3).seed(9).build()`.
pub fn cluster(size: usize) -> Builder {
    Builder {
        size,
        seed: SEED,
        bugs: BugSet::none(),
        configure: Vec::new(),
        disks: BTreeMap::new(),
        tolerate_violations: false,
        snapshot_every: None,
    }
}

/// Each node's timer seed, derived from the cluster seed, its id and its incarnation.
pub fn node_seed(seed: u64, id: NodeId, incarnation: u64) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(u64::from(id.0) * 101).wrapping_add(incarnation * 7_919)
}

impl<H: Host> Cluster<H> {
    /// A cluster of `size` fresh nodes with the default configuration and seed.
    pub fn new(size: usize) -> Cluster<H> {
        cluster(size).build()
    }

    // ----- Looking at nodes -----

    pub fn peer(&self, id: u32) -> &Peer<H> {
        &self.peers[id as usize]
    }
    pub fn host(&self, id: u32) -> &H {
        self.peer(id).host.as_ref().unwrap_or_else(|| panic!("n{id} is down"))
    }
    pub fn host_mut(&mut self, id: u32) -> &mut H {
        self.peers[id as usize].host.as_mut().unwrap_or_else(|| panic!("n{id} is down"))
    }
    pub fn node(&self, id: u32) -> &RaftNode {
        self.host(id).raft()
    }
    pub fn is_up(&self, id: u32) -> bool {
        self.peer(id).host.is_some()
    }
    /// Live nodes that currently believe they lead.
    pub fn leaders(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .filter(|p| p.host.as_ref().is_some_and(|h| h.raft().role() == Role::Leader))
            .map(|p| p.id)
            .collect()
    }
    /// The one live leader of the highest term, if there is one.
    pub fn leader(&self) -> Option<u32> {
        self.peers
            .iter()
            .filter_map(|p| p.host.as_ref().map(|h| h.raft()))
            .filter(|n| n.role() == Role::Leader)
            .max_by_key(|n| n.term())
            .map(|n| n.id().0)
    }
    /// Indexes of the committed entries this incarnation of `id` handed out.
    pub fn applied_indexes(&self, id: u32) -> Vec<u64> {
        self.peer(id).applied.iter().map(|e| e.index.0).collect()
    }
    /// The terms of `id`'s log, in order.
    pub fn log_terms(&self, id: u32) -> Vec<u64> {
        log_terms(self.node(id))
    }

    // ----- The network -----

    /// Collects every node's outputs: writes to disk, messages to the network, applied entries.
    pub fn pump_all(&mut self) {
        for i in 0..self.peers.len() {
            self.pump(i);
        }
    }

    fn pump(&mut self, i: usize) {
        loop {
            let peer = &mut self.peers[i];
            let Some(host) = peer.host.as_mut() else { return };
            if !host.has_ready() {
                break;
            }
            let (ready, replies) = host.take_ready();
            for op in &ready.persist {
                peer.written.push((ready.number, op.clone()));
            }
            peer.disk.write(ready.number, ready.persist);
            peer.replies.extend(replies);
            peer.read_states.extend(ready.read_states);
            if let Some(snapshot) = &ready.snapshot {
                self.hand_out_snapshot(i, snapshot);
            }
            for entry in ready.committed {
                self.hand_out(i, entry);
            }
            for m in ready.messages {
                self.send(m);
            }
            let peer = &mut self.peers[i];
            if peer.disk.sync_at_once {
                if let Some(number) = peer.disk.sync() {
                    if let Some(host) = peer.host.as_mut() {
                        host.persisted(number);
                    }
                }
            }
            self.note_role(i);
            self.maybe_compact_by_policy(i);
        }
        self.note_role(i);
    }

    fn maybe_compact_by_policy(&mut self, i: usize) {
        let Some(every) = self.snapshot_every else { return };
        let Some(host) = self.peers[i].host.as_mut() else { return };
        let node = host.raft();
        if node.applied_index().0 >= node.log().snapshot_index().0 + every {
            host.compact();
        }
    }

    fn send(&mut self, m: Message) {
        if self.cut.contains(&(m.from, m.to)) {
            self.transcript.push(format!("drop {m}"));
        } else {
            self.in_flight.push_back(m);
        }
    }

    /// Delivers one message now, unless its link is cut or its receiver is down.
    pub fn deliver(&mut self, m: Message) {
        let to = m.to.index();
        if self.cut.contains(&(m.from, m.to)) || self.peers[to].host.is_none() {
            self.transcript.push(format!("drop {m}"));
            return;
        }
        self.transcript.push(m.to_string());
        self.delivered.push(m.clone());
        if let Some(host) = self.peers[to].host.as_mut() {
            host.step(m);
        }
        self.pump(to);
    }

    /// Delivers messages in send order, including the ones they provoke, until the network is
    /// quiet. Returns how many were delivered or dropped.
    pub fn deliver_all(&mut self) -> usize {
        let mut moved = 0;
        loop {
            self.pump_all();
            let Some(m) = self.in_flight.pop_front() else { return moved };
            self.deliver(m);
            moved += 1;
            assert!(moved < DELIVERIES_MAX, "the network never went quiet:\n{}", self.tail(40));
        }
    }

    /// Delivers the oldest message in flight, if any; returns it.
    pub fn deliver_next(&mut self) -> Option<Message> {
        self.pump_all();
        let m = self.in_flight.pop_front()?;
        self.deliver(m.clone());
        Some(m)
    }

    /// Delivers messages one at a time, in send order, until `done` holds.
    ///
    /// # Panics
    /// If the network runs dry first, or `done` does not hold within `DELIVERIES_MAX` deliveries.
    pub fn deliver_until(&mut self, done: impl Fn(&Cluster<H>) -> bool) {
        let mut moved = 0;
        while !done(self) {
            assert!(self.deliver_next().is_some(), "the network ran dry first:\n{}", self.tail(30));
            moved += 1;
            assert!(moved < DELIVERIES_MAX, "the condition never held:\n{}", self.tail(40));
        }
    }

    /// Delivers, in send order, the messages now in flight that match; the rest stay queued.
    pub fn deliver_where(&mut self, keep: impl Fn(&Message) -> bool) -> usize {
        self.pump_all();
        let chosen = self.take_where(keep);
        let count = chosen.len();
        for m in chosen {
            self.deliver(m);
        }
        count
    }

    /// Removes the matching messages from the network and hands them to the test, which may
    /// drop them, hold them, reorder them or `inject` them later.
    pub fn take_where(&mut self, matches: impl Fn(&Message) -> bool) -> Vec<Message> {
        self.pump_all();
        let (taken, kept): (Vec<Message>, Vec<Message>) = self.in_flight.drain(..).partition(|m| matches(m));
        self.in_flight = kept.into();
        taken
    }

    /// Loses the matching messages now in flight.
    pub fn drop_where(&mut self, matches: impl Fn(&Message) -> bool) -> usize {
        let dropped = self.take_where(matches);
        for m in &dropped {
            self.transcript.push(format!("drop {m}"));
        }
        dropped.len()
    }

    /// Puts a message (held back earlier, duplicated, or crafted) at the end of the queue.
    pub fn inject(&mut self, m: Message) {
        self.in_flight.push_back(m);
    }

    /// Cuts both directions between `id` and everyone else.
    pub fn isolate(&mut self, id: u32) {
        let groups: Vec<Vec<u32>> =
            vec![vec![id], (0..self.peers.len() as u32).filter(|other| *other != id).collect()];
        let refs: Vec<&[u32]> = groups.iter().map(Vec::as_slice).collect();
        self.partition(&refs);
    }

    /// Cuts every link between different groups, both ways. Links inside a group stay up.
    pub fn partition(&mut self, groups: &[&[u32]]) {
        for (g, group) in groups.iter().enumerate() {
            for (h, other) in groups.iter().enumerate() {
                if g != h {
                    for a in group.iter() {
                        for b in other.iter() {
                            self.cut.insert((NodeId(*a), NodeId(*b)));
                        }
                    }
                }
            }
        }
        self.transcript.push(format!("partition {groups:?}"));
    }

    /// Cuts the one-way link `from -> to`.
    pub fn cut_link(&mut self, from: u32, to: u32) {
        self.cut.insert((NodeId(from), NodeId(to)));
    }

    pub fn heal(&mut self) {
        self.cut.clear();
        self.transcript.push("heal".into());
    }

    // ----- Time -----

    /// One tick of `id`'s clock, then its outputs are collected (nothing is delivered).
    pub fn tick(&mut self, id: u32) {
        self.host_mut(id).tick();
        self.pump(id as usize);
    }

    /// `count` ticks of `id` alone, delivering everything after each.
    pub fn tick_node(&mut self, id: u32, count: u32) {
        for _ in 0..count {
            self.tick(id);
            self.deliver_all();
        }
    }

    /// One tick of every live node, then every message is delivered.
    pub fn tick_all(&mut self) {
        for i in 0..self.peers.len() {
            if self.peers[i].host.is_some() {
                self.peers[i].host.as_mut().map(Host::tick);
                self.pump(i);
            }
        }
        self.deliver_all();
    }

    /// Ticks every node until `done` holds; returns the ticks it took.
    ///
    /// # Panics
    /// If `done` does not hold within `ticks_max`, with the end of the transcript.
    pub fn tick_until(&mut self, ticks_max: u32, done: impl Fn(&Cluster<H>) -> bool) -> u32 {
        for ticks in 0..=ticks_max {
            if done(self) {
                return ticks;
            }
            if ticks < ticks_max {
                self.tick_all();
            }
        }
        panic!("condition not reached within {ticks_max} ticks:\n{}", self.tail(40));
    }

    /// Ticks `id` alone until it campaigns, then delivers everything: with its peers' timers
    /// stopped, it wins. Returns the ticks its election timer took.
    pub fn elect(&mut self, id: u32) -> u32 {
        let ticks = self.campaign(id);
        self.deliver_all();
        assert_eq!(self.node(id).role(), Role::Leader, "n{id} lost its election:\n{}", self.tail(20));
        ticks
    }

    /// Ticks `id` alone until it stands for election; delivers nothing. Returns the ticks.
    pub fn campaign(&mut self, id: u32) -> u32 {
        let mut ticks = 0;
        while self.node(id).role() == Role::Follower {
            self.tick(id);
            ticks += 1;
            assert!(ticks <= 1_000, "n{id} never campaigned");
        }
        ticks
    }

    /// Ticks the leader through one heartbeat interval, so followers learn its commit index.
    pub fn heartbeat(&mut self, leader: u32) {
        let ticks = self.peer(leader).config.heartbeat_ticks;
        self.tick_node(leader, ticks);
    }

    // ----- Disks, crashes, restarts -----

    /// From now on `id`'s writes wait for [`Cluster::sync`] (or go on being acknowledged at once).
    pub fn manual_sync(&mut self, id: u32, manual: bool) {
        self.peers[id as usize].disk.sync_at_once = !manual;
    }

    /// Makes `id`'s pending writes durable and acknowledges them.
    pub fn sync(&mut self, id: u32) {
        let peer = &mut self.peers[id as usize];
        if let Some(number) = peer.disk.sync() {
            if let Some(host) = peer.host.as_mut() {
                host.persisted(number);
            }
            self.transcript.push(format!("n{id} synced"));
        }
        self.pump(id as usize);
    }

    /// Stops `id`: its volatile state and unsynced writes are gone.
    pub fn crash(&mut self, id: u32) {
        let peer = &mut self.peers[id as usize];
        peer.host = None;
        peer.disk.unsynced.clear();
        peer.seen = None;
        self.transcript.push(format!("crash n{id}"));
    }

    /// Compacts `id`'s log through everything it applied; whether it did.
    pub fn compact(&mut self, id: u32) -> bool {
        let done = self.host_mut(id).compact();
        if done {
            let index = self.node(id).log().snapshot_index();
            self.transcript.push(format!("n{id} snapshot through {index}"));
        }
        self.pump(id as usize);
        done
    }

    /// A new server enters the world with the next id and an empty configuration (it joins an
    /// existing cluster): the same settings as n0 otherwise. Returns its id. It is in no
    /// configuration until a leader adds it.
    pub fn join(&mut self) -> u32 {
        let id = self.peers.len() as u32;
        let mut config = self.peers[0].config.clone();
        config.id = NodeId(id);
        config.members = Vec::new();
        let host = H::boot(config.clone(), node_seed(self.seed, NodeId(id), 0), DurableState::default());
        self.peers.push(Peer {
            id: NodeId(id),
            config,
            host: Some(host),
            disk: Disk { sync_at_once: true, ..Disk::default() },
            applied: Vec::new(),
            installed: Vec::new(),
            applied_through: LogIndex::ZERO,
            replies: Vec::new(),
            read_states: Vec::new(),
            written: Vec::new(),
            incarnation: 0,
            seen: None,
        });
        self.transcript.push(format!("n{id} joins the world"));
        self.note_role(id as usize);
        id
    }

    /// Starts `id` again from its durable state.
    pub fn restart(&mut self, id: u32) {
        let peer = &mut self.peers[id as usize];
        assert!(peer.host.is_none(), "restart of n{id}, which is up");
        peer.incarnation += 1;
        peer.applied.clear();
        peer.installed.clear();
        peer.applied_through = peer.disk.durable.snapshot_index();
        let seed = node_seed(self.seed, peer.id, peer.incarnation);
        peer.host = Some(H::boot(peer.config.clone(), seed, peer.disk.durable.clone()));
        self.transcript.push(format!("restart n{id}"));
        self.note_role(id as usize);
    }

    // ----- Checks -----

    fn hand_out_snapshot(&mut self, i: usize, snapshot: &Snapshot) {
        let id = self.peers[i].id;
        let through = self.peers[i].applied_through;
        if snapshot.meta.last_index <= through {
            self.violation(format!(
                "{id} handed out a snapshot through {} after applying {through}",
                snapshot.meta.last_index
            ));
        }
        self.transcript.push(format!("{id} installed snapshot {}", snapshot.meta));
        self.peers[i].installed.push(snapshot.meta);
        self.peers[i].applied_through = snapshot.meta.last_index;
    }

    fn hand_out(&mut self, i: usize, entry: Entry) {
        let id = self.peers[i].id;
        let expected = self.peers[i].applied_through.next();
        if entry.index != expected {
            self.violation(format!("{id} handed out {} after {}", entry.index, expected.0 - 1));
        }
        self.peers[i].applied_through = entry.index;
        match self.committed_by_index.get(&entry.index) {
            Some(&(term, first)) if term != entry.term => self.violation(format!(
                "{} committed as {term} by {first} and as {} by {id}",
                entry.index, entry.term
            )),
            Some(_) => {}
            None => {
                self.committed_by_index.insert(entry.index, (entry.term, id));
            }
        }
        self.peers[i].applied.push(entry);
    }

    fn note_role(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        let Some(host) = peer.host.as_ref() else { return };
        let now = (host.raft().role(), host.raft().term());
        if peer.seen == Some(now) {
            return;
        }
        peer.seen = Some(now);
        let id = peer.id;
        let role = format!("{:?}", now.0).to_lowercase();
        self.transcript.push(format!("{id} is {role} in {}", now.1));
        if now.0 == Role::Leader {
            match self.leaders_by_term.get(&now.1) {
                Some(other) if *other != id => {
                    let other = *other;
                    self.violation(format!("{id} and {other} both lead {}", now.1));
                }
                _ => {
                    self.leaders_by_term.insert(now.1, id);
                }
            }
        }
    }

    fn violation(&mut self, what: String) {
        assert!(self.tolerate_violations, "safety violation: {what}\n{}", self.tail(40));
        self.transcript.push(format!("VIOLATION {what}"));
        self.violations.push(what);
    }

    // ----- Transcripts -----

    /// The last `lines` of the transcript, one event a line.
    pub fn tail(&self, lines: usize) -> String {
        let start = self.transcript.len().saturating_sub(lines);
        self.transcript[start..].join("\n")
    }

    /// Forgets the transcript so far, so that a story can compare only what follows.
    pub fn clear_transcript(&mut self) {
        self.transcript.clear();
    }

    /// The transcript lines that mention a message between `a` and `b`, either way.
    pub fn conversation(&self, a: u32, b: u32) -> Vec<String> {
        let ab = format!("n{a}->n{b} ");
        let ba = format!("n{b}->n{a} ");
        self.transcript.iter().filter(|l| l.starts_with(&ab) || l.starts_with(&ba)).cloned().collect()
    }
}

impl Cluster<RaftNode> {
    /// Proposes a command on `id`, which must lead; its outputs are collected, nothing delivered.
    pub fn propose(&mut self, id: u32, command: Arc<[u8]>) -> (LogIndex, Term) {
        let placed = self.host_mut(id).propose(command).expect("proposed on a leader");
        self.pump(id as usize);
        placed
    }

    /// Asks `id` for a membership change; its outputs are collected, nothing delivered.
    pub fn change(&mut self, id: u32, change: MembershipChange) -> Result<LogIndex, ChangeError> {
        let result = self.host_mut(id).change_membership(change);
        self.transcript.push(format!("n{id} change {change:?}: {result:?}"));
        self.pump(id as usize);
        result
    }

    /// Asks `id` to hand leadership to `to`; its outputs are collected, nothing delivered.
    pub fn transfer(&mut self, id: u32, to: u32) -> Result<(), raft_core::TransferError> {
        let result = self.host_mut(id).transfer_leadership(NodeId(to));
        self.transcript.push(format!("n{id} transfer to n{to}: {result:?}"));
        self.pump(id as usize);
        result
    }

    /// Asks `id` for a read without the log, with context `ctx`; nothing delivered.
    pub fn read(&mut self, id: u32, ctx: u64) -> Result<(), raft_core::ReadError> {
        let result = self.host_mut(id).read_index(ctx);
        self.pump(id as usize);
        result
    }

    /// The read states `id` handed out, as (ctx, index) pairs.
    pub fn reads_served(&self, id: u32) -> Vec<(u64, u64)> {
        self.peer(id).read_states.iter().map(|r| (r.ctx, r.index.0)).collect()
    }
}

impl Cluster<KvServer> {
    /// A client call to server `id`; its outputs are collected, nothing is delivered.
    pub fn request(&mut self, id: u32, client: u64, seq: u64, op: KvOp) {
        self.host_mut(id).handle_request(ClientRequest { client: ClientId(client), seq, op });
        self.pump(id as usize);
    }

    /// Replies server `id` produced for `client`, oldest first.
    pub fn replies_to(&self, id: u32, client: u64) -> Vec<ClientReply> {
        self.peer(id).replies.iter().filter(|r| r.client == ClientId(client)).cloned().collect()
    }

    pub fn value(&self, id: u32, key: &str) -> String {
        self.host(id).store().read(key)
    }
}
