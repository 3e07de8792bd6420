//! Persistence: what a node writes is what it comes back with (term, vote, log), a restarted node
//! keeps its promises, and the WAL codec turns the writes of a whole run back into the same
//! durable state.

mod common;

use common::*;
use raft_core::wal::{self, Recovery};
use raft_core::{DurableState, LogIndex, NodeId, PersistOp, Role, Term};

/// What a node holds in memory that must survive a crash.
fn hard_state_and_log(cluster: &Nodes, id: u32) -> DurableState {
    let node = cluster.node(id);
    DurableState {
        term: node.term(),
        vote: node.vote(),
        entries: node.log().entries().to_vec(),
        ..DurableState::default()
    }
}

#[test]
fn a_restarted_node_keeps_its_term_vote_and_log() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    for seq in 1..=3 {
        cluster.propose(0, append_cmd(1, seq, "k", "v"));
    }
    cluster.deliver_all();
    let before = hard_state_and_log(&cluster, 1);
    assert_eq!((before.term, before.vote, before.entries.len()), (Term(1), Some(NodeId(0)), 4));
    assert_eq!(cluster.peer(1).disk.durable, before, "the persist ops built exactly this");

    cluster.crash(1);
    cluster.restart(1);
    assert_eq!(hard_state_and_log(&cluster, 1), before);
    assert_eq!(cluster.node(1).role(), Role::Follower);
    assert_eq!(cluster.node(1).durable_index(), LogIndex(4), "all of it came from disk");
}

#[test]
fn a_restarted_node_does_not_vote_twice_in_the_same_term() {
    let mut disk = DurableState::default();
    let mut voter = bare(0, 3);
    voter.step(vote_request(1, 0, 1, 0, 0));
    assert_transcript(&lines(&drain_to(&mut voter, &mut disk)), "n0->n1 t1 vote_resp granted=true");
    assert_eq!((disk.term, disk.vote), (Term(1), Some(NodeId(1))));

    let mut restarted = bare_with(0, 3, Default::default(), disk.clone());
    restarted.step(vote_request(2, 0, 1, 0, 0));
    assert_transcript(&lines(&drain_to(&mut restarted, &mut disk)), "n0->n2 t1 vote_resp granted=false");
    restarted.step(vote_request(1, 0, 1, 0, 0));
    assert_transcript(
        &lines(&drain_to(&mut restarted, &mut disk)),
        "n0->n1 t1 vote_resp granted=true",
        // the same vote again is harmless: the candidate may have missed the first answer
    );
}

#[test]
fn a_restarted_leader_returns_as_a_follower_and_relearns_what_was_committed() {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.propose(0, append_cmd(1, 1, "k", "v"));
    cluster.deliver_all();
    assert_eq!(cluster.node(0).commit_index(), LogIndex(2));

    cluster.crash(0);
    cluster.restart(0);
    assert_eq!(cluster.node(0).role(), Role::Follower);
    assert_eq!(cluster.node(0).term(), Term(1));
    assert_eq!(cluster.node(0).commit_index(), LogIndex(0), "the commit index is not persisted");
    assert!(cluster.applied_indexes(0).is_empty());

    cluster.elect(1);
    cluster.heartbeat(1);
    assert_eq!(cluster.node(0).commit_index(), LogIndex(3));
    assert_eq!(cluster.applied_indexes(0), vec![1, 2, 3], "handed out again, once, in order");
}

/// n0 leads term 1 and commits one command; cut off, it takes two more that never commit; n1
/// leads term 2 and commits one of its own; healed, n0 must replace its two entries.
fn story_with_a_truncation() -> Nodes {
    let mut cluster = Nodes::new(3);
    cluster.elect(0);
    cluster.propose(0, append_cmd(1, 1, "k", "a"));
    cluster.deliver_all();
    cluster.isolate(0);
    cluster.propose(0, append_cmd(1, 2, "k", "lost"));
    cluster.propose(0, append_cmd(1, 3, "k", "lost"));
    cluster.deliver_all();
    cluster.elect(1);
    cluster.propose(1, append_cmd(2, 1, "k", "b"));
    cluster.deliver_all();
    cluster.heal();
    cluster.tick_until(200, |c| c.log_terms(0) == c.log_terms(1) && c.node(0).commit_index() == LogIndex(4));
    assert_eq!(cluster.log_terms(0), vec![1, 1, 2, 2]);
    cluster
}

