//! Jepsen-style event histories (EDN and Porcupine's KV logs) to calls.
//!
//! Events are maps with `:process`, `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f` and
//! `:value`; other keys are ignored. A completion pairs with its process's pending `:invoke`.
//! `:fail` means the call did not happen; `:info`, or an invoke never completed, means unknown.
//! Events whose `:process` is not an integer (Jepsen's `:nemesis`) are skipped. The position of an
//! event in the file (0-based) is its time, and a call's id is the position of its invoke, so ids
//! and times in reports point back into the file.

use super::value::{Node, Val};
use crate::history::{
    History, InputError, KvCall, KvKind, ModelKind, NilReads, RegisterCall, RegisterOp, Status,
};
use std::collections::HashMap;

/// How strict to be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Jepsen / Knossos: all four types, `:key` or `[key value]` tuples, nemesis events skipped;
    /// what a register read of nil means.
    Jepsen(NilReads),
    /// Porcupine's KV logs: `:invoke` / `:ok` only, integer processes, `:key` strings.
    Porcupine,
}

struct Event<'n> {
    line: usize,
    process: u64,
    kind: Kind,
    f: &'n str,
    f_node: &'n Node,
    value: Option<&'n Node>,
    key: Option<&'n Node>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// The events of a file: one top-level vector/list of maps, or maps one after another.
pub(crate) fn history(
    forms: &[Node],
    model: Option<ModelKind>,
    dialect: Dialect,
    source: &str,
) -> Result<History, InputError> {
    let maps: &[Node] = match forms {
        [one] if one.as_seq().is_some() => one.as_seq().unwrap_or_default(),
        _ => forms,
    };
    let mut events = Vec::with_capacity(maps.len());
    for node in maps {
        if let Some(event) = event(node, dialect, source)? {
            events.push(event);
        }
    }
    let model = match model {
        Some(m) => m,
        None => guess_model(&events),
    };
    let nil_reads = match dialect {
        Dialect::Jepsen(nil_reads) => nil_reads,
        Dialect::Porcupine => NilReads::Value,
    };
    let mut b =
        Builder { source, model, nil_reads, kv: Vec::new(), reg: Vec::new(), pending: HashMap::new() };
    for (t, e) in events.iter().enumerate() {
        b.event(t as u64, e)?;
    }
    Ok(match model {
        ModelKind::Kv => History::Kv(b.kv),
        ModelKind::CasRegister => History::Register { calls: b.reg, initial: None },
    })
}

/// kv if any `:f` is get/put/append, else cas-register (read/write/cas).
fn guess_model(events: &[Event<'_>]) -> ModelKind {
    let kv = events.iter().any(|e| matches!(e.f, "get" | "put" | "append"));
    if kv {
        ModelKind::Kv
    } else {
        ModelKind::CasRegister
    }
}

fn event<'n>(node: &'n Node, dialect: Dialect, source: &str) -> Result<Option<Event<'n>>, InputError> {
    let Some(entries) = node.as_map() else {
        return Err(node.error(
            source,
            "event",
            "a map such as {:process 0, :type :invoke, :f :read, :value nil}",
        ));
    };
    let field = |name: &str| {
        entries.iter().find(|(k, _)| matches!(&k.val, Val::Keyword(n) if n == name)).map(|(_, v)| v)
    };
    let missing = |name: &str| {
        InputError::new(source, Some(node.line), "this key in the event")
            .field(format!(":{name}"))
            .found("nothing")
    };
    let process_node = field("process").ok_or_else(|| missing("process"))?;
    let process = match &process_node.val {
        Val::Int(p) if *p >= 0 && *p <= i128::from(u64::MAX) => *p as u64,
        Val::Keyword(_) if matches!(dialect, Dialect::Jepsen(_)) => return Ok(None),
        _ => return Err(process_node.error(source, ":process", "a non-negative integer")),
    };
    let type_node = field("type").ok_or_else(|| missing("type"))?;
    let kind = match (&type_node.val, dialect) {
        (Val::Keyword(t), _) if t == "invoke" => Kind::Invoke,
        (Val::Keyword(t), _) if t == "ok" => Kind::Ok,
        (Val::Keyword(t), Dialect::Jepsen(_)) if t == "fail" => Kind::Fail,
        (Val::Keyword(t), Dialect::Jepsen(_)) if t == "info" => Kind::Info,
        (_, Dialect::Jepsen(_)) => {
            return Err(type_node.error(source, ":type", "one of :invoke, :ok, :fail, :info"))
        }
        (_, Dialect::Porcupine) => return Err(type_node.error(source, ":type", ":invoke or :ok")),
    };
    let f_node = field("f").ok_or_else(|| missing("f"))?;
    let f = match &f_node.val {
        Val::Keyword(f) => f.as_str(),
        _ => return Err(f_node.error(source, ":f", "a keyword such as :read")),
    };
    let key = field("key");
    if dialect == Dialect::Porcupine {
        if !matches!(f, "get" | "put" | "append") {
            return Err(f_node.error(source, ":f", ":get, :put or :append"));
        }
        match key {
            Some(Node { val: Val::Str(_), .. }) => {}
            Some(k) => return Err(k.error(source, ":key", "a string")),
            None => return Err(missing("key")),
        }
    }
    Ok(Some(Event { line: node.line, process, kind, f, f_node, value: field("value"), key }))
}

