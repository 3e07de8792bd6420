//! Every online invariant fires on a run that really breaks it: a planted bug in the protocol,
//! or a hand-made sequence of events that no correct cluster produces.

use raft_core::{Body, Message, RaftNode};
use raft_host::{DurableState, Entry, LogIndex, NodeId, Payload, PersistOp, Raft, Role, Setup, Snapshot};
use raft_host::{SnapshotMeta, Term};
use raft_kv::{ClientId, Command, KvOp, KvStore};
use simulator::checks::{Invariant, Invariants, Violation};
use simulator::{run, RunOptions, SimConfig, Verdict};

/// Runs seeds with `bug` on until one fails; returns the failing check and its reason.
fn first_catch(bug: &str, seeds: u64) -> Option<(u64, String, String)> {
    (0..seeds).find_map(|seed| {
        let mut config = SimConfig::swarm(seed);
        config.bugs = vec![bug.to_string()];
        let outcome = run(&config, &RunOptions::default());
        (outcome.verdict != Verdict::Pass).then(|| {
            let check = outcome.failure.as_ref().map_or(String::new(), |f| f.check.clone());
            (seed, check, outcome.reason)
        })
    })
}

fn assert_caught_by(bug: &str, expected: Invariant) {
    let (seed, check, reason) =
        first_catch(bug, 300).unwrap_or_else(|| panic!("{bug} never caught in 300 seeds"));
    assert_eq!(check, expected.name(), "seed {seed} caught {bug} with another check: {reason}");
    assert!(reason.starts_with(expected.name()), "the reason names the invariant: {reason}");
}

#[test]
fn two_leaders_in_one_term_break_election_safety() {
    assert_caught_by("leader-ignores-higher-term", Invariant::ElectionSafety);
}

#[test]
fn a_leader_elected_without_a_committed_entry_breaks_leader_completeness() {
    assert_caught_by("vote-without-log-check", Invariant::LeaderCompleteness);
}

#[test]
fn an_acknowledgement_before_the_write_is_durable_breaks_the_commit_rule() {
    assert_caught_by("ack-before-durable", Invariant::CommitWithoutMajority);
}

#[test]
fn a_stale_append_that_cuts_the_log_is_a_truncation_without_conflict() {
    assert_caught_by("truncate-on-stale-append", Invariant::TruncationWithoutConflict);
}

#[test]
fn a_vote_forgotten_in_a_crash_is_a_durable_regression() {
    assert_caught_by("vote-not-persisted", Invariant::DurableRegressed);
}

type KvServer = raft_kv::KvServer<RaftNode>;

fn command(client: u64, seq: u64, value: &str) -> Payload {
    let command =
        Command { client: ClientId(client), seq, op: KvOp::Put { key: "k".into(), value: value.into() } };
    Payload::Data(command.encode())
}

fn entry(term: u64, index: u64, payload: Payload) -> Entry {
    Entry { term: Term(term), index: LogIndex(index), payload }
}

fn write(entries: Vec<Entry>) -> Vec<PersistOp> {
    let from = entries[0].index;
    vec![PersistOp::Entries { from, entries }]
}

#[test]
fn two_different_entries_with_one_index_and_term_break_log_matching() {
    let mut checks = Invariants::new(3, true);
    checks
        .on_ready(0, 1, &write(vec![entry(1, 1, command(1, 1, "a"))]), None, &[], &[])
        .expect("first write is fine");
    checks
        .on_ready(1, 1, &write(vec![entry(1, 1, command(1, 1, "a"))]), None, &[], &[])
        .expect("the same entry is fine");
    let v = checks
        .on_ready(2, 1, &write(vec![entry(1, 1, command(2, 1, "b"))]), None, &[], &[])
        .expect_err("must fire");
    assert_eq!(v.invariant, Invariant::LogMatching);
    assert!(v.reason.contains("different command"), "{}", v.reason);
}

#[test]
fn the_same_entry_after_different_histories_breaks_log_matching() {
    let mut checks = Invariants::new(2, true);
    let shared = || entry(2, 2, command(1, 2, "x"));
    checks
        .on_ready(0, 1, &write(vec![entry(1, 1, command(1, 1, "a")), shared()]), None, &[], &[])
        .expect("fine");
    let v = checks
        .on_ready(1, 1, &write(vec![entry(2, 1, command(1, 1, "a")), shared()]), None, &[], &[])
        .expect_err("entry 2/2 follows a different term at index 1");
    assert_eq!(v.invariant, Invariant::LogMatching);
    assert!(v.reason.contains("different history"), "{}", v.reason);
}

