//! A write-ahead log format for [`PersistOp`]s: length-prefixed, checksummed records.
//!
//! A record is `[payload length: u32 LE][checksum: u32 LE][payload]`, the checksum a CRC-32 of
//! the record's own byte offset in its file (u64 LE) followed by the payload. Keying the
//! checksum with the offset makes a record written at the wrong place (a misdirected write)
//! fail its checksum there, as TigerBeetle's checksums cover a block's address: a record that
//! merely decodes is not enough. A crash can tear
//! the last write, leaving a prefix of its bytes; recovery stops at the first record that is
//! incomplete or fails its checksum *at the end of the file* and reports how many bytes it cut.
//! A bad record followed by more bytes cannot be a torn tail (only the last write can tear): that
//! is corruption, and recovery refuses the file rather than silently dropping acknowledged data.
//!
//! A record that decodes but does not fit the state before it (a log cut past the snapshot, a
//! gap) is refused too: the durable state lost something, and using it would hide that.
//!
//! A snapshot can be kept in the same file or, as most hosts do, in a file of its own holding
//! one record ([`encode`] of a [`PersistOp::Snapshot`], read back with [`decode_snapshot`]); a
//! recovery of the log then starts from a state that already holds that snapshot.
//!
//! Nothing here does I/O: a host appends the encoded bytes to a file and feeds the file's bytes
//! back to [`recover`] at restart.

use std::fmt;
use std::sync::Arc;

use crate::entry::{Entry, Payload};
use crate::membership::{Membership, NodeSet};
use crate::snapshot::{Snapshot, SnapshotMeta};
use crate::storage::{DurableState, Fence, PersistOp};
use crate::types::{LogIndex, NodeId, Term};

/// Bytes before each record's payload: its length and its checksum.
pub const HEADER_BYTES: usize = 8;
const TAG_HARD_STATE: u8 = 1;
const TAG_ENTRIES: u8 = 2;
const TAG_SNAPSHOT: u8 = 3;
const TAG_COMPACT_LOG: u8 = 4;
const TAG_FENCE: u8 = 5;

/// Appends the record for `op` to `out`, which holds a file from its first byte.
pub fn encode(op: &PersistOp, out: &mut Vec<u8>) {
    encode_at(op, out, 0);
}

