//! The workload: concurrent clerks calling the KV service, and the history of their calls.
//!
//! A clerk has one call outstanding at a time. It sends the call to the server it believes
//! leads, follows leader hints, and on silence retries the next server with the same
//! `(client, seq)`, so that a retry never applies twice. Every call is recorded with its
//! invocation and return times in virtual time; a call abandoned or still open at the end is
//! recorded as unknown (it may or may not have taken effect), and one that every server refused
//! outright is recorded as failed (it certainly did not).

use checker::{KvCall, KvKind, Status};
use raft_kv::{ClientError, ClientId, ClientReply, ClientRequest, KvOp, KvResult};
use rand::Rng;

use crate::config::WorkloadConfig;
use crate::queue::{Event, EventQueue};
use crate::rng::{between, Stream};

/// How long a call typically takes on a healthy cluster: an average think time, the request,
/// the leader's append to a follower and its answer, the reply (four average network delays),
/// and two average fsyncs (the leader's and a follower's).
#[must_use]
pub fn typical_call_ns(config: &crate::config::SimConfig) -> u64 {
    let w = &config.workload;
    let n = &config.network;
    let d = &config.disk;
    let think = w.think_ns_min / 2 + w.think_ns_max / 2;
    let delay = n.delay_ns_min / 2 + n.delay_ns_max / 2;
    let fsync = d.fsync_ns_min / 2 + d.fsync_ns_max / 2;
    (think + 4 * delay + 2 * fsync).max(1)
}

/// About the most operations the clients can issue in the fault phase of a healthy run: each
/// has one call at a time, of [`typical_call_ns`] or its pace, whichever is longer.
#[must_use]
pub fn issuable_ops(config: &crate::config::SimConfig) -> Option<u64> {
    let w = &config.workload;
    let share = (w.ops / (w.clients as u64).max(1)).max(1);
    let pace = w.pace_ns.unwrap_or(config.duration_ns / share);
    let calls_each = config.duration_ns / typical_call_ns(config).max(pace).max(1) + 1;
    (w.clients as u64).checked_mul(calls_each)
}

/// The key the liveness probe writes; no ordinary operation touches it.
pub const PROBE_KEY: &str = "probe";

/// A call in progress.
#[derive(Clone, Debug)]
struct Call {
    seq: u64,
    op: KvOp,
    /// Position of this call in the history.
    entry: usize,
    started_ns: u64,
    /// An attempt is on its way with no answer yet.
    outstanding: bool,
    /// Some attempt may have reached a leader's log: a timeout or a lost leadership.
    maybe_applied: bool,
}

#[derive(Clone, Debug)]
struct Clerk {
    id: u16,
    next_seq: u64,
    leader_guess: u8,
    /// Answers whose leader hints this clerk ignores, trying the servers in turn instead: set
    /// when a server fell silent, so that two servers pointing at each other, or at one that is
    /// down, cannot keep it from the others for ever.
    hints_ignored: u8,
    /// The call in progress went to the server a hint named: if that server says it does not
    /// lead either, the hint was stale, and hints are ignored for a round of answers (servers
    /// whose hints point at one another's stale leader would otherwise hold the clerk for ever).
    followed_hint: bool,
    call: Option<Call>,
    /// Only the timer armed last counts; earlier ones are stale when they fire.
    token: u32,
    is_probe: bool,
    /// Calls this clerk has started, which sets its pace.
    started: u64,
}

/// A request to put on the network.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub to: u8,
    pub request: ClientRequest,
}

/// Counts for the summary, of the workload's calls (the liveness probe is not one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadStats {
    pub issued: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    pub retries: u64,
    /// Retries sent straight to the leader a server named.
    pub hints_followed: u64,
}

