//! The harness proves it finds bugs: for each planted bug, run seeds of the random swarm
//! configuration until some check fails, and report which check and after how many seeds.

use raft_host::Bug;
use serde::Serialize;

use crate::branch::BranchPath;
use crate::config::{CrashFaults, Implementation, SimConfig};
use crate::guided::{run_batch, Explorer, Guide, Task};
use crate::pool::{run_parallel, Flow};
use crate::run::{RunOptions, Verdict};
use crate::scenario::Scenario;
use crate::sweep::SeedSet;

/// The configuration a hunt draws each root seed's run from. Both plain and guided hunts use
/// the same one, so their figures compare.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Base {
    /// The random swarm configuration (`SimConfig::swarm`): what `sweep` and `selftest` use.
    #[default]
    Swarm,
    /// One fixed configuration for every seed, harder for most planted bugs than the swarm: the
    /// calm cluster (5 nodes, 10 ms ticks, check-quorum and pre-vote) with 1% message loss, a
    /// snapshot every 10 entries, and crashes only: one every 0.5 to 2 s (the leader 30% of
    /// the time), down 10 ms to 1.2 s, half the writes in flight torn, 10% of snapshot writes
    /// crashed. No partitions, pauses, duplicates, long delays, drift or storage damage.
    Crashes,
    /// The crash-heavy base with two clients instead of five: a lightly loaded cluster, in
    /// which a client's call rarely meets a leadership change, so the bugs that need one
    /// (stale reads, Figure 8, late snapshots) take tens to hundreds of seeds.
    Quiet,
}

impl Base {
    pub const ALL: [Base; 3] = [Base::Swarm, Base::Crashes, Base::Quiet];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Base::Swarm => "swarm",
            Base::Crashes => "crashes",
            Base::Quiet => "quiet",
        }
    }

    /// The configuration of root seed `seed`.
    #[must_use]
    pub fn config(self, seed: u64) -> SimConfig {
        match self {
            Base::Swarm => SimConfig::swarm(seed),
            Base::Quiet => {
                let mut c = Base::Crashes.config(seed);
                c.workload.clients = 2;
                c
            }
            Base::Crashes => {
                let mut c = SimConfig::calm(seed);
                c.network.drop_ppm = 10_000;
                c.snapshot.every_entries = 10;
                c.disk.torn_write_ppm = 500_000;
                c.faults.crash = Some(CrashFaults {
                    every_ns_min: 500 * MS,
                    every_ns_max: 2_000 * MS,
                    down_ns_min: 10 * MS,
                    down_ns_max: 1_200 * MS,
                    leader_ppm: 300_000,
                    new_leader_ppm: 0,
                    new_leader_delay_ns_max: 0,
                    snapshot_write_ppm: 100_000,
                });
                c
            }
        }
    }
}

/// A millisecond in nanoseconds.
const MS: u64 = 1_000_000;

impl std::str::FromStr for Base {
    type Err = String;
    fn from_str(text: &str) -> Result<Base, String> {
        Base::ALL
            .into_iter()
            .find(|b| b.name() == text)
            .ok_or_else(|| format!("unknown base configuration {text:?}; expected swarm, crashes or quiet"))
    }
}

/// The hunt for one bug.
#[derive(Clone, Debug, Serialize)]
pub struct Hunt {
    pub bug: String,
    pub caught: bool,
    /// Runs (seeds, or seeds and branches when guided) up to and including the first that
    /// caught it (or the whole budget).
    pub seeds: u64,
    /// Events simulated by those runs: the work spent, comparable between plain and guided.
    pub events: u64,
    /// The branch of `seed` that caught it (guided hunts; empty for the seed's own run).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub branch: String,
    pub seed: Option<u64>,
    pub verdict: Option<Verdict>,
    pub check: Option<String>,
    pub reason: Option<String>,
    pub replay: Option<String>,
}

/// The bugs `raftsim selftest` hunts by default: every planted bug. Of the membership and read
/// bugs, two are hunted over swarm seeds fitted by [`SimConfig::fit_for`], and two over seeds of
/// a staging scenario (see [`staging`]).
#[must_use]
pub fn hunted_bugs() -> Vec<Bug> {
    Bug::every().collect()
}