struct Builder<'s> {
    source: &'s str,
    model: ModelKind,
    nil_reads: NilReads,
    kv: Vec<KvCall>,
    reg: Vec<RegisterCall>,
    /// process -> (index of its pending call, line of the invoke)
    pending: HashMap<u64, (usize, usize)>,
}

impl Builder<'_> {
    fn event(&mut self, t: u64, e: &Event<'_>) -> Result<(), InputError> {
        let source = self.source;
        if e.kind == Kind::Invoke {
            if let Some(&(_, line)) = self.pending.get(&e.process) {
                return Err(InputError::new(
                    source,
                    Some(e.line),
                    format!(
                        "a completion of process {}'s invoke on line {line} before its next invoke",
                        e.process
                    ),
                )
                .field(":type")
                .found(":invoke"));
            }
            let index = match self.model {
                ModelKind::Kv => {
                    let (kind, key, value) = self.kv_invoke(e)?;
                    let output = None;
                    let call = KvCall {
                        id: t,
                        client: e.process,
                        kind,
                        key,
                        value,
                        output,
                        status: Status::Unknown,
                        call_ns: t,
                        return_ns: None,
                    };
                    self.kv.push(call);
                    self.kv.len() - 1
                }
                ModelKind::CasRegister => {
                    let (key, op) = self.register_invoke(e)?;
                    let call = RegisterCall {
                        id: t,
                        client: e.process,
                        key,
                        op,
                        status: Status::Unknown,
                        call_ns: t,
                        return_ns: None,
                    };
                    self.reg.push(call);
                    self.reg.len() - 1
                }
            };
            self.pending.insert(e.process, (index, e.line));
            return Ok(());
        }
        let Some((index, _)) = self.pending.remove(&e.process) else {
            return Err(InputError::new(
                source,
                Some(e.line),
                format!("an :invoke by process {} before this completion", e.process),
            )
            .field(":process"));
        };
        let status = match e.kind {
            Kind::Ok => Status::Ok,
            Kind::Fail => Status::Failed,
            _ => Status::Unknown,
        };
        match self.model {
            ModelKind::Kv => {
                let call = &self.kv[index];
                if e.f != call.kind.name() && alias(e.f) != call.kind.name() {
                    return Err(e.f_node.error(
                        source,
                        ":f",
                        &format!(":{} as in the invoke", call.kind.name()),
                    ));
                }
                let (kind, value_node) = (call.kind, tuple_value(e, true));
                let mut out = None;
                if kind == KvKind::Get && status == Status::Ok {
                    out = Some(kv_value(value_node, source, "the value read: a string, an integer or nil")?);
                }
                let call = &mut self.kv[index];
                if kind != KvKind::Get && call.value.is_empty() && status == Status::Ok {
                    call.value = kv_value(value_node, source, "a string or an integer")?;
                }
                call.output = out;
                call.status = status;
                call.return_ns = (status != Status::Unknown).then_some(t);
            }
            ModelKind::CasRegister => {
                let read_value = match self.reg[index].op {
                    RegisterOp::Read { .. } if status == Status::Ok => {
                        let v = register_value(e, source)?;
                        Some(v)
                    }
                    _ => None,
                };
                let call = &mut self.reg[index];
                if e.f != call.op.name() {
                    return Err(e.f_node.error(
                        source,
                        ":f",
                        &format!(":{} as in the invoke", call.op.name()),
                    ));
                }
                call.op = match call.op {
                    RegisterOp::Read { .. } => RegisterOp::Read { output: read_value },
                    RegisterOp::Cas { from, to, .. } => {
                        RegisterOp::Cas { from, to, succeeded: (status == Status::Ok).then_some(true) }
                    }
                    op => op,
                };
                call.status = status;
                if read_value == Some(None) && self.nil_reads == NilReads::Unknown {
                    // Knossos's reading: a read of nil says nothing (dropped as unknown).
                    call.status = Status::Unknown;
                    call.op = RegisterOp::Read { output: None };
                }
                call.return_ns = (call.status != Status::Unknown).then_some(t);
            }
        }
        Ok(())
    }

    fn kv_invoke(&self, e: &Event<'_>) -> Result<(KvKind, String, String), InputError> {
        let source = self.source;
        let kind = match alias(e.f) {
            "get" => KvKind::Get,
            "put" => KvKind::Put,
            "append" => KvKind::Append,
            _ => return Err(e.f_node.error(source, ":f", ":get, :put or :append (or :read, :write)")),
        };
        let key = event_key(e, source)?;
        let value = match (kind, tuple_value(e, true)) {
            (KvKind::Get, _) | (_, None) => String::new(),
            (_, Some(Node { val: Val::Nil, .. })) => String::new(),
            (_, v) => kv_value(v, source, "a string or an integer")?,
        };
        Ok((kind, key, value))
    }

    fn register_invoke(&self, e: &Event<'_>) -> Result<(String, RegisterOp), InputError> {
        let source = self.source;
        let key = match (e.key, keyed_tuple(e)) {
            (Some(_), _) | (None, Some(_)) => event_key(e, source)?,
            (None, None) => String::new(),
        };
        let value = tuple_value(e, keyed_tuple(e).is_some());
        let int = |n: Option<&Node>, what: &str| -> Result<i64, InputError> {
            match n.map(|n| &n.val) {
                Some(Val::Int(i)) => i64::try_from(*i).map_err(|_| {
                    n.map_or_else(|| missing_value(e, source), |n| n.error(source, ":value", what))
                }),
                _ => Err(n.map_or_else(|| missing_value(e, source), |n| n.error(source, ":value", what))),
            }
        };
        let op = match e.f {
            "read" => RegisterOp::Read { output: None },
            "write" => RegisterOp::Write { value: int(value, "an integer")? },
            "cas" => {
                let pair = value.and_then(Node::as_seq).filter(|p| p.len() == 2);
                let Some(pair) = pair else {
                    return Err(value.map_or_else(
                        || missing_value(e, source),
                        |n| n.error(source, ":value", "[from to]"),
                    ));
                };
                let from = int(Some(&pair[0]), "[from to], two integers")?;
                let to = int(Some(&pair[1]), "[from to], two integers")?;
                RegisterOp::Cas { from, to, succeeded: None }
            }
            _ => return Err(e.f_node.error(source, ":f", ":read, :write or :cas")),
        };
        Ok((key, op))
    }
}

