//! Membership changes and leadership transfers as the fault phase draws them (the nemesis's
//! membership family), each made at the leader of the moment through the host contract.
//!
//! One operation per step, chosen from the leader's configuration:
//! - with `transfer_ppm`: hand leadership to another voter;
//! - a learner waits: promote it (refused while it lags; tried again next step);
//! - a server is out of the configuration: add it back as a learner. With `wipe_ppm` its disk
//!   is wiped first and it boots knowing no configuration, as a new machine taking the old
//!   one's id would. The wipe happens only once the leader accepted the change: a leader starts
//!   a change only once the previous one (the removal) is committed, so no configuration that
//!   can still decide counts the wiped server;
//! - otherwise, while three voters or more remain: take out one of them, the leader itself
//!   sometimes (two voters at least stay).

use raft_host::{ChangeError, Feature, MembershipChange, NodeId, Raft, Role};
use rand::Rng;

use super::{Process, Realized, World};
use crate::coverage::Point;
use crate::queue::{Event, Family};
use crate::rng::{self, between};

/// A membership operation a scenario asks for (see `scenarios/README.md`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScriptedOp {
    Add,
    Promote,
    Remove,
    Transfer,
}

impl ScriptedOp {
    /// The scenario action that makes it (what an exported run writes).
    #[must_use]
    pub fn action(self) -> &'static str {
        match self {
            ScriptedOp::Add => "add-server",
            ScriptedOp::Promote => "promote-server",
            ScriptedOp::Remove => "remove-server",
            ScriptedOp::Transfer => "transfer-leader",
        }
    }

    /// Its code in the trace hash, and its name in the trace.
    fn code_and_name(self) -> (u64, &'static str) {
        match self {
            ScriptedOp::Transfer => (0, "transfer"),
            ScriptedOp::Add => (1, "add"),
            ScriptedOp::Promote => (2, "promote"),
            ScriptedOp::Remove => (3, "remove"),
        }
    }
}

/// What one step did, for the trace.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Op {
    Transfer(u8),
    Change(MembershipChange),
}

impl Op {
    /// The operation and the server it concerns, as a scenario names them.
    fn scripted(self) -> (ScriptedOp, u8) {
        match self {
            Op::Transfer(to) => (ScriptedOp::Transfer, to),
            Op::Change(MembershipChange::AddLearner(id)) => (ScriptedOp::Add, id.0 as u8),
            Op::Change(MembershipChange::Promote(id)) => (ScriptedOp::Promote, id.0 as u8),
            Op::Change(MembershipChange::Remove(id)) => (ScriptedOp::Remove, id.0 as u8),
        }
    }
}

impl<R: Raft> World<R> {
    /// With `new_leader_ppm`, a step right after a leader wins (the moment the 2015 rule is
    /// about: before the new leader has committed an entry of its term).
    pub(super) fn maybe_change_at_new_leader(&mut self) {
        let Some(m) = &self.config.faults.membership else { return };
        if !self.faults_on || m.new_leader_ppm == 0 {
            return;
        }
        let r = &mut self.nemesis.membership;
        if rng::chance(r, m.new_leader_ppm) {
            self.queue.push(self.now, Event::Nemesis { family: Family::Membership, token: 1 });
        }
    }

    /// One step of the schedule (`token` 0), or a one-off step after an election (1).
    pub(super) fn membership_step(&mut self, token: u32) {
        let Some(m) = self.config.faults.membership.clone() else { return };
        let r = &mut self.nemesis.membership;
        let next = between(r, m.every_ns_min, m.every_ns_max);
        // Drawn whether or not anything happens, so the stream moves the same way either way.
        let transfer = rng::chance(r, m.transfer_ppm);
        let wipe = rng::chance(r, m.wipe_ppm);
        let pick: u32 = r.gen();
        if token == 0 {
            self.queue.push(self.now + next, Event::Nemesis { family: Family::Membership, token: 0 });
        }
        if !R::supports_feature(Feature::Membership) {
            return;
        }
        let Some(leader) = self.current_leader() else { return };
        let Some(server) = self.nodes[leader as usize].server() else { return };
        if !self.nodes[leader as usize].is_up() {
            return;
        }
        let Some(config) = server.node().configuration() else { return };
        let nodes = self.nodes.len() as u32;
        let others: Vec<NodeId> = config.voters.iter().filter(|v| v.0 != u32::from(leader)).collect();
        let op = if transfer && R::supports_feature(Feature::Transfer) && !others.is_empty() {
            Op::Transfer(others[pick as usize % others.len()].0 as u8)
        } else if let Some(learner) = config.learners.iter().next() {
            Op::Change(MembershipChange::Promote(learner))
        } else if let Some(out) = (0..nodes).map(NodeId).find(|id| !config.contains(*id)) {
            Op::Change(MembershipChange::AddLearner(out))
        } else if config.voters.len() >= 3 && self.atlas.damaged_now() <= (config.voters.len() - 2) / 2 {
            // A removal keeps the damaged disks within the recoverability budget of the smaller
            // configuration (see `disk/atlas.rs`).
            let voters: Vec<NodeId> = config.voters.iter().collect();
            Op::Change(MembershipChange::Remove(voters[pick as usize % voters.len()]))
        } else {
            return;
        };
        self.perform_at_leader(leader, op, wipe);
    }

