//! The KV service: a Raft node (any implementation behind the host contract), the state machine
//! it feeds, and the client calls waiting on it.
//!
//! Still sans-IO: the host hands client requests in and gets client replies out alongside the
//! node's own outputs. Everything here works on committed entries and the node's view, so it
//! runs the same above every implementation.

use std::collections::BTreeMap;
use std::fmt;

use raft_host::{
    Bug, BugSet, DurableState, Feature, LogIndex, NodeId, Payload, Raft, ReadError, Ready, Role, Setup, Term,
};

use crate::command::{ClientError, ClientId, ClientReply, ClientRequest, Command, KvResult};
use crate::store::{Applied, KvStore};

/// A call this server proposed as leader and has not answered yet.
#[derive(Clone, Debug)]
struct Pending {
    client: ClientId,
    seq: u64,
    term: Term,
}

/// How a server answers reads (Get).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum ReadPath {
    /// Through the log, like a write: answered when its own entry is applied.
    #[default]
    Log,
    /// ReadIndex (thesis §6.4): the leader confirms it still leads with a round of heartbeats,
    /// and the read is answered once the store has applied up to the leader's commit index as
    /// of the request.
    ReadIndex,
    /// As ReadIndex, but the leader skips the round while its lease holds (thesis §6.4.1);
    /// requires [`Setup::read_lease`] and clocks within [`raft_host::contract::CLOCK_DRIFT_PPM_MAX`].
    Lease,
}

impl ReadPath {
    pub const ALL: [ReadPath; 3] = [ReadPath::Log, ReadPath::ReadIndex, ReadPath::Lease];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ReadPath::Log => "log",
            ReadPath::ReadIndex => "read-index",
            ReadPath::Lease => "lease",
        }
    }

    /// The path named `name` (as [`ReadPath::name`] spells it).
    #[must_use]
    pub fn parse(name: &str) -> Option<ReadPath> {
        ReadPath::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether reads skip the log.
    #[must_use]
    pub fn off_log(self) -> bool {
        self != ReadPath::Log
    }
}

impl fmt::Display for ReadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A read handed to the node's ReadIndex, not yet answered.
#[derive(Clone, Debug)]
struct PendingRead {
    client: ClientId,
    seq: u64,
    key: String,
    /// The leader's term when asked: a read still unconfirmed when the term or role changes
    /// never will be.
    term: Term,
    /// Set once the node confirmed it: answer after applying this index.
    index: Option<LogIndex>,
}

/// Everything a server produced since the host last asked.
#[derive(Clone, Debug)]
pub struct ServerReady<M> {
    /// The Raft node's batch; `raft.committed` are the entries applied to the store just now.
    pub raft: Ready<M>,
    pub replies: Vec<ClientReply>,
}

impl<M> Default for ServerReady<M> {
    fn default() -> Self {
        ServerReady { raft: Ready::default(), replies: Vec::new() }
    }
}

