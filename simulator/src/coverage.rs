//! What a run reached: a catalogue of Raft behaviours ("sometimes" points, after FoundationDB's
//! code probes and Antithesis's sometimes-assertions), each hit at one line of the simulator
//! where the behaviour shows, named for the behaviour.
//!
//! Most points are states in which getting one rule of the paper's Figure 2 wrong would matter
//! (a vote requested by a candidate with a stale log; a matching AppendEntries that ends before
//! the follower's log while the leader's commit is ahead of its end), seen from outside the node:
//! the message delivered and the receiver's view when it arrives, or a node's view before and
//! after an event. Seen from outside, they apply to any implementation behind the host contract.
//! The others are faults as they fired, snapshot, client and liveness paths.
//!
//! A point may be rare: not expected in an ordinary sweep (a sweep never reaching it is not a
//! warning). A sweep lists every point with the seeds that reached it and the first one; `sweep
//! --require-coverage` fails when a point that is not rare was never reached; `raftsim coverage
//! --seed N` shows one run's points; `sweep --guided` forks runs where they reach what the sweep
//! has not seen yet.

use serde::Serialize;

use crate::config::Implementation;

macro_rules! points {
    ($($variant:ident $name:literal $rare:literal $what:literal,)*) => {
        /// One behaviour of the catalogue.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Point { $($variant,)* }

        impl Point {
            pub const ALL: &'static [Point] = &[$(Point::$variant,)*];

            /// The point's name, as reports show it.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self { $(Point::$variant => $name,)* }
            }

            /// The point of this name, if the catalogue has one.
            #[must_use]
            pub fn named(name: &str) -> Option<Point> {
                match name { $($name => Some(Point::$variant),)* _ => None }
            }

            /// Whether an ordinary sweep is not expected to reach it.
            #[must_use]
            pub fn rare(self) -> bool {
                match self { $(Point::$variant => $rare,)* }
            }

            /// One line saying what the behaviour is and why it matters.
            #[must_use]
            pub fn what(self) -> &'static str {
                match self { $(Point::$variant => $what,)* }
            }
        }
    };
}