#[test]
fn the_wal_of_a_run_with_a_truncation_recovers_to_the_same_durable_state() {
    let cluster = story_with_a_truncation();
    let truncation =
        PersistOp::Entries { from: LogIndex(3), entries: cluster.node(1).log().entries()[2..].to_vec() };
    assert!(cluster.peer(0).disk.history.contains(&truncation), "n0 rewrote its log from index 3");

    for id in 0..3 {
        let disk = &cluster.peer(id).disk;
        let Recovery { state, records, torn_bytes, .. } = wal::recover(&disk.wal).expect("a clean file");
        assert_eq!(state, disk.durable, "n{id}");
        assert_eq!(state, hard_state_and_log(&cluster, id), "n{id}: and what the node holds");
        assert_eq!((records, torn_bytes), (disk.history.len(), 0));
    }
}

#[test]
fn every_persist_op_of_a_run_decodes_to_itself() {
    let cluster = story_with_a_truncation();
    for id in 0..3 {
        for op in &cluster.peer(id).disk.history {
            let mut bytes = Vec::new();
            wal::encode(op, &mut bytes);
            assert_eq!(wal::decode(&bytes[8..]).as_ref(), Ok(op));
        }
    }
}

#[test]
fn a_torn_last_record_recovers_the_state_written_before_it() {
    let cluster = story_with_a_truncation();
    let disk = &cluster.peer(0).disk;
    let (last, earlier) = disk.history.split_last().expect("writes");
    let mut before = DurableState::default();
    for op in earlier {
        before.apply(op).expect("fits");
    }
    let mut last_bytes = Vec::new();
    wal::encode(last, &mut last_bytes);
    let intact = disk.wal.len() - last_bytes.len();
    for cut in [intact + 1, intact + 8, disk.wal.len() - 1] {
        let recovery = wal::recover(&disk.wal[..cut]).expect("a torn tail is not corruption");
        assert_eq!(recovery.state, before, "cut at {cut}");
        assert_eq!(recovery.valid_bytes, intact);
    }
}

// ----- A lossy run -----

/// SplitMix64: the test's own dice, so the run depends on nothing but its seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Five nodes, each with a disk that syncs when it pleases, over a network that loses, duplicates
/// and reorders; nodes crash and restart, partitions come and go; a client proposes to whoever
/// leads. Then everything heals and the cluster must commit a last command everywhere.
fn lossy_run(seed: u64, snapshot_every: Option<u64>) -> Nodes {
    let size = 5;
    let mut builder = cluster(size).seed(seed).configure(|c| c.snapshot_chunk_bytes_max = 8);
    if let Some(every) = snapshot_every {
        builder = builder.snapshot_every(every);
    }
    let mut cluster: Nodes = builder.build();
    let mut dice = Dice(seed);
    for id in 0..size as u32 {
        cluster.manual_sync(id, true);
    }
    let mut seq = 0;
    for _ in 0..3_000 {
        let id = dice.below(size as u64) as u32;
        if dice.one_in(300) && cluster.is_up(id) {
            cluster.crash(id);
        } else if dice.one_in(40) && !cluster.is_up(id) {
            cluster.restart(id);
            cluster.manual_sync(id, true);
        }
        if dice.one_in(400) {
            let cut = dice.below(size as u64) as u32;
            cluster.isolate(cut);
        } else if dice.one_in(150) {
            cluster.heal();
        }
        if let Some(leader) = cluster.leader() {
            if dice.one_in(4) {
                seq += 1;
                cluster.propose(leader, append_cmd(1, seq, "k", "x"));
            }
        }
        for id in 0..size as u32 {
            if cluster.is_up(id) {
                cluster.tick(id);
                if dice.one_in(2) {
                    cluster.sync(id);
                }
            }
        }
        let mut in_flight = cluster.take_where(|_| true);
        while !in_flight.is_empty() {
            let m = in_flight.swap_remove(dice.below(in_flight.len() as u64) as usize);
            match dice.below(20) {
                0 | 1 => {}
                2 => {
                    cluster.deliver(m.clone());
                    cluster.inject(m);
                }
                _ => cluster.deliver(m),
            }
        }
    }

    cluster.heal();
    for id in 0..size as u32 {
        if !cluster.is_up(id) {
            cluster.restart(id);
        }
        cluster.manual_sync(id, false);
        cluster.sync(id);
    }
    // The liveness phase: like a client, propose to the leader and retry until it commits.
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 20, "seed {seed}: the healed cluster never committed a command");
        cluster.tick_until(2_000, |c| c.leader().is_some());
        let leader = cluster.leader().expect("a leader");
        let (index, term) = cluster.propose(leader, append_cmd(2, 1, "k", "end"));
        let committed = |c: &Nodes| {
            (0..size as u32).all(|id| {
                let node = c.node(id);
                node.commit_index() >= index && node.log().get(index).is_some_and(|e| e.term == term)
            })
        };
        for _ in 0..200 {
            if committed(&cluster) {
                return cluster;
            }
            cluster.tick_all();
        }
    }
}

