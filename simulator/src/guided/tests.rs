//! The planner's arithmetic: what it queues, in which order, and what a batch spends.

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
        branch: if path.is_empty() { BranchPath::root() } else { path.parse().expect("a path") },
        ..Task::root(seed)
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
        |tasks| tasks.iter().map(|t| (t.clone(), format!("{}:{}", t.seed, t.branch))).collect(),
        |_| {},
    );
    let back: Vec<String> = results.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(back, names(&batch));
    assert!(results.iter().zip(&batch).all(|((t, _), b)| t == b));
    // A root that asks for branches at the end of its fault phase gets them after the whole
    // batch, whatever the threads did.
    let mut batch = batch;
    batch[4].rides = 2;
    let results = run_batch(
        &batch,
        2,
        |tasks| {
            let mut out: Vec<(Task, String)> =
                tasks.iter().map(|t| (t.clone(), format!("{}:{}", t.seed, t.branch))).collect();
            if let [root] = tasks {
                for k in 1..=root.rides {
                    let ride = root.ride(root.branch.then(1000, k));
                    out.push((ride, format!("{}:1000.{k}", root.seed)));
                }
            }
            out
        },
        |_| {},
    );
    let back: Vec<&str> = results.iter().map(|(_, r)| r.as_str()).collect();
    let mut expected = names(&batch);
    expected.extend(["9:1000.1".to_string(), "9:1000.2".to_string()]);
    assert_eq!(back, expected);
    assert!(results.iter().map(|(t, _)| t.rode).eq((0..10).map(|i| i >= 8)));
}

#[test]
fn every_root_draws_its_liveness_phase_again_as_it_runs_and_nothing_is_planned_after_it() {
    use crate::coverage::Point;
    let core = Point::LivenessCoreOnly.name();
    let hazard = Point::LeaderUncommittedEarlierTerms.name();
    // Warming up for one batch (the default guide's warm-up is its first batch too).
    let guide = Guide { batch: 4, warm_up: 4, branch_sixteenths: 8, ..Guide::default() };
    let mut x = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 1000, guide);
    let first = x.next_batch();
    // Every root asks, the warm-up's too: their branches come back after the batch's roots
    // (`run_batch`), so a bug a root of the warm-up catches costs what it costs plain seeds.
    assert!(first.iter().all(|t| t.branch.is_root() && t.rides == guide.fanout_liveness));
    // Root 100 reached a hazard (new, so it asks for branches too), its fault phase ended
    // at event 900 and its liveness phase healed only a core: it forked its eight there.
    x.absorb(&first[0], &points(&[(hazard, 40), (core, 905)]), 1000, Some(900));
    x.absorb(&first[1], &points(&[(hazard, 40)]), 1000, Some(800));
    x.absorb(&first[2], &NO_POINTS, 1000, None);
    x.absorb(&first[3], &NO_POINTS, 1000, None);
    // Nothing is planned at the end of the fault phase: the hazard's branches wait, nothing
    // else.
    assert_eq!(x.stats.planned_liveness, 0);
    let waiting = x.queue.len() + x.hazards.len();
    assert_eq!(waiting as u64, x.stats.planned_new + x.stats.planned_hazard);
    let spent = x.work_spent_milli();
    for k in 1..=guide.fanout_liveness {
        let ride = first[0].ride(first[0].branch.then(900, k));
        assert!(ride.rode && ride.branch.horizon_ns().is_none() && !ride.hazard);
        // A branch that ran the liveness phase again plans nothing there.
        x.absorb(&ride, &points(&[(core, 905)]), 250, Some(900));
    }
    let fanout = u64::from(guide.fanout_liveness);
    assert_eq!((x.stats.planned_liveness, x.stats.branches), (fanout, fanout));
    assert_eq!(x.queue.len() + x.hazards.len(), waiting);
    assert_eq!(x.work_spent_milli(), spent + fanout * 250, "branches of 250 events, roots of 1,000");
    assert_eq!(x.stats.deepest, 1);
    // Nor does a guide that asks for none.
    let mut none = Explorer::new(
        SeedSet { start: 100, end: 200, shard: None },
        1000,
        Guide { batch: 4, warm_up: 0, branch_sixteenths: 8, fanout_liveness: 0, ..Guide::default() },
    );
    assert!(none.next_batch().iter().all(|t| t.rides == 0));
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
    let branch = Task { branch: BranchPath::root().then(50, 1), ..Task::root(100) };
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
    let first = points(&[(behind.name(), 50), ("plain", 80), (Point::ReadAtLeaderBehindCommit.name(), 50)]);
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

#[test]
fn roots_ask_for_liveness_branches_only_as_far_as_the_share_of_branches_pays_for_them() {
    let core = crate::coverage::Point::LivenessCoreOnly.name();
    let guide = Guide { batch: 4, warm_up: 4, branch_sixteenths: 8, ..Guide::default() };
    let mut x = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 1000, guide);
    for root in x.next_batch() {
        assert_eq!(root.rides, guide.fanout_liveness);
        x.absorb(&root, &NO_POINTS, 1000, Some(900));
    }
    // Nothing waits and no root healed only a core yet: every root of the batch asks.
    let second = x.next_batch();
    assert_eq!(second.len(), 4);
    assert!(second.iter().all(|t| t.rides == guide.fanout_liveness));
    // Each healed only a core, and its branches cost 2,400 events a root.
    let each = 2400 / u64::from(guide.fanout_liveness);
    for root in &second {
        x.absorb(root, &points(&[(core, 905)]), 1000, Some(900));
        for k in 1..=root.rides {
            x.absorb(&root.ride(root.branch.then(900, k)), &points(&[(core, 905)]), each, Some(900));
        }
    }
    assert_eq!(x.stats.planned_liveness, 4 * u64::from(guide.fanout_liveness));
    // Half of a batch's work may go to branches: a batch of four roots, 4,000 events. A root
    // that asked cost 1,200 events of such branches on average (the warm-up's forked none), so
    // three of them ride.
    let third = x.next_batch();
    assert_eq!(third.iter().filter(|t| t.rides > 0).count(), 3, "{:?}", names(&third));
    assert!(third[0].rides > 0, "the first roots of the batch ride");
    // A budget that holds no more than the warm-up's roots leaves no room for their branches.
    let mut short = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 6, guide);
    assert!(short.next_batch().iter().all(|t| t.rides == 0));
    let mut enough = Explorer::new(SeedSet { start: 100, end: 200, shard: None }, 8, guide);
    assert!(enough.next_batch().iter().all(|t| t.rides > 0));
    // With no share for branches, no root asks.
    let mut plain = Explorer::new(
        SeedSet { start: 100, end: 200, shard: None },
        1000,
        Guide { branch_sixteenths: 0, warm_up: 4, batch: 4, ..Guide::default() },
    );
    for _ in 0..3 {
        let batch = plain.next_batch();
        assert!(batch.iter().all(|t| t.rides == 0));
        for root in &batch {
            plain.absorb(root, &points(&[(core, 905)]), 1000, Some(900));
        }
    }
}
