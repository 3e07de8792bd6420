//! One run: a fault phase, a liveness phase, and the checks that give the verdict.

use raft_host::Raft;
use std::fmt;
use std::time::{Duration, Instant};

use checker::{CheckOptions, CheckReport, KvCall, KvKind, Status};
use serde::Serialize;

use crate::budget::Budget;
use crate::config::{Implementation, SimConfig};
use crate::network::NetworkStats;
use crate::queue::Event;
use crate::scenario::{RunExpect, Scenario};
use crate::script::Script;
use crate::trace::Trace;
use crate::world::{FaultStats, MembershipStats, RealizedAt, SnapshotStats, World};

mod branches;
#[cfg(test)]
mod tests;
pub use branches::{
    branch_copy_cost, run_branches, run_scenario_with_clone_at, run_with_clone_at, run_with_rides,
};

/// What a run found.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A safety invariant broke (online, or in the final state).
    Safety,
    /// The clients' history has no linearization.
    Nonlinearizable,
    /// The healed cluster did not elect a leader, commit and converge within the bound.
    Liveness,
    /// A scenario's expectation did not hold.
    Expectation,
    /// A wall-clock or memory limit stopped the run or its linearizability check: neither pass
    /// nor fail.
    Inconclusive,
    /// With `--cross-check`: the linearizability check decided differently with the run's
    /// witness and by the full search (a bug in the checker, not in the cluster).
    CheckerDisagreement,
    /// A check failed in a run whose storage faults went beyond the recoverability budget
    /// (`--storage-faults beyond-budget`): data loss there is expected by design, not a bug.
    /// The reason says what the faults destroyed.
    Unrecoverable,
}

impl Verdict {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Safety => "safety",
            Verdict::Nonlinearizable => "nonlinearizable",
            Verdict::Liveness => "liveness",
            Verdict::Expectation => "expectation",
            Verdict::Inconclusive => "inconclusive",
            Verdict::CheckerDisagreement => "checker-disagreement",
            Verdict::Unrecoverable => "unrecoverable-by-design",
        }
    }

    /// The process exit code: 0 for a pass (or a run unrecoverable by design), 1 for anything
    /// else.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        i32::from(self.is_failure())
    }

    /// Whether the verdict is a failure: neither a pass nor unrecoverable by design.
    #[must_use]
    pub fn is_failure(self) -> bool {
        !matches!(self, Verdict::Pass | Verdict::Unrecoverable)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep every event as a JSON line (for `--trace` and reports).
    pub trace_lines: bool,
    /// Keep the rolling hash after every event (for `--check-determinism`).
    pub checkpoints: bool,
    /// Wall-time limit for the linearizability check.
    pub check_time_limit: Option<Duration>,
    /// Stop after this many events (for `replay --until`); the verdict is then not final.
    pub stop_after_events: Option<u64>,
    /// Record every fault of the fault phase (for `--export-scenario`).
    pub record_faults: bool,
    /// Wall-clock limit of the whole run, the check included: past it the run ends as
    /// `inconclusive`. The only limit that depends on the machine; `--max-events` is the
    /// deterministic one.
    pub run_time_limit: Option<Duration>,
    /// Decide linearizability both with the run's witness and by the full search, and fail on
    /// any disagreement (`--cross-check`).
    pub cross_check: bool,
    /// Leave the availability figures out of the summary (all zero): sweeps never show them,
    /// and they cost a guided sweep's short branches about 2% of its time.
    pub skip_availability: bool,
}

/// Where the first failing check fired.
#[derive(Clone, Debug, Serialize)]
pub struct FailurePoint {
    pub check: String,
    pub node: Option<u8>,
    pub event: u64,
    pub time_ns: u64,
}

/// Everything a run produced.
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: String,
    pub failure: Option<FailurePoint>,
    pub summary: Summary,
    pub history: Vec<KvCall>,
    pub check: Option<CheckReport>,
    pub trace_lines: String,
    pub checkpoints: Vec<u64>,
    /// What the world looked like when the run ended.
    pub end: EndState,
}

/// What callers need of a world once its run has ended, whatever Raft implementation ran in it.
pub struct EndState {
    pub config: SimConfig,
    pub now: u64,
    /// Every fault of the fault phase with its time (with `RunOptions::record_faults`).
    pub realized: Option<Vec<RealizedAt>>,
    /// When the fault phase ended, and the clients' pace at the start: what an export keeps.
    pub fault_phase_end: Option<u64>,
    pub initial_pace_ns: u64,
    /// The written trace stops short of the run (see `trace::TRACE_BYTES_MAX`).
    pub trace_truncated: bool,
    /// Log entries the nodes held at the end, over all nodes.
    pub log_entries: u64,
    /// How many per-index facts the checks still held, and how many commands were applied.
    pub checks_indexes_kept: usize,
    pub checks_committed: usize,
    pub applied_commands: usize,
    /// Every node and the network in words, when the run was stopped before its end (`replay
    /// --until`).
    pub description: Option<String>,
}