#[test]
fn different_commands_applied_at_one_index_break_state_machine_safety() {
    let mut checks = Invariants::new(2, true);
    checks.on_ready(0, 1, &[], None, &[entry(1, 1, command(1, 1, "a"))], &[]).expect("fine");
    let v = checks.on_ready(1, 1, &[], None, &[entry(1, 1, command(1, 1, "b"))], &[]).expect_err("must fire");
    assert_eq!(v.invariant, Invariant::StateMachineSafety);
}

#[test]
fn applying_past_a_gap_breaks_apply_order() {
    let mut checks = Invariants::new(1, true);
    checks.on_ready(0, 1, &[], None, &[entry(1, 1, Payload::Noop)], &[]).expect("fine");
    let v =
        checks.on_ready(0, 2, &[], None, &[entry(1, 3, Payload::Noop)], &[]).expect_err("index 2 skipped");
    assert_eq!(v.invariant, Invariant::ApplyOrder);
    let v = checks.on_ready(0, 3, &[], None, &[entry(1, 1, Payload::Noop)], &[]).expect_err("index 1 again");
    assert_eq!(v.invariant, Invariant::ApplyOrder);
}

#[test]
fn a_restart_that_lost_durable_entries_or_term_is_a_durable_regression() {
    let mut checks = Invariants::new(1, true);
    let ops = vec![
        PersistOp::HardState { term: Term(3), vote: Some(NodeId(0)) },
        PersistOp::Entries {
            from: LogIndex(1),
            entries: vec![entry(3, 1, Payload::Noop), entry(3, 2, Payload::Noop)],
        },
    ];
    checks.on_ready(0, 1, &ops, None, &[], &[]).expect("fine");
    checks.on_fsync(0, 1);
    let shorter = DurableState {
        term: Term(3),
        vote: Some(NodeId(0)),
        entries: vec![entry(3, 1, Payload::Noop)],
        ..DurableState::default()
    };
    let v = checks.on_restart(0, &shorter, &restored(0, &shorter), false).expect_err("entry 2 was durable");
    assert_eq!(v.invariant, Invariant::DurableRegressed);
    let older = DurableState { term: Term(2), ..DurableState::default() };
    assert!(checks.on_restart(0, &older, &restored(0, &older), false).is_err(), "term 3 was durable");
}

/// How server `id` of a cluster of three is set up.
fn setup(id: u32) -> Setup {
    Setup {
        id: NodeId(id),
        members: vec![NodeId(0), NodeId(1), NodeId(2)],
        election_ticks_min: 30,
        election_ticks_max: 60,
        heartbeat_ticks: 10,
        append_entries_max: 64,
        check_quorum: true,
        pre_vote: true,
        snapshot_chunk_bytes_max: 64 << 10,
        bugs: raft_host::BugSet::none(),
        read_lease: false,
        sticky_leader: false,
        seed: u64::from(id),
        choices: raft_host::Choices::default(),
    }
}

/// Server `id` of a cluster of three, restarted from `state`.
fn restored(id: u32, state: &DurableState) -> KvServer {
    KvServer::boot(&setup(id), state.clone()).expect("valid")
}

fn follower(id: u32) -> KvServer {
    restored(id, &DurableState::default())
}

fn append_from(leader: u32, to: u32, term: u64, entries: Vec<Entry>, leader_commit: u64) -> Message {
    Message {
        from: NodeId(leader),
        to: NodeId(to),
        term: Term(term),
        body: Body::AppendEntries {
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries,
            leader_commit: LogIndex(leader_commit),
            seq: 1,
        },
    }
}

/// Hands a server's outputs to the checks, acknowledging its writes at once.
fn settle(server: &mut KvServer, node: u8, checks: &mut Invariants) -> Result<(), Violation> {
    while server.has_ready() {
        let ready = server.ready();
        let r = &ready.raft;
        let views: Vec<_> = r.messages.iter().map(RaftNode::inspect).collect();
        checks.on_ready(node, r.number, &r.persist, r.snapshot.as_ref(), &r.committed, &views)?;
        if !r.persist.is_empty() {
            checks.on_fsync(node, r.number);
            server.persisted(r.number);
        }
    }
    checks.after_event(node, server).map(|_| ())
}

