//! Faults the world can suffer: process crashes and restarts, pauses, partitions, network and
//! clock changes, and the random schedule (the nemesis) that draws them in a swarm run. Each
//! fault is traced and, when asked, recorded with its time for `--export-scenario`.

use raft_host::Raft;

use crate::coverage::Point;
use rand::Rng;

use super::{drifted, Held, LivenessCore, OutsideFate, Process, Realized, RealizedAt, World};
use crate::config::{NetworkConfig, Shape};
use crate::network::Cuts;
use crate::queue::{Event, Family};
use crate::rng::{self, between, Stream};

impl<R: Raft> World<R> {
    /// Says whether the event being handled outside `dispatch` (a schedule's step) reacts to
    /// another one; steps never do.
    pub fn set_reacting(&mut self, reacting: bool) {
        self.reacting = reacting;
    }

    /// Records a fault of the fault phase, if recording.
    pub(super) fn realize(&mut self, fault: Realized) {
        if self.faults_on {
            if let Some(list) = &mut self.realized {
                list.push(RealizedAt { at: self.now, late: self.reacting, fault });
            }
        }
    }

    /// Crashes a server: its volatile state is gone, its disk keeps what was durable.
    pub fn crash(&mut self, n: u8) {
        if self.nodes[n as usize].server().is_none() {
            return;
        }
        let writes_in_flight = self.nodes[n as usize].disk.writes_in_flight();
        self.observe_crash(n, writes_in_flight, false);
        self.realize(Realized::Crash(n));
        self.leaders.stall(self.now, u64::from(n), true, true);
        let slot = &mut self.nodes[n as usize];
        let server = match std::mem::replace(&mut slot.process, Process::Down) {
            Process::Up(s) | Process::Paused(s) => s,
            Process::Down => unreachable!("checked above"),
        };
        self.checks.on_crash(n, &server);
        self.deduplicated_before_crashes += server.deduplicated();
        let damage = slot.disk.crash(&self.config.disk, &mut slot.disk_rng);
        slot.epoch += 1;
        slot.inbox.clear();
        self.faults.crashes += 1;
        self.last_views[n as usize] = None;
        if damage.torn {
            self.faults.torn_writes += 1;
            self.sometimes(Point::TornWrite);
        }
        if damage.snapshot_lost || damage.snapshot_torn {
            self.sometimes(Point::CrashDuringSnapshotWrite);
        }
        if damage.snapshot_lost {
            self.faults.snapshot_write_crashes += 1;
        }
        if damage.snapshot_torn {
            self.faults.torn_snapshot_files += 1;
        }
        self.observe_down();
        self.trace.mix(&[self.now, 7, u64::from(n), damage.torn_bytes_kept as u64]);
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "crash",
                format_args!(
                    "\"node\":{n},\"writes_lost\":{},\"torn\":{},\"torn_bytes_kept\":{}",
                    damage.writes_lost, damage.torn, damage.torn_bytes_kept
                ),
            );
        }
        self.maybe_damage_disk(n);
    }

    /// Restarts a crashed server from its disk.
    pub fn restart(&mut self, n: u8) {
        if !matches!(self.nodes[n as usize].process, Process::Down) {
            return;
        }
        if !std::mem::take(&mut self.restart_after_fsync_failure[n as usize]) {
            self.realize(Realized::Restart(n));
        }
        self.leaders.stall(self.now, u64::from(n), false, false);
        self.faults.restarts += 1;
        self.trace.mix(&[self.now, 8, u64::from(n)]);
        if self.trace.detailed() {
            let bytes = self.nodes[n as usize].disk.durable_bytes();
            self.trace.line(self.now, "restart", format_args!("\"node\":{n},\"disk_bytes\":{bytes}"));
        }
        self.boot(n);
    }

    /// Stalls a server: no ticks, and messages wait in its inbox.
    pub fn pause(&mut self, n: u8) {
        let slot = &mut self.nodes[n as usize];
        if !slot.is_up() {
            return;
        }
        self.realize(Realized::Pause(n));
        self.leaders.stall(self.now, u64::from(n), true, false);
        let slot = &mut self.nodes[n as usize];
        let Process::Up(server) = std::mem::replace(&mut slot.process, Process::Down) else { unreachable!() };
        slot.process = Process::Paused(server);
        slot.paused_at = self.now;
        self.reached.hit(Point::FaultPause, self.trace.events());
        slot.epoch += 1;
        self.faults.pauses += 1;
        self.trace.mix(&[self.now, 9, u64::from(n)]);
        if self.trace.detailed() {
            self.trace.line(self.now, "pause", format_args!("\"node\":{n}"));
        }
    }

    /// Resumes a paused server, which then handles its inbox in arrival order.
    pub fn resume(&mut self, n: u8) {
        let slot = &mut self.nodes[n as usize];
        if !matches!(slot.process, Process::Paused(_)) {
            return;
        }
        self.realize(Realized::Resume(n));
        self.leaders.stall(self.now, u64::from(n), false, false);
        let slot = &mut self.nodes[n as usize];
        let Process::Paused(server) = std::mem::replace(&mut slot.process, Process::Down) else {
            unreachable!()
        };
        slot.process = Process::Up(server);
        slot.epoch += 1;
        let (epoch, tick_ns) = (slot.epoch, slot.tick_ns);
        let inbox = std::mem::take(&mut slot.inbox);
        self.queue.push(self.now + tick_ns, Event::Tick { node: n, epoch });
        if !inbox.is_empty() {
            self.sometimes(Point::FaultPausedInboxReplayed);
        }
        self.trace.mix(&[self.now, 10, u64::from(n), inbox.len() as u64]);
        // A lease rests on clocks that keep running (within the drift bound) while a process
        // stalls: the ticks the pause swallowed are handed over before anything else, as a host
        // reading a monotonic clock on waking would. Without leases a paused clock is kept (it
        // only delays elections), so other runs stay as they were.
        if self.config.cluster.read_path == crate::config::ReadPathName::Lease {
            let slot = &self.nodes[n as usize];
            let missed = (self.now - slot.paused_at) / slot.tick_ns.max(1);
            for _ in 0..missed.min(MISSED_TICKS_MAX) {
                let Process::Up(server) = &mut self.nodes[n as usize].process else { break };
                server.tick();
                self.after_node_input(n);
            }
        }
        if self.trace.detailed() {
            self.trace.line(self.now, "resume", format_args!("\"node\":{n},\"inbox\":{}", inbox.len()));
        }
        for held in inbox {
            if !self.nodes[n as usize].is_up() {
                break;
            }
            match held {
                Held::Packet(p) => {
                    self.network.count_delivered();
                    self.deliver_to_node(n, p);
                }
                Held::Persisted(ready) => {
                    if let Process::Up(server) = &mut self.nodes[n as usize].process {
                        server.persisted(ready);
                    }
                    self.after_node_input(n);
                }
            }
        }
    }

    /// Cuts links between servers; `label` names the shape for counters and traces.
    pub fn partition(&mut self, cuts: Cuts, label: &str) {
        self.set_cuts(cuts, label, true);
    }

    /// Replaces the set of cut links. `counted` says whether this is a new partition (counted
    /// under `label`) or an adjustment of one, such as reconnecting a node.
    pub fn set_cuts(&mut self, cuts: Cuts, label: &str, counted: bool) {
        if cuts.is_empty() {
            self.heal();
            return;
        }
        self.realize(Realized::Cuts {
            links: cuts.links(self.nodes.len()),
            label: label.to_string(),
            counted,
        });
        self.network.set_cuts(cuts);
        if counted {
            *self.faults.partitions.entry(label.to_string()).or_default() += 1;
            self.observe_partition(label);
        }
        let links = cuts.links(self.nodes.len());
        self.trace.mix(&[self.now, 11, links.len() as u64]);
        for (a, b) in &links {
            self.trace.mix(&[*a as u64, *b as u64]);
        }
        if self.trace.detailed() {
            let list: Vec<String> = links.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
            self.trace.line(
                self.now,
                "partition",
                format_args!("\"shape\":\"{label}\",\"cut\":[{}]", list.join(",")),
            );
        }
    }

    /// Lets the clients issue `ops` more operations, starting now.
    pub fn submit_ops(&mut self, ops: u64) {
        self.realize(Realized::Submit(ops));
        self.workload.add_ops(ops, self.now, &mut self.queue);
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        if self.network.cuts().is_empty() {
            return;
        }
        self.realize(Realized::Heal);
        self.network.set_cuts(Cuts::none());
        self.faults.heals += 1;
        self.sometimes(Point::Heal);
        self.trace.mix(&[self.now, 13]);
        if self.trace.detailed() {
            self.trace.line(self.now, "heal", format_args!(""));
        }
    }

    /// Replaces the network's impairments (scenarios switch between reliable and unreliable).
    pub fn set_network(&mut self, config: NetworkConfig) {
        self.realize(Realized::Network(config.clone()));
        self.network.config = config;
        self.trace.mix(&[self.now, 14]);
        if self.trace.detailed() {
            let c = &self.network.config;
            self.trace.line(
                self.now,
                "network",
                format_args!(
                    "\"drop_ppm\":{},\"duplicate_ppm\":{},\"long_delay_ppm\":{}",
                    c.drop_ppm, c.duplicate_ppm, c.long_delay_ppm
                ),
            );
        }
    }

    /// Sets a node's clock drift; takes effect from its next tick.
    pub fn set_drift(&mut self, n: u8, drift_ppm: i64) {
        self.realize(Realized::Drift(n, drift_ppm));
        let slot = &mut self.nodes[n as usize];
        slot.drift_ppm = drift_ppm;
        slot.tick_ns = drifted(self.config.cluster.tick_ns, drift_ppm);
        self.faults.drift_changes += 1;
        if drift_ppm != 0 {
            self.sometimes(Point::FaultDrift);
        }
        self.trace.mix(&[self.now, 15, u64::from(n), drift_ppm as u64]);
        if self.trace.detailed() {
            self.trace.line(self.now, "drift", format_args!("\"node\":{n},\"ppm\":{drift_ppm}"));
        }
    }

    /// Ends the random faults: the schedule stops, links are restored, the network turns
    /// reliable. What becomes of the servers is the caller's (both liveness phases).
    fn end_faults(&mut self) {
        self.faults_on = false;
        self.heal();
        let mut calm = self.network.config.clone();
        calm.drop_ppm = 0;
        calm.duplicate_ppm = 0;
        calm.long_delay_ppm = 0;
        self.set_network(calm);
    }

    /// Ends every fault: links restored, the network reliable, every server up.
    pub fn heal_all(&mut self) {
        self.end_faults();
        for n in 0..self.nodes.len() as u8 {
            match self.nodes[n as usize].process {
                Process::Down => self.restart(n),
                Process::Paused(_) => self.resume(n),
                Process::Up(_) => {}
            }
        }
    }

    /// The harder liveness phase: heals and restarts a core, a majority chosen by the seed
    /// (half the time without the current leader), and leaves each other server down, paused,
    /// isolated or cut off one way for good. A server that can send but not hear is left only
    /// where pre-vote and check-quorum are on: without them Raft itself does not promise that a
    /// core survives such a node (its elections or heartbeats would disrupt the core forever).
    pub fn heal_core(&mut self) {
        use rand::seq::SliceRandom;
        self.end_faults();
        let n = self.nodes.len();
        let leader = self.current_leader();
        let r = &mut self.nemesis.liveness;
        let mut order: Vec<u8> = (0..n as u8).collect();
        order.shuffle(r);
        let majority = n / 2 + 1;
        // A node whose disk was damaged and not yet repaired may not vote (protocol-aware
        // recovery), so the core takes the sound nodes first: it must be able to elect on its
        // own. The budget keeps the damaged ones a minority.
        let damaged = |x: &u8| self.atlas.is_damaged(*x);
        let sound = order.iter().filter(|x| !damaged(x)).count();
        let leader_out = leader.is_some_and(|l| sound > majority || damaged(&l)) && r.gen_bool(0.5);
        if let (Some(l), true) = (leader, leader_out) {
            order.retain(|&x| x != l);
            order.push(l);
        }
        order.sort_by_key(|x| damaged(x));
        let mut core: Vec<u8> = order[..majority].to_vec();
        core.sort_unstable();
        let sticky = self.config.cluster.pre_vote && self.config.cluster.check_quorum;
        let mut fates: Vec<(u8, OutsideFate)> = Vec::new();
        for &x in &order[majority..] {
            let choices: &[OutsideFate] = if sticky {
                &[
                    OutsideFate::Down,
                    OutsideFate::Paused,
                    OutsideFate::Isolated,
                    OutsideFate::HearsOnly,
                    OutsideFate::SpeaksOnly,
                ]
            } else {
                &[OutsideFate::Down, OutsideFate::Paused, OutsideFate::Isolated, OutsideFate::HearsOnly]
            };
            // A deposed leader that can still speak is the case this phase exists for.
            let fate = if Some(x) == leader && sticky && r.gen_bool(0.5) {
                OutsideFate::SpeaksOnly
            } else {
                choices[r.gen_range(0..choices.len())]
            };
            fates.push((x, fate));
        }
        fates.sort_unstable_by_key(|f| f.0);
        for &c in &core {
            match self.nodes[c as usize].process {
                Process::Down => self.restart(c),
                Process::Paused(_) => self.resume(c),
                Process::Up(_) => {}
            }
        }
        let mut cuts = Cuts::none();
        for &(x, fate) in &fates {
            let others: Vec<usize> = (0..n).filter(|&o| o != x as usize).collect();
            match fate {
                OutsideFate::Down => {
                    self.crash(x);
                    // For good: a restart the fault phase scheduled no longer applies.
                    self.nodes[x as usize].epoch += 1;
                }
                OutsideFate::Paused => {
                    if let Process::Down = self.nodes[x as usize].process {
                        self.restart(x);
                    }
                    self.pause(x);
                    // For good: a resume the fault phase scheduled no longer applies.
                    self.nodes[x as usize].epoch += 1;
                }
                OutsideFate::Isolated | OutsideFate::HearsOnly | OutsideFate::SpeaksOnly => {
                    if let Process::Down = self.nodes[x as usize].process {
                        self.restart(x);
                    }
                    if let Process::Paused(_) = self.nodes[x as usize].process {
                        self.resume(x);
                    }
                    for &o in &others {
                        if fate != OutsideFate::SpeaksOnly {
                            cuts.cut(x as usize, o);
                        }
                        if fate != OutsideFate::HearsOnly {
                            cuts.cut(o, x as usize);
                        }
                    }
                }
            }
        }
        if !cuts.is_empty() {
            self.partition(cuts, "liveness-core");
        }
        self.observe_liveness_core(leader.filter(|_| leader_out), &fates);
        self.liveness_core = Some(LivenessCore { core, outside: fates });
    }

    // ----- The random fault schedule -----

    pub(super) fn nemesis_step(&mut self, family: Family, token: u32) {
        let nodes = self.nodes.len();
        match family {
            Family::Partition => {
                let Some(p) = self.config.faults.partition.clone() else { return };
                let leader = self.current_leader().map(usize::from);
                let r = &mut self.nemesis.partition;
                if self.nemesis.partitioned {
                    self.nemesis.partitioned = false;
                    let next = between(r, p.heal_ns_min, p.heal_ns_max);
                    self.heal();
                    let token = self.nemesis.partition_token;
                    self.queue.push(self.now + next, Event::Nemesis { family, token });
                } else {
                    let shape = p.shapes[r.gen_range(0..p.shapes.len())];
                    let cuts = crate::partition::build(shape, nodes, leader, r);
                    let hold = between(r, p.hold_ns_min, p.hold_ns_max);
                    self.nemesis.partitioned = true;
                    self.partition(cuts, shape.name());
                    let token = self.nemesis.partition_token;
                    self.queue.push(self.now + hold, Event::Nemesis { family, token });
                }
            }
            Family::Crash => {
                let Some(k) = self.config.faults.crash.clone() else { return };
                let leader = self.current_leader();
                let r = &mut self.nemesis.crash;
                let victim = pick_victim(r, nodes, leader, k.leader_ppm);
                let down = between(r, k.down_ns_min, k.down_ns_max);
                let next = between(r, k.every_ns_min, k.every_ns_max);
                self.queue.push(self.now + next, Event::Nemesis { family, token: 0 });
                if self.nodes[victim as usize].server().is_some() {
                    self.crash(victim);
                    let epoch = self.nodes[victim as usize].epoch;
                    self.queue.push(self.now + down, Event::Restart { node: victim, epoch });
                }
            }
            Family::Membership => self.membership_step(token),
            Family::Pause => {
                let Some(p) = self.config.faults.pause.clone() else { return };
                let leader = self.current_leader();
                let r = &mut self.nemesis.pause;
                let victim = pick_victim(r, nodes, leader, p.leader_ppm);
                let pause = between(r, p.pause_ns_min, p.pause_ns_max);
                let next = between(r, p.every_ns_min, p.every_ns_max);
                self.queue.push(self.now + next, Event::Nemesis { family, token: 0 });
                if self.nodes[victim as usize].is_up() {
                    self.pause(victim);
                    let epoch = self.nodes[victim as usize].epoch;
                    self.queue.push(self.now + pause, Event::Resume { node: victim, epoch });
                }
            }
        }
    }

    /// A fresh leader is at its most fragile: its log may hold entries of earlier terms that it
    /// has not committed yet (the paper's Figure 8). With the configured probability it is
    /// crashed shortly after it wins.
    pub(super) fn maybe_crash_new_leader(&mut self, n: u8) {
        let Some(k) = &self.config.faults.crash else { return };
        if !self.faults_on || k.new_leader_ppm == 0 {
            return;
        }
        let r = &mut self.nemesis.crash;
        let delay = between(r, 0, k.new_leader_delay_ns_max);
        if rng::chance(r, k.new_leader_ppm) {
            let epoch = self.nodes[n as usize].epoch;
            self.queue.push(self.now + delay, Event::Crash { node: n, epoch });
        }
    }

    /// With the configured probability, a fresh leader is cut off from everyone at once: what
    /// it appends in its term (its no-op, the calls clients keep sending it) reaches no one,
    /// leaving entries of a term that never commits, as in the paper's Figure 8.
    pub(super) fn maybe_isolate_new_leader(&mut self, n: u8) {
        let Some(p) = &self.config.faults.partition else { return };
        if !self.faults_on || p.new_leader_ppm == 0 || self.nemesis.partitioned {
            return;
        }
        let r = &mut self.nemesis.partition;
        let hold = between(r, p.hold_ns_min, p.hold_ns_max);
        if !rng::chance(r, p.new_leader_ppm) {
            return;
        }
        let mut cuts = Cuts::none();
        let others: Vec<usize> = (0..self.nodes.len()).filter(|m| *m != usize::from(n)).collect();
        cuts.separate(&[usize::from(n)], &others);
        self.nemesis.partitioned = true;
        self.nemesis.partition_token += 1;
        self.partition(cuts, "isolate-new-leader");
        let token = self.nemesis.partition_token;
        self.queue.push(self.now + hold, Event::Nemesis { family: Family::Partition, token });
    }

    /// With the configured probability, a server that just started writing a snapshot (its
    /// own, or one it installs) crashes before the write is durable, at a moment drawn before
    /// its fsync completes: the write is lost, or torn if torn writes are on.
    pub(super) fn maybe_crash_mid_snapshot_write(&mut self, n: u8, done_at: u64) {
        let Some(k) = &self.config.faults.crash else { return };
        if !self.faults_on || k.snapshot_write_ppm == 0 || done_at <= self.now {
            return;
        }
        let r = &mut self.nemesis.snapshot;
        if rng::chance(r, k.snapshot_write_ppm) {
            let at = between(r, self.now, done_at - 1);
            let epoch = self.nodes[n as usize].epoch;
            self.queue.push(at, Event::Crash { node: n, epoch });
        }
    }

    /// A crash scheduled for a node's current incarnation.
    pub(super) fn scheduled_crash(&mut self, n: u8) {
        let Some(k) = self.config.faults.crash.clone() else { return };
        if !self.faults_on || self.nodes[n as usize].server().is_none() {
            return;
        }
        let down = between(&mut self.nemesis.crash, k.down_ns_min, k.down_ns_max);
        self.crash(n);
        let epoch = self.nodes[n as usize].epoch;
        self.queue.push(self.now + down, Event::Restart { node: n, epoch });
    }

    /// Builds a partition of a named shape right now (scenarios use this).
    pub fn partition_shape(&mut self, shape: Shape) {
        let leader = self.current_leader().map(usize::from);
        let cuts = crate::partition::build(shape, self.nodes.len(), leader, &mut self.nemesis.partition);
        self.partition(cuts, shape.name());
    }
}

/// The most ticks a resumed node catches up on at once (a pause of 24 h at a 1 ms tick is
/// fewer); bounds the loop whatever the configuration.
const MISSED_TICKS_MAX: u64 = 100_000_000;

/// The leader with probability `leader_ppm` (when there is one), otherwise any node. The draws
/// do not depend on whether there is a leader, so the stream advances the same way either way.
fn pick_victim(r: &mut Stream, nodes: usize, leader: Option<u8>, leader_ppm: u32) -> u8 {
    let any = r.gen_range(0..nodes) as u8;
    let target_leader = rng::chance(r, leader_ppm);
    match leader {
        Some(l) if target_leader => l,
        _ => any,
    }
}
