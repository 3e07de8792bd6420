//! Snapshots and log compaction (paper §7, Figure 13; thesis chapter 5), through the public API:
//! the host's snapshot replaces the log prefix it covers, the cut reaches the disk only after
//! the snapshot is durable, a leader sends its snapshot to a follower whose next entry it no
//! longer holds, the follower installs only what moves it forward and keeps the entries that
//! follow a matching one, and a restart starts from the snapshot.

mod common;

use common::*;
use raft_core::wal;
use raft_core::{Body, LogIndex, Membership, PersistOp, Role, SnapshotMeta, SnapshotResponse, Term};
use raft_kv::KvResult;

/// What a node of the 3-voter cluster `n0..n2` records in a snapshot through (`index`, `term`):
/// the configuration in force there too.
fn meta(index: u64, term: u64) -> SnapshotMeta {
    SnapshotMeta { membership: Membership::voters(ids(3)), ..SnapshotMeta::new(LogIndex(index), Term(term)) }
}

fn ops_kinds(ops: &[PersistOp]) -> Vec<String> {
    ops.iter()
        .map(|op| match op {
            PersistOp::HardState { term, .. } => format!("hard {term}"),
            PersistOp::Entries { from, entries } => format!("entries {from}+{}", entries.len()),
            PersistOp::Snapshot(s) => format!("snapshot {}", s.meta),
            PersistOp::CompactLog { through } => format!("cut {through}"),
            PersistOp::Fence(fence) => format!("fence {fence:?}"),
        })
        .collect()
}

/// A three-node cluster led by n0 with `count` commands committed and applied everywhere.
fn led_with_commands(count: u64) -> Nodes {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    for seq in 1..=count {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
    }
    cluster.deliver_all();
    cluster.heartbeat(0);
    cluster
}

// ----- The host's snapshot and the order on disk -----

#[test]
fn a_snapshot_replaces_the_applied_prefix_and_the_log_keeps_answering_for_its_last_entry() {
    let mut cluster = led_with_commands(4);
    assert_eq!(cluster.node(0).applied_index(), LogIndex(5));
    assert!(cluster.compact(0));
    let node = cluster.node(0);
    assert_eq!(node.log().snapshot_meta(), meta(5, 1));
    assert_eq!(node.log().entries().len(), 0);
    assert_eq!(node.log().term_at(LogIndex(5)), Some(Term(1)), "the snapshot stands in for entry 5");
    assert_eq!((node.log().last_index(), node.log().last_term()), (LogIndex(5), Term(1)));
    assert!(!cluster.compact(0), "nothing new to cover");

    cluster.propose(0, append_cmd(1, 9, "k", "w"));
    cluster.deliver_all();
    cluster.heartbeat(0);
    assert_eq!(cluster.node(1).commit_index(), LogIndex(6), "replication goes on from the snapshot");
}

#[test]
fn the_log_is_cut_on_disk_only_in_a_write_after_the_snapshot_is_durable() {
    let mut node = bare(0, 3);
    make_leader(&mut node);
    drain(&mut node);
    node.step(accepted(1, 0, 1, 1));
    node.propose(append_cmd(1, 1, "k", "v")).expect("leads");
    drain(&mut node);
    node.step(accepted(1, 0, 1, 2));
    drain(&mut node);
    assert_eq!(node.applied_index(), LogIndex(2));

    assert!(node.maybe_compact(LogIndex(2), bare_snapshot_data(LogIndex(2))));
    let write = node.ready();
    assert_eq!(ops_kinds(&write.persist), ["snapshot i2/t1"], "the snapshot alone");
    assert!(!node.has_ready(), "the cut waits for the snapshot to be durable");

    node.persisted(write.number);
    let cut = node.ready();
    assert_eq!(ops_kinds(&cut.persist), ["cut i2"]);
}

#[test]
fn a_snapshot_of_more_than_was_applied_is_a_host_bug() {
    let mut node = bare(0, 3);
    make_leader(&mut node);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        node.maybe_compact(LogIndex(1), bare_snapshot_data(LogIndex(1)))
    }));
    assert!(refused.is_err(), "the no-op is not applied yet");
}

