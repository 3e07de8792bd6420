//! The planted bugs (`raft_core::Bug`) are real: each story below goes wrong with its bug switched
//! on and right with it off, so a harness that misses one has a blind spot, not a dud bug.
//! Where the wrong step leads to a safety violation in a few more moves, the story plays them and
//! the harness's online checks name it.

mod common;

use common::stories::figure_8;
use common::*;
use raft_core::wal;
use raft_core::{Body, Bug, BugSet, DurableState, LogIndex, Message, PersistOp, Role, Term};
use raft_kv::KvResult;

fn on(bug: Bug) -> BugSet {
    BugSet::none().with(bug)
}

fn off() -> BugSet {
    BugSet::none()
}

// ----- One story per bug; each returns what it observed -----

/// A voter whose log ends at term 2 is asked by a candidate whose log ends at term 1.
fn a_stale_candidate_gets_the_vote(bugs: BugSet) -> bool {
    let mut voter = bare_with(0, 3, bugs, durable(2, None, &[1, 2]));
    voter.step(vote_request(1, 0, 3, 5, 1));
    let sent = drain(&mut voter);
    matches!(sent[..], [ref m] if m.body == Body::RequestVoteResponse { granted: true })
}

/// What a voter's first write and answer look like, and whether, restarted from what it wrote,
/// it grants a second vote in the same term.
fn vote_answer_before_persist_and_second_vote(bugs: BugSet) -> (bool, bool) {
    let mut disk = durable(5, None, &[]);
    let mut voter = bare_with(0, 3, bugs, disk.clone());
    voter.step(vote_request(1, 0, 5, 0, 0));
    let ready = voter.ready();
    let answered_early = ready.messages.iter().any(|m| m.body == Body::RequestVoteResponse { granted: true });
    for op in &ready.persist {
        disk.apply(op).expect("fits");
    }
    // The write landed; the node crashes before it hears `persisted`.
    let mut restarted = bare_with(0, 3, bugs, disk);
    restarted.step(vote_request(2, 0, 5, 0, 0));
    let second = drain(&mut restarted).iter().any(|m| m.body == Body::RequestVoteResponse { granted: true });
    (answered_early, second)
}

/// Whether a follower's acknowledgement rides in the same ready as the write it acknowledges.
fn acknowledges_before_durable(bugs: BugSet) -> bool {
    let mut follower = bare_with(0, 3, bugs, durable(1, None, &[]));
    follower.step(append(1, 0, 1, (0, 0), entries_from(1, &[1]), 0));
    let ready = follower.ready();
    assert!(!ready.persist.is_empty());
    ready.messages.iter().any(|m| matches!(m.body, Body::AppendEntriesResponse(_)))
}

/// n0 leads; n2 is cut off; n1's disk is slow. n0 proposes; n1 crashes before syncing, n0 is
/// lost, and n1 and n2 elect a leader. Returns the harness's violations.
fn an_early_acknowledgement_then_two_crashes(bugs: BugSet) -> (LogIndex, Vec<String>) {
    let mut cluster: Nodes = cluster(3).bugs(bugs).tolerate_violations().build();
    cluster.elect(0);
    cluster.isolate(2);
    cluster.manual_sync(1, true);
    cluster.propose(0, append_cmd(1, 1, "k", "v"));
    cluster.deliver_all();
    let committed = cluster.node(0).commit_index();
    cluster.crash(0);
    cluster.crash(1);
    cluster.restart(1);
    cluster.manual_sync(1, false);
    cluster.heal();
    cluster.elect(1);
    (committed, cluster.violations)
}

/// A follower holding three entries of term 1 receives a late copy of the first one.
fn after_a_stale_append(bugs: BugSet) -> (Vec<u64>, Vec<PersistOp>) {
    let mut follower = bare_with(0, 3, bugs, durable(1, None, &[1, 1, 1]));
    follower.step(append(1, 0, 1, (0, 0), entries_from(1, &[1]), 0));
    let ready = follower.ready();
    (log_terms(&follower), ready.persist)
}

/// Figure 8 up to n1's acknowledgement of the old entry, then n0 is lost and n2 takes over.
fn figure_8_played_out(bugs: BugSet) -> (LogIndex, Vec<String>) {
    let mut cluster = figure_8(bugs);
    let committed = cluster.node(0).commit_index();
    cluster.crash(0);
    cluster.drop_where(|m| m.from == n(0));
    cluster.heal();
    cluster.elect(2);
    cluster.heartbeat(2);
    (committed, cluster.violations)
}

