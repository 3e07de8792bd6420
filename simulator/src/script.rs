//! Running a scenario's schedule inside a run: one step at a time, in virtual time.
//!
//! A step starts at its `at` time or `after` the previous one, waits for its `when` condition
//! (polling every few milliseconds of virtual time, up to `within`), acts, checks its
//! expectations (watching a window if one has a duration), and hands over to the next step.
//! Expectations that fail are collected; the run goes on, and its verdict names the first.

use std::collections::BTreeMap;

use raft_core::{Role, Term};
use rand::seq::SliceRandom;

use crate::network::Cuts;
use crate::queue::Event;
use crate::rng::{self, between, Stream};
use crate::scenario::{network_patch, Action, Condition, Delay, NodeSpec, Scenario, Step};
use crate::world::World;

/// How often a waiting step looks again.
const POLL_NS: u64 = 5_000_000;

/// Where the current step is.
#[derive(Clone, Debug)]
enum Phase {
    Start,
    Waiting { deadline: u64 },
    Window { baseline: Baseline },
}

/// The counters a window compares against.
#[derive(Clone, Debug)]
struct Baseline {
    leader_changes: u64,
    max_term: Term,
    committed: usize,
}

pub struct Script<'s> {
    scenario: &'s Scenario,
    pc: usize,
    phase: Phase,
    rng: Stream,
    saved: BTreeMap<String, Vec<u8>>,
    marks: BTreeMap<String, (u64, u64)>,
    failures: Vec<String>,
    done: bool,
}

