//! Guided exploration: spend a sweep's runs where they find something new.
//!
//! A plain sweep runs its seeds one after another and spends each the same way. A guided sweep
//! watches the coverage catalogue: when a run reaches a point that no run of the sweep reached
//! before, the run is continued from that moment on several branches, each with fresh random
//! streams (see [`crate::branch`]); when it reaches a point only a few runs reached, on one
//! branch. A branch that reaches nothing new spawns nothing and so is dropped; the runs go to the
//! rarely reached points and to fresh root seeds, half and half at most. Several points first
//! reached at one event fork there once (their branches would be the same runs).
//!
//! The knobs beyond those ([`Guide`]: pairs of points, a rarity share, a warm-up, forking some
//! events before the point, smaller batches) are off by default: `raftsim bench exploration
//! --guide` measures them, and none has beaten plain seeds on the planted bugs yet (README).
//!
//! Everything is deterministic: the runs are planned in batches of a fixed size, the results of
//! a batch are taken in plan order whatever the threads did, and each run is named by its root
//! seed and branch path, which `raftsim run --seed N --branch PATH` replays exactly. The branch
//! is not a clone of the world: it replays its root's events up to the fork, which costs as much
//! as a fresh run of the same length and keeps branching independent of what an implementation
//! can copy.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::branch::BranchPath;
use crate::sweep::SeedSet;

/// One run to do: a root seed and the branch of it to follow (the root path for the seed's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub seed: u64,
    pub branch: BranchPath,
}

/// The knobs of the exploration; [`Guide::default`] is what `sweep --guided` uses.
#[derive(Copy, Clone, Debug)]
pub struct Guide {
    /// Runs planned at once (results are taken in plan order after the whole batch ran).
    pub batch: usize,
    /// Branches started at a point no run reached before.
    pub fanout_new: u32,
    /// Branches started at a rarely reached point (see `rare_below` and `rare_share`).
    pub fanout_rare: u32,
    /// A point reached by fewer runs than this is rare...
    pub rare_below: u64,
    /// ...and so is one reached by at most one run in `rare_share` so far.
    pub rare_share: u64,
    /// Branches started at a combination not seen before: a point reached, after its fork, by
    /// a run that had already reached another point first (an ordered pair of points).
    pub fanout_pair: u32,
    /// Share of each batch (in sixteenths) that may go to branches while root seeds remain.
    pub branch_sixteenths: usize,
    /// Forks one path may hold.
    pub depth_max: usize,
    /// Branches fork this many events before the point was reached (not before the last fork),
    /// so that the moment leading to it is drawn anew too.
    pub fork_back: u64,
    /// Runs absorbed before any branch is planned (until then every point looks rare).
    pub warm_up: u64,
    /// Branches waiting at most; past it the ones at the most common points are dropped.
    pub queue_max: usize,
}

impl Default for Guide {
    fn default() -> Guide {
        Guide {
            batch: 32,
            fanout_new: 4,
            fanout_rare: 1,
            rare_below: 4,
            rare_share: 0,
            fanout_pair: 0,
            branch_sixteenths: 8,
            depth_max: 6,
            warm_up: 0,
            fork_back: 0,
            queue_max: 4096,
        }
    }
}

impl Guide {
    /// This guide with some knobs changed by `text`, a comma-separated list of `name=value`
    /// (names: batch, new, rare, below, share, pair, sixteenths, depth, warm, back, queue), for
    /// `raftsim bench exploration --guide`. Errors name the knob and what was expected.
    pub fn with_overrides(mut self, text: &str) -> Result<Guide, String> {
        for kv in text.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(format!("{kv:?}: expected name=value"));
            };
            let v: u64 = v.trim().parse().map_err(|_| format!("{kv:?}: expected a whole number"))?;
            let small = |max: u64| -> Result<u64, String> {
                if v <= max {
                    Ok(v)
                } else {
                    Err(format!("{kv:?}: at most {max}"))
                }
            };
            match k.trim() {
                "batch" if v >= 1 => self.batch = small(4096)? as usize,
                "new" => self.fanout_new = small(64)? as u32,
                "rare" => self.fanout_rare = small(64)? as u32,
                "below" => self.rare_below = v,
                "share" => self.rare_share = v,
                "pair" => self.fanout_pair = small(64)? as u32,
                "sixteenths" => self.branch_sixteenths = small(16)? as usize,
                "depth" => self.depth_max = small(64)? as usize,
                "warm" => self.warm_up = v,
                "back" => self.fork_back = v,
                "queue" if v >= 1 => self.queue_max = small(1 << 20)? as usize,
                other => {
                    return Err(format!(
                        "{other:?}: expected batch (1 or more), new, rare, below, share, pair, sixteenths, depth, warm, back or queue (1 or more)"
                    ))
                }
            }
        }
        Ok(self)
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
    /// Planned branches never run (the queue was full, or the budget ran out).
    pub dropped: u64,
    /// The deepest branch run (forks in its path).
    pub deepest: u64,
}

