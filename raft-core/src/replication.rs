//! Log replication: the leader's side (sending, acknowledgements, commitment) and the
//! follower's side (the consistency check and conflict repair), paper §5.3 and §5.4.2. Where
//! the entries a follower needs are compacted, the leader sends its snapshot instead (see
//! `compaction.rs`).

use crate::message::{AppendResponse, Body, Entry, Payload};
use crate::node::{RaftNode, Request, Role};
use crate::types::{LogIndex, NodeId, Term};
use crate::Bug;
use raft_host::Backoff;

impl RaftNode {
    /// Appends an entry of our term to our own log; the leader's only way of adding entries.
    pub(crate) fn append_own_entry(&mut self, payload: Payload) -> LogIndex {
        assert_eq!(self.role, Role::Leader, "only a leader appends its own entries");
        let index = self.log.last_index().next();
        self.log.push(Entry { term: self.term, index, payload });
        self.mark_log_dirty(index);
        index
    }

    /// Sends each follower (voter or learner) what it is missing (or nothing, if it is up to
    /// date).
    pub(crate) fn broadcast_append(&mut self) {
        for id in self.followers() {
            self.send_append(id, false);
        }
    }

    /// The members this leader replicates to, in id order.
    pub(crate) fn followers(&self) -> Vec<NodeId> {
        self.progress.keys().copied().collect()
    }

    /// The heartbeat: every follower gets an AppendEntries, which doubles as retransmission of
    /// anything unacknowledged (an optimistic `next_index` rewinds to just past the match).
    pub(crate) fn heartbeat(&mut self) {
        let followers = self.followers();
        // By id, or from a start that moves on with every heartbeat (an implementation choice).
        let start = if self.config.choices.rotate_followers && !followers.is_empty() {
            self.heartbeats_sent = self.heartbeats_sent.wrapping_add(1);
            (self.heartbeats_sent % followers.len() as u64) as usize
        } else {
            0
        };
        for k in 0..followers.len() {
            self.heartbeat_to(followers[(start + k) % followers.len()]);
        }
    }

    /// A heartbeat to follower `to`: an append from its `next_index`, with the entries from
    /// there unless heartbeats are chosen to carry none (then the entries follow the follower's
    /// answer).
    fn send_heartbeat(&mut self, to: NodeId) {
        let Some(progress) = self.progress.get(&to) else { return };
        let next_index = progress.next_index;
        let empty = self.config.choices.empty_heartbeats
            && !progress.probe_outstanding
            && next_index.prev() >= self.log.snapshot_index();
        if !empty {
            self.send_append(to, true);
            return;
        }
        let prev_log_index = next_index.prev();
        let Some(prev_log_term) = self.log.term_at(prev_log_index) else {
            unreachable!("prev_log_index is within the log")
        };
        let Some(progress) = self.progress.get_mut(&to) else { unreachable!("looked up above") };
        if progress.probing {
            progress.probe_outstanding = true;
        }
        let leader_commit = self.commit_index;
        let seq = self.next_seq();
        self.send_now(
            to,
            Body::AppendEntries { prev_log_index, prev_log_term, entries: Vec::new(), leader_commit, seq },
        );
    }

    /// The heartbeat to one follower.
    pub(crate) fn heartbeat_to(&mut self, id: NodeId) {
        let Some(progress) = self.progress.get_mut(&id) else { return };
        progress.probe_outstanding = false;
        if self.config.bugs.has(Bug::ActiveOnSend) {
            progress.recently_active = true;
        }
        if !progress.probing {
            progress.next_index = progress.match_index.next();
        }
        self.send_heartbeat(id);
    }

    /// Sends follower `to` the entries from its `next_index`, or a chunk of our snapshot if the
    /// entry before them is compacted. With `always`, an empty AppendEntries goes out too (a
    /// heartbeat); otherwise only one that carries entries. Nothing for a non-member.
    pub(crate) fn send_append(&mut self, to: NodeId, always: bool) {
        let last_index = self.log.last_index();
        let Some(progress) = self.progress.get_mut(&to) else { return };
        if progress.probe_outstanding {
            return;
        }
        let next_index = progress.next_index;
        if next_index.prev() < self.log.snapshot_index() {
            self.send_snapshot_chunk(to);
            return;
        }
        progress.transfer = None;
        if next_index > last_index && !always {
            return;
        }
        assert!(next_index.0 >= 1 && next_index <= last_index.next(), "next_index out of range");
        let prev_log_index = next_index.prev();
        let Some(prev_log_term) = self.log.term_at(prev_log_index) else {
            unreachable!("prev_log_index is within the log")
        };
        let entries = self.log.slice_from(next_index, self.config.append_entries_max).to_vec();
        let Some(progress) = self.progress.get_mut(&to) else { unreachable!("looked up above") };
        if progress.probing {
            progress.probe_outstanding = true;
        } else if let Some(last) = entries.last() {
            progress.next_index = last.index.next();
            // Without pipelining one append is in flight at a time: the next waits for its
            // answer (or for the next heartbeat, should it be lost).
            if self.config.choices.no_pipelining {
                progress.probe_outstanding = true;
            }
        }
        let leader_commit = self.commit_index;
        let seq = self.next_seq();
        self.send_now(to, Body::AppendEntries { prev_log_index, prev_log_term, entries, leader_commit, seq });
    }

