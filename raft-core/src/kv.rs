//! The replicated state machine: a map of string keys to string values, with a session table
//! that makes client commands apply at most once (thesis §6.3).

use std::collections::BTreeMap;

use crate::message::{Command, KvOp, KvResult};
use crate::types::ClientId;

/// What applying one command did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Applied {
    /// The command took effect now and returned this.
    Fresh(KvResult),
    /// A retry of the client's latest command, which already took effect: its first result.
    Duplicate(KvResult),
    /// Older than the client's latest command: the client has moved on, nobody is waiting.
    Stale,
}

impl Applied {
    /// The result to send back, if anyone can be waiting for it.
    #[must_use]
    pub fn result(&self) -> Option<&KvResult> {
        match self {
            Applied::Fresh(r) | Applied::Duplicate(r) => Some(r),
            Applied::Stale => None,
        }
    }
}

/// The KV store. `BTreeMap`s keep every iteration (digests, dumps) in a fixed order.
#[derive(Clone, Default, Debug)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    /// For each client, its latest applied sequence number and what that command returned.
    /// A client has at most one command outstanding, so one slot per client suffices.
    sessions: BTreeMap<ClientId, (u64, KvResult)>,
    /// With the planted bug `no-deduplication`, the session table is ignored.
    deduplicate: bool,
}

impl KvStore {
    #[must_use]
    pub fn new() -> KvStore {
        KvStore { deduplicate: true, ..KvStore::default() }
    }

    /// A store that applies every command, retries included: the planted bug.
    #[must_use]
    pub fn without_deduplication() -> KvStore {
        KvStore { deduplicate: false, ..KvStore::default() }
    }

    /// Applies one committed command.
    pub fn apply(&mut self, command: &Command) -> Applied {
        if self.deduplicate {
            if let Some((last_seq, last_result)) = self.sessions.get(&command.client) {
                if command.seq == *last_seq {
                    return Applied::Duplicate(last_result.clone());
                }
                if command.seq < *last_seq {
                    return Applied::Stale;
                }
            }
        }
        let result = self.execute(&command.op);
        self.sessions.insert(command.client, (command.seq, result.clone()));
        Applied::Fresh(result)
    }

    /// Reads a key without going through the log (only the planted bug `stale-leader-read`
    /// does this).
    #[must_use]
    pub fn read(&self, key: &str) -> String {
        self.data.get(key).cloned().unwrap_or_default()
    }

    fn execute(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Get { key } => KvResult::Value(self.read(key)),
            KvOp::Put { key, value } => {
                match self.data.get_mut(key) {
                    Some(v) => v.clone_from(value),
                    None => {
                        self.data.insert(key.clone(), value.clone());
                    }
                }
                KvResult::Done
            }
            KvOp::Append { key, value } => {
                match self.data.get_mut(key) {
                    Some(v) => v.push_str(value),
                    None => {
                        self.data.insert(key.clone(), value.clone());
                    }
                }
                KvResult::Done
            }
        }
    }

    /// Every key and value, in key order.
    #[must_use]
    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    /// A 64-bit digest of the data (FNV-1a over keys and values), to compare replicas cheaply.
    #[must_use]
    pub fn digest(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes.iter().chain(&[0xff]) {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for (key, value) in &self.data {
            feed(key.as_bytes());
            feed(value.as_bytes());
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(client: u64, seq: u64, key: &str, value: &str) -> Command {
        Command { client: ClientId(client), seq, op: KvOp::Append { key: key.into(), value: value.into() } }
    }

    #[test]
    fn a_retried_append_applies_once_and_returns_its_first_result() {
        let mut kv = KvStore::new();
        assert_eq!(kv.apply(&append(1, 1, "k", "a")), Applied::Fresh(KvResult::Done));
        assert_eq!(kv.apply(&append(1, 1, "k", "a")), Applied::Duplicate(KvResult::Done));
        assert_eq!(kv.read("k"), "a");
    }

    #[test]
    fn a_late_copy_of_an_older_command_is_ignored() {
        let mut kv = KvStore::new();
        kv.apply(&append(1, 1, "k", "a"));
        kv.apply(&append(1, 2, "k", "b"));
        assert_eq!(kv.apply(&append(1, 1, "k", "a")), Applied::Stale);
        assert_eq!(kv.read("k"), "ab");
    }

    #[test]
    fn a_retried_get_returns_the_value_it_first_read() {
        let mut kv = KvStore::new();
        let get = Command { client: ClientId(2), seq: 5, op: KvOp::Get { key: "k".into() } };
        kv.apply(&append(1, 1, "k", "a"));
        assert_eq!(kv.apply(&get), Applied::Fresh(KvResult::Value("a".into())));
        kv.apply(&append(1, 2, "k", "b"));
        assert_eq!(kv.apply(&get), Applied::Duplicate(KvResult::Value("a".into())));
    }

    #[test]
    fn without_deduplication_a_retry_applies_twice() {
        let mut kv = KvStore::without_deduplication();
        kv.apply(&append(1, 1, "k", "a"));
        kv.apply(&append(1, 1, "k", "a"));
        assert_eq!(kv.read("k"), "aa");
    }

    #[test]
    fn clients_have_independent_sessions() {
        let mut kv = KvStore::new();
        kv.apply(&append(1, 7, "k", "a"));
        assert_eq!(kv.apply(&append(2, 1, "k", "b")), Applied::Fresh(KvResult::Done));
        assert_eq!(kv.read("k"), "ab");
        assert_ne!(kv.digest(), KvStore::new().digest());
    }
}