#[test]
fn a_node_that_rewrites_an_entry_it_committed_breaks_committed_entry_changed() {
    let mut checks = Invariants::new(3, true);
    let mut f = follower(1);
    f.step(append_from(0, 1, 1, vec![entry(1, 1, command(1, 1, "a"))], 1));
    settle(&mut f, 1, &mut checks).expect("committing what the leader sent is fine");
    assert_eq!(f.node().view().commit, LogIndex(1));
    // A leader of a later term overwrites index 1: no correct leader can, since it is committed.
    f.step(append_from(2, 1, 2, vec![entry(2, 1, command(2, 1, "b"))], 0));
    let v = settle(&mut f, 1, &mut checks).expect_err("must fire");
    assert_eq!(v.invariant, Invariant::CommittedEntryChanged, "{v}");
}

#[test]
fn a_new_leader_missing_a_committed_entry_breaks_leader_completeness() {
    let mut checks = Invariants::new(3, true);
    let mut f = follower(1);
    f.step(append_from(0, 1, 1, vec![entry(1, 1, command(1, 1, "a"))], 1));
    settle(&mut f, 1, &mut checks).expect("fine");
    // Node 2 never saw entry 1, yet wins an election of term 2 with the votes it is handed.
    let mut no_pre_vote = setup(2);
    no_pre_vote.pre_vote = false; // so that its timeout makes it a candidate at once
    let seen_term_1 = DurableState { term: Term(1), ..DurableState::default() };
    let mut n2 = KvServer::boot(&no_pre_vote, seen_term_1).expect("valid");
    while n2.node().view().role != Role::Candidate {
        n2.tick();
    }
    settle(&mut n2, 2, &mut checks).expect("campaigning is fine");
    let term = n2.node().view().term;
    for voter in [0, 1] {
        n2.step(Message {
            from: NodeId(voter),
            to: NodeId(2),
            term,
            body: Body::RequestVoteResponse { granted: true },
        });
    }
    assert_eq!(n2.node().view().role, Role::Leader);
    let v = settle(&mut n2, 2, &mut checks).expect_err("must fire");
    assert_eq!(v.invariant, Invariant::LeaderCompleteness, "{v}");
    assert!(v.reason.contains("without entry i1/t1"), "{}", v.reason);
}

// ----- Snapshots -----

#[test]
fn a_follower_that_installs_a_late_snapshot_breaks_apply_order() {
    assert_caught_by("install-stale-snapshot", Invariant::ApplyOrder);
}

#[test]
fn a_follower_that_drops_matching_entries_on_install_is_a_truncation_without_conflict() {
    assert_caught_by("install-discards-log", Invariant::TruncationWithoutConflict);
}

#[test]
fn a_restarted_node_applying_its_snapshot_again_breaks_apply_order() {
    assert_caught_by("restart-applied-zero", Invariant::ApplyOrder);
}

#[test]
fn a_snapshot_without_the_session_table_breaks_snapshot_mismatch() {
    assert_caught_by("snapshot-without-sessions", Invariant::SnapshotMismatch);
}

#[test]
fn a_cut_that_lands_before_its_snapshot_is_a_durable_regression_after_the_crash() {
    assert_caught_by("cut-before-snapshot-durable", Invariant::DurableRegressed);
}

/// A follower that applied one put, `k = "a"`, committed at index 1 of term 1.
fn follower_with_one_put(checks: &mut Invariants) -> KvServer {
    let mut f = follower(1);
    f.step(append_from(0, 1, 1, vec![entry(1, 1, command(1, 1, "a"))], 1));
    settle(&mut f, 1, checks).expect("applying what the leader committed is fine");
    assert_eq!(f.node().view().applied, LogIndex(1));
    f
}

fn snapshot_of(store: &KvStore, index: u64, term: u64) -> Snapshot {
    let meta = SnapshotMeta::new(LogIndex(index), Term(term));
    Snapshot { meta, data: store.encode_snapshot(true).into() }
}

#[test]
fn a_snapshot_that_is_not_the_state_after_its_prefix_breaks_snapshot_mismatch() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let good = snapshot_of(f.store(), 1, 1);
    checks.on_ready(1, 10, &[PersistOp::Snapshot(good)], None, &[], &[]).expect("the follower's own state");

    let empty = snapshot_of(&KvStore::new(), 1, 1);
    let v = checks.on_ready(2, 1, &[PersistOp::Snapshot(empty)], None, &[], &[]).expect_err("must fire");
    assert_eq!(v.invariant, Invariant::SnapshotMismatch, "{v}");
    let ahead = snapshot_of(f.store(), 2, 1);
    let v = checks
        .on_ready(2, 2, &[PersistOp::Snapshot(ahead)], None, &[], &[])
        .expect_err("index 2 is not committed");
    assert_eq!(v.invariant, Invariant::SnapshotMismatch, "{v}");
}