/// The planner. Call [`Explorer::next_batch`], run the batch, then [`Explorer::absorb`] each
/// result in the batch's order.
pub struct Explorer {
    guide: Guide,
    roots: SeedSet,
    next_root: u64,
    budget: u64,
    planned: u64,
    /// Branches waiting, by (runs that had reached the point when it was planned, plan order).
    queue: BTreeMap<(u64, u64), Task>,
    order: u64,
    /// Runs that reached each point so far.
    reached: BTreeMap<String, u64>,
    /// Runs that reached each ordered pair of points (the first before the second) so far.
    pairs: BTreeMap<(String, String), u64>,
    /// Runs absorbed so far.
    absorbed: u64,
    pub stats: GuidedStats,
}

impl Explorer {
    /// Explores from the root seeds of `roots` for `budget` runs in all (roots and branches).
    #[must_use]
    pub fn new(roots: SeedSet, budget: u64, guide: Guide) -> Explorer {
        Explorer {
            guide,
            roots,
            next_root: 0,
            budget,
            planned: 0,
            queue: BTreeMap::new(),
            order: 0,
            reached: BTreeMap::new(),
            pairs: BTreeMap::new(),
            absorbed: 0,
            stats: GuidedStats::default(),
        }
    }

    /// The next runs to do (empty once the budget is spent or nothing is left to run). At most
    /// half of a batch goes to branches while root seeds remain, so that a sweep keeps meeting
    /// new configurations.
    pub fn next_batch(&mut self) -> Vec<Task> {
        let room = self.budget.saturating_sub(self.planned).min(self.guide.batch as u64) as usize;
        let roots_left = self.roots.len().saturating_sub(self.next_root);
        let branch_share = if roots_left > 0 { room * self.guide.branch_sixteenths / 16 } else { room };
        let mut batch: VecDeque<Task> = VecDeque::new();
        while batch.len() < branch_share {
            let Some((_, task)) = self.queue.pop_first() else { break };
            batch.push_back(task);
        }
        while batch.len() < room && self.next_root < self.roots.len() {
            batch.push_back(Task { seed: self.roots.nth(self.next_root), branch: BranchPath::root() });
            self.next_root += 1;
        }
        while batch.len() < room {
            let Some((_, task)) = self.queue.pop_first() else { break };
            batch.push_back(task);
        }
        for task in &batch {
            if task.branch.is_root() {
                self.stats.roots += 1;
            } else {
                self.stats.branches += 1;
                self.stats.deepest = self.stats.deepest.max(task.branch.forks().len() as u64);
            }
        }
        self.planned += batch.len() as u64;
        if self.planned >= self.budget {
            self.stats.dropped += self.queue.len() as u64;
            self.queue.clear();
        }
        batch.into()
    }