#[derive(Clone)]
pub struct Workload {
    config: WorkloadConfig,
    /// Each clerk aims to start its k-th call at `k * pace_ns`, so that the operations spread
    /// over the whole fault phase instead of bunching at its start.
    pace_ns: u64,
    nodes: u8,
    rng: Stream,
    clerks: Vec<Clerk>,
    /// No new calls once the fault phase ends; calls in progress continue.
    open: bool,
    history: Vec<KvCall>,
    /// The sequence number of each call in `history`, so that a call can be found in the log.
    seqs: Vec<u64>,
    pub stats: WorkloadStats,
}

impl Workload {
    #[must_use]
    pub fn new(config: WorkloadConfig, nodes: usize, duration_ns: u64, rng: Stream) -> Workload {
        let clerks = (0..config.clients)
            .map(|i| Clerk {
                id: i as u16,
                next_seq: 1,
                leader_guess: (i % nodes) as u8,
                hints_ignored: 0,
                followed_hint: false,
                call: None,
                token: 0,
                is_probe: false,
                started: 0,
            })
            .collect();
        let share = (config.ops / config.clients.max(1) as u64).max(1);
        Workload {
            pace_ns: config.pace_ns.unwrap_or(if config.ops == 0 { 0 } else { duration_ns / share }),
            config,
            nodes: nodes as u8,
            rng,
            clerks,
            open: true,
            history: Vec::new(),
            seqs: Vec::new(),
            stats: WorkloadStats::default(),
        }
    }

    /// Arms each clerk's first call after a random think time.
    pub fn start(&mut self, now: u64, queue: &mut EventQueue) {
        for c in 0..self.clerks.len() {
            let think = between(&mut self.rng, self.config.think_ns_min, self.config.think_ns_max);
            self.arm(c, now + think, queue);
        }
    }

    /// Raises the budget by `ops` and wakes the idle clerks, which issue them without pacing.
    pub fn add_ops(&mut self, ops: u64, now: u64, queue: &mut EventQueue) {
        self.config.ops = self.config.ops.saturating_add(ops);
        self.pace_ns = 0;
        for c in 0..self.clerks.len() {
            if self.clerks[c].call.is_none() && !self.clerks[c].is_probe {
                self.arm(c, now, queue);
            }
        }
    }

    /// The pace the clients keep now (see `WorkloadConfig::pace_ns`).
    #[must_use]
    pub fn pace_ns(&self) -> u64 {
        self.pace_ns
    }

    /// Draws from `rng` from now on (a branch of the run forks here).
    pub fn reseed(&mut self, rng: Stream) {
        self.rng = rng;
    }

    /// Operations asked of the clients in all: the configuration's and every submission since.
    #[must_use]
    pub fn ops_asked(&self) -> u64 {
        self.config.ops
    }

    /// Whether every operation of the budget has been issued.
    #[must_use]
    pub fn budget_spent(&self) -> bool {
        self.stats.issued >= self.config.ops
    }

    /// Stops issuing new calls (the fault phase is over).
    pub fn close(&mut self) {
        self.open = false;
    }

    /// Starts the liveness probe: one extra clerk that writes one value and must hear back.
    pub fn start_probe(&mut self, now: u64, queue: &mut EventQueue) -> Option<Outgoing> {
        let id = self.clerks.len() as u16;
        self.clerks.push(Clerk {
            id,
            next_seq: 1,
            leader_guess: 0,
            hints_ignored: 0,
            followed_hint: false,
            call: None,
            token: 0,
            is_probe: true,
            started: 0,
        });
        let op = KvOp::Put { key: PROBE_KEY.into(), value: "live".into() };
        Some(self.begin(id as usize, now, op, queue))
    }

    /// Whether the probe call has completed.
    #[must_use]
    pub fn probe_done(&self) -> bool {
        self.clerks.iter().any(|c| c.is_probe && c.call.is_none())
    }

    /// Whether every clerk is idle (no call in progress).
    #[must_use]
    pub fn all_idle(&self) -> bool {
        self.clerks.iter().all(|c| c.call.is_none())
    }

