//! Log replication and commitment (Raft paper §5.3, §5.4.2 and Figure 8; the fast back-off sketched
//! at the end of §5.3), through the public API.

mod common;

use common::stories::figure_8;
use common::*;
use raft_core::{Body, LogIndex, Message, NodeId, Payload, PersistOp, Term};

fn is_append_to(m: &Message, to: u32) -> bool {
    m.to == NodeId(to) && matches!(m.body, Body::AppendEntries { .. })
}

/// Regression: `ready()` panicked here while `RaftLog::slice_from(from, usize::MAX)` computed
/// `start + max` unchecked (log.rs:73) for any write starting past index 1.
#[test]
fn a_node_can_persist_entries_that_follow_ones_it_already_wrote() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1]));
    follower.step(append(1, 0, 1, (1, 1), entries_from(2, &[1]), 0));
    let ready = follower.ready();
    assert_eq!(ready.persist, vec![PersistOp::Entries { from: LogIndex(2), entries: entries_from(2, &[1]) }]);
}

#[test]
fn entries_committed_on_a_majority_are_handed_out_in_index_order_exactly_once() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.propose(0, append_cmd(1, 1, "k", "a"));
    cluster.propose(0, append_cmd(1, 2, "k", "b"));
    cluster.deliver_all();
    for seq in 3..=5 {
        cluster.propose(0, append_cmd(1, seq, "k", "x"));
    }
    cluster.deliver_all();
    cluster.heartbeat(0);
    cluster.heartbeat(0);

    for id in 0..3 {
        assert_eq!(cluster.node(id).commit_index(), LogIndex(6), "n{id}");
        assert_eq!(cluster.applied_indexes(id), vec![1, 2, 3, 4, 5, 6], "n{id}: each once, in order");
        let applied = &cluster.peer(id).applied;
        assert_eq!(applied[0].payload, Payload::Noop);
        assert_eq!(applied[1].payload, command_entry(1, 2, append_cmd(1, 1, "k", "a")).payload);
        assert_eq!(applied[5].payload, command_entry(1, 6, append_cmd(1, 5, "k", "x")).payload);
    }
}

#[test]
fn a_majority_commits_without_the_slowest_follower_and_a_minority_cannot() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.isolate(2);
    let (first, _) = cluster.propose(0, append_cmd(1, 1, "k", "a"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), first, "n0 and n1 are a majority");

    cluster.isolate(1);
    let (second, _) = cluster.propose(0, append_cmd(1, 2, "k", "b"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).log().last_index(), second);
    assert_eq!(cluster.node(0).commit_index(), first, "the leader alone is a minority");
}

#[test]
fn a_conflicting_suffix_is_truncated_from_the_first_conflict() {
    let mut follower = bare_with(0, 3, Default::default(), durable(2, None, &[1, 1, 1]));
    follower.step(append(1, 0, 3, (1, 1), entries_from(2, &[3]), 0));

    let write = follower.ready();
    assert_eq!(
        write.persist,
        vec![
            PersistOp::HardState { term: Term(3), vote: None },
            PersistOp::Entries { from: LogIndex(2), entries: entries_from(2, &[3]) },
        ],
        "one write replaces everything from the conflict on"
    );
    assert_eq!(log_terms(&follower), vec![1, 3]);
    follower.persisted(write.number);
    assert_transcript(&lines(&follower.ready().messages), "n0->n1 t3 append_resp ok match=i2");
}

#[test]
fn entries_that_already_match_are_skipped_and_only_the_conflict_is_rewritten() {
    let mut follower = bare_with(0, 3, Default::default(), durable(2, None, &[1, 1, 2, 2]));
    follower.step(append(1, 0, 3, (0, 0), entries_from(1, &[1, 1, 3]), 0));
    let write = follower.ready();
    assert_eq!(
        write.persist,
        vec![
            PersistOp::HardState { term: Term(3), vote: None },
            PersistOp::Entries { from: LogIndex(3), entries: entries_from(3, &[3]) },
        ]
    );
    assert_eq!(log_terms(&follower), vec![1, 1, 3]);
}