    /// Takes one run's points (name, first event) and plans the branches they call for; returns
    /// how many points this run reached first.
    pub fn absorb(&mut self, task: &Task, points: &[(String, u64)]) -> usize {
        let last_fork = task.branch.forks().last().map(|f| f.event);
        let deep = task.branch.forks().len() >= self.guide.depth_max;
        // Only a point the branch reached after its own last fork is its own finding.
        let fresh = |event: u64| !deep && last_fork.is_none_or(|e| event > e);
        self.absorbed += 1;
        let mut new = 0;
        // (runs that had reached the point or pair before, its first event, branches asked).
        let mut plans: Vec<(u64, u64, u32)> = Vec::new();
        for (name, first_event) in points {
            let before = self.reached.get(name).copied().unwrap_or(0);
            *self.reached.entry(name.clone()).or_insert(0) += 1;
            if before == 0 {
                new += 1;
            }
            if !fresh(*first_event) {
                continue;
            }
            let rare = before < self.guide.rare_below
                || (self.guide.rare_share > 0 && before * self.guide.rare_share <= self.absorbed);
            if self.absorbed <= self.guide.warm_up {
                continue;
            }
            let fanout = if before == 0 && self.guide.fanout_new > 0 {
                self.guide.fanout_new
            } else if rare {
                self.guide.fanout_rare
            } else {
                0
            };
            plans.push((before, *first_event, fanout));
        }
        if self.guide.fanout_pair > 0 {
            let mut order: Vec<&(String, u64)> = points.iter().collect();
            order.sort_by(|x, y| (x.1, &x.0).cmp(&(y.1, &y.0)));
            for (j, second) in order.iter().enumerate() {
                for first in &order[..j] {
                    if first.1 == second.1 {
                        continue;
                    }
                    let key = (first.0.clone(), second.0.clone());
                    let before = self.pairs.get(&key).copied().unwrap_or(0);
                    *self.pairs.entry(key).or_insert(0) += 1;
                    if before == 0 && fresh(second.1) && self.absorbed > self.guide.warm_up {
                        plans.push((0, second.1, self.guide.fanout_pair));
                    }
                }
            }
        }
        // One event forks once: several points first reached at the same event (a crash of a
        // leader with writes in flight, say) ask for the same branches, which would be the same
        // runs. It gets the most branches any of them asks for, at the rarest one's place in the
        // queue.
        let floor = last_fork.map_or(0, |e| e + 1);
        let mut forks: BTreeMap<u64, (u64, u32)> = BTreeMap::new();
        for (before, event, fanout) in plans {
            if fanout == 0 {
                continue;
            }
            let event = event.saturating_sub(self.guide.fork_back).max(floor);
            let slot = forks.entry(event).or_insert((before, fanout));
            *slot = (slot.0.min(before), slot.1.max(fanout));
        }
        for (event, (before, fanout)) in forks {
            if before == 0 {
                self.stats.planned_new += u64::from(fanout);
            } else {
                self.stats.planned_rare += u64::from(fanout);
            }
            for fork in 1..=fanout {
                let branch = task.branch.then(event, fork);
                self.queue.insert((before, self.order), Task { seed: task.seed, branch });
                self.order += 1;
            }
        }
        while self.queue.len() > self.guide.queue_max {
            self.queue.pop_last();
            self.stats.dropped += 1;
        }
        new
    }