/// The figures of a run, printed as text or as one JSON object.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub seed: u64,
    /// The Raft implementation that ran (`raft-core`, `raft-rs`).
    pub implementation: Implementation,
    /// Checks the implementation cannot be held to, each with why (see
    /// `Implementation::checks_skipped`), and what of the harness does not apply to it.
    pub checks_skipped: Vec<SkippedCheck>,
    pub not_applicable: Vec<&'static str>,
    pub verdict: Verdict,
    pub reason: String,
    pub failure: Option<FailurePoint>,
    pub trace_hash: String,
    pub events: u64,
    pub sim_time_ns: u64,
    pub wall_ms: f64,
    pub ops: OpsSummary,
    /// How the cluster served its clients (see `availability.rs` for the definitions).
    pub availability: crate::availability::Availability,
    pub elections: u64,
    pub leader_changes: u64,
    pub leader_step_downs: u64,
    pub split_votes: u64,
    pub conflict_truncations: u64,
    /// Elections started during the liveness phase (more than one: the healed cluster needed
    /// several tries).
    pub liveness_elections: u64,
    pub faults: FaultStats,
    pub snapshots: SnapshotStats,
    /// Membership changes, leadership transfers and reads without the log.
    pub membership: MembershipStats,
    pub messages: NetworkStats,
    pub disk: DiskSummary,
    /// Storage faults and what recovery did (see `disk/atlas.rs`).
    pub storage: crate::disk::atlas::StorageStats,
    /// Beyond the recoverability budget: what the storage faults destroyed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub destroyed: Vec<String>,
    pub linearizability: Option<CheckSummary>,
    pub bugs: Vec<String>,
    /// The largest share of the event budget the run used at any point, in parts per thousand
    /// (looked at every 1,024 events; 0 for shorter runs).
    pub budget_peak_permille: u64,
    /// The branch run (`--branch`; empty for the seed's own path), and how many of its forks
    /// the run reached before it ended.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub branch: String,
    pub forks_taken: usize,
    /// When the branch's horizon ended the fault phase (the liveness phase was then skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_ended_ns: Option<u64>,
    /// The events handled when the fault phase ended (None if the run ended before): guided
    /// exploration forks only before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_phase_events: Option<u64>,
    /// The behaviours of the coverage catalogue the run reached (`coverage.rs`), in catalogue
    /// order, with how often and the first event.
    pub points: Vec<crate::coverage::PointHit>,
}

