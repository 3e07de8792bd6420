//! Membership changes, one server at a time (thesis §4.1): learners that catch up, promotion,
//! removal of a follower and of the leader, the two rules that keep single-server changes safe
//! (one change at a time; an entry of the leader's term committed first), configurations that
//! take effect when appended and go when truncated, and configurations that survive restarts
//! and snapshots. A removed server that keeps timing out cannot disrupt the cluster it left.

mod common;

use common::*;
use raft_core::{wal, ChangeError, LogIndex, Membership, MembershipChange, NodeId, RaftNode, Role, Term};

fn add(id: u32) -> MembershipChange {
    MembershipChange::AddLearner(n(id))
}

fn promote(id: u32) -> MembershipChange {
    MembershipChange::Promote(n(id))
}

fn remove(id: u32) -> MembershipChange {
    MembershipChange::Remove(n(id))
}

/// n0 leads n0..n2 and has committed three commands.
fn led_with_commands() -> Nodes {
    let mut c = Nodes::new(3);
    c.elect(0);
    for seq in 1..=3 {
        c.propose(0, append_cmd(1, seq, "k", "v"));
    }
    c.deliver_all();
    c.heartbeat(0);
    c
}

fn membership(c: &Nodes, id: u32) -> String {
    c.node(id).membership().to_string()
}

#[test]
fn a_new_server_joins_as_a_learner_catches_up_and_never_stands_for_election() {
    let mut c = led_with_commands();
    let n3 = c.join();
    assert!(c.node(n3).membership().is_empty(), "it knows no configuration yet");
    let index = c.change(0, add(n3)).expect("a learner joins");
    assert_eq!(membership(&c, 0), "{n0,n1,n2}+{n3}", "in force at the leader once appended");
    c.deliver_all();
    c.heartbeat(0);
    assert!(c.node(0).commit_index() >= index);
    assert_eq!(c.node(n3).log().last_index(), c.node(0).log().last_index(), "caught up");
    assert_eq!(c.applied_indexes(n3), c.applied_indexes(1), "and applied what the others applied");
    assert_eq!(membership(&c, n3), "{n0,n1,n2}+{n3}");

    let term = c.node(0).term();
    c.isolate(n3);
    c.tick_node(n3, 500);
    assert_eq!((c.node(n3).role(), c.node(n3).term()), (Role::Follower, term), "a learner does not campaign");
}

#[test]
fn a_learners_acknowledgement_does_not_commit_anything() {
    let mut c = led_with_commands();
    let n3 = c.join();
    c.change(0, add(n3)).expect("a learner joins");
    c.deliver_all();
    c.heartbeat(0);
    let committed = c.node(0).commit_index();
    // Only the learner hears the leader now.
    c.partition(&[&[0, n3], &[1, 2]]);
    let (index, _) = c.propose(0, append_cmd(1, 9, "k", "x"));
    c.deliver_all();
    assert_eq!(c.node(n3).log().last_index(), index, "the learner holds the entry");
    assert_eq!(c.node(0).commit_index(), committed, "but a learner is no voter");
}

#[test]
fn a_learner_whose_entries_are_compacted_catches_up_by_snapshot() {
    let mut c = led_with_commands();
    let n3 = c.join();
    c.cut_link(0, n3);
    c.change(0, add(n3)).expect("a learner joins");
    c.deliver_all();
    c.heartbeat(0);
    assert!(c.compact(0), "the leader's snapshot covers the learner's addition");
    let meta = c.node(0).log().snapshot_meta();
    assert_eq!(meta.membership.to_string(), "{n0,n1,n2}+{n3}", "the snapshot records the configuration");
    c.heal();
    c.heartbeat(0);
    assert_eq!(c.peer(n3).installed, vec![meta], "installed once");
    assert_eq!(membership(&c, n3), "{n0,n1,n2}+{n3}", "learned from the snapshot alone");
    assert_eq!(c.node(n3).log().last_index(), c.node(0).log().last_index());
}

