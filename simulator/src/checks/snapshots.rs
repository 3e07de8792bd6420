//! What a snapshot must hold: the state machine after applying exactly the log prefix it
//! covers. The checks keep a reference store that applies every index once, in order, as the
//! first node to apply it did, and its fingerprint after each index (a sum over keys and
//! sessions, kept up to date one command at a time: O(1) per applied entry, plus the size of the
//! changed value). A snapshot is decoded and fingerprinted once, when it is written or handed
//! to a host, and compared with the fingerprint at its index.

use raft_core::{KvStore, LogIndex, Payload, Snapshot};

use super::logs::Window;
use super::{Invariant, Violation};

pub(crate) struct Model {
    store: KvStore,
    /// Whether the servers' stores deduplicate (the planted bug `no-deduplication` says no):
    /// the reference applies commands as they do, so that a snapshot is judged on its fidelity
    /// to its prefix, not on the store's semantics.
    deduplicate: bool,
    print: u64,
    /// By index: the fingerprint of the state after applying it.
    prints: Window<u64>,
}

impl Model {
    pub(crate) fn new(deduplicate: bool) -> Model {
        let store = if deduplicate { KvStore::new() } else { KvStore::without_deduplication() };
        let print = store.fingerprint();
        Model { store, deduplicate, print, prints: Window::default() }
    }

    /// Applies the next index, as first applied by some node.
    pub(crate) fn apply(&mut self, payload: &Payload) {
        if let Payload::Command(command) = payload {
            let key = command.op.key();
            let before = self.key_print(key) + self.session_print(command.client);
            self.store.apply(command);
            let after = self.key_print(key) + self.session_print(command.client);
            self.print = self.print.wrapping_add(after.wrapping_sub(before));
        }
        self.prints.push(self.print);
    }

    fn key_print(&self, key: &str) -> u64 {
        self.store.get(key).map_or(0, |value| KvStore::key_fingerprint(key, value))
    }

    fn session_print(&self, client: raft_core::ClientId) -> u64 {
        self.store
            .session(client)
            .map_or(0, |(seq, result)| KvStore::session_fingerprint(client, seq, result))
    }

    /// The last index applied.
    pub(crate) fn last(&self) -> LogIndex {
        self.prints.last()
    }

    pub(crate) fn forget_through(&mut self, index: LogIndex) {
        self.prints.forget_through(index);
    }

    /// A snapshot written or handed over by `node` equals the reference after its prefix.
    pub(crate) fn check(&self, node: u8, snapshot: &Snapshot) -> Result<(), Violation> {
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
