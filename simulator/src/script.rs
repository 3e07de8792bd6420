//! Running a scenario's schedule inside a run: one step at a time, in virtual time.
//!
//! A step starts at its `at` time or `after` the previous one, waits for its `when` condition
//! (polling every few milliseconds of virtual time, up to `within`), acts, checks its
//! expectations (watching a window if one has a duration), and hands over to the next step.
//! Expectations that fail are collected; the run goes on, and its verdict names the first.
//!
//! `isolate` and `connect` follow the lab's disconnect and reconnect: a node isolated stays cut
//! off until it is itself connected again, even when a neighbour reconnects in between.

use raft_host::Raft;
use std::collections::BTreeMap;

use raft_host::{Role, Term};
use rand::seq::SliceRandom;

use crate::network::Cuts;
use crate::queue::Event;
use crate::rng::{self, between, Stream};
use crate::scenario::{network_patch, Action, Condition, Delay, NodeSpec, Pick, Scenario, Step};
use crate::world::{ScriptedOp, World};

/// How often a waiting step looks again.
const POLL_NS: u64 = 5_000_000;

/// The counters a mark remembers, for expectations measured `since` it.
#[derive(Copy, Clone, Debug, Default)]
struct Counts {
    messages: u64,
    bytes: u64,
    committed: u64,
    ops_ok: u64,
    installed: u64,
}

impl Counts {
    fn now<R: Raft>(world: &World<R>) -> Counts {
        let stats = &world.network.stats;
        Counts {
            messages: stats.raft_sent,
            bytes: stats.raft_bytes,
            committed: world.checks.applied_command_count() as u64,
            ops_ok: world.workload.stats.ok,
            installed: world.snapshots.installed,
        }
    }
}

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
    /// With `expect.on`: the watched nodes and their commit indexes when the window opened.
    watched: Option<Vec<(u8, u64)>>,
}

#[derive(Clone)]
pub struct Script<'s> {
    scenario: &'s Scenario,
    pc: usize,
    phase: Phase,
    rng: Stream,
    saved: BTreeMap<String, Vec<u8>>,
    marks: BTreeMap<String, Counts>,
    /// Nodes cut off by `isolate` and not yet connected again, as a bit mask.
    isolated: u32,
    failures: Vec<String>,
    done: bool,
}

impl<'s> Script<'s> {
    /// Draws from the stream of `root` from now on (a branch of the run forks here).
    pub fn reseed(&mut self, root: u64) {
        self.rng = rng::stream(root, "scenario");
    }