points! {
    // ----- Elections (Figure 2, RequestVote; §5.2, §5.4.1, thesis §9.6) -----
    ElectionStarted "election: a candidate stands" false "a node raised its term and asked for votes",
    SplitVote "election: split vote" false "a candidate's election timed out and it stood again in a new term",
    PreVoteLost "election: pre-vote lost" false "a pre-candidate failed to gather a majority and its term did not move (thesis §9.6)",
    VoteRequestStaleLog "vote: request from a stale log" false "a vote request reached a voter whose log is more up to date than the candidate's (grant only an up-to-date log, §5.4.1)",
    VoteRequestStaleTerm "vote: request of an older term" false "a vote request from an earlier term reached a voter (reply false if term < currentTerm)",
    VoteRequestAfterVoting "vote: request after voting for another" false "a vote request reached a voter that already voted for another candidate in that term (one vote per term)",
    VoteRequestRepeated "vote: request repeated" false "a candidate's request reached the voter that had already granted it, again",
    VoteReplyLate "vote: late vote" false "a granted vote reached a node that was no longer a candidate of that term",
    PreVoteWhileLeaderHeard "vote: pre-vote to a node that hears a leader" false "a pre-vote request reached a follower that knows a leader of its term",
    PreVoteStaleLog "vote: pre-vote from a stale log" false "a pre-vote request reached a node whose log is more up to date than the asker's",
    LeaderElected "leader: elected" false "a node became leader",
    LeaderShorterLog "leader: elected with a shorter log than a follower's" false "a new leader's log is shorter than another live node's (legal when the longer one holds uncommitted entries)",
    LeaderUncommittedEarlierTerms "leader: elected over uncommitted entries of earlier terms" false "a new leader holds entries of earlier terms that nobody counts committed: the paper's Figure 8 situation",
    LeaderBehindCommit "leader: elected behind the cluster's commit" false "a new leader's state machine has not applied entries the cluster already committed: until it commits an entry of its own term it cannot know them committed, so it must not answer from its state (thesis §6.4, step 1). Guided exploration tries the election again on branches that run five times as long as at other hazards, long enough for a client that lost the old leader to find the new one",
    ReadAtLeaderBehindCommit "client: a read reaches a leader behind the cluster's commit" false "a read reached a leader whose state machine lacks entries the cluster committed: answered from that state it would be stale (thesis §6.4). Dated just before the client's call, the moment guided exploration tries again (a branch draws the call anew while the leader still lags)",
    ReadAtDeposedLeader "client: a read reaches a deposed leader" false "a read reached a leader while a newer term's leader leads elsewhere: unless it confirms its leadership first (a round of heartbeats, or a lease that a clock bound keeps short of the next election), it answers from a state the new leader may already have changed (thesis §6.4, step 3). Dated just before the client's call, the moment guided exploration tries again",
    EarlierTermCommittedThroughOwn "leader: earlier-term entry committed through its own" false "a leader's commit index passed entries of earlier terms together with one of its own term (§5.4.2)",
    AckBeforeLeaderDurable "commit: acknowledged before the leader's own copy was durable" false "a follower acknowledged a leader's entries while the leader's durable log still ended in an earlier-term entry past its commit: one such acknowledgement short of a majority, only the rule that commits an entry of the leader's own term by counting stands between the leader and committing the earlier one (Figure 2). Dated at the leader's election, the moment guided exploration tries again",
    AppendEarlierTermsOnly "append: a batch of earlier-term entries past the leader's commit" false "an AppendEntries of the follower's own term whose last entry is of an earlier term and past the leader's commit: its acknowledgement must not commit anything (commit only log[N].term == currentTerm, Figure 2)",
    LeaderDeposedByTerm "leader: deposed by a higher term" false "a leader heard of a higher term and stepped down",
    LeaderStepDownQuorum "leader: steps down, no quorum heard" false "a leader stepped down in its own term: check-quorum (thesis §6.2)",
    TwoLeadersDifferentTerms "leader: two leaders of different terms at once" false "an old leader cut off in a minority still leads while a newer one leads the majority",
    CandidateStepsDownForLeader "election: candidate meets the leader of its term" false "an AppendEntries of the candidate's own term made it a follower (§5.2)",
    TimeoutNowReceived "leader: transfer's TimeoutNow delivered" true "a leadership transfer told its target to campaign at once (thesis §3.10)",

    // ----- Membership and leadership transfer (thesis chapter 4, §3.10) -----
    ServerAdded "membership: server added as a learner" true "a leader appended a configuration adding a server that only listens until it is caught up (thesis §4.2.1)",
    LearnerPromoted "membership: learner promoted" true "a caught-up learner became a voter",
    ServerRemoved "membership: server removed" true "a leader appended a configuration without a server",
    LeaderRemovesItself "membership: leader removes itself" true "a leader appended a configuration without itself; it leads until that commits (thesis §4.2.2)",
    RemovedLeaderSteppedDown "membership: removed leader stepped down" true "a leader outside its own configuration stepped down in its term, its removal committed",
    RemovedServerCampaigns "membership: removed server times out" true "a server outside the configuration it holds started a (pre-)election: pre-vote, check-quorum and the voters' configuration must keep it harmless (thesis §4.2.3)",
    VoteFromOutsideWhileLeaderHeard "membership: vote request from outside the configuration, leader heard" true "a vote request for a higher term from a server outside the receiver's configuration reached a leader, or a follower that hears one: granting it, or only taking its term, would depose a leader for an election nobody needs, and a removed server that keeps timing out would do so again and again (thesis §4.2.3)",
    WipedServerRejoins "membership: wiped server rejoins" true "a removed server lost its disk and was added back, knowing nothing",
    TransferCompleted "leader: transfer completed" true "the target of a leadership transfer became leader (thesis §3.10)",
    ReadByIndex "client: read answered by ReadIndex" true "a read confirmed by a round of heartbeats and answered once the store applied the read index (thesis §6.4)",
    ReadByLease "client: read answered under a lease" true "a read answered with the lease path configured (thesis §6.4.1): the round is skipped while the lease holds",

    // ----- Replication (Figure 2, AppendEntries; §5.3) -----
    AppendStaleTerm "append: from a deposed leader" false "an AppendEntries of an earlier term reached a node (reply false if term < currentTerm)",
    AppendPrevBeyondLog "append: prev past the follower's log" false "an AppendEntries whose prevLogIndex is past the end of the follower's log (reply false)",
    AppendPrevTermMismatch "append: prev term mismatch" false "an AppendEntries whose prevLogTerm does not match the follower's entry there (reply false)",
    AppendPrevInSnapshot "append: prev under the follower's snapshot" false "an AppendEntries starting inside what the follower's snapshot covers",
    AppendSpanAlreadyHeld "append: span already held" false "a matching AppendEntries whose whole span the follower already holds: a duplicate or reordered one (delete only on a conflict)",
    AppendEndsBeforeFollowerLogCommitAhead "append: ends before the follower's log, leader commit past its end" false "a matching AppendEntries ending before the follower's last entry while the leader's commit is past its end (commit = min(leaderCommit, last new entry))",
    ConflictTruncated "append: conflicting suffix truncated" false "a follower deleted entries that conflict with the leader's (§5.3)",
    AppendRejectedAtLeader "append: rejection reaches the leader" false "a follower's refusal reached its leader, which backs off nextIndex",
    AppendReplyStale "append: answer of an older term" false "an AppendEntries answer reached a leader of a later term",
    FollowerCommitAdvanced "commit: a follower learns of a commit" false "a follower's commit index moved on the leader's word",
    FollowerFarBehind "append: a follower 50 entries behind" false "a live follower's log ended 50 or more entries before the leader's commit index",

    // ----- Crashes and persistence (§5.1 persistent state) -----
    CrashWritesInFlight "crash: writes in flight" false "a node crashed with writes not yet durable",
    CrashOfLeader "crash: of a leader" false "a leader crashed",
    CrashOfLeaderUncommitted "crash: of a leader with uncommitted entries" false "a leader crashed holding entries it had not committed",
    CrashAfterVoteBeforeReply "crash: vote durable, reply in flight" false "a node crashed after its granted vote became durable while the reply was still on its way",
    CrashAfterAck "crash: after acknowledging an uncommitted entry" false "a follower crashed after acknowledging entries past anything committed",
    TornWrite "crash: a write torn" false "a crash left a prefix of a write on disk",
    TornTailRecovered "restart: torn tail cut" false "a restart found a torn last record and cut it",
    RestartIntoHigherTerm "restart: behind the cluster's term" false "a node restarted with a term below the current leader's",
    MajorityDown "crash: a majority down" false "more than half the nodes were down at once",
    AllDown "crash: every node down" true "every node was down at once",

    // ----- Disks that lie (storage faults and protocol-aware recovery) -----
    DiskDamaged "storage: a disk damaged" false "a storage fault (bit rot, latent sector error, misdirected or lost write, wipe) damaged a crashed node's disk",
    FsyncFailed "storage: an fsync failed" false "an fsync returned an error and the host stopped the node rather than retry",
    DamagedRestart "storage: restart on a damaged disk, fenced" false "a restart found damage, kept the verified records before it and fenced the node",
    SuperblockCopyOutvoted "storage: a damaged superblock copy outvoted" true "a restart found a superblock copy damaged and took the newest copy that verified",
    FenceLifted "storage: a fenced node repaired" false "a leader of a later term repaired a fenced node, which wrote its fence down",

    // ----- Snapshots (§7) -----
    SnapshotTaken "snapshot: taken" false "a node compacted its log under a snapshot of its state machine",
    SnapshotSentToFollowerHoldingIt "snapshot: sent to a follower that holds what it covers" false "a leader sent a snapshot to a follower whose log already holds every entry it covers (the leader compacted past an acknowledgement lost or late): arriving after the follower committed past it, it must be refused (Figure 13). Dated at the leader's compaction, the moment guided exploration tries again",
    SnapshotInstalled "snapshot: installed from the leader" false "a follower installed the leader's snapshot",
    SnapshotKeptSuffix "snapshot: installed, later entries kept" false "a follower installed a snapshot and kept the matching entries after it (Figure 13, step 6)",
    SnapshotOfferedStale "snapshot: offered to a node already past it" false "a snapshot reached a node whose commit index covers it (install only what moves forward)",
    SnapshotChunkLost "snapshot: chunk lost" false "the network lost a snapshot chunk",
    SnapshotChunkDuplicated "snapshot: chunk duplicated" false "the network duplicated a snapshot chunk",
    LeaderDeposedSnapshotInFlight "snapshot: sender deposed mid-transfer" false "a leader stopped leading while chunks of its snapshot were on the wire",
    RestartFromSnapshot "restart: from a snapshot" false "a node restarted from a snapshot",
    CrashDuringSnapshotWrite "crash: while writing a snapshot" false "a crash caught a snapshot write in flight: what it damaged shows when the node recovers from its disk. Guided exploration tries the crash again on branches that run twenty-five times as long as at most hazards, long enough for the node to restart",

    // ----- Clients (thesis §6.3) -----
    RetryDeduplicated "client: retry applied once" false "a retried command reached the log again and the session table applied it once",
    LostLeadershipAnswered "client: told the leader lost its term" false "a server told a client that its call may or may not take effect",
    ClientFollowedHint "client: followed a leader hint" false "a client retried at the leader a server named",
    OutcomeUnknown "client: outcome unknown" false "a client gave up a call whose outcome it cannot know",
    ReadServedFromState "client: read answered from state" true "a read was answered without a log entry of its own (ReadIndex or lease reads; otherwise only a planted bug does it)",

    // ----- Faults as they fired -----
    FaultCrash "fault: crash" false "a node crashed",
    FaultPause "fault: pause" false "a node was paused",
    FaultPausedInboxReplayed "fault: paused node resumed with messages waiting" false "a paused node resumed and handled the messages that had waited for it",
    FaultLoss "fault: message lost" false "the network lost a message",
    FaultDuplicate "fault: message duplicated" false "the network duplicated a message",
    FaultLongDelay "fault: message held back long" false "the network held a message back in its long tail",
    FaultOverflow "fault: network full" true "the network was full and dropped a message (a storm)",
    FaultDrift "fault: clock drift" false "a node's clock ran at a drifted rate",
    PartitionHalves "partition: halves" false "the cluster was split in two halves",
    PartitionIsolateNode "partition: a node isolated" false "one node was cut off from all others",
    PartitionIsolateLeader "partition: the leader isolated" false "the leader was cut off from all others",
    PartitionLeaderMinority "partition: leader in the minority" false "the leader and a few others were cut off from the majority",
    PartitionBridge "partition: bridge" false "two halves joined by one node that sees both",
    PartitionRing "partition: ring" false "each node heard only its neighbours",
    PartitionOneWay "partition: one-way link" false "a node could send but not receive, or the reverse",
    PartitionIsolateNewLeader "partition: fresh leader isolated" false "a node cut off right after it won its election",
    Heal "partition: healed" false "every cut link was restored",

    // ----- Liveness -----
    LivenessSeveralElections "liveness: several elections after healing" false "the healed cluster needed more than one election to find a leader",
    LivenessRestartedLeader "liveness: a restarted node leads after healing" false "the leader after healing had been crashed during the run",
    LivenessCoreOnly "liveness: only a core healed" false "the liveness phase healed a majority only and left the rest faulted for good",
    LivenessCoreWithoutLeader "liveness: the leader left outside the core" false "the leader at the end of the fault phase was left outside the healed core",
    LivenessDeposedLeaderSpeaks "liveness: a leader outside the core still reaches it" false "the old leader, outside the core, could send to the core but not hear from it",
    LivenessCoreConverged "liveness: a core converged around a faulted rest" false "a core elected, committed, answered and converged while the rest stayed faulted",
}