#[test]
fn a_learner_is_promoted_only_once_it_holds_every_committed_entry_then_it_counts() {
    let mut c = led_with_commands();
    let n3 = c.join();
    c.cut_link(0, n3);
    c.change(0, add(n3)).expect("a learner joins");
    c.deliver_all();
    c.heartbeat(0);
    let committed = c.node(0).commit_index();
    assert_eq!(
        c.change(0, promote(n3)),
        Err(ChangeError::LearnerBehind { id: n(n3), matched: LogIndex(0), committed }),
        "it has heard nothing yet"
    );
    c.heal();
    c.heartbeat(0);
    let index = c.change(0, promote(n3)).expect("caught up");
    assert_eq!(membership(&c, 0), "{n0,n1,n2,n3}");
    c.deliver_all();
    c.heartbeat(0);
    assert!(c.node(0).commit_index() >= index);
    for id in 0..4 {
        assert_eq!(membership(&c, id), "{n0,n1,n2,n3}", "n{id}");
    }
    // Four voters: a majority is three, so n0 and n1 alone commit nothing.
    c.partition(&[&[0, 1], &[2, n3]]);
    let before = c.node(0).commit_index();
    c.propose(0, append_cmd(1, 9, "k", "x"));
    c.deliver_all();
    assert_eq!(c.node(0).commit_index(), before);
}

#[test]
fn a_removed_follower_no_longer_counts_nor_hears_the_leader() {
    let mut c = led_with_commands();
    let index = c.change(0, remove(2)).expect("a follower leaves");
    assert_eq!(membership(&c, 0), "{n0,n1}");
    c.deliver_all();
    c.heartbeat(0);
    assert!(c.node(0).commit_index() >= index);
    c.clear_transcript();
    c.heartbeat(0);
    assert!(c.conversation(0, 2).is_empty(), "no heartbeat for a removed server: {:?}", c.conversation(0, 2));
    // {n0, n1}: both are needed now.
    c.isolate(1);
    let before = c.node(0).commit_index();
    c.propose(0, append_cmd(1, 9, "k", "x"));
    c.deliver_all();
    assert_eq!(c.node(0).commit_index(), before);
}

#[test]
fn a_leader_that_removes_itself_leads_until_the_change_commits_without_counting_itself_then_steps_down() {
    let mut c = led_with_commands();
    // Only n1 hears the leader: n0 and n1 are a majority of the old configuration, not of the new.
    c.cut_link(0, 2);
    let index = c.change(0, remove(0)).expect("the leader may remove itself");
    assert_eq!(membership(&c, 0), "{n1,n2}");
    c.deliver_all();
    c.heartbeat(0);
    assert_eq!(c.node(1).log().last_index(), index, "n1 holds the change");
    assert!(c.node(0).commit_index() < index, "n0's own copy does not count");
    assert_eq!(c.node(0).role(), Role::Leader, "and it keeps leading meanwhile");

    c.heal();
    c.heartbeat(0);
    assert!(c.node(0).commit_index() >= index);
    assert_eq!(c.node(0).role(), Role::Follower, "it stepped down once the change committed");
    let term = c.node(0).term();
    c.isolate(0);
    c.tick_node(0, 500);
    assert_eq!((c.node(0).role(), c.node(0).term()), (Role::Follower, term), "nor does it campaign again");
    c.heal();
    c.tick_until(500, |c| c.leader().is_some_and(|l| l != 0));
    let leader = c.leader().expect("n1 or n2 leads");
    assert_eq!(membership(&c, leader), "{n1,n2}");
}

#[test]
fn one_change_at_a_time_the_next_waits_for_the_previous_to_commit() {
    let mut c = led_with_commands();
    let (n3, n4) = (c.join(), c.join());
    let first = c.change(0, add(n3)).expect("first change");
    assert_eq!(c.change(0, add(n4)), Err(ChangeError::ChangeInProgress { index: first }));
    c.deliver_all();
    c.change(0, add(n4)).expect("the first committed");
    assert_eq!(membership(&c, 0), "{n0,n1,n2}+{n3,n4}");
}

#[test]
fn a_new_leader_changes_nothing_before_an_entry_of_its_term_commits() {
    let mut c = led_with_commands();
    c.isolate(0);
    c.campaign(1);
    c.deliver_until(|c| c.node(1).role() == Role::Leader);
    c.drop_where(|m| m.from == n(1));
    assert_eq!(
        c.change(1, remove(0)),
        Err(ChangeError::OwnTermNotCommitted),
        "its no-op is not committed yet"
    );
    c.heartbeat(1);
    c.change(1, remove(0)).expect("its no-op committed");
}