/// Appends the record for `op` to `out`, whose first byte sits at byte `base` of its file (a
/// host that buffers appends encodes them where they will land).
pub fn encode_at(op: &PersistOp, out: &mut Vec<u8>, base: usize) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    match op {
        PersistOp::HardState { term, vote } => {
            out.push(TAG_HARD_STATE);
            put_u64(out, term.0);
            match vote {
                Some(node) => {
                    out.push(1);
                    put_u32(out, node.0);
                }
                None => out.push(0),
            }
        }
        PersistOp::Entries { from, entries } => {
            out.push(TAG_ENTRIES);
            put_u64(out, from.0);
            put_u32(out, entries.len() as u32);
            for entry in entries {
                encode_entry(entry, out);
            }
        }
        PersistOp::Snapshot(snapshot) => {
            out.push(TAG_SNAPSHOT);
            put_u64(out, snapshot.meta.last_index.0);
            put_u64(out, snapshot.meta.last_term.0);
            put_membership(out, &snapshot.meta.membership);
            put_u32(out, snapshot.data.len() as u32);
            out.extend_from_slice(&snapshot.data);
        }
        PersistOp::CompactLog { through } => {
            out.push(TAG_COMPACT_LOG);
            put_u64(out, through.0);
        }
        PersistOp::Fence(fence) => {
            out.push(TAG_FENCE);
            encode_fence(*fence, out);
        }
    }
    let payload_len = out.len() - start - HEADER_BYTES;
    let crc = record_crc(base + start, &out[start + HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn encode_fence(fence: Fence, out: &mut Vec<u8>) {
    match fence {
        Fence::None => out.push(0),
        Fence::Through(term) => {
            out.push(1);
            put_u64(out, term.0);
        }
        Fence::Unknown => out.push(2),
    }
}

/// The checksum of a record at byte `offset` of its file.
#[must_use]
pub fn record_crc(offset: usize, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&(offset as u64).to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    put_u64(out, entry.term.0);
    put_u64(out, entry.index.0);
    match &entry.payload {
        Payload::Noop => out.push(0),
        Payload::Config(membership) => {
            out.push(2);
            put_membership(out, membership);
        }
        Payload::Data(data) => {
            out.push(1);
            put_u32(out, data.len() as u32);
            out.extend_from_slice(data);
        }
    }
}

/// The bytes `entry` takes inside an entries record, as [`encode`] writes it.
#[must_use]
pub fn entry_bytes(entry: &Entry) -> usize {
    17 + match &entry.payload {
        Payload::Noop => 0,
        Payload::Config(_) => MEMBERSHIP_BYTES,
        Payload::Data(d) => 4 + d.len(),
    }
}

/// The bytes of a hard-state record, header included.
pub const HARD_STATE_RECORD_BYTES: usize = HEADER_BYTES + 14;
/// The bytes of an entries record holding no entries yet, header included.
pub const ENTRIES_RECORD_BYTES: usize = HEADER_BYTES + 13;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// A configuration takes two 128-bit sets: voters, then learners.
const MEMBERSHIP_BYTES: usize = 32;

fn put_membership(out: &mut Vec<u8>, membership: &Membership) {
    for set in [membership.voters, membership.learners] {
        let mut bits = 0u128;
        set.iter().for_each(|id| bits |= 1 << id.0);
        out.extend_from_slice(&bits.to_le_bytes());
    }
}

/// What recovery found in a log file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Recovery {
    pub state: DurableState,
    /// Whole, valid records replayed.
    pub records: usize,
    /// Bytes of the file that hold valid records; a host truncates the file to this length.
    pub valid_bytes: usize,
    /// Bytes cut from the end because the last write was torn.
    pub torn_bytes: usize,
}

/// Why a log file cannot be used.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RecoveryError {
    /// A record in the middle of the file fails its checksum or does not decode.
    Corrupt { offset: usize, reason: String },
    /// A whole, valid record does not fit the state before it: something durable is missing
    /// (such as a log cut past the snapshot that should cover it).
    Inconsistent { offset: usize, reason: String },
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::Corrupt { offset, reason } => {
                write!(f, "log file corrupt at byte {offset}: {reason}")
            }
            RecoveryError::Inconsistent { offset, reason } => {
                write!(f, "the record at byte {offset} does not fit what came before: {reason}")
            }
        }
    }
}

impl std::error::Error for RecoveryError {}

/// Replays every valid record of `bytes`, truncating a torn tail.
pub fn recover(bytes: &[u8]) -> Result<Recovery, RecoveryError> {
    recover_from(DurableState::default(), 0, bytes)
}

/// Continues a recovery from a known prefix: `state` is what the first `prefix_len` bytes of
/// `bytes` (whole, valid records) decode to. A host that keeps the state of its last recovery
/// reads only what was written since, instead of the whole file; the result is the same as
/// [`recover`] of all the bytes. Records counts only the records after the prefix.
pub fn recover_from(state: DurableState, prefix_len: usize, bytes: &[u8]) -> Result<Recovery, RecoveryError> {
    assert!(prefix_len <= bytes.len(), "the prefix is longer than the file");
    let mut state = state;
    let mut offset = prefix_len;
    let mut records = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let torn = |state: DurableState, records| {
            Ok(Recovery { state, records, valid_bytes: offset, torn_bytes: bytes.len() - offset })
        };
        if rest.len() < HEADER_BYTES {
            return torn(state, records);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let end = HEADER_BYTES + len;
        if rest.len() < end {
            return torn(state, records);
        }
        let payload = &rest[HEADER_BYTES..end];
        let is_last = rest.len() == end;
        if record_crc(offset, payload) != crc {
            if is_last {
                return torn(state, records);
            }
            return Err(RecoveryError::Corrupt { offset, reason: "checksum mismatch".into() });
        }
        let op = decode(payload).map_err(|reason| RecoveryError::Corrupt { offset, reason })?;
        state.apply(&op).map_err(|e| RecoveryError::Inconsistent { offset, reason: e.0 })?;
        records += 1;
        offset += end;
    }
    Ok(Recovery { state, records, valid_bytes: offset, torn_bytes: 0 })
}

