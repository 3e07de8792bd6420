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
//! - where a run's fault phase ended, if its liveness phase then healed only a core
//!   (`fanout_liveness` branches, run before any other): each runs the liveness phase alone,
//!   with the core and the fates of the rest drawn anew. They are the only branches that reach
//!   a liveness phase, and so the only ones that can try a liveness bug again.
//!
//! Branches are short: those of one run in a batch share one walk of its prefix, each running
//! off a copy of the run made at its fork ([`families`], [`crate::run::run_branches`]; an
//! implementation that cannot copy itself replays the prefix for each), and each stops
//! `horizon_ns` of virtual time after its fork (a few times that at a point whose rule stays
//! at stake longer: [`crate::coverage::Point::horizon_factor`]).
//! The budget is work, counted in root runs' events, not runs (a branch is charged its copy
//! too, [`crate::run::branch_copy_cost`], so that equal work is about equal CPU time): after
//! `warm_up` plain root runs (the first batch), a share of each batch's work
//! (`branch_sixteenths`) goes to branches, and of that a share (`hazard_sixteenths`) to hazards
//! while new points have branches waiting too. A branch that reaches nothing new spawns
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
//! (0.91 times plain seeds' work on the mean over 100 trials; the median is equal).
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
}

impl Task {
    /// The seed's own run.
    #[must_use]
    pub fn root(seed: u64) -> Task {
        Task { seed, branch: BranchPath::root(), hazard: false }
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
    /// Branches planned where a run's fault phase ended, to draw its liveness phase anew.
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
    /// Branches waiting at the end of a fault phase (see `Guide::fanout_liveness`), in plan
    /// order: they go first, as nothing else tries a liveness phase again.
    liveness: BTreeMap<u64, Task>,
    /// Branches absorbed from each queue (novelty, hazards), and the events they cost.
    kind_done: [u64; 2],
    kind_events: [u64; 2],
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
            liveness: BTreeMap::new(),
            kind_done: [0, 0],
            kind_events: [0, 0],
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
            self.stats.unrun += (self.queue.len() + self.hazards.len() + self.liveness.len()) as u64;
            self.queue.clear();
            self.hazards.clear();
            self.liveness.clear();
            return Vec::new();
        }
        let room = left_milli.div_ceil(1000).min(self.guide.batch as u64) as usize;
        let roots_left = self.roots.len().saturating_sub(self.next_root);
        let sixteenths = self.guide.branch_sixteenths.min(16) as u64;
        let root_count = if roots_left == 0 {
            0
        } else if (self.queue.is_empty() && self.hazards.is_empty() && self.liveness.is_empty())
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
        let allowance = share.min(budget_events);
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
            // The branches at the end of a fault phase first (no other branch reaches a
            // liveness phase). Then the queue behind its share of the branches so far goes
            // next (hazards get `hazard_sixteenths` of them while both queues have some waiting).
            let share = self.guide.hazard_sixteenths.min(16);
            let liveness = !self.liveness.is_empty();
            let hazard = match (liveness, self.queue.is_empty(), self.hazards.is_empty()) {
                (true, ..) => false,
                (false, true, true) => break,
                // Hazards' work so far, against their share of all branches' work so far.
                (false, false, false) => {
                    share > 0 && taken[1].saturating_mul(16) <= (taken[0] + taken[1]).saturating_mul(share)
                }
                (false, novelty_empty, _) => novelty_empty,
            };
            let cost = per_branch[usize::from(hazard)];
            let room_for = |len: usize| {
                budget_events >= expected.saturating_add(cost.saturating_mul(len as u64 + 1))
                    && batch.len() + len < branch_cap
            };
            // The rest of its group comes along, in fork order, as far as the budget goes (the
            // rest of a group cut there waits).
            let group = if liveness {
                take_group(&mut self.liveness, room_for)
            } else if hazard {
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
        for _ in 0..root_count {
            batch.push(Task::root(self.roots.nth(self.next_root)));
            self.next_root += 1;
        }
        for task in &batch {
            if task.branch.is_root() {
                self.stats.roots += 1;
            } else {
                self.stats.branches += 1;
                self.stats.deepest = self.stats.deepest.max(task.branch.forks().len() as u64);
            }
        }
        batch
    }

