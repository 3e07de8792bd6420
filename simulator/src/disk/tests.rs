use super::*;
use crate::config::SimConfig;
use raft_host::{NodeId, Term};

fn hard_state(term: u64) -> Vec<PersistOp> {
    vec![PersistOp::HardState { term: Term(term), vote: Some(NodeId(0)) }]
}

#[test]
fn only_completed_writes_survive_a_crash_without_tearing() {
    let config = SimConfig::calm(1).disk;
    let mut rng = crate::rng::stream(1, "disk");
    let mut disk = Disk::default();
    disk.write(0, 1, &hard_state(1), &config, &mut rng);
    disk.write(0, 2, &hard_state(2), &config, &mut rng);
    assert_eq!(disk.complete_oldest(), Some(1));
    let damage = disk.crash(&config, &mut rng);
    assert_eq!(damage.writes_lost, 1);
    assert!(!damage.torn);
    let rec = disk.recover().expect("clean").recovery;
    assert_eq!(rec.state.term, Term(1));
}

#[test]
fn fsyncs_complete_in_issue_order_whatever_their_latency() {
    let mut config = SimConfig::calm(1).disk;
    config.fsync_ns_min = 1;
    config.fsync_ns_max = 1_000_000;
    let mut rng = crate::rng::stream(2, "disk");
    let mut disk = Disk::default();
    let mut last = 0;
    for ready in 1..50 {
        let done = disk.write(ready * 10, ready, &hard_state(ready), &config, &mut rng);
        assert!(done >= last);
        last = done;
    }
}

#[test]
fn a_torn_write_recovers_to_the_last_whole_record() {
    let mut config = SimConfig::calm(1).disk;
    config.torn_write_ppm = 1_000_000;
    let mut torn_seen = 0;
    for seed in 0..20 {
        let mut rng = crate::rng::stream(seed, "disk");
        let mut disk = Disk::default();
        disk.write(0, 1, &hard_state(1), &config, &mut rng);
        disk.complete_oldest();
        disk.write(0, 2, &[hard_state(2), hard_state(3)].concat(), &config, &mut rng);
        let damage = disk.crash(&config, &mut rng);
        assert!(damage.torn);
        let rec = disk.recover().expect("a torn tail is recoverable").recovery;
        // Either nothing of write 2 survived whole, or its first record did.
        assert!(rec.state.term == Term(1) || rec.state.term == Term(2), "term {}", rec.state.term.0);
        torn_seen += usize::from(rec.torn_bytes > 0);
    }
    assert!(torn_seen > 10, "only {torn_seen} of 20 crashes left a torn tail");
}

#[test]
fn recoveries_that_resume_from_a_checkpoint_match_reading_the_whole_disk() {
    let mut config = SimConfig::calm(1).disk;
    config.torn_write_ppm = 500_000;
    let mut rng = crate::rng::stream(9, "disk");
    let mut disk = Disk::default();
    let mut ready = 0;
    for round in 0..30u64 {
        for _ in 0..(round % 4 + 1) {
            ready += 1;
            disk.write(0, ready, &hard_state(ready), &config, &mut rng);
            if ready % 3 != 0 {
                disk.complete_oldest();
            }
        }
        disk.crash(&config, &mut rng);
        let whole = raft_host::wal::recover(&disk.durable).expect("whole");
        let resumed = disk.recover().expect("resumed").recovery;
        assert_eq!(resumed.state, whole.state, "round {round}");
        assert_eq!(resumed.valid_bytes, whole.valid_bytes);
    }
}

#[test]
fn a_damaged_durable_record_is_refused_even_after_a_checkpoint() {
    let config = SimConfig::calm(1).disk;
    let mut rng = crate::rng::stream(3, "disk");
    let mut disk = Disk::default();
    for ready in 1..=3 {
        disk.write(0, ready, &hard_state(ready), &config, &mut rng);
        disk.complete_oldest();
    }
    disk.recover().expect("clean");
    disk.corrupt_byte(10);
    assert!(disk.recover().is_err(), "the first record is damaged and more follow");
}

// ----- Snapshot files and log cuts -----

use raft_host::{Entry, LogIndex, Payload, Snapshot, SnapshotMeta};

use super::Tear;

fn entries(from: u64, to: u64) -> PersistOp {
    let entries =
        (from..=to).map(|i| Entry { term: Term(1), index: LogIndex(i), payload: Payload::Noop }).collect();
    PersistOp::Entries { from: LogIndex(from), entries }
}

fn snapshot(index: u64) -> PersistOp {
    let meta = SnapshotMeta::new(LogIndex(index), Term(1));
    PersistOp::Snapshot(Snapshot { meta, data: format!("state through {index}").into_bytes().into() })
}

fn cut(through: u64) -> PersistOp {
    PersistOp::CompactLog { through: LogIndex(through) }
}

