//! Leader election (Raft paper §5.2 and §5.4.1, thesis §6.2 for check-quorum), through the public
//! API: whole clusters where the story is about who wins, bare nodes with crafted messages where
//! it is about one voter's answer.

mod common;

use common::*;
use raft_core::{Body, Config, LogIndex, Message, NodeId, RaftNode, Role, Term};

/// Runs a fresh cluster of `size` until someone leads, then long enough for any rival election
/// to show up, and returns the leader.
fn settle(size: usize, seed: u64) -> (Nodes, u32) {
    let mut cluster: Nodes = cluster(size).seed(seed).build();
    cluster.tick_until(1_000, |c| c.leader().is_some());
    for _ in 0..300 {
        cluster.tick_all();
    }
    let leader = cluster.leader().expect("a leader");
    (cluster, leader)
}

fn assert_one_leader_that_everyone_follows(cluster: &Nodes, leader: u32, size: usize) {
    assert_eq!(cluster.leaders(), vec![NodeId(leader)], "exactly one node leads");
    let term = cluster.node(leader).term();
    for id in 0..size as u32 {
        let node = cluster.node(id);
        assert_eq!(node.term(), term, "n{id} is in the leader's term");
        assert_eq!(node.leader(), Some(NodeId(leader)), "n{id} knows the leader");
        if id != leader {
            assert_eq!(node.role(), Role::Follower, "n{id} follows");
        }
    }
}

#[test]
fn a_single_leader_emerges_in_a_three_node_cluster() {
    for seed in 1..=8 {
        let (mut cluster, leader) = settle(3, seed);
        for _ in 0..300 {
            cluster.tick_all();
        }
        assert_eq!(cluster.leader(), Some(leader), "seed {seed}: a healthy leader is never replaced");
        assert_one_leader_that_everyone_follows(&cluster, leader, 3);
    }
}

#[test]
fn a_single_leader_emerges_in_a_five_node_cluster() {
    for seed in 1..=8 {
        let (mut cluster, leader) = settle(5, seed);
        for _ in 0..300 {
            cluster.tick_all();
        }
        assert_eq!(cluster.leader(), Some(leader), "seed {seed}: a healthy leader is never replaced");
        assert_one_leader_that_everyone_follows(&cluster, leader, 5);
    }
}

#[test]
fn a_node_alone_in_its_cluster_elects_itself_and_commits_on_its_own() {
    let mut cluster = Nodes::new(1);
    let ticks = cluster.tick_until(100, |c| c.leader() == Some(0));
    assert!((30..60).contains(&ticks), "it waited one election timeout, not {ticks} ticks");
    assert_eq!(cluster.node(0).term(), Term(1));
    assert_eq!(cluster.node(0).vote(), Some(NodeId(0)));

    cluster.propose(0, append_cmd(1, 1, "k", "v"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), LogIndex(2), "the no-op and the command");
    assert_eq!(cluster.applied_indexes(0), vec![1, 2]);
}

/// The gaps, in ticks, between the first `count` campaigns of a node nobody answers.
fn campaign_gaps(seed: u64, count: usize) -> Vec<u32> {
    // Without pre-vote, each timeout starts an election at once and moves the term.
    let mut config = Config::new(NodeId(0), ids(3));
    config.pre_vote = false;
    let mut node = RaftNode::new(config, seed).expect("valid config");
    let mut gaps = Vec::new();
    let mut ticks = 0;
    while gaps.len() < count {
        let term = node.term();
        node.tick();
        ticks += 1;
        if node.term() != term {
            gaps.push(ticks);
            ticks = 0;
        }
    }
    gaps
}

#[test]
fn election_timeouts_are_random_but_drawn_only_from_the_seed() {
    let first = campaign_gaps(1, 8);
    assert_eq!(first, campaign_gaps(1, 8), "the same seed gives the same timeouts");
    assert_ne!(first, campaign_gaps(2, 8), "another seed gives other timeouts");
    // The first election starts after one timeout in [30, 60). Then a lone candidate's term
    // lasts two: the first times out its election and asks again in the same term, the second
    // starts the next term.
    for gaps in [&first, &campaign_gaps(2, 8)] {
        assert!((30..60).contains(&gaps[0]), "a first timeout of {} ticks is outside [30, 60)", gaps[0]);
        for gap in &gaps[1..] {
            assert!((60..120).contains(gap), "a term of {gap} ticks is outside [60, 120)");
        }
    }
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert!(distinct.len() > 1, "successive timeouts of one node vary: {first:?}");
}