impl Point {
    /// Whether the point is a hazard: a moment at which leadership changes hands (or two
    /// leaders overlap, or a leader serves behind the cluster, or ships a snapshot a follower
    /// does not need) while something is not settled yet: entries not committed or not
    /// applied, a snapshot on the wire, a configuration in flight. At such a moment most
    /// of Raft's rules are at stake at once (only an entry of the leader's own term commits by
    /// counting; reads wait for that commit or confirm leadership; a new leader holds every
    /// committed entry; a deposed sender's snapshot must not go backwards), and whether a wrong
    /// rule shows depends on the next few milliseconds: which acknowledgement arrives before
    /// which write is durable, which read reaches which leader. Guided exploration therefore
    /// tries such moments again, with fresh timing, on short branches, even once they are
    /// common (see `guided.rs`). The other points of the catalogue count what happened.
    #[must_use]
    pub fn hazard(self) -> bool {
        use Point::*;
        matches!(
            self,
            LeaderUncommittedEarlierTerms
                | LeaderBehindCommit
                | ReadAtLeaderBehindCommit
                | ReadAtDeposedLeader
                | AckBeforeLeaderDurable
                | SnapshotSentToFollowerHoldingIt
                | LeaderShorterLog
                | TwoLeadersDifferentTerms
                | TransferCompleted
                | LeaderDeposedSnapshotInFlight
                | LeaderRemovesItself
                | CrashDuringSnapshotWrite
        )
    }

