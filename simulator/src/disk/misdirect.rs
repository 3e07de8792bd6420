//! Misdirected writes: the disk acknowledged a write but put its bytes at the wrong offset
//! (a firmware or driver bug). The intended place keeps its stale contents (zeros: the file is
//! preallocated) and the bytes land over older records. A checksum alone does not catch this,
//! since the moved records are whole; ours are keyed with the record's offset (as TigerBeetle's
//! cover the block's address), so the moved records fail where they landed, and the stale
//! place fails too. Recovery keeps what precedes the first of the two.

use rand::Rng;

use super::Disk;
use crate::rng::Stream;

/// Moves the log bytes of the last durable write to an earlier offset; returns (intended,
/// landed). None if there is no earlier place (the write was the first).
pub fn misdirect_last(disk: &mut Disk, rng: &mut Stream) -> Option<(usize, usize)> {
    let (start, len) = disk.last_write?;
    if start == 0 || start + len > disk.durable.len() {
        return None;
    }
    let bytes = disk.durable[start..start + len].to_vec();
    disk.durable[start..start + len].fill(0);
    let landed = rng.gen_range(0..start);
    let end = (landed + len).min(disk.durable.len());
    disk.durable[landed..end].copy_from_slice(&bytes[..end - landed]);
    disk.last_write = None;
    disk.checkpoint = None;
    disk.stats.misdirected_writes += 1;
    Some((start, landed))
}