#[test]
fn a_node_votes_once_per_term() {
    let mut voter = bare(0, 3);
    voter.step(vote_request(1, 0, 1, 0, 0));
    voter.step(vote_request(2, 0, 1, 0, 0));
    voter.step(vote_request(1, 0, 1, 0, 0));
    assert_transcript(
        &lines(&drain(&mut voter)),
        "
        n0->n1 t1 vote_resp granted=true
        n0->n2 t1 vote_resp granted=false
        n0->n1 t1 vote_resp granted=true
        ",
    );
    assert_eq!(voter.vote(), Some(NodeId(1)), "asking again does not change the vote");

    voter.step(vote_request(2, 0, 2, 0, 0));
    assert_transcript(&lines(&drain(&mut voter)), "n0->n2 t2 vote_resp granted=true");
    assert_eq!((voter.term(), voter.vote()), (Term(2), Some(NodeId(2))), "a new term, a new vote");
}

/// A voter whose log ends with entries of terms 1 and 2, and what it answers `request`.
fn answer_of_voter_with_log_1_2(request: Message) -> (bool, Option<NodeId>) {
    let mut voter = bare_with(0, 3, Default::default(), durable(2, None, &[1, 2]));
    voter.step(request);
    let sent = drain(&mut voter);
    assert_eq!(sent.len(), 1, "one answer: {sent:?}");
    let Body::RequestVoteResponse { granted } = sent[0].body else {
        panic!("not a vote answer: {}", sent[0])
    };
    (granted, voter.vote())
}

#[test]
fn a_vote_is_refused_to_a_candidate_whose_last_term_is_lower_even_if_its_log_is_longer() {
    let (granted, vote) = answer_of_voter_with_log_1_2(vote_request(1, 0, 3, 5, 1));
    assert!(!granted);
    assert_eq!(vote, None);
}

#[test]
fn a_vote_is_refused_to_a_candidate_with_the_same_last_term_but_a_shorter_log() {
    let (granted, vote) = answer_of_voter_with_log_1_2(vote_request(1, 0, 3, 1, 2));
    assert!(!granted);
    assert_eq!(vote, None);
}

#[test]
fn a_vote_is_granted_to_a_candidate_whose_log_is_at_least_as_up_to_date() {
    assert_eq!(answer_of_voter_with_log_1_2(vote_request(1, 0, 3, 2, 2)), (true, Some(NodeId(1))));
    assert_eq!(answer_of_voter_with_log_1_2(vote_request(1, 0, 3, 3, 2)), (true, Some(NodeId(1))));
    assert_eq!(
        answer_of_voter_with_log_1_2(vote_request(1, 0, 3, 1, 3)),
        (true, Some(NodeId(1))),
        "a higher last term wins even with a shorter log"
    );
}

/// A node of a 3-node cluster in `role`, in term 1.
fn node_in_role(role: Role) -> RaftNode {
    let mut node = bare(0, 3);
    match role {
        Role::Follower => {
            node.step(append(1, 0, 1, (0, 0), vec![], 0));
            drain(&mut node);
        }
        Role::Candidate => {
            tick_until_candidate(&mut node);
            drain(&mut node);
        }
        Role::Leader => make_leader(&mut node),
        Role::PreCandidate => unreachable!("these nodes run without pre-vote"),
    }
    assert_eq!((node.role(), node.term()), (role, Term(1)));
    node
}

#[test]
fn every_role_steps_down_on_a_higher_term_in_any_message() {
    let from_term_2: [Message; 4] = [
        vote_request(1, 0, 2, 0, 0),
        vote_response(1, 0, 2, false),
        append(1, 0, 2, (0, 0), vec![], 0),
        accepted(1, 0, 2, 0),
    ];
    for role in [Role::Follower, Role::Candidate, Role::Leader] {
        for m in &from_term_2 {
            let mut node = node_in_role(role);
            node.step(m.clone());
            let case = format!("a {role:?} given `{m}`");
            assert_eq!(node.role(), Role::Follower, "{case}");
            assert_eq!(node.term(), Term(2), "{case}");
            let leader = matches!(m.body, Body::AppendEntries { .. }).then_some(NodeId(1));
            assert_eq!(node.leader(), leader, "{case}: only an AppendEntries names the new leader");
            assert!(node.propose(append_cmd(1, 1, "k", "v")).is_err(), "{case}: no longer takes commands");
        }
    }
}

#[test]
fn a_candidate_steps_down_on_an_append_entries_of_its_own_term() {
    let mut node = node_in_role(Role::Candidate);
    node.step(append(2, 0, 1, (0, 0), vec![], 0));
    assert_eq!(node.role(), Role::Follower);
    assert_eq!(node.term(), Term(1), "the same term");
    assert_eq!(node.vote(), Some(NodeId(0)), "the vote it cast for itself this term stands");
    assert_eq!(node.leader(), Some(NodeId(2)));
    assert_transcript(&lines(&drain(&mut node)), "n0->n2 t1 append_resp ok match=i0");
}