#[test]
fn a_stale_append_whose_entries_all_match_does_not_shorten_the_log() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1, 1, 1]));
    follower.step(append(1, 0, 1, (0, 0), entries_from(1, &[1]), 0));
    let ready = follower.ready();
    assert!(ready.persist.is_empty(), "nothing to write: {:?}", ready.persist);
    assert_eq!(log_terms(&follower), vec![1, 1, 1]);
    assert_transcript(&lines(&ready.messages), "n0->n1 t1 append_resp ok match=i1");
}

#[test]
fn a_delayed_copy_of_an_old_append_neither_truncates_the_log_nor_rewinds_the_leader() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.propose(0, append_cmd(1, 1, "k", "a"));
    let late = cluster.take_where(|m| is_append_to(m, 1)).remove(0);
    cluster.inject(late.clone());
    cluster.deliver_all();
    cluster.propose(0, append_cmd(1, 2, "k", "b"));
    cluster.propose(0, append_cmd(1, 3, "k", "c"));
    cluster.deliver_all();
    assert_eq!(cluster.log_terms(1), vec![1, 1, 1, 1]);
    let writes_before = cluster.peer(1).written.len();
    cluster.clear_transcript();

    cluster.inject(late);
    cluster.deliver_all();
    assert_transcript(
        &cluster.transcript,
        "
        n0->n1 t1 append prev=i1/t1 n=1 commit=i1
        n1->n0 t1 append_resp ok match=i2
        ",
    );
    assert_eq!(cluster.log_terms(1), vec![1, 1, 1, 1], "the entries after the stale message survive");
    assert_eq!(cluster.peer(1).written.len(), writes_before, "and no write was asked for");

    let (next, _) = cluster.propose(0, append_cmd(1, 4, "k", "d"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), next, "the leader's view of n1 did not go back");
}

#[test]
fn a_follower_never_commits_past_the_last_entry_the_message_proved_matches() {
    // n0 holds entries 2 and 3 from an old leader; the new leader of term 2 has committed 3
    // entries of its own, but this heartbeat only proves entry 1 matches.
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1, 1, 1]));
    follower.step(append(1, 0, 2, (1, 1), vec![], 3));
    assert_eq!(follower.commit_index(), LogIndex(1));

    follower.step(append(1, 0, 2, (1, 1), entries_from(2, &[2]), 3));
    assert_eq!(log_terms(&follower), vec![1, 2]);
    assert_eq!(follower.commit_index(), LogIndex(2), "entry 2 is proved; nothing exists past it");

    drain(&mut follower);
    follower.step(append(1, 0, 2, (2, 2), entries_from(3, &[2]), 3));
    assert_eq!(follower.commit_index(), LogIndex(3));
}

#[test]
fn a_follower_whose_log_lacks_the_previous_entry_rejects_and_says_where_its_log_ends() {
    let mut follower = bare_with(0, 3, Default::default(), durable(1, None, &[1]));
    follower.step(append(1, 0, 1, (4, 1), entries_from(5, &[1]), 4));
    assert_eq!(log_terms(&follower), vec![1], "nothing appended");
    assert_eq!(follower.commit_index(), LogIndex(0), "nothing proved, nothing committed");
    assert_transcript(&lines(&drain(&mut follower)), "n0->n1 t1 append_resp reject prev=i4 conflict=0/i2");
}

/// A cluster where n0 (log `leader`) will lead and n1 holds `follower`; n2 copies n0. All
/// restored in term 6, so n0's election is term 7.
fn repair(leader: &[u64], follower: &[u64]) -> Nodes {
    repair_backing_off(raft_host::Backoff::default(), leader, follower)
}