#[test]
fn a_snapshot_ending_at_another_entry_than_the_committed_one_breaks_log_matching() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let other_term = snapshot_of(f.store(), 1, 2);
    let v = checks.on_ready(2, 1, &[PersistOp::Snapshot(other_term)], None, &[], &[]).expect_err("must fire");
    assert_eq!(v.invariant, Invariant::LogMatching, "{v}");
}

#[test]
fn a_snapshot_handed_over_twice_breaks_apply_order() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let snapshot = snapshot_of(f.store(), 1, 1);
    let v = checks.on_ready(1, 10, &[], Some(&snapshot), &[], &[]).expect_err("index 1 is applied already");
    assert_eq!(v.invariant, Invariant::ApplyOrder, "{v}");
    checks.on_ready(2, 1, &[], Some(&snapshot), &[], &[]).expect("n2 moves forward from 0");
    let v = checks.on_ready(2, 2, &[], None, &[entry(1, 1, command(1, 1, "a"))], &[]).expect_err("covered");
    assert_eq!(v.invariant, Invariant::ApplyOrder, "{v}");
}

#[test]
fn a_restart_that_lost_a_durable_snapshot_is_a_durable_regression() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let snapshot = snapshot_of(f.store(), 1, 1);
    checks.on_ready(1, 10, &[PersistOp::Snapshot(snapshot.clone())], None, &[], &[]).expect("fine");
    checks.on_fsync(1, 10);
    checks.on_ready(1, 11, &[PersistOp::CompactLog { through: LogIndex(1) }], None, &[], &[]).expect("fine");
    checks.on_fsync(1, 11);
    checks.on_crash(1, &f);
    let without = DurableState { term: Term(1), ..DurableState::default() };
    let v =
        checks.on_restart(1, &without, &restored(1, &without), false).expect_err("the snapshot was durable");
    assert_eq!(v.invariant, Invariant::DurableRegressed, "{v}");
    let with = DurableState {
        term: Term(1),
        snapshot: Some(snapshot),
        compacted_through: LogIndex(1),
        ..DurableState::default()
    };
    checks.on_restart(1, &with, &restored(1, &with), false).expect("it is all there");
}

#[test]
fn with_compaction_the_checks_forget_what_no_node_can_need_and_stay_small() {
    let mut config = SimConfig::calm(3);
    config.snapshot.every_entries = 20;
    config.workload.ops = 3_000;
    let outcome = run(&config, &RunOptions::default());
    assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.reason);
    let kept = outcome.end.checks_indexes_kept;
    let committed = outcome.end.checks_committed;
    assert!(committed > 3_000, "{committed} committed");
    assert!(kept < 3 * 200, "{kept} per-index facts kept for {committed} indexes");
    assert!(outcome.end.applied_commands >= 3_000, "{} commands applied", outcome.end.applied_commands);
}

#[test]
fn a_restart_may_drop_durable_entries_that_conflict_with_its_snapshot_and_no_others() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let snapshot = snapshot_of(f.store(), 1, 1);
    let restarted_from = |snapshot: &Snapshot| DurableState {
        term: Term(2),
        snapshot: Some(snapshot.clone()),
        compacted_through: LogIndex(1),
        ..DurableState::default()
    };

    // n1 held entries 2 and 3 after the snapshot's last entry, which matches: they must stay.
    let more = write(vec![entry(1, 2, command(1, 2, "b")), entry(1, 3, command(1, 3, "c"))]);
    checks.on_ready(1, 10, &more, None, &[], &[]).expect("fine");
    checks.on_fsync(1, 10);
    checks.on_ready(1, 11, &[PersistOp::Snapshot(snapshot.clone())], None, &[], &[]).expect("fine");
    checks.on_fsync(1, 11);
    checks.on_crash(1, &f);
    let state = restarted_from(&snapshot);
    let v = checks.on_restart(1, &state, &restored(1, &state), false).expect_err("entries 2 and 3 matched");
    assert_eq!(v.invariant, Invariant::DurableRegressed, "{v}");

    // n2 held entries 1 and 2 of term 2, which conflict with the committed 1/t1.
    let nothing = DurableState { term: Term(2), ..DurableState::default() };
    n2_after_a_crash_while_installing(&nothing, true).expect("the install's truncation landed alone");
    n2_after_a_crash_while_installing(&restarted_from(&snapshot), true).expect("the snapshot landed alone");
    let v = n2_after_a_crash_while_installing(&nothing, false).expect_err("no snapshot stands for them");
    assert_eq!(v.invariant, Invariant::DurableRegressed, "{v}");
}