    /// Points reached so far, with the runs that reached each.
    #[must_use]
    pub fn reached(&self) -> &BTreeMap<String, u64> {
        &self.reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explorer(budget: u64) -> Explorer {
        Explorer::new(
            SeedSet { start: 100, end: 200, shard: None },
            budget,
            Guide { batch: 4, ..Guide::default() },
        )
    }

    fn points(names: &[(&str, u64)]) -> Vec<(String, u64)> {
        names.iter().map(|(n, e)| ((*n).to_string(), *e)).collect()
    }

    #[test]
    fn a_new_point_is_explored_on_several_branches_from_its_first_event() {
        let mut x = explorer(100);
        let first = x.next_batch();
        assert_eq!(first.iter().map(|t| t.seed).collect::<Vec<_>>(), vec![100, 101, 102, 103]);
        assert_eq!(x.absorb(&first[0], &points(&[("a", 50)])), 1);
        assert_eq!(x.absorb(&first[1], &points(&[("a", 70)])), 0, "a is no longer new");
        let second = x.next_batch();
        // Half the batch goes to branches: the new point's first two forks, then roots go on.
        let names: Vec<String> = second.iter().map(|t| format!("{}:{}", t.seed, t.branch)).collect();
        assert_eq!(names, vec!["100:50.1", "100:50.2", "104:", "105:"]);
    }

    #[test]
    fn points_reached_before_the_fork_plan_nothing_and_a_rare_point_gets_one_branch() {
        let mut x = explorer(100);
        let _ = x.next_batch();
        let root = Task { seed: 100, branch: BranchPath::root() };
        x.absorb(&root, &points(&[("a", 50)]));
        let branch = Task { seed: 100, branch: BranchPath::root().then(50, 1) };
        let queued = x.queue.len();
        // "a" at event 40 was the root's, before the fork at 50: nothing new for the branch.
        x.absorb(&branch, &points(&[("a", 40)]));
        assert_eq!(x.queue.len(), queued);
        // "a" again after the fork: rare (1 run before), one branch of the branch.
        x.absorb(&branch, &points(&[("a", 90)]));
        assert_eq!(x.queue.len(), queued + 1);
        assert!(x.queue.values().any(|t| t.branch.to_string() == "50.1/90.1"));
    }

    #[test]
    fn points_first_reached_at_one_event_fork_there_once() {
        let mut x = explorer(100);
        let _ = x.next_batch();
        let root = Task { seed: 100, branch: BranchPath::root() };
        // Three new points at event 50 and one at 80: four branches at each event, not twelve.
        x.absorb(&root, &points(&[("a", 50), ("b", 50), ("c", 50), ("d", 80)]));
        let mut planned: Vec<String> = x.queue.values().map(|t| t.branch.to_string()).collect();
        planned.sort();
        assert_eq!(planned, vec!["50.1", "50.2", "50.3", "50.4", "80.1", "80.2", "80.3", "80.4"]);
        assert_eq!(x.stats.planned_new, 8);
    }

    #[test]
    fn knobs_fork_earlier_plan_pairs_and_wait_for_the_warm_up() {
        let guide = Guide { batch: 4, ..Guide::default() }
            .with_overrides("new=1,rare=0,back=10,pair=2,warm=1")
            .expect("valid knobs");
        let mut x = Explorer::new(SeedSet { start: 0, end: 10, shard: None }, 100, guide);
        let _ = x.next_batch();
        let root = |seed| Task { seed, branch: BranchPath::root() };
        // The first run only warms up.
        x.absorb(&root(0), &points(&[("a", 50), ("b", 70)]));
        assert!(x.queue.is_empty());
        // The second: "c" is new (one branch); the pairs c-then-b, c-then-a and b-then-a are
        // new (two branches each, once per event), a-then-b was seen already; every fork comes
        // ten events before its point (not before event 0).
        x.absorb(&root(1), &points(&[("b", 20), ("a", 30), ("c", 5)]));
        let mut planned: Vec<String> = x.queue.values().map(|t| t.branch.to_string()).collect();
        planned.sort();
        assert_eq!(planned, vec!["0.1", "10.1", "10.2", "20.1", "20.2"]);
    }

    #[test]
    fn bad_knobs_are_named() {
        let err = |text: &str| Guide::default().with_overrides(text).expect_err(text);
        assert!(err("batch=0").contains("batch (1 or more)"));
        assert!(err("fanout=3").contains("\"fanout\""));
        assert!(err("new").contains("name=value"));
        assert!(err("new=-1").contains("whole number"));
        assert!(err("sixteenths=17").contains("at most 16"));
        assert_eq!(Guide::default().with_overrides("").map(|g| g.batch), Ok(32));
    }

    #[test]
    fn the_budget_bounds_the_runs_and_the_plan_does_not_depend_on_timing() {
        let plan = || {
            let mut x = explorer(10);
            let mut all = Vec::new();
            loop {
                let batch = x.next_batch();
                if batch.is_empty() {
                    break;
                }
                for (i, t) in batch.iter().enumerate() {
                    x.absorb(t, &points(&[(["a", "b", "c"][i % 3], 10 + t.seed)]));
                }
                all.extend(batch);
            }
            (all, x.stats.clone())
        };
        let (a, stats) = plan();
        assert_eq!(a.len(), 10);
        assert_eq!(stats.roots + stats.branches, 10);
        assert_eq!(plan().0, a);
    }
}
