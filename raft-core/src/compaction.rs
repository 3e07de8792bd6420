//! Log compaction (paper §7, thesis chapter 5): the host's snapshots standing in for the log
//! prefix they cover, the order in which snapshot and cut reach the disk, the leader sending its
//! snapshot to a follower whose next entry it no longer holds, and the follower installing it.
//!
//! Order on disk: a snapshot is written in one ready; the log it covers is cut in a later
//! ready, once `persisted` says the snapshot is durable. Were both in one write, a crash could
//! land the cut and tear the snapshot, and the cut entries would be gone with nothing standing
//! for them.

use std::sync::Arc;

use crate::message::{Body, SnapshotResponse};
use crate::node::{Incoming, RaftNode, Ready, Request, Role, Transfer};
use crate::snapshot::{SharedBytes, Snapshot, SnapshotMeta};
use crate::storage::PersistOp;
use crate::types::{LogIndex, NodeId};
use crate::Bug;

impl RaftNode {
    /// The host's state machine, serialized after applying every entry up to `index` (its
    /// sessions included), stands in from now on for that prefix of the log, which the node
    /// drops: at once from memory, and from the disk once the snapshot is durable. Returns
    /// whether it did: not when `index` is already covered, nor while a rewrite of the log at or
    /// below `index` waits to be written (the written log must match what the snapshot covers).
    ///
    /// # Panics
    /// If the host has not applied `index`: a snapshot may cover only what was applied.
    pub fn maybe_compact(&mut self, index: LogIndex, data: Arc<[u8]>) -> bool {
        assert!(
            index <= self.applied_index,
            "a snapshot through {index}, but only {} was applied",
            self.applied_index
        );
        if index <= self.log.snapshot_index() || self.log_dirty_from.is_some_and(|from| from <= index) {
            return false;
        }
        let Some(last_term) = self.log.term_at(index) else {
            unreachable!("applied entries past the snapshot are in the log")
        };
        let meta = SnapshotMeta { last_index: index, last_term, membership: self.memberships.at(index) };
        self.log.compact(meta);
        self.memberships.compact(index);
        self.snapshot = Some(Snapshot { meta, data });
        self.snapshot_dirty = true;
        self.assert_invariants();
        true
    }

    /// Log writes wait while they would not continue the written log (after an install
    /// discarded it, until the cut through the snapshot is handed over).
    pub(crate) fn writes_held(&self) -> bool {
        self.log_dirty_from.is_some_and(|from| from > self.written_last.next())
    }

    /// The snapshot the pending cut waits for is durable.
    pub(crate) fn cut_due(&self) -> bool {
        self.pending_cut.is_some_and(|(written_in, _)| written_in <= self.persisted_ready)
    }

    /// Hands over, in this order: the truncation of a written log that conflicts with an
    /// installed snapshot, the cut of the log a durable snapshot covers, and a new snapshot.
    pub(crate) fn write_snapshot_and_cut(&mut self, ready: &mut Ready) {
        if let Some(from) = self.truncate_written_from.take() {
            ready.persist.push(PersistOp::Entries { from, entries: Vec::new() });
            self.written_last = self.written_last.min(from.prev());
        }
        if self.cut_due() {
            if let Some((_, through)) = self.pending_cut.take() {
                ready.persist.push(PersistOp::CompactLog { through });
                self.written_last = self.written_last.max(through);
            }
        }
        if self.snapshot_dirty {
            self.snapshot_dirty = false;
            let Some(snapshot) = self.snapshot.clone() else { unreachable!("a dirty snapshot is kept") };
            let meta = snapshot.meta;
            ready.persist.push(PersistOp::Snapshot(snapshot));
            self.unstable_writes.push_back((ready.number, meta.last_index, meta.last_term));
            if self.config.bugs.has(Bug::CutBeforeSnapshotDurable) {
                // The bug: the cut rides in the snapshot's own write.
                ready.persist.push(PersistOp::CompactLog { through: meta.last_index });
                self.written_last = self.written_last.max(meta.last_index);
                self.pending_cut = None;
            } else {
                // A newer snapshot's durability implies the older one's: its cut covers both.
                self.pending_cut = Some((ready.number, meta.last_index));
            }
        }
    }

    /// Sends follower `to` the next chunk of our snapshot: the entries it needs next are ones
    /// the snapshot covers (paper §7). One chunk is in flight at a time; the heartbeat resends
    /// it if its answer does not come.
    pub(crate) fn send_snapshot_chunk(&mut self, to: NodeId) {
        let Some(snapshot) = &self.snapshot else { unreachable!("a compacted log keeps its snapshot") };
        let meta = snapshot.meta;
        let data = Arc::clone(&snapshot.data);
        let Some(progress) = self.progress.get_mut(&to) else { return };
        let offset = match progress.transfer {
            Some(t) if t.last_index == meta.last_index => t.acked.min(data.len() as u64),
            _ => 0,
        };
        progress.transfer = Some(Transfer { last_index: meta.last_index, acked: offset });
        progress.probing = true;
        progress.probe_outstanding = true;
        let end = (offset as usize).saturating_add(self.config.snapshot_chunk_bytes_max).min(data.len());
        let done = end == data.len();
        let chunk = SharedBytes::new(data, offset as usize, end);
        let seq = self.next_seq();
        self.send_now(to, Body::InstallSnapshot { meta: Box::new(meta), offset, data: chunk, done, seq });
    }