/// n2 made entries 1 and 2 of term 2 durable (conflicting with the committed 1/t1), then, if
/// `installing`, began installing the snapshot through 1/t1 (truncating them), and crashed
/// before that write was durable. Restarts it from `state`.
fn n2_after_a_crash_while_installing(state: &DurableState, installing: bool) -> Result<(), Violation> {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    let snapshot = snapshot_of(f.store(), 1, 1);
    let conflicting = write(vec![entry(2, 1, command(9, 1, "x")), entry(2, 2, command(9, 2, "y"))]);
    checks.on_ready(2, 1, &conflicting, None, &[], &[]).expect("fine");
    checks.on_fsync(2, 1);
    if installing {
        let install =
            [PersistOp::Entries { from: LogIndex(1), entries: vec![] }, PersistOp::Snapshot(snapshot)];
        checks
            .on_ready(2, 2, &install, None, &[], &[])
            .expect("a truncation that conflicts with the snapshot");
    }
    checks.on_crash(2, &restored(2, &DurableState::default()));
    checks.on_restart(2, state, &restored(2, state), false)
}

#[test]
fn a_write_past_every_entry_any_node_wrote_breaks_log_matching() {
    // Every entry a node writes either came from a leader that wrote it first or is a
    // leader's new one at the end of its own log: nothing lands past all of them. An index
    // read from a damaged record can be near 2^64, and must end the run as a violation rather
    // than the checks making room for every index up to it.
    let mut checks = Invariants::new(3, true);
    checks.on_ready(0, 1, &write(vec![entry(1, 1, command(1, 1, "a"))]), None, &[], &[]).expect("fine");
    checks
        .on_ready(0, 2, &write(vec![entry(1, 2, command(1, 2, "b"))]), None, &[], &[])
        .expect("a leader appends right after the last entry written");
    for far in [4, 1 << 50] {
        let v = checks
            .on_ready(1, 1, &write(vec![entry(1, far, command(1, 3, "c"))]), None, &[], &[])
            .expect_err("no node wrote the entry before it");
        assert_eq!(v.invariant, Invariant::LogMatching, "{v}");
        assert!(v.reason.contains("no node ever wrote an entry past i2"), "{v}");
        assert!(checks.indexes_kept() <= 2, "{} indexes kept", checks.indexes_kept());
    }
    checks
        .on_ready(1, 2, &write(vec![entry(1, 1, command(1, 1, "a"))]), None, &[], &[])
        .expect("a follower writes what the leader wrote");
}

#[test]
fn a_restart_holding_entries_no_node_wrote_is_unverified_data() {
    let mut checks = Invariants::new(3, true);
    let f = follower_with_one_put(&mut checks);
    checks.on_crash(1, &f);
    // One entry past the only one written, or a snapshot at an index read from a damaged
    // record: either way the log reaches past everything any node wrote.
    let longer = DurableState {
        term: Term(1),
        entries: vec![entry(1, 1, command(1, 1, "a")), entry(1, 2, command(1, 2, "b"))],
        ..DurableState::default()
    };
    let far = DurableState {
        term: Term(1),
        snapshot: Some(snapshot_of(f.store(), 1 << 50, 1)),
        compacted_through: LogIndex(1 << 50),
        ..DurableState::default()
    };
    for state in [&longer, &far] {
        let v = checks.on_restart(1, state, &restored(1, state), true).expect_err("never written");
        assert_eq!(v.invariant, Invariant::UnverifiedData, "{v}");
        assert!(v.reason.contains("past every entry any node ever wrote (to i1)"), "{v}");
    }
    let same =
        DurableState { term: Term(1), entries: vec![entry(1, 1, command(1, 1, "a"))], ..longer.clone() };
    checks.on_restart(1, &same, &restored(1, &same), false).expect("what it wrote");
}
