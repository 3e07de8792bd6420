//! Copying a run in the middle: the copy a run makes of itself ([`World::try_clone`](crate::world::World::try_clone)), the
//! branches run off copies of one run's prefix (guided exploration's), those a run forks as it
//! goes where its fault phase ends, what such a branch costs, and the runs that check a copy
//! finishes exactly as the original.

use raft_host::Raft;
use std::time::Instant;

use super::{run_inner, Outcome, RunOptions, Started};
use crate::config::{Implementation, SimConfig};
use crate::scenario::Scenario;

impl<'s, R: Raft> Started<'s, R> {
    /// An exact copy of the run as it stands; None if a server cannot copy itself.
    fn copy(&self) -> Option<Started<'s, R>> {
        Some(Started {
            world: self.world.try_clone()?,
            script: self.script.clone(),
            guard: self.guard.clone(),
            fixed_end: self.fixed_end,
            stalled: self.stalled.clone(),
            wall: self.wall,
        })
    }

    /// An exact copy of this run from here on, following `branch` instead (a path that agrees
    /// with this run's on every fork taken so far), or None if the implementation cannot copy
    /// its nodes.
    fn fork_off(&self, branch: &crate::branch::BranchPath, options: &RunOptions) -> Option<Started<'s, R>> {
        let mut copy = self.copy()?;
        copy.wall = Instant::now();
        copy.guard.branch = branch.clone();
        copy.guard.stop_after = options.stop_after_events.unwrap_or(u64::MAX);
        copy.guard.deadline = options.run_time_limit.map(|limit| copy.wall + limit);
        Some(copy)
    }
}

/// Runs several branches of one run (the same seed, the same path before their last fork, and
/// each a fork of its own, the forks in the order of their events): the run goes to each fork's
/// event once, in turn, and each branch continues from a copy of the run there, so the shared
/// prefix is simulated once however many moments the branches fork at. Each outcome is exactly
/// that of `run` (or `run_scenario`) with the branch's path, and comes with its cost in events:
/// those simulated for it alone, plus [`branch_copy_cost`] for each branch run off a copy; the
/// first branch at each moment also pays for the prefix from the moment before (from the start,
/// for the first moment). Implementations that cannot copy themselves, branches in another
/// order, and forks the run never reaches in its fault phase run from the start (and cost their
/// whole run).
pub fn run_branches(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    branches: &[crate::branch::BranchPath],
    options: &RunOptions,
) -> Vec<(Outcome, u64)> {
    match config.implementation {
        Implementation::RaftCore => {
            run_branches_of::<raft_core::RaftNode>(config, scenario, branches, options)
        }
        Implementation::RaftRs => {
            run_branches_of::<raft_rs_host::RaftRsNode>(config, scenario, branches, options)
        }
    }
}