/// Writes each of `writes` in turn, completing the first `durable` of them.
fn disk_after(writes: &[Vec<PersistOp>], durable: usize) -> Disk {
    let config = SimConfig::calm(1).disk;
    let mut rng = crate::rng::stream(1, "disk");
    let mut disk = Disk::default();
    for (i, ops) in writes.iter().enumerate() {
        disk.write(0, i as u64 + 1, ops, &config, &mut rng);
    }
    for _ in 0..durable {
        disk.complete_oldest();
    }
    disk
}

/// The last log index a recovered state stands for, snapshot and log together.
fn covered(state: &raft_host::DurableState) -> LogIndex {
    state.last_index().max(state.snapshot_index())
}

#[test]
fn a_crash_while_a_snapshot_is_written_leaves_the_previous_snapshot() {
    let writes = [vec![entries(1, 6)], vec![snapshot(2)], vec![cut(2)], vec![snapshot(4)]];
    let mut disk = disk_after(&writes, 3);
    assert!(disk.writing_snapshot());
    let damage = disk.crash_with(None);
    assert!(damage.snapshot_lost && !damage.snapshot_torn);
    let state = disk.recover().expect("clean").recovery.state;
    assert_eq!(state.snapshot_index(), LogIndex(2));
    assert_eq!((state.compacted_through, state.last_index()), (LogIndex(2), LogIndex(6)));
}

#[test]
fn a_torn_snapshot_file_is_discarded_and_recovery_falls_back_to_the_previous_one() {
    let writes = [vec![entries(1, 6)], vec![snapshot(2)], vec![cut(2)], vec![snapshot(4)]];
    let mut disk = disk_after(&writes, 3);
    let damage = disk.crash_with(Some(Tear { kept: 10, snapshot_first: true }));
    assert!(damage.snapshot_torn);
    let recovered = disk.recover().expect("the torn file is not used");
    assert_eq!(recovered.torn_snapshots_discarded, 1);
    assert_eq!(recovered.recovery.state.snapshot_index(), LogIndex(2));
    assert_eq!(disk.snapshot_file().map(|f| wal::decode_snapshot(f).is_ok()), Some(true));
}

/// Crashes `writes` at every point: with each write the oldest in flight, lost whole or torn at
/// every byte in either order of its files. Returns the recoveries that failed or lost a
/// durable entry, described.
fn losses_at_every_crash_point(writes: &[Vec<PersistOp>]) -> Vec<String> {
    let mut losses = Vec::new();
    for durable in 0..writes.len() {
        let whole = {
            let mut disk = disk_after(writes, durable);
            disk.crash_with(None);
            covered(&disk.recover().expect("the writes before are whole").recovery.state)
        };
        let bytes = disk_after(writes, durable).oldest_write_bytes();
        let tears =
            (0..bytes).flat_map(|kept| [true, false].map(|first| Some(Tear { kept, snapshot_first: first })));
        for tear in std::iter::once(None).chain(tears) {
            let mut disk = disk_after(writes, durable);
            disk.crash_with(tear);
            match disk.recover() {
                Ok(r) if covered(&r.recovery.state) >= whole => {}
                Ok(r) => losses.push(format!(
                    "write {}, {tear:?}: recovered up to {}",
                    durable + 1,
                    covered(&r.recovery.state)
                )),
                Err(e) => losses.push(format!("write {}, {tear:?}: {e}", durable + 1)),
            }
        }
    }
    losses
}

#[test]
fn a_snapshot_made_durable_before_the_cut_survives_every_crash_point() {
    let writes = [
        vec![PersistOp::HardState { term: Term(1), vote: Some(NodeId(0)) }, entries(1, 6)],
        vec![snapshot(4), entries(7, 8)],
        vec![cut(4), entries(9, 9)],
        vec![snapshot(8)],
        vec![cut(8)],
    ];
    assert_eq!(losses_at_every_crash_point(&writes), Vec::<String>::new());
}

#[test]
fn a_cut_in_the_snapshots_own_write_loses_the_cut_entries_when_a_crash_tears_it() {
    let writes = [vec![entries(1, 6)], vec![snapshot(4), cut(4)], vec![entries(7, 7)]];
    let losses = losses_at_every_crash_point(&writes);
    assert!(!losses.is_empty(), "some tear lands the cut without the snapshot");
    assert!(losses.iter().all(|l| l.starts_with("write 2")), "{losses:#?}");
    assert!(losses.iter().any(|l| l.contains("past the snapshot")), "{losses:#?}");
}