/// What a salvaging recovery found: the state of the whole, verified records before the first
/// damage, and that damage.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Salvage {
    /// `valid_bytes` is where the kept records end; `torn_bytes` counts every byte after them
    /// (a torn tail, or the damaged rest of the file).
    pub recovery: Recovery,
    /// The first damage in the acknowledged part of the file, if any.
    pub damage: Option<RecoveryError>,
}

/// Replays a log file for a host that knows how many of its bytes the disk acknowledged
/// (`acked_len`, kept in its superblock): a bad record at or after that point is a torn tail of
/// a write never acknowledged; a bad record before it, or a file shorter than it, is damage.
/// Instead of refusing the file, it keeps every verified record before the first damage and
/// reports the damage (and a whole record that does not fit, wherever it is): what the node
/// promised on the strength of the rest must then be repaired
/// (see [`crate::storage::Fence`]). `verify: false` skips the checksums (planted bug
/// `trust-unverified-record`: a host that trusts whatever decodes).
#[must_use]
pub fn salvage_from(
    state: DurableState,
    prefix_len: usize,
    bytes: &[u8],
    acked_len: usize,
    verify: bool,
) -> Salvage {
    assert!(prefix_len <= bytes.len(), "the prefix is longer than the file");
    let mut state = state;
    let mut offset = prefix_len;
    let mut records = 0;
    let damage = loop {
        if offset >= bytes.len() {
            break (bytes.len() < acked_len).then(|| RecoveryError::Corrupt {
                offset,
                reason: format!(
                    "the file ends at byte {} but {acked_len} bytes were acknowledged",
                    bytes.len()
                ),
            });
        }
        let rest = &bytes[offset..];
        let corrupt = |reason: String| RecoveryError::Corrupt { offset, reason };
        if rest.len() < HEADER_BYTES {
            break Some(corrupt("a record header ends early".into()));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let end = HEADER_BYTES.saturating_add(len);
        if rest.len() < end {
            break Some(corrupt("a record ends early".into()));
        }
        let payload = &rest[HEADER_BYTES..end];
        if verify && record_crc(offset, payload) != crc {
            break Some(corrupt("checksum mismatch".into()));
        }
        let op = match decode(payload) {
            Ok(op) => op,
            Err(reason) => break Some(corrupt(reason)),
        };
        // A refused operation leaves the state as it was (see `DurableState::apply`), so the
        // state is what the records before this one made, with no copy per record (a copy of
        // the whole log per record made a restart quadratic in the log: 60 s and more for a
        // node holding 100,000 entries).
        if let Err(e) = state.apply(&op) {
            break Some(RecoveryError::Inconsistent { offset, reason: e.0 });
        }
        records += 1;
        offset += end;
    };
    // Damage past the acknowledged length is the torn tail of a write never acknowledged, unless
    // a whole record there does not fit: a correct node never writes one, torn or not (the
    // planted bug `cut-before-snapshot-durable` does, when a tear lands its cut alone).
    let damage = damage.filter(|d| offset < acked_len || matches!(d, RecoveryError::Inconsistent { .. }));
    let recovery = Recovery { state, records, valid_bytes: offset, torn_bytes: bytes.len() - offset };
    Salvage { recovery, damage }
}

/// A host's superblock: the term, vote and fence, and how many bytes of the log file the disk
/// acknowledged, kept apart from the log in several checksummed copies (see the storage
/// module). `seq` grows with every write, so that recovery takes the newest copy that verifies.
#[derive(Copy, Clone, Default, PartialEq, Eq, Debug)]
pub struct Superblock {
    pub seq: u64,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub fence: Fence,
    pub log_len: u64,
}

/// The bytes one superblock copy takes.
pub const SUPERBLOCK_BYTES: usize = HEADER_BYTES + 40;

/// The bytes of copy `copy` of `sb`: its checksum is keyed with the copy's number, so that a
/// copy written into another's slot fails.
#[must_use]
pub fn encode_superblock(sb: &Superblock, copy: usize) -> Vec<u8> {
    // Sized once: a superblock is written at every fsync.
    let mut out = Vec::with_capacity(SUPERBLOCK_BYTES);
    out.resize(HEADER_BYTES, 0);
    put_u64(&mut out, sb.seq);
    put_u64(&mut out, sb.term.0);
    match sb.vote {
        Some(node) => {
            out.push(1);
            put_u32(&mut out, node.0);
        }
        None => out.extend_from_slice(&[0; 5]),
    }
    match sb.fence {
        Fence::None => out.extend_from_slice(&[0; 9]),
        Fence::Through(term) => {
            out.push(1);
            put_u64(&mut out, term.0);
        }
        Fence::Unknown => out.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0]),
    }
    put_u64(&mut out, sb.log_len);
    out.resize(SUPERBLOCK_BYTES, 0);
    let payload_len = SUPERBLOCK_BYTES - HEADER_BYTES;
    let crc = record_crc(copy, &out[HEADER_BYTES..]);
    out[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Reads copy `copy` of a superblock, refusing one that does not verify.
pub fn decode_superblock(bytes: &[u8], copy: usize) -> Result<Superblock, String> {
    if bytes.len() != SUPERBLOCK_BYTES {
        return Err(format!("{} bytes where a superblock takes {SUPERBLOCK_BYTES}", bytes.len()));
    }
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if len != SUPERBLOCK_BYTES - HEADER_BYTES || record_crc(copy, &bytes[HEADER_BYTES..]) != crc {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader { bytes: &bytes[HEADER_BYTES..], at: 0 };
    let seq = r.u64()?;
    let term = Term(r.u64()?);
    let vote = match r.u8()? {
        0 => {
            r.u32()?;
            None
        }
        1 => Some(NodeId(r.u32()?)),
        other => return Err(format!("bad vote tag {other}")),
    };
    let fence = match r.u8()? {
        0 => {
            r.u64()?;
            Fence::None
        }
        1 => Fence::Through(Term(r.u64()?)),
        2 => {
            r.u64()?;
            Fence::Unknown
        }
        other => return Err(format!("bad fence tag {other}")),
    };
    let log_len = r.u64()?;
    Ok(Superblock { seq, term, vote, fence, log_len })
}

/// Decodes one record's payload.
pub fn decode(payload: &[u8]) -> Result<PersistOp, String> {
    let mut r = Reader { bytes: payload, at: 0 };
    let op = match r.u8()? {
        TAG_HARD_STATE => {
            let term = Term(r.u64()?);
            let vote = match r.u8()? {
                0 => None,
                1 => Some(NodeId(r.u32()?)),
                other => return Err(format!("bad vote tag {other}")),
            };
            PersistOp::HardState { term, vote }
        }
        TAG_ENTRIES => {
            let from = LogIndex(r.u64()?);
            let count = r.u32()? as usize;
            // Each entry takes at least 17 bytes; refuse counts the payload cannot hold.
            if count > payload.len() / 17 {
                return Err(format!("entry count {count} exceeds the record"));
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                entries.push(r.entry()?);
            }
            PersistOp::Entries { from, entries }
        }
        TAG_SNAPSHOT => {
            let last_index = LogIndex(r.u64()?);
            let last_term = Term(r.u64()?);
            let meta = SnapshotMeta { last_index, last_term, membership: r.membership()? };
            let len = r.u32()? as usize;
            let data = r.take(len)?.into();
            PersistOp::Snapshot(Snapshot { meta, data })
        }
        TAG_COMPACT_LOG => PersistOp::CompactLog { through: LogIndex(r.u64()?) },
        TAG_FENCE => PersistOp::Fence(r.fence()?),
        other => return Err(format!("unknown record tag {other}")),
    };
    if r.at != payload.len() {
        return Err("trailing bytes in record".into());
    }
    Ok(op)
}

/// Reads a snapshot file: exactly one whole, valid snapshot record. A torn or damaged file
/// (a crash while it was written) fails here and must not be used.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, String> {
    if bytes.len() < HEADER_BYTES {
        return Err(format!("{} bytes: shorter than a record header", bytes.len()));
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if bytes.len() != HEADER_BYTES + len {
        return Err(format!("{} bytes where the header announces {}", bytes.len(), HEADER_BYTES + len));
    }
    let payload = &bytes[HEADER_BYTES..];
    if record_crc(0, payload) != crc {
        return Err("checksum mismatch".into());
    }
    match decode(payload)? {
        PersistOp::Snapshot(snapshot) => Ok(snapshot),
        other => Err(format!("expected a snapshot record, found {other:?}")),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| "record ends early".to_string())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn node_set(&mut self) -> Result<NodeSet, String> {
        let b = self.take(16)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        let bits = u128::from_le_bytes(a);
        Ok((0..NodeSet::CAPACITY).filter(|i| bits & (1 << i) != 0).map(NodeId).collect())
    }
    fn membership(&mut self) -> Result<Membership, String> {
        let voters = self.node_set()?;
        let learners = self.node_set()?;
        if voters.intersects(learners) {
            return Err("a configuration names a server as voter and learner".into());
        }
        Ok(Membership { voters, learners })
    }
    fn fence(&mut self) -> Result<Fence, String> {
        match self.u8()? {
            0 => Ok(Fence::None),
            1 => Ok(Fence::Through(Term(self.u64()?))),
            2 => Ok(Fence::Unknown),
            other => Err(format!("bad fence tag {other}")),
        }
    }
    fn entry(&mut self) -> Result<Entry, String> {
        let term = Term(self.u64()?);
        let index = LogIndex(self.u64()?);
        let payload = match self.u8()? {
            0 => Payload::Noop,
            2 => Payload::Config(Arc::new(self.membership()?)),
            1 => {
                let len = self.u32()? as usize;
                Payload::Data(Arc::from(self.take(len)?))
            }
            other => return Err(format!("unknown payload tag {other}")),
        };
        Ok(Entry { term, index, payload })
    }
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib).
#[must_use]
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(term: u64, index: u64, key: &str) -> Entry {
        let data: Arc<[u8]> = Arc::from(format!("append {key} v{index}").into_bytes());
        Entry { term: Term(term), index: LogIndex(index), payload: Payload::Data(data) }
    }

    fn sample_file() -> (Vec<u8>, Vec<usize>) {
        let ops = [
            PersistOp::HardState { term: Term(2), vote: Some(NodeId(1)) },
            PersistOp::Entries { from: LogIndex(1), entries: vec![entry(1, 1, "a"), entry(2, 2, "b")] },
            PersistOp::Entries { from: LogIndex(2), entries: vec![entry(2, 2, "c"), entry(2, 3, "d")] },
        ];
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for op in &ops {
            encode(op, &mut bytes);
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_record_moved_to_another_offset_fails_its_checksum() {
        let (bytes, ends) = sample_file();
        // The second record written where the third belongs: it decodes, but not there.
        let mut moved = bytes[..ends[1]].to_vec();
        moved.extend_from_slice(&bytes[ends[0]..ends[1]]);
        moved.extend_from_slice(&bytes[ends[1]..]);
        let s = salvage_from(DurableState::default(), 0, &moved, moved.len(), true);
        assert_eq!(s.recovery.records, 2);
        assert!(matches!(s.damage, Some(RecoveryError::Corrupt { offset, .. }) if offset == ends[1]));
    }

    #[test]
    fn salvage_keeps_what_precedes_damage_and_tells_a_torn_tail_from_a_lost_write() {
        let (mut bytes, ends) = sample_file();
        let clean = salvage_from(DurableState::default(), 0, &bytes, bytes.len(), true);
        assert_eq!((clean.recovery.records, clean.damage), (3, None));
        // Torn past the acknowledged length: not damage.
        let torn = salvage_from(DurableState::default(), 0, &bytes[..ends[2] - 3], ends[1], true);
        assert_eq!((torn.recovery.valid_bytes, torn.damage), (ends[1], None));
        // Shorter than acknowledged: a lost write.
        let lost = salvage_from(DurableState::default(), 0, &bytes[..ends[1]], ends[2], true);
        assert_eq!(lost.recovery.records, 2);
        assert!(lost.damage.is_some());
        // A flipped bit in the middle (in a command's bytes): the first record is kept, the
        // rest reported.
        bytes[ends[1] - 2] ^= 0x01;
        let rot = salvage_from(DurableState::default(), 0, &bytes, bytes.len(), true);
        assert_eq!(rot.recovery.records, 1);
        assert!(matches!(rot.damage, Some(RecoveryError::Corrupt { offset, .. }) if offset == ends[0]));
        // Without the checksum the damaged record is trusted when it decodes.
        let trusted = salvage_from(DurableState::default(), 0, &bytes, bytes.len(), false);
        assert!(trusted.recovery.records > 1);
    }

    #[test]
    fn superblock_copies_round_trip_and_refuse_damage_or_the_wrong_slot() {
        let sb = Superblock {
            seq: 7,
            term: Term(3),
            vote: Some(NodeId(2)),
            fence: Fence::Through(Term(2)),
            log_len: 1234,
        };
        let bytes = encode_superblock(&sb, 1);
        assert_eq!(bytes.len(), SUPERBLOCK_BYTES);
        assert_eq!(decode_superblock(&bytes, 1), Ok(sb));
        assert!(decode_superblock(&bytes, 0).is_err(), "a copy in another slot is refused");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            assert!(decode_superblock(&bad, 1).is_err(), "a flip at byte {i} is refused");
        }
    }

    #[test]
    fn a_clean_file_replays_every_record_with_truncations() {
        let (bytes, _) = sample_file();
        let rec = recover(&bytes).expect("clean file");
        assert_eq!(rec.records, 3);
        assert_eq!(rec.torn_bytes, 0);
        assert_eq!(rec.state.term, Term(2));
        assert_eq!(rec.state.vote, Some(NodeId(1)));
        assert_eq!(rec.state.entries, vec![entry(1, 1, "a"), entry(2, 2, "c"), entry(2, 3, "d")]);
    }

    #[test]
    fn every_torn_prefix_of_the_last_write_recovers_the_earlier_records() {
        let (bytes, ends) = sample_file();
        for cut in ends[1]..ends[2] {
            let rec = recover(&bytes[..cut]).expect("a torn tail is not corruption");
            assert_eq!(rec.records, 2, "cut at {cut}");
            assert_eq!(rec.valid_bytes, ends[1]);
            assert_eq!(rec.torn_bytes, cut - ends[1]);
        }
    }

    #[test]
    fn a_flipped_bit_in_the_last_record_is_treated_as_a_torn_tail() {
        let (mut bytes, ends) = sample_file();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let rec = recover(&bytes).expect("tail damage is recoverable");
        assert_eq!(rec.records, 2);
        assert_eq!(rec.valid_bytes, ends[1]);
    }

    #[test]
    fn recovering_from_a_prefix_gives_what_recovering_everything_gives() {
        let (bytes, ends) = sample_file();
        for (i, &prefix) in [0].iter().chain(&ends).enumerate() {
            let base = recover(&bytes[..prefix]).expect("prefix").state;
            for cut in prefix..=bytes.len() {
                let whole = recover(&bytes[..cut]).expect("whole");
                let resumed = recover_from(base.clone(), prefix, &bytes[..cut]).expect("resumed");
                assert_eq!(resumed.state, whole.state, "prefix {i}, cut {cut}");
                assert_eq!(resumed.valid_bytes, whole.valid_bytes);
                assert_eq!(resumed.torn_bytes, whole.torn_bytes);
            }
        }
    }

    #[test]
    fn a_flipped_bit_before_the_tail_is_refused_as_corruption() {
        let (mut bytes, ends) = sample_file();
        bytes[ends[0] + 12] ^= 0x01;
        match recover(&bytes) {
            Err(RecoveryError::Corrupt { offset, .. }) => assert_eq!(offset, ends[0]),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn snapshots_and_cuts_round_trip_and_a_torn_snapshot_file_is_refused() {
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                last_index: LogIndex(3),
                last_term: Term(2),
                membership: Membership::voters([NodeId(0), NodeId(2)]),
            },
            data: b"state".to_vec().into(),
        };
        let mut file = Vec::new();
        encode(&PersistOp::Snapshot(snapshot.clone()), &mut file);
        assert_eq!(decode_snapshot(&file), Ok(snapshot.clone()));
        for cut in 0..file.len() {
            assert!(decode_snapshot(&file[..cut]).is_err(), "a file torn at {cut} is not a snapshot");
        }
        let mut bytes = Vec::new();
        encode(&PersistOp::CompactLog { through: LogIndex(3) }, &mut bytes);
        assert_eq!(decode(&bytes[HEADER_BYTES..]), Ok(PersistOp::CompactLog { through: LogIndex(3) }));
    }

    #[test]
    fn a_log_cut_past_its_snapshot_is_refused_as_inconsistent() {
        let (mut bytes, ends) = sample_file();
        encode(&PersistOp::CompactLog { through: LogIndex(2) }, &mut bytes);
        match recover(&bytes) {
            Err(RecoveryError::Inconsistent { offset, reason }) => {
                assert_eq!(offset, ends[2]);
                assert!(reason.contains("past the snapshot"), "{reason}");
            }
            other => panic!("expected an inconsistency, got {other:?}"),
        }
        let snapshot = Snapshot { meta: SnapshotMeta::new(LogIndex(2), Term(2)), data: Vec::new().into() };
        let with_snapshot = DurableState { snapshot: Some(snapshot), ..DurableState::default() };
        let rec = recover_from(with_snapshot, 0, &bytes).expect("the snapshot covers the cut");
        assert_eq!((rec.state.compacted_through, rec.state.entries.len()), (LogIndex(2), 1));
    }

    #[test]
    fn salvage_keeps_the_state_before_an_inconsistent_record() {
        let (mut bytes, ends) = sample_file();
        encode(&PersistOp::CompactLog { through: LogIndex(2) }, &mut bytes);
        encode(&PersistOp::HardState { term: Term(9), vote: None }, &mut bytes);
        let salvage = salvage_from(DurableState::default(), 0, &bytes, bytes.len(), true);
        assert!(
            matches!(salvage.damage, Some(RecoveryError::Inconsistent { offset, .. }) if offset == ends[2])
        );
        let state = salvage.recovery.state;
        assert_eq!(
            (state.term, state.last_index(), state.compacted_through),
            (Term(2), LogIndex(3), LogIndex(0))
        );
        assert_eq!(salvage.recovery.records, 3);
    }

    #[test]
    fn entry_bytes_is_what_an_entry_takes_in_a_record() {
        let entries =
            vec![entry(1, 1, "a"), Entry { term: Term(1), index: LogIndex(2), payload: Payload::Noop }];
        let mut one = Vec::new();
        encode(&PersistOp::Entries { from: LogIndex(1), entries: entries.clone() }, &mut one);
        assert_eq!(one.len(), ENTRIES_RECORD_BYTES + entries.iter().map(entry_bytes).sum::<usize>());
        let mut hard = Vec::new();
        encode(&PersistOp::HardState { term: Term(1), vote: Some(NodeId(2)) }, &mut hard);
        assert_eq!(hard.len(), HARD_STATE_RECORD_BYTES);
    }
}