#[test]
fn a_configuration_takes_effect_when_appended_and_is_undone_when_its_entry_is_truncated() {
    let mut c = led_with_commands();
    let n3 = c.join();
    // n0 appends the change and nobody hears of it.
    c.isolate(0);
    c.change(0, add(n3)).expect("appended");
    c.deliver_all();
    assert_eq!(membership(&c, 0), "{n0,n1,n2}+{n3}", "in force, uncommitted");
    c.elect(1);
    c.heal();
    c.heartbeat(1);
    assert_eq!(c.node(0).role(), Role::Follower);
    assert_eq!(c.log_terms(0), c.log_terms(1), "n1's log replaced the change");
    assert_eq!(membership(&c, 0), "{n0,n1,n2}", "and the configuration went with it");
}

#[test]
fn a_configuration_survives_a_restart_from_the_log_from_a_snapshot_and_from_the_wal() {
    let mut c = led_with_commands();
    let n3 = c.join();
    c.change(0, add(n3)).expect("joins");
    c.deliver_all();
    c.heartbeat(0);
    c.change(0, promote(n3)).expect("caught up");
    c.deliver_all();
    c.heartbeat(0);
    c.change(0, remove(2)).expect("the previous change committed");
    c.deliver_all();
    c.heartbeat(0);
    let expected = "{n0,n1,n3}";
    assert_eq!(membership(&c, 1), expected);

    c.crash(1);
    c.restart(1);
    assert_eq!(membership(&c, 1), expected, "from the entries in its log");

    assert!(c.compact(n3));
    assert!(c.node(n3).log().entries().iter().all(|e| !matches!(e.payload, raft_core::Payload::Config(_))));
    c.crash(n3);
    c.restart(n3);
    assert_eq!(membership(&c, n3), expected, "from its snapshot's metadata");

    let recovered = wal::recover(&c.peer(1).disk.wal).expect("a clean log file").state;
    let mut config = c.peer(1).config.clone();
    config.id = NodeId(1);
    let mut node = RaftNode::new(config, 1).expect("valid");
    node.restore(recovered);
    assert_eq!(node.membership().to_string(), expected, "from its WAL");
}

#[test]
fn a_membership_entry_round_trips_through_the_wal() {
    let membership = Membership::voters([n(0), n(5)]).after(add(77)).expect("fits");
    let entry = raft_core::Entry {
        term: Term(3),
        index: LogIndex(9),
        payload: raft_core::Payload::Config(std::sync::Arc::new(membership)),
    };
    let mut bytes = Vec::new();
    wal::encode(
        &raft_core::PersistOp::Entries { from: LogIndex(9), entries: vec![entry.clone()] },
        &mut bytes,
    );
    assert_eq!(bytes.len(), wal::HEADER_BYTES + 13 + wal::entry_bytes(&entry));
    let op = wal::decode(&bytes[wal::HEADER_BYTES..]).expect("decodes");
    assert_eq!(op, raft_core::PersistOp::Entries { from: LogIndex(9), entries: vec![entry] });
}

// ----- A removed server that keeps timing out -----

/// A leader of n0..n2 removes a follower, which never hears of it (the leader stops talking to
/// it the moment the change is appended, and here the last messages are lost too). The removed
/// server keeps timing out, and its requests reach the others. Returns who leads at the start,
/// who at the end, and the leader's term before and after.
fn a_removed_server_times_out_for_a_while(
    configure: impl Fn(&mut raft_core::Config) + 'static,
) -> (u32, Option<u32>, Term, Term) {
    let mut c: Nodes = cluster(3).configure(configure).build();
    c.tick_until(500, |c| c.leader().is_some());
    let leader = c.leader().expect("elected");
    let (other, removed) = ((leader + 1) % 3, (leader + 2) % 3);
    c.heartbeat(leader);
    c.cut_link(leader, removed);
    c.cut_link(other, removed);
    c.change(leader, remove(removed)).expect("removed");
    c.deliver_all();
    c.heartbeat(leader);
    assert_eq!(c.node(leader).membership().voters.len(), 2);
    assert_eq!(membership(&c, removed), "{n0,n1,n2}", "the removed server never learned");
    let term = c.node(leader).term();
    for _ in 0..600 {
        c.tick_all();
    }
    (leader, c.leader(), term, c.node(leader).term())
}

