//! Leadership transfer (thesis §3.10): the leader catches the target up, takes no proposals
//! meanwhile, sends TimeoutNow, and the target wins an election at once, even against voters
//! that still hear the old leader; a transfer that does not finish within an election timeout
//! is abandoned.

mod common;

use common::*;
use raft_core::{Body, LogIndex, NotLeader, Role, TransferError};

/// n0 leads n0..n2, with the sticky-leader rule and pre-vote on: voters that hear n0 would
/// refuse any election nobody asked for.
fn led() -> Nodes {
    let mut c: Nodes = cluster(3)
        .configure(|c| {
            c.sticky_leader = true;
            c.pre_vote = true;
        })
        .build();
    c.tick_until(500, |c| c.leader().is_some());
    let leader = c.leader().expect("elected");
    if leader != 0 {
        c.transfer(leader, 0).expect("hand it to n0");
        c.deliver_all();
    }
    assert_eq!(c.leader(), Some(0));
    c.heartbeat(0);
    c
}

#[test]
fn a_transfer_to_an_up_to_date_follower_hands_over_at_once_bypassing_pre_vote_and_stickiness() {
    let mut c = led();
    let term = c.node(0).term();
    c.clear_transcript();
    c.transfer(0, 1).expect("n1 is a voter");
    c.deliver_all();
    assert_eq!(c.leader(), Some(1));
    assert_eq!(c.node(1).term(), term.next(), "one election, no pre-vote round");
    let requests: Vec<&String> =
        c.transcript.iter().filter(|l| l.contains(" vote ") || l.contains(" prevote ")).collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests.iter().all(|l| l.starts_with("n1->") && l.ends_with(" transfer")),
        "voters that heard n0 a moment ago granted a transfer's requests: {requests:?}"
    );
    assert_eq!(c.node(0).role(), Role::Follower);
}

#[test]
fn a_lagging_target_is_caught_up_first_and_proposals_are_refused_meanwhile() {
    let mut c = led();
    c.cut_link(0, 2);
    for seq in 1..=3 {
        c.propose(0, append_cmd(1, seq, "k", "v"));
    }
    c.deliver_all();
    let last = c.node(0).log().last_index();
    assert!(c.node(2).log().last_index() < last);
    c.heal();
    c.transfer(0, 2).expect("n2 is a voter");
    let sent = c.take_where(|m| m.body == Body::TimeoutNow);
    assert!(sent.is_empty(), "not before n2 caught up");
    assert_eq!(
        c.host_mut(0).propose(append_cmd(1, 9, "k", "x")),
        Err(NotLeader { hint: None }),
        "refused while transferring, with no hint (the target would point back)"
    );
    c.deliver_all();
    assert_eq!(c.leader(), Some(2));
    assert_eq!(c.node(2).log().entries()[..last.0 as usize], c.node(0).log().entries()[..last.0 as usize]);
}

#[test]
fn a_transfer_that_does_not_finish_within_an_election_timeout_is_abandoned() {
    let mut c = led();
    c.isolate(2);
    c.transfer(0, 2).expect("n2 is a voter");
    assert_eq!(c.node(0).transferring_to(), Some(n(2)));
    assert!(c.host_mut(0).propose(append_cmd(1, 1, "k", "v")).is_err());
    let timeout = c.peer(0).config.election_ticks_min;
    c.tick_node(0, timeout - 1);
    assert_eq!(c.node(0).transferring_to(), Some(n(2)), "still trying");
    c.tick_node(0, 1);
    assert_eq!(c.node(0).transferring_to(), None, "abandoned");
    assert_eq!(c.node(0).role(), Role::Leader);
    let (index, _) = c.propose(0, append_cmd(1, 1, "k", "v"));
    c.deliver_all();
    assert!(c.node(0).commit_index() >= index, "proposals are taken again");
}

#[test]
fn only_a_leader_transfers_and_only_to_another_voter() {
    let mut c = led();
    let n3 = c.join();
    c.change(0, raft_core::MembershipChange::AddLearner(n(n3))).expect("joins");
    c.deliver_all();
    assert_eq!(c.transfer(1, 2), Err(TransferError::NotLeader { hint: Some(n(0)) }));
    assert_eq!(c.transfer(0, 0), Err(TransferError::NotAVoter(n(0))));
    assert_eq!(c.transfer(0, n3), Err(TransferError::NotAVoter(n(n3))), "a learner cannot lead");
    c.isolate(2);
    c.transfer(0, 2).expect("n2 is a voter");
    assert_eq!(c.transfer(0, 1), Err(TransferError::InProgress { to: n(2) }));
    assert!(c.node(0).commit_index() >= LogIndex(1));
}