    /// A clerk's timer fired.
    pub fn on_timer(
        &mut self,
        now: u64,
        client: u16,
        token: u32,
        queue: &mut EventQueue,
    ) -> Option<Outgoing> {
        let c = client as usize;
        let clerk = self.clerks.get(c)?;
        if clerk.token != token {
            return None;
        }
        let Some(call) = &clerk.call else {
            // Idle: time for the next call, if the budget and the phase allow.
            if !self.open || clerk.is_probe || self.stats.issued >= self.config.ops {
                return None;
            }
            let op = self.next_op(c);
            return Some(self.begin(c, now, op, queue));
        };
        let started_ns = call.started_ns;
        let outstanding = call.outstanding;
        if let Some(call) = self.clerks[c].call.as_mut() {
            call.maybe_applied |= outstanding;
        }
        if now.saturating_sub(started_ns) >= self.config.op_timeout_ns && !self.clerks[c].is_probe {
            self.finish_unanswered(c, now, queue);
            return None;
        }
        // Silence (or the end of a wait after a refusal without a hint): try the next server.
        // After a real silence, the ones after it too, whatever their hints say.
        let clerk = &mut self.clerks[c];
        clerk.followed_hint = false;
        clerk.leader_guess = (clerk.leader_guess + 1) % self.nodes;
        if outstanding {
            clerk.hints_ignored = self.nodes;
        }
        self.stats.retries += 1;
        Some(self.attempt(c, now, queue))
    }

    /// A server answered.
    pub fn on_reply(&mut self, now: u64, reply: ClientReply, queue: &mut EventQueue) -> Option<Outgoing> {
        let c = reply.client.0 as usize;
        let clerk = self.clerks.get_mut(c)?;
        let call = clerk.call.as_mut()?;
        if call.seq != reply.seq {
            return None; // an answer to an earlier call, or a duplicate
        }
        call.outstanding = false;
        match reply.result {
            Ok(result) => {
                let entry = call.entry;
                let counted = !clerk.is_probe;
                clerk.call = None;
                let record = &mut self.history[entry];
                if let KvResult::Value(v) = result {
                    record.output = Some(v);
                }
                record.status = Status::Ok;
                record.return_ns = Some(now);
                self.stats.ok += u64::from(counted);
                self.arm_next_call(c, now, queue);
                None
            }
            Err(error) => {
                let hint = match error {
                    ClientError::NotLeader { hint } => hint,
                    ClientError::LostLeadership { hint } => {
                        call.maybe_applied = true;
                        hint
                    }
                };
                self.stats.retries += 1;
                if std::mem::take(&mut clerk.followed_hint) {
                    clerk.hints_ignored = self.nodes;
                }
                let trusted = clerk.hints_ignored == 0;
                clerk.hints_ignored = clerk.hints_ignored.saturating_sub(1);
                match hint {
                    Some(leader) if trusted && leader.0 != reply.from.0 && (leader.0 as u8) < self.nodes => {
                        clerk.leader_guess = leader.0 as u8;
                        clerk.followed_hint = true;
                        self.stats.hints_followed += 1;
                        Some(self.attempt(c, now, queue))
                    }
                    _ => {
                        // No better idea: wait a little, then try the next server (the wait's
                        // end moves the guess on by one).
                        clerk.leader_guess = reply.from.0 as u8 % self.nodes;
                        let backoff = (self.config.request_timeout_ns / 4).max(1);
                        self.arm(c, now + backoff, queue);
                        None
                    }
                }
            }
        }
    }

    /// Ends the run: calls still in progress are unknown. Returns the history and, for each
    /// call, its sequence number.
    pub fn finish(&mut self) -> (Vec<KvCall>, Vec<u64>) {
        for c in 0..self.clerks.len() {
            if let Some(call) = self.clerks[c].call.take() {
                self.history[call.entry].status = Status::Unknown;
                self.stats.unknown += u64::from(!self.clerks[c].is_probe);
            }
        }
        (std::mem::take(&mut self.history), std::mem::take(&mut self.seqs))
    }

    #[must_use]
    pub fn history(&self) -> &[KvCall] {
        &self.history
    }

