//! The key/value model: each key is a string register starting as "", with get (read), put
//! (replace) and append (concatenate). A history is split per key before it gets here.

use super::unseen::Unseen;
use super::{push_quoted, push_quoted_short, Model};
use crate::history::{KvCall, KvKind, Status};
use crate::search::{Op, Search, Tr};

pub(crate) struct KvModel;

impl<'a> Model<'a> for KvModel {
    type Call = KvCall;

    fn key(call: &KvCall) -> &str {
        &call.key
    }
    fn id(call: &KvCall) -> u64 {
        call.id
    }
    fn client(call: &KvCall) -> u64 {
        call.client
    }
    fn status(call: &KvCall) -> Status {
        call.status
    }
    fn call_ns(call: &KvCall) -> u64 {
        call.call_ns
    }
    fn return_ns(call: &KvCall) -> Option<u64> {
        call.return_ns
    }

    fn dropped(call: &KvCall) -> bool {
        call.status == Status::Failed || (call.status == Status::Unknown && call.kind == KvKind::Get)
    }

    fn missing_output(call: &KvCall) -> bool {
        call.kind == KvKind::Get && call.output.is_none()
    }

    fn initial_value(&self, value: &mut Vec<u8>) {
        value.clear();
    }

    fn apply(call: &KvCall, value: &mut Vec<u8>) -> Result<(), ()> {
        match call.kind {
            KvKind::Get => match &call.output {
                Some(output) if output.as_bytes() != value.as_slice() => return Err(()),
                _ => {}
            },
            KvKind::Put => {
                value.clear();
                value.extend_from_slice(call.value.as_bytes());
            }
            KvKind::Append => value.extend_from_slice(call.value.as_bytes()),
        }
        Ok(())
    }

    fn compile_from(
        &self,
        calls: &'a [KvCall],
        members: &[u32],
        initial: Option<&[u8]>,
        search: &mut Search<'a>,
    ) {
        search.begin(members.len());
        let empty = search.states.intern(initial.unwrap_or(b""));
        let unseen = Unseen::new(calls, members);
        for &i in members {
            let call = &calls[i as usize];
            if call.status == Status::Unknown && unseen.never_seen(calls, i) {
                continue;
            }
            let tr = match call.kind {
                KvKind::Get => {
                    // validate() guarantees the output of a completed get; unknown gets are dropped.
                    let output = call.output.as_deref().unwrap_or("");
                    Tr::ReadStr(search.states.add_read(output.as_bytes()))
                }
                KvKind::Put => Tr::Set(search.states.intern(call.value.as_bytes())),
                KvKind::Append => Tr::Append(search.states.add_piece(call.value.as_bytes())),
            };
            let return_ns = if call.status == Status::Ok { call.return_ns } else { None };
            search.ops.push(Op::new(tr, call.call_ns, return_ns, i));
        }
        search.prepare(empty);
    }

    fn replay(&self, calls: &[KvCall], members: &[u32], value: &mut Vec<u8>) -> Result<(), usize> {
        value.clear();
        for (k, &i) in members.iter().enumerate() {
            let call = &calls[i as usize];
            match call.kind {
                KvKind::Get => {
                    if call.output.as_deref().map(str::as_bytes) != Some(value.as_slice()) {
                        return Err(k);
                    }
                }
                KvKind::Put => {
                    value.clear();
                    value.extend_from_slice(call.value.as_bytes());
                }
                KvKind::Append => value.extend_from_slice(call.value.as_bytes()),
            }
        }
        Ok(())
    }

    fn impossible_read(&self, calls: &[KvCall], members: &[u32]) -> Option<usize> {
        let part = || members.iter().map(|&i| &calls[i as usize]);
        if part().any(|c| c.kind == KvKind::Append && c.status != Status::Failed) {
            return None;
        }
        let mut written: Vec<&str> = part()
            .filter(|c| c.kind == KvKind::Put && c.status != Status::Failed)
            .map(|c| c.value.as_str())
            .chain(std::iter::once(""))
            .collect();
        written.sort_unstable();
        part().position(|c| {
            c.kind == KvKind::Get
                && c.status == Status::Ok
                && c.output.as_deref().is_some_and(|o| written.binary_search(&o).is_err())
        })
    }

    fn render_value(bytes: &[u8], out: &mut String) {
        push_quoted_short(out, &String::from_utf8_lossy(bytes));
    }

    fn describe(call: &KvCall, out: &mut String) {
        out.push_str(call.kind.name());
        out.push('(');
        push_quoted(out, &call.key);
        match (call.kind, &call.output) {
            (KvKind::Get, Some(output)) => {
                out.push_str(") -> ");
                push_quoted_short(out, output);
            }
            (KvKind::Get, None) => out.push(')'),
            _ => {
                out.push_str(", ");
                push_quoted_short(out, &call.value);
                out.push(')');
            }
        }
        match call.status {
            Status::Ok => {}
            Status::Unknown => out.push_str(", outcome unknown"),
            Status::Failed => out.push_str(", failed"),
        }
    }
}
