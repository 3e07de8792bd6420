//! Reads that skip the log (thesis §6.4): a leader hands the host a read state (the host's
//! context and the index to wait for) only once an entry of its term is committed and a
//! majority answered a leadership check sent after the read was asked; with a lease, while the
//! lease holds, without the check.

mod common;

use common::*;
use raft_core::{read_index::lease_ticks, Body, ReadError, Role};

/// n0 leads n0..n2 and has committed its no-op; followers know it.
fn led() -> Nodes {
    let mut c = Nodes::new(3);
    c.elect(0);
    c.heartbeat(0);
    c
}

fn checks_in_flight(c: &mut Nodes) -> usize {
    let checks = c.take_where(|m| matches!(m.body, Body::ConfirmLeadership { .. }));
    let count = checks.len();
    checks.into_iter().for_each(|m| c.inject(m));
    count
}

#[test]
fn a_read_waits_for_a_majority_to_confirm_the_leader_then_carries_the_commit_index() {
    let mut c = led();
    let commit = c.node(0).commit_index().0;
    c.read(0, 7).expect("n0 leads");
    assert!(c.reads_served(0).is_empty(), "not before the check");
    assert_eq!(checks_in_flight(&mut c), 2, "one check to each voter");
    c.deliver_where(|m| m.to == n(1));
    assert!(c.reads_served(0).is_empty(), "n1's answer is on its way");
    c.deliver_where(|m| m.from == n(1));
    assert_eq!(c.reads_served(0), [(7, commit)], "n0 and n1 are a majority");
}

#[test]
fn a_new_leader_takes_no_read_index_before_an_entry_of_its_term_commits() {
    let mut c = Nodes::new(3);
    c.campaign(0);
    c.deliver_until(|c| c.node(0).role() == Role::Leader);
    let noop = c.node(0).log().last_index().0;
    c.read(0, 1).expect("n0 leads");
    assert_eq!(checks_in_flight(&mut c), 0, "no index to read at yet: no check either");
    c.deliver_all();
    assert_eq!(c.reads_served(0), [(1, noop)], "the no-op committed, then the check went round");
}

#[test]
fn a_deposed_leader_cannot_serve_a_read_index_read() {
    let mut c = led();
    c.isolate(0);
    c.elect(1);
    let (write, _) = c.propose(1, append_cmd(1, 1, "k", "new"));
    c.deliver_all();
    assert!(c.node(1).commit_index() >= write, "a write completed at the new leader");
    c.read(0, 5).expect("n0 still believes it leads");
    c.tick_node(0, 100);
    assert!(c.reads_served(0).is_empty(), "its checks reach nobody");
    c.heal();
    c.heartbeat(1);
    c.tick_node(0, 20);
    assert_eq!(c.node(0).role(), Role::Follower);
    assert!(c.reads_served(0).is_empty(), "and the read was dropped with its leadership");
}

#[test]
fn a_follower_refuses_a_read_and_names_the_leader() {
    let mut c = led();
    assert_eq!(c.read(1, 1), Err(ReadError::NotLeader { hint: Some(n(0)) }));
}

// ----- Leases -----

fn leased() -> Nodes {
    let mut c: Nodes = cluster(3)
        .configure(|c| {
            c.sticky_leader = true;
            c.read_lease = true;
        })
        .build();
    c.tick_until(500, |c| c.leader().is_some());
    let leader = c.leader().expect("elected");
    if leader != 0 {
        c.transfer(leader, 0).expect("to n0");
        c.deliver_all();
    }
    c.heartbeat(0);
    c
}

#[test]
fn under_a_lease_the_leader_serves_a_read_without_a_check() {
    let mut c = leased();
    assert!(c.node(0).lease_holds(), "the last heartbeat's check renewed it");
    c.read(0, 3).expect("n0 leads");
    assert_eq!(c.reads_served(0), [(3, c.node(0).commit_index().0)], "at once");
    assert_eq!(checks_in_flight(&mut c), 0, "no check went out for it");
}

#[test]
fn a_lease_expires_lease_ticks_after_the_check_that_renewed_it_and_reads_go_back_to_checks() {
    let mut c = leased();
    let ticks = lease_ticks(c.peer(0).config.election_ticks_min);
    assert_eq!(ticks, 25, "30 ticks, less drift both ways, less a margin");
    c.isolate(0);
    // The lease counts from the tick at which the check was sent, the last heartbeat.
    c.tick_node(0, ticks - 1);
    assert!(c.node(0).lease_holds());
    c.tick_node(0, 1);
    assert!(!c.node(0).lease_holds(), "expired");
    c.read(0, 4).expect("n0 still leads");
    assert!(c.reads_served(0).is_empty(), "a check is needed, and nobody answers");
}

#[test]
fn a_leader_that_sent_timeout_now_holds_no_lease_for_the_rest_of_its_term() {
    let mut c = leased();
    assert!(c.node(0).lease_holds());
    c.isolate(1);
    c.transfer(0, 1).expect("n1 is a voter");
    c.take_where(|m| m.body == Body::TimeoutNow);
    assert!(!c.node(0).lease_holds(), "n1 may win an election that ignores the lease any time now");
    c.tick_node(0, c.peer(0).config.election_ticks_min);
    assert_eq!(c.node(0).transferring_to(), None, "abandoned");
    c.heartbeat(0);
    assert!(!c.node(0).lease_holds(), "still none in this term");
}
