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
//! - a superblock, kept apart in [`SUPERBLOCK_COPIES`] checksummed copies, holds the term, the
//!   vote, the recovery fence and how many bytes of the log the disk acknowledged; every write
//!   updates it after its data (as a host fsyncs its data, then its superblock), so a torn
//!   write never updates it, and recovery takes the newest copy that verifies;
//! - without storage faults, durable bytes are never changed or lost afterwards: records carry
//!   checksums (keyed with their offset), recovery cuts a torn tail of the log (the bytes past
//!   the acknowledged length) and a snapshot file that fails its checksum (torn) is never used:
//!   recovery falls back to the newest whole one, which the correct order guarantees still
//!   covers every cut;
//! - the storage faults (bit rot, latent sector errors, misdirected and lost writes, wiped
//!   disks: one module each below, injected by the world within its budget, see `atlas`)
//!   damage what was durable. Recovery then keeps every verified record before the first
//!   damage, reports the damage, and the world hands the node a fence (see
//!   `raft_host::storage::Fence`); damage the world did not inject is a bug of the node.
//!
//! Once a log cut is durable, the log file is rewritten to what it still holds (an atomic
//! replace, as a host renames a rewritten file), whenever it has doubled since its last
//! rewrite: the bytes on disk stay proportional to the live log, not to the run's length.
//!
//! The node is told a write is durable (`persisted(n)`) only when its fsync completes, so a
//! correct node never relies on bytes a crash can take away.

use std::collections::VecDeque;

use raft_host::storage::Fence;
use raft_host::wal::{self, Recovery, RecoveryError, Superblock};
use raft_host::{DurableState, PersistOp, Term};
use rand::Rng;

use crate::config::DiskConfig;
use crate::rng::{between, chance, Stream};

pub mod atlas;
pub mod fsync;
pub mod lost;
pub mod misdirect;
pub mod rot;
pub mod sector;
pub mod wipe;

