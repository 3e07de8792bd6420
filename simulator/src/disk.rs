//! One node's disk: a write-ahead log file and snapshot files, each with durable bytes, plus
//! writes in flight that are not durable yet.
//!
//! Fault model (what is injected, and what the node must survive):
//! - a write (one ready's operations) lands in a volatile cache and becomes durable when its
//!   fsync completes, after a latency drawn per write; fsyncs complete in the order they were
//!   issued, so a later write is never durable before an earlier one;
//! - a write's WAL records are appended to the log file; a snapshot goes to a new snapshot file
//!   of its own (written whole, then made the current one: a real host writes a temporary file
//!   and renames it);
//! - a crash loses every write not yet durable, except that the oldest write in flight may be
//!   torn (with the configured probability): an arbitrary prefix of its bytes reaches the
//!   platter. The two files of one write are not ordered: the log's bytes may land before or
//!   after the snapshot's, so a torn write may leave its log records without its snapshot (or a
//!   damaged snapshot file beside whole log records). A node must therefore never rely, within
//!   one write, on another part of that write, and never cut its log before the snapshot
//!   covering the cut is durable;
//! - durable bytes are never changed or lost afterwards (no bit rot, no misdirected writes):
//!   records carry checksums, recovery cuts a torn tail of the log but refuses a damaged
//!   middle, and a snapshot file that fails its checksum (torn) is never used: recovery falls
//!   back to the newest whole one, which the correct order guarantees still covers every cut.
//!
//! Once a log cut is durable, the log file is rewritten to what it still holds (an atomic
//! replace, as a host renames a rewritten file), whenever it has doubled since its last
//! rewrite: the bytes on disk stay proportional to the live log, not to the run's length.
//!
//! The node is told a write is durable (`persisted(n)`) only when its fsync completes, so a
//! correct node never relies on bytes a crash can take away.

use std::collections::VecDeque;

use raft_host::wal::{self, Recovery, RecoveryError};
use raft_host::{DurableState, PersistOp};
use rand::Rng;

use crate::config::DiskConfig;
use crate::rng::{between, chance, Stream};

/// The log file is rewritten only once it holds at least this many bytes.
const REWRITE_MIN_BYTES: usize = 16 * 1024;

/// One write waiting for its fsync.
#[derive(Clone, Debug)]
struct InFlight {
    ready: u64,
    /// The bytes it appends to the log file (in `Disk::cache`).
    wal_len: usize,
    /// A whole snapshot file it writes.
    snapshot: Option<Vec<u8>>,
    /// It cuts the log.
    cuts: bool,
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
    /// The oldest write in flight carried a snapshot, which the crash lost or tore.
    pub snapshot_lost: bool,
    /// Of that snapshot, a damaged prefix reached the disk as a file of its own.
    pub snapshot_torn: bool,
}

/// How a crash tears the oldest write in flight: `kept` bytes of it reach the platter, the
/// snapshot file's first when `snapshot_first`, the log's first otherwise.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tear {
    pub kept: usize,
    pub snapshot_first: bool,
}

/// What a restart found on the disk.
#[derive(Clone, Debug)]
pub struct Recovered {
    pub recovery: Recovery,
    /// Damaged snapshot files found and discarded (a crash tore them while they were written).
    pub torn_snapshots_discarded: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The log file's durable bytes.
    durable: Vec<u8>,
    /// Snapshot files on the platter, oldest first: at most the newest whole one and, after a
    /// crash, a torn one written after it.
    snapshot_files: Vec<Vec<u8>>,
    /// The log bytes of the writes in flight, oldest first, back to back.
    cache: Vec<u8>,
    in_flight: VecDeque<InFlight>,
    /// Bumped by a crash, so that fsync completions scheduled before it are ignored.
    pub epoch: u32,
    pub writes: u64,
    pub bytes_written: u64,
    /// Snapshot files written whole, and log rewrites done.
    pub snapshots_written: u64,
    pub rewrites: u64,
    /// What the durable log bytes decoded to at the last recovery or rewrite, and how many
    /// bytes that covered. Durable bytes never change once written (a rewrite replaces them
    /// with the same state), so the next recovery starts from there: a restart costs what was
    /// written since, not the whole log.
    checkpoint: Option<(usize, DurableState)>,
    /// The log's length after its last rewrite, and whether a cut became durable since.
    rewritten_len: usize,
    cut_since_rewrite: bool,
}

