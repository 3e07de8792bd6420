//! Pre-vote (thesis §9.6): a node that could not win an election does not raise anyone's
//! term, and a node cut off from a working leader cannot depose it when it comes back.

mod common;

use common::*;
use raft_core::{Body, Role, Term};

fn with_pre_vote(size: usize) -> Nodes {
    cluster(size).configure(|c| c.pre_vote = true).build()
}

#[test]
fn a_timeout_asks_for_pre_votes_without_moving_the_term() {
    let mut c = with_pre_vote(3);
    c.campaign(0);
    assert_eq!(c.node(0).role(), Role::PreCandidate);
    assert_eq!(c.node(0).term(), Term(0), "no term moves before a majority would vote");
    let asked = c.take_where(|m| matches!(m.body, Body::PreVote { .. }));
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|m| m.term == Term(1)), "it asks about the term it would campaign in");
    for m in asked {
        c.inject(m);
    }
    c.deliver_all();
    assert_eq!(c.node(0).role(), Role::Leader, "granted pre-votes lead to a real election, which it wins");
    assert_eq!(c.node(0).term(), Term(1));
}

#[test]
fn a_node_cut_off_from_the_leader_does_not_depose_it_when_it_returns() {
    let mut c = with_pre_vote(3);
    c.elect(0);
    let term = c.node(0).term();
    c.isolate(2);
    // Many election timeouts alone: without pre-vote its term would climb with each one.
    for _ in 0..400 {
        c.tick_all();
        c.deliver_all();
    }
    assert_eq!(c.node(2).term(), term, "pre-candidates keep their term");
    c.heal();
    for _ in 0..100 {
        c.tick_all();
        c.deliver_all();
    }
    assert_eq!(c.leader(), Some(0), "the leader keeps its place");
    assert_eq!(c.node(0).term(), term);
}

#[test]
fn a_stale_log_gets_no_pre_vote_and_nobody_changes_term() {
    // n2's log lacks the entries n0 and n1 hold; their leader is gone.
    let mut c = cluster(3)
        .configure(|c| c.pre_vote = true)
        .disk(0, durable(2, None, &[1, 2]))
        .disk(1, durable(2, None, &[1, 2]))
        .disk(2, durable(2, None, &[1]))
        .build::<raft_core::RaftNode>();
    c.campaign(2);
    c.deliver_all();
    assert_eq!(c.node(2).role(), Role::Follower, "refused by both, it goes back to following");
    for id in 0..3 {
        assert_eq!(c.node(id).term(), Term(2), "n{id} kept its term");
    }
}

#[test]
fn a_follower_that_hears_its_leader_refuses_pre_votes() {
    let mut c = with_pre_vote(3);
    c.elect(0);
    c.deliver_all();
    // n2 misses heartbeats (it alone stops hearing n0) and asks n1, which still hears n0.
    c.cut_link(0, 2);
    c.campaign(2);
    let asked = c.take_where(|m| matches!(m.body, Body::PreVote { .. }) && m.to.0 == 1);
    assert_eq!(asked.len(), 1);
    c.inject(asked[0].clone());
    c.deliver_where(|m| m.to.0 == 1 || m.from.0 == 1);
    let answers: Vec<String> =
        c.conversation(1, 2).into_iter().filter(|l| l.contains("prevote_resp")).collect();
    assert!(answers.iter().all(|l| l.contains("granted=false")), "{answers:?}");
    assert_eq!(c.node(1).term(), c.node(0).term());
}