    /// Work absorbed so far, in thousandths of a root run.
    fn work_spent_milli(&self) -> u64 {
        let per_root = self.mean_root_events().max(1);
        self.roots_done
            .saturating_mul(1000)
            .saturating_add(self.kind_events.iter().sum::<u64>().saturating_mul(1000) / per_root)
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
            // A name is cloned only the first time it is reached (a sweep absorbs a result per
            // branch, most of them cheaper to simulate than a clone per point).
            let before = match self.reached.get_mut(name) {
                Some(runs) => {
                    *runs += 1;
                    *runs - 1
                }
                None => {
                    self.reached.insert(name.to_string(), 1);
                    new += 1;
                    0
                }
            };
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
                let tried = self.hazard_forks.entry(name.to_string()).or_insert(0);
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
                queue.insert((key, self.order), Task { seed: task.seed, branch, hazard });
                self.order += 1;
            }
        }
        // Where the run's fault phase ended, if it then healed only a core: that draw (which
        // majority heals, and which of the rest stay down, paused, isolated or cut one way) is
        // made there, so branches forked there each run the liveness phase with a draw of
        // their own. Each costs that phase and its copy (the first of them the fault phase
        // too, as the group's prefix); they are the only branches that reach the phase.
        let core_only = crate::coverage::Point::LivenessCoreOnly.name();
        let liveness = fault_end.filter(|&end| {
            self.guide.fanout_liveness > 0
                && !deep
                && last_fork.is_none_or(|e| end > e)
                && points.iter().any(|(name, _)| name.as_ref() == core_only)
        });
        if let Some(end) = liveness {
            self.stats.planned_liveness += u64::from(self.guide.fanout_liveness);
            for fork in 1..=self.guide.fanout_liveness {
                let branch = task.branch.then(end, fork).with_horizon(None);
                self.liveness.insert(self.order, Task { seed: task.seed, branch, hazard: false });
                self.order += 1;
            }
        }
        let max = self.guide.queue_max;
        self.stats.dropped +=
            trim(&mut self.queue, max) + trim(&mut self.hazards, max) + trim(&mut self.liveness, max);
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