/// A command applied, then retried with the same (client, seq) after its answer went missing.
fn value_after_a_retry(bugs: BugSet) -> String {
    let mut cluster: Servers = cluster(3).bugs(bugs).build();
    cluster.elect(0);
    for _ in 0..2 {
        cluster.request(0, 1, 1, append_op("k", "x"));
        cluster.deliver_all();
    }
    assert_eq!(cluster.replies_to(0, 1).len(), 2);
    cluster.value(0, "k")
}

/// n0 leads term 1; cut off, it misses n1's election in term 2; healed, it hears n1's heartbeat.
fn a_deposed_leader_hears_the_new_term(bugs: BugSet) -> (Role, Term, Vec<String>) {
    let mut cluster: Nodes = cluster(3).bugs(bugs).tolerate_violations().build();
    cluster.elect(0);
    cluster.isolate(0);
    cluster.elect(1);
    cluster.heal();
    cluster.heartbeat(1);
    let node = cluster.node(0);
    (node.role(), node.term(), cluster.violations.clone())
}

/// n0 leads and k = "old" is committed; n0 is cut off, n1 takes over and commits k = "new"; then
/// a client reads k from n0, which has not noticed. Returns the replies right after the request,
/// and how much n0's log grew.
fn a_read_from_a_deposed_leader(bugs: BugSet) -> (Vec<raft_kv::ClientReply>, u64) {
    let mut cluster: Servers = cluster(3).bugs(bugs).build();
    cluster.elect(0);
    cluster.request(0, 1, 1, raft_kv::KvOp::Put { key: "k".into(), value: "old".into() });
    cluster.deliver_all();
    cluster.heartbeat(0);
    cluster.isolate(0);
    cluster.elect(1);
    cluster.request(1, 1, 2, raft_kv::KvOp::Put { key: "k".into(), value: "new".into() });
    cluster.deliver_all();
    assert_eq!(cluster.value(1, "k"), "new");

    let before = cluster.node(0).log().last_index();
    cluster.request(0, 2, 1, get_op("k"));
    (cluster.replies_to(0, 2), cluster.node(0).log().last_index().0 - before.0)
}

/// A follower that committed entry 4 receives a late copy of a snapshot through entry 3.
/// Returns the snapshot it handed its host, if any, and its applied index after.
fn a_late_snapshot_arrives(bugs: BugSet) -> (Option<LogIndex>, LogIndex, Vec<String>) {
    let mut cluster: Nodes = cluster(3).bugs(bugs).tolerate_violations().build();
    cluster.elect(0);
    for seq in 1..=3 {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
    }
    cluster.deliver_all();
    cluster.heartbeat(0);
    let late = install_whole(0, 2, 1, &snapshot(3, 1, &bare_snapshot_data(LogIndex(3))));
    cluster.deliver(late);
    let installed = cluster.peer(2).installed.last().map(|m| m.last_index);
    (installed, cluster.node(2).applied_index(), cluster.violations.clone())
}

/// A follower holding entries 1-6 of term 1 installs a snapshot through 4. Returns its log's
/// terms after, and what it asked to write.
fn install_over_a_longer_matching_log(bugs: BugSet) -> (Vec<u64>, Vec<PersistOp>) {
    let mut follower = bare_with(2, 3, bugs, durable(1, None, &[1, 1, 1, 1, 1, 1]));
    follower.step(install_whole(0, 2, 1, &snapshot(4, 1, b"four")));
    let ready = follower.ready();
    (log_terms(&follower), ready.persist)
}

/// A node restarted from a durable snapshot: whether its first ready hands the snapshot over.
fn a_restart_from_a_snapshot_hands_it_over(bugs: BugSet) -> bool {
    let state = durable_with_snapshot(1, snapshot(3, 1, b"three"), 4, &[1]);
    let mut node = bare_with(0, 3, bugs, state);
    node.ready().snapshot.is_some()
}

/// A KV server applies one append, compacts and restarts from its snapshot: whether it still
/// knows the client's session.
fn a_session_survives_a_restore(bugs: BugSet) -> bool {
    let mut cluster: Servers = cluster(3).bugs(bugs).tolerate_violations().build();
    cluster.elect(0);
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.deliver_all();
    cluster.heartbeat(0);
    cluster.compact(1);
    cluster.crash(1);
    cluster.restart(1);
    cluster.host(1).store().session(raft_kv::ClientId(1)).is_some()
}