    /// The follower's side of AppendEntries (paper Figure 2, receiver implementation).
    pub(crate) fn handle_append(
        &mut self,
        request: Request,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
    ) {
        debug_assert_eq!(self.role, Role::Follower);
        let Request { leader, seq } = request;
        self.leader = Some(leader);
        self.election_elapsed = 0;
        self.since_leader_ticks = 0;

        // Entries our snapshot covers are committed, so they match the log of any leader of our
        // term (Leader Completeness, paper §5.4): skip them, and check what follows against the
        // snapshot's last entry. A message that disagrees with it comes from no correct leader.
        let (prev_log_index, prev_log_term, entries) = if prev_log_index < self.log.snapshot_index() {
            let base = self.log.snapshot_meta();
            let mut entries = entries;
            let covered = (base.last_index.0 - prev_log_index.0) as usize;
            if entries.len() >= covered && entries[covered - 1].term != base.last_term {
                return;
            }
            let rest = entries.split_off(covered.min(entries.len()));
            (base.last_index, base.last_term, rest)
        } else {
            (prev_log_index, prev_log_term, entries)
        };

        // 2. Reply false if the log has no entry at prevLogIndex whose term is prevLogTerm.
        let ours = self.log.term_at(prev_log_index);
        if ours != Some(prev_log_term) {
            let (conflict_term, conflict_index) = match ours {
                None => (None, self.log.last_index().next()),
                Some(term) => (Some(term), self.log.first_index_of_term(term, prev_log_index)),
            };
            let rejected = AppendResponse::Rejected {
                rejected_prev_index: prev_log_index,
                conflict_term,
                conflict_index,
                lost: self.fence != raft_host::storage::Fence::None,
            };
            self.send_after_persist(leader, Body::AppendEntriesResponse { seq, response: rejected });
            return;
        }
        // A malformed message is dropped whole: entries must follow prev densely, and their
        // terms must not decrease nor pass the sender's term.
        let mut term_floor = prev_log_term;
        for (k, e) in entries.iter().enumerate() {
            if e.index != prev_log_index.plus(k as u64 + 1) || e.term < term_floor || e.term > self.term {
                return;
            }
            term_floor = e.term;
        }
        let last_new = prev_log_index.plus(entries.len() as u64);

        if self.config.bugs.has(Bug::TruncateOnStaleAppend) && !entries.is_empty() {
            // The bug: make the log end exactly where this message ends, conflict or not.
            self.log.truncate_from(prev_log_index.next());
            self.mark_log_dirty(prev_log_index.next());
            for entry in entries {
                self.log.push(entry);
            }
        } else {
            // 3-4. Skip entries we already hold; at the first conflict (same index, different
            // term) delete ours from there on, then append the rest. Matching entries are never
            // deleted, so a stale or reordered AppendEntries cannot cut the log short.
            let mut new_entries = entries.into_iter().peekable();
            while let Some(entry) = new_entries.peek() {
                match self.log.term_at(entry.index) {
                    Some(term) if term == entry.term => {
                        new_entries.next();
                    }
                    Some(_) => {
                        self.log.truncate_from(entry.index);
                        break;
                    }
                    None => break,
                }
            }
            if let Some(first) = new_entries.peek() {
                let from = first.index;
                for entry in new_entries {
                    self.log.push(entry);
                }
                self.mark_log_dirty(from);
            }
        }

        // 5. Advance the commit index, but never past what this message proved matches: our
        // log may hold stale entries beyond `last_new`.
        let commit = leader_commit.min(last_new);
        if commit > self.commit_index {
            self.commit_index = commit;
        }
        self.maybe_lift_fence();
        let accepted =
            Body::AppendEntriesResponse { seq, response: AppendResponse::Accepted { match_index: last_new } };
        if self.config.bugs.has(Bug::AckBeforeDurable) {
            self.send_now(leader, accepted);
        } else {
            self.send_after_persist(leader, accepted);
        }
    }