impl Disk {
    /// Encodes `ops` as one write and returns when its fsync completes: log records to the log
    /// file, a snapshot to a file of its own.
    pub fn write(
        &mut self,
        now: u64,
        ready: u64,
        ops: &[PersistOp],
        config: &DiskConfig,
        rng: &mut Stream,
    ) -> u64 {
        let start = self.cache.len();
        let mut snapshot = None;
        let mut cuts = false;
        for op in ops {
            match op {
                PersistOp::Snapshot(_) => {
                    let mut file = Vec::new();
                    wal::encode(op, &mut file);
                    snapshot = Some(file);
                }
                _ => {
                    cuts |= matches!(op, PersistOp::CompactLog { .. });
                    wal::encode(op, &mut self.cache);
                }
            }
        }
        let wal_len = self.cache.len() - start;
        let len = wal_len + snapshot.as_ref().map_or(0, Vec::len);
        let latency = between(rng, config.fsync_ns_min, config.fsync_ns_max);
        // Fsyncs complete in order: a later write is never durable before an earlier one.
        let done_at = self.in_flight.back().map_or(now + latency, |w| w.done_at.max(now + latency));
        self.in_flight.push_back(InFlight { ready, wal_len, snapshot, cuts, done_at });
        self.writes += 1;
        self.bytes_written += len as u64;
        done_at
    }

    /// Makes the oldest write in flight durable; returns its ready number.
    pub fn complete_oldest(&mut self) -> Option<u64> {
        let write = self.in_flight.pop_front()?;
        self.durable.extend_from_slice(&self.cache[..write.wal_len]);
        self.cache.drain(..write.wal_len);
        if let Some(file) = write.snapshot {
            // The new file replaces every older one, whole or torn.
            self.snapshot_files.clear();
            self.snapshot_files.push(file);
            self.snapshots_written += 1;
        }
        self.cut_since_rewrite |= write.cuts;
        self.maybe_rewrite();
        Some(write.ready)
    }

    /// Whether the write issued last carries a snapshot.
    #[must_use]
    pub fn writing_snapshot(&self) -> bool {
        self.in_flight.back().is_some_and(|w| w.snapshot.is_some())
    }

    /// Loses the volatile cache, maybe tearing the oldest write in flight.
    pub fn crash(&mut self, config: &DiskConfig, rng: &mut Stream) -> CrashDamage {
        let tear = match self.in_flight.front() {
            Some(oldest) if chance(rng, config.torn_write_ppm) => Some(match oldest.snapshot {
                None => {
                    Tear { kept: between(rng, 0, oldest.wal_len as u64 - 1) as usize, snapshot_first: false }
                }
                Some(ref file) => {
                    let snapshot_first: bool = rng.gen();
                    let total = (oldest.wal_len + file.len()) as u64;
                    Tear { kept: between(rng, 0, total - 1) as usize, snapshot_first }
                }
            }),
            _ => None,
        };
        self.crash_with(tear)
    }

    /// Loses the volatile cache; with `tear`, the oldest write in flight is torn that way.
    pub fn crash_with(&mut self, tear: Option<Tear>) -> CrashDamage {
        let mut damage = CrashDamage { writes_lost: self.in_flight.len(), ..CrashDamage::default() };
        if let Some(oldest) = self.in_flight.front() {
            damage.snapshot_lost = oldest.snapshot.is_some();
            if let Some(Tear { kept, snapshot_first }) = tear {
                damage.torn = true;
                damage.torn_bytes_kept = kept;
                let file_len = oldest.snapshot.as_ref().map_or(0, Vec::len);
                // The two files land in either order, up to the tear.
                let (wal_kept, file_kept) = if snapshot_first {
                    let file_kept = kept.min(file_len);
                    ((kept - file_kept).min(oldest.wal_len), file_kept)
                } else {
                    let wal_kept = kept.min(oldest.wal_len);
                    (wal_kept, (kept - wal_kept).min(file_len))
                };
                self.durable.extend_from_slice(&self.cache[..wal_kept]);
                if let Some(file) = &oldest.snapshot {
                    if file_kept == file.len() {
                        self.snapshot_files.clear();
                        self.snapshot_files.push(file.clone());
                        damage.snapshot_lost = false;
                    } else if file_kept > 0 {
                        self.snapshot_files.push(file[..file_kept].to_vec());
                        damage.snapshot_torn = true;
                    }
                }
            }
        }
        self.cache.clear();
        self.in_flight.clear();
        self.epoch += 1;
        damage
    }