/// An online check a run did not make, and why.
#[derive(Clone, Debug, Serialize)]
pub struct SkippedCheck {
    pub check: &'static str,
    pub why: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpsSummary {
    /// Operations asked of the clients (the configuration's and a schedule's submissions).
    pub asked: u64,
    pub issued: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    pub retries: u64,
    pub deduplicated: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiskSummary {
    pub writes: u64,
    pub bytes: u64,
    /// Durable bytes on all disks at the end (log and snapshot files), and log file rewrites.
    pub durable_bytes: u64,
    pub log_rewrites: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckSummary {
    pub verdict: String,
    /// Which path decided: `witness`, or `search (...)` (see `linearizability.rs`).
    pub decided_by: String,
    pub ms: f64,
    pub operations: usize,
    pub parts: usize,
}

/// Runs one seed of a configuration, with its random fault schedule (swarm) or a scenario's.
pub fn run(config: &SimConfig, options: &RunOptions) -> Outcome {
    run_with(config, None, options)
}

/// Runs one seed of a scenario: `config` is the scenario's configuration for that seed (see
/// [`Scenario::config`]), possibly adjusted; the scenario's schedule drives the faults.
pub fn run_scenario(scenario: &Scenario, config: &SimConfig, options: &RunOptions) -> Outcome {
    run_with(config, Some(scenario), options)
}

/// Runs the seed with the Raft implementation the configuration names.
fn run_with(config: &SimConfig, scenario: Option<&Scenario>, options: &RunOptions) -> Outcome {
    match config.implementation {
        Implementation::RaftCore => run_inner::<raft_core::RaftNode>(config, scenario, options),
        Implementation::RaftRs => run_inner::<raft_rs_host::RaftRsNode>(config, scenario, options),
    }
}

/// The word an implementation other than the default mixes into the trace hash before the first
/// event, so that two implementations never share a hash (the default mixes nothing, so that
/// its hashes, and the reports that hold them, stay as they were).
fn implementation_word(implementation: Implementation) -> Option<u64> {
    match implementation {
        Implementation::RaftCore => None,
        Implementation::RaftRs => Some(0x7261_6674_2d72_7300), // "raft-rs"
    }
}

/// The longest a scenario's schedule may run when the file does not fix the fault phase.
const SCHEDULE_NS_MAX: u64 = crate::limits::SIM_NS_MAX;
/// The most memory the linearizability check of one run may take for its memo: with the rest
/// of a run, about 1 GiB a job.
pub const CHECK_MEMO_BYTES_MAX: usize = 512 << 20;

fn run_inner<R: Raft>(config: &SimConfig, scenario: Option<&Scenario>, options: &RunOptions) -> Outcome {
    let mut started = Started::<R>::new(config, scenario, options);
    started.phases();
    started.finish(config, scenario, options)
}

/// A run under way: its world, its schedule (if a scenario drives it) and what ends it.
struct Started<'s, R: Raft> {
    world: World<R>,
    script: Option<Script<'s>>,
    guard: Guard,
    /// The end of the fault phase, if it has a set length.
    fixed_end: Option<u64>,
    /// Why the liveness phase did not converge, if it did not.
    stalled: Option<String>,
    wall: Instant,
}

impl<'s, R: Raft> Started<'s, R> {
    fn new(config: &SimConfig, scenario: Option<&'s Scenario>, options: &RunOptions) -> Started<'s, R> {
        let wall = Instant::now();
        let mut world = World::<R>::new(config.clone(), Trace::new(options.checkpoints, options.trace_lines));
        if let Some(word) = implementation_word(config.implementation) {
            world.trace.mix(&[word]);
        }
        if options.record_faults {
            world.realized = Some(Vec::new());
        }
        world.start(true);
        let mut script = scenario.map(|s| Script::new(s, config.seed));
        if let Some(script) = &mut script {
            script.start(&mut world);
        }
        let ops = config.workload.ops.saturating_add(scenario.map_or(0, Scenario::ops_submitted));
        let guard = Guard {
            seed: config.seed,
            branch: config.branch.clone(),
            forks_taken: 0,
            horizon_end: None,
            fault_phase_events: None,
            pause_at_fault_end: false,
            paused: None,
            stop_after: options.stop_after_events.unwrap_or(u64::MAX),
            budget: Budget::of(config, ops),
            deadline: options.run_time_limit.map(|limit| wall + limit),
            out_of_time: None,
            peak_permille: 0,
        };
        // A random run, or a scenario that fixes it, has a fault phase of a set length;
        // otherwise the phase lasts as long as the scenario's schedule.
        let fixed_end = scenario.is_none_or(|s| s.fixed_duration).then_some(config.duration_ns);
        Started { world, script, guard, fixed_end, stalled: None, wall }
    }

    /// Runs the phases on from where the run stands, until they end or the guard stops them.
    /// A node that panics (one of its own assertions) ends the run with a failure naming it;
    /// the world is not trusted afterwards, only reported on.
    fn phases(&mut self) {
        if self.stalled.is_some() {
            return;
        }
        let liveness_ns = self.world.config.liveness_ns;
        let Started { world, script, guard, fixed_end, stalled, .. } = self;
        let phases = catch_node_panics(|| match world.fault_phase_end {
            None => {
                let fault_end = fault_phase(world, script.as_mut(), *fixed_end, guard);
                if guard.keep_going(world) && !guard.cut_by_horizon(world) {
                    *stalled = liveness_phase(world, fault_end, liveness_ns, guard);
                }
            }
            // Converged already: the phase saw it (and observed it) before it stopped.
            Some(_) if converged(world) => {}
            Some(fault_end) => *stalled = liveness_loop(world, fault_end.saturating_add(liveness_ns), guard),
        });
        if let Err(payload) = phases {
            self.world.record_panic(&panic_message(payload.as_ref()));
        }
    }

    fn finish(self, config: &SimConfig, scenario: Option<&Scenario>, options: &RunOptions) -> Outcome {
        let failures = self.script.map(|s| s.failures().to_vec()).unwrap_or_default();
        finish(
            self.world,
            config,
            failures,
            scenario.map(|s| &s.expect),
            self.stalled,
            options,
            &self.guard,
            self.wall,
        )
    }
}

/// What ends a run before its phases do: a failure, the caller's stop point, the event budget
/// (deterministic: it counts events) or, as a last resort, the wall-clock limit (not).
#[derive(Clone)]
struct Guard {
    seed: u64,
    /// The branch being run, and how many of its forks were taken so far.
    branch: crate::branch::BranchPath,
    forks_taken: usize,
    /// When the branch's horizon ends the fault phase, once its last fork was taken.
    horizon_end: Option<u64>,
    /// The events handled when the fault phase ended, once it has.
    fault_phase_events: Option<u64>,
    /// Stop where the fault phase ends, before the liveness phase starts (see `paused`).
    pause_at_fault_end: bool,
    /// The events handled when the run stopped at the end of its fault phase, if it did: the
    /// run then stands as a run stopped after that many events does, to be copied there
    /// (`run::run_with_rides`) and resumed.
    paused: Option<u64>,
    stop_after: u64,
    budget: Budget,
    deadline: Option<Instant>,
    /// The event at which the wall-clock limit was found passed.
    out_of_time: Option<u64>,
    /// The largest share of the budget used at any check, in parts per thousand.
    peak_permille: u64,
}

impl Guard {
    /// Whether the run may handle another event. The budget and the clock are looked at every
    /// 1,024 events: often enough to stop a storm early, rarely enough to cost nothing.
    fn keep_going<R: Raft>(&mut self, world: &mut World<R>) -> bool {
        let events = world.trace.events();
        if world.failure.is_some() || events >= self.stop_after || self.out_of_time.is_some() {
            return false;
        }
        if let Some(overrun) = &world.overrun {
            return events < overrun.window_end;
        }
        if events.is_multiple_of(1024) && events > 0 {
            let allowed = self.budget.allowed(world.now).max(1);
            self.peak_permille = self.peak_permille.max(events.saturating_mul(1000) / allowed);
            if events > allowed {
                world.begin_overrun(&self.budget);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.out_of_time = Some(events);
                return false;
            }
        }
        true
    }

    /// Takes the branch's next fork if the run has reached its event: the world (and the
    /// schedule) draw from streams derived from the seed and the path so far.
    fn maybe_fork<R: Raft>(&mut self, world: &mut World<R>, script: Option<&mut Script>) {
        let Some(&fork) = self.branch.forks().get(self.forks_taken) else { return };
        if world.trace.events() != fork.event {
            return;
        }
        self.forks_taken += 1;
        if self.forks_taken == self.branch.forks().len() {
            self.horizon_end = self.branch.horizon_ns().map(|h| world.now.saturating_add(h));
        }
        let root = self.seed ^ self.branch.salt(self.forks_taken);
        world.reseed(root, fork);
        if let Some(s) = script {
            s.reseed(root);
        }
    }

    /// Stops the run here, at the end of its fault phase, if it was asked to: as if it had been
    /// asked to stop after the events it handled so far, so that resuming it (or a copy) runs
    /// the phase's last steps, and the liveness phase, exactly as an unpaused run does.
    fn pause_here<R: Raft>(&mut self, world: &World<R>) -> bool {
        if !self.pause_at_fault_end {
            return false;
        }
        self.pause_at_fault_end = false;
        let events = world.trace.events();
        self.paused = Some(events);
        self.stop_after = events;
        true
    }

    /// Whether the run was cut short by something other than a failure.
    fn cut_short<R: Raft>(&self, world: &World<R>) -> bool {
        world.overrun.is_some()
            || self.out_of_time.is_some()
            || world.trace.events() >= self.stop_after
            || self.cut_by_horizon(world)
    }

    /// Whether the branch's horizon ended the fault phase (the run then stops there).
    fn cut_by_horizon<R: Raft>(&self, world: &World<R>) -> bool {
        self.horizon_end.is_some_and(|end| world.now >= end && world.fault_phase_end.is_none())
    }
}

/// The fault phase: faults fire, clients call and the schedule (if any) runs, until
/// `fixed_end` or, without one, until the schedule is done. Returns when the phase ended.
fn fault_phase<R: Raft>(
    world: &mut World<R>,
    mut script: Option<&mut Script>,
    fixed_end: Option<u64>,
    guard: &mut Guard,
) -> u64 {
    let limit = fixed_end.unwrap_or(SCHEDULE_NS_MAX);
    while guard.keep_going(world) {
        if fixed_end.is_none() && script.as_ref().is_none_or(|s| s.done()) {
            guard.pause_here(world);
            return world.now;
        }
        guard.maybe_fork(world, script.as_deref_mut());
        let until = guard.horizon_end.map_or(limit, |h| h.min(limit));
        let Some((time, event)) = world.queue.pop_until(until) else {
            if until < limit {
                world.now = world.now.max(until);
                return until;
            }
            if guard.pause_here(world) {
                return limit;
            }
            break;
        };
        match (event, script.as_deref_mut()) {
            (Event::ScheduleStep { step }, Some(s)) => {
                // The step's actions enter the trace hash; the step itself does not, so that a
                // run exported as a scenario hashes like the run it came from.
                world.now = time;
                world.set_reacting(false);
                s.on_event(world, step);
                world.trace.end_event();
            }
            _ => world.dispatch(time, event),
        }
    }
    if let Some(s) = script {
        if !s.done() && world.failure.is_none() && !guard.cut_short(world) {
            let at = s.current_label().unwrap_or("?").to_string();
            s.fail(format!(
                "the schedule did not finish within the fault phase ({}); it stopped at {at}",
                crate::config::ms(limit)
            ));
        }
    }
    limit
}

/// The liveness phase: everything heals, and the cluster must serve a new command and converge
/// within `bound_ns`. Returns why it did not, if it did not.
fn liveness_phase<R: Raft>(
    world: &mut World<R>,
    fault_end: u64,
    bound_ns: u64,
    guard: &mut Guard,
) -> Option<String> {
    world.now = world.now.max(fault_end);
    world.elections_before_liveness = Some(world.checks.notes.elections);
    world.fault_phase_end = Some(fault_end);
    guard.fault_phase_events = Some(world.trace.events());
    // A branch forked where the fault phase ended draws the liveness phase anew (a run whose
    // schedule ended the phase returned before the fault phase's own look at its forks).
    guard.maybe_fork(world, None);
    if world.config.liveness_core && !world.configuration_changed() {
        world.heal_core();
    } else {
        world.heal_all();
    }
    world.workload.close();
    let probe = world.workload.start_probe(world.now, &mut world.queue);
    world.send_probe(probe);
    liveness_loop(world, fault_end.saturating_add(bound_ns), guard)
}

/// The liveness phase's events from wherever the phase is, until the cluster converged, the
/// guard stops the run, or `deadline` passes (then returns why it did not converge).
fn liveness_loop<R: Raft>(world: &mut World<R>, deadline: u64, guard: &mut Guard) -> Option<String> {
    while guard.keep_going(world) && !converged(world) {
        guard.maybe_fork(world, None);
        let Some((time, event)) = world.queue.pop_until(deadline) else {
            world.now = deadline;
            return Some(describe_stall(world));
        };
        world.dispatch(time, event);
    }
    if converged(world) {
        world.observe_convergence();
    }
    None
}

/// The text of a panic, with its location when the capturing hook saw it.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = panic_text(payload);
    match LAST_PANIC_LOCATION.with(|l| l.borrow_mut().take()) {
        Some(location) => format!("{text} (at {location})"),
        None => text,
    }
}

/// The message a panic carries.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

thread_local! {
    static LAST_PANIC_LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// Whether this thread is inside a run's phases, where a panic is a node's failure.
    static IN_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Replaces the panic hook. Inside a run's phases it only remembers where the panic happened,
/// so that a node's failed assertion becomes a verdict instead of a backtrace on stderr (sweeps
/// run many seeds, and a planted bug can trip a node's own assertions). Anywhere else a panic is
/// a bug in raftsim itself, and the hook prints its message and location before the process
/// exits: nothing ends silently.
pub fn capture_panics_quietly() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        if IN_RUN.with(std::cell::Cell::get) {
            LAST_PANIC_LOCATION.with(|l| *l.borrow_mut() = location);
        } else {
            let message = panic_text(info.payload());
            eprintln!(
                "raftsim: internal error (a bug in raftsim, not in your input; please report it): {message}{}",
                location.map_or(String::new(), |l| format!(" at {l}"))
            );
        }
    }));
}

