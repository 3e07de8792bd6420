//! Guided exploration: spend a sweep's work where it finds something new.
//!
//! A plain sweep runs its seeds one after another and spends each the same way. A guided sweep
//! watches the coverage catalogue and continues runs from chosen moments on branches, each with
//! fresh random streams from that moment on (see [`crate::branch`]):
//! - where a run first reached a point no run of the sweep reached before (`fanout_new`
//!   branches; `fanout_rare` for a point only a few runs reached, none by default);
//! - at hazards ([`crate::coverage::Point::hazard`]: leadership changing hands while entries,
//!   a snapshot or a configuration are unsettled), however common, since whether a wrong rule
//!   shows there depends on the next few milliseconds' timing (`fanout_hazard` branches);
//! - where a root's fault phase ended, if its liveness phase then healed only a core
//!   (`fanout_liveness` branches): each runs the liveness phase alone, with the core and the
//!   fates of the rest drawn anew. They are the only branches that reach a liveness phase, and
//!   so the only ones that can try a liveness bug again. They are not planned after the root
//!   but asked for with it ([`Task::rides`]): the root's run copies itself where its fault
//!   phase ends ([`crate::run::run_with_rides`]), so they cost their liveness phases and
//!   copies only, where a group planned after the root first simulated its whole fault phase
//!   again (about a root's work for each group of eight, most of what they cost). Their
//!   results count after the batch's planned runs ([`run_batch`]), as if planned after it.
//!
//! Branches are short: those of one run in a batch share one walk of its prefix, each running
//! off a copy of the run made at its fork ([`families`], [`crate::run::run_branches`]; an
//! implementation that cannot copy itself replays the prefix for each), and each stops
//! `horizon_ns` of virtual time after its fork (a few times that at a point whose rule stays
//! at stake longer: [`crate::coverage::Point::horizon_factor`]).
//! The budget is work, counted in root runs' events, not runs (a branch is charged its copy
//! too, [`crate::run::branch_copy_cost`], so that equal work is about equal CPU time): after
//! `warm_up` plain root runs (the first batch, whose liveness branches count after it), a
//! share of each batch's work (`branch_sixteenths`) goes to branches: first the roots'
//! liveness branches, then of the rest a share (`hazard_sixteenths`) to hazards while new
//! points have branches waiting too. A branch that reaches nothing new spawns
//! nothing. Several points first reached at one event fork there once (their branches would be
//! the same runs).
//!
//! Measured (README, `raftsim bench exploration`, at equal CPU time: a branch is charged its
//! copy too, `run::branch_copy_cost`): the same catches as plain seeds for every planted bug
//! plain seeds catch within the first batch, and less work for some that take longer where a
//! hazard leads to them: commit-previous-term (a race between a new leader's own write and
//! its followers' acknowledgements) under the crash-heavy and the quiet bases, stale-leader-read
//! (a new leader answering before it knows what the cluster committed) under the quiet base,
//! and active-on-send (a deposed leader that keeps a core from electing) under the swarm,
//! through the branches at the end of a fault phase. Re-rolling the timing of the moments
//! where such a bug can happen is cheaper than meeting them in fresh seeds. The price is paid
//! in trials that outlast the first batch by a bug that fresh configurations meet sooner than
//! re-rolled moments do: read-before-confirm under the swarm, which branches at two leaders
//! at once catch only from the few roots whose configuration and clients let a read go stale
//! (0.88 times plain seeds' work on the mean over 300 trials, 95% interval 0.80 to 0.97; the
//! median is equal). It was 0.84 (0.78 to 0.90) while liveness branches simulated their
//! root's fault phase again, which was also what left stale-leader-read under the swarm 3%
//! slower (now 0.99, 0.96 to 1.01). Cut-before-snapshot-durable under the swarm too (0.86,
//! 0.80 to 0.93), which plain seeds catch in 11 runs at the median: branches at a crash that
//! caught a snapshot write catch it, but few roots' crashes can. Coverage cannot tell a sweep
//! where its work finds bugs: branches find few new points or pairs under any base.
//!
//! Everything is deterministic: the runs are planned in batches from what earlier batches
//! found, the results of a batch are taken in plan order whatever the threads did, and each run
//! is named by its root seed and branch path, which `raftsim run --seed N --branch PATH`
//! replays exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::branch::BranchPath;
use crate::sweep::SeedSet;