    /// The leader's side of an InstallSnapshot answer, to the chunk numbered `seq`.
    pub(crate) fn handle_snapshot_response(
        &mut self,
        follower: NodeId,
        seq: u64,
        response: SnapshotResponse,
    ) {
        let last_index = self.log.last_index();
        let Some(progress) = self.progress.get_mut(&follower) else { return };
        if seq < progress.acks_from {
            return; // from before we (re-)added the follower, or before it reported lost entries
        }
        progress.recently_active = true;
        match response {
            SnapshotResponse::Partial { last_index: of, received } => {
                let Some(transfer) = &mut progress.transfer else { return };
                if transfer.last_index != of {
                    return; // about a snapshot we no longer send
                }
                transfer.acked = received;
                progress.probe_outstanding = false;
                self.send_append(follower, false);
            }
            SnapshotResponse::Done { match_index } => {
                if match_index > last_index {
                    return; // names entries we never had: a broken peer
                }
                progress.lost_from = progress.lost_from.max(seq);
                if match_index > progress.match_index {
                    progress.match_index = match_index;
                }
                if progress.next_index <= match_index {
                    progress.next_index = match_index.next();
                }
                if progress.transfer.is_some_and(|t| t.last_index <= match_index) {
                    progress.transfer = None;
                }
                if progress.transfer.is_none() {
                    progress.probing = false;
                    progress.probe_outstanding = false;
                }
                self.maybe_commit();
                self.send_append(follower, false);
                self.maybe_send_timeout_now();
            }
        }
    }

    /// The follower's side of InstallSnapshot (paper Figure 13, receiver implementation).
    pub(crate) fn handle_install_snapshot(
        &mut self,
        request: Request,
        meta: SnapshotMeta,
        offset: u64,
        data: SharedBytes,
        done: bool,
    ) {
        debug_assert_eq!(self.role, Role::Follower);
        let Request { leader, seq } = request;
        self.leader = Some(leader);
        self.election_elapsed = 0;
        self.since_leader_ticks = 0;
        let reply = |response| Body::InstallSnapshotResponse { seq, response };

        // A snapshot that would not move us forward is refused, whole: the commit and applied
        // indexes never go back. The answer says how far our log matches any leader's (what we
        // committed), so that the leader moves on.
        let stale = meta.last_index <= self.commit_index;
        let buggy =
            self.config.bugs.has(Bug::InstallStaleSnapshot) && meta.last_index > self.log.snapshot_index();
        if stale && !buggy {
            let done = SnapshotResponse::Done { match_index: self.commit_index };
            self.send_after_persist(leader, reply(done));
            return;
        }

        // 2-4. Chunks are taken in order. A first chunk starts over; a chunk of another
        // snapshot, a gap or a duplicate is answered with how much we have, so the leader
        // resends from there.
        let have = match &self.incoming {
            Some(incoming) if incoming.meta == meta => incoming.bytes.len() as u64,
            _ => 0,
        };
        if offset == 0 && have == 0 {
            self.incoming = Some(Incoming { meta, bytes: Vec::new() });
        } else if offset != have {
            let partial = SnapshotResponse::Partial { last_index: meta.last_index, received: have };
            self.send_now(leader, reply(partial));
            return;
        }
        let Some(incoming) = &mut self.incoming else { unreachable!("started above") };
        incoming.bytes.extend_from_slice(data.as_slice());
        if !done {
            // Held in memory only: this answer promises nothing durable.
            let received = incoming.bytes.len() as u64;
            self.send_now(leader, reply(SnapshotResponse::Partial { last_index: meta.last_index, received }));
            return;
        }
        let Some(Incoming { bytes, .. }) = self.incoming.take() else { unreachable!("started above") };
        self.install(Snapshot { meta, data: bytes.into() });
        // 5. The answer promises the snapshot is durable: it waits for the write.
        self.send_after_persist(leader, reply(SnapshotResponse::Done { match_index: meta.last_index }));
    }

    /// Installs a whole snapshot from the leader: it becomes our snapshot and the base of our
    /// log, its index our commit index, and the host replaces its state machine with it.
    fn install(&mut self, snapshot: Snapshot) {
        let meta = snapshot.meta;
        // 6. Keep the entries that follow the snapshot if we hold its last entry, as written
        // (no rewrite of the log at or below it waits to be written). 7. Otherwise drop them all.
        let written_as_held = self.log_dirty_from.is_none_or(|from| from > meta.last_index);
        let keep = written_as_held && !self.config.bugs.has(Bug::InstallDiscardsLog);
        let kept = self.log.install(meta, keep);
        if kept {
            self.memberships.compact(meta.last_index);
        } else {
            self.memberships.reset(meta.last_index, meta.membership);
        }
        if !kept {
            self.log_dirty_from = None;
            // Nothing of this log is known durable until the snapshot's write is.
            self.durable_index = LogIndex::ZERO;
            if self.written_last >= meta.last_index {
                // The written entry at the snapshot's index conflicts with it, and so does
                // everything after it (Log Matching): they go with the snapshot's write.
                let from = self.truncate_written_from.map_or(meta.last_index, |f| f.min(meta.last_index));
                self.truncate_written_from = Some(from);
            }
        }
        self.commit_index = meta.last_index;
        self.snapshot = Some(snapshot);
        self.snapshot_dirty = true;
        self.snapshot_to_apply = true;
        if self.applied_index > meta.last_index {
            // Only the planted bug `install-stale-snapshot` gets here: the state goes back.
            self.applied_index = meta.last_index;
        }
    }
}