/// The log file is rewritten only once it holds at least this many bytes.
const REWRITE_MIN_BYTES: usize = 16 * 1024;
/// Copies of the superblock; the budget never damages all of them.
pub const SUPERBLOCK_COPIES: usize = 3;

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
    /// The superblock once this write is durable.
    superblock: Superblock,
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
    /// The state to boot from: verified records before any damage, the term and vote merged
    /// with the superblock's, and the fence.
    pub recovery: Recovery,
    /// Damaged snapshot files found and discarded (a crash tore them while they were written).
    pub torn_snapshots_discarded: usize,
    /// The first damage found in what the disk had acknowledged (log or snapshot), if any.
    pub damage: Option<String>,
    /// Superblock copies that failed their checksum.
    pub superblock_copies_bad: usize,
    /// No superblock copy verified (a wiped superblock): the term and vote are lost.
    pub superblock_lost: bool,
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
    /// The superblock copies on the platter, and the newest superblock written.
    superblock_copies: Vec<Vec<u8>>,
    superblock: Superblock,
    /// The newest snapshot file is a torn one a crash left (never acknowledged).
    torn_snapshot_file: bool,
    /// Where the last durable write's log bytes went, for the write faults.
    last_write: Option<(usize, usize)>,
    /// A latent sector error: reading the log from this byte fails until it is rewritten.
    pub(crate) bad_sector: Option<usize>,
    /// An acknowledged snapshot file was damaged by a fault.
    snapshot_damaged: bool,
    /// What the fault modules did to this disk.
    pub stats: atlas::StorageStats,
    /// The fence the superblock on the platter holds.
    durable_fence: Fence,
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
                PersistOp::HardState { term, vote } => {
                    self.superblock.term = *term;
                    self.superblock.vote = *vote;
                    wal::encode_at(op, &mut self.cache, self.durable.len());
                }
                PersistOp::Fence(fence) => self.superblock.fence = *fence,
                _ => {
                    cuts |= matches!(op, PersistOp::CompactLog { .. });
                    wal::encode_at(op, &mut self.cache, self.durable.len());
                }
            }
        }
        let wal_len = self.cache.len() - start;
        self.superblock.seq += 1;
        self.superblock.log_len = (self.durable.len() + self.cache.len()) as u64;
        let superblock = self.superblock;
        let len = wal_len + snapshot.as_ref().map_or(0, Vec::len);
        let latency = between(rng, config.fsync_ns_min, config.fsync_ns_max);
        // Fsyncs complete in order: a later write is never durable before an earlier one.
        let done_at = self.in_flight.back().map_or(now + latency, |w| w.done_at.max(now + latency));
        self.in_flight.push_back(InFlight { ready, wal_len, snapshot, cuts, superblock, done_at });
        self.writes += 1;
        self.bytes_written += len as u64;
        done_at
    }

    /// Makes the oldest write in flight durable; returns its ready number.
    pub fn complete_oldest(&mut self) -> Option<u64> {
        let write = self.in_flight.pop_front()?;
        self.last_write = (write.wal_len > 0).then_some((self.durable.len(), write.wal_len));
        self.durable.extend_from_slice(&self.cache[..write.wal_len]);
        self.cache.drain(..write.wal_len);
        if let Some(file) = write.snapshot {
            // The new file replaces every older one, whole or torn.
            self.snapshot_files.clear();
            self.snapshot_files.push(file);
            self.snapshots_written += 1;
            self.torn_snapshot_file = false;
        }
        self.write_superblock(write.superblock);
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
                        self.torn_snapshot_file = true;
                        damage.snapshot_torn = true;
                    }
                }
            }
        }
        self.cache.clear();
        self.in_flight.clear();
        self.epoch += 1;
        // What the next write starts from is what the platter holds (the lost writes' updates
        // to the in-memory superblock go with them).
        self.superblock = self.newest_superblock().map_or(self.superblock, |(sb, _)| sb);
        damage
    }

    /// Writes every copy of the superblock, after the data of the write it describes.
    fn write_superblock(&mut self, superblock: Superblock) {
        self.durable_fence = superblock.fence;
        self.superblock_copies =
            (0..SUPERBLOCK_COPIES).map(|c| wal::encode_superblock(&superblock, c)).collect();
    }

    /// The newest superblock copy that verifies, and how many copies failed. None when no
    /// copy verifies (or none was ever written).
    fn newest_superblock(&self) -> Option<(Superblock, usize)> {
        let mut bad = 0;
        let mut best: Option<Superblock> = None;
        for (c, bytes) in self.superblock_copies.iter().enumerate() {
            match wal::decode_superblock(bytes, c) {
                Ok(sb) if best.is_none_or(|b| sb.seq > b.seq) => best = Some(sb),
                Ok(_) => {}
                Err(_) => bad += 1,
            }
        }
        best.map(|sb| (sb, bad))
    }

    /// The bytes of the oldest write in flight, log and snapshot together (for tests that tear
    /// it at every point).
    #[must_use]
    pub fn oldest_write_bytes(&self) -> usize {
        self.in_flight.front().map_or(0, |w| w.wal_len + w.snapshot.as_ref().map_or(0, Vec::len))
    }

    /// Reads the durable files back at restart, refusing any damage (for tests of the plain
    /// crash model: there, damage means the node wrote something inconsistent).
    pub fn recover(&mut self) -> Result<Recovered, RecoveryError> {
        let recovered = self.recover_salvaging(true);
        match &recovered.damage {
            Some(reason) => {
                Err(RecoveryError::Corrupt { offset: recovered.recovery.valid_bytes, reason: reason.clone() })
            }
            None => Ok(recovered),
        }
    }

    /// Reads the durable files back at restart: the newest superblock copy that verifies, the
    /// newest snapshot file that is whole (torn ones are discarded, never used), then the log on
    /// top of it up to its first damage, cutting a torn tail. Damage in what the disk
    /// acknowledged is reported, and the fence it calls for is made durable (every superblock
    /// copy rewritten) before the node may start: a crash right after must not restart it on a
    /// shorter log that shows no damage. `verify: false` is planted bug
    /// `trust-unverified-record`.
    pub fn recover_salvaging(&mut self, verify: bool) -> Recovered {
        assert!(self.in_flight.is_empty(), "recovery runs on a disk with nothing in flight");
        let never_written = self.superblock_copies.is_empty();
        let (sb, superblock_copies_bad) = match self.newest_superblock() {
            Some(found) => found,
            None => (Superblock::default(), self.superblock_copies.len()),
        };
        let superblock_lost = !never_written && superblock_copies_bad == self.superblock_copies.len();
        let mut damage = None;
        let mut torn_snapshots_discarded = 0;
        let mut snapshot = None;
        while let Some(file) = self.snapshot_files.last() {
            match wal::decode_snapshot(file) {
                Ok(s) => {
                    snapshot = Some(s);
                    break;
                }
                Err(e) => {
                    if !self.torn_snapshot_file && damage.is_none() {
                        damage = Some(format!("the snapshot file is damaged: {e}"));
                    }
                    self.torn_snapshot_file = false;
                    self.snapshot_files.pop();
                    torn_snapshots_discarded += 1;
                }
            }
        }
        if self.snapshot_damaged && snapshot.is_none() && damage.is_none() {
            damage = Some("the snapshot file is gone".into());
        }
        self.snapshot_damaged = false;
        let readable = self.bad_sector.take().map_or(self.durable.len(), |b| b.min(self.durable.len()));
        let acked = if superblock_lost { self.durable.len() } else { sb.log_len as usize };
        let (base, prefix) = match self.checkpoint.take() {
            Some((len, mut state)) if len <= readable && damage.is_none() => {
                state.snapshot = snapshot;
                (state, len)
            }
            _ => (DurableState { snapshot, ..DurableState::default() }, 0),
        };
        let salvage = wal::salvage_from(base, prefix, &self.durable[..readable], acked, verify);
        let mut recovery = salvage.recovery;
        recovery.torn_bytes = self.durable.len() - recovery.valid_bytes;
        if damage.is_none() {
            damage = salvage.damage.map(|e| e.to_string());
        }
        if damage.is_none() && readable < self.durable.len() && recovery.valid_bytes < acked {
            damage = Some(format!("reading the log fails at byte {readable}"));
        }
        self.durable.truncate(recovery.valid_bytes);
        let state = &mut recovery.state;
        // The superblock's copies outlive damage to the log: its term and vote stand.
        if sb.term > state.term {
            state.term = sb.term;
            state.vote = sb.vote;
        } else if sb.term == state.term && state.vote.is_none() {
            state.vote = sb.vote;
        }
        state.fence = sb.fence;
        if superblock_lost {
            state.fence = Fence::Unknown;
        } else if damage.is_some() {
            state.fence = state.fence.widen(state.term);
        }
        self.checkpoint = damage.is_none().then(|| (recovery.valid_bytes, recovery.state.clone()));
        let after = Superblock {
            seq: sb.seq + 1,
            term: recovery.state.term,
            vote: recovery.state.vote,
            fence: recovery.state.fence,
            log_len: recovery.valid_bytes as u64,
        };
        if !never_written || after != (Superblock { seq: 1, ..Superblock::default() }) {
            self.write_superblock(after);
        }
        self.superblock = after;
        Recovered { recovery, torn_snapshots_discarded, damage, superblock_copies_bad, superblock_lost }
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
        if !self.cut_since_rewrite
            || !self.in_flight.is_empty()
            || self.durable.len() < REWRITE_MIN_BYTES.max(2 * self.rewritten_len)
        {
            // Writes in flight were encoded for their offsets in the current file.
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
        // The replace and the superblock's new length land together (a host renames the new
        // file, then writes its superblock; recovery accepts either file with either length).
        self.superblock.seq += 1;
        self.superblock.log_len = self.durable.len() as u64;
        self.write_superblock(self.superblock);
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

    /// The log bytes the disk acknowledged (the superblock's length).
    #[must_use]
    pub fn acked_log_len(&self) -> usize {
        (self.superblock.log_len as usize).min(self.durable.len())
    }

    /// The fence the superblock on the platter holds: a node is repaired once its lifted fence
    /// is durable.
    #[must_use]
    pub fn durable_fence(&self) -> Fence {
        self.durable_fence
    }

    /// The durable term, as the superblock has it.
    #[must_use]
    pub fn superblock_term(&self) -> Term {
        self.superblock.term
    }
}

#[cfg(test)]
mod tests;