mod guide;
pub use guide::Guide;

/// One run to do: a root seed and the branch of it to follow (the root path for the seed's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub seed: u64,
    pub branch: BranchPath,
    /// Planned at a hazard rather than at a new or rare point (its cost is counted apart).
    pub hazard: bool,
    /// For a root: the branches to fork where its fault phase ends, if its liveness phase heals
    /// only a core, run along with it ([`crate::run::run_with_rides`]); their results come after
    /// the batch's planned runs ([`run_batch`]), as tasks of their own ([`Task::ride`]).
    pub rides: u32,
    /// A branch forked where its root's fault phase ended, run along with the root.
    pub rode: bool,
}

impl Task {
    /// The seed's own run.
    #[must_use]
    pub fn root(seed: u64) -> Task {
        Task { seed, branch: BranchPath::root(), hazard: false, rides: 0, rode: false }
    }

    /// A branch of this root run along with it (see `rides`).
    #[must_use]
    pub fn ride(&self, branch: BranchPath) -> Task {
        Task { seed: self.seed, branch, hazard: false, rides: 0, rode: true }
    }

    /// A branch planned at a fork of a run.
    fn planned(seed: u64, branch: BranchPath, hazard: bool) -> Task {
        Task { seed, branch, hazard, rides: 0, rode: false }
    }
}

/// What the exploration did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidedStats {
    /// Runs of root seeds.
    pub roots: u64,
    /// Runs of branches.
    pub branches: u64,
    /// Branches planned at points no run had reached before.
    pub planned_new: u64,
    /// Branches planned at rarely reached points.
    pub planned_rare: u64,
    /// Branches planned at hazards reached often.
    #[serde(default)]
    pub planned_hazard: u64,
    /// Branches run where a root's fault phase ended, to draw its liveness phase anew (each
    /// with its root, see `Task::rides`).
    #[serde(default)]
    pub planned_liveness: u64,
    /// Planned branches dropped because the queue was full (those at the most common points).
    pub dropped: u64,
    /// Planned branches still waiting when the budget ran out (the least tried ran first, so
    /// a long wait list is the usual end of a guided sweep, not a loss).
    #[serde(default)]
    pub unrun: u64,
    /// The deepest branch run (forks in its path).
    pub deepest: u64,
    /// The knobs `--guide` changed (empty: the default guide).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub guide: String,
}

impl GuidedStats {
    /// Counts a run to do: a root, or a branch (and how deep it goes).
    fn count(&mut self, task: &Task) {
        if task.branch.is_root() {
            self.roots += 1;
        } else {
            self.branches += 1;
            self.deepest = self.deepest.max(task.branch.forks().len() as u64);
        }
    }
}

/// The planner. Call [`Explorer::next_batch`], run the batch, then [`Explorer::absorb`] each
/// result in the batch's order.
pub struct Explorer {
    guide: Guide,
    roots: SeedSet,
    next_root: u64,
    budget: u64,
    /// Branches waiting, by (runs that had reached the point when it was planned, plan order).
    queue: BTreeMap<(u64, u64), Task>,
    /// Branches waiting at hazards (`Point::hazard`) reached too often to be rare, by (groups
    /// planned at that hazard before, plan order): the least tried hazard first.
    hazards: BTreeMap<(u64, u64), Task>,
    /// Branches absorbed from each queue (novelty, hazards), and the events they cost.
    kind_done: [u64; 2],
    kind_events: [u64; 2],
    /// Roots absorbed that were asked for branches at the end of their fault phase
    /// (`Task::rides`), and the events those branches cost.
    ride_roots: u64,
    ride_events: u64,
    order: u64,
    /// Runs that reached each point so far.
    reached: BTreeMap<String, u64>,
    /// Runs that reached each ordered pair of points (the first before the second) so far.
    pairs: BTreeMap<(String, String), u64>,
    /// Forks planned at each hazard because it is a hazard.
    hazard_forks: BTreeMap<String, u64>,