    /// The bytes of the oldest write in flight, log and snapshot together (for tests that tear
    /// it at every point).
    #[must_use]
    pub fn oldest_write_bytes(&self) -> usize {
        self.in_flight.front().map_or(0, |w| w.wal_len + w.snapshot.as_ref().map_or(0, Vec::len))
    }

    /// Reads the durable files back at restart: the newest snapshot file that is whole (torn
    /// ones are discarded, never used), then the log on top of it, cutting a torn tail.
    pub fn recover(&mut self) -> Result<Recovered, RecoveryError> {
        assert!(self.in_flight.is_empty(), "recovery runs on a disk with nothing in flight");
        let mut torn_snapshots_discarded = 0;
        let mut snapshot = None;
        while let Some(file) = self.snapshot_files.last() {
            match wal::decode_snapshot(file) {
                Ok(s) => {
                    snapshot = Some(s);
                    break;
                }
                Err(_) => {
                    self.snapshot_files.pop();
                    torn_snapshots_discarded += 1;
                }
            }
        }
        let recovery = self.replay(snapshot)?;
        self.durable.truncate(recovery.valid_bytes);
        self.checkpoint = Some((recovery.valid_bytes, recovery.state.clone()));
        Ok(Recovered { recovery, torn_snapshots_discarded })
    }

    /// The log replayed from the checkpoint onto `snapshot`, the newest whole one. It is at
    /// least as new as the checkpoint's: files only get newer, and a torn one is never whole.
    fn replay(&mut self, snapshot: Option<raft_host::Snapshot>) -> Result<Recovery, RecoveryError> {
        match self.checkpoint.take() {
            Some((len, mut state)) => {
                state.snapshot = snapshot;
                wal::recover_from(state, len, &self.durable)
            }
            None => wal::recover_from(DurableState { snapshot, ..DurableState::default() }, 0, &self.durable),
        }
    }

    /// Rewrites the log file to what it holds once a durable cut left it at least twice the
    /// size of its last rewrite: the records of the entries the cut dropped go.
    fn maybe_rewrite(&mut self) {
        if !self.cut_since_rewrite || self.durable.len() < REWRITE_MIN_BYTES.max(2 * self.rewritten_len) {
            return;
        }
        let snapshot = self.snapshot_files.last().and_then(|f| wal::decode_snapshot(f).ok());
        let Ok(recovery) = self.replay(snapshot) else {
            // Left as it is: the next restart reports what is wrong with it.
            return;
        };
        let state = recovery.state;
        let mut bytes = Vec::with_capacity(self.durable.len() / 2);
        wal::encode(&PersistOp::HardState { term: state.term, vote: state.vote }, &mut bytes);
        if state.compacted_through > raft_host::LogIndex::ZERO {
            wal::encode(&PersistOp::CompactLog { through: state.compacted_through }, &mut bytes);
        }
        if !state.entries.is_empty() {
            let from = state.compacted_through.next();
            wal::encode(&PersistOp::Entries { from, entries: state.entries.clone() }, &mut bytes);
        }
        self.durable = bytes;
        self.rewritten_len = self.durable.len();
        self.cut_since_rewrite = false;
        self.checkpoint = Some((self.durable.len(), state));
        self.rewrites += 1;
    }

    /// The durable log file, as a restart would read it.
    #[must_use]
    pub fn durable(&self) -> &[u8] {
        &self.durable
    }

    /// The newest snapshot file on the platter (possibly torn, if a crash tore it).
    #[must_use]
    pub fn snapshot_file(&self) -> Option<&[u8]> {
        self.snapshot_files.last().map(Vec::as_slice)
    }

    /// Durable bytes of both files.
    #[must_use]
    pub fn durable_bytes(&self) -> usize {
        self.durable.len() + self.snapshot_files.iter().map(Vec::len).sum::<usize>()
    }

    #[must_use]
    pub fn writes_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Flips one durable bit of the log file, for tests that show corruption is refused. The
    /// checkpoint goes too, so that the next recovery reads the damaged bytes.
    pub fn corrupt_byte(&mut self, offset: usize) {
        if let Some(b) = self.durable.get_mut(offset) {
            *b ^= 0x10;
        }
        self.checkpoint = None;
    }
}

#[cfg(test)]
mod tests;