#[test]
fn the_writes_of_a_run_with_snapshots_recover_to_the_same_durable_state() {
    let mut cluster: Nodes = cluster(3).snapshot_every(3).build();
    cluster.elect(0);
    for seq in 1..=10 {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
        cluster.deliver_all();
    }
    cluster.heartbeat(0);
    for id in 0..3 {
        let disk = &cluster.peer(id).disk;
        assert!(disk.durable.snapshot_index() >= LogIndex(9), "n{id}: {:?}", disk.durable.snapshot);
        assert_eq!(
            disk.durable.compacted_through,
            disk.durable.snapshot_index(),
            "n{id}: cut after each snapshot"
        );
        let recovered = wal::recover(&disk.wal).expect("a clean file");
        assert_eq!(recovered.state, disk.durable, "n{id}");
        assert!(disk.durable.entries.len() <= 3, "n{id} keeps only what follows its snapshot");
    }
}

// ----- InstallSnapshot -----

/// n2 is cut off while n0 commits `count` commands; n0 and n1 compact; then the link heals.
fn a_follower_left_behind_a_snapshot(count: u64) -> Nodes {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.heartbeat(0);
    cluster.isolate(2);
    for seq in 1..=count {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
    }
    cluster.deliver_all();
    cluster.heartbeat(0);
    assert!(cluster.compact(0));
    assert!(cluster.compact(1));
    cluster.heal();
    cluster
}

#[test]
fn a_follower_whose_next_entry_is_compacted_catches_up_through_install_snapshot() {
    let mut cluster = a_follower_left_behind_a_snapshot(5);
    cluster.clear_transcript();
    cluster.propose(0, append_cmd(1, 6, "k", "v"));
    cluster.deliver_all();
    cluster.heartbeat(0);

    let conversation = cluster.conversation(0, 2);
    assert!(conversation.iter().any(|l| l.starts_with("n0->n2 t1 snapshot i6/t1 at=0")), "{conversation:#?}");
    assert!(conversation.iter().any(|l| l == "n2->n0 t1 snapshot_resp done match=i6"), "{conversation:#?}");
    assert_eq!(cluster.peer(2).installed, vec![meta(6, 1)], "handed to the host once");
    assert_eq!(
        cluster.applied_indexes(2),
        vec![1, 7],
        "the no-op before the cut, then the entry after the snapshot"
    );
    assert_eq!(cluster.node(2).commit_index(), LogIndex(7));
    assert_eq!(cluster.node(2).log().snapshot_meta(), meta(6, 1));
}

#[test]
fn a_large_snapshot_travels_in_chunks_and_a_lost_chunk_is_sent_again() {
    let mut cluster: Nodes = cluster(3).configure(|c| c.snapshot_chunk_bytes_max = 4).build();
    cluster.elect(0);
    cluster.heartbeat(0);
    cluster.isolate(2);
    for seq in 1..=3 {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
    }
    cluster.deliver_all();
    cluster.heartbeat(0);
    assert!(cluster.compact(0));
    cluster.heal();
    let size = cluster.node(0).snapshot().map(|s| s.data.len()).unwrap_or_default();
    assert!(size > 8, "a snapshot of several chunks");

    // The heartbeat starts the transfer; the second chunk is lost on its way.
    cluster.heartbeat(0);
    let lost = cluster.take_where(|m| m.to_string().starts_with("n0->n2 t1 snapshot i4/t1 at=4"));
    assert!(lost.is_empty() || lost.len() == 1);
    cluster.tick_until(200, |c| c.node(2).commit_index() >= LogIndex(4));
    assert_eq!(cluster.peer(2).installed, vec![meta(4, 1)]);
    let chunks = cluster.conversation(0, 2).iter().filter(|l| l.contains(" snapshot i4/t1 at=")).count();
    assert!(chunks >= size.div_ceil(4), "{chunks} chunks for {size} bytes");
}

