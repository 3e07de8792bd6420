//! The replicated state machine: a map of string keys to string values, with a session table
//! that makes client commands apply at most once (thesis §6.3).
//!
//! Its snapshot holds both, so that deduplication survives compaction: a retry of a command
//! the snapshot covers is still recognised after a node restores from it. The encoding is
//! deterministic (keys and clients in order), so replicas at one index produce the same bytes.

use std::collections::BTreeMap;

use crate::command::{ClientId, Command, KvOp, KvResult};

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

    /// A key's value, `None` if it was never written (where [`KvStore::read`] says "").
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// A client's session: its latest applied sequence number and that command's result.
    #[must_use]
    pub fn session(&self, client: ClientId) -> Option<(u64, &KvResult)> {
        self.sessions.get(&client).map(|(seq, result)| (*seq, result))
    }

    /// How many clients have a session.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The store as snapshot bytes: every key and value and, unless `with_sessions` is false
    /// (the planted bug `snapshot-without-sessions`), every session.
    #[must_use]
    pub fn encode_snapshot(&self, with_sessions: bool) -> Vec<u8> {
        let mut out = vec![SNAPSHOT_VERSION];
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        for (key, value) in &self.data {
            put_str(&mut out, key);
            put_str(&mut out, value);
        }
        let sessions = if with_sessions { self.sessions.len() } else { 0 };
        out.extend_from_slice(&(sessions as u32).to_le_bytes());
        for (client, (seq, result)) in self.sessions.iter().take(sessions) {
            out.extend_from_slice(&client.0.to_le_bytes());
            out.extend_from_slice(&seq.to_le_bytes());
            match result {
                KvResult::Done => out.push(0),
                KvResult::Value(v) => {
                    out.push(1);
                    put_str(&mut out, v);
                }
            }
        }
        out
    }

    /// The store a snapshot holds; `deduplicate` as in [`KvStore::new`] (true) or
    /// [`KvStore::without_deduplication`] (false).
    pub fn from_snapshot(bytes: &[u8], deduplicate: bool) -> Result<KvStore, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.u8()? != SNAPSHOT_VERSION {
            return Err("not a KV snapshot of a known version".into());
        }
        let mut store = KvStore { deduplicate, ..KvStore::default() };
        for _ in 0..r.u32()? {
            let key = r.string()?;
            let value = r.string()?;
            store.data.insert(key, value);
        }
        for _ in 0..r.u32()? {
            let client = ClientId(r.u64()?);
            let seq = r.u64()?;
            let result = match r.u8()? {
                0 => KvResult::Done,
                1 => KvResult::Value(r.string()?),
                other => return Err(format!("unknown result tag {other}")),
            };
            store.sessions.insert(client, (seq, result));
        }
        if r.at != bytes.len() {
            return Err("trailing bytes after the sessions".into());
        }
        Ok(store)
    }

    /// A 64-bit fingerprint of the whole state, data and sessions: the sum of
    /// [`KvStore::key_fingerprint`] over keys and [`KvStore::session_fingerprint`] over clients.
    /// Being a sum, it can be kept up to date one change at a time.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        let data = self.data.iter().map(|(k, v)| KvStore::key_fingerprint(k, v));
        let sessions = self.sessions.iter().map(|(c, (seq, r))| KvStore::session_fingerprint(*c, *seq, r));
        data.chain(sessions).fold(0u64, u64::wrapping_add)
    }

    /// One key's share of [`KvStore::fingerprint`].
    #[must_use]
    pub fn key_fingerprint(key: &str, value: &str) -> u64 {
        KvStore::key_fingerprint_of(key, ValueDigest::of(value).finish())
    }

    /// One key's share of [`KvStore::fingerprint`], from its value's digest.
    #[must_use]
    pub fn key_fingerprint_of(key: &str, value: u64) -> u64 {
        let mut h = Fnv::new(1);
        h.feed(key.as_bytes());
        h.feed(&value.to_le_bytes());
        h.finish()
    }

    /// One session's share of [`KvStore::fingerprint`].
    #[must_use]
    pub fn session_fingerprint(client: ClientId, seq: u64, result: &KvResult) -> u64 {
        let read = match result {
            KvResult::Done => None,
            KvResult::Value(v) => Some(ValueDigest::of(v).finish()),
        };
        KvStore::session_fingerprint_of(client, seq, read)
    }

    /// One session's share of [`KvStore::fingerprint`], from the digest of the value its latest
    /// command read (`None` for a write).
    #[must_use]
    pub fn session_fingerprint_of(client: ClientId, seq: u64, read: Option<u64>) -> u64 {
        let mut h = Fnv::new(2);
        h.feed(&client.0.to_le_bytes());
        h.feed(&seq.to_le_bytes());
        match read {
            None => h.feed(&[0]),
            Some(digest) => h.feed(&digest.to_le_bytes()),
        }
        h.finish()
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

const SNAPSHOT_VERSION: u8 = 1;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| "the snapshot ends early".to_string())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string that is not UTF-8".to_string())
    }
}