impl<'s> Script<'s> {
    #[must_use]
    pub fn new(scenario: &'s Scenario, seed: u64) -> Script<'s> {
        Script {
            scenario,
            pc: 0,
            phase: Phase::Start,
            rng: rng::stream(seed, "scenario"),
            saved: BTreeMap::new(),
            marks: BTreeMap::new(),
            failures: Vec::new(),
            done: scenario.steps.is_empty(),
        }
    }

    /// Arms the first step.
    pub fn start(&mut self, world: &mut World) {
        if !self.done {
            let delay = self.delay_of(0);
            self.arm(world, world.now + delay);
        }
    }

    #[must_use]
    pub fn done(&self) -> bool {
        self.done
    }

    /// The expectations that failed, in the order they failed.
    #[must_use]
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// Records a failure that the run loop noticed (a schedule cut short).
    pub fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    /// The label of the step in progress, for messages.
    #[must_use]
    pub fn current_label(&self) -> Option<&str> {
        self.scenario.steps.get(self.pc).map(|s| s.label.as_str())
    }

    /// A `ScheduleStep` event fired.
    pub fn on_event(&mut self, world: &mut World, step: u32) {
        if self.done || step as usize != self.pc {
            return;
        }
        let now = world.now;
        let s = &self.scenario.steps[self.pc];
        match self.phase.clone() {
            Phase::Start => {
                if let Some(at) = s.at {
                    if now < at {
                        self.arm(world, at);
                        return;
                    }
                }
                if let Some(n) = s.unless_up_at_least {
                    if up_nodes(world).len() >= n {
                        self.advance(world);
                        return;
                    }
                }
                match s.when {
                    Some(c) if !holds(world, c) => {
                        self.phase = Phase::Waiting { deadline: now + s.within_ns };
                        self.arm(world, now + POLL_NS);
                    }
                    _ => self.act(world),
                }
            }
            Phase::Waiting { deadline } => {
                let condition = s.when.unwrap_or(Condition::Leader);
                if holds(world, condition) {
                    self.act(world);
                } else if now >= deadline {
                    let message = format!(
                        "{}: waited {} for {}, in vain",
                        s.label,
                        crate::config::ms(s.within_ns),
                        describe_condition(condition)
                    );
                    self.failures.push(message);
                    self.advance(world);
                } else {
                    self.arm(world, now + POLL_NS);
                }
            }
            Phase::Window { baseline, .. } => {
                self.close_window(world, &baseline);
                self.advance(world);
            }
        }
    }

    fn act(&mut self, world: &mut World) {
        let s = &self.scenario.steps[self.pc];
        if let Err(message) = self.perform(world, s) {
            self.failures.push(format!("{}: {message}", s.label));
        }
        self.check_now(world, s);
        let e = &s.expect;
        let window =
            [e.no_new_leader_for, e.term_stable_for, e.no_commit_for].iter().flatten().map(|d| d.0).max();
        match window {
            Some(length) => {
                let until = world.now + length;
                self.phase = Phase::Window { baseline: baseline(world) };
                self.arm(world, until);
            }
            None => self.advance(world),
        }
    }

    fn advance(&mut self, world: &mut World) {
        self.pc += 1;
        self.phase = Phase::Start;
        if self.pc >= self.scenario.steps.len() {
            self.done = true;
            return;
        }
        let delay = self.delay_of(self.pc);
        self.arm(world, world.now + delay);
    }

    fn delay_of(&mut self, pc: usize) -> u64 {
        match self.scenario.steps[pc].after {
            None => 0,
            Some(Delay::Fixed(d)) => d.0,
            Some(Delay::Range { min, max }) => between(&mut self.rng, min.0, max.0),
        }
    }

    fn arm(&self, world: &mut World, at: u64) {
        world.queue.push(at, Event::ScheduleStep { step: self.pc as u32 });
    }

    /// Carries out a step's action.
    fn perform(&mut self, world: &mut World, s: &Step) -> Result<(), String> {
        let nodes = match &s.node {
            Some(spec) => self.resolve(world, spec)?,
            None => Vec::new(),
        };
        if let Some(name) = &s.save_as {
            self.saved.insert(name.clone(), nodes.clone());
        }
        let n_all = world.nodes.len();
        match s.action {
            Action::Crash => nodes.iter().for_each(|n| world.crash(*n)),
            Action::Restart => nodes.iter().for_each(|n| world.restart(*n)),
            Action::Pause => nodes.iter().for_each(|n| world.pause(*n)),
            Action::Resume => nodes.iter().for_each(|n| world.resume(*n)),
            Action::Isolate => {
                let mut cuts = *world.network.cuts();
                for &n in &nodes {
                    let others: Vec<usize> = (0..n_all).filter(|m| *m != usize::from(n)).collect();
                    cuts.separate(&[usize::from(n)], &others);
                }
                world.set_cuts(cuts, "isolate", true);
            }
            Action::Connect => {
                let mut cuts = *world.network.cuts();
                for &n in &nodes {
                    cuts.blocked[usize::from(n)] = 0;
                    for b in cuts.blocked.iter_mut() {
                        *b &= !(1u32 << n);
                    }
                }
                world.set_cuts(cuts, "connect", false);
            }
            Action::Partition => match (&s.shape, &s.groups) {
                (Some(shape), _) => world.partition_shape(*shape),
                (None, Some(groups)) => {
                    let mut cuts = Cuts::none();
                    for (i, a) in groups.iter().enumerate() {
                        for b in &groups[i + 1..] {
                            let a: Vec<usize> = a.iter().map(|n| usize::from(*n)).collect();
                            let b: Vec<usize> = b.iter().map(|n| usize::from(*n)).collect();
                            cuts.separate(&a, &b);
                        }
                    }
                    world.set_cuts(cuts, "groups", true);
                }
                (None, None) => return Err("partition without a shape or groups".into()),
            },
            Action::Cut => {
                let (Some(from), Some(to)) = (s.from, s.to) else {
                    return Err("cut without from and to".into());
                };
                let mut cuts = *world.network.cuts();
                cuts.cut(usize::from(from), usize::from(to));
                world.set_cuts(cuts, "one-way", true);
            }
            Action::Heal => world.heal(),
            Action::Network => {
                let patch = network_patch(s.network.as_ref().ok_or("network without fields")?)?;
                let mut current = serde_json::to_value(&world.network.config).map_err(|e| e.to_string())?;
                if let (Some(c), Some(p)) = (current.as_object_mut(), patch.as_object()) {
                    for (k, v) in p {
                        c.insert(k.clone(), v.clone());
                    }
                }
                let config = serde_json::from_value(current).map_err(|e| format!("network: {e}"))?;
                world.set_network(config);
            }
            Action::Drift => {
                let ppm = s.ppm.unwrap_or(0);
                nodes.iter().for_each(|n| world.set_drift(*n, ppm));
            }
            Action::Submit => world.submit_ops(s.ops.unwrap_or(0)),
            Action::Mark => {
                let stats = &world.network.stats;
                self.marks.insert(s.name.clone().unwrap_or_default(), (stats.raft_sent, stats.raft_bytes));
            }
            Action::Wait => {}
        }
        Ok(())
    }

    /// The nodes a spec names right now.
    fn resolve(&mut self, world: &World, spec: &NodeSpec) -> Result<Vec<u8>, String> {
        let all: Vec<u8> = (0..world.nodes.len() as u8).collect();
        let up = up_nodes(world);
        let down: Vec<u8> =
            all.iter().copied().filter(|n| world.nodes[usize::from(*n)].server().is_none()).collect();
        let pick = |rng: &mut Stream, from: &[u8], what: &str| -> Result<Vec<u8>, String> {
            from.choose(rng).map(|n| vec![*n]).ok_or_else(|| format!("no {what} node to pick"))
        };
        match spec {
            NodeSpec::Id(n) => Ok(vec![*n]),
            NodeSpec::List(list) => Ok(list.clone()),
            NodeSpec::Random { random } => {
                let mut nodes = all.clone();
                nodes.shuffle(&mut self.rng);
                nodes.truncate(*random);
                nodes.sort_unstable();
                Ok(nodes)
            }
            NodeSpec::Named(name) => match name.as_str() {
                "leader" => serving_leader(world)
                    .or_else(|| world.current_leader())
                    .map(|l| vec![l])
                    .ok_or_else(|| "there is no leader".into()),
                "follower" => {
                    let leader = world.current_leader();
                    let followers: Vec<u8> = up.iter().copied().filter(|n| Some(*n) != leader).collect();
                    pick(&mut self.rng, &followers, "follower")
                }
                "random" => pick(&mut self.rng, &all, "random"),
                "random-up" => pick(&mut self.rng, &up, "running"),
                "random-down" => pick(&mut self.rng, &down, "crashed"),
                "all" => Ok(all),
                "up" => Ok(up),
                "down" => Ok(down),
                other => match other.strip_prefix('$').and_then(|var| self.saved.get(var)) {
                    Some(nodes) => Ok(nodes.clone()),
                    None => Err(format!("unknown node \"{other}\"")),
                },
            },
        }
    }

    fn check_now(&mut self, world: &World, s: &Step) {
        let e = &s.expect;
        let mut fail = |what: String| self.failures.push(format!("{}: {what}", s.label));
        if let Some(want) = e.leader {
            let leader = serving_leader(world);
            match (want, leader) {
                (true, None) => fail("expected a leader reaching a majority, found none".into()),
                (false, Some(l)) => fail(format!("expected no leader, but n{l} leads a majority")),
                _ => {}
            }
        }
        if e.terms_agree == Some(true) {
            let terms: std::collections::BTreeSet<Term> = world
                .nodes
                .iter()
                .filter(|s| s.is_up())
                .filter_map(|s| s.server())
                .map(|s| s.node().term())
                .collect();
            if terms.len() > 1 {
                let list: Vec<String> = terms.iter().map(ToString::to_string).collect();
                fail(format!("running nodes disagree on the term: {}", list.join(", ")));
            }
        }
        if let Some(k) = e.committed_at_least {
            let committed = world.checks.applied_commands().count() as u64;
            if committed < k {
                fail(format!("expected at least {k} client commands committed, found {committed}"));
            }
        }
        if e.applied_on_all == Some(true) {
            let committed = world.checks.applied_len() as u64;
            for n in up_nodes(world) {
                let applied = world.nodes[usize::from(n)].server().map_or(0, |s| s.node().applied_index().0);
                if applied < committed {
                    fail(format!("n{n} applied up to {applied}, short of {committed} committed"));
                }
            }
        }
        if let Some(mark) = &e.since {
            let (sent, bytes) = self.marks.get(mark).copied().unwrap_or_default();
            let stats = &world.network.stats;
            if let Some(max) = e.messages_at_most {
                let n = stats.raft_sent - sent;
                if n > max {
                    fail(format!(
                        "{n} messages between servers since mark \"{mark}\", expected at most {max}"
                    ));
                }
            }
            if let Some(max) = e.bytes_at_most {
                let n = stats.raft_bytes - bytes;
                if n > max {
                    fail(format!("{n} bytes between servers since mark \"{mark}\", expected at most {max}"));
                }
            }
        }
        if let Some(k) = e.ops_ok_at_least {
            let ok = world.workload.stats.ok;
            if ok < k {
                fail(format!("expected at least {k} operations completed, found {ok}"));
            }
        }
    }

    fn close_window(&mut self, world: &World, before: &Baseline) {
        let s = &self.scenario.steps[self.pc];
        let now = baseline(world);
        let e = &s.expect;
        if let Some(d) = e.no_new_leader_for {
            if now.leader_changes != before.leader_changes {
                let n = now.leader_changes - before.leader_changes;
                self.failures.push(format!(
                    "{}: {n} new leader(s) within {}, expected none",
                    s.label,
                    crate::config::ms(d.0)
                ));
            }
        }
        if let Some(d) = e.term_stable_for {
            if now.max_term != before.max_term {
                self.failures.push(format!(
                    "{}: the term moved from {} to {} within {}, expected it to stay put",
                    s.label,
                    before.max_term,
                    now.max_term,
                    crate::config::ms(d.0)
                ));
            }
        }
        if let Some(d) = e.no_commit_for {
            if now.committed != before.committed {
                self.failures.push(format!(
                    "{}: {} entries committed within {}, expected none",
                    s.label,
                    now.committed - before.committed,
                    crate::config::ms(d.0)
                ));
            }
        }
    }
}

fn baseline(world: &World) -> Baseline {
    let max_term =
        world.nodes.iter().filter_map(|s| s.server()).map(|s| s.node().term()).max().unwrap_or_default();
    Baseline {
        leader_changes: world.checks.notes.leader_changes,
        max_term,
        committed: world.checks.committed_len(),
    }
}

fn up_nodes(world: &World) -> Vec<u8> {
    (0..world.nodes.len() as u8).filter(|n| world.nodes[usize::from(*n)].is_up()).collect()
}

/// A leader that can exchange messages with a majority of the cluster (itself included): one
/// that can actually serve. A deposed leader cut off in a minority does not count.
#[must_use]
pub fn serving_leader(world: &World) -> Option<u8> {
    let n = world.nodes.len();
    let cuts = world.network.cuts();
    let mut best: Option<(Term, u8)> = None;
    for (i, slot) in world.nodes.iter().enumerate() {
        let Some(server) = slot.server().filter(|_| slot.is_up()) else { continue };
        if server.node().role() != Role::Leader {
            continue;
        }
        let reachable = (0..n)
            .filter(|&j| j == i || (world.nodes[j].is_up() && !cuts.is_cut(i, j) && !cuts.is_cut(j, i)))
            .count();
        let term = server.node().term();
        if reachable > n / 2 && best.is_none_or(|(t, _)| term > t) {
            best = Some((term, i as u8));
        }
    }
    best.map(|(_, l)| l)
}

fn holds(world: &World, condition: Condition) -> bool {
    match condition {
        Condition::Leader => serving_leader(world).is_some(),
        Condition::NoLeader => serving_leader(world).is_none(),
        Condition::Idle => world.workload.all_idle() && world.workload.budget_spent(),
        Condition::Converged => {
            let Some(leader) = serving_leader(world) else { return false };
            let Some(commit) = world.nodes[usize::from(leader)].server().map(|s| s.node().commit_index())
            else {
                return false;
            };
            world
                .nodes
                .iter()
                .filter(|s| s.is_up())
                .all(|s| s.server().is_some_and(|s| s.node().applied_index() == commit))
        }
    }
}

fn describe_condition(c: Condition) -> &'static str {
    match c {
        Condition::Leader => "a leader reaching a majority",
        Condition::NoLeader => "no leader",
        Condition::Idle => "every client to finish its operations",
        Condition::Converged => "every running node to apply what the leader committed",
    }
}