#[test]
fn chunks_are_taken_in_order_and_another_snapshot_starts_the_assembly_over() {
    let mut follower = bare_with(2, 3, Default::default(), durable(1, None, &[1]));
    let first = snapshot(5, 1, b"0123456789");
    let second = snapshot(6, 1, b"abcdefghij");
    let answers = |node: &mut raft_core::RaftNode, m| {
        node.step(m);
        lines(&drain(node))
    };
    assert_eq!(
        answers(&mut follower, install(0, 2, 1, &first, 0..4)),
        ["n2->n0 t1 snapshot_resp partial i5 got=4"]
    );
    assert_eq!(
        answers(&mut follower, install(0, 2, 1, &first, 8..10)),
        ["n2->n0 t1 snapshot_resp partial i5 got=4"],
        "a gap: send from byte 4"
    );
    assert_eq!(
        answers(&mut follower, install(0, 2, 1, &second, 0..4)),
        ["n2->n0 t1 snapshot_resp partial i6 got=4"],
        "another snapshot starts over"
    );
    assert_eq!(
        answers(&mut follower, install(0, 2, 1, &first, 4..8)),
        ["n2->n0 t1 snapshot_resp partial i5 got=0"],
        "the first one is gone"
    );
    assert_eq!(
        answers(&mut follower, install(0, 2, 1, &second, 4..10)),
        ["n2->n0 t1 snapshot_resp done match=i6"]
    );
    assert_eq!(follower.snapshot().map(|s| s.data.to_vec()), Some(b"abcdefghij".to_vec()));
}

#[test]
fn a_snapshot_at_or_below_the_commit_index_is_refused_and_answered_with_the_commit_index() {
    let mut follower = bare_with(2, 3, Default::default(), durable(1, None, &[1, 1, 1, 1]));
    follower.step(append(0, 2, 1, (4, 1), vec![], 4));
    drain(&mut follower);
    assert_eq!(follower.commit_index(), LogIndex(4));

    follower.step(install_whole(0, 2, 1, &snapshot(3, 1, b"old")));
    let ready = follower.ready();
    assert!(ready.persist.is_empty() && ready.snapshot.is_none(), "nothing installed");
    assert_transcript(&lines(&ready.messages), "n2->n0 t1 snapshot_resp done match=i4");
    assert_eq!(follower.applied_index(), LogIndex(4), "never moves back");
    assert_eq!(follower.log().snapshot_index(), LogIndex(0));
}

#[test]
fn installing_keeps_the_entries_that_follow_a_matching_entry() {
    let mut follower = bare_with(2, 3, Default::default(), durable(1, None, &[1, 1, 1, 1, 1, 1]));
    follower.step(append(0, 2, 1, (6, 1), vec![], 2));
    drain(&mut follower);
    follower.step(install_whole(0, 2, 1, &snapshot(4, 1, b"four")));
    let ready = follower.ready();
    assert_eq!(ops_kinds(&ready.persist), ["snapshot i4/t1"], "nothing conflicts: no truncation");
    let installed = snapshot(4, 1, b"four").meta;
    assert_eq!(ready.snapshot.as_ref().map(|s| s.meta), Some(installed), "handed to the host");
    assert!(ready.committed.is_empty());
    assert_eq!(log_terms(&follower), vec![1, 1], "entries 5 and 6 stay");
    assert_eq!((follower.commit_index(), follower.applied_index()), (LogIndex(4), LogIndex(4)));
    assert!(ready.messages.is_empty(), "the answer waits for the snapshot to be durable");

    follower.persisted(ready.number);
    let next = follower.ready();
    assert_eq!(ops_kinds(&next.persist), ["cut i4"]);
    assert_transcript(&lines(&next.messages), "n2->n0 t1 snapshot_resp done match=i4");
}