fn run_branches_of<R: Raft>(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    branches: &[crate::branch::BranchPath],
    options: &RunOptions,
) -> Vec<(Outcome, u64)> {
    let one_by_one = |branches: &[crate::branch::BranchPath]| -> Vec<(Outcome, u64)> {
        branches
            .iter()
            .map(|b| {
                let mut c = config.clone();
                c.branch = b.clone();
                let o = run_inner::<R>(&c, scenario, options);
                let events = o.summary.events;
                (o, events)
            })
            .collect()
    };
    let Some(first) = branches.first() else { return Vec::new() };
    let shared = first.parent();
    // Each branch's fork event, if all fork off the same run, in order.
    let events: Option<Vec<u64>> =
        branches.iter().map(|b| b.forks().last().map(|f| f.event).filter(|_| b.parent() == shared)).collect();
    let Some(events) = events.filter(|e| branches.len() > 1 && e.is_sorted()) else {
        return one_by_one(branches);
    };
    if options.trace_lines || options.checkpoints {
        return one_by_one(branches);
    }
    let mut prefix_config = config.clone();
    prefix_config.branch = shared;
    let prefix_options = RunOptions {
        stop_after_events: Some(events[0]),
        trace_lines: false,
        checkpoints: false,
        ..options.clone()
    };
    let mut prefix = Started::<R>::new(&prefix_config, scenario, &prefix_options);
    let mut out = Vec::with_capacity(branches.len());
    // Where the prefix stood when the last moment's branches were charged for it.
    let mut charged_to = 0;
    for (i, (branch, &fork_event)) in branches.iter().zip(&events).enumerate() {
        let first_here = i == 0 || events[i - 1] != fork_event;
        if first_here {
            prefix.guard.stop_after = fork_event;
            prefix.phases();
        }
        let at_fork = prefix.world.trace.events() == fork_event
            && prefix.world.failure.is_none()
            && prefix.world.fault_phase_end.is_none()
            && prefix.world.overrun.is_none()
            && prefix.guard.out_of_time.is_none();
        let copy = if at_fork { prefix.fork_off(branch, options) } else { None };
        let Some(mut started) = copy else {
            out.extend(one_by_one(&branches[i..]));
            return out;
        };
        let mut c = config.clone();
        c.branch = branch.clone();
        started.phases();
        let outcome = started.finish(&c, scenario, options);
        let mut own = outcome.summary.events.saturating_sub(fork_event);
        if first_here {
            own = own.saturating_add(fork_event - charged_to);
            charged_to = fork_event;
        }
        out.push((outcome, own.saturating_add(branch_copy_cost(fork_event))));
    }
    out
}

/// Runs a seed (or a branch that ends in its fault phase's last fork) and, if its liveness phase
/// heals only a core, `rides` branches of it forked where its fault phase ends (each path the
/// run's own plus `END.k`, k from 1, no horizon): each copy of the run there draws the liveness
/// phase (which majority heals, the fates of the rest) anew. Guided exploration asks for them
/// with the root run instead of planning them after it, so that they share its fault phase
/// instead of simulating it again. The run's own outcome comes first, with its events as its
/// cost; then each branch's, costing the events it simulated after the fork plus
/// [`branch_copy_cost`]. Each outcome is exactly that of `run` (or `run_scenario`) with its path;
/// an implementation that cannot copy itself runs each branch from the start (and it costs its
/// whole run).
#[must_use]
pub fn run_with_rides(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    rides: u32,
    options: &RunOptions,
) -> Vec<(Outcome, u64)> {
    match config.implementation {
        Implementation::RaftCore => rides_of::<raft_core::RaftNode>(config, scenario, rides, options),
        Implementation::RaftRs => rides_of::<raft_rs_host::RaftRsNode>(config, scenario, rides, options),
    }
}

