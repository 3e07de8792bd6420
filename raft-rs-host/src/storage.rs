//! The log raft-rs reads: what the adapter has handed its host to write, durable or not.
//!
//! raft-rs asks the application to make every ready's entries, hard state and snapshot readable
//! through its [`Storage`] trait before the ready is advanced; durability is reported apart, by
//! ready number. So this storage is the node's *written* state, kept in memory: the entries of
//! every ready handed out (a conflicting suffix replaced, as raft-rs asks), the newest snapshot
//! (taken by the host, or installed from a leader) and the log after it. What survives a crash is
//! the host's business: a restarted node is built from the host's durable state instead.
//!
//! Each entry is kept twice: as raft-rs's protobuf `Entry` (what [`Storage::entries`] returns,
//! cloned by reference count) and in the contract's vocabulary (what the host's checks and its
//! state machine read), so that neither side converts on every read.

use std::collections::VecDeque;
use std::sync::Arc;

use raft::eraftpb::{self, ConfState, EntryType, HardState, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};
use raft_host::{Entry, LogIndex, Payload, Snapshot, SnapshotMeta, Term};

/// The written state of one raft-rs node.
pub struct WrittenLog {
    hard_state: HardState,
    /// The cluster's voters, fixed for the run: the contract has no membership changes.
    conf_state: ConfState,
    /// The newest snapshot: the log starts right after it.
    snapshot: Option<Snapshot>,
    /// Entries `snapshot index + 1 ..`, contiguous.
    entries: VecDeque<(eraftpb::Entry, Entry)>,
    /// The bytes the entries take in the WAL format (see [`WrittenLog::raft_state_bytes`]).
    entry_bytes: u64,
}

impl WrittenLog {
    /// A written state holding `snapshot` and the `entries` that follow it (the caller resolved
    /// any overlap), for a node of the cluster `voters`.
    pub fn new(
        voters: Vec<u64>,
        term: Term,
        vote: u64,
        snapshot: Option<Snapshot>,
        entries: &[Entry],
    ) -> WrittenLog {
        let mut log = WrittenLog {
            hard_state: HardState::default(),
            conf_state: ConfState::from((voters, Vec::new())),
            snapshot,
            entries: VecDeque::with_capacity(entries.len()),
            entry_bytes: 0,
        };
        log.hard_state.term = term.0;
        log.hard_state.vote = vote;
        // A restarted node knows committed only what its snapshot covers; it learns the rest
        // from the leader (the contract's durable state keeps no commit index).
        log.hard_state.commit = log.snapshot_index();
        for e in entries {
            debug_assert_eq!(e.index.0, log.last() + 1, "restored entries are contiguous");
            log.push(to_pb(e), e.clone());
        }
        log
    }

    /// The voters, as a snapshot's metadata carries them.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    pub fn set_hard_state(&mut self, hs: &HardState) {
        self.hard_state = hs.clone();
    }

    /// The newest snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.meta.last_index.0)
    }

    fn snapshot_term(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.meta.last_term.0)
    }

    pub fn first(&self) -> u64 {
        self.snapshot_index() + 1
    }

    pub fn last(&self) -> u64 {
        self.snapshot_index() + self.entries.len() as u64
    }

    /// The term at `index`: the snapshot's at its last index, 0 at index 0, `None` for an index
    /// the snapshot covers or past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        let base = self.snapshot_index();
        if index == base {
            return Some(self.snapshot_term());
        }
        if index < base {
            return None;
        }
        self.entries.get((index - base - 1) as usize).map(|(e, _)| e.term)
    }

    /// The entry at `index`, in the contract's vocabulary.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let base = self.snapshot_index();
        if index <= base {
            return None;
        }
        self.entries.get((index - base - 1) as usize).map(|(_, e)| e)
    }

    /// Writes raft-rs's entries: everything from the first one's index on is replaced. Returns
    /// them in the contract's vocabulary.
    ///
    /// # Panics
    /// If they would leave a gap or rewrite what the snapshot covers: raft-rs never asks that.
    pub fn append(&mut self, entries: Vec<eraftpb::Entry>) -> Vec<Entry> {
        let Some(first) = entries.first().map(|e| e.index) else { return Vec::new() };
        assert!(
            first > self.snapshot_index() && first <= self.last() + 1,
            "raft-rs wrote entries from {first} onto a log holding {} to {}",
            self.first(),
            self.last()
        );
        self.truncate_from(first);
        let mut out = Vec::with_capacity(entries.len());
        for pb in entries {
            let host = from_pb(&pb);
            out.push(host.clone());
            self.push(pb, host);
        }
        out
    }

    /// Installs a snapshot from the leader: the whole log is replaced by it (raft-rs installs
    /// only a snapshot whose last entry its log does not hold).
    pub fn install(&mut self, snapshot: Snapshot) {
        self.entries.clear();
        self.entry_bytes = 0;
        self.hard_state.commit = self.hard_state.commit.max(snapshot.meta.last_index.0);
        self.snapshot = Some(snapshot);
    }

    /// Keeps the host's snapshot of its state machine through `snapshot`'s index and drops the
    /// entries it covers.
    ///
    /// # Panics
    /// If the log does not hold the snapshot's last entry with its term.
    pub fn compact(&mut self, snapshot: Snapshot) {
        let through = snapshot.meta.last_index.0;
        assert_eq!(
            self.term_at(through),
            Some(snapshot.meta.last_term.0),
            "a snapshot through {} does not match the log",
            snapshot.meta
        );
        let dropped = (through - self.snapshot_index()) as usize;
        for (_, e) in self.entries.drain(..dropped) {
            self.entry_bytes -= raft_host::wal::entry_bytes(&e) as u64;
        }
        self.snapshot = Some(snapshot);
    }

    /// The node's Raft state as the host persists it (term, vote and log, in the WAL format),
    /// counted as raft-core counts its own.
    pub fn raft_state_bytes(&self) -> u64 {
        (raft_host::wal::HARD_STATE_RECORD_BYTES + raft_host::wal::ENTRIES_RECORD_BYTES) as u64
            + self.entry_bytes
    }

    fn push(&mut self, pb: eraftpb::Entry, host: Entry) {
        self.entry_bytes += raft_host::wal::entry_bytes(&host) as u64;
        self.entries.push_back((pb, host));
    }

    fn truncate_from(&mut self, index: u64) {
        let keep = (index - self.snapshot_index() - 1) as usize;
        while self.entries.len() > keep {
            if let Some((_, e)) = self.entries.pop_back() {
                self.entry_bytes -= raft_host::wal::entry_bytes(&e) as u64;
            }
        }
    }
}