#[test]
fn installing_drops_a_log_that_conflicts_with_the_snapshot_and_truncates_it_on_disk() {
    let mut disk = durable(2, None, &[1, 1, 2, 2]);
    let mut follower = bare_with(2, 3, Default::default(), disk.clone());
    follower.step(install_whole(0, 2, 3, &snapshot(3, 3, b"three")));
    let ready = follower.ready();
    assert_eq!(ops_kinds(&ready.persist), ["hard t3", "entries i3+0", "snapshot i3/t3"]);
    for op in &ready.persist {
        disk.apply(op).expect("fits the disk");
    }
    assert_eq!(disk.last_index(), LogIndex(2), "entries 3 and 4 conflicted with the snapshot");
    assert!(log_terms(&follower).is_empty());
    assert_eq!(follower.durable_index(), LogIndex(0), "nothing of the new log is durable yet");
    follower.persisted(ready.number);
    assert_eq!(follower.durable_index(), LogIndex(3));
    for op in &follower.ready().persist {
        disk.apply(op).expect("fits the disk");
    }
    assert_eq!((disk.compacted_through, disk.entries.len()), (LogIndex(3), 0));
}

#[test]
fn entries_that_follow_an_installed_snapshot_wait_for_the_cut_before_they_are_written() {
    let mut follower = bare_with(2, 3, Default::default(), durable(1, None, &[1]));
    follower.step(install_whole(0, 2, 1, &snapshot(5, 1, b"five")));
    follower.step(append(0, 2, 1, (5, 1), entries_from(6, &[1, 1]), 5));
    let first = follower.ready();
    assert_eq!(ops_kinds(&first.persist), ["snapshot i5/t1"], "entries 6-7 would leave a gap on disk");
    assert!(first.messages.is_empty());
    assert!(!follower.has_ready(), "held until the snapshot is durable");

    follower.persisted(first.number);
    let second = follower.ready();
    assert_eq!(ops_kinds(&second.persist), ["cut i5", "entries i6+2"]);
    assert!(second.messages.is_empty(), "the acknowledgements wait for this write too");
    follower.persisted(second.number);
    assert_transcript(
        &lines(&follower.ready().messages),
        "
        n2->n0 t1 snapshot_resp done match=i5
        n2->n0 t1 append_resp ok match=i7
        ",
    );
}

#[test]
fn an_append_reaching_back_into_the_snapshot_is_trimmed_to_what_follows_it() {
    let state = durable_with_snapshot(1, snapshot(5, 1, b"five"), 6, &[]);
    let mut follower = bare_with(2, 3, Default::default(), state);
    follower.step(append(0, 2, 1, (3, 1), entries_from(4, &[1, 1, 1, 1]), 6));
    assert_transcript(&lines(&drain(&mut follower)), "n2->n0 t1 append_resp ok match=i7");
    assert_eq!(log_terms(&follower), vec![1, 1]);
    assert_eq!(follower.commit_index(), LogIndex(6));

    follower.step(append(0, 2, 1, (2, 1), entries_from(3, &[1]), 6));
    assert_transcript(&lines(&drain(&mut follower)), "n2->n0 t1 append_resp ok match=i5");
    assert_eq!(log_terms(&follower), vec![1, 1], "nothing was cut");
}

#[test]
fn an_append_that_disagrees_with_the_snapshot_is_dropped() {
    let state = durable_with_snapshot(2, snapshot(5, 2, b"five"), 6, &[]);
    let mut follower = bare_with(2, 3, Default::default(), state);
    follower.step(append(0, 2, 2, (3, 1), entries_from(4, &[1, 1, 2]), 6));
    assert!(drain(&mut follower).is_empty(), "entry 5 of term 1 contradicts the snapshot's 5/t2");
    assert_eq!(follower.log().last_index(), LogIndex(5));
}

// ----- Restarts -----

#[test]
fn a_restart_between_the_snapshot_and_the_cut_keeps_the_entries_that_follow_it() {
    let state = durable_with_snapshot(1, snapshot(3, 1, b"three"), 1, &[1, 1, 1, 1, 1]);
    let mut node = bare_with(0, 3, Default::default(), state);
    assert_eq!(log_terms(&node), vec![1, 1]);
    assert_eq!((node.commit_index(), node.applied_index()), (LogIndex(3), LogIndex(3)));
    assert_eq!(node.durable_index(), LogIndex(5));
    let first = node.ready();
    assert_eq!(ops_kinds(&first.persist), ["cut i3"], "the cut the crash interrupted");
    assert!(
        first.snapshot.is_none() && first.committed.is_empty(),
        "nothing the snapshot covers is applied again"
    );
}