    /// How many of the guide's horizons (`Guide::horizon_ns`) a branch forked at this point
    /// runs. One for most: the rule at stake there is settled within a message's round trip
    /// (which acknowledgement lands first, which read reaches which leader). A leader elected
    /// behind the cluster's commit stays behind until it commits an entry of its own term, and
    /// what a wrong read rule needs then is a client that lost the old leader finding the new
    /// one, by retries that back off a quarter of a request timeout (50 ms in the calm
    /// cluster): its branches run five horizons (100 ms by default). Measured under the quiet
    /// base (`raftsim bench hazard --base quiet --point "leader: elected behind the cluster's
    /// commit" --bug stale-leader-read --seeds 0..300`: 16 branches at each root's first such
    /// election): 100 ms branches caught it 8 times in 4,768 at 240 events each, 143 k events
    /// per catch (219 k of work with prefixes and copies) against some 3.3 M for fresh seeds
    /// there; 20 ms ones none in 2,400 (150 roots).
    ///
    /// Two leaders at once need longer still: what a read answered without confirming
    /// leadership needs then is a write committed by the new leader (whose clients reach it only
    /// after a request timeout at the old one, 200 to 320 ms under the swarm) and a read at the
    /// old leader after that write returned. Its branches run fifty horizons (1 s by default).
    /// Measured under the swarm (`raftsim bench hazard --point "leader: two leaders of
    /// different terms at once" --bug read-before-confirm --seeds 20000000..20000200 --horizon
    /// H`: 16 branches at the first such moment of each of the 45 roots that reach it and
    /// pass): 20 ms and 100 ms branches caught it never in 720; 300 ms ones 5 times (2 roots),
    /// 1 s ones 12 times (6 roots, 113 k events of work per catch against 315 k for fresh
    /// seeds), 4 s ones 27 times (10 roots, 153 k).
    ///
    /// A crash that catches a snapshot write in flight needs long too: what it damaged (a log
    /// cut that became durable before the snapshot it relies on, say) shows only once the node
    /// restarts, 10 to 900 ms later under the swarm, and recovers from its disk; its branches
    /// run twenty-five horizons (500 ms by default). Measured with
    /// cut-before-snapshot-durable (`raftsim bench hazard --point "crash: while writing a
    /// snapshot" --bug cut-before-snapshot-durable --seeds 0..300 --horizon H`, 16 branches at
    /// each of the 61 roots that reach it and pass): 20 ms branches never caught it in 976,
    /// 200 ms ones 5 times, 500 ms 23 times, 1 s 41 times (from 16 roots, 30 k events of work
    /// per catch against 295 k for fresh seeds; 25 k against 178 k over seeds 1,000,000 to
    /// 1,000,299), 2 s 69 times (31 k). In `bench exploration` (300 trials) 500 ms gives as
    /// much as 1 s under the swarm (0.86 and 0.88 times plain seeds' work on the mean, from
    /// 0.69 without the hazard) and takes less from the quiet base's hazards, where this bug
    /// needs no help (install-stale-snapshot 1.10 against 1.07 at 1 s and 1.18 without;
    /// commit-previous-term 2.08 against 1.86 and 2.15).
    ///
    /// In `bench exploration` (100 trials, up to 300 runs' work) plain seeds' events over
    /// guided exploration's on that bug rise from 0.60 to 0.77 (mean; 0.91 with 16 branches per
    /// hazard fork instead of 64, the default since; 0.84 over 300 trials), and guided hunts
    /// catch it in 99 trials instead of 94. Longer branches gain a little more there (0.82 at
    /// 4 s) but cost more CPU time than their events say (a guided sweep ran 15 to 20% fewer
    /// events per second at 4 s; at 1 s no change beyond the noise of 5%).
    #[must_use]
    pub fn horizon_factor(self) -> u64 {
        match self {
            Point::LeaderBehindCommit => 5,
            Point::TwoLeadersDifferentTerms => 50,
            Point::CrashDuringSnapshotWrite => 25,
            _ => 1,
        }
    }

