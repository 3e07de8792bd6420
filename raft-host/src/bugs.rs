//! A catalog of deliberately wrong behaviours, each a classic Raft bug that real implementations
//! have shipped. They exist so that the simulator can prove its checks catch real mistakes.
//!
//! Every bug is off unless a host switches it on; a normal run pays one bit test at each guarded
//! rule and nothing else. Each bug lives in one layer: most in the protocol (`raft-core` has them
//! planted; another implementation behind the host contract has none of them), a few in the
//! replicated state machine (`raft-kv`, above the contract, so they apply to any
//! implementation): see [`Bug::in_state_machine`].

use std::fmt;
use std::str::FromStr;

/// One planted bug.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Bug {
    /// A leader commits an entry of an earlier term once a majority holds it (paper §5.4.2 and
    /// Figure 8 show how such an entry can still be overwritten).
    CommitPreviousTerm,
    /// A voter grants its vote without checking that the candidate's log is at least as
    /// up to date as its own (paper §5.4.1), so a leader can miss committed entries.
    VoteWithoutLogCheck,
    /// A voter answers before its vote is durable and never persists it; after a crash it can
    /// vote again in the same term.
    VoteNotPersisted,
    /// A follower acknowledges appended entries before they are durable, so a crash can lose an
    /// entry the leader counted towards a majority.
    AckBeforeDurable,
    /// A follower truncates its log to the end of any AppendEntries, even a stale or reordered one
    /// whose entries all match, dropping entries it already acknowledged (paper Figure 2 says to
    /// delete only on a conflict).
    TruncateOnStaleAppend,
    /// The state machine has no session table: a retried command applies twice.
    NoDeduplication,
    /// A leader that hears of a higher term adopts it but keeps acting as leader.
    LeaderIgnoresHigherTerm,
    /// A leader answers Get from its local state without confirming it still leads, so a
    /// deposed leader serves stale reads.
    StaleLeaderRead,
    /// After a rejected AppendEntries the leader backs `nextIndex` off to one entry past the
    /// follower's hint, never onto it, so a follower whose log ends short of the leader's is
    /// probed at the same index forever: the cluster stays busy and never catches it up.
    ProbeStopsShort,
    /// A follower installs a snapshot at or below its commit index (a duplicate or a late one)
    /// instead of refusing it, so its state machine and applied index move back (paper Figure
    /// 13 installs only what moves the follower forward).
    InstallStaleSnapshot,
    /// A follower installing a snapshot discards its whole log, even entries that follow the
    /// snapshot's last entry and match it, which it may have acknowledged (Figure 13, step 6).
    InstallDiscardsLog,
    /// A node restarted from a snapshot starts its applied index at 0, not at the snapshot's
    /// index, so the snapshot its host restored from is handed over and applied a second time.
    RestartAppliedZero,
    /// The state machine's snapshot leaves out the client session table: after a restore, a
    /// retried command applies again (thesis §6.3: sessions must survive compaction).
    SnapshotWithoutSessions,
    /// The log is cut in the same write as the snapshot covering the cut, not once the snapshot
    /// is durable: a crash that lands the cut but tears the snapshot loses the cut entries.
    CutBeforeSnapshotDurable,
    /// A leader starts a membership change before it has committed an entry of its own term:
    /// the single-server change bug of the 2015 raft-dev post, where two leaders' majorities of
    /// configurations two changes apart decide apart.
    ChangeBeforeOwnTermCommit,
    /// A learner's vote and its acknowledgements count as a voter's, so a candidate wins, or a
    /// leader commits, without a majority of the voters.
    LearnerVotes,
    /// A leader hands over a ReadIndex read before a majority confirmed it still leads, so a
    /// deposed leader serves a stale read (thesis §6.4, step 3 skipped).
    ReadBeforeConfirm,
    /// A leader's lease is the raw minimum election timeout, with no allowance for clock drift,
    /// so a leader whose clock runs slow serves reads after another leader took over.
    LeaseIgnoresDrift,
    /// With check-quorum, a leader marks a follower active when it sends it a heartbeat, not
    /// when the follower answers: a leader cut off from hearing its followers never steps down,
    /// and its heartbeats, which still arrive, keep the rest of the cluster from electing
    /// another (a liveness bug only a fault that lasts shows).
    ActiveOnSend,
    /// The host's recovery trusts a log record that decodes without checking its checksum, so
    /// a node restarts on data its disk damaged (bit rot, a misdirected write).
    TrustUnverifiedRecord,
    /// A node whose recovery lost log entries it may have acknowledged (its fence is up) votes
    /// and campaigns as if nothing happened, as if its shorter log were all it ever held: a
    /// candidate missing a committed entry can then win (protocol-aware recovery, FAST 2018).
    VoteAfterLosingLog,
}

