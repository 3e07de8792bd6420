//! A wiped disk: the node restarts on an empty data disk (a replaced drive, an operator who
//! reformatted it). Within the budget the superblock survives (it lives apart, in several
//! copies), so the node knows its term and vote and that its log is gone: it restarts fenced.
//! Beyond the budget the superblock goes too: the node cannot know where it voted, which no
//! recovery rule makes safe (see raft-core's `recovery`).

use super::Disk;

/// Empties the log and the snapshot files; with `superblock`, every superblock copy too.
pub fn wipe(disk: &mut Disk, superblock: bool) {
    disk.durable.clear();
    disk.snapshot_files.clear();
    disk.torn_snapshot_file = false;
    disk.snapshot_damaged = false;
    disk.bad_sector = None;
    disk.last_write = None;
    disk.checkpoint = None;
    disk.rewritten_len = 0;
    if superblock {
        for copy in &mut disk.superblock_copies {
            copy.fill(0);
        }
        disk.stats.superblocks_wiped += 1;
    }
    disk.stats.wipes += 1;
}
