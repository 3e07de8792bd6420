//! Protocol-aware recovery: what a node does after its disk lost something it had promised.
//!
//! Raft's safety rests on durable promises: a vote, once granted, stands for its term; an entry,
//! once acknowledged, stays in the log (paper Figure 2: persist "before responding to RPCs").
//! A disk that flips bits, fails a read, misplaces a write or loses one it acknowledged breaks
//! those promises behind the node's back. Alagappan et al. ("Protocol-Aware Recovery for
//! Consensus-Based Storage", FAST 2018) show that neither refusing to start nor carrying on
//! with what is left is right: the first loses availability to one bad block, the second lets
//! a node vote as if its shorter log were all it ever held, so that a candidate missing a
//! committed entry can win and the entry is lost.
//!
//! The host's recovery keeps what its checksums verify (the records before the first damage),
//! keeps the term and vote apart from the log in several checksummed copies, and hands the node
//! a [`Fence`] saying what may be lost (see `raft_host::storage`). Our rules, with the fence up:
//!
//! 1. **No vote.** The node grants no vote and no pre-vote: its log may be shorter than the log
//!    it acknowledged, so the up-to-date check (paper §5.4.1) would judge candidates against the
//!    wrong log. With at most a minority of nodes fenced, any election still needs a majority of
//!    unfenced voters, and every committed entry is held by at least one of them.
//! 2. **No campaign.** Its own log may lack committed entries, so it must not lead.
//! 3. **It still accepts entries and acknowledges them.** An acknowledgement says what its log
//!    holds durably *now*, which is true; the leader's old count of an acknowledgement the disk
//!    lost since is covered by rule 1 (the node cannot help elect a leader without the entry).
//! 4. **Repair.** The fence comes down once a leader of a term *after* the fence's term has
//!    made the node's log match its own up to an entry of the leader's own term that the leader
//!    committed. That leader holds every entry committed before its term (Leader Completeness),
//!    including any that the old leader of the fenced term may still commit by counting the
//!    lost acknowledgement, and all of them precede its own committed entry: from then on the
//!    node's log is again a log it may vote on. A leader of the fenced term itself does not
//!    repair it: it may still count the lost acknowledgement for an entry it has not sent again.
//! 5. **Lost term and vote** (a wiped disk, beyond the storage budget): the fence is
//!    `Unknown`. The node follows rules 1 to 4 in any term, and once repaired records the
//!    repairing leader as its vote in that term, so that it never votes for another there. It
//!    cannot know whether it voted in a later term before the wipe; that is why a wiped term
//!    and vote is beyond the budget: the harness labels such runs unrecoverable by design.
//!
//! The fence and its lifting are written to the host like the term and vote
//! ([`PersistOp::Fence`]); the host keeps the fence up if a crash comes first.

use raft_host::storage::Fence;

use crate::node::RaftNode;
use crate::storage::PersistOp;
use crate::types::Term;
use crate::Bug;

impl RaftNode {
    /// Whether the node may have lost something it promised and is not repaired yet (rules 1
    /// and 2 apply). Planted bug `vote-after-losing-log` ignores the fence.
    #[must_use]
    pub fn fenced(&self) -> bool {
        self.fence != Fence::None && !self.config.bugs.has(Bug::VoteAfterLosingLog)
    }

    /// The node's recovery fence, as its host restored it or as it lifted it.
    #[must_use]
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// Rule 4: after an accepted AppendEntries of the current term, lifts the fence if this
    /// term's leader is later than the fence and has committed, to us, an entry of its term.
    pub(crate) fn maybe_lift_fence(&mut self) {
        let later = match self.fence {
            Fence::None => return,
            Fence::Through(term) => self.term > term,
            Fence::Unknown => self.term > Term::ZERO,
        };
        if !later || self.log.term_at(self.commit_index) != Some(self.term) {
            return;
        }
        if self.fence == Fence::Unknown && self.vote.is_none() {
            // Rule 5: count as having voted for the leader that repaired us, in its term.
            self.vote = self.leader;
            self.hard_state_dirty = true;
        }
        self.fence = Fence::None;
        self.fence_dirty = true;
    }

    /// The fence write, if the fence changed since the last ready.
    pub(crate) fn take_fence_write(&mut self) -> Option<PersistOp> {
        if !self.fence_dirty {
            return None;
        }
        self.fence_dirty = false;
        Some(PersistOp::Fence(self.fence))
    }
}
