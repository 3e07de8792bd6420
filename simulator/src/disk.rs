//! One node's disk: durable bytes, plus writes in flight that are not durable yet.
//!
//! Fault model (what is injected, and what the node must survive):
//! - a write lands in a volatile cache and becomes durable when its fsync completes, after a
//!   latency drawn per write; fsyncs complete in the order they were issued;
//! - a crash loses every write not yet durable, except that the oldest write in flight may be
//!   torn: an arbitrary prefix of its bytes reaches the platter (with the configured
//!   probability), possibly ending mid-record;
//! - durable bytes are never changed or lost afterwards (no bit rot, no misdirected writes):
//!   records carry checksums, and recovery cuts a torn tail but refuses a damaged middle.
//!
//! The node is told a write is durable (`persisted(n)`) only when its fsync completes, so a
//! correct node never relies on bytes a crash can take away.

use std::collections::VecDeque;

use raft_core::wal::{self, Recovery, RecoveryError};
use raft_core::PersistOp;

use crate::config::DiskConfig;
use crate::rng::{between, chance, Stream};

/// One write waiting for its fsync.
#[derive(Clone, Debug)]
struct InFlight {
    ready: u64,
    len: usize,
    done_at: u64,
}

/// What a crash did to the disk.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashDamage {
    /// Writes in flight that were lost (whole or torn).
    pub writes_lost: usize,
    /// Bytes of the oldest write in flight that survived a tear (0 if none was torn).
    pub torn_bytes_kept: usize,
    pub torn: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    durable: Vec<u8>,
    /// The bytes of the writes in flight, oldest first, back to back.
    cache: Vec<u8>,
    in_flight: VecDeque<InFlight>,
    /// Bumped by a crash, so that fsync completions scheduled before it are ignored.
    pub epoch: u32,
    pub writes: u64,
    pub bytes_written: u64,
    /// What the durable bytes decoded to at the last recovery, and how many bytes that covered.
    /// Durable bytes never change once written, so the next recovery starts from there: a
    /// restart costs what was written since, not the whole log.
    checkpoint: Option<(usize, raft_core::DurableState)>,
}

impl Disk {
    /// Encodes `ops` as one write and returns when its fsync completes.
    pub fn write(
        &mut self,
        now: u64,
        ready: u64,
        ops: &[PersistOp],
        config: &DiskConfig,
        rng: &mut Stream,
    ) -> u64 {
        let start = self.cache.len();
        for op in ops {
            wal::encode(op, &mut self.cache);
        }
        let len = self.cache.len() - start;
        let latency = between(rng, config.fsync_ns_min, config.fsync_ns_max);
        // Fsyncs complete in order: a later write is never durable before an earlier one.
        let done_at = self.in_flight.back().map_or(now + latency, |w| w.done_at.max(now + latency));
        self.in_flight.push_back(InFlight { ready, len, done_at });
        self.writes += 1;
        self.bytes_written += len as u64;
        done_at
    }

    /// Makes the oldest write in flight durable; returns its ready number.
    pub fn complete_oldest(&mut self) -> Option<u64> {
        let write = self.in_flight.pop_front()?;
        self.durable.extend_from_slice(&self.cache[..write.len]);
        self.cache.drain(..write.len);
        Some(write.ready)
    }

    /// Loses the volatile cache, maybe tearing the oldest write in flight.
    pub fn crash(&mut self, config: &DiskConfig, rng: &mut Stream) -> CrashDamage {
        let mut damage = CrashDamage { writes_lost: self.in_flight.len(), ..CrashDamage::default() };
        if let Some(oldest) = self.in_flight.front() {
            if chance(rng, config.torn_write_ppm) {
                let kept = between(rng, 0, oldest.len as u64 - 1) as usize;
                self.durable.extend_from_slice(&self.cache[..kept]);
                damage.torn = true;
                damage.torn_bytes_kept = kept;
            }
        }
        self.cache.clear();
        self.in_flight.clear();
        self.epoch += 1;
        damage
    }

    /// Reads the durable bytes back at restart and cuts a torn tail off the file.
    pub fn recover(&mut self) -> Result<Recovery, RecoveryError> {
        assert!(self.in_flight.is_empty(), "recovery runs on a disk with nothing in flight");
        let recovery = match self.checkpoint.take() {
            Some((len, state)) => wal::recover_from(state, len, &self.durable)?,
            None => wal::recover(&self.durable)?,
        };
        self.durable.truncate(recovery.valid_bytes);
        self.checkpoint = Some((recovery.valid_bytes, recovery.state.clone()));
        Ok(recovery)
    }

    /// The durable contents, as a restart would read them.
    #[must_use]
    pub fn durable(&self) -> &[u8] {
        &self.durable
    }

    #[must_use]
    pub fn durable_bytes(&self) -> usize {
        self.durable.len()
    }

    #[must_use]
    pub fn writes_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Flips one durable bit, for tests that show corruption is refused. The checkpoint goes
    /// too, so that the next recovery reads the damaged bytes.
    pub fn corrupt_byte(&mut self, offset: usize) {
        if let Some(b) = self.durable.get_mut(offset) {
            *b ^= 0x10;
        }
        self.checkpoint = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use raft_core::{NodeId, Term};

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
        let rec = disk.recover().expect("clean");
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
            let rec = disk.recover().expect("a torn tail is recoverable");
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
            let whole = raft_core::wal::recover(&disk.durable).expect("whole");
            let resumed = disk.recover().expect("resumed");
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
}