    /// Runs absorbed so far.
    absorbed: u64,
    /// Root runs and branches absorbed, and the events each kind cost.
    roots_done: u64,
    root_events: u64,
    pub stats: GuidedStats,
}

/// Where a planned fork waits: with the new and rare points (by the runs that had reached the
/// point before), or with the hazards (by the forks planned at that hazard before).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Novelty(u64),
    Hazard(u64),
}

/// Whether two tasks fork off one run at one event (and so can share its prefix).
#[must_use]
pub fn same_moment(a: &Task, b: &Task) -> bool {
    a.seed == b.seed
        && !a.branch.is_root()
        && a.branch.forks().last().map(|f| f.event) == b.branch.forks().last().map(|f| f.event)
        && a.branch.parent() == b.branch.parent()
}

impl Explorer {
    /// Explores from the root seeds of `roots` for `budget` root runs' worth of work in all
    /// (roots and branches; see [`Explorer::next_batch`]).
    #[must_use]
    pub fn new(roots: SeedSet, budget: u64, guide: Guide) -> Explorer {
        let stats = GuidedStats { guide: guide.changes(), ..GuidedStats::default() };
        Explorer {
            guide,
            roots,
            next_root: 0,
            budget,
            queue: BTreeMap::new(),
            hazards: BTreeMap::new(),
            kind_done: [0, 0],
            kind_events: [0, 0],
            ride_roots: 0,
            ride_events: 0,
            order: 0,
            reached: BTreeMap::new(),
            pairs: BTreeMap::new(),
            hazard_forks: BTreeMap::new(),

            absorbed: 0,
            roots_done: 0,
            root_events: 0,
            stats,
        }
    }

