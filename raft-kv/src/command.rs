//! What clients ask of the KV service, and how a command travels in a log entry.
//!
//! Raft carries a command as opaque bytes. The encoding puts the command's name, `(client,
//! seq)`, first, so a host can tell which command an entry holds without decoding the rest
//! ([`Command::peek_id`]):
//!
//! ```text
//! client: u64 LE | seq: u64 LE | op: u8 (0 get, 1 put, 2 append) | key: u32 LE length + UTF-8
//! | value (put, append): u32 LE length + UTF-8
//! ```

use std::fmt;
use std::sync::Arc;

use raft_host::NodeId;

/// The identity of a KV client (a "clerk"); with a sequence number it names one command.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// One KV operation. Keys and values are strings; a missing key reads as "".
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum KvOp {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
}

impl KvOp {
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key } | KvOp::Put { key, .. } | KvOp::Append { key, .. } => key,
        }
    }
    #[must_use]
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get { .. })
    }
}

/// A client command as it sits in the log. `(client, seq)` names it uniquely: a retry carries the
/// same pair, which is how the state machine applies it at most once.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Command {
    pub client: ClientId,
    pub seq: u64,
    pub op: KvOp,
}

const OP_GET: u8 = 0;
const OP_PUT: u8 = 1;
const OP_APPEND: u8 = 2;

impl Command {
    /// The bytes a log entry carries for this command.
    #[must_use]
    pub fn encode(&self) -> Arc<[u8]> {
        let mut out = Vec::with_capacity(29 + self.op.key().len());
        out.extend_from_slice(&self.client.0.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        match &self.op {
            KvOp::Get { key } => {
                out.push(OP_GET);
                put_str(&mut out, key);
            }
            KvOp::Put { key, value } => {
                out.push(OP_PUT);
                put_str(&mut out, key);
                put_str(&mut out, value);
            }
            KvOp::Append { key, value } => {
                out.push(OP_APPEND);
                put_str(&mut out, key);
                put_str(&mut out, value);
            }
        }
        Arc::from(out)
    }

    /// The command encoded in `bytes`; the error says what is wrong with them.
    pub fn decode(bytes: &[u8]) -> Result<Command, String> {
        let mut r = Reader { bytes, at: 0 };
        let client = ClientId(r.u64()?);
        let seq = r.u64()?;
        let op = match r.u8()? {
            OP_GET => KvOp::Get { key: r.string()? },
            OP_PUT => KvOp::Put { key: r.string()?, value: r.string()? },
            OP_APPEND => KvOp::Append { key: r.string()?, value: r.string()? },
            other => return Err(format!("unknown operation {other}")),
        };
        if r.at != bytes.len() {
            return Err(format!("{} bytes after the command", bytes.len() - r.at));
        }
        Ok(Command { client, seq, op })
    }

    /// The `(client, seq)` of the command encoded in `bytes`, read without decoding the rest.
    #[must_use]
    pub fn peek_id(bytes: &[u8]) -> Option<(ClientId, u64)> {
        let client = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let seq = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        Some((ClientId(client), seq))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seq {} {:?}", self.client, self.seq, self.op)
    }
}

/// A client's call to a server.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientRequest {
    pub client: ClientId,
    pub seq: u64,
    pub op: KvOp,
}

/// A server's answer to a client.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientReply {
    pub client: ClientId,
    pub seq: u64,
    pub from: NodeId,
    pub result: Result<KvResult, ClientError>,
}

/// What a completed command returns: a read's value, or nothing for a write.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum KvResult {
    Value(String),
    Done,
}

/// Why a server did not complete a call.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ClientError {
    /// This server is not the leader, and did not put the command in its log: the call certainly
    /// did not take effect through this server. `hint` is the leader it knows of, if any.
    NotLeader { hint: Option<NodeId> },
    /// The server proposed the command but lost leadership before it was applied: it may still
    /// take effect, and the client must retry with the same sequence number.
    LostLeadership { hint: Option<NodeId> },
}

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
        let end = end.ok_or_else(|| "the command ends early".to_string())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        let len = u32::from_le_bytes(a) as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_decodes_to_what_was_encoded_and_its_id_is_read_without_decoding() {
        for op in [
            KvOp::Get { key: "k".into() },
            KvOp::Put { key: "k".into(), value: "v".into() },
            KvOp::Append { key: "".into(), value: "x;".into() },
        ] {
            let command = Command { client: ClientId(7), seq: 42, op };
            let bytes = command.encode();
            assert_eq!(Command::decode(&bytes), Ok(command));
            assert_eq!(Command::peek_id(&bytes), Some((ClientId(7), 42)));
        }
    }

    #[test]
    fn damaged_bytes_are_refused_with_a_reason() {
        let bytes =
            Command { client: ClientId(1), seq: 1, op: KvOp::Put { key: "k".into(), value: "v".into() } }
                .encode();
        assert!(Command::decode(&bytes[..bytes.len() - 1]).unwrap_err().contains("ends early"));
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(Command::decode(&longer).unwrap_err().contains("after the command"));
        let mut bad = bytes.to_vec();
        bad[16] = 9;
        assert!(Command::decode(&bad).unwrap_err().contains("unknown operation"));
        assert_eq!(Command::peek_id(&bytes[..15]), None);
    }
}
