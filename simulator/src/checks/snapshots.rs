//! What a snapshot must hold: the state machine after applying exactly the log prefix it
//! covers. The checks keep a reference store that applies every index once, in order, as the
//! first node to apply it did, and its fingerprint after each index (a sum over keys and
//! sessions, kept up to date one command at a time: a put costs its value, an append its
//! suffix, a get nothing, thanks to a digest per value that appends extend). A snapshot is
//! decoded and fingerprinted when it is written or handed to a host, and compared with the
//! fingerprint at its index. Replicas at one index produce the same bytes (the encoding is
//! deterministic), so a snapshot whose length and CRC-32 match one already verified at its
//! index is not decoded again.

use std::collections::BTreeMap;

use raft_host::{LogIndex, Payload, Snapshot};
use raft_kv::{Applied, ClientId, Command, KvOp, KvResult, KvStore, ValueDigest};

use super::logs::Window;
use super::{Invariant, Violation};

#[derive(Clone)]
pub(crate) struct Model {
    store: KvStore,
    /// Whether the servers' stores deduplicate (the planted bug `no-deduplication` says no):
    /// the reference applies commands as they do, so that a snapshot is judged on its fidelity
    /// to its prefix, not on the store's semantics.
    deduplicate: bool,
    print: u64,
    /// Each key's value digest and its share of `print`; each client's session share.
    keys: BTreeMap<String, (ValueDigest, u64)>,
    sessions: BTreeMap<ClientId, u64>,
    /// By index: the fingerprint of the state after applying it.
    prints: Window<u64>,
    /// By index: the length and CRC-32 of the snapshots found right there.
    verified: BTreeMap<LogIndex, Vec<(usize, u32)>>,
}

impl Model {
    pub(crate) fn new(deduplicate: bool) -> Model {
        let store = if deduplicate { KvStore::new() } else { KvStore::without_deduplication() };
        let print = store.fingerprint();
        Model {
            store,
            deduplicate,
            print,
            keys: BTreeMap::new(),
            sessions: BTreeMap::new(),
            prints: Window::default(),
            verified: BTreeMap::new(),
        }
    }

    /// Applies the next index, as first applied by some node.
    pub(crate) fn apply(&mut self, payload: &Payload) {
        if let Some(command) = payload.data().and_then(|d| Command::decode(d).ok()) {
            if let Applied::Fresh(result) = self.store.apply(&command) {
                let key = command.op.key();
                let digest = match &command.op {
                    KvOp::Put { value, .. } => Some(ValueDigest::of(value)),
                    KvOp::Append { value, .. } => {
                        let mut d = self.keys.get(key).map(|(d, _)| *d).unwrap_or_default();
                        d.extend(value);
                        Some(d)
                    }
                    KvOp::Get { .. } => None,
                };
                if let Some(digest) = digest {
                    let share = KvStore::key_fingerprint_of(key, digest.finish());
                    let old = self.keys.insert(key.to_string(), (digest, share)).map_or(0, |(_, s)| s);
                    self.print = self.print.wrapping_sub(old).wrapping_add(share);
                }
                // A get read the key's current value, whose digest is at hand.
                let read = match result {
                    KvResult::Done => None,
                    KvResult::Value(_) => {
                        Some(self.keys.get(key).map_or(ValueDigest::default(), |(d, _)| *d).finish())
                    }
                };
                let share = KvStore::session_fingerprint_of(command.client, command.seq, read);
                let old = self.sessions.insert(command.client, share).unwrap_or(0);
                self.print = self.print.wrapping_sub(old).wrapping_add(share);
            }
        }
        self.prints.push(self.print);
    }

    /// The last index applied.
    pub(crate) fn last(&self) -> LogIndex {
        self.prints.last()
    }

    pub(crate) fn forget_through(&mut self, index: LogIndex) {
        self.prints.forget_through(index);
        self.verified = self.verified.split_off(&index.next());
    }

    /// A snapshot written or handed over by `node` equals the reference after its prefix.
    pub(crate) fn check(&mut self, node: u8, snapshot: &Snapshot) -> Result<(), Violation> {
        let sum = (snapshot.data.len(), raft_host::wal::crc32(&snapshot.data));
        let index = snapshot.meta.last_index;
        if self.verified.get(&index).is_some_and(|sums| sums.contains(&sum)) {
            return Ok(());
        }
        self.check_contents(node, snapshot)?;
        if self.prints.get(index).is_some() {
            self.verified.entry(index).or_default().push(sum);
        }
        Ok(())
    }

    fn check_contents(&self, node: u8, snapshot: &Snapshot) -> Result<(), Violation> {
        let index = snapshot.meta.last_index;
        let fail = |reason: String| Err(Violation { invariant: Invariant::SnapshotMismatch, node, reason });
        if index > self.last() {
            return fail(format!(
                "n{node}'s snapshot through {index} covers entries no node applied (up to {})",
                self.last()
            ));
        }
        let store = match KvStore::from_snapshot(&snapshot.data, self.deduplicate) {
            Ok(store) => store,
            Err(e) => return fail(format!("n{node}'s snapshot through {index} is not a KV store: {e}")),
        };
        let Some(expected) = self.prints.get(index) else {
            return Ok(()); // forgotten: every node is past it
        };
        if store.fingerprint() != *expected {
            return fail(format!(
                "n{node}'s snapshot through {index} holds {} keys and {} sessions, which is not the state after applying i1 to {index}",
                store.data().len(),
                store.sessions()
            ));
        }
        Ok(())
    }
}