    /// The next runs to do (empty once the budget is spent or nothing is left to run).
    ///
    /// The budget is work, counted in root runs: a root run counts one, a branch the events it
    /// simulated over a root run's mean (a branch with a horizon, forked off a shared prefix,
    /// costs a small part of one). While root seeds remain, a batch holds
    /// `batch * (16 - branch_sixteenths) / 16` roots and branches expected to cost
    /// `branch_sixteenths / 16` of the batch's work (the first batch, with nothing queued, is
    /// all roots), so that a sweep keeps meeting new configurations. The branches forked at one
    /// moment stay together (they run off one shared prefix).
    pub fn next_batch(&mut self) -> Vec<Task> {
        let spent = self.work_spent_milli();
        let left_milli = self.budget.saturating_mul(1000).saturating_sub(spent);
        if left_milli == 0 {
            self.stats.unrun += (self.queue.len() + self.hazards.len()) as u64;
            self.queue.clear();
            self.hazards.clear();
            return Vec::new();
        }
        let room = left_milli.div_ceil(1000).min(self.guide.batch as u64) as usize;
        let roots_left = self.roots.len().saturating_sub(self.next_root);
        let sixteenths = self.guide.branch_sixteenths.min(16) as u64;
        let root_count = if roots_left == 0 {
            0
        } else if (self.queue.is_empty() && self.hazards.is_empty())
            || sixteenths == 0
            || self.roots_done < self.guide.warm_up
        {
            // Nothing to branch to yet, or still warming up: a batch of roots.
            room
        } else {
            ((room as u64 * (16 - sixteenths) / 16) as usize).max(usize::from(sixteenths < 16))
        }
        .min(usize::try_from(roots_left).unwrap_or(usize::MAX))
        // No root that would run past the budget.
        .min(usize::try_from(left_milli / 1000).unwrap_or(usize::MAX));
        // The events the branches of this batch may cost, and what one is expected to cost.
        let root_events = self.mean_root_events();
        let warming = roots_left > 0 && self.roots_done < self.guide.warm_up;
        let share = if warming {
            0
        } else if root_count > 0 {
            (root_count as u64).saturating_mul(root_events).saturating_mul(sixteenths)
                / (16 - sixteenths).max(1)
        } else {
            (room as u64).saturating_mul(root_events)
        };
        // Never past the budget: what the roots leave of it, at most (the last batches of a
        // hunt that catches nothing would otherwise spend a few branches' work too many).
        let left_events =
            u128::from(left_milli.saturating_sub(root_count as u64 * 1000)) * u128::from(root_events) / 1000;
        let budget_events = u64::try_from(left_events).unwrap_or(u64::MAX);
        let mut allowance = share.min(budget_events);
        // Roots fork the liveness phase as they go (`Task::rides`), before any branch waiting
        // is paid for: during the warm-up every root, if the budget holds as much again as the
        // roots' own work; after it, as many as the allowance pays for at what a root's such
        // branches cost so far (every root, before any was counted).
        let per_rider = self.ride_events.checked_div(self.ride_roots).filter(|&per| per > 0);
        let riders = if self.guide.fanout_liveness == 0 || sixteenths == 0 {
            0
        } else if warming {
            if budget_events >= (root_count as u64).saturating_mul(root_events) {
                root_count
            } else {
                0
            }
        } else if let Some(per) = per_rider {
            let riders = (allowance / per).min(root_count as u64);
            allowance -= riders * per;
            riders as usize
        } else if allowance > 0 {
            root_count
        } else {
            0
        };
        // What a branch of each queue is expected to cost: the mean of those absorbed so far.
        let fallback = self.mean_branch_events().unwrap_or(root_events).max(1);
        let per_branch =
            [0, 1].map(|k| self.kind_events[k].checked_div(self.kind_done[k]).unwrap_or(fallback).max(1));
        let mut batch: Vec<Task> = Vec::new();
        let mut expected = 0u64;
        // The events each queue's branches cost so far, and are expected to in this batch.
        let mut taken = self.kind_events;
        let branch_cap = self.guide.batch.saturating_mul(64);
        while expected < allowance && batch.len() < branch_cap {
            // The queue behind its share of the branches so far goes next (hazards get
            // `hazard_sixteenths` of them while both queues have some waiting).
            let share = self.guide.hazard_sixteenths.min(16);
            let hazard = match (self.queue.is_empty(), self.hazards.is_empty()) {
                (true, true) => break,
                // Hazards' work so far, against their share of all branches' work so far.
                (false, false) => {
                    share > 0 && taken[1].saturating_mul(16) <= (taken[0] + taken[1]).saturating_mul(share)
                }
                (novelty_empty, _) => novelty_empty,
            };
            let cost = per_branch[usize::from(hazard)];
            let room_for = |len: usize| {
                budget_events >= expected.saturating_add(cost.saturating_mul(len as u64 + 1))
                    && batch.len() + len < branch_cap
            };
            // The rest of its group comes along, in fork order, as far as the budget goes (the
            // rest of a group cut there waits).
            let group = if hazard {
                take_group(&mut self.hazards, room_for)
            } else {
                take_group(&mut self.queue, room_for)
            };
            if group.is_empty() {
                break;
            }
            let work = cost.saturating_mul(group.len() as u64);
            taken[usize::from(hazard)] = taken[usize::from(hazard)].saturating_add(work);
            expected = expected.saturating_add(work);
            batch.extend(group);
        }
        for i in 0..root_count {
            let mut root = Task::root(self.roots.nth(self.next_root));
            if i < riders {
                root.rides = self.guide.fanout_liveness;
            }
            batch.push(root);
            self.next_root += 1;
        }
        for task in &batch {
            self.stats.count(task);
        }
        batch
    }

    /// Work absorbed so far, in thousandths of a root run.
    fn work_spent_milli(&self) -> u64 {
        let per_root = self.mean_root_events().max(1);
        let branches = self.kind_events.iter().sum::<u64>().saturating_add(self.ride_events);
        self.roots_done.saturating_mul(1000).saturating_add(branches.saturating_mul(1000) / per_root)
    }

