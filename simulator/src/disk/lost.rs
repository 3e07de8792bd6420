//! Lost writes: the disk acknowledged an fsync whose log bytes never reached the platter (a
//! volatile cache that lied about its flush). The place keeps its stale contents (zeros: the
//! file is preallocated). The superblock, written after the data, says how many bytes were
//! acknowledged, so recovery knows the log should reach further and reports damage instead of
//! mistaking the hole for a torn tail.

use super::Disk;

/// Loses the log bytes of the last durable write; returns where they were. None if there was
/// no such write since the last restart.
pub fn lose_last(disk: &mut Disk) -> Option<usize> {
    let (start, len) = disk.last_write.take()?;
    if start + len > disk.durable.len() {
        return None;
    }
    disk.durable[start..start + len].fill(0);
    disk.checkpoint = None;
    disk.stats.lost_writes += 1;
    Some(start)
}