    /// Why `implementation` can never reach this point, if its design rules the behaviour out:
    /// a sweep of it does not count the point as missed, and says why (see `sweep.rs`).
    #[must_use]
    pub fn unreachable_on(self, implementation: Implementation) -> Option<&'static str> {
        match (implementation, self) {
            (Implementation::RaftRs, Point::SnapshotKeptSuffix) => Some(
                "raft-rs installs a snapshot only when its log lacks the snapshot's last entry, and then replaces the whole log",
            ),
            _ => None,
        }
    }
}

/// The points one run reached: for each, how many times and the first event at which.
#[derive(Clone, Debug, Default)]
pub struct Reached {
    hits: Vec<u32>,
    first_event: Vec<u64>,
}

impl Reached {
    #[must_use]
    pub fn new() -> Reached {
        Reached { hits: vec![0; Point::ALL.len()], first_event: vec![u64::MAX; Point::ALL.len()] }
    }

    /// The point was reached at `event`.
    #[inline]
    pub fn hit(&mut self, point: Point, event: u64) {
        let i = point as usize;
        self.hits[i] = self.hits[i].saturating_add(1);
        if self.first_event[i] == u64::MAX {
            self.first_event[i] = event;
        }
    }

    /// How many times the point was reached.
    #[must_use]
    pub fn hits(&self, point: Point) -> u32 {
        self.hits.get(point as usize).copied().unwrap_or(0)
    }

