//! Durability gating: a message that promises something durable (a vote, an acknowledgement, a
//! request resting on our own vote) leaves only once the host has said, with `persisted(n)`, that
//! the ready which wrote it is on disk (paper Figure 2: "updated on stable storage before
//! responding to RPCs"). A leader's own AppendEntries need not wait (thesis §10.2.1).

mod common;

use common::*;
use raft_core::{LogIndex, NodeId, PersistOp, Role, Term};

fn hard_state(term: u64, vote: Option<u32>) -> PersistOp {
    PersistOp::HardState { term: Term(term), vote: vote.map(NodeId) }
}

#[test]
fn a_granted_vote_leaves_only_after_the_ready_that_wrote_it_is_persisted() {
    let mut voter = bare(0, 3);
    voter.step(vote_request(1, 0, 1, 0, 0));

    let write = voter.ready();
    assert_eq!(write.persist, vec![hard_state(1, Some(1))]);
    assert!(write.messages.is_empty(), "the answer waits for the vote to be durable");
    let idle = voter.ready();
    assert!(idle.messages.is_empty(), "asking again does not release it");

    voter.persisted(write.number);
    assert_transcript(&lines(&voter.ready().messages), "n0->n1 t1 vote_resp granted=true");
}

#[test]
fn an_append_acknowledgement_leaves_only_after_the_entries_are_durable() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[]));
    follower.step(append(1, 0, 1, (0, 0), entries_from(1, &[1, 1]), 0));

    let write = follower.ready();
    assert_eq!(
        write.persist,
        vec![PersistOp::Entries { from: LogIndex(1), entries: entries_from(1, &[1, 1]) }]
    );
    assert!(write.messages.is_empty(), "the acknowledgement waits for the entries");

    follower.persisted(write.number);
    assert_transcript(&lines(&follower.ready().messages), "n0->n1 t1 append_resp ok match=i2");
    assert_eq!(follower.durable_index(), LogIndex(2));
}

#[test]
fn each_held_message_waits_for_exactly_the_ready_that_wrote_what_it_promises() {
    let mut node = bare(0, 3);
    node.step(append(1, 0, 1, (0, 0), entries_from(1, &[1]), 0));
    let first = node.ready();
    node.step(vote_request(2, 0, 2, 1, 1));
    let second = node.ready();
    assert_eq!(first.persist.len(), 2, "term and entry: {:?}", first.persist);
    assert_eq!(second.persist, vec![hard_state(2, Some(2))]);
    assert!(first.messages.is_empty() && second.messages.is_empty());

    node.persisted(first.number);
    assert_transcript(&lines(&node.ready().messages), "n0->n1 t1 append_resp ok match=i1");
    node.persisted(second.number);
    assert_transcript(&lines(&node.ready().messages), "n0->n2 t2 vote_resp granted=true");
}

#[test]
fn a_candidate_asks_for_votes_only_after_its_own_term_and_vote_are_durable() {
    let mut node = bare(0, 3);
    tick_until_candidate(&mut node);

    let write = node.ready();
    assert_eq!(write.persist, vec![hard_state(1, Some(0))]);
    assert!(write.messages.is_empty(), "a request resting on an unwritten vote could be repudiated");

    node.persisted(write.number);
    assert_transcript(
        &lines(&node.ready().messages),
        "
        n0->n1 t1 vote last=i0/t0
        n0->n2 t1 vote last=i0/t0
        ",
    );
}

#[test]
fn a_leader_sends_its_append_entries_before_its_own_write_is_durable() {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    let noop = leader.ready();
    assert_eq!(noop.persist.len(), 1, "the no-op");
    assert_transcript(
        &lines(&noop.messages),
        "
        n0->n1 t1 append prev=i0/t0 n=1 commit=i0
        n0->n2 t1 append prev=i0/t0 n=1 commit=i0
        ",
    );
    leader.persisted(noop.number);
    leader.step(accepted(1, 0, 1, 1));
    leader.step(accepted(2, 0, 1, 1));
    drain(&mut leader);

    leader.propose(append_cmd(1, 1, "k", "v")).expect("leads");
    let write = leader.ready();
    assert!(matches!(write.persist[..], [PersistOp::Entries { from: LogIndex(2), .. }]));
    assert_transcript(
        &lines(&write.messages),
        "
        n0->n1 t1 append prev=i1/t1 n=1 commit=i1
        n0->n2 t1 append prev=i1/t1 n=1 commit=i1
        ",
    );
}

#[test]
fn a_leader_counts_itself_toward_a_majority_only_once_its_own_write_is_durable() {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    let noop = leader.ready();

    leader.step(accepted(1, 0, 1, 1));
    assert_eq!(leader.commit_index(), LogIndex(0), "one follower and an undurable leader are not two copies");

    leader.persisted(noop.number);
    assert_eq!(leader.commit_index(), LogIndex(1), "now the leader's own copy counts");
}

#[test]
fn two_followers_commit_an_entry_the_leader_has_not_yet_made_durable() {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    let _noop_not_yet_durable = leader.ready();

    leader.step(accepted(1, 0, 1, 1));
    leader.step(accepted(2, 0, 1, 1));
    assert_eq!(leader.commit_index(), LogIndex(1), "a majority without the leader");
    assert_eq!(leader.durable_index(), LogIndex(0));
}

#[test]
fn a_follower_with_a_slow_disk_delays_only_its_own_acknowledgement() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.manual_sync(1, true);
    cluster.clear_transcript();

    let (index, _) = cluster.propose(0, append_cmd(1, 1, "k", "v"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), index, "n2's acknowledgement made a majority");
    assert!(!cluster.delivered.iter().any(|m| m.from == NodeId(1) && m.to_string().contains("match=i2")));
    assert_eq!(cluster.peer(1).disk.durable.last_index(), LogIndex(1), "n1's disk has not caught up");

    cluster.sync(1);
    cluster.deliver_all();
    assert_transcript(
        &cluster.transcript,
        "
        n0->n1 t1 append prev=i1/t1 n=1 commit=i1
        n0->n2 t1 append prev=i1/t1 n=1 commit=i1
        n2->n0 t1 append_resp ok match=i2
        n1 synced
        n1->n0 t1 append_resp ok match=i2
        ",
    );
    assert_eq!(cluster.peer(1).disk.durable.last_index(), LogIndex(2));
}

#[test]
fn a_vote_lost_in_a_crash_before_the_sync_was_never_announced() {
    let mut cluster = Nodes::new(3);
    cluster.manual_sync(1, true);
    cluster.manual_sync(2, true);
    cluster.campaign(0);
    cluster.deliver_all();
    assert_eq!(cluster.node(1).vote(), Some(NodeId(0)), "n1 decided");
    assert_eq!(cluster.node(0).role(), Role::Candidate, "but its answer waits for its disk");
    assert!(!cluster.delivered.iter().any(|m| m.from != NodeId(0)), "neither voter said anything");

    cluster.crash(1);
    cluster.restart(1);
    assert_eq!(
        (cluster.node(1).term(), cluster.node(1).vote()),
        (Term(0), None),
        "the vote never reached disk"
    );

    cluster.sync(2);
    cluster.deliver_all();
    assert_eq!(cluster.node(0).role(), Role::Leader, "n2's durable vote makes the majority");
}