fn rides_of<R: Raft>(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    rides: u32,
    options: &RunOptions,
) -> Vec<(Outcome, u64)> {
    let mut run = Started::<R>::new(config, scenario, options);
    // Copies are made only without trace lines or checkpoints (as `run_branches` makes them).
    let copying = !options.trace_lines && !options.checkpoints;
    run.guard.pause_at_fault_end = rides > 0 && copying;
    run.phases();
    let mut copies: Vec<(crate::branch::BranchPath, Option<Started<'_, R>>)> = Vec::new();
    let forks = |end: u64| (1..=rides).map(move |k| config.branch.then(end, k).with_horizon(None));
    let mut fork_event = 0;
    if let Some(end) = run.guard.paused.take() {
        run.guard.stop_after = options.stop_after_events.unwrap_or(u64::MAX);
        // The liveness phase's own rule for healing only a core (see `liveness_phase`).
        let core_only = run.world.config.liveness_core && !run.world.configuration_changed();
        if core_only {
            fork_event = end;
            copies = forks(end).map(|branch| (branch.clone(), run.fork_off(&branch, options))).collect();
        }
        run.phases();
    }
    let root = run.finish(config, scenario, options);
    if rides > 0 && !copying {
        // No copy: the branches run from the start, where the run healed only a core.
        let core_only = crate::coverage::Point::LivenessCoreOnly.name();
        if let Some(end) = root
            .summary
            .fault_phase_events
            .filter(|_| root.summary.points.iter().any(|p| p.point == core_only))
        {
            copies = forks(end).map(|branch| (branch, None)).collect();
        }
    }
    let events = root.summary.events;
    let mut out = vec![(root, events)];
    for (branch, copy) in copies {
        let mut c = config.clone();
        c.branch = branch;
        let Some(mut copy) = copy else {
            let outcome = run_inner::<R>(&c, scenario, options);
            let events = outcome.summary.events;
            out.push((outcome, events));
            continue;
        };
        copy.phases();
        let outcome = copy.finish(&c, scenario, options);
        let own = outcome.summary.events.saturating_sub(fork_event);
        out.push((outcome, own.saturating_add(branch_copy_cost(fork_event))));
    }
    out
}

/// What a branch run off a copy of its prefix costs beyond the events it simulates, counted in
/// events at a plain run's rate: copying the world at the fork, judging the branch at its end
/// (its checks and its linearizability check read the whole history so far) and dropping it.
/// Measured with 64 branches of 20 ms forked at a tenth, half and nine tenths of 60 runs
/// (swarm and quiet bases): 60 to 70 events at a tenth, 170 to 210 at half, 280 to 370 at nine
/// tenths, about 32 plus one per 36 events before the fork; planning and taking in each
/// result in a guided sweep adds 20 to 35 more. A 20 ms branch simulates only about 35 events
/// of its own, so without this a guided sweep's work would count branches at a fifth of what
/// they cost. `raftsim bench exploration` prints both modes' work per second of wall time,
/// which this keeps about equal. Checked again with mimalloc (copies got cheaper than events):
/// whole sweeps of equal work on one thread took 0.98 to 1.05 times a plain sweep's wall time;
/// since branches are judged with less work (one sorted list of applied commands, static
/// coverage names), 0.89 under the quiet base, 0.96 under crashes and 1.06 under the swarm.
/// Left as it is: one constant cannot fit both ends, and lowering it would flatter the swarm.
#[must_use]
pub fn branch_copy_cost(fork_event: u64) -> u64 {
    60 + fork_event / 36
}

/// Runs a seed of a configuration (with its random fault schedule) until `event` events were
/// handled, copies the run there with [`World::try_clone`](crate::world::World::try_clone), and finishes both the original and
/// the copy, each as an ordinary run finishes. The copy is exact when both outcomes equal the
/// seed's ordinary run (trace hash and verdict). A run that ends before `event` is copied at its
/// end. `None` if the implementation cannot copy itself ([`Raft::duplicate`]).
#[must_use]
pub fn run_with_clone_at(config: &SimConfig, options: &RunOptions, event: u64) -> Option<(Outcome, Outcome)> {
    clone_with(config, None, options, event)
}

/// [`run_with_clone_at`] for a seed of a scenario (see [`run_scenario`](super::run_scenario)): the scenario's
/// schedule is copied with the world.
#[must_use]
pub fn run_scenario_with_clone_at(
    scenario: &Scenario,
    config: &SimConfig,
    options: &RunOptions,
    event: u64,
) -> Option<(Outcome, Outcome)> {
    clone_with(config, Some(scenario), options, event)
}

fn clone_with(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    options: &RunOptions,
    event: u64,
) -> Option<(Outcome, Outcome)> {
    match config.implementation {
        Implementation::RaftCore => clone_inner::<raft_core::RaftNode>(config, scenario, options, event),
        Implementation::RaftRs => clone_inner::<raft_rs_host::RaftRsNode>(config, scenario, options, event),
    }
}

/// `run_inner`, stopped after `event` events to copy the run, then both finished.
fn clone_inner<R: Raft>(
    config: &SimConfig,
    scenario: Option<&Scenario>,
    options: &RunOptions,
    event: u64,
) -> Option<(Outcome, Outcome)> {
    let stop_after = options.stop_after_events.unwrap_or(u64::MAX);
    let mut original = Started::<R>::new(config, scenario, options);
    original.guard.stop_after = stop_after.min(event);
    original.phases();
    let mut copy = original.copy()?;
    for run in [&mut original, &mut copy] {
        run.guard.stop_after = stop_after;
        run.phases();
    }
    Some((original.finish(config, scenario, options), copy.finish(config, scenario, options)))
}