/// Three KV servers apply one append, compact, all restart from their snapshots, and the
/// client retries the append.
fn a_retry_after_every_server_restored_a_snapshot(bugs: BugSet) -> String {
    let mut cluster: Servers = cluster(3).bugs(bugs).tolerate_violations().build();
    cluster.elect(0);
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.deliver_all();
    cluster.heartbeat(0);
    for id in 0..3 {
        cluster.compact(id);
        cluster.crash(id);
        cluster.restart(id);
    }
    cluster.elect(1);
    cluster.request(1, 1, 1, append_op("k", "x"));
    cluster.deliver_all();
    cluster.heartbeat(1);
    cluster.value(1, "k")
}

/// A node compacts through entry 2 with its disk: the first ready's writes, split as a host
/// splits them (the snapshot to its own file), land without the snapshot file, as a crash in
/// the middle of that write may leave them. Returns the ops of that ready and what a recovery
/// of the WAL makes of it.
fn a_crash_that_lands_the_log_but_not_the_snapshot(
    bugs: BugSet,
) -> (Vec<PersistOp>, Result<LogIndex, String>) {
    let mut disk = DurableState::default();
    let mut node = bare_with(0, 3, bugs, DurableState::default());
    make_leader(&mut node);
    node.step(accepted(1, 0, 1, 1));
    node.propose(append_cmd(1, 1, "k", "v")).expect("leads");
    node.step(accepted(1, 0, 1, 2));
    let mut wal_bytes = Vec::new();
    let write = |node: &mut raft_core::RaftNode, wal_bytes: &mut Vec<u8>, disk: &mut DurableState| {
        let ready = node.ready();
        for op in &ready.persist {
            disk.apply(op).expect("fits");
            if !matches!(op, PersistOp::Snapshot(_)) {
                wal::encode(op, wal_bytes);
            }
        }
        node.persisted(ready.number);
        ready.persist
    };
    while node.has_ready() {
        write(&mut node, &mut wal_bytes, &mut disk);
    }
    assert!(node.maybe_compact(LogIndex(2), bare_snapshot_data(LogIndex(2))));
    let ops = write(&mut node, &mut wal_bytes, &mut disk);
    // The snapshot file of this write is torn: the recovery starts with no snapshot.
    let recovered = wal::recover(&wal_bytes).map(|r| r.state.last_index()).map_err(|e| e.to_string());
    (ops, recovered)
}

// ----- The tests -----

#[test]
fn with_vote_without_log_check_a_candidate_with_a_stale_log_gets_the_vote() {
    assert!(a_stale_candidate_gets_the_vote(on(Bug::VoteWithoutLogCheck)));
    assert!(!a_stale_candidate_gets_the_vote(off()));
}

#[test]
fn with_vote_not_persisted_the_vote_leaves_before_the_persist_and_a_restart_votes_twice() {
    assert_eq!(vote_answer_before_persist_and_second_vote(on(Bug::VoteNotPersisted)), (true, true));
    assert_eq!(vote_answer_before_persist_and_second_vote(off()), (false, false));
}

#[test]
fn with_ack_before_durable_the_acknowledgement_leaves_before_persisted() {
    assert!(acknowledges_before_durable(on(Bug::AckBeforeDurable)));
    assert!(!acknowledges_before_durable(off()));
}

