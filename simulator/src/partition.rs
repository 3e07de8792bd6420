//! Partition shapes as sets of cut links.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::Shape;
use crate::network::Cuts;
use crate::rng::Stream;

/// Builds a partition of `nodes` servers of the given shape. `leader` is the current leader,
/// if any; shapes that target it fall back to a random node when there is none.
#[must_use]
pub fn build(shape: Shape, nodes: usize, leader: Option<usize>, rng: &mut Stream) -> Cuts {
    let mut cuts = Cuts::none();
    if nodes < 2 {
        return cuts;
    }
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let others = |x: usize| -> Vec<usize> { (0..nodes).filter(|y| *y != x).collect() };
    match shape {
        Shape::Halves => {
            let (a, b) = order.split_at(nodes / 2);
            cuts.separate(a, b);
        }
        Shape::IsolateNode => cuts.separate(&[order[0]], &others(order[0])),
        Shape::IsolateLeader => {
            let x = leader.unwrap_or(order[0]);
            cuts.separate(&[x], &others(x));
        }
        Shape::LeaderMinority => {
            let x = leader.unwrap_or(order[0]);
            let minority_size = ((nodes - 1) / 2).max(1);
            let mut minority = vec![x];
            minority.extend(order.iter().copied().filter(|y| *y != x).take(minority_size - 1));
            let majority: Vec<usize> = (0..nodes).filter(|y| !minority.contains(y)).collect();
            cuts.separate(&minority, &majority);
        }
        Shape::Bridge => {
            if nodes < 3 {
                cuts.separate(&[order[0]], &others(order[0]));
            } else {
                // order[0] is the bridge; the rest split in two sides that only it joins.
                let rest = &order[1..];
                let (a, b) = rest.split_at(rest.len() / 2);
                cuts.separate(a, b);
            }
        }
        Shape::Ring => {
            for (i, &x) in order.iter().enumerate() {
                let left = order[(i + nodes - 1) % nodes];
                let right = order[(i + 1) % nodes];
                for y in 0..nodes {
                    if y != x && y != left && y != right {
                        cuts.cut(x, y);
                    }
                }
            }
        }
        Shape::OneWay => {
            let x = order[0];
            let outgoing = rng.gen_bool(0.5);
            for y in others(x) {
                if outgoing {
                    cuts.cut(x, y);
                } else {
                    cuts.cut(y, x);
                }
            }
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(cuts: &Cuts, a: usize, b: usize) -> bool {
        !cuts.is_cut(a, b) && !cuts.is_cut(b, a)
    }

    #[test]
    fn halves_leave_a_majority_and_a_minority_of_five() {
        let mut rng = crate::rng::stream(1, "p");
        let cuts = build(Shape::Halves, 5, None, &mut rng);
        let degrees: Vec<usize> =
            (0..5).map(|a| (0..5).filter(|&b| b != a && connected(&cuts, a, b)).count()).collect();
        assert_eq!(degrees.iter().filter(|d| **d == 1).count(), 2);
        assert_eq!(degrees.iter().filter(|d| **d == 2).count(), 3);
    }

    #[test]
    fn isolating_the_leader_cuts_exactly_its_links() {
        let mut rng = crate::rng::stream(1, "p");
        let cuts = build(Shape::IsolateLeader, 5, Some(3), &mut rng);
        for a in 0..5 {
            for b in 0..5 {
                if a != b {
                    assert_eq!(cuts.is_cut(a, b), a == 3 || b == 3);
                }
            }
        }
    }

    #[test]
    fn a_leader_minority_holds_the_leader_and_is_a_minority() {
        for seed in 0..20 {
            let mut rng = crate::rng::stream(seed, "p");
            let cuts = build(Shape::LeaderMinority, 5, Some(0), &mut rng);
            let with_leader: Vec<usize> = (1..5).filter(|&b| connected(&cuts, 0, b)).collect();
            assert_eq!(with_leader.len(), 1, "seed {seed}");
        }
    }

    #[test]
    fn a_bridge_node_sees_both_sides_which_do_not_see_each_other() {
        let mut rng = crate::rng::stream(4, "p");
        let cuts = build(Shape::Bridge, 5, None, &mut rng);
        let bridge = (0..5).find(|&a| (0..5).all(|b| a == b || connected(&cuts, a, b))).expect("a bridge");
        let cut_pairs = cuts.links(5).len();
        assert_eq!(cut_pairs, 2 * 2 * 2, "two sides of two, cut both ways");
        assert!(bridge < 5);
    }

    #[test]
    fn a_ring_leaves_every_node_two_neighbours() {
        let mut rng = crate::rng::stream(2, "p");
        let cuts = build(Shape::Ring, 7, None, &mut rng);
        for a in 0..7 {
            assert_eq!((0..7).filter(|&b| b != a && connected(&cuts, a, b)).count(), 2);
        }
    }

    #[test]
    fn one_way_cuts_only_one_direction() {
        let mut rng = crate::rng::stream(3, "p");
        let cuts = build(Shape::OneWay, 3, None, &mut rng);
        let links = cuts.links(3);
        assert_eq!(links.len(), 2);
        for (a, b) in links {
            assert!(!cuts.is_cut(b, a));
        }
    }
}