#[test]
fn a_restart_after_an_interrupted_install_drops_the_conflicting_log() {
    let state = durable_with_snapshot(3, snapshot(3, 3, b"three"), 1, &[1, 1, 2, 2]);
    let mut disk = state.clone();
    let mut node = bare_with(0, 3, Default::default(), state);
    assert!(log_terms(&node).is_empty());
    let first = node.ready();
    assert_eq!(ops_kinds(&first.persist), ["entries i3+0", "cut i3"]);
    for op in &first.persist {
        disk.apply(op).expect("fits");
    }
    assert_eq!((disk.compacted_through, disk.entries.len()), (LogIndex(3), 0));
}

#[test]
fn a_restarted_server_starts_from_its_snapshot_and_never_applies_what_it_covers_again() {
    let mut cluster: Servers = cluster(3).snapshot_every(2).build();
    cluster.elect(0);
    for seq in 1..=5 {
        cluster.request(0, 1, seq, append_op("k", &seq.to_string()));
        cluster.deliver_all();
    }
    cluster.heartbeat(0);
    let snapshot = cluster.peer(1).disk.durable.snapshot_index();
    assert!(snapshot >= LogIndex(4), "n1 compacted: {snapshot}");

    cluster.crash(1);
    cluster.restart(1);
    assert_eq!(
        cluster.value(1, "k"),
        "12345"[..snapshot.0 as usize - 1].to_string(),
        "the store came back from the snapshot"
    );
    cluster.heartbeat(0);
    assert_eq!(cluster.value(1, "k"), "12345");
    let applied = cluster.applied_indexes(1);
    assert!(applied.iter().all(|i| *i > snapshot.0), "re-applied {applied:?}, snapshot {snapshot}");
    assert!(cluster.violations.is_empty());
}

#[test]
fn a_retry_after_a_restore_from_a_snapshot_still_applies_once() {
    let mut cluster: Servers = cluster(3).build();
    cluster.elect(0);
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.deliver_all();
    cluster.heartbeat(0);
    for id in 0..3 {
        assert!(cluster.compact(id));
    }
    for id in 0..3 {
        cluster.crash(id);
        cluster.restart(id);
    }
    cluster.elect(1);
    cluster.request(1, 1, 1, append_op("k", "x"));
    cluster.deliver_all();
    cluster.heartbeat(1);
    assert_eq!(cluster.replies_to(1, 1).last().map(|r| r.result.clone()), Some(Ok(KvResult::Done)));
    for id in 0..3 {
        assert_eq!(cluster.value(id, "k"), "x", "n{id}: the session survived the snapshot");
    }
}

#[test]
fn a_leader_restarted_from_a_snapshot_sends_it_to_a_follower_that_needs_it() {
    let mut cluster = a_follower_left_behind_a_snapshot(4);
    cluster.isolate(2);
    cluster.crash(0);
    cluster.restart(0);
    cluster.heal();
    cluster.elect(0);
    cluster.heartbeat(0);
    cluster.heartbeat(0);
    assert_eq!(cluster.peer(2).installed.len(), 1);
    assert_eq!(cluster.node(2).commit_index(), cluster.node(0).commit_index());
    assert_eq!(cluster.node(0).role(), Role::Leader);
}

#[test]
fn an_install_answer_from_an_older_term_is_only_a_reason_to_step_down() {
    let mut leader = bare(0, 3);
    make_leader(&mut leader);
    drain(&mut leader);
    let answer = raft_core::Message {
        from: n(1),
        to: n(0),
        term: Term(2),
        body: Body::InstallSnapshotResponse {
            seq: ANSWER_SEQ,
            response: SnapshotResponse::Done { match_index: LogIndex(9) },
        },
    };
    leader.step(answer);
    assert_eq!((leader.role(), leader.term()), (Role::Follower, Term(2)));
}