    /// The leader's side of an AppendEntries answer, to the request numbered `seq`.
    pub(crate) fn handle_append_response(&mut self, follower: NodeId, seq: u64, response: AppendResponse) {
        let last_index = self.log.last_index();
        let Some(progress) = self.progress.get_mut(&follower) else { return };
        let from = match response {
            // An acknowledgement from before we (re-)added the follower, or from before it
            // reported lost entries, credits it with entries it may no longer hold.
            AppendResponse::Accepted { .. } => progress.acks_from,
            // A report of lost entries brings the match down: one older than an acknowledgement
            // we took speaks of a log since repaired. An ordinary rejection only moves where we
            // probe, and the indexes it names sort out the stale ones below.
            AppendResponse::Rejected { lost: true, .. } => progress.lost_from,
            AppendResponse::Rejected { lost: false, .. } => progress.first_seq,
        };
        if seq < from {
            return;
        }
        progress.recently_active = true;
        match response {
            AppendResponse::Accepted { match_index } => {
                if match_index > last_index {
                    return; // names entries we never sent: a broken peer
                }
                progress.lost_from = progress.lost_from.max(seq);
                if match_index > progress.match_index {
                    progress.match_index = match_index;
                }
                if progress.next_index <= match_index {
                    progress.next_index = match_index.next();
                }
                progress.probing = false;
                progress.probe_outstanding = false;
                self.maybe_commit();
                self.send_append(follower, false);
                self.maybe_send_timeout_now();
            }
            AppendResponse::Rejected { rejected_prev_index, conflict_term, conflict_index, lost } => {
                if lost && conflict_index <= progress.match_index && rejected_prev_index <= last_index {
                    // The follower's disk lost what it acknowledged (recovery rule 3): what we
                    // counted for it is gone, so its match comes down and we probe it afresh.
                    // Lowering a match index only delays commits, so a stale answer does no harm.
                    progress.match_index = conflict_index.prev();
                    progress.next_index = rejected_prev_index.next();
                    progress.probing = false;
                    progress.transfer = None;
                    progress.acks_from = progress.acks_from.max(seq);
                }
                if rejected_prev_index <= progress.match_index || rejected_prev_index > last_index {
                    // An answer to something older than what the follower since accepted, or
                    // about entries we never had: nothing to learn from it.
                    return;
                }
                if progress.probing && rejected_prev_index.next() != progress.next_index {
                    return; // an answer to an earlier probe
                }
                // Fast back-off: skip the follower's whole conflicting term, or to the end of
                // its log when it is too short.
                let hint = match conflict_term {
                    Some(term) => self.log.last_index_of_term(term).map_or(conflict_index, LogIndex::next),
                    None => conflict_index,
                };
                let Some(progress) = self.progress.get_mut(&follower) else {
                    unreachable!("looked up above")
                };
                let floor = progress.match_index.next();
                progress.next_index = match self.config.choices.backoff {
                    Backoff::ConflictTerm => hint.min(rejected_prev_index).max(floor),
                    // The paper's Figure 2: one entry back per rejection over a conflicting
                    // tail. A follower whose log ends before the probe is probed at its end at
                    // once: stepping one entry a round trip down to a wiped follower's empty
                    // log took longer than the liveness bound (swarm seeds 1227 and 1489).
                    Backoff::OneAtATime => match conflict_term {
                        Some(_) => rejected_prev_index,
                        None => conflict_index.min(rejected_prev_index),
                    }
                    .max(floor),
                    // Straight to what is known to match.
                    Backoff::ToMatchIndex => floor,
                };
                if self.config.bugs.has(Bug::ProbeStopsShort) {
                    // The bug: one entry short of where the follower's log agrees, so once the
                    // hint is exact the same probe repeats forever.
                    progress.next_index = progress.next_index.next();
                }
                progress.probing = true;
                progress.probe_outstanding = false;
                self.send_append(follower, true);
            }
        }
    }

    /// Advances the commit index to the highest entry of the current term that a majority of
    /// the configuration in force holds (paper §5.3, with the §5.4.2 restriction to the
    /// leader's own term; thesis §4.1 for the configuration). A leader that removed itself does
    /// not count its own log (thesis §4.2.2); learners never count.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let me = self.config.id;
        let membership = *self.memberships.latest();
        let counted =
            if self.config.bugs.has(Bug::LearnerVotes) { membership.members() } else { membership.voters };
        // The quorum-th highest match: sorted on the stack for clusters of up to 16 voters.
        let mut stack = [LogIndex::ZERO; 16];
        let mut heap = Vec::new();
        let matched: &mut [LogIndex] = if counted.len() <= stack.len() {
            &mut stack[..counted.len()]
        } else {
            heap.resize(counted.len(), LogIndex::ZERO);
            &mut heap
        };
        for (slot, id) in matched.iter_mut().zip(counted.iter()) {
            *slot = if id == me {
                self.durable_index
            } else {
                self.progress.get(&id).map_or(LogIndex::ZERO, |p| p.match_index)
            };
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = matched.get(membership.quorum() - 1) else { return false };
        if candidate <= self.commit_index {
            return false;
        }
        let own_term = self.log.term_at(candidate) == Some(self.term);
        if !own_term && !self.config.bugs.has(Bug::CommitPreviousTerm) {
            return false;
        }
        self.commit_index = candidate;
        // Reads that waited for an entry of this term to commit can take their index now.
        self.maybe_start_waiting_reads();
        true
    }
}