    /// The mean events of the root runs absorbed so far (1 before any).
    fn mean_root_events(&self) -> u64 {
        self.root_events.checked_div(self.roots_done).unwrap_or(1).max(1)
    }

    /// The mean events a branch absorbed so far cost, if any was.
    fn mean_branch_events(&self) -> Option<u64> {
        self.kind_events.iter().sum::<u64>().checked_div(self.kind_done.iter().sum())
    }

    /// Takes one run's points (name, first event), the events it cost (for a branch run off a
    /// shared prefix, its own events only) and the events it had handled when its fault phase
    /// ended (None if it ended before), and plans the branches they call for, all before the
    /// end of the fault phase (a horizon cuts only that phase); returns how many points this
    /// run reached first.
    pub fn absorb<S: AsRef<str>>(
        &mut self,
        task: &Task,
        points: &[(S, u64)],
        cost: u64,
        fault_end: Option<u64>,
    ) -> usize {
        if task.branch.is_root() {
            self.roots_done += 1;
            self.root_events = self.root_events.saturating_add(cost);
            self.ride_roots += u64::from(task.rides > 0);
        } else if task.rode {
            // Not planned: count it as a planned branch that ran.
            self.ride_events = self.ride_events.saturating_add(cost);
            self.stats.planned_liveness += 1;
            self.stats.count(task);
        } else {
            let kind = usize::from(task.hazard);
            self.kind_done[kind] += 1;
            self.kind_events[kind] = self.kind_events[kind].saturating_add(cost);
        }
        let last_fork = task.branch.forks().last().map(|f| f.event);
        let deep = task.branch.forks().len() >= self.guide.depth_max;
        // Only a point the branch reached after its own last fork is its own finding.
        let fresh = |event: u64| {
            !deep && last_fork.is_none_or(|e| event > e) && fault_end.is_none_or(|end| event < end)
        };
        self.absorbed += 1;
        let mut new = 0;
        // (its place in a queue, its first event, branches asked, horizons they run).
        let mut plans: Vec<(Place, u64, u32, u64)> = Vec::new();
        for (name, first_event) in points {
            let name = name.as_ref();
            let runs = crate::sweep::counter(&mut self.reached, name);
            let before = *runs;
            *runs += 1;
            if before == 0 {
                new += 1;
            }
            if !fresh(*first_event) {
                continue;
            }
            let rare = before < self.guide.rare_below
                || (self.guide.rare_share > 0 && before * self.guide.rare_share <= self.absorbed);
            let point = crate::coverage::Point::named(name);
            let hazard = point.is_some_and(crate::coverage::Point::hazard);
            let horizons = point.map_or(1, crate::coverage::Point::horizon_factor);
            let novelty = if before == 0 {
                self.guide.fanout_new
            } else if rare {
                self.guide.fanout_rare
            } else {
                0
            };
            let at_hazard = if hazard { self.guide.fanout_hazard } else { 0 };
            if novelty == 0 && at_hazard == 0 {
                continue;
            }
            // A new or rare point queues by the runs that reached it before; a hazard reached
            // often queues behind the hazards tried fewer times.
            let place = if novelty > 0 {
                Place::Novelty(before)
            } else {
                let tried = crate::sweep::counter(&mut self.hazard_forks, name);
                *tried += 1;
                Place::Hazard(*tried)
            };
            plans.push((place, *first_event, novelty.max(at_hazard), horizons));
        }
        if self.guide.fanout_pair > 0 {
            let mut order: Vec<(&str, u64)> = points.iter().map(|(name, e)| (name.as_ref(), *e)).collect();
            order.sort_by(|x, y| (x.1, x.0).cmp(&(y.1, y.0)));
            for (j, second) in order.iter().enumerate() {
                for first in &order[..j] {
                    if first.1 == second.1 {
                        continue;
                    }
                    let key = (first.0.to_string(), second.0.to_string());
                    let before = self.pairs.get(&key).copied().unwrap_or(0);
                    *self.pairs.entry(key).or_insert(0) += 1;
                    if before == 0 && fresh(second.1) {
                        plans.push((Place::Novelty(0), second.1, self.guide.fanout_pair, 1));
                    }
                }
            }
        }
        // One event forks once: several points first reached at the same event (a crash of a
        // leader with writes in flight, say) ask for the same branches, which would be the same
        // runs. It gets the most branches any of them asks for, at the best place any of them
        // has (a new or rare point's before a hazard's), running as long as the longest of them
        // asks.
        let floor = last_fork.map_or(0, |e| e + 1);
        let mut forks: BTreeMap<u64, (Place, u32, u64)> = BTreeMap::new();
        for (place, event, fanout, horizons) in plans {
            if fanout == 0 {
                continue;
            }
            let event = event.saturating_sub(self.guide.fork_back).max(floor);
            let slot = forks.entry(event).or_insert((place, fanout, horizons));
            *slot = (slot.0.min(place), slot.1.max(fanout), slot.2.max(horizons));
        }
        for (event, (place, fanout, horizons)) in forks {
            let (queue, key, hazard) = match place {
                Place::Novelty(0) => {
                    self.stats.planned_new += u64::from(fanout);
                    (&mut self.queue, 0, false)
                }
                Place::Novelty(before) => {
                    self.stats.planned_rare += u64::from(fanout);
                    (&mut self.queue, before, false)
                }
                Place::Hazard(tried) => {
                    self.stats.planned_hazard += u64::from(fanout);
                    (&mut self.hazards, tried, true)
                }
            };
            let horizon = self.guide.horizon_ns.map(|ns| ns.saturating_mul(horizons));
            for fork in 1..=fanout {
                let branch = task.branch.then(event, fork).with_horizon(horizon);
                queue.insert((key, self.order), Task::planned(task.seed, branch, hazard));
                self.order += 1;
            }
        }
        let max = self.guide.queue_max;
        self.stats.dropped += trim(&mut self.queue, max) + trim(&mut self.hazards, max);
        new
    }