/// `repair` with every node backing off by `backoff` after a rejection.
fn repair_backing_off(backoff: raft_host::Backoff, leader: &[u64], follower: &[u64]) -> Nodes {
    let mut cluster: Nodes = cluster(3)
        .configure(move |c| c.choices.backoff = backoff)
        .disk(0, durable(6, None, leader))
        .disk(1, durable(6, None, follower))
        .disk(2, durable(6, None, leader))
        .build();
    cluster.elect(0);
    assert_eq!(cluster.log_terms(1), cluster.log_terms(0), "the follower was repaired");
    cluster
}

#[test]
fn one_at_a_time_back_off_steps_over_a_conflicting_tail_but_jumps_to_the_end_of_a_short_log() {
    // A conflicting tail of ten entries: one rejection per entry, so the follower sees short
    // appends over its stale tail (the choice exists to test followers so).
    let conflicting = repair_backing_off(
        raft_host::Backoff::OneAtATime,
        &terms(&[(1, 1), (4, 11)]),
        &terms(&[(1, 1), (2, 10)]),
    );
    let log = conflicting.conversation(0, 1).join("\n");
    assert_eq!(rejections(&conflicting, 1), 11, "{log}");
    assert!(log.contains("append prev=i10/t4") && log.contains("append prev=i2/t4"), "{log}");
    // A log forty entries shorter than the leader's (a wiped or long-down follower): one
    // rejection, then straight to its end, not forty round trips.
    let short = repair_backing_off(
        raft_host::Backoff::OneAtATime,
        &terms(&[(1, 1), (4, 45)]),
        &terms(&[(1, 1), (4, 5)]),
    );
    let log = short.conversation(0, 1).join("\n");
    assert_eq!(rejections(&short, 1), 1, "{log}");
    assert!(log.contains("append prev=i6/t4"), "{log}");
}

fn terms(runs: &[(u64, usize)]) -> Vec<u64> {
    runs.iter().flat_map(|(term, count)| vec![*term; *count]).collect()
}

fn rejections(cluster: &Nodes, from: u32) -> usize {
    cluster.conversation(0, from).iter().filter(|l| l.contains("reject")).count()
}

#[test]
fn fast_back_off_repairs_a_long_conflicting_suffix_in_one_round_trip_per_conflicting_term() {
    // Twenty conflicting entries in two terms the leader never saw, and a log shorter than the
    // leader's: three rejections, where a one-entry-at-a-time search would need about twenty-five.
    let leader = terms(&[(1, 1), (4, 24)]);
    let follower = terms(&[(1, 1), (2, 10), (3, 10)]);
    let cluster = repair(&leader, &follower);
    assert_transcript(
        &cluster.conversation(0, 1),
        "
        n0->n1 t7 vote last=i25/t4
        n1->n0 t7 vote_resp granted=true
        n0->n1 t7 append prev=i25/t4 n=1 commit=i0
        n1->n0 t7 append_resp reject prev=i25 conflict=0/i22
        n0->n1 t7 append prev=i21/t4 n=5 commit=i0
        n1->n0 t7 append_resp reject prev=i21 conflict=3/i12
        n0->n1 t7 append prev=i11/t4 n=15 commit=i26
        n1->n0 t7 append_resp reject prev=i11 conflict=2/i2
        n0->n1 t7 append prev=i1/t1 n=25 commit=i26
        n1->n0 t7 append_resp ok match=i26
        ",
    );
    assert_eq!(rejections(&cluster, 1), 3);
}

#[test]
fn fast_back_off_skips_to_the_leaders_last_entry_of_a_term_they_share() {
    let leader = terms(&[(1, 1), (2, 3), (4, 10)]);
    let follower = terms(&[(1, 1), (2, 8), (3, 11)]);
    let cluster = repair(&leader, &follower);
    assert_eq!(
        rejections(&cluster, 1),
        2,
        "one per conflicting term:\n{}",
        cluster.conversation(0, 1).join("\n")
    );
    assert!(
        cluster.conversation(0, 1).iter().any(|l| l.contains("append prev=i4/t2 n=11")),
        "the second probe jumped to the leader's last term-2 entry"
    );
}