/// Why a server cannot start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ServerError {
    /// The implementation refused its setup or its durable state.
    Boot(String),
    /// The durable snapshot's data is not a KV snapshot.
    Snapshot(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Boot(e) => write!(f, "the node cannot start: {e}"),
            ServerError::Snapshot(e) => write!(f, "the snapshot does not restore a KV store: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// A KV server above the Raft implementation `R`.
pub struct KvServer<R: Raft> {
    node: R,
    id: NodeId,
    /// Planted bugs of the state machine layer (see [`Bug::in_state_machine`]).
    bugs: BugSet,
    kv: KvStore,
    /// By log index: the calls proposed there, answered when that index is applied.
    pending: BTreeMap<LogIndex, Pending>,
    /// By client: the sequence number and index of its call in `pending`, so that a retry
    /// that arrives while the first attempt is in the log waits for it instead of doubling it.
    pending_by_client: BTreeMap<ClientId, (u64, LogIndex)>,
    replies: Vec<ClientReply>,
    /// Committed commands recognised as retries and not applied again.
    deduplicated: u64,
    /// Reads answered from the store without a log entry of their own.
    reads_from_state: u64,
    read_path: ReadPath,
    /// Reads waiting for the node's confirmation or for the store to catch up, by context.
    reads: BTreeMap<u64, PendingRead>,
    /// The context of the next read handed to the node.
    next_read_ctx: u64,
}

impl<R: Raft> KvServer<R> {
    /// An exact, independent copy of the server: its store, its waiting calls and reads, and
    /// its node through [`Raft::duplicate`]. `None` when the node cannot copy itself.
    #[must_use]
    pub fn try_clone(&self) -> Option<KvServer<R>> {
        Some(KvServer {
            node: self.node.duplicate()?,
            id: self.id,
            bugs: self.bugs,
            kv: self.kv.clone(),
            pending: self.pending.clone(),
            pending_by_client: self.pending_by_client.clone(),
            replies: self.replies.clone(),
            deduplicated: self.deduplicated,
            reads_from_state: self.reads_from_state,
            read_path: self.read_path,
            reads: self.reads.clone(),
            next_read_ctx: self.next_read_ctx,
        })
    }

    /// A server restarted from what its disk kept (an empty state for a fresh one). The store
    /// starts from the snapshot, if there is one (so nothing it covers is applied again), and is
    /// rebuilt from there as the node learns which restored entries are committed.
    pub fn boot(setup: &Setup, state: DurableState) -> Result<KvServer<R>, ServerError> {
        let deduplicate = !setup.bugs.has(Bug::NoDeduplication);
        let kv = match &state.snapshot {
            Some(snapshot) => {
                KvStore::from_snapshot(&snapshot.data, deduplicate).map_err(ServerError::Snapshot)?
            }
            None if deduplicate => KvStore::new(),
            None => KvStore::without_deduplication(),
        };
        let node = R::boot(setup, state).map_err(ServerError::Boot)?;
        Ok(KvServer {
            node,
            id: setup.id,
            bugs: setup.bugs,
            kv,
            pending: BTreeMap::new(),
            pending_by_client: BTreeMap::new(),
            replies: Vec::new(),
            deduplicated: 0,
            reads_from_state: 0,
            read_path: ReadPath::Log,
            reads: BTreeMap::new(),
            next_read_ctx: 1,
        })
    }

    /// Chooses how reads are answered. An implementation without ReadIndex keeps reading through
    /// the log; [`ReadPath::Lease`] needs the node booted with [`Setup::read_lease`] (without
    /// it, the node confirms every read with a round, which is ReadIndex).
    pub fn set_read_path(&mut self, path: ReadPath) {
        self.read_path =
            if path.off_log() && !R::supports_feature(Feature::ReadIndex) { ReadPath::Log } else { path };
    }

    #[must_use]
    pub fn read_path(&self) -> ReadPath {
        self.read_path
    }

    pub fn tick(&mut self) {
        self.node.tick();
        self.fail_pending_if_deposed();
    }

    pub fn step(&mut self, m: R::Message) {
        self.node.step(m);
        self.fail_pending_if_deposed();
    }

    pub fn persisted(&mut self, number: u64) {
        self.node.persisted(number);
        self.fail_pending_if_deposed();
    }

    /// A client call. Answered at once if this server cannot take it, otherwise when the command
    /// is applied.
    pub fn handle_request(&mut self, request: ClientRequest) {
        let ClientRequest { client, seq, op } = request;
        if self.node.view().role == Role::Leader && op.is_read() && self.bugs.has(Bug::StaleLeaderRead) {
            let value = self.kv.read(op.key());
            self.reads_from_state += 1;
            self.reply(client, seq, Ok(KvResult::Value(value)));
            return;
        }
        if op.is_read() && self.read_path.off_log() {
            self.start_read(client, seq, op.key().to_string());
            return;
        }
        if let Some((index_seq, _)) = self.pending_by_client.get(&client) {
            if *index_seq == seq {
                return; // the first attempt is still in the log; its answer will do
            }
        }
        match self.node.propose(Command { client, seq, op }.encode()) {
            Ok((index, term)) => {
                if let Some((_, old_index)) = self.pending_by_client.insert(client, (seq, index)) {
                    // The client moved on from an older call; nobody waits for that one.
                    self.pending.remove(&old_index);
                }
                self.pending.insert(index, Pending { client, seq, term });
            }
            // Also while the leader hands over leadership (no hint then: the client retries).
            Err(not_leader) => {
                self.reply(client, seq, Err(ClientError::NotLeader { hint: not_leader.hint }));
            }
        }
    }

    /// A read without the log: the node confirms it (or refuses: not the leader), the store
    /// answers it once applied far enough (see [`KvServer::ready_into`]).
    fn start_read(&mut self, client: ClientId, seq: u64, key: String) {
        let ctx = self.next_read_ctx;
        match self.node.read_index(ctx) {
            Ok(()) => {
                self.next_read_ctx += 1;
                let term = self.node.view().term;
                self.reads.insert(ctx, PendingRead { client, seq, key, term, index: None });
            }
            Err(ReadError::NotLeader { hint }) => {
                self.reply(client, seq, Err(ClientError::NotLeader { hint }))
            }
            Err(ReadError::Unsupported) => {
                self.reply(client, seq, Err(ClientError::NotLeader { hint: None }));
            }
        }
    }

    /// Answers every confirmed read whose index the store has applied.
    fn serve_reads(&mut self) {
        let applied = self.node.view().applied;
        let ready: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.index.is_some_and(|i| i <= applied))
            .map(|(c, _)| *c)
            .collect();
        for ctx in ready {
            if let Some(r) = self.reads.remove(&ctx) {
                let value = self.kv.read(&r.key);
                self.reads_from_state += 1;
                self.reply(r.client, r.seq, Ok(KvResult::Value(value)));
            }
        }
    }

    /// Reads confirmed without the log and waiting for the store, and reads not yet confirmed.
    #[must_use]
    pub fn pending_reads(&self) -> usize {
        self.reads.len()
    }

    #[must_use]
    pub fn has_ready(&self) -> bool {
        self.node.has_ready() || !self.replies.is_empty()
    }

    /// Hands the node a snapshot of the store as it stands (everything applied so far), so that
    /// the node can drop the log it covers. Returns whether it did (not if nothing new was
    /// applied since the last snapshot).
    pub fn maybe_snapshot(&mut self) -> bool {
        let view = self.node.view();
        if view.applied <= view.snapshot.map_or(LogIndex::ZERO, |s| s.last_index) {
            return false;
        }
        let with_sessions = !self.bugs.has(Bug::SnapshotWithoutSessions);
        let data = self.kv.encode_snapshot(with_sessions);
        self.node.maybe_compact(view.applied, data.into())
    }

    /// Takes the node's outputs, installs a snapshot it hands over, applies the newly committed
    /// entries and collects the replies.
    ///
    /// # Panics
    /// If a snapshot installed from the leader, or a committed entry, does not decode: their
    /// bytes come from another server's store or from a client's call, over a network that does
    /// not corrupt messages, and from storage whose checksums catch damage.
    pub fn ready_into(&mut self, out: &mut ServerReady<R::Message>) {
        self.node.ready_into(&mut out.raft);
        if let Some(snapshot) = &out.raft.snapshot {
            let deduplicate = !self.bugs.has(Bug::NoDeduplication);
            self.kv = KvStore::from_snapshot(&snapshot.data, deduplicate).unwrap_or_else(|e| {
                panic!("the snapshot through {} does not decode: {e}", snapshot.meta.last_index)
            });
            // Calls proposed at indexes the snapshot covers cannot be answered from it.
            let covered: Vec<LogIndex> =
                self.pending.range(..=snapshot.meta.last_index).map(|(index, _)| *index).collect();
            for index in covered {
                if let Some(w) = self.pending.remove(&index) {
                    self.pending_by_client.remove(&w.client);
                    self.lost(w);
                }
            }
        }
        for entry in &out.raft.committed {
            let waiting = self.pending.remove(&entry.index);
            let command = match &entry.payload {
                Payload::Data(data) if !data.is_empty() => Command::decode(data).unwrap_or_else(|e| {
                    panic!("the committed entry {}/{} does not decode: {e}", entry.index, entry.term)
                }),
                // A no-op (or an implementation's empty entry): nothing to apply.
                _ => {
                    if let Some(w) = waiting {
                        self.lost(w);
                    }
                    continue;
                }
            };
            let applied = self.kv.apply(&command);
            if !matches!(applied, Applied::Fresh(_)) {
                self.deduplicated += 1;
            }
            if let Some(w) = waiting {
                if self.pending_by_client.get(&w.client).is_some_and(|(_, i)| *i == entry.index) {
                    self.pending_by_client.remove(&w.client);
                }
                if w.client == command.client && w.seq == command.seq && w.term == entry.term {
                    if let Some(result) = applied.result() {
                        self.reply(w.client, w.seq, Ok(result.clone()));
                    }
                } else {
                    // Another leader's entry replaced ours at this index.
                    self.lost(w);
                }
            }
        }
        for state in &out.raft.read_states {
            if let Some(r) = self.reads.get_mut(&state.ctx) {
                r.index = Some(state.index);
            }
        }
        self.serve_reads();
        out.replies.clear();
        std::mem::swap(&mut out.replies, &mut self.replies);
    }

    /// As [`KvServer::ready_into`], allocating a new batch.
    pub fn ready(&mut self) -> ServerReady<R::Message> {
        let mut out = ServerReady::default();
        self.ready_into(&mut out);
        out
    }

    #[must_use]
    pub fn node(&self) -> &R {
        &self.node
    }

    /// The node, for a host that drives it directly (tests).
    pub fn node_mut(&mut self) -> &mut R {
        &mut self.node
    }

    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    #[must_use]
    pub fn store(&self) -> &KvStore {
        &self.kv
    }

    /// Committed commands this server recognised as retries and did not apply again.
    #[must_use]
    pub fn deduplicated(&self) -> u64 {
        self.deduplicated
    }

    /// Reads this server answered from its store without a log entry of their own.
    #[must_use]
    pub fn reads_from_state(&self) -> u64 {
        self.reads_from_state
    }

    /// Calls waiting on this server, for diagnostics.
    #[must_use]
    pub fn pending_calls(&self) -> usize {
        self.pending.len()
    }

    fn reply(&mut self, client: ClientId, seq: u64, result: Result<KvResult, ClientError>) {
        let from = self.id;
        self.replies.push(ClientReply { client, seq, from, result });
    }

    fn lost(&mut self, w: Pending) {
        let hint = self.node.view().leader;
        self.reply(w.client, w.seq, Err(ClientError::LostLeadership { hint }));
    }

    /// A leader that lost its term can no longer vouch for what it proposed: tell the clients
    /// to retry elsewhere (with the same sequence number, so nothing applies twice).
    fn fail_pending_if_deposed(&mut self) {
        self.fail_reads_if_deposed();
        if self.pending.is_empty() {
            return;
        }
        let view = self.node.view();
        let still_leading = view.role == Role::Leader;
        let term = view.term;
        // A node leads at most once per term, so while it leads every pending call has its term.
        if still_leading && self.pending.values().next().is_some_and(|w| w.term == term) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for (index, w) in pending {
            if still_leading && w.term == term {
                self.pending.insert(index, w);
            } else {
                self.pending_by_client.remove(&w.client);
                self.lost(w);
            }
        }
    }

    /// An unconfirmed read of a term this node no longer leads will never be confirmed: the
    /// client retries. A confirmed one stays: it is linearizable at its index whoever leads now.
    fn fail_reads_if_deposed(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let view = self.node.view();
        let leading = view.role == Role::Leader;
        let lost: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.index.is_none() && !(leading && r.term == view.term))
            .map(|(c, _)| *c)
            .collect();
        for ctx in lost {
            if let Some(r) = self.reads.remove(&ctx) {
                self.reply(r.client, r.seq, Err(ClientError::LostLeadership { hint: view.leader }));
            }
        }
    }
}