#[test]
fn with_ack_before_durable_a_committed_entry_is_lost_when_the_acknowledger_crashes() {
    let (committed, violations) = an_early_acknowledgement_then_two_crashes(on(Bug::AckBeforeDurable));
    assert_eq!(committed, LogIndex(2), "n1's acknowledgement made a majority");
    assert_eq!(violations, vec!["i2 committed as t1 by n0 and as t2 by n1".to_string()]);

    let (committed, violations) = an_early_acknowledgement_then_two_crashes(off());
    assert_eq!(committed, LogIndex(1), "n1's acknowledgement waited for its disk");
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn with_truncate_on_stale_append_a_late_append_shortens_the_log() {
    let (terms, persist) = after_a_stale_append(on(Bug::TruncateOnStaleAppend));
    assert_eq!(terms, vec![1]);
    assert_eq!(persist, vec![PersistOp::Entries { from: LogIndex(1), entries: entries_from(1, &[1]) }]);

    let (terms, persist) = after_a_stale_append(off());
    assert_eq!(terms, vec![1, 1, 1]);
    assert!(persist.is_empty());
}

#[test]
fn with_commit_previous_term_an_old_entry_is_committed_by_counting_and_later_overwritten() {
    let (committed, violations) = figure_8_played_out(on(Bug::CommitPreviousTerm));
    assert_eq!(committed, LogIndex(2), "two copies of a term-2 entry were taken as committed");
    assert_eq!(
        violations,
        ["i2 committed as t2 by n0 and as t3 by n2", "i2 committed as t2 by n0 and as t3 by n1"]
    );

    let (committed, violations) = figure_8_played_out(off());
    assert_eq!(committed, LogIndex(0));
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn with_no_deduplication_a_retry_applies_twice() {
    assert_eq!(value_after_a_retry(on(Bug::NoDeduplication)), "xx");
    assert_eq!(value_after_a_retry(off()), "x");
}

#[test]
fn with_leader_ignores_higher_term_a_leader_keeps_leading_after_a_higher_term_message() {
    let (role, term, violations) = a_deposed_leader_hears_the_new_term(on(Bug::LeaderIgnoresHigherTerm));
    assert_eq!((role, term), (Role::Leader, Term(2)), "it took the term and kept the role");
    assert_eq!(violations, vec!["n0 and n1 both lead t2".to_string()]);

    let (role, term, violations) = a_deposed_leader_hears_the_new_term(off());
    assert_eq!((role, term), (Role::Follower, Term(2)));
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn with_stale_leader_read_a_deposed_leader_answers_a_get_from_its_stale_state_without_a_log_entry() {
    let (replies, logged) = a_read_from_a_deposed_leader(on(Bug::StaleLeaderRead));
    assert_eq!(replies.len(), 1, "answered at once");
    assert_eq!(replies[0].result, Ok(KvResult::Value("old".into())), "but k is \"new\" by now");
    assert_eq!(logged, 0);

    let (replies, logged) = a_read_from_a_deposed_leader(off());
    assert!(replies.is_empty(), "the read waits for its entry to commit, which it cannot");
    assert_eq!(logged, 1);
}

/// A leader with six entries and a follower holding only the first two trade AppendEntries and
/// answers for ten round trips. Returns the `prev_log_index` of each AppendEntries the leader
/// sent the follower, and whether the follower caught up.
fn a_lagging_follower_is_probed(bugs: BugSet) -> (Vec<u64>, bool) {
    let mut leader = bare_with(0, 3, bugs, durable(1, None, &[1, 1, 1, 1, 1]));
    make_leader(&mut leader);
    let mut follower = bare_with(1, 3, bugs, durable(1, None, &[1, 1]));
    let mut probes = Vec::new();
    let mut to_follower: Vec<Message> = drain(&mut leader).into_iter().filter(|m| m.to == n(1)).collect();
    for _ in 0..10 {
        let mut answers = Vec::new();
        for m in to_follower.drain(..) {
            if let Body::AppendEntries { prev_log_index, .. } = &m.body {
                probes.push(prev_log_index.0);
            }
            follower.step(m);
            answers.extend(drain(&mut follower));
        }
        for a in answers {
            leader.step(a);
        }
        to_follower = drain(&mut leader).into_iter().filter(|m| m.to == n(1)).collect();
    }
    (probes, follower.log().last_index() == leader.log().last_index())
}

#[test]
fn with_probe_stops_short_a_lagging_follower_is_probed_at_the_same_index_forever() {
    let (probes, caught_up) = a_lagging_follower_is_probed(on(Bug::ProbeStopsShort));
    assert!(!caught_up);
    assert_eq!(&probes[..4], &[5, 3, 3, 3], "one entry short of the follower's end, again and again");

    let (probes, caught_up) = a_lagging_follower_is_probed(off());
    assert!(caught_up);
    assert_eq!(&probes[..2], &[5, 2], "straight to the follower's last entry");
}

#[test]
fn with_install_stale_snapshot_a_late_snapshot_moves_the_applied_index_back() {
    let (installed, applied, violations) = a_late_snapshot_arrives(on(Bug::InstallStaleSnapshot));
    assert_eq!((installed, applied), (Some(LogIndex(3)), LogIndex(3)), "from 4 back to 3");
    assert_eq!(violations, ["n2 handed out a snapshot through i3 after applying i4"]);

    let (installed, applied, violations) = a_late_snapshot_arrives(off());
    assert_eq!((installed, applied), (None, LogIndex(4)));
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn with_install_discards_log_the_matching_entries_after_the_snapshot_are_cut_too() {
    let (terms, persist) = install_over_a_longer_matching_log(on(Bug::InstallDiscardsLog));
    assert!(terms.is_empty(), "entries 5 and 6 went");
    assert!(persist.contains(&PersistOp::Entries { from: LogIndex(4), entries: vec![] }), "{persist:?}");

    let (terms, persist) = install_over_a_longer_matching_log(off());
    assert_eq!(terms, vec![1, 1]);
    assert!(!persist.iter().any(|op| matches!(op, PersistOp::Entries { .. })));
}

#[test]
fn with_restart_applied_zero_a_restarted_node_hands_over_the_snapshot_it_restarted_from() {
    assert!(a_restart_from_a_snapshot_hands_it_over(on(Bug::RestartAppliedZero)));
    assert!(!a_restart_from_a_snapshot_hands_it_over(off()));
}

#[test]
fn with_snapshot_without_sessions_a_retry_after_a_restore_applies_twice() {
    assert!(!a_session_survives_a_restore(on(Bug::SnapshotWithoutSessions)));
    assert!(a_session_survives_a_restore(off()));
    assert_eq!(a_retry_after_every_server_restored_a_snapshot(on(Bug::SnapshotWithoutSessions)), "xx");
    assert_eq!(a_retry_after_every_server_restored_a_snapshot(off()), "x");
}

#[test]
fn with_cut_before_snapshot_durable_a_crash_mid_write_loses_the_cut_entries() {
    let (ops, recovered) = a_crash_that_lands_the_log_but_not_the_snapshot(on(Bug::CutBeforeSnapshotDurable));
    assert!(ops.contains(&PersistOp::CompactLog { through: LogIndex(2) }), "the cut rides with the snapshot");
    let lost = recovered.expect_err("the log starts after entries nothing stands for");
    assert!(lost.contains("cut through i2, past the snapshot"), "{lost}");

    let (ops, recovered) = a_crash_that_lands_the_log_but_not_the_snapshot(off());
    assert!(!ops.iter().any(|op| matches!(op, PersistOp::CompactLog { .. })));
    assert_eq!(recovered, Ok(LogIndex(2)), "entries 1 and 2 are still in the log");
}

/// A leader of three whose heartbeats go out but whose followers' answers never come back
/// ticks through three check-quorum periods. Returns its role at the end and the heartbeats it
/// sent.
fn a_leader_that_hears_nobody(bugs: BugSet) -> (Role, usize) {
    let mut leader = bare_with(0, 3, bugs, durable(1, None, &[1]));
    make_leader(&mut leader);
    let mut sent = 0;
    for _ in 0..3 * 60 {
        leader.tick();
        sent += drain(&mut leader).len();
    }
    (leader.role(), sent)
}

#[test]
fn with_active_on_send_a_leader_that_hears_nobody_never_steps_down() {
    let (role, sent) = a_leader_that_hears_nobody(on(Bug::ActiveOnSend));
    assert_eq!(role, Role::Leader, "its own heartbeats count as answers");
    assert!(sent >= 30, "and it keeps sending them: {sent}");

    let (role, _) = a_leader_that_hears_nobody(off());
    assert_ne!(role, Role::Leader, "check-quorum deposes a leader that hears no majority");
}

/// A voter whose disk lost log entries restarts fenced in term 2, holding only entry 1; a
/// candidate of term 3 whose log ends at 1/1 asks for its vote. Whether it grants it.
fn a_fenced_voter_grants_a_vote(bugs: BugSet) -> bool {
    let mut state = durable(2, None, &[1]);
    state.fence = raft_core::storage::Fence::Through(Term(2));
    let mut voter = bare_with(0, 3, bugs, state);
    voter.step(vote_request(1, 0, 3, 1, 1));
    drain(&mut voter).iter().any(|m| m.body == Body::RequestVoteResponse { granted: true })
}

#[test]
fn with_vote_after_losing_log_a_fenced_voter_votes_on_its_shorter_log() {
    assert!(a_fenced_voter_grants_a_vote(on(Bug::VoteAfterLosingLog)));
    assert!(!a_fenced_voter_grants_a_vote(off()), "recovery rule 1: no vote while fenced");
}

/// A log file whose last entry's term rotted (the record still decodes), salvaged by a host
/// that skips checksums with the bug. The last index it keeps.
fn a_rotted_record_is_used(bugs: BugSet) -> bool {
    let mut bytes = Vec::new();
    for op in [durable_entries(1, 2), durable_entries(3, 4)] {
        wal::encode(&op, &mut bytes);
    }
    let last = bytes.len() - 17;
    bytes[last] ^= 0x10;
    let verify = !bugs.has(Bug::TrustUnverifiedRecord);
    let s = wal::salvage_from(DurableState::default(), 0, &bytes, bytes.len(), verify);
    s.recovery.state.last_index() == LogIndex(4)
}

fn durable_entries(from: u64, to: u64) -> PersistOp {
    let entries = (from..=to)
        .map(|i| raft_core::Entry { term: Term(1), index: LogIndex(i), payload: raft_core::Payload::Noop })
        .collect();
    PersistOp::Entries { from: LogIndex(from), entries }
}

#[test]
fn with_trust_unverified_record_a_host_restarts_on_a_rotted_record() {
    assert!(a_rotted_record_is_used(on(Bug::TrustUnverifiedRecord)));
    assert!(!a_rotted_record_is_used(off()), "the checksum refuses it");
}

/// Whether the story for `bug` shows the wrong behaviour with `bugs` switched on.
fn misbehaves(bug: Bug, bugs: BugSet) -> bool {
    match bug {
        Bug::VoteWithoutLogCheck => a_stale_candidate_gets_the_vote(bugs),
        Bug::VoteNotPersisted => vote_answer_before_persist_and_second_vote(bugs) != (false, false),
        Bug::AckBeforeDurable => acknowledges_before_durable(bugs),
        Bug::TruncateOnStaleAppend => after_a_stale_append(bugs).0 != vec![1, 1, 1],
        Bug::CommitPreviousTerm => !figure_8_played_out(bugs).1.is_empty(),
        Bug::NoDeduplication => value_after_a_retry(bugs) != "x",
        Bug::LeaderIgnoresHigherTerm => a_deposed_leader_hears_the_new_term(bugs).0 == Role::Leader,
        Bug::StaleLeaderRead => a_read_from_a_deposed_leader(bugs).1 == 0,
        Bug::ProbeStopsShort => !a_lagging_follower_is_probed(bugs).1,
        Bug::InstallStaleSnapshot => a_late_snapshot_arrives(bugs).0.is_some(),
        Bug::InstallDiscardsLog => install_over_a_longer_matching_log(bugs).0.is_empty(),
        Bug::RestartAppliedZero => a_restart_from_a_snapshot_hands_it_over(bugs),
        Bug::SnapshotWithoutSessions => !a_session_survives_a_restore(bugs),
        Bug::CutBeforeSnapshotDurable => a_crash_that_lands_the_log_but_not_the_snapshot(bugs).1.is_err(),
        Bug::ActiveOnSend => a_leader_that_hears_nobody(bugs).0 == Role::Leader,
        Bug::TrustUnverifiedRecord => a_rotted_record_is_used(bugs),
        Bug::VoteAfterLosingLog => a_fenced_voter_grants_a_vote(bugs),
    }
}

#[test]
fn every_planted_bug_misbehaves_when_on_and_only_then() {
    for bug in Bug::ALL {
        assert!(misbehaves(bug, on(bug)), "{bug} switched on changed nothing");
        assert!(!misbehaves(bug, off()), "{bug}'s story goes wrong with no bug on");
        // probe-stops-short is a liveness bug: with it, the other stories never reach the point
        // they test (a lagging follower is never repaired), so it is left out of "the others".
        let others: BugSet =
            Bug::ALL.into_iter().filter(|b| *b != bug && *b != Bug::ProbeStopsShort).collect();
        assert!(!misbehaves(bug, others), "{bug}'s story goes wrong because of another bug");
    }
}

#[test]
fn a_durable_state_built_from_a_buggy_voters_writes_lacks_its_vote() {
    // VoteNotPersisted in the same term writes nothing at all: the disk keeps no trace of it.
    let mut disk = durable(5, None, &[]);
    let mut voter = bare_with(0, 3, on(Bug::VoteNotPersisted), disk.clone());
    voter.step(vote_request(1, 0, 5, 0, 0));
    drain_to(&mut voter, &mut disk);
    assert_eq!(voter.vote(), Some(n(1)));
    assert_eq!(disk, DurableState { term: Term(5), vote: None, ..DurableState::default() });
}