/// The scenario a bug is hunted on instead of the swarm, as (path in the repository, text): for
/// a bug whose precondition is a sequence of operations random search does not build in the
/// usual budget. The scenario stages the precondition; the seed still draws every timing, and
/// the scenario passes on every seed without the bug (it is one of the scenario files the test
/// suite runs). The 2015 membership bug needs two leaders whose configurations are two changes
/// apart, built step by step (Hydro's guided simulator needed its own search to find it); the
/// drift-blind lease needs a read at the deposed leader inside the drift's share of an election
/// timeout, after the new leader acknowledged a write.
#[must_use]
pub fn staging(bug: Bug) -> Option<(&'static str, &'static str)> {
    match bug {
        Bug::ChangeBeforeOwnTermCommit => Some((
            "scenarios/membership-change-before-own-term-commit.json",
            include_str!("../../scenarios/membership-change-before-own-term-commit.json"),
        )),
        Bug::LeaseIgnoresDrift => Some((
            "scenarios/lease-ignores-drift-window.json",
            include_str!("../../scenarios/lease-ignores-drift-window.json"),
        )),
        _ => None,
    }
}

/// Runs seeds `first_seed..first_seed + budget` with `bug` planted until one fails. The answer
/// is the lowest failing seed, whatever the number of jobs: seeds run in windows, and a window
/// is finished before the lowest failure in it is taken.
#[must_use]
pub fn hunt(bug: Bug, first_seed: u64, budget: u64, jobs: usize) -> Hunt {
    hunt_on(Implementation::RaftCore, Base::Swarm, bug, first_seed, budget, jobs)
}

/// [`hunt`] with `implementation` in every server (which must have the bug: see
/// `Implementation::supports`).
#[must_use]
pub fn hunt_on(
    implementation: Implementation,
    base: Base,
    bug: Bug,
    first_seed: u64,
    budget: u64,
    jobs: usize,
) -> Hunt {
    let window = (jobs.max(1) * 16) as u64;
    let mut start = first_seed;
    let end = first_seed.saturating_add(budget);
    let mut spent = 0u64;
    while start < end {
        let count = window.min(end - start);
        let mut runs: Vec<Option<Run>> = vec![None; count as usize];
        run_parallel(
            count,
            jobs,
            |i| hunt_run(implementation, base, bug, start + i, &BranchPath::root()),
            |i, r| {
                runs[i as usize] = Some(r);
                Flow::Continue
            },
            |_| {},
        );
        for (i, r) in runs.into_iter().enumerate() {
            let Some(r) = r else { continue };
            spent = spent.saturating_add(r.events);
            if r.verdict.is_failure() {
                let seed = start + i as u64;
                return caught(
                    (implementation, base),
                    bug,
                    seed - first_seed + 1,
                    spent,
                    seed,
                    &BranchPath::root(),
                    r,
                );
            }
        }
        start += window;
    }
    missed(bug, budget, spent)
}

/// Like [`hunt`], but spends the `budget` runs as `sweep --guided` does: root seeds from
/// `first_seed` on, and branches at the points of the coverage catalogue the hunt had not
/// reached (see [`crate::guided`]). The answer is the first failing run in plan order, the
/// same for any number of jobs.
#[must_use]
pub fn hunt_guided(bug: Bug, first_seed: u64, budget: u64, jobs: usize) -> Hunt {
    hunt_guided_on(Implementation::RaftCore, Base::Swarm, Guide::default(), bug, first_seed, budget, jobs)
}

/// [`hunt_guided`] with `implementation` in every server, root seeds drawn from `base`, and
/// the exploration steered by `guide`.
#[must_use]
pub fn hunt_guided_on(
    implementation: Implementation,
    base: Base,
    guide: Guide,
    bug: Bug,
    first_seed: u64,
    budget: u64,
    jobs: usize,
) -> Hunt {
    let roots = SeedSet { start: first_seed, end: first_seed.saturating_add(budget), shard: None };
    let mut explorer = Explorer::new(roots, budget, guide);
    let (mut done, mut spent) = (0u64, 0u64);
    loop {
        let batch = explorer.next_batch();
        if batch.is_empty() {
            return missed(bug, budget, spent);
        }
        let runs = run_batch(&batch, jobs, |group| hunt_group(implementation, base, bug, group), |_| {});
        for (task, r) in runs {
            done += 1;
            spent = spent.saturating_add(r.events);
            if r.verdict.is_failure() {
                return caught((implementation, base), bug, done, spent, task.seed, &task.branch, r);
            }
            explorer.absorb(&task, &r.points, r.events, r.fault_end);
        }
    }
}