#[test]
fn repair_takes_round_trips_proportional_to_conflicting_terms_not_entries() {
    // The same shape at two sizes: three conflicting terms of `k` entries each, behind a leader
    // whose log is longer. Ten times the entries, the same four rejections (one per term, and
    // one for the follower's log being short).
    let shape =
        |k: usize| repair(&terms(&[(1, 1), (5, 3 * k + 2)]), &terms(&[(1, 1), (2, k), (3, k), (4, k)]));
    let small = shape(2);
    let large = shape(20);
    assert_eq!(rejections(&small, 1), 4, "{}", small.conversation(0, 1).join("\n"));
    assert_eq!(rejections(&large, 1), 4, "{}", large.conversation(0, 1).join("\n"));
}

#[test]
fn an_entry_of_a_previous_term_is_not_committed_by_counting_replicas() {
    let mut cluster = figure_8(Default::default());
    assert_eq!(cluster.node(0).commit_index(), LogIndex(0), "two copies of a term-2 entry commit nothing");

    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), LogIndex(3), "the term-4 no-op commits, and entry 2 with it");
    assert_eq!(cluster.applied_indexes(0), vec![1, 2, 3]);
}

#[test]
fn an_uncommitted_entry_of_a_previous_term_may_still_be_overwritten_safely() {
    let mut cluster = figure_8(Default::default());
    cluster.crash(0);
    cluster.drop_where(|m| m.from == NodeId(0));
    cluster.heal();
    cluster.elect(2);
    cluster.heartbeat(2);
    assert_eq!(cluster.log_terms(1), vec![1, 3, 5], "n2 replaced the term-2 entry");
    assert_eq!(cluster.applied_indexes(1), vec![1, 2, 3]);
    assert!(cluster.violations.is_empty(), "nobody had committed it: {:?}", cluster.violations);
}

#[test]
fn a_new_leaders_first_entry_is_a_no_op_of_its_term() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.propose(0, append_cmd(1, 1, "k", "a"));
    cluster.deliver_all();
    let first = cluster.node(0).log().get(LogIndex(1)).cloned().expect("an entry");
    assert_eq!((first.term, first.payload), (Term(1), Payload::Noop));

    cluster.isolate(0);
    cluster.elect(1);
    let log = cluster.node(1).log();
    assert_eq!(log.last_index(), LogIndex(3));
    let last = log.get(LogIndex(3)).cloned().expect("an entry");
    assert_eq!((last.term, last.payload), (Term(2), Payload::Noop), "appended as it took office");
}

/// The AppendEntries a bare leader sent `to`, with the number each carries.
fn appends_to(sent: &[Message], to: u32) -> Vec<(u64, String)> {
    sent.iter()
        .filter(|m| is_append_to(m, to))
        .map(|m| match m.body {
            Body::AppendEntries { seq, .. } => (seq, m.to_string()),
            _ => unreachable!("filtered to appends"),
        })
        .collect()
}

/// n1's answer to the request numbered `seq`: its log is missing entry `prev`, ending at
/// `last`, and its disk lost entries it may have acknowledged.
fn lost_report(seq: u64, prev: u64, last: u64) -> Message {
    let response = raft_core::AppendResponse::Rejected {
        rejected_prev_index: LogIndex(prev),
        conflict_term: None,
        conflict_index: LogIndex(last + 1),
        lost: true,
    };
    Message {
        from: NodeId(1),
        to: NodeId(0),
        term: Term(1),
        body: Body::AppendEntriesResponse { seq, response },
    }
}