#[test]
fn a_candidate_rejected_by_a_majority_goes_back_to_following() {
    let mut node = node_in_role(Role::Candidate);
    node.step(vote_response(1, 0, 1, false));
    assert_eq!(node.role(), Role::Candidate, "one refusal is not a majority in a cluster of three");
    node.step(vote_response(2, 0, 1, false));
    assert_eq!(node.role(), Role::Follower);
    assert_eq!(node.term(), Term(1));
}

#[test]
fn a_message_from_an_older_term_is_answered_with_the_newer_term_and_deposes_its_sender() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.isolate(0);
    cluster.elect(1);
    cluster.heal();
    cluster.clear_transcript();

    cluster.heartbeat(0);
    assert_eq!(cluster.node(0).role(), Role::Follower);
    assert_eq!(cluster.node(0).term(), Term(2));
    assert_transcript(
        &cluster.transcript,
        "
        n0->n1 t1 append prev=i1/t1 n=0 commit=i1
        n0->n2 t1 append prev=i1/t1 n=0 commit=i1
        n1->n0 t2 append_resp reject prev=i1 conflict=0/i0
        n0 is follower in t2
        n2->n0 t2 append_resp reject prev=i1 conflict=0/i0
        ",
    );
}

/// Elects a leader in a cluster of `size`, cuts it into a minority with `companions`, and
/// returns the ticks until it stops leading, and the cluster.
fn ticks_until_a_cut_off_leader_steps_down(size: usize, companions: &[u32]) -> (u32, Nodes) {
    let mut cluster = Nodes::new(size);
    cluster.elect(0);
    for _ in 0..100 {
        cluster.tick_all();
    }
    assert_eq!(cluster.leader(), Some(0));
    let minority: Vec<u32> = std::iter::once(0).chain(companions.iter().copied()).collect();
    let majority: Vec<u32> = (0..size as u32).filter(|id| !minority.contains(id)).collect();
    cluster.partition(&[&minority, &majority]);
    let ticks = cluster.tick_until(200, |c| c.node(0).role() != Role::Leader);
    (ticks, cluster)
}

#[test]
fn with_check_quorum_a_leader_cut_off_from_the_majority_steps_down_within_two_election_timeouts() {
    let (ticks, mut cluster) = ticks_until_a_cut_off_leader_steps_down(3, &[]);
    // The leader checks every election_ticks_max (60) ticks; a follower heard just before the cut
    // still counts at the first check, so stepping down takes between one and two periods.
    assert!((1..=120).contains(&ticks), "stepped down after {ticks} ticks");
    assert!(cluster.host_mut(0).propose(append_cmd(1, 1, "k", "v")).is_err());
    cluster.tick_until(200, |c| c.leader().is_some_and(|l| l != 0));
}

#[test]
fn with_check_quorum_a_leader_left_with_a_minority_of_five_steps_down() {
    let (ticks, mut cluster) = ticks_until_a_cut_off_leader_steps_down(5, &[1]);
    assert!((1..=120).contains(&ticks), "stepped down after {ticks} ticks");
    cluster.tick_until(200, |c| c.leader().is_some_and(|l| l >= 2));
}

#[test]
fn without_check_quorum_a_cut_off_leader_keeps_believing_it_leads() {
    let mut cluster: Nodes = cluster(3).configure(|c| c.check_quorum = false).build();
    cluster.elect(0);
    cluster.isolate(0);
    for _ in 0..300 {
        cluster.tick_all();
    }
    assert_eq!(cluster.node(0).role(), Role::Leader, "nothing tells it otherwise");
    assert!(cluster.leaders().len() == 2, "the majority elected another leader in a later term");
}

#[test]
fn a_candidate_whose_election_times_out_asks_again_in_the_same_term_and_late_votes_still_count() {
    let mut node = bare(0, 5);
    tick_until_candidate(&mut node);
    let first: Vec<Message> = drain(&mut node);
    assert_eq!(first.iter().filter(|m| matches!(m.body, Body::RequestVote { .. })).count(), 4);
    let term = node.term();
    node.step(vote_response(1, 0, term.0, true));
    // No other answer within a timeout: the candidate asks the silent ones again, same term.
    for _ in 0..60 {
        node.tick();
    }
    assert_eq!((node.role(), node.term()), (Role::Candidate, term));
    let again: Vec<u32> = drain(&mut node)
        .iter()
        .filter(|m| matches!(m.body, Body::RequestVote { .. }) && m.term == term)
        .map(|m| m.to.0)
        .collect();
    assert_eq!(again, vec![2, 3, 4], "only the members that have not answered");
    // A vote from the first round arrives late and still counts.
    node.step(vote_response(2, 0, term.0, true));
    assert_eq!((node.role(), node.term()), (Role::Leader, term));
}