/// What a hunt keeps of one run.
#[derive(Clone)]
struct Run {
    verdict: Verdict,
    check: String,
    reason: String,
    events: u64,
    points: Vec<(&'static str, u64)>,
    /// The events handled when the fault phase ended, if it did.
    fault_end: Option<u64>,
}

impl Run {
    /// A run that could not be made (a staging scenario that does not load; the test suite
    /// loads every scenario file, so this is a build that broke one): not a catch, so the hunt
    /// reports the bug missed rather than caught by its own harness.
    fn broken(reason: String) -> Run {
        Run {
            verdict: Verdict::Pass,
            check: "staging".into(),
            reason,
            events: 0,
            points: Vec::new(),
            fault_end: None,
        }
    }
}

fn hunt_run(implementation: Implementation, base: Base, bug: Bug, seed: u64, branch: &BranchPath) -> Run {
    let mut task = Task::root(seed);
    task.branch = branch.clone();
    hunt_group(implementation, base, bug, std::slice::from_ref(&task))
        .pop()
        .map_or_else(|| Run::broken("no run".into()), |(_, run)| run)
}

/// The runs of tasks that fork off one moment of one seed (or a single task, with the rides it
/// asks for), the shared prefix simulated once: each run's events are what it cost on its own.
fn hunt_group(implementation: Implementation, base: Base, bug: Bug, tasks: &[Task]) -> Vec<(Task, Run)> {
    let Some(first) = tasks.first() else { return Vec::new() };
    let seed = first.seed;
    let staged = staging(bug).map(|(path, text)| Scenario::parse(text, path));
    let (mut config, scenario) = match staged {
        Some(Ok(scenario)) => match scenario.config(seed) {
            Ok(config) => (config, Some(scenario)),
            Err(e) => return broken_all(tasks, &format!("the staging scenario's configuration: {e}")),
        },
        Some(Err(e)) => return broken_all(tasks, &format!("the staging scenario: {e}")),
        None => {
            let mut config = base.config(seed);
            config.fit_for(bug);
            (config, None)
        }
    };
    config.bugs = vec![bug.name().to_string()];
    config.set_implementation(implementation);
    // Availability figures are never shown here; they cost a short branch about 2%.
    let options = RunOptions { skip_availability: true, ..RunOptions::default() };
    crate::guided::run_family(&config, scenario.as_ref(), tasks, &options)
        .into_iter()
        .map(|(task, outcome, cost)| {
            let check = outcome
                .failure
                .as_ref()
                .map_or_else(|| outcome.verdict.name().to_string(), |f| f.check.clone());
            let points = outcome.summary.points.iter().map(|p| (p.point, p.first_event)).collect();
            let fault_end = outcome.summary.fault_phase_events;
            (
                task,
                Run {
                    verdict: outcome.verdict,
                    check,
                    reason: outcome.reason,
                    events: cost,
                    points,
                    fault_end,
                },
            )
        })
        .collect()
}

/// Every task of a group, as a run that could not be made.
fn broken_all(tasks: &[Task], reason: &str) -> Vec<(Task, Run)> {
    tasks.iter().map(|t| (t.clone(), Run::broken(reason.to_string()))).collect()
}

/// A catch of `bug` by the hunt of `implementation` on `base`, with the line that replays it.
fn caught(
    (implementation, base): (Implementation, Base),
    bug: Bug,
    runs: u64,
    events: u64,
    seed: u64,
    branch: &BranchPath,
    r: Run,
) -> Hunt {
    let on_branch = if branch.is_root() { String::new() } else { format!(" --branch {branch}") };
    let on_impl = if implementation == Implementation::RaftCore {
        String::new()
    } else {
        format!(" --impl {implementation}")
    };
    let on_base = if base == Base::Swarm { String::new() } else { format!(" --base {}", base.name()) };
    Hunt {
        bug: bug.name().into(),
        caught: true,
        seeds: runs,
        events,
        branch: branch.to_string(),
        seed: Some(seed),
        verdict: Some(r.verdict),
        check: Some(r.check),
        reason: Some(r.reason),
        replay: Some(match staging(bug) {
            Some((path, _)) => format!(
                "cargo run --release -- run --scenario {path} --seed {seed}{on_branch}{on_impl} --bug {}",
                bug.name()
            ),
            None => {
                format!(
                    "cargo run --release -- --seed {seed}{on_base}{on_branch}{on_impl} --bug {}",
                    bug.name()
                )
            }
        }),
    }
}

fn missed(bug: Bug, budget: u64, events: u64) -> Hunt {
    Hunt {
        bug: bug.name().into(),
        caught: false,
        seeds: budget,
        events,
        branch: String::new(),
        seed: None,
        verdict: None,
        check: None,
        reason: None,
        replay: None,
    }
}

/// The median of the seeds needed over several hunts from different starting seeds; a hunt that
/// ran out of budget counts as the budget.
#[must_use]
pub fn median_seeds(hunts: &[Hunt]) -> u64 {
    median(hunts.iter().map(|h| h.seeds).collect())
}

/// The median of the events simulated until the catch (or over the whole budget).
#[must_use]
pub fn median_events(hunts: &[Hunt]) -> u64 {
    median(hunts.iter().map(|h| h.events).collect())
}

/// The mean events over `hunts` (a missed hunt counts what it spent): what a hunt costs on
/// average, where the median says what a typical one costs.
#[must_use]
pub fn mean_events(hunts: &[Hunt]) -> u64 {
    let total: u128 = hunts.iter().map(|h| u128::from(h.events)).sum();
    u64::try_from(total.checked_div(hunts.len() as u128).unwrap_or(0)).unwrap_or(u64::MAX)
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// What branches forked at one point of the catalogue do against fresh seeds, for one planted
/// bug ([`fork_trial`]): the measurement behind each `Point::horizon_factor` and the hazards'
/// figures in the README, as `raftsim bench hazard` prints it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ForkTrial {
    /// The root seeds run, those that failed on their own, and the events they simulated.
    pub roots: u64,
    pub root_failures: u64,
    pub root_events: u64,
    /// The roots that pass and reach the point: each gets the branches.
    pub reaching: u64,
    /// Branches run, those that failed, and the work they cost as a guided sweep charges it
    /// (their own events, the shared prefix once per root and each one's copy).
    pub branches: u64,
    pub branch_failures: u64,
    pub branch_work: u64,
    /// Each root whose branches failed: its seed, the event it forked at, and how many failed.
    pub catching_roots: Vec<(u64, u64, u64)>,
    /// The first failing branch, in seed and fork order, with its replay line.
    pub first_catch: Option<Hunt>,
}

impl ForkTrial {
    /// Fresh seeds' events per failing seed, and branches' work per failing branch (None
    /// without a failure).
    #[must_use]
    pub fn per_catch(&self) -> (Option<u64>, Option<u64>) {
        (self.root_events.checked_div(self.root_failures), self.branch_work.checked_div(self.branch_failures))
    }
}

/// Runs root seeds `seeds` of `base` with `bug` planted; at the first event at which each that
/// passes reached `point`, forks `branches` branches ending `horizon_ns` after the fork, and
/// counts what fails. Deterministic whatever `jobs` is: each root and its branches run on one
/// thread, and the results are taken in seed order.
#[must_use]
pub fn fork_trial(
    (implementation, base): (Implementation, Base),
    bug: Bug,
    point: crate::coverage::Point,
    seeds: (u64, u64),
    (branches, horizon_ns): (u32, u64),
    jobs: usize,
) -> ForkTrial {
    type Root = (Run, Option<(u64, Vec<(BranchPath, Run)>)>);
    let (start, end) = seeds;
    let count = end.saturating_sub(start);
    let mut results: Vec<Option<Root>> = vec![None; usize::try_from(count).unwrap_or(0)];
    run_parallel(
        count,
        jobs,
        |i| -> Root {
            let seed = start + i;
            let root = hunt_run(implementation, base, bug, seed, &BranchPath::root());
            let at = root.points.iter().find(|(name, _)| *name == point.name()).map(|&(_, event)| event);
            let Some(event) = at.filter(|_| !root.verdict.is_failure()) else { return (root, None) };
            let tasks: Vec<Task> = (1..=branches)
                .map(|fork| Task {
                    branch: BranchPath::root().then(event, fork).with_horizon(Some(horizon_ns)),
                    hazard: true,
                    ..Task::root(seed)
                })
                .collect();
            let runs = hunt_group(implementation, base, bug, &tasks);
            (root, Some((event, runs.into_iter().map(|(t, run)| (t.branch, run)).collect())))
        },
        |i, r| {
            if let Some(slot) = results.get_mut(i as usize) {
                *slot = Some(r);
            }
            Flow::Continue
        },
        |_| {},
    );
    let mut trial = ForkTrial::default();
    for (i, r) in results.into_iter().enumerate() {
        let Some((root, forked)) = r else { continue };
        let seed = start + i as u64;
        trial.roots += 1;
        trial.root_events = trial.root_events.saturating_add(root.events);
        trial.root_failures += u64::from(root.verdict.is_failure());
        let Some((event, runs)) = forked else { continue };
        trial.reaching += 1;
        let mut failed = 0;
        for (branch, run) in runs {
            trial.branches += 1;
            trial.branch_work = trial.branch_work.saturating_add(run.events);
            if run.verdict.is_failure() {
                failed += 1;
                if trial.first_catch.is_none() {
                    let (runs, work) = (trial.branches, trial.branch_work);
                    trial.first_catch =
                        Some(caught((implementation, base), bug, runs, work, seed, &branch, run));
                }
            }
        }
        trial.branch_failures += failed;
        if failed > 0 {
            trial.catching_roots.push((seed, event, failed));
        }
    }
    trial
}
