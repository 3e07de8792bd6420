//! Writing histories in the simulator's format (`raftsim-history`, version 1; read by json.rs),
//! one operation a line so that files diff well and stream.

use crate::history::{History, KvCall, KvKind, RegisterOp};
use std::fmt::Write;

/// Writes a KV history in the `raftsim-history` format, one operation a line.
pub fn kv_history_to_json(calls: &[KvCall]) -> String {
    let mut out = String::from(
        "{\"format\": \"raftsim-history\", \"version\": 1, \"model\": \"kv\",\n \"operations\": [",
    );
    for (i, c) in calls.iter().enumerate() {
        let value = if c.kind == KvKind::Get { "null".to_string() } else { quote(&c.value) };
        let output = c.output.as_deref().map_or("null".to_string(), quote);
        let _ = write!(
            out,
            "{}\n  {{\"id\": {}, \"client\": {}, \"f\": \"{}\", \"key\": {}, \"value\": {value}, \"output\": {output}, \
             \"status\": \"{}\", \"call_ns\": {}, \"return_ns\": {}}}",
            if i == 0 { "" } else { "," },
            c.id,
            c.client,
            c.kind.name(),
            quote(&c.key),
            c.status.name(),
            c.call_ns,
            opt(c.return_ns)
        );
    }
    out.push_str("\n ]}\n");
    out
}

/// Writes any history in the `raftsim-history` format, one operation a line.
pub fn history_to_json(history: &History) -> String {
    let (calls, initial) = match history {
        History::Kv(calls) => return kv_history_to_json(calls),
        History::Register { calls, initial } => (calls, initial),
    };
    let mut out =
        String::from("{\"format\": \"raftsim-history\", \"version\": 1, \"model\": \"cas-register\",");
    if let Some(initial) = initial {
        let _ = write!(out, " \"initial\": {},", opt(*initial));
    }
    out.push_str("\n \"operations\": [");
    for (i, c) in calls.iter().enumerate() {
        let (value, output) = match c.op {
            RegisterOp::Read { output } => ("null".to_string(), output.map_or("null".to_string(), opt)),
            RegisterOp::Write { value } => (value.to_string(), "null".to_string()),
            RegisterOp::Cas { from, to, succeeded } => {
                (format!("[{from}, {to}]"), succeeded.map_or("null".to_string(), |b| b.to_string()))
            }
        };
        let _ = write!(
            out,
            "{}\n  {{\"id\": {}, \"client\": {}, \"f\": \"{}\", \"key\": {}, \"value\": {value}, \"output\": {output}, \
             \"status\": \"{}\", \"call_ns\": {}, \"return_ns\": {}}}",
            if i == 0 { "" } else { "," },
            c.id,
            c.client,
            c.op.name(),
            quote(&c.key),
            c.status.name(),
            c.call_ns,
            opt(c.return_ns)
        );
    }
    out.push_str("\n ]}\n");
    out
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}