impl Storage for WrittenLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<eraftpb::Entry>> {
        if low <= self.snapshot_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        assert!(high <= self.last() + 1, "entries [{low}, {high}) asked of a log ending at {}", self.last());
        let base = self.snapshot_index() + 1;
        let mut out: Vec<eraftpb::Entry> = self
            .entries
            .range((low - base) as usize..(high - base) as usize)
            .map(|(e, _)| e.clone())
            .collect();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx < self.snapshot_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        self.term_at(idx).ok_or(raft::Error::Store(StorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    /// The newest snapshot, with the cluster's configuration. The leader sends it whole (raft-rs
    /// has no chunks).
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<eraftpb::Snapshot> {
        match &self.snapshot {
            Some(s) if s.meta.last_index.0 >= request_index => {
                let mut meta = SnapshotMetadata {
                    index: s.meta.last_index.0,
                    term: s.meta.last_term.0,
                    ..Default::default()
                };
                meta.set_conf_state(self.conf_state.clone());
                let mut pb = eraftpb::Snapshot {
                    data: bytes::Bytes::from_owner(Arc::clone(&s.data)),
                    ..Default::default()
                };
                pb.set_metadata(meta);
                Ok(pb)
            }
            _ => Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable)),
        }
    }
}

/// raft-rs's entry in the contract's vocabulary: empty data (raft-rs's entry at the start of a
/// term) is the contract's no-op. Every entry the adapter sees is a normal one: it never
/// proposes configuration changes.
pub fn from_pb(e: &eraftpb::Entry) -> Entry {
    debug_assert_eq!(e.entry_type, EntryType::EntryNormal, "the adapter proposes no configuration changes");
    let payload = if e.data.is_empty() { Payload::Noop } else { Payload::Data(Arc::from(&e.data[..])) };
    Entry { term: Term(e.term), index: LogIndex(e.index), payload }
}

/// The contract's entry as raft-rs's, sharing the data.
pub fn to_pb(e: &Entry) -> eraftpb::Entry {
    let data = match &e.payload {
        Payload::Data(data) => bytes::Bytes::from_owner(Arc::clone(data)),
        Payload::Noop => bytes::Bytes::new(),
        // The contract's configuration entries are raft-core's; raft-rs keeps its own, and the
        // adapter changes no membership (it does not claim the feature), so none reaches here.
        Payload::Config(_) => unreachable!("the raft-rs adapter proposes no configuration entries"),
    };
    eraftpb::Entry { term: e.term.0, index: e.index.0, data, ..Default::default() }
}

/// A snapshot's metadata in the contract's vocabulary.
pub fn meta_of(pb: &eraftpb::Snapshot) -> SnapshotMeta {
    let m = pb.get_metadata();
    SnapshotMeta::new(LogIndex(m.index), Term(m.term))
}
