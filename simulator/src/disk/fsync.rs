//! Failed fsyncs: the disk returns an error for an fsync. What the node must do is stop: after a
//! failed fsync the kernel may have dropped the dirty pages and marked them clean, so a retried
//! fsync can report success for data that never reached the disk (PostgreSQL's "fsyncgate",
//! 2018; Rebello et al., "Can Applications Recover from fsync Failures?", ATC 2020). The host
//! therefore neither acknowledges the write nor retries it: it stops the node (a crash: the
//! writes in flight are lost or torn) and restarts it from what the disk holds, where the
//! superblock, written after the data, tells an unacknowledged tail from damage.

use crate::rng::{chance, Stream};

/// Whether this fsync fails.
pub fn fails(rng: &mut Stream, ppm: u32) -> bool {
    ppm > 0 && chance(rng, ppm)
}