    /// Points reached so far, with the runs that reached each.
    #[must_use]
    pub fn reached(&self) -> &BTreeMap<String, u64> {
        &self.reached
    }
}

/// Drops the last tasks of `queue` (the most common points', or the latest planned) past `max`;
/// how many it dropped.
fn trim<K: Ord>(queue: &mut BTreeMap<K, Task>, max: usize) -> u64 {
    let mut dropped = 0;
    while queue.len() > max {
        queue.pop_last();
        dropped += 1;
    }
    dropped
}

/// The first task of `queue` and the rest of its group (those forking off the same run at the
/// same event, next in the queue) while `room_for(tasks taken so far)` allows one more.
fn take_group<K: Ord>(queue: &mut BTreeMap<K, Task>, room_for: impl Fn(usize) -> bool) -> Vec<Task> {
    let Some((_, first)) = queue.pop_first() else { return Vec::new() };
    let mut group = vec![first];
    while let Some(entry) = queue.first_entry() {
        if !same_moment(entry.get(), &group[0]) || !room_for(group.len()) {
            break;
        }
        group.push(entry.remove());
    }
    group
}

/// The batch cut into the runs to do together: each root alone, and the branches that fork off
/// one run (the same seed, the same path before their last fork), wherever they stand in the
/// batch, in the order of their fork events (plan order among those at one event). Those of one
/// run share its prefix: it is simulated once, up to each fork in turn
/// ([`crate::run::run_branches`]), where branches of one run that queued apart (hazards and new
/// points first reached by one root, say) would each simulate it again.
#[must_use]
pub fn families(batch: &[Task]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut index: BTreeMap<(u64, BranchPath), usize> = BTreeMap::new();
    for (i, task) in batch.iter().enumerate() {
        if task.branch.is_root() {
            out.push(vec![i]);
            continue;
        }
        let slot = *index.entry((task.seed, task.branch.parent())).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[slot].push(i);
    }
    let event = |i: &usize| batch[*i].branch.forks().last().map_or(0, |f| f.event);
    for family in &mut out {
        family.sort_by_key(|i| (event(i), *i));
    }
    out
}