    /// The first event at which the point was reached, if it was.
    #[must_use]
    pub fn first_event(&self, point: Point) -> Option<u64> {
        self.first_event.get(point as usize).copied().filter(|e| *e != u64::MAX)
    }

    /// The points reached, in catalogue order.
    pub fn reached(&self) -> impl Iterator<Item = Point> + '_ {
        Point::ALL.iter().copied().filter(|p| self.hits(*p) > 0)
    }

    /// The run's points as a summary lists them.
    #[must_use]
    pub fn summary(&self) -> Vec<PointHit> {
        self.reached()
            .map(|p| PointHit {
                point: p.name(),
                hits: self.hits(p),
                first_event: self.first_event(p).unwrap_or(0),
            })
            .collect()
    }
}

/// A point a run reached, for summaries.
#[derive(Clone, Debug, Serialize)]
pub struct PointHit {
    pub point: &'static str,
    pub hits: u32,
    pub first_event: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_at_least_sixty_points_with_distinct_names() {
        assert!(Point::ALL.len() >= 60, "{} points", Point::ALL.len());
        let names: std::collections::BTreeSet<&str> = Point::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Point::ALL.len());
        assert!(Point::ALL.iter().all(|p| !p.what().is_empty()));
        for (i, p) in Point::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i, "ALL is in declaration order");
        }
    }

    #[test]
    fn a_run_remembers_how_often_and_first_when_each_point_was_reached() {
        let mut r = Reached::new();
        r.hit(Point::SplitVote, 40);
        r.hit(Point::SplitVote, 90);
        r.hit(Point::LeaderElected, 10);
        assert_eq!(r.hits(Point::SplitVote), 2);
        assert_eq!(r.first_event(Point::SplitVote), Some(40));
        assert_eq!(r.first_event(Point::AllDown), None);
        let names: Vec<&str> = r.summary().iter().map(|h| h.point).collect();
        assert_eq!(names, ["election: split vote", "leader: elected"], "catalogue order");
    }
}