    #[must_use]
    pub fn new(scenario: &'s Scenario, seed: u64) -> Script<'s> {
        Script {
            scenario,
            pc: 0,
            phase: Phase::Start,
            rng: rng::stream(seed, "scenario"),
            saved: BTreeMap::new(),
            marks: BTreeMap::new(),
            isolated: 0,
            failures: Vec::new(),
            done: scenario.steps.is_empty(),
        }
    }

    /// Arms the first step.
    pub fn start<R: Raft>(&mut self, world: &mut World<R>) {
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
    pub fn on_event<R: Raft>(&mut self, world: &mut World<R>, step: u32) {
        if self.done || step as usize != self.pc {
            return;
        }
        let now = world.now;
        let s = &self.scenario.steps[self.pc];
        match self.phase.clone() {
            Phase::Start => {
                if let Some(at) = s.at {
                    if now < at {
                        if s.late {
                            world.queue.push_late(at, Event::ScheduleStep { step: self.pc as u32 });
                        } else {
                            self.arm(world, at);
                        }
                        return;
                    }
                }
                if let Some(why) = self.skip_reason(world, s) {
                    // A skipped step saves no nodes, so that a later step acting on what it
                    // would have saved does nothing either.
                    if let Some(name) = &s.save_as {
                        self.saved.insert(name.clone(), Vec::new());
                    }
                    if world.trace.detailed() {
                        world.trace.line(
                            now,
                            "step",
                            format_args!("\"step\":{},\"skipped\":{}", json(&s.label), json(why)),
                        );
                    }
                    self.advance(world);
                    return;
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
                        describe_condition(world, condition)
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

    fn act<R: Raft>(&mut self, world: &mut World<R>) {
        let s = &self.scenario.steps[self.pc];
        if world.trace.detailed() {
            world.trace.line(world.now, "step", format_args!("\"step\":{}", json(&s.label)));
        }
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
                let mut start = baseline(world);
                if let Some(spec) = &e.on {
                    match self.resolve(world, spec) {
                        Ok(nodes) => {
                            start.watched =
                                Some(nodes.iter().map(|n| (*n, commit_index(world, *n))).collect());
                        }
                        Err(message) => self.failures.push(format!("{}: expect.on: {message}", s.label)),
                    }
                }
                self.phase = Phase::Window { baseline: start };
                self.arm(world, until);
            }
            None => self.advance(world),
        }
    }

    /// Why the step at hand is skipped, if it is: the `unless_*` counts, `if` and `chance`.
    fn skip_reason<R: Raft>(&mut self, world: &World<R>, s: &Step) -> Option<&'static str> {
        if s.unless_up_at_least.is_some_and(|n| up_nodes(world).len() >= n) {
            return Some("enough nodes up");
        }
        if s.unless_connected_at_least.is_some_and(|n| connected_nodes(world) >= n) {
            return Some("enough nodes connected");
        }
        if s.if_.is_some_and(|c| !holds(world, c)) {
            return Some("its condition does not hold");
        }
        // Drawn only for steps that have a chance, so that other files' runs are unchanged.
        if s.chance.is_some_and(|ppm| !rng::chance(&mut self.rng, ppm)) {
            return Some("the draw said no");
        }
        None
    }

    fn advance<R: Raft>(&mut self, world: &mut World<R>) {
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

    fn arm<R: Raft>(&self, world: &mut World<R>, at: u64) {
        world.queue.push(at, Event::ScheduleStep { step: self.pc as u32 });
    }

    /// Carries out a step's action.
    fn perform<R: Raft>(&mut self, world: &mut World<R>, s: &Step) -> Result<(), String> {
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
            Action::AddServer => {
                nodes.iter().for_each(|n| world.scripted_membership(ScriptedOp::Add, *n, s.wipe))
            }
            Action::PromoteServer => {
                nodes.iter().for_each(|n| world.scripted_membership(ScriptedOp::Promote, *n, false));
            }
            Action::RemoveServer => {
                nodes.iter().for_each(|n| world.scripted_membership(ScriptedOp::Remove, *n, false));
            }
            Action::TransferLeader => {
                nodes.iter().for_each(|n| world.scripted_membership(ScriptedOp::Transfer, *n, false));
            }
            Action::DamageDisk => {
                let fault = s.fault.ok_or("\"damage-disk\" without \"fault\"")?;
                for &n in &nodes {
                    world.damage_disk_within_budget(n, fault);
                }
            }
            Action::Restart => nodes.iter().for_each(|n| world.restart(*n)),
            Action::Pause => nodes.iter().for_each(|n| world.pause(*n)),
            Action::Resume => nodes.iter().for_each(|n| world.resume(*n)),
            Action::Isolate => {
                let mut cuts = *world.network.cuts();
                for &n in &nodes {
                    let others: Vec<usize> = (0..n_all).filter(|m| *m != usize::from(n)).collect();
                    cuts.separate(&[usize::from(n)], &others);
                    self.isolated |= 1 << n;
                }
                world.set_cuts(cuts, "isolate", true);
            }
            Action::Connect => {
                // The lab's reconnect: links to nodes that are themselves still isolated stay cut.
                let mut cuts = *world.network.cuts();
                for &n in &nodes {
                    self.isolated &= !(1u32 << n);
                }
                for &n in &nodes {
                    let reachable = !self.isolated;
                    cuts.blocked[usize::from(n)] &= !reachable;
                    for (m, b) in cuts.blocked.iter_mut().enumerate() {
                        if reachable & (1 << m) != 0 {
                            *b &= !(1u32 << n);
                        }
                    }
                }
                world.set_cuts(cuts, "connect", false);
            }
            Action::Partition => match (&s.shape, &s.groups) {
                _ if s.links.is_some() => {
                    let mut cuts = Cuts::none();
                    for [a, b] in s.links.iter().flatten() {
                        cuts.cut(usize::from(*a), usize::from(*b));
                    }
                    self.isolated = 0;
                    let label = s.partition_label.as_deref().unwrap_or("links");
                    world.set_cuts(cuts, label, s.counted.unwrap_or(true));
                }
                (Some(shape), _) => {
                    self.isolated = 0;
                    world.partition_shape(*shape);
                }
                (None, Some(groups)) => {
                    let mut resolved: Vec<Vec<usize>> = Vec::new();
                    let mut seen = 0u32;
                    for group in groups {
                        let group = self.resolve(world, group)?;
                        for n in &group {
                            if seen & (1 << n) != 0 {
                                return Err(format!("node {n} is in two groups of the partition"));
                            }
                            seen |= 1 << n;
                        }
                        resolved.push(group.iter().map(|n| usize::from(*n)).collect());
                    }
                    let mut cuts = Cuts::none();
                    for (i, a) in resolved.iter().enumerate() {
                        for b in &resolved[i + 1..] {
                            cuts.separate(a, b);
                        }
                    }
                    self.isolated = 0;
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
            Action::Heal => {
                self.isolated = 0;
                world.heal();
            }
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
                self.marks.insert(s.name.clone().unwrap_or_default(), Counts::now(world));
            }
            Action::Pick | Action::Wait => {}
        }
        Ok(())
    }

    /// The nodes a spec names right now.
    fn resolve<R: Raft>(&mut self, world: &World<R>, spec: &NodeSpec) -> Result<Vec<u8>, String> {
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
            NodeSpec::Union(specs) => {
                let mut nodes = Vec::new();
                for spec in specs {
                    nodes.extend(self.resolve(world, spec)?);
                }
                nodes.sort_unstable();
                nodes.dedup();
                Ok(nodes)
            }
            NodeSpec::Pick(Pick { random, from, except }) => {
                let mut nodes = match from {
                    Some(from) => self.resolve(world, from)?,
                    None => all.clone(),
                };
                for spec in except {
                    let out = self.resolve(world, spec)?;
                    nodes.retain(|n| !out.contains(n));
                }
                nodes.sort_unstable();
                nodes.dedup();
                if let Some(k) = *random {
                    if nodes.len() < k {
                        return Err(format!("cannot pick {k} of the {} nodes left ({nodes:?})", nodes.len()));
                    }
                    nodes.shuffle(&mut self.rng);
                    nodes.truncate(k);
                    nodes.sort_unstable();
                }
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

    fn check_now<R: Raft>(&mut self, world: &World<R>, s: &Step) {
        let e = &s.expect;
        let mut failures = Vec::new();
        let mut fail = |what: String| failures.push(format!("{}: {what}", s.label));
        if let Some(want) = e.leader {
            let leader = serving_leader(world);
            match (want, leader) {
                (true, None) => fail("expected a leader reaching a majority, found none".into()),
                (false, Some(l)) => fail(format!("expected no leader, but n{l} leads a majority")),
                _ => {}
            }
        }
        if let Some(spec) = &e.no_leader_on {
            match self.resolve(world, spec) {
                Ok(nodes) => {
                    for n in nodes {
                        let slot = &world.nodes[usize::from(n)];
                        let leads = slot.is_up()
                            && slot.server().is_some_and(|s| s.node().view().role == Role::Leader);
                        if leads {
                            fail(format!(
                                "expected no leader among the nodes watched, but n{n} believes it leads"
                            ));
                        }
                    }
                }
                Err(message) => fail(format!("expect.no_leader_on: {message}")),
            }
        }
        if e.terms_agree == Some(true) {
            let terms: std::collections::BTreeSet<Term> = world
                .nodes
                .iter()
                .filter(|s| s.is_up())
                .filter_map(|s| s.server())
                .map(|s| s.node().view().term)
                .collect();
            if terms.len() > 1 {
                let list: Vec<String> = terms.iter().map(ToString::to_string).collect();
                fail(format!("running nodes disagree on the term: {}", list.join(", ")));
            }
        }
        // Counts are from the start of the run, or from the mark named by `since`. Counting
        // committed commands walks the applied log, so it is done only when a count is asked.
        let counted = [
            e.committed_at_least,
            e.committed_at_most,
            e.ops_ok_at_least,
            e.messages_at_most,
            e.bytes_at_most,
            e.snapshots_installed_at_least,
        ];
        if counted.iter().any(Option::is_some) {
            let now = Counts::now(world);
            let (from, since) = match &e.since {
                Some(mark) => {
                    (self.marks.get(mark).copied().unwrap_or_default(), format!(" since mark \"{mark}\""))
                }
                None => (Counts::default(), String::new()),
            };
            let committed = now.committed.saturating_sub(from.committed);
            if let Some(k) = e.committed_at_least.filter(|k| committed < *k) {
                fail(format!("expected at least {k} client commands committed{since}, found {committed}"));
            }
            if let Some(k) = e.committed_at_most.filter(|k| committed > *k) {
                fail(format!("expected at most {k} client commands committed{since}, found {committed}"));
            }
            let ok = now.ops_ok.saturating_sub(from.ops_ok);
            if let Some(k) = e.ops_ok_at_least.filter(|k| ok < *k) {
                fail(format!("expected at least {k} operations completed{since}, found {ok}"));
            }
            let messages = now.messages.saturating_sub(from.messages);
            if let Some(max) = e.messages_at_most.filter(|max| messages > *max) {
                fail(format!("{messages} messages between servers{since}, expected at most {max}"));
            }
            let bytes = now.bytes.saturating_sub(from.bytes);
            if let Some(max) = e.bytes_at_most.filter(|max| bytes > *max) {
                fail(format!("{bytes} bytes between servers{since}, expected at most {max}"));
            }
            let installed = now.installed.saturating_sub(from.installed);
            if let Some(k) = e.snapshots_installed_at_least.filter(|k| installed < *k) {
                fail(format!("expected at least {k} snapshots installed{since}, found {installed}"));
            }
        }
        let sizes = e.raft_state_bytes_at_most.is_some() || e.snapshot_bytes_at_most.is_some();
        for n in up_nodes(world).into_iter().filter(|_| sizes) {
            let Some(server) = world.nodes[usize::from(n)].server() else { continue };
            let raft_state = server.node().raft_state_bytes();
            if let Some(max) = e.raft_state_bytes_at_most.filter(|max| raft_state > *max) {
                fail(format!("n{n}'s persisted Raft state takes {raft_state} bytes, expected at most {max}"));
            }
            let snapshot = world.nodes[usize::from(n)].disk.snapshot_file().map_or(0, |f| f.len() as u64);
            if let Some(max) = e.snapshot_bytes_at_most.filter(|max| snapshot > *max) {
                fail(format!("n{n}'s snapshot takes {snapshot} bytes, expected at most {max}"));
            }
        }
        if e.appends_intact == Some(true) {
            if let Err(what) = appends_intact(world) {
                fail(what);
            }
        }
        if e.applied_on_all == Some(true) {
            let committed = world.checks.applied_len() as u64;
            for n in up_nodes(world) {
                let applied = world.nodes[usize::from(n)].server().map_or(0, |s| s.node().view().applied.0);
                if applied < committed {
                    fail(format!("n{n} applied up to {applied}, short of {committed} committed"));
                }
            }
        }
        self.failures.extend(failures);
    }

    fn close_window<R: Raft>(&mut self, world: &World<R>, before: &Baseline) {
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
        if let (Some(d), Some(watched)) = (e.no_commit_for, &before.watched) {
            for &(n, at_start) in watched {
                let commit = commit_index(world, n);
                if commit > at_start {
                    self.failures.push(format!(
                        "{}: n{n} committed up to {commit} within {}, from {at_start}; expected nothing new",
                        s.label,
                        crate::config::ms(d.0)
                    ));
                }
            }
        } else if let Some(d) = e.no_commit_for {
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

fn baseline<R: Raft>(world: &World<R>) -> Baseline {
    let max_term =
        world.nodes.iter().filter_map(|s| s.server()).map(|s| s.node().view().term).max().unwrap_or_default();
    Baseline {
        leader_changes: world.checks.notes.leader_changes,
        max_term,
        committed: world.checks.committed_len(),
        watched: None,
    }
}

fn up_nodes<R: Raft>(world: &World<R>) -> Vec<u8> {
    (0..world.nodes.len() as u8).filter(|n| world.nodes[usize::from(*n)].is_up()).collect()
}

/// Running nodes none of whose links is cut, either way: the lab's "connected" servers.
fn connected_nodes<R: Raft>(world: &World<R>) -> usize {
    let n = world.nodes.len();
    let cuts = world.network.cuts();
    (0..n)
        .filter(|&i| world.nodes[i].is_up())
        .filter(|&i| (0..n).all(|j| !cuts.is_cut(i, j) && !cuts.is_cut(j, i)))
        .count()
}

/// A node's commit index (0 while it is down).
fn commit_index<R: Raft>(world: &World<R>, n: u8) -> u64 {
    world.nodes[usize::from(n)].server().map_or(0, |s| s.node().view().commit.0)
}

/// How many running nodes applied every entry committed anywhere.
fn applied_everywhere<R: Raft>(world: &World<R>) -> usize {
    let committed = world.checks.committed_len() as u64;
    world
        .nodes
        .iter()
        .filter(|slot| slot.is_up())
        .filter(|slot| slot.server().is_some_and(|s| s.node().view().applied.0 >= committed))
        .count()
}

/// The lab's check of a client's appends, on every running node: each key's value is a
/// sequence of appends (`c<client>.<seq>`, padded with `-`, each ended by `;`); none may appear
/// twice, each client's must be in the order it made them, and every append a client was told
/// succeeded must be there.
fn appends_intact<R: Raft>(world: &World<R>) -> Result<(), String> {
    let mut acknowledged: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for call in world.workload.history() {
        if call.kind == checker::KvKind::Append && call.status == checker::Status::Ok {
            acknowledged.entry(call.key.as_str()).or_default().push(call.value.as_str());
        }
    }
    for n in up_nodes(world) {
        let Some(server) = world.nodes[usize::from(n)].server() else { continue };
        for (key, appends) in &acknowledged {
            let value = server.store().read(key);
            let mut seen = std::collections::BTreeSet::new();
            let mut last_seq: BTreeMap<u64, u64> = BTreeMap::new();
            for token in value.split_terminator(';') {
                let tag = token.trim_end_matches('-');
                let Some((client, seq)) = parse_tag(tag) else {
                    return Err(format!("n{n}: key {key} holds {tag:?}, which no client appended"));
                };
                if !seen.insert(tag) {
                    return Err(format!("n{n}: key {key} holds the append {tag} twice"));
                }
                if let Some(before) = last_seq.insert(client, seq).filter(|before| *before > seq) {
                    return Err(format!(
                        "n{n}: key {key} holds client {client}'s append {seq} after its append {before}"
                    ));
                }
            }
            for append in appends {
                let tag = append.trim_end_matches(';').trim_end_matches('-');
                if !seen.contains(tag) {
                    return Err(format!("n{n}: key {key} lacks the acknowledged append {tag}"));
                }
            }
        }
    }
    Ok(())
}

/// `c3.17` as (client 3, seq 17).
fn parse_tag(tag: &str) -> Option<(u64, u64)> {
    let (client, seq) = tag.strip_prefix('c')?.split_once('.')?;
    Some((client.parse().ok()?, seq.parse().ok()?))
}

fn json(text: &str) -> String {
    crate::trace::json_str(text)
}

/// A leader that can exchange messages with a majority of the cluster (itself included): one
/// that can actually serve. A deposed leader cut off in a minority does not count.
#[must_use]
pub fn serving_leader<R: Raft>(world: &World<R>) -> Option<u8> {
    let n = world.nodes.len();
    let cuts = world.network.cuts();
    let mut best: Option<(Term, u8)> = None;
    for (i, slot) in world.nodes.iter().enumerate() {
        let Some(server) = slot.server().filter(|_| slot.is_up()) else { continue };
        if server.node().view().role != Role::Leader {
            continue;
        }
        let reachable = (0..n)
            .filter(|&j| j == i || (world.nodes[j].is_up() && !cuts.is_cut(i, j) && !cuts.is_cut(j, i)))
            .count();
        let term = server.node().view().term;
        if reachable > n / 2 && best.is_none_or(|(t, _)| term > t) {
            best = Some((term, i as u8));
        }
    }
    best.map(|(_, l)| l)
}

fn holds<R: Raft>(world: &World<R>, condition: Condition) -> bool {
    match condition {
        Condition::Leader => serving_leader(world).is_some(),
        Condition::NoLeader => serving_leader(world).is_none(),
        Condition::Idle => world.workload.all_idle() && world.workload.budget_spent(),
        Condition::Issued => world.workload.budget_spent(),
        Condition::AppliedOn(k) => applied_everywhere(world) >= k,
        Condition::Converged => {
            let Some(leader) = serving_leader(world) else { return false };
            let Some(commit) = world.nodes[usize::from(leader)].server().map(|s| s.node().view().commit)
            else {
                return false;
            };
            // A leader fresh from a restart has not yet re-learned what is committed: until it
            // commits in its own term, the replicas only agree on an empty state.
            if (commit.0 as usize) < world.checks.committed_len() {
                return false;
            }
            world
                .nodes
                .iter()
                .filter(|s| s.is_up())
                .all(|s| s.server().is_some_and(|s| s.node().view().applied == commit))
        }
    }
}

fn describe_condition<R: Raft>(world: &World<R>, c: Condition) -> String {
    match c {
        Condition::Leader => "a leader reaching a majority".into(),
        Condition::NoLeader => "no leader".into(),
        Condition::Idle => "every client to finish its operations".into(),
        Condition::Issued => "every submitted operation to be issued".into(),
        Condition::Converged => "every running node to apply what the leader committed".into(),
        Condition::AppliedOn(k) => format!(
            "{k} running nodes to apply every committed entry (up to {}; {} did)",
            world.checks.committed_len(),
            applied_everywhere(world)
        ),
    }
}
