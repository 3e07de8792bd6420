//! Bit rot: one bit of durable data flips while it sits on the platter (media decay, a bad
//! firmware path). It hits a log record the disk acknowledged, the newest whole snapshot file,
//! or one copy of the superblock. Checksums find it at the next restart: the log keeps what
//! precedes the damaged record, a damaged snapshot is not used, and a damaged superblock copy is
//! outvoted by the others. The budget (see `atlas`) never lets the copies all rot.

use rand::Rng;

use super::Disk;
use crate::rng::Stream;

/// Where a flip landed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rot {
    Log { offset: usize },
    Snapshot { offset: usize },
    Superblock { copy: usize },
}

/// Flips one bit of what `disk` holds durably, preferring the log (7 in 10), then the snapshot
/// file (2 in 10), then a superblock copy. None if the disk holds nothing to rot.
pub fn flip(disk: &mut Disk, rng: &mut Stream) -> Option<Rot> {
    let pick = rng.gen_range(0..10u32);
    let bit = 1u8 << rng.gen_range(0..8u32);
    let log_len = disk.acked_log_len();
    let snapshot_len = disk.snapshot_files.last().map_or(0, Vec::len);
    let rot = if pick >= 9 && !disk.superblock_copies.is_empty() {
        let copy = rng.gen_range(0..disk.superblock_copies.len());
        let offset = rng.gen_range(0..disk.superblock_copies[copy].len());
        disk.superblock_copies[copy][offset] ^= bit;
        Rot::Superblock { copy }
    } else if (pick >= 7 || log_len == 0) && snapshot_len > 0 && !disk.torn_snapshot_file {
        let offset = rng.gen_range(0..snapshot_len);
        if let Some(file) = disk.snapshot_files.last_mut() {
            file[offset] ^= bit;
        }
        disk.snapshot_damaged = true;
        Rot::Snapshot { offset }
    } else if log_len > 0 {
        let offset = rng.gen_range(0..log_len);
        disk.durable[offset] ^= bit;
        Rot::Log { offset }
    } else {
        return None;
    };
    disk.checkpoint = None;
    disk.stats.bit_rot += 1;
    Some(rot)
}