#[test]
fn a_removed_server_cannot_disrupt_the_cluster_with_pre_vote() {
    let (leader, now, before, after) = a_removed_server_times_out_for_a_while(|c| c.pre_vote = true);
    assert_eq!((now, after), (Some(leader), before), "refused pre-votes: nobody's term moved");
}

#[test]
fn a_removed_server_cannot_disrupt_the_cluster_with_the_sticky_leader_rule() {
    let (leader, now, before, after) = a_removed_server_times_out_for_a_while(|c| c.sticky_leader = true);
    assert_eq!((now, after), (Some(leader), before), "its vote requests are disregarded");
}

#[test]
fn without_pre_vote_or_the_sticky_leader_rule_a_removed_server_still_cannot_disrupt_the_cluster() {
    // Its vote requests come from outside the configuration while the others hear a leader:
    // they are disregarded all the same. Before, the removed server deposed the leader again
    // and again (the term climbed by one an election timeout; swarm seed 4678).
    let (leader, now, before, after) = a_removed_server_times_out_for_a_while(|_| {});
    assert_eq!((now, after), (Some(leader), before), "its vote requests are disregarded");
}

/// n2's answers `held`, kept out of the network, are delivered after the leader removed n2,
/// n2 was wiped and the leader added it back: n2 must end with the whole log all the same.
fn wiped_and_added_back_then_an_old_answer_arrives(c: &mut Nodes, held: Vec<raft_core::Message>) {
    c.deliver_all();
    c.change(0, remove(2)).expect("n2 leaves");
    c.deliver_all();
    c.heartbeat(0);
    c.deliver_all();
    c.crash(2);
    c.peers[2].disk.durable = Default::default();
    c.peers[2].config.members = Vec::new();
    c.restart(2);
    assert!(c.log_terms(2).is_empty(), "n2 came back empty");

    c.change(0, add(2)).expect("n2 is added back");
    for m in held {
        c.deliver(m);
    }
    for _ in 0..3 {
        c.deliver_all();
        c.heartbeat(0);
    }
    c.deliver_all();
    assert_eq!(c.log_terms(2), c.log_terms(0), "n2 has the whole log again: {}", c.tail(12));
    assert_eq!(membership(c, 2), membership(c, 0));
}

#[test]
fn a_server_wiped_and_added_back_is_not_credited_with_what_it_acknowledged_before_the_wipe() {
    // Credited to the empty server, the old acknowledgement left the leader probing at the
    // acknowledged entry, which the server rejects, for good (swarm seeds 6704, 9185, 11444,
    // 11617, 16464 and 17054).
    let mut c = led_with_commands();
    c.propose(0, append_cmd(1, 4, "k", "w"));
    c.deliver_where(|m| m.to == n(2));
    let held = c.take_where(|m| m.from == n(2) && m.to == n(0));
    assert!(held.iter().any(|m| m.to_string().contains("append_resp ok")), "n2 acknowledged: {held:?}");
    wiped_and_added_back_then_an_old_answer_arrives(&mut c, held);
}

#[test]
fn a_server_wiped_and_added_back_is_not_credited_with_a_snapshot_it_installed_before_the_wipe() {
    let mut c = led_with_commands();
    c.cut_link(0, 2);
    c.propose(0, append_cmd(1, 4, "k", "w"));
    c.deliver_all();
    c.heartbeat(0);
    c.deliver_all();
    assert!(c.compact(0), "the leader compacts past what n2 holds");
    c.heal();
    // A heartbeat interval, delivering nothing: the leader sends n2 its snapshot.
    for _ in 0..c.peer(0).config.heartbeat_ticks {
        c.tick(0);
    }
    let mut held = Vec::new();
    for _ in 0..100 {
        c.deliver_where(|m| m.to == n(2));
        held.extend(c.take_where(|m| m.from == n(2) && m.to == n(0)));
        if held.iter().any(|m| m.to_string().contains("snapshot_resp done")) {
            break;
        }
        for m in std::mem::take(&mut held) {
            c.deliver(m);
        }
    }
    assert!(
        held.iter().any(|m| m.to_string().contains("snapshot_resp done")),
        "n2 installed: {}",
        c.tail(40)
    );
    wiped_and_added_back_then_an_old_answer_arrives(&mut c, held);
}