    /// A scenario's membership step: `op` on node `n`, at the current leader (refused, and
    /// traced so, when there is none). `wipe` with `add`: wipe the server's disk once the leader
    /// accepted the change.
    pub fn scripted_membership(&mut self, op: ScriptedOp, n: u8, wipe: bool) {
        let id = NodeId(u32::from(n));
        let op = match op {
            ScriptedOp::Add => Op::Change(MembershipChange::AddLearner(id)),
            ScriptedOp::Promote => Op::Change(MembershipChange::Promote(id)),
            ScriptedOp::Remove => Op::Change(MembershipChange::Remove(id)),
            ScriptedOp::Transfer => Op::Transfer(n),
        };
        match self.current_leader() {
            Some(leader) if self.nodes[leader as usize].is_up() => self.perform_at_leader(leader, op, wipe),
            _ => {
                self.trace_membership(u8::MAX, op, Some(&"no leader".to_string()));
                if matches!(op, Op::Change(_)) {
                    self.membership.changes_refused += 1;
                }
            }
        }
    }

    fn perform_at_leader(&mut self, leader: u8, op: Op, wipe: bool) {
        let (scripted, node) = op.scripted();
        let wipe = wipe && scripted == ScriptedOp::Add;
        self.realize(Realized::Membership { op: scripted, node, wipe });
        self.busy_node = Some(leader);
        let Process::Up(server) = &mut self.nodes[leader as usize].process else { return };
        let outcome: Result<(), String> = match op {
            Op::Transfer(to) => {
                server.node_mut().transfer_leadership(NodeId(u32::from(to))).map_err(|e| e.to_string())
            }
            Op::Change(change) => server
                .node_mut()
                .change_membership(change)
                .map(|_| ())
                .map_err(|e: ChangeError| e.to_string()),
        };
        self.trace_membership(leader, op, outcome.as_ref().err());
        match (op, &outcome) {
            (_, Err(_)) => {
                if matches!(op, Op::Change(_)) {
                    self.membership.changes_refused += 1;
                }
            }
            (Op::Transfer(to), Ok(())) => {
                self.membership.transfers_started += 1;
                let term =
                    self.nodes[leader as usize].server().map(|s| s.node().view().term).unwrap_or_default();
                self.transfer_watch = Some((to, term));
            }
            (Op::Change(MembershipChange::Promote(_)), Ok(())) => {
                self.membership.learners_promoted += 1;
                self.sometimes(Point::LearnerPromoted);
            }
            (Op::Change(MembershipChange::AddLearner(id)), Ok(())) => {
                self.membership.learners_added += 1;
                self.sometimes(Point::ServerAdded);
                if wipe {
                    self.after_node_input(leader);
                    self.wipe(id.0 as u8);
                    return;
                }
            }
            (Op::Change(MembershipChange::Remove(id)), Ok(())) => {
                let after = self.nodes[leader as usize].server().and_then(|s| s.node().configuration());
                if let Some(c) = after.filter(|c| !c.voters.is_empty()) {
                    self.voters_floor = self.voters_floor.min(c.voters.len());
                }
                self.membership.servers_removed += 1;
                self.sometimes(Point::ServerRemoved);
                if id.0 == u32::from(leader) {
                    self.membership.leaders_removed += 1;
                    self.sometimes(Point::LeaderRemovesItself);
                }
            }
        }
        self.after_node_input(leader);
    }

    /// A server out of the configuration loses its disk and starts again knowing nobody.
    fn wipe(&mut self, n: u8) {
        if n == self.current_leader().unwrap_or(u8::MAX) {
            return;
        }
        // The crash and restart belong to the membership operation, recorded as such: an
        // exported scenario's add-server with "wipe" makes them again.
        let recording = self.realized.take();
        self.crash(n);
        let slot = &mut self.nodes[n as usize];
        slot.disk = crate::disk::Disk::default();
        self.joins_empty[n as usize] = true;
        self.checks.on_wipe(n);
        self.membership.wiped_and_readded += 1;
        self.sometimes(Point::WipedServerRejoins);
        self.trace.mix(&[self.now, 21, u64::from(n)]);
        if self.trace.detailed() {
            self.trace.line(self.now, "wipe", format_args!("\"node\":{n}"));
        }
        self.restart(n);
        self.realized = recording;
    }

    fn trace_membership(&mut self, leader: u8, op: Op, refused: Option<&String>) {
        let (scripted, id) = op.scripted();
        let (kind, short) = scripted.code_and_name();
        self.trace.mix(&[self.now, 20, u64::from(leader), kind, u64::from(id), u64::from(refused.is_some())]);
        if self.trace.detailed() {
            let what = match op {
                Op::Transfer(to) => format!("transfer to n{to}"),
                Op::Change(c) => format!("{c:?}"),
            };
            let result = refused.map_or_else(|| "started".to_string(), |e| format!("refused: {e}"));
            self.trace.line(
                self.now,
                "membership",
                format_args!(
                    "\"leader\":{leader},\"kind\":\"{short}\",\"target\":{id},\"refused\":{},\"op\":{},\"result\":{}",
                    refused.is_some(),
                    crate::trace::json_str(&what),
                    crate::trace::json_str(&result)
                ),
            );
        }
    }

    /// After a node's input: a transfer under way is completed when its target leads.
    pub(super) fn watch_transfer(&mut self) {
        let Some((to, term)) = self.transfer_watch else { return };
        let Some(server) = self.nodes[to as usize].server() else { return };
        let view = server.node().view();
        if view.role == Role::Leader && view.term > term {
            self.membership.transfers_completed += 1;
            self.transfer_watch = None;
            self.sometimes(Point::TransferCompleted);
        } else if view.term > term.next() {
            self.transfer_watch = None;
        }
    }
}