/// The seeds to run: `LOSSY_SEEDS=100-999 cargo test -p raft-core --test persistence` sweeps more.
fn lossy_seeds() -> std::ops::RangeInclusive<u64> {
    let spec = std::env::var("LOSSY_SEEDS").unwrap_or_else(|_| "1-24".into());
    let (first, last) = spec.split_once('-').unwrap_or((&spec, &spec));
    first.parse().expect("LOSSY_SEEDS=first-last")..=last.parse().expect("LOSSY_SEEDS=first-last")
}

#[test]
fn lossy_runs_with_crashes_keep_every_safety_check_and_recover_from_their_wals() {
    for seed in lossy_seeds() {
        eprintln!("replay: LOSSY_SEEDS={seed} cargo test -p raft-core --test persistence lossy");
        let cluster = lossy_run(seed, None);
        assert!(cluster.violations.is_empty());
        let commit = cluster.node(0).commit_index();
        assert!(commit.0 > 100, "seed {seed}: the run made progress, {commit}");
        for id in 0..5 {
            let applied = cluster.applied_indexes(id);
            assert_eq!(applied.last(), Some(&cluster.node(id).commit_index().0), "seed {seed}: n{id}");
        }
        for id in 0..5 {
            let disk = &cluster.peer(id).disk;
            let recovery = wal::recover(&disk.wal).expect("a clean file");
            assert_eq!(recovery.state, disk.durable, "seed {seed}, n{id}");
            assert_eq!(recovery.records, disk.history.len());
        }
    }
}

#[test]
fn lossy_runs_that_compact_their_logs_keep_every_safety_check_and_install_snapshots() {
    let mut installs = 0;
    for seed in lossy_seeds() {
        eprintln!("replay: LOSSY_SEEDS={seed} cargo test -p raft-core --test persistence compact");
        let cluster = lossy_run(seed, Some(7));
        assert!(cluster.violations.is_empty());
        let commit = cluster.node(0).commit_index();
        assert!(commit.0 > 100, "seed {seed}: the run made progress, {commit}");
        for id in 0..5 {
            let node = cluster.node(id);
            assert!(
                node.log().entries().len() < 40,
                "seed {seed}: n{id} kept {} entries",
                node.log().entries().len()
            );
            assert_eq!(node.applied_index(), node.commit_index(), "seed {seed}: n{id}");
            let disk = &cluster.peer(id).disk;
            let recovery = wal::recover(&disk.wal).expect("a clean file");
            assert_eq!(recovery.state, disk.durable, "seed {seed}, n{id}");
            installs += cluster.peer(id).installed.len();
        }
    }
    assert!(installs > 0, "some follower caught up by snapshot");
}

#[test]
fn a_lossy_run_is_a_pure_function_of_its_seed() {
    let first = lossy_run(3, Some(5));
    let again = lossy_run(3, Some(5));
    let other = lossy_run(4, Some(5));
    assert!(first.transcript.len() > 1_000, "a run long enough to mean something");
    assert!(first.transcript == again.transcript, "the same seed replays the same run");
    assert!(first.transcript != other.transcript, "another seed makes another run");
    for id in 0..5 {
        assert_eq!(first.peer(id).disk.wal, again.peer(id).disk.wal, "n{id}: byte for byte");
    }
}