/// Runs `f` as a run's phases: a panic in it is recorded quietly and returned as `Err`.
fn catch_node_panics<F: FnOnce()>(f: F) -> std::thread::Result<()> {
    IN_RUN.with(|r| r.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_RUN.with(|r| r.set(false));
    result
}

#[allow(clippy::too_many_arguments)]
fn finish<R: Raft>(
    mut world: World<R>,
    config: &SimConfig,
    mut expectation_failures: Vec<String>,
    run_expect: Option<&RunExpect>,
    stalled: Option<String>,
    options: &RunOptions,
    guard: &Guard,
    wall: Instant,
) -> Outcome {
    let (history, seqs) = world.workload.finish();
    if let Some(expect) = run_expect {
        expectation_failures.extend(check_run_expectations(expect, &world, &history));
    }
    let mut check = None;
    let applied = crate::linearizability::AppliedCommands::of(&world);
    let last_event = world.trace.events().saturating_sub(1);
    let point = |check: &str, world: &World<R>| FailurePoint {
        check: check.to_string(),
        node: None,
        event: last_event,
        time_ns: world.now,
    };
    let (verdict, reason, failure) = if let Some(f) = &world.failure {
        let point = FailurePoint {
            check: f.violation.invariant.name().to_string(),
            node: Some(f.violation.node),
            event: f.event,
            time_ns: f.time_ns,
        };
        (Verdict::Safety, f.violation.to_string(), Some(point))
    } else if let Some(overrun) = &world.overrun {
        let end = world.commits_and_terms();
        let reason = overrun.reason(world.trace.events(), world.now, &end, world.network.in_flight());
        let point = FailurePoint {
            check: "event-budget".into(),
            node: None,
            event: overrun.event,
            time_ns: overrun.time_ns,
        };
        (Verdict::Liveness, reason, Some(point))
    } else if let Some(event) = guard.out_of_time {
        let limit = options.run_time_limit.unwrap_or_default();
        let reason = format!(
            "the run passed its wall-clock limit of {} at event {event} (t={}); this is machine-dependent,              unlike every other verdict: a faster or less loaded machine may finish it (--run-time-limit              sets the limit; --max-events bounds a run deterministically)",
            checker_duration(limit),
            crate::config::ms(world.now)
        );
        (Verdict::Inconclusive, reason, Some(point("run-time-limit", &world)))
    } else if options.stop_after_events.is_some_and(|n| world.trace.events() >= n) {
        (Verdict::Inconclusive, "stopped before the end of the run".to_string(), None)
    } else if let Some(stall) = stalled {
        (Verdict::Liveness, stall, Some(point("liveness", &world)))
    } else if let Some(v) =
        final_state_violation(&world, &applied, &history, &seqs, guard.cut_by_horizon(&world))
    {
        (
            Verdict::Safety,
            format!("{}: {}", v.invariant_name, v.reason),
            Some(point(v.invariant_name, &world)),
        )
    } else {
        // The check gets what is left of the run's wall-clock limit, and its own.
        let left = guard.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let time_limit = match (options.check_time_limit, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let opts =
            CheckOptions { time_limit, memo_limit_bytes: CHECK_MEMO_BYTES_MAX, ..CheckOptions::default() };
        let witness = crate::linearizability::witness(&world, &applied, &history, &seqs);
        let checked = crate::linearizability::check(&history, &witness, &opts, options.cross_check);
        let report = checked.report;
        let result = match report.verdict {
            _ if checked.disagreement.is_some() => (
                Verdict::CheckerDisagreement,
                checked.disagreement.unwrap_or_default(),
                Some(point("checker-disagreement", &world)),
            ),
            checker::Verdict::Linearizable => match expectation_failures.first() {
                None => (Verdict::Pass, String::new(), None),
                Some(first) => (Verdict::Expectation, first.clone(), Some(point("expectation", &world))),
            },
            checker::Verdict::NotLinearizable => {
                let reason = report.violation.as_ref().map_or_else(
                    || "the history has no linearization".to_string(),
                    |v| format!("key {:?}: {}", v.part, v.explanation),
                );
                (Verdict::Nonlinearizable, reason, Some(point("linearizability", &world)))
            }
            checker::Verdict::Unknown => (
                Verdict::Inconclusive,
                format!(
                    "linearizability check did not finish: {}",
                    report.unknown_reason.clone().unwrap_or_default()
                ),
                Some(point("linearizability-limit", &world)),
            ),
        };
        check = Some(report);
        result
    };
    let beyond =
        world.atlas.mode == crate::disk::atlas::Mode::BeyondBudget && !world.atlas.destroyed.is_empty();
    let (verdict, reason) = if beyond
        && matches!(verdict, Verdict::Safety | Verdict::Nonlinearizable | Verdict::Liveness)
    {
        let reason = format!(
            "unrecoverable by design: storage faults beyond the budget destroyed [{}]; then {verdict}: {reason}",
            world.atlas.destroyed.join("; ")
        );
        (Verdict::Unrecoverable, reason)
    } else {
        (verdict, reason)
    };
    let mut summary = summarize(&world, config, verdict, &reason, failure.clone(), check.as_ref(), wall);
    summary.budget_peak_permille = guard.peak_permille;
    summary.forks_taken = guard.forks_taken;
    summary.horizon_ended_ns = guard.cut_by_horizon(&world).then_some(world.now);
    summary.fault_phase_events = guard.fault_phase_events;
    let op_timeout = Some(config.workload.op_timeout_ns).filter(|t| *t > 0);
    if !options.skip_availability {
        summary.availability = crate::availability::figures(&world.leaders, &history, op_timeout, world.now);
    }
    let trace_lines = world.trace.take_lines();
    let checkpoints = world.trace.take_checkpoints();
    let end = EndState {
        now: world.now,
        fault_phase_end: world.fault_phase_end,
        initial_pace_ns: world.initial_pace_ns,
        trace_truncated: world.trace.truncated(),
        log_entries: world
            .nodes
            .iter()
            .filter_map(|slot| slot.server())
            .map(|s| {
                let v = s.node().view();
                v.last_index.0 - v.first_index().0 + 1
            })
            .sum(),
        checks_indexes_kept: world.checks.indexes_kept(),
        checks_committed: world.checks.committed_len(),
        applied_commands: world.checks.applied_command_count(),
        description: options.stop_after_events.map(|_| world.describe()),
        realized: world.realized.take(),
        // A copy's world holds the path of the run it was copied from; the run's own is `config`'s.
        config: SimConfig { branch: config.branch.clone(), ..world.config },
    };
    Outcome { verdict, reason, failure, summary, history, check, trace_lines, checkpoints, end }
}

/// The scenario's expectations of the whole run.
fn check_run_expectations<R: Raft>(expect: &RunExpect, world: &World<R>, history: &[KvCall]) -> Vec<String> {
    let mut failures = Vec::new();
    let stats = &world.workload.stats;
    if let Some(k) = expect.ops_ok_at_least {
        if stats.ok < k {
            failures.push(format!("expected at least {k} operations completed, found {}", stats.ok));
        }
    }
    if let Some(max) = expect.unknown_ops_at_most {
        if stats.unknown > max {
            failures.push(format!("{} operations ended unknown, expected at most {max}", stats.unknown));
        }
    }
    if expect.all_ops_ok == Some(true) && (stats.failed > 0 || stats.unknown > 0) {
        failures.push(format!(
            "{} operations failed and {} ended unknown, expected all to complete",
            stats.failed, stats.unknown
        ));
    }
    if let Some(max) = expect.op_latency_mean_max {
        let latencies: Vec<u64> = history
            .iter()
            .filter(|c| c.status == Status::Ok && c.key != crate::client::PROBE_KEY)
            .filter_map(|c| c.return_ns.map(|r| r - c.call_ns))
            .collect();
        if !latencies.is_empty() {
            let mean = latencies.iter().sum::<u64>() / latencies.len() as u64;
            if mean > max.0 {
                failures.push(format!(
                    "mean operation latency {} over {} operations, expected at most {}",
                    crate::config::ms(mean),
                    latencies.len(),
                    crate::config::ms(max.0)
                ));
            }
        }
    }
    failures
}

/// The healed cluster has converged: a leader, the probe answered, every client answered, and
/// every replica applied everything the leader committed.
fn converged<R: Raft>(world: &World<R>) -> bool {
    if !world.workload.probe_done() || !world.workload.all_idle() {
        return false;
    }
    // In the harder liveness phase only the core must converge, around a leader of its own.
    let core = world.liveness_core.as_ref();
    let in_core = |n: usize| core.is_none_or(|c| c.in_core(n as u8));
    let leader = match core {
        None => world.current_leader(),
        Some(_) => core_leader(world),
    };
    let Some(leader) = leader else { return false };
    let Some(server) = world.nodes[leader as usize].server() else { return false };
    let commit = server.node().view().commit;
    // Only the members of the leader's configuration must catch up (a removed server need
    // not), and after the harder liveness phase only those in the core.
    world.nodes.iter().enumerate().filter(|(n, _)| in_core(*n)).all(|(n, slot)| {
        world.outside_configuration(n as u8)
            || slot.is_up()
                && slot.server().is_some_and(|s| {
                    let v = s.node().view();
                    v.applied == commit && v.commit == commit
                })
    })
}

/// The leader of the highest term among the liveness core's servers.
fn core_leader<R: Raft>(world: &World<R>) -> Option<u8> {
    let core = world.liveness_core.as_ref()?;
    core.core
        .iter()
        .filter_map(|&n| world.nodes[n as usize].server().map(|s| (s.node().view(), n)))
        .filter(|(v, _)| v.role == raft_host::Role::Leader)
        .max_by_key(|(v, _)| v.term)
        .map(|(_, n)| n)
}

fn describe_stall<R: Raft>(world: &World<R>) -> String {
    let states: Vec<String> = world
        .nodes
        .iter()
        .enumerate()
        .map(|(n, slot)| match slot.server() {
            Some(s) => {
                let v = s.node().view();
                format!("n{n} {:?} {} commit {} applied {}", v.role, v.term, v.commit, v.applied)
            }
            None => format!("n{n} down"),
        })
        .collect();
    let core = world.liveness_core.as_ref();
    let leader = if core.is_some() { core_leader(world) } else { world.current_leader() };
    let what = if leader.is_none() {
        if core.is_some() {
            "no leader in the core"
        } else {
            "no leader"
        }
    } else if !world.workload.probe_done() {
        "the probe command was not answered"
    } else if !world.workload.all_idle() {
        "a client call was not answered"
    } else {
        "replicas did not catch up"
    };
    let healed = match core {
        Some(c) => format!("healing only a core ({})", c.describe()),
        None => "healing".to_string(),
    };
    format!(
        "{what} within {} after {healed} [{}]",
        crate::config::ms(world.config.liveness_ns),
        states.join("; ")
    )
}

struct FinalViolation {
    invariant_name: &'static str,
    reason: String,
}

/// Checks of the final state: replicas agree, and every acknowledged write is in the log.
fn final_state_violation<R: Raft>(
    world: &World<R>,
    applied: &crate::linearizability::AppliedCommands,
    history: &[KvCall],
    seqs: &[u64],
    cut_by_horizon: bool,
) -> Option<FinalViolation> {
    // A branch its horizon cut short never healed: its replicas need not agree yet (what each
    // applied was checked as it applied it).
    // After the harder liveness phase only the core has caught up; the servers left outside
    // it are behind by design (what they applied was checked as they applied it). A server the
    // membership changes left out need not have caught up either.
    let in_core = |n: usize| world.liveness_core.as_ref().is_none_or(|c| c.in_core(n as u8));
    let mut digests = world
        .nodes
        .iter()
        .enumerate()
        .filter(|(n, _)| !cut_by_horizon && in_core(*n) && !world.outside_configuration(*n as u8))
        .filter_map(|(n, s)| s.server().map(|s| (n, s.store().digest())));
    if let Some((first_node, first)) = digests.next() {
        if let Some((n, _)) = digests.find(|(_, d)| *d != first) {
            return Some(FinalViolation {
                invariant_name: "replicas-diverged",
                reason: format!("n{n} and n{first_node} applied the same log but hold different data"),
            });
        }
    }
    for (call, seq) in history.iter().zip(seqs) {
        if call.status == Status::Ok
            && call.kind != KvKind::Get
            && applied.first_index(call.client, *seq).is_none()
        {
            return Some(FinalViolation {
                invariant_name: "acknowledged-write-lost",
                reason: format!(
                    "client {} was told its {:?} {:?} of {:?} (seq {seq}) succeeded, but it is not in the final log",
                    call.client, call.kind, call.value, call.key
                ),
            });
        }
    }
    None
}

fn summarize<R: Raft>(
    world: &World<R>,
    config: &SimConfig,
    verdict: Verdict,
    reason: &str,
    failure: Option<FailurePoint>,
    check: Option<&CheckReport>,
    wall: Instant,
) -> Summary {
    let w = &world.workload.stats;
    let notes = &world.checks.notes;
    Summary {
        seed: config.seed,
        implementation: config.implementation,
        checks_skipped: config
            .implementation
            .checks_skipped()
            .iter()
            .map(|(check, why)| SkippedCheck { check, why })
            .collect(),
        not_applicable: config.implementation.not_applicable().to_vec(),
        verdict,
        reason: reason.to_string(),
        failure,
        trace_hash: format!("{:016x}", world.trace.hash()),
        events: world.trace.events(),
        sim_time_ns: world.now,
        wall_ms: wall.elapsed().as_secs_f64() * 1e3,
        ops: OpsSummary {
            asked: world.workload.ops_asked(),
            issued: w.issued,
            ok: w.ok,
            failed: w.failed,
            unknown: w.unknown,
            retries: w.retries,
            deduplicated: world.deduplicated(),
        },
        availability: crate::availability::Availability::default(),
        elections: notes.elections,
        leader_changes: notes.leader_changes,
        leader_step_downs: notes.leader_step_downs,
        split_votes: notes.split_votes,
        conflict_truncations: notes.conflict_truncations,
        liveness_elections: world.elections_before_liveness.map_or(0, |before| notes.elections - before),
        faults: world.faults.clone(),
        snapshots: world.snapshots.clone(),
        membership: world.membership.clone(),
        messages: world.network.stats.clone(),
        disk: DiskSummary {
            writes: world.nodes.iter().map(|s| s.disk.writes).sum(),
            bytes: world.nodes.iter().map(|s| s.disk.bytes_written).sum(),
            durable_bytes: world.nodes.iter().map(|s| s.disk.durable_bytes() as u64).sum(),
            log_rewrites: world.nodes.iter().map(|s| s.disk.rewrites).sum(),
        },
        storage: world.storage_stats(),
        destroyed: if world.atlas.mode == crate::disk::atlas::Mode::BeyondBudget {
            world.atlas.destroyed.clone()
        } else {
            Vec::new()
        },
        linearizability: check.map(|c| CheckSummary {
            decided_by: crate::linearizability::path(c),
            verdict: match c.verdict {
                checker::Verdict::Linearizable => "linearizable".into(),
                checker::Verdict::NotLinearizable => "not linearizable".into(),
                checker::Verdict::Unknown => "unknown".into(),
            },
            ms: c.elapsed.as_secs_f64() * 1e3,
            operations: c.operations,
            parts: c.parts,
        }),
        bugs: config.bugs.clone(),
        budget_peak_permille: 0,
        branch: config.branch.to_string(),
        forks_taken: 0,
        horizon_ended_ns: None,
        fault_phase_events: None,
        points: world.reached.summary(),
    }
}

impl Summary {
    /// The short human summary of a run.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        use std::fmt::Write as _;
        let _ = writeln!(
            s,
            "verdict: {}{}",
            self.verdict,
            if self.reason.is_empty() { String::new() } else { format!(" ({})", self.reason) }
        );
        if let Some(f) = &self.failure {
            let _ = writeln!(
                s,
                "  first failing check: {} at event {} (t={})",
                f.check,
                f.event,
                crate::config::ms(f.time_ns)
            );
        }
        let o = &self.ops;
        let _ = writeln!(
            s,
            "ops: {} issued{}, {} ok, {} failed, {} unknown ({} retries, {} deduplicated)",
            o.issued,
            if o.issued < o.asked { format!(" of {} asked", o.asked) } else { String::new() },
            o.ok,
            o.failed,
            o.unknown,
            o.retries,
            o.deduplicated
        );
        let _ = writeln!(s, "{}", crate::availability::text(&self.availability));
        let _ = writeln!(
            s,
            "raft ({}): {} elections, {} leader changes, {} step-downs, {} split votes, {} conflict truncations",
            self.implementation,
            self.elections,
            self.leader_changes,
            self.leader_step_downs,
            self.split_votes,
            self.conflict_truncations
        );
        if self.implementation != Implementation::RaftCore {
            let skipped: Vec<String> =
                self.checks_skipped.iter().map(|c| format!("{} ({})", c.check, c.why)).collect();
            let _ = writeln!(
                s,
                "checks on {}: {}",
                self.implementation,
                if skipped.is_empty() {
                    "every online check runs, none skipped (each reads only what crosses the host contract)"
                        .to_string()
                } else {
                    format!("skipped: {}", skipped.join("; "))
                }
            );
            for what in &self.not_applicable {
                let _ = writeln!(s, "  not applicable: {what}");
            }
        }
        let f = &self.faults;
        let partitions: Vec<String> = f.partitions.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            s,
            "faults: {} crashes, {} restarts, {} torn writes ({} torn tails recovered), {} pauses, partitions [{}], {} heals",
            f.crashes,
            f.restarts,
            f.torn_writes,
            f.torn_tails_recovered,
            f.pauses,
            partitions.join(", "),
            f.heals
        );
        if self.storage.injected() + self.storage.fsync_failures + self.storage.held_back_by_budget > 0 {
            let _ = writeln!(s, "{}", self.storage.to_text());
        }
        let n = &self.snapshots;
        if n.taken + n.installed + n.restarts_from_snapshot > 0 {
            let _ = writeln!(
                s,
                "snapshots: {} taken, {} installed ({} chunks), {} refused as stale, {} restarts from a snapshot, {} crashes while writing one ({} torn, {} torn files discarded)",
                n.taken,
                n.installed,
                n.chunks_sent,
                n.refused_stale,
                n.restarts_from_snapshot,
                f.snapshot_write_crashes,
                f.torn_snapshot_files,
                f.torn_snapshots_discarded
            );
        }
        let c = &self.membership;
        if c.learners_added + c.servers_removed + c.transfers_started + c.changes_refused + c.reads_off_log
            > 0
        {
            let _ = writeln!(
                s,
                "membership: {} added, {} promoted, {} removed ({} leaders), {} wiped and re-added, {} refused; transfers: {} started, {} completed; reads off the log: {}",
                c.learners_added,
                c.learners_promoted,
                c.servers_removed,
                c.leaders_removed,
                c.wiped_and_readded,
                c.changes_refused,
                c.transfers_started,
                c.transfers_completed,
                c.reads_off_log
            );
        }
        let m = &self.messages;
        let _ = writeln!(
            s,
            "messages: {} sent, {} delivered, {} dropped (loss {}, partition {}, down {}{}), {} duplicated, {} delayed long, {} bytes",
            m.sent,
            m.delivered,
            m.dropped_loss + m.dropped_partition + m.dropped_down + m.dropped_overflow,
            m.dropped_loss,
            m.dropped_partition,
            m.dropped_down,
            if m.dropped_overflow > 0 { format!(", overflow {}", m.dropped_overflow) } else { String::new() },
            m.duplicated,
            m.delayed_long,
            m.bytes
        );
        if let Some(c) = &self.linearizability {
            let _ = writeln!(
                s,
                "linearizability: {} by {} ({} ops, {} keys, {:.2} ms)",
                c.verdict, c.decided_by, c.operations, c.parts, c.ms
            );
        }
        let sim_s = self.sim_time_ns as f64 / 1e9;
        let _ = write!(
            s,
            "events: {} ({}% of the event budget at most), simulated {:.3} s, wall {:.1} ms ({:.0} events/s, {:.0}x real time)\ntrace hash: {}",
            self.events,
            self.budget_peak_permille.div_ceil(10),
            sim_s,
            self.wall_ms,
            self.events as f64 / (self.wall_ms / 1e3).max(1e-9),
            sim_s / (self.wall_ms / 1e3).max(1e-9),
            self.trace_hash
        );
        s
    }
}

/// A wall-clock duration in words: `60 s`, `250 ms`.
fn checker_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