    fn next_op(&mut self, c: usize) -> KvOp {
        let key = format!("k{}", self.rng.gen_range(0..self.config.keys));
        let clerk = &self.clerks[c];
        let tag = format!("c{}.{}", clerk.id, clerk.next_seq);
        // Padding goes after the tag, so values stay unique and appends stay parseable.
        let padded = |len: usize| format!("{tag}{}", "-".repeat(len.saturating_sub(tag.len())));
        let dice = self.rng.gen_range(0..1_000_000u32);
        if dice < self.config.get_ppm {
            KvOp::Get { key }
        } else if dice < self.config.get_ppm + self.config.put_ppm {
            KvOp::Put { key, value: padded(self.config.value_bytes) }
        } else {
            // Unique values make every append visible in later reads.
            KvOp::Append { key, value: padded(self.config.value_bytes.saturating_sub(1)) + ";" }
        }
    }

    fn begin(&mut self, c: usize, now: u64, op: KvOp, queue: &mut EventQueue) -> Outgoing {
        let clerk = &mut self.clerks[c];
        let seq = clerk.next_seq;
        clerk.next_seq += 1;
        let (kind, key, value) = match &op {
            KvOp::Get { key } => (KvKind::Get, key.clone(), String::new()),
            KvOp::Put { key, value } => (KvKind::Put, key.clone(), value.clone()),
            KvOp::Append { key, value } => (KvKind::Append, key.clone(), value.clone()),
        };
        let entry = self.history.len();
        self.seqs.push(seq);
        self.history.push(KvCall {
            id: entry as u64,
            client: u64::from(clerk.id),
            kind,
            key,
            value,
            output: None,
            status: Status::Unknown,
            call_ns: now,
            return_ns: None,
        });
        clerk.call = Some(Call { seq, op, entry, started_ns: now, outstanding: false, maybe_applied: false });
        clerk.started += 1;
        // The workload's figures leave out the liveness probe.
        self.stats.issued += u64::from(!clerk.is_probe);
        self.attempt(c, now, queue)
    }

    /// Sends the call in progress to the clerk's current guess and arms the retry timer.
    fn attempt(&mut self, c: usize, now: u64, queue: &mut EventQueue) -> Outgoing {
        let timeout = self.config.request_timeout_ns;
        let clerk = &mut self.clerks[c];
        let Some(call) = clerk.call.as_mut() else { unreachable!("attempt without a call") };
        call.outstanding = true;
        let request =
            ClientRequest { client: ClientId(u64::from(clerk.id)), seq: call.seq, op: call.op.clone() };
        let to = clerk.leader_guess;
        self.arm(c, now + timeout, queue);
        Outgoing { to, request }
    }

    /// Gives up the call in progress: unknown if it may have taken effect, failed if not.
    fn finish_unanswered(&mut self, c: usize, now: u64, queue: &mut EventQueue) {
        let Some(call) = self.clerks[c].call.take() else { return };
        let record = &mut self.history[call.entry];
        if call.maybe_applied {
            record.status = Status::Unknown;
            self.stats.unknown += 1;
        } else {
            record.status = Status::Failed;
            record.return_ns = Some(now);
            self.stats.failed += 1;
        }
        self.arm_next_call(c, now, queue);
    }

    /// Arms the timer for the clerk's next call: after a think time, and no earlier than its pace.
    fn arm_next_call(&mut self, c: usize, now: u64, queue: &mut EventQueue) {
        let think = between(&mut self.rng, self.config.think_ns_min, self.config.think_ns_max);
        let paced = self.clerks[c].started * self.pace_ns;
        self.arm(c, now.max(paced) + think, queue);
    }

    fn arm(&mut self, c: usize, at: u64, queue: &mut EventQueue) {
        let clerk = &mut self.clerks[c];
        clerk.token = clerk.token.wrapping_add(1);
        queue.push(at, Event::ClientTimer { client: clerk.id, token: clerk.token });
    }
}