/// Runs one family of a batch (see [`families`]): the branches of one run off its shared
/// prefix ([`crate::run::run_branches`]), or a root with the branches it asks for where its
/// fault phase ends ([`Task::rides`], [`crate::run::run_with_rides`]). Each outcome comes with
/// its task (a root's rides after the root, as tasks of their own) and its cost in events.
#[must_use]
pub fn run_family(
    config: &crate::config::SimConfig,
    scenario: Option<&crate::scenario::Scenario>,
    tasks: &[Task],
    options: &crate::run::RunOptions,
) -> Vec<(Task, crate::run::Outcome, u64)> {
    match tasks {
        [root] if root.rides > 0 => {
            let mut config = config.clone();
            config.branch = root.branch.clone();
            let mut out = crate::run::run_with_rides(&config, scenario, root.rides, options).into_iter();
            let first = out.next().map(|(outcome, cost)| (root.clone(), outcome, cost));
            let rides =
                out.map(|(outcome, cost)| (root.ride(outcome.end.config.branch.clone()), outcome, cost));
            first.into_iter().chain(rides).collect()
        }
        _ => {
            let branches: Vec<BranchPath> = tasks.iter().map(|t| t.branch.clone()).collect();
            let outcomes = crate::run::run_branches(config, scenario, &branches, options);
            tasks.iter().cloned().zip(outcomes).map(|(task, (outcome, cost))| (task, outcome, cost)).collect()
        }
    }
}

/// Runs a batch on `jobs` threads, the branches of one run together (see [`families`]: `work`
/// gets them in fork order and returns each task's result, in that order, so that it can
/// simulate their shared prefix once; a root's rides follow it, see [`run_family`]). The
/// results come back with their tasks in the batch's order, whatever the threads did, and the
/// rides after them all, in their roots' order: they are branches the batch's results led to,
/// as if planned after it (so a bug a root of the warm-up catches costs what it costs plain
/// seeds), run along with their roots only so as not to simulate their fault phases again.
/// `idle` is called while runs go on (for progress lines), with the batch index of each
/// running family's first task.
pub fn run_batch<R, W, I>(batch: &[Task], jobs: usize, work: W, idle: I) -> Vec<(Task, R)>
where
    R: Send,
    W: Fn(&[Task]) -> Vec<(Task, R)> + Sync,
    I: FnMut(&crate::pool::Running),
{
    let mut idle = idle;
    let families = families(batch);
    let mut results: Vec<Option<(Task, R)>> = std::iter::repeat_with(|| None).take(batch.len()).collect();
    let mut rides: Vec<Vec<(Task, R)>> = std::iter::repeat_with(Vec::new).take(batch.len()).collect();
    crate::pool::run_parallel(
        families.len() as u64,
        jobs,
        |f| {
            let tasks: Vec<Task> = families[f as usize].iter().map(|&i| batch[i].clone()).collect();
            work(&tasks)
        },
        |f, rs| {
            // Each planned task's result in its own place; a ride with its root's.
            let mut places = families[f as usize].iter();
            let mut place: Option<usize> = None;
            for (task, r) in rs {
                if task.rode {
                    if let Some(i) = place {
                        rides[i].push((task, r));
                    }
                } else {
                    place = places.next().copied();
                    if let Some(i) = place {
                        results[i] = Some((task, r));
                    }
                }
            }
            crate::pool::Flow::Continue
        },
        |running| {
            let tasks: crate::pool::Running =
                running.iter().map(|&(f, since)| (families[f as usize][0] as u64, since)).collect();
            idle(&tasks);
        },
    );
    results.into_iter().flatten().chain(rides.into_iter().flatten()).collect()
}

#[cfg(test)]
mod tests;