/// Runs a batch on `jobs` threads, the branches of one run together (see [`families`]: `work`
/// gets them in fork order and returns one result per task, in that order, so that it can
/// simulate their shared prefix once). The results come back in the batch's order, whatever the
/// threads did; `idle` is called while runs go on (for progress lines), with the batch index
/// of each running family's first task.
pub fn run_batch<R, W, I>(batch: &[Task], jobs: usize, work: W, idle: I) -> Vec<Option<R>>
where
    R: Send,
    W: Fn(&[Task]) -> Vec<R> + Sync,
    I: FnMut(&crate::pool::Running),
{
    let mut idle = idle;
    let families = families(batch);
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(batch.len()).collect();
    crate::pool::run_parallel(
        families.len() as u64,
        jobs,
        |f| {
            let tasks: Vec<Task> = families[f as usize].iter().map(|&i| batch[i].clone()).collect();
            work(&tasks)
        },
        |f, rs| {
            for (&i, r) in families[f as usize].iter().zip(rs) {
                results[i] = Some(r);
            }
            crate::pool::Flow::Continue
        },
        |running| {
            let tasks: crate::pool::Running =
                running.iter().map(|&(f, since)| (families[f as usize][0] as u64, since)).collect();
            idle(&tasks);
        },
    );
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that reached no point of the catalogue.
    const NO_POINTS: [(&str, u64); 0] = [];

    fn explorer(budget: u64) -> Explorer {
        Explorer::new(
            SeedSet { start: 100, end: 200, shard: None },
            budget,
            Guide { batch: 4, warm_up: 0, branch_sixteenths: 8, ..Guide::default() },
        )
    }

    fn points(names: &[(&str, u64)]) -> Vec<(String, u64)> {
        names.iter().map(|(n, e)| ((*n).to_string(), *e)).collect()
    }

    fn names(batch: &[Task]) -> Vec<String> {
        batch.iter().map(|t| format!("{}:{}", t.seed, t.branch)).collect()
    }

    #[test]
    fn a_new_point_is_explored_on_several_branches_from_its_first_event() {
        let mut x = explorer(100);
        let first = x.next_batch();
        assert_eq!(first.iter().map(|t| t.seed).collect::<Vec<_>>(), vec![100, 101, 102, 103]);
        assert_eq!(x.absorb(&first[0], &points(&[("a", 50)]), 1000, None), 1);
        assert_eq!(x.absorb(&first[1], &points(&[("a", 70)]), 1000, None), 0, "a is no longer new");
        x.absorb(&first[2], &NO_POINTS, 1000, None);
        x.absorb(&first[3], &NO_POINTS, 1000, None);
        let second = x.next_batch();
        // Half the batch's work goes to branches: the new point's four forks (together, as
        // they share their prefix), each with the horizon; then the roots go on.
        assert_eq!(
            names(&second),
            vec!["100:50.1+20ms", "100:50.2+20ms", "100:50.3+20ms", "100:50.4+20ms", "104:", "105:"]
        );
        assert_eq!(families(&second), vec![vec![0, 1, 2, 3], vec![4], vec![5]]);
    }

    #[test]
    fn the_branches_of_one_run_go_together_in_fork_order_wherever_they_queued() {
        let task = |seed: u64, path: &str| Task {
            seed,
            branch: if path.is_empty() { BranchPath::root() } else { path.parse().expect("a path") },
            hazard: false,
        };
        let batch = vec![
            task(7, "900.1"),
            task(7, "900.2"),
            task(8, "300.1"),
            task(7, "40.1+20ms"),
            task(9, ""),
            task(7, "40.1/60.1+20ms"),
            task(7, "40.2+20ms"),
            task(8, "300.2"),
        ];
        // Seed 7's root branches fork at 40 and 900: one family, 40 first. The branch of
        // branch 40.1 has another prefix, and seed 8's are another run.
        assert_eq!(families(&batch), vec![vec![3, 6, 0, 1], vec![2, 7], vec![4], vec![5]]);
        // Results come back in the batch's order, whatever order each family ran in.
        let results = run_batch(
            &batch,
            2,
            |tasks| tasks.iter().map(|t| format!("{}:{}", t.seed, t.branch)).collect(),
            |_| {},
        );
        let back: Vec<String> = results.into_iter().map(|r| r.expect("every task ran")).collect();
        assert_eq!(back, names(&batch));
    }

    #[test]
    fn a_run_that_healed_only_a_core_draws_its_liveness_phase_again_on_branches_that_go_first() {
        use crate::coverage::Point;
        let core = Point::LivenessCoreOnly.name();
        let hazard = Point::LeaderUncommittedEarlierTerms.name();
        let mut x = explorer(1000);
        let first = x.next_batch();
        // Root 100 reached a hazard (new, so it asks for branches too), its fault phase ended
        // at event 900 and its liveness phase healed only a core.
        x.absorb(&first[0], &points(&[(hazard, 40), (core, 905)]), 1000, Some(900));
        // Root 101 healed everything; root 102 healed a core but ended before its fault phase
        // did (a failure, say): neither has a liveness phase to draw again.
        x.absorb(&first[1], &points(&[(hazard, 40)]), 1000, Some(800));
        x.absorb(&first[2], &points(&[(core, 905)]), 1000, None);
        x.absorb(&first[3], &NO_POINTS, 1000, None);
        assert_eq!(x.stats.planned_liveness, 8);
        let second = x.next_batch();
        // The eight come first, together (one prefix), forked where the fault phase ended and
        // without a horizon: they run the liveness phase. The hazard's branches wait behind.
        let expected: Vec<String> = (1..=8).map(|f| format!("100:900.{f}")).collect();
        assert_eq!(names(&second[..8]), expected);
        assert_eq!(families(&second)[0], (0..8).collect::<Vec<_>>());
        assert!(second[..8].iter().all(|t| t.branch.horizon_ns().is_none() && !t.hazard));
        assert!(second[8..].iter().all(|t| t.branch.is_root()), "{:?}", names(&second));
        // A branch that ran the liveness phase again draws nothing more there.
        x.absorb(&second[0], &points(&[(core, 905)]), 50, Some(900));
        assert_eq!(x.stats.planned_liveness, 8);
        // Nor does a guide that asks for none.
        let mut none = Explorer::new(
            SeedSet { start: 100, end: 200, shard: None },
            1000,
            Guide { batch: 4, warm_up: 0, branch_sixteenths: 8, fanout_liveness: 0, ..Guide::default() },
        );
        let first = none.next_batch();
        none.absorb(&first[0], &points(&[(core, 905)]), 1000, Some(900));
        assert_eq!(none.stats.planned_liveness, 0);
    }

    #[test]
    fn a_common_hazard_is_still_tried_again_behind_new_and_rare_points() {
        let hazard = crate::coverage::Point::LeaderUncommittedEarlierTerms.name();
        let plain = crate::coverage::Point::LeaderElected.name();
        assert!(crate::coverage::Point::LeaderUncommittedEarlierTerms.hazard());
        assert!(!crate::coverage::Point::LeaderElected.hazard());
        let mut x = explorer(1000);
        let _ = x.next_batch();
        // Six roots reach both points, the plain one at event 20 and the hazard at 40.
        for seed in 100..106 {
            let root = Task::root(seed);
            x.absorb(&root, &points(&[(hazard, 40), (plain, 20)]), 1000, None);
        }
        let at = |queue: &BTreeMap<(u64, u64), Task>, event: u64| {
            queue.values().filter(|t| t.branch.forks()[0].event == event).count()
        };
        // The plain point: four branches while new, none after (rare points get none by
        // default).
        assert_eq!(at(&x.queue, 20) + at(&x.hazards, 20), 4);
        // The hazard: while new, as many as a hazard gets, with the new points; then as many
        // again for every run after, in the hazards' queue.
        let fanout = Guide::default().fanout_hazard as usize;
        assert!(fanout > 4);
        assert_eq!(at(&x.queue, 40), fanout);
        assert_eq!(at(&x.hazards, 40), 5 * fanout);
        assert_eq!(x.stats.planned_hazard, 5 * fanout as u64);
    }

    #[test]
    fn hazards_and_new_points_share_the_branches_and_the_warm_up_runs_roots_only() {
        let hazard = crate::coverage::Point::LeaderUncommittedEarlierTerms.name();
        // 64 branches per hazard fork, so that the hazards' queue never runs dry here.
        let guide = Guide { batch: 8, warm_up: 16, fanout_hazard: 64, ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 0, end: 10_000, shard: None }, 200, guide);
        let mut batches = Vec::new();
        for _ in 0..6 {
            let batch = x.next_batch();
            for t in &batch {
                // Every root reaches twenty new points, at events 30 to 49, and the hazard at
                // 60; branches cost 10.
                let reach = if t.branch.is_root() {
                    let mut p: Vec<(String, u64)> =
                        (0..20).map(|i| (format!("new{}.{i}", t.seed), 30 + i)).collect();
                    p.push((hazard.to_string(), 60));
                    p
                } else {
                    Vec::new()
                };
                x.absorb(t, &reach, if t.branch.is_root() { 1000 } else { 10 }, None);
            }
            batches.push(batch);
        }
        // Two batches of roots while warming up, though branches were planned.
        assert!(batches[..2].iter().flatten().all(|t| t.branch.is_root()));
        assert!(x.stats.planned_new > 0 && x.stats.planned_hazard > 0);
        // Then branches, from both queues while both have some: three quarters of their work
        // at the hazard (all branches cost the same here).
        let branches: Vec<&Task> = batches[2..].iter().flatten().filter(|t| !t.branch.is_root()).collect();
        let at_hazard = branches.iter().filter(|t| t.branch.forks()[0].event == 60).count();
        assert!(!branches.is_empty());
        assert!(
            at_hazard * 16 >= branches.len() * 11 && at_hazard * 16 <= branches.len() * 13,
            "{at_hazard} of {}",
            branches.len()
        );
    }

    /// Runs `x` to the end of its budget, roots costing 1000 events and branches 100, roots
    /// reaching what `reach` says (branches nothing); returns the roots and branches run.
    fn spend(x: &mut Explorer, reach: impl Fn(&Task) -> Vec<(String, u64)>) -> (u64, u64) {
        let (mut roots, mut branches) = (0u64, 0u64);
        loop {
            let batch = x.next_batch();
            if batch.is_empty() {
                return (roots, branches);
            }
            for t in &batch {
                let root = t.branch.is_root();
                roots += u64::from(root);
                branches += u64::from(!root);
                x.absorb(t, &if root { reach(t) } else { Vec::new() }, if root { 1000 } else { 100 }, None);
            }
        }
    }

    #[test]
    fn cheap_branches_cost_a_part_of_a_run_in_the_budget() {
        // Ten roots' worth of work: roots of 1000 events and branches of 100.
        let guide = Guide { batch: 4, warm_up: 0, ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 0, end: 1000, shard: None }, 10, guide);
        let (roots, branches) = spend(&mut x, |t| points(&[(&format!("p{}", t.seed), 10)]));
        assert!(branches > roots, "{roots} roots, {branches} branches");
        // Branches are planned at their mean cost (exact here), and neither they nor a root go
        // past the budget.
        assert!(roots * 1000 + branches * 100 <= 10 * 1000, "{roots} roots, {branches} branches");
        assert!(roots * 1000 + branches * 100 > 9 * 1000, "within a run of the budget");
    }

    #[test]
    fn a_hazards_group_of_branches_is_cut_where_the_budget_ends() {
        // Six roots' worth of work; every root reaches a hazard, which asks for 64 branches at
        // one moment, each costing a tenth of a root.
        let hazard = crate::coverage::Point::LeaderUncommittedEarlierTerms.name();
        let guide = Guide { batch: 4, warm_up: 0, fanout_hazard: 64, ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 0, end: 1000, shard: None }, 6, guide);
        let (roots, branches) = spend(&mut x, |_| points(&[(hazard, 40)]));
        let work = roots * 1000 + branches * 100;
        assert!(branches > 0 && branches < 64, "{branches} branches");
        assert!((5000..=6000).contains(&work), "{work} events");
    }

    #[test]
    fn points_reached_before_the_fork_plan_nothing_and_a_rare_point_gets_one_branch() {
        let guide = Guide { batch: 4, warm_up: 0, fanout_rare: 1, ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 100, guide);
        let _ = x.next_batch();
        let root = Task::root(100);
        x.absorb(&root, &points(&[("a", 50)]), 1000, None);
        let branch = Task { seed: 100, branch: BranchPath::root().then(50, 1), hazard: false };
        let queued = x.queue.len();
        // "a" at event 40 was the root's, before the fork at 50: nothing new for the branch.
        x.absorb(&branch, &points(&[("a", 40)]), 100, None);
        assert_eq!(x.queue.len(), queued);
        // "a" again after the fork: rare (1 run before), one branch of the branch.
        x.absorb(&branch, &points(&[("a", 90)]), 100, None);
        assert_eq!(x.queue.len(), queued + 1);
        assert!(x.queue.values().any(|t| t.branch.to_string() == "50.1/90.1+20ms"));
    }

    #[test]
    fn points_first_reached_at_one_event_fork_there_once() {
        let mut x = explorer(100);
        let _ = x.next_batch();
        let root = Task::root(100);
        // Three new points at event 50 and one at 80: four branches at each event, not twelve.
        x.absorb(&root, &points(&[("a", 50), ("b", 50), ("c", 50), ("d", 80)]), 1000, None);
        let mut planned: Vec<String> = x.queue.values().map(|t| t.branch.to_string()).collect();
        planned.sort();
        let expect: Vec<String> = ["50.1", "50.2", "50.3", "50.4", "80.1", "80.2", "80.3", "80.4"]
            .iter()
            .map(|b| format!("{b}+20ms"))
            .collect();
        assert_eq!(planned, expect);
        assert_eq!(x.stats.planned_new, 8);
    }

    #[test]
    fn a_leader_elected_behind_the_commit_is_tried_again_on_longer_branches() {
        use crate::coverage::Point;
        let behind = Point::LeaderBehindCommit;
        assert!(behind.hazard());
        assert_eq!(behind.horizon_factor(), 5);
        assert_eq!(Point::ReadAtLeaderBehindCommit.horizon_factor(), 1);
        let guide = Guide { batch: 4, warm_up: 0, horizon_ns: Some(20_000_000), ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 100, guide);
        let _ = x.next_batch();
        // A first root reaches the election behind the commit at 50 (new: four branches), a
        // plain point at 80, and a read hazard at the same event as the election, 50.
        let first =
            points(&[(behind.name(), 50), ("plain", 80), (Point::ReadAtLeaderBehindCommit.name(), 50)]);
        x.absorb(&Task::root(100), &first, 1000, None);
        let horizons = |queue: &BTreeMap<(u64, u64), Task>, event: u64| -> Vec<Option<u64>> {
            let mut h: Vec<Option<u64>> = queue
                .values()
                .filter(|t| t.branch.forks()[0].event == event)
                .map(|t| t.branch.horizon_ns())
                .collect();
            h.dedup();
            h
        };
        // The election's branches (shared with the read hazard at that event: the longer
        // horizon wins) run five horizons; the plain point's, one.
        assert_eq!(horizons(&x.queue, 50), vec![Some(100_000_000)]);
        assert_eq!(horizons(&x.queue, 80), vec![Some(20_000_000)]);
        // A second root at the election alone: its hazard branches run five horizons too.
        x.absorb(&Task::root(101), &points(&[(behind.name(), 70)]), 1000, None);
        assert_eq!(horizons(&x.hazards, 70), vec![Some(100_000_000)]);
        let fanout = Guide::default().fanout_hazard as usize;
        assert_eq!(x.hazards.values().filter(|t| t.branch.forks()[0].event == 70).count(), fanout);
        // Without a horizon (`horizon=0`), branches run to the end, whatever the point.
        let guide = Guide { batch: 4, warm_up: 0, horizon_ns: None, ..Guide::default() };
        let mut x = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 100, guide);
        let _ = x.next_batch();
        x.absorb(&Task::root(100), &points(&[(behind.name(), 50)]), 1000, None);
        assert_eq!(horizons(&x.queue, 50), vec![None]);
    }

    #[test]
    fn knobs_fork_earlier_and_plan_pairs() {
        let guide = Guide { batch: 4, ..Guide::default() }
            .with_overrides("new=1,rare=0,back=10,pair=2,horizon=0")
            .expect("valid knobs");
        let mut x = Explorer::new(SeedSet { start: 0, end: 10, shard: None }, 100, guide);
        let _ = x.next_batch();
        let root = |seed| Task::root(seed);
        let planned = |x: &Explorer, seed: u64| -> Vec<String> {
            let mut p: Vec<String> =
                x.queue.values().filter(|t| t.seed == seed).map(|t| t.branch.to_string()).collect();
            p.sort();
            p
        };
        // The first run: "a" and "b" new (one branch each, ten events early) and the pair
        // a-then-b new (two branches, at b's fork, which it shares).
        x.absorb(&root(0), &points(&[("a", 50), ("b", 70)]), 1000, None);
        assert_eq!(planned(&x, 0), vec!["40.1", "60.1", "60.2"]);
        // The second: "c" is new (one branch); the pairs c-then-b, c-then-a and b-then-a are
        // new (two branches each, once per event), a-then-b was seen already; every fork comes
        // ten events before its point (not before event 0).
        x.absorb(&root(1), &points(&[("b", 20), ("a", 30), ("c", 5)]), 1000, None);
        assert_eq!(planned(&x, 1), vec!["0.1", "10.1", "10.2", "20.1", "20.2"]);
    }

    #[test]
    fn the_budget_bounds_the_work_and_the_plan_does_not_depend_on_timing() {
        let plan = || {
            let mut x = explorer(10);
            let mut all = Vec::new();
            loop {
                let batch = x.next_batch();
                if batch.is_empty() {
                    break;
                }
                for (i, t) in batch.iter().enumerate() {
                    x.absorb(t, &points(&[(["a", "b", "c"][i % 3], 10 + t.seed)]), 1000, None);
                }
                all.extend(batch);
            }
            (all, x.stats.clone())
        };
        let (a, stats) = plan();
        // Runs as long as roots: ten of them, within a batch.
        assert!((10..=14).contains(&a.len()), "{}", a.len());
        assert_eq!(stats.roots + stats.branches, a.len() as u64);
        assert_eq!(plan().0, a);
    }
}