/// A digest of a value that an append extends in the time of the appended bytes, so that a
/// fingerprint kept up to date one command at a time costs what the command writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ValueDigest {
    state: u64,
    len: u64,
}

impl Default for ValueDigest {
    fn default() -> ValueDigest {
        ValueDigest { state: Fnv::new(3).0, len: 0 }
    }
}

impl ValueDigest {
    #[must_use]
    pub fn of(value: &str) -> ValueDigest {
        let mut d = ValueDigest::default();
        d.extend(value);
        d
    }

    /// The digest of the value with `more` appended.
    pub fn extend(&mut self, more: &str) {
        let mut h = Fnv(self.state);
        h.bytes(more.as_bytes());
        self.state = h.0;
        self.len += more.len() as u64;
    }

    #[must_use]
    pub fn finish(&self) -> u64 {
        let mut h = Fnv(self.state);
        h.feed(&self.len.to_le_bytes());
        h.finish()
    }
}

/// FNV-1a with a length-delimited feed and a final mix, so that sums of fingerprints of
/// different items rarely collide.
struct Fnv(u64);

impl Fnv {
    fn new(domain: u8) -> Fnv {
        Fnv((0xcbf2_9ce4_8422_2325 ^ u64::from(domain)).wrapping_mul(0x0100_0000_01b3))
    }
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn feed(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
        self.0 ^= bytes.len() as u64;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
    fn finish(self) -> u64 {
        // SplitMix64's finalizer.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
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

    #[test]
    fn a_snapshot_restores_data_and_sessions_so_a_retry_still_applies_once() {
        let mut kv = KvStore::new();
        kv.apply(&append(1, 1, "k", "a"));
        kv.apply(&append(2, 4, "j", "b"));
        let mut restored = KvStore::from_snapshot(&kv.encode_snapshot(true), true).expect("decodes");
        assert_eq!(restored.fingerprint(), kv.fingerprint());
        assert_eq!(restored.apply(&append(1, 1, "k", "a")), Applied::Duplicate(KvResult::Done));
        assert_eq!(restored.read("k"), "a");
    }

    #[test]
    fn a_snapshot_without_sessions_forgets_what_was_applied() {
        let mut kv = KvStore::new();
        kv.apply(&append(1, 1, "k", "a"));
        let mut restored = KvStore::from_snapshot(&kv.encode_snapshot(false), true).expect("decodes");
        assert_ne!(restored.fingerprint(), kv.fingerprint(), "the sessions are part of the state");
        restored.apply(&append(1, 1, "k", "a"));
        assert_eq!(restored.read("k"), "aa", "the retry applied again");
    }

    #[test]
    fn equal_states_encode_to_equal_bytes_and_a_damaged_snapshot_is_refused() {
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        a.apply(&append(1, 1, "x", "1"));
        a.apply(&append(2, 1, "y", "2"));
        b.apply(&append(2, 1, "y", "2"));
        b.apply(&append(1, 1, "x", "1"));
        assert_eq!(a.encode_snapshot(true), b.encode_snapshot(true));
        let bytes = a.encode_snapshot(true);
        assert!(KvStore::from_snapshot(&bytes[..bytes.len() - 1], true).is_err());
        assert!(KvStore::from_snapshot(&[bytes.as_slice(), &[0]].concat(), true).is_err());
    }

    #[test]
    fn a_digest_extended_by_appends_equals_the_digest_of_the_whole_value() {
        let mut d = ValueDigest::of("c1.1;");
        d.extend("c2.7;");
        d.extend("");
        assert_eq!(d, ValueDigest::of("c1.1;c2.7;"));
        assert_ne!(d.finish(), ValueDigest::of("c1.1;c2.7").finish());
    }

    #[test]
    fn the_fingerprint_tells_an_empty_value_from_a_missing_key() {
        let mut kv = KvStore::new();
        kv.apply(&Command {
            client: ClientId(1),
            seq: 1,
            op: KvOp::Put { key: "k".into(), value: String::new() },
        });
        let mut other = KvStore::new();
        other.apply(&Command {
            client: ClientId(1),
            seq: 1,
            op: KvOp::Put { key: "j".into(), value: String::new() },
        });
        assert_ne!(kv.fingerprint(), other.fingerprint());
    }
}