impl Bug {
    pub const ALL: [Bug; 17] = [
        Bug::CommitPreviousTerm,
        Bug::VoteWithoutLogCheck,
        Bug::VoteNotPersisted,
        Bug::AckBeforeDurable,
        Bug::TruncateOnStaleAppend,
        Bug::NoDeduplication,
        Bug::LeaderIgnoresHigherTerm,
        Bug::StaleLeaderRead,
        Bug::ProbeStopsShort,
        Bug::InstallStaleSnapshot,
        Bug::InstallDiscardsLog,
        Bug::RestartAppliedZero,
        Bug::SnapshotWithoutSessions,
        Bug::CutBeforeSnapshotDurable,
        Bug::ActiveOnSend,
        Bug::TrustUnverifiedRecord,
        Bug::VoteAfterLosingLog,
    ];

    /// Whether the bug is planted in the state machine above the Raft implementation (the KV
    /// service and its snapshots) rather than in the protocol.
    #[must_use]
    pub fn in_state_machine(self) -> bool {
        matches!(self, Bug::NoDeduplication | Bug::StaleLeaderRead | Bug::SnapshotWithoutSessions)
    }

    /// Whether the bug is planted in the host's storage recovery (below the implementation),
    /// so that it applies to any implementation.
    #[must_use]
    pub fn in_host_storage(self) -> bool {
        matches!(self, Bug::TrustUnverifiedRecord)
    }