#[test]
fn a_long_run_of_snapshots_and_cuts_keeps_the_disk_flat() {
    let config = SimConfig::calm(1).disk;
    let mut rng = crate::rng::stream(7, "disk");
    let mut disk = Disk::default();
    let mut ready = 0;
    let mut peak = 0;
    let mut write = |disk: &mut Disk, ops: Vec<PersistOp>| {
        ready += 1;
        disk.write(0, ready, &ops, &config, &mut rng);
        disk.complete_oldest();
    };
    for i in 1..=20_000u64 {
        write(&mut disk, vec![entries(i, i)]);
        if i % 50 == 0 {
            write(&mut disk, vec![snapshot(i - 10)]);
            write(&mut disk, vec![cut(i - 10)]);
        }
        peak = peak.max(disk.durable_bytes());
    }
    assert!(disk.rewrites > 10, "{} rewrites", disk.rewrites);
    assert!(peak < 3 * REWRITE_MIN, "peak {peak} bytes for a log of at most 60 entries");
    let state = disk.recover().expect("clean").recovery.state;
    assert_eq!((state.compacted_through, state.last_index()), (LogIndex(19_990), LogIndex(20_000)));
}

const REWRITE_MIN: usize = super::REWRITE_MIN_BYTES;

/// A disk with `writes` durable, as a node that crashed after them left it.
fn crashed_after(writes: &[Vec<PersistOp>]) -> (Disk, crate::rng::Stream) {
    let mut disk = disk_after(writes, writes.len());
    disk.crash_with(None);
    (disk, crate::rng::stream(11, "faults"))
}

fn three_writes() -> Vec<Vec<PersistOp>> {
    vec![
        vec![PersistOp::HardState { term: Term(2), vote: Some(NodeId(1)) }, entries(1, 4)],
        vec![entries(5, 8)],
        vec![entries(9, 12)],
    ]
}

#[test]
fn a_lost_write_is_damage_not_a_torn_tail_and_the_node_is_fenced_in_its_term() {
    let (mut disk, _) = crashed_after(&three_writes());
    assert!(super::lost::lose_last(&mut disk).is_some());
    let r = disk.recover_salvaging(true);
    assert!(r.damage.is_some(), "the superblock says those bytes were acknowledged");
    assert_eq!(r.recovery.state.last_index(), LogIndex(8));
    assert_eq!((r.recovery.state.term, r.recovery.state.vote), (Term(2), Some(NodeId(1))));
    assert_eq!(r.recovery.state.fence, raft_host::storage::Fence::Through(Term(2)));
    // The fence is durable: a crash before the node runs restarts it fenced still.
    let again = disk.recover_salvaging(true);
    assert!(again.damage.is_none());
    assert_eq!(again.recovery.state.fence, raft_host::storage::Fence::Through(Term(2)));
}

#[test]
fn a_misdirected_write_fails_the_offset_keyed_checksums_where_it_landed() {
    let (mut disk, mut rng) = crashed_after(&three_writes());
    let (meant, landed) = super::misdirect::misdirect_last(&mut disk, &mut rng).expect("an earlier place");
    assert!(landed < meant);
    let r = disk.recover_salvaging(true);
    assert!(r.damage.is_some());
    assert!(r.recovery.valid_bytes <= landed, "nothing from where the write landed on is used");
}

#[test]
fn a_latent_sector_error_keeps_the_records_before_the_bad_sector() {
    let (mut disk, mut rng) = crashed_after(&three_writes());
    let bad = super::sector::fail_sector(&mut disk, &mut rng).expect("a sector");
    let r = disk.recover_salvaging(true);
    assert!(r.damage.is_some());
    assert!(r.recovery.valid_bytes <= bad);
    assert!(disk.recover_salvaging(true).damage.is_none(), "the truncated region is rewritten");
}

#[test]
fn rot_in_one_superblock_copy_is_outvoted_and_a_wipe_keeps_the_term_and_vote() {
    let (mut disk, _) = crashed_after(&three_writes());
    disk.superblock_copies[1][12] ^= 0x01;
    let r = disk.recover_salvaging(true);
    assert_eq!((r.superblock_copies_bad, r.damage), (1, None));
    assert_eq!(r.recovery.state.fence, raft_host::storage::Fence::None);
    super::wipe::wipe(&mut disk, false);
    let wiped = disk.recover_salvaging(true);
    assert!(wiped.damage.is_some());
    assert_eq!(wiped.recovery.state.last_index(), LogIndex(0));
    assert_eq!((wiped.recovery.state.term, wiped.recovery.state.vote), (Term(2), Some(NodeId(1))));
    super::wipe::wipe(&mut disk, true);
    let gone = disk.recover_salvaging(true);
    assert!(gone.superblock_lost);
    assert_eq!(gone.recovery.state.fence, raft_host::storage::Fence::Unknown);
}

#[test]
fn bit_rot_in_the_log_is_refused_unless_the_checksums_are_skipped() {
    let (mut disk, _) = crashed_after(&three_writes());
    // The low byte of the last entry's term: the record still decodes.
    let last = disk.durable().len() - 17;
    disk.corrupt_byte(last);
    let checked = disk.clone().recover_salvaging(true);
    assert!(checked.damage.is_some());
    assert_eq!(checked.recovery.state.last_index(), LogIndex(8));
    let trusted = disk.recover_salvaging(false);
    assert!(trusted.damage.is_none(), "planted bug trust-unverified-record uses the damaged record");
    assert_eq!(trusted.recovery.state.last_index(), LogIndex(12));
}