/// Jepsen's kv workloads say read/write for get/put.
fn alias(f: &str) -> &str {
    match f {
        "read" => "get",
        "write" => "put",
        other => other,
    }
}

fn missing_value(e: &Event<'_>, source: &str) -> InputError {
    InputError::new(source, Some(e.line), "a value").field(":value").found("nothing")
}

/// `[key value]` in `:value` (Jepsen's independent keys), when there is no `:key` field. For a
/// register's cas, only `[key [from to]]` counts, as `[from to]` alone is the plain form.
fn keyed_tuple<'n>(e: &Event<'n>) -> Option<(&'n Node, &'n Node)> {
    if e.key.is_some() {
        return None;
    }
    let items = e.value?.as_seq()?;
    if items.len() != 2 {
        return None;
    }
    if e.f == "cas" && items[1].as_seq().is_none() {
        return None;
    }
    Some((&items[0], &items[1]))
}

/// The value part of the event: `:value` itself, or the second item of a `[key value]` tuple.
fn tuple_value<'n>(e: &Event<'n>, allow_tuple: bool) -> Option<&'n Node> {
    match keyed_tuple(e) {
        Some((_, v)) if allow_tuple => Some(v),
        _ => e.value,
    }
}

fn event_key(e: &Event<'_>, source: &str) -> Result<String, InputError> {
    let (node, field) = match (e.key, keyed_tuple(e)) {
        (Some(k), _) => (k, ":key"),
        (None, Some((k, _))) => (k, ":value"),
        (None, None) => {
            return Err(InputError::new(source, Some(e.line), "a :key, or a :value of the form [key value]")
                .field(":key")
                .found("neither"))
        }
    };
    match &node.val {
        Val::Str(s) => Ok(s.clone()),
        Val::Int(i) => Ok(i.to_string()),
        Val::Keyword(k) => Ok(format!(":{k}")),
        _ => Err(node.error(source, field, "a key: a string, an integer or a keyword")),
    }
}

/// A KV value: a string, an integer (as its decimal text) or nil (as "", a key never written).
fn kv_value(node: Option<&Node>, source: &str, expected: &str) -> Result<String, InputError> {
    match node.map(|n| &n.val) {
        Some(Val::Str(s)) => Ok(s.clone()),
        Some(Val::Int(i)) => Ok(i.to_string()),
        Some(Val::Nil) | None => Ok(String::new()),
        Some(_) => Err(node.map_or_else(
            || InputError::new(source, None, expected),
            |n| n.error(source, ":value", expected),
        )),
    }
}

fn register_value(e: &Event<'_>, source: &str) -> Result<Option<i64>, InputError> {
    match tuple_value(e, keyed_tuple(e).is_some()) {
        None => Ok(None),
        Some(Node { val: Val::Nil, .. }) => Ok(None),
        Some(n @ Node { val: Val::Int(i), .. }) => {
            i64::try_from(*i).map(Some).map_err(|_| n.error(source, ":value", "an integer within 64 bits"))
        }
        Some(n) => Err(n.error(source, ":value", "the value read: an integer or nil")),
    }
}