    /// The name used on the command line (`--bug NAME`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitPreviousTerm => "commit-previous-term",
            Bug::VoteWithoutLogCheck => "vote-without-log-check",
            Bug::VoteNotPersisted => "vote-not-persisted",
            Bug::AckBeforeDurable => "ack-before-durable",
            Bug::TruncateOnStaleAppend => "truncate-on-stale-append",
            Bug::NoDeduplication => "no-deduplication",
            Bug::LeaderIgnoresHigherTerm => "leader-ignores-higher-term",
            Bug::StaleLeaderRead => "stale-leader-read",
            Bug::ProbeStopsShort => "probe-stops-short",
            Bug::InstallStaleSnapshot => "install-stale-snapshot",
            Bug::InstallDiscardsLog => "install-discards-log",
            Bug::RestartAppliedZero => "restart-applied-zero",
            Bug::SnapshotWithoutSessions => "snapshot-without-sessions",
            Bug::CutBeforeSnapshotDurable => "cut-before-snapshot-durable",
            Bug::ChangeBeforeOwnTermCommit => "change-before-own-term-commit",
            Bug::LearnerVotes => "learner-votes",
            Bug::ReadBeforeConfirm => "read-before-confirm",
            Bug::LeaseIgnoresDrift => "lease-ignores-drift",
            Bug::ActiveOnSend => "active-on-send",
            Bug::TrustUnverifiedRecord => "trust-unverified-record",
            Bug::VoteAfterLosingLog => "vote-after-losing-log",
        }
    }

    /// One line saying what goes wrong.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Bug::CommitPreviousTerm => {
                "leader commits an entry of an earlier term by counting replicas (paper Figure 8)"
            }
            Bug::VoteWithoutLogCheck => "voter grants its vote without the log up-to-date check",
            Bug::VoteNotPersisted => "voter answers without persisting its vote first",
            Bug::AckBeforeDurable => "follower acknowledges an append before it is durable",
            Bug::TruncateOnStaleAppend => {
                "follower truncates its log on a stale AppendEntries whose entries already match"
            }
            Bug::NoDeduplication => "state machine applies a retried client command twice",
            Bug::LeaderIgnoresHigherTerm => "leader keeps leading after it hears a higher term",
            Bug::StaleLeaderRead => "leader serves Get from local state without confirming it still leads",
            Bug::ProbeStopsShort => {
                "leader backs nextIndex off to one entry short of a lagging follower's log, forever"
            }
            Bug::InstallStaleSnapshot => {
                "follower installs a snapshot at or below its commit index, moving back"
            }
            Bug::InstallDiscardsLog => {
                "follower installing a snapshot discards its whole log, matching entries after it too"
            }
            Bug::RestartAppliedZero => {
                "node restarted from a snapshot starts at applied index 0 and applies the snapshot again"
            }
            Bug::SnapshotWithoutSessions => "state machine snapshot leaves out the client session table",
            Bug::CutBeforeSnapshotDurable => {
                "log is cut in the same write as its snapshot, before it is durable"
            }
            Bug::ChangeBeforeOwnTermCommit => {
                "leader starts a membership change before committing an entry of its term (2015)"
            }
            Bug::LearnerVotes => "a learner's vote and acknowledgements count as a voter's",
            Bug::ReadBeforeConfirm => "leader serves a ReadIndex read before confirming it still leads",
            Bug::LeaseIgnoresDrift => "leader's read lease is the raw election timeout, ignoring clock drift",
            Bug::ActiveOnSend => {
                "leader counts a follower active when it sends it a heartbeat, so check-quorum never deposes it"
            }
            Bug::TrustUnverifiedRecord => "host recovery uses a log record without checking its checksum",
            Bug::VoteAfterLosingLog => {
                "node that lost acknowledged log entries to its disk votes as if its log were complete"
            }
        }
    }

    /// Bugs on the paths of membership changes, leadership transfer and reads without the log.
    /// Kept out of [`Bug::ALL`], the bugs the plain swarm catches: two of them need a swarm
    /// configuration fitted to them, and two a scenario that stages their precondition (see the
    /// simulator's `selftest::staging`).
    pub const MEMBERSHIP_AND_READS: [Bug; 4] =
        [Bug::ChangeBeforeOwnTermCommit, Bug::LearnerVotes, Bug::ReadBeforeConfirm, Bug::LeaseIgnoresDrift];

    /// Every planted bug: [`Bug::ALL`], then [`Bug::MEMBERSHIP_AND_READS`].
    pub fn every() -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().chain(Bug::MEMBERSHIP_AND_READS)
    }

    fn bit(self) -> u64 {
        1 << (self as u64)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::every().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Bug::every().map(|b| b.name()).collect();
            format!("unknown bug '{s}'; expected one of: {}", names.join(", "))
        })
    }
}

/// The set of bugs switched on; empty by default.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct BugSet(u64);

impl BugSet {
    #[must_use]
    pub fn none() -> BugSet {
        BugSet(0)
    }
    #[must_use]
    pub fn with(self, bug: Bug) -> BugSet {
        BugSet(self.0 | bug.bit())
    }
    #[inline]
    #[must_use]
    pub fn has(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::every().filter(move |b| self.has(*b))
    }
}

impl FromIterator<Bug> for BugSet {
    fn from_iter<I: IntoIterator<Item = Bug>>(iter: I) -> BugSet {
        iter.into_iter().fold(BugSet::none(), BugSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bug_name_parses_back_to_itself() {
        for bug in Bug::every() {
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
        }
        assert!("no-such-bug".parse::<Bug>().is_err());
    }

    #[test]
    fn a_bug_set_holds_exactly_what_was_added() {
        let set = BugSet::none().with(Bug::NoDeduplication).with(Bug::AckBeforeDurable);
        assert!(set.has(Bug::NoDeduplication));
        assert!(set.has(Bug::AckBeforeDurable));
        assert!(!set.has(Bug::CommitPreviousTerm));
        assert_eq!(set.iter().count(), 2);
        assert!(BugSet::default().is_empty());
    }
}
