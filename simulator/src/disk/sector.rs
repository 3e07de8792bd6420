//! Latent sector errors: a sector of the log that the disk acknowledged can no longer be read
//! (the read returns an error, as a drive's ECC gives up). Recovery reads the log up to the bad
//! sector, keeps the whole records before it and reports the rest as damage; rewriting the
//! region (the host truncates the file there and appends anew) remaps the sector.

use rand::Rng;

use super::Disk;
use crate::rng::Stream;

/// The sector size reads fail in.
pub const SECTOR_BYTES: usize = 512;

/// Marks one sector of the acknowledged log unreadable; returns its first byte. None if the
/// log is empty.
pub fn fail_sector(disk: &mut Disk, rng: &mut Stream) -> Option<usize> {
    let len = disk.acked_log_len();
    if len == 0 {
        return None;
    }
    let start = rng.gen_range(0..len) / SECTOR_BYTES * SECTOR_BYTES;
    disk.bad_sector = Some(disk.bad_sector.map_or(start, |b| b.min(start)));
    disk.checkpoint = None;
    disk.stats.latent_sector_errors += 1;
    Some(start)
}
