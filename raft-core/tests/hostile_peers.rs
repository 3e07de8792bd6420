//! The core does not trust the world (DESIGN.md, "what we take" 5): a message no correct peer
//! would send is ignored or answered, never a reason to panic or to corrupt the log.

mod common;

use common::*;
use raft_core::{AppendResponse, Body, LogIndex, Message, NodeId, Role, Term};

fn rejected(
    from: u32,
    to: u32,
    term: u64,
    prev: u64,
    conflict_term: Option<u64>,
    conflict_index: u64,
) -> Message {
    let response = AppendResponse::Rejected {
        rejected_prev_index: LogIndex(prev),
        conflict_term: conflict_term.map(Term),
        conflict_index: LogIndex(conflict_index),
        lost: false,
    };
    Message {
        from: NodeId(from),
        to: NodeId(to),
        term: Term(term),
        body: Body::AppendEntriesResponse { seq: ANSWER_SEQ, response },
    }
}

/// A leader of term 1 whose no-op both followers have acknowledged.
fn leader_with_replicating_followers() -> raft_core::RaftNode {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    drain(&mut leader);
    leader.step(accepted(1, 0, 1, 1));
    leader.step(accepted(2, 0, 1, 1));
    drain(&mut leader);
    assert_eq!(leader.commit_index(), LogIndex(1));
    leader
}

#[test]
fn messages_for_another_node_or_claiming_to_come_from_this_one_are_ignored() {
    let mut node = bare(0, 3);
    node.step(vote_request(1, 2, 5, 0, 0));
    node.step(vote_request(0, 0, 5, 0, 0));
    assert_eq!(node.term(), Term(0));
    assert!(drain(&mut node).is_empty());
}

#[test]
fn a_request_from_a_server_outside_the_configuration_is_answered_but_its_answers_do_not_count() {
    // Thesis §4.1 and §4.2.1: servers process requests without consulting their configuration
    // (the sender may be a member this node has not heard of yet, and its election may be
    // needed to keep the cluster available). A node that hears no leader grants the vote.
    let mut node = bare(0, 3);
    tick_until_candidate(&mut node);
    drain(&mut node);
    node.step(vote_request(7, 0, 5, 0, 0));
    let sent = drain(&mut node);
    assert_eq!(lines(&sent), ["n0->n7 t5 vote_resp granted=true"]);
    // One that hears a leader disregards it, sticky-leader rule or not: a removed server
    // would otherwise depose the leader of the cluster it left (see the membership stories).
    let mut follower = bare(0, 3);
    follower.step(append(1, 0, 1, (0, 0), Vec::new(), 0));
    drain(&mut follower);
    follower.step(vote_request(7, 0, 5, 0, 0));
    assert!(drain(&mut follower).is_empty());
    assert_eq!(follower.term(), Term(1));
    // A member's request for a higher term is still taken (no sticky-leader rule here).
    follower.step(vote_request(2, 0, 5, 0, 0));
    assert_eq!(lines(&drain(&mut follower)), ["n0->n2 t5 vote_resp granted=true"]);
    // A candidate counts only voters: a grant from n7 does not make n0 leader of a 3-voter
    // cluster.
    let mut candidate = bare(0, 3);
    tick_until_candidate(&mut candidate);
    drain(&mut candidate);
    let term = candidate.term().0;
    candidate.step(vote_response(7, 0, term, true));
    candidate.step(vote_response(8, 0, term, true));
    assert_eq!(candidate.role(), Role::Candidate);
}

#[test]
fn an_acceptance_naming_entries_the_leader_never_sent_is_ignored() {
    let mut leader = leader_with_replicating_followers();
    leader.step(accepted(1, 0, 1, 40));
    assert_eq!(leader.commit_index(), LogIndex(1), "no commit on the strength of a lie");
    assert_eq!(leader.role(), Role::Leader);
}

#[test]
fn a_rejection_naming_an_index_past_the_leaders_log_is_ignored() {
    let mut leader = leader_with_replicating_followers();
    leader.step(rejected(1, 0, 1, 50, None, 60));
    assert_eq!(leader.role(), Role::Leader);
    leader.propose(append_cmd(1, 1, "k", "v")).expect("still leads");
    let sent = drain(&mut leader);
    assert!(sent.iter().all(|m| match &m.body {
        Body::AppendEntries { prev_log_index, .. } => *prev_log_index <= LogIndex(1),
        _ => true,
    }));
}

#[test]
fn an_append_whose_entries_go_back_in_term_is_dropped_whole() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1]));
    follower.step(append(1, 0, 2, (1, 1), entries_from(2, &[2, 1]), 0));
    assert_eq!(log_terms(&follower), vec![1], "dropped, like a message whose indexes have gaps");
}

#[test]
fn an_append_whose_indexes_do_not_follow_prev_is_dropped_whole() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1]));
    follower.step(append(1, 0, 1, (1, 1), entries_from(3, &[1]), 1));
    assert_eq!(log_terms(&follower), vec![1]);
    assert_eq!(follower.commit_index(), LogIndex(0));
    assert!(drain(&mut follower).is_empty(), "no answer either");
}