/// n1's acknowledgement of the request numbered `seq`, through `match_index`.
fn ack(seq: u64, match_index: u64) -> Message {
    let response = raft_core::AppendResponse::Accepted { match_index: LogIndex(match_index) };
    Message {
        from: NodeId(1),
        to: NodeId(0),
        term: Term(1),
        body: Body::AppendEntriesResponse { seq, response },
    }
}

/// A bare leader of n0..n2 (n2 silent) whose no-op n1 acknowledged, and which has since sent
/// n1 two commands, one AppendEntries each; returns it and the numbers of those two requests.
fn leader_with_two_appends_to_n1() -> (raft_core::RaftNode, [u64; 2]) {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    let noop = appends_to(&drain(&mut leader), 1);
    assert_eq!(noop.len(), 1, "{noop:?}");
    leader.step(ack(noop[0].0, 1));
    drain(&mut leader);
    assert_eq!(leader.commit_index(), LogIndex(1));
    let mut sent = Vec::new();
    for seq in 1..=2 {
        leader.propose(append_cmd(1, seq, "k", "v")).expect("the leader takes commands");
        sent.extend(drain(&mut leader));
    }
    let appends = appends_to(&sent, 1);
    assert_eq!(appends.len(), 2, "{appends:?}");
    (leader, [appends[0].0, appends[1].0])
}

fn heartbeat_bare(leader: &mut raft_core::RaftNode) -> Vec<Message> {
    for _ in 0..leader.config().heartbeat_ticks {
        leader.tick();
    }
    drain(leader)
}

#[test]
fn a_report_of_lost_entries_older_than_an_acknowledgement_the_leader_took_is_ignored() {
    // n1's disk lost entry 2 and it said so, answering the third append; it then took the
    // entries again from a heartbeat and acknowledged them. The network delivered the
    // acknowledgement first. The late report must not bring n1's match down again: that sent
    // a repaired follower its entries over and over, one stale report after another, until
    // the liveness bound ran out (a swarm run of seed 16464 while this was being fixed).
    let (mut leader, [_, third]) = leader_with_two_appends_to_n1();
    let resent = appends_to(&heartbeat_bare(&mut leader), 1);
    assert_eq!(resent.len(), 1, "{resent:?}");
    let (repair, line) = &resent[0];
    assert!(line.contains("prev=i1/t1 n=2"), "{line}");
    leader.step(ack(*repair, 3));
    drain(&mut leader);

    leader.step(lost_report(third, 2, 1));
    let after = drain(&mut leader);
    assert!(appends_to(&after, 1).is_empty(), "the stale report was taken: {after:?}");
    let next = appends_to(&heartbeat_bare(&mut leader), 1);
    assert!(next.iter().all(|(_, l)| l.contains("prev=i3/t1 n=0")), "n1 still counts to hold 3: {next:?}");

    // A report that answers the newest request still brings the match down.
    let (probe, _) = next[0];
    leader.step(lost_report(probe, 3, 1));
    let again = appends_to(&drain(&mut leader), 1);
    assert!(again.iter().any(|(_, l)| l.contains("prev=i1/t1 n=2")), "{again:?}");
}

#[test]
fn an_acknowledgement_older_than_a_report_of_lost_entries_counts_for_nothing() {
    // n1 acknowledged all three appends, but only the first answer arrived before it crashed
    // and its disk lost entries 2 and 3. It reports the loss answering a heartbeat; then the
    // other two acknowledgements arrive. Taken, they would count n1 to hold entries 2 and 3
    // and commit them with the leader's copy alone.
    let (mut leader, [second, third]) = leader_with_two_appends_to_n1();
    let resent = appends_to(&heartbeat_bare(&mut leader), 1);
    let (probe, _) = resent[0];
    leader.step(lost_report(probe, 1, 0));
    drain(&mut leader);

    leader.step(ack(second, 2));
    leader.step(ack(third, 3));
    drain(&mut leader);
    assert_eq!(leader.commit_index(), LogIndex(1), "entries 2 and 3 are on the leader's disk alone");
}
