//! The register model (Jepsen's cas-register): an integer or nil, with read, write and
//! compare-and-set. Values are interned as byte strings: nil is the empty string and an integer
//! its 8 little-endian bytes, so the two can never be confused and the search stays model-blind.

use super::Model;
use crate::history::{RegisterCall, RegisterOp, Status};
use crate::search::{Op, Search, Tr};

pub(crate) struct RegisterModel {
    pub initial: Option<i64>,
}

fn encode(value: Option<i64>) -> [u8; 8] {
    value.unwrap_or(0).to_le_bytes()
}

fn intern(search: &mut Search<'_>, value: Option<i64>) -> u32 {
    match value {
        None => search.states.intern(b""),
        Some(_) => search.states.intern(&encode(value)),
    }
}

impl<'a> Model<'a> for RegisterModel {
    type Call = RegisterCall;

    fn key(call: &RegisterCall) -> &str {
        &call.key
    }
    fn id(call: &RegisterCall) -> u64 {
        call.id
    }
    fn client(call: &RegisterCall) -> u64 {
        call.client
    }
    fn status(call: &RegisterCall) -> Status {
        call.status
    }
    fn call_ns(call: &RegisterCall) -> u64 {
        call.call_ns
    }
    fn return_ns(call: &RegisterCall) -> Option<u64> {
        call.return_ns
    }

    fn dropped(call: &RegisterCall) -> bool {
        call.status == Status::Failed
            || (call.status == Status::Unknown && matches!(call.op, RegisterOp::Read { .. }))
    }

    fn missing_output(call: &RegisterCall) -> bool {
        matches!(call.op, RegisterOp::Read { output: None })
    }

    fn compile(&self, calls: &'a [RegisterCall], members: &[u32], search: &mut Search<'a>) {
        search.begin(members.len());
        let initial = intern(search, self.initial);
        for &i in members {
            let call = &calls[i as usize];
            let known = call.status == Status::Ok;
            let tr = match call.op {
                RegisterOp::Read { output } => Tr::ReadId(intern(search, output.unwrap_or(None))),
                RegisterOp::Write { value } => Tr::Set(intern(search, Some(value))),
                RegisterOp::Cas { from, to, succeeded } => {
                    let from = intern(search, Some(from));
                    // An unknown cas either swapped or had no effect; "no effect" is the same as
                    // never taking effect, which the search already allows, so only the swap is
                    // a transition.
                    if known && succeeded == Some(false) {
                        Tr::CasNot(from)
                    } else {
                        Tr::Cas { from, to: intern(search, Some(to)) }
                    }
                }
            };
            let return_ns = if known { call.return_ns } else { None };
            search.ops.push(Op { tr, call_ns: call.call_ns, return_ns, call_index: i });
        }
        search.prepare(initial);
    }

    fn render_value(bytes: &[u8]) -> String {
        match <[u8; 8]>::try_from(bytes) {
            Ok(le) => i64::from_le_bytes(le).to_string(),
            Err(_) => "nil".to_string(),
        }
    }

    fn describe(call: &RegisterCall) -> String {
        let at = if call.key.is_empty() { String::new() } else { format!("{:?}, ", call.key) };
        let show = |v: Option<i64>| v.map_or("nil".to_string(), |v| v.to_string());
        let what = match call.op {
            RegisterOp::Read { output: Some(v) } => format!("read({}) -> {}", at.trim_end_matches(", "), show(v)),
            RegisterOp::Read { output: None } => format!("read({})", at.trim_end_matches(", ")),
            RegisterOp::Write { value } => format!("write({at}{value})"),
            RegisterOp::Cas { from, to, succeeded } => {
                let outcome = match succeeded {
                    Some(true) | None if call.status == Status::Ok => " -> ok",
                    Some(false) => " -> found another value",
                    _ => "",
                };
                format!("cas({at}{from}, {to}){outcome}")
            }
        };
        match call.status {
            Status::Ok => what,
            Status::Unknown => format!("{what}, outcome unknown"),
            Status::Failed => format!("{what}, failed"),
        }
    }
}
