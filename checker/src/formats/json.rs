//! Reading the simulator's history format (`raftsim-history`, version 1; written by write.rs).
//!
//! ```json
//! {"format": "raftsim-history", "version": 1, "model": "kv",
//!  "operations": [
//!   {"id": 0, "client": 3, "f": "append", "key": "k2", "value": "c3.17;", "output": null, "status": "ok", "call_ns": 1200, "return_ns": 5400}
//!  ]}
//! ```
//! The full specification is in checker/README.md. The reader is our own (a small recursive
//! descent into `Node`s that keep their line), so every error names its line and field; unknown
//! fields are errors, as a misspelt field would otherwise be silently ignored.

use super::value::{Node, Val};
use crate::history::{History, InputError, KvCall, KvKind, ModelKind, RegisterCall, RegisterOp, Status};
use std::collections::HashSet;

const DEPTH_MAX: usize = 200;

/// Parses the JSON text into a `Node` tree.
pub(crate) fn read(text: &str, source: &str) -> Result<Node, InputError> {
    let mut p = Parser { src: text.as_bytes(), pos: 0, line: 1, source };
    p.space();
    let node = p.value(0)?;
    p.space();
    if p.pos < p.src.len() {
        return Err(p.err("the end of the document after the top-level object").found(p.found()));
    }
    Ok(node)
}

struct Parser<'t> {
    src: &'t [u8],
    pos: usize,
    line: usize,
    source: &'t str,
}

impl Parser<'_> {
    fn err(&self, expected: &str) -> InputError {
        InputError::new(self.source, Some(self.line), expected).field("syntax")
    }

    fn found(&self) -> String {
        match self.src.get(self.pos) {
            None => "the end of the file".to_string(),
            Some(&b) => format!("'{}'", b as char),
        }
    }

    fn space(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.src.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, InputError> {
        if depth > DEPTH_MAX {
            return Err(self.err(&format!("at most {DEPTH_MAX} levels of nesting")));
        }
        let line = self.line;
        let val = match self.src.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.space();
                if !self.eat(b'}') {
                    loop {
                        self.space();
                        let key_line = self.line;
                        if self.src.get(self.pos) != Some(&b'"') {
                            return Err(self.err("a field name in double quotes").found(self.found()));
                        }
                        let key = Node { line: key_line, val: Val::Str(self.string()?) };
                        self.space();
                        if !self.eat(b':') {
                            return Err(self.err("':' after the field name").found(self.found()));
                        }
                        self.space();
                        entries.push((key, self.value(depth + 1)?));
                        self.space();
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("',' or '}' in the object").found(self.found()));
                        }
                    }
                }
                Val::Map(entries)
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.space();
                if !self.eat(b']') {
                    loop {
                        self.space();
                        items.push(self.value(depth + 1)?);
                        self.space();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err("',' or ']' in the array").found(self.found()));
                        }
                    }
                }
                Val::Vector(items)
            }
            Some(b'"') => Val::Str(self.string()?),
            Some(b't') if self.src[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Val::Bool(true)
            }
            Some(b'f') if self.src[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Val::Bool(false)
            }
            Some(b'n') if self.src[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Val::Nil
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.err("a JSON value").found(self.found())),
        };
        Ok(Node { line, val })
    }

    fn number(&mut self) -> Result<Val, InputError> {
        let start = self.pos;
        while self.src.get(self.pos).is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b)) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
        if let Ok(i) = text.parse::<i128>() {
            return Ok(Val::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) => Ok(Val::Float(f)),
            Err(_) => Err(self.err("a number").found(format!("{text:?}"))),
        }
    }

    fn string(&mut self) -> Result<String, InputError> {
        let line = self.line;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let plain =
                rest.iter().position(|&b| b == b'"' || b == b'\\' || b == b'\n').unwrap_or(rest.len());
            out.push_str(std::str::from_utf8(&rest[..plain]).unwrap_or(""));
            self.pos += plain;
            match self.src.get(self.pos) {
                None | Some(b'\n') => {
                    return Err(InputError::new(
                        self.source,
                        Some(line),
                        "a closing '\"' on the line the string starts",
                    )
                    .field("syntax")
                    .found(self.found()))
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.pos += 1;
                    let escape = self.src.get(self.pos).copied();
                    self.pos += 1;
                    match escape {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => return Err(self.err("a JSON string escape").found(self.found())),
                    }
                }
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, InputError> {
        let hex4 = |p: &mut Self| -> Option<u32> {
            let h = p.src.get(p.pos..p.pos + 4).and_then(|h| std::str::from_utf8(h).ok())?;
            let v = u32::from_str_radix(h, 16).ok()?;
            p.pos += 4;
            Some(v)
        };
        let bad = |p: &Self| p.err("a \\uXXXX escape of a valid character");
        let first = hex4(self).ok_or_else(|| bad(self))?;
        if (0xD800..0xDC00).contains(&first) {
            if !(self.eat(b'\\') && self.eat(b'u')) {
                return Err(bad(self));
            }
            let second = hex4(self).ok_or_else(|| bad(self))?;
            let code = 0x10000 + ((first - 0xD800) << 10) + (second.wrapping_sub(0xDC00) & 0x3FF);
            return char::from_u32(code).ok_or_else(|| bad(self));
        }
        char::from_u32(first).ok_or_else(|| bad(self))
    }
}

/// Maps a `raftsim-history` document to a history.
pub(crate) fn history(root: &Node, model: Option<ModelKind>, source: &str) -> Result<History, InputError> {
    let Some(fields) = root.as_map() else {
        return Err(root.error(source, "(top level)", "an object {\"format\": \"raftsim-history\", ...}"));
    };
    let fields = Fields::new(fields, source, &["format", "version", "model", "operations", "initial"])?;
    let format = fields.required("format")?;
    if format.val != Val::Str("raftsim-history".into()) {
        return Err(format.error(source, "format", "\"raftsim-history\""));
    }
    let version = fields.required("version")?;
    if version.val != Val::Int(1) {
        return Err(version.error(source, "version", "1"));
    }
    let model_node = fields.required("model")?;
    let file_model = match &model_node.val {
        Val::Str(s) if s == "kv" => ModelKind::Kv,
        Val::Str(s) if s == "cas-register" => ModelKind::CasRegister,
        _ => return Err(model_node.error(source, "model", "\"kv\" or \"cas-register\"")),
    };
    if let Some(asked) = model {
        if asked != file_model {
            return Err(model_node.error(source, "model", &format!("{:?} as --model says", asked.name())));
        }
    }
    let ops_node = fields.required("operations")?;
    let Some(ops) = ops_node.as_seq() else {
        return Err(ops_node.error(source, "operations", "an array of operations"));
    };
    let mut ids = HashSet::with_capacity(ops.len());
    let mut kv = Vec::new();
    let mut reg = Vec::new();
    for op in ops {
        let Some(op_fields) = op.as_map() else {
            return Err(op.error(source, "operations", "an object per operation"));
        };
        let known = ["id", "client", "f", "key", "value", "output", "status", "call_ns", "return_ns"];
        let f = Fields::new(op_fields, source, &known)?;
        let id = f.u64("id")?;
        if !ids.insert(id) {
            return Err(f.required("id")?.error(source, "id", "an id not used by an earlier operation"));
        }
        let client = f.u64("client")?;
        let status_node = f.required("status")?;
        let status = match &status_node.val {
            Val::Str(s) if s == "ok" => Status::Ok,
            Val::Str(s) if s == "unknown" => Status::Unknown,
            Val::Str(s) if s == "failed" => Status::Failed,
            _ => return Err(status_node.error(source, "status", "\"ok\", \"unknown\" or \"failed\"")),
        };
        let call_ns = f.u64("call_ns")?;
        let return_ns = match f.get("return_ns") {
            None => None,
            Some(n) if n.val == Val::Nil => None,
            Some(n) => Some(
                as_u64(n).ok_or_else(|| n.error(source, "return_ns", "a non-negative integer or null"))?,
            ),
        };
        if status == Status::Ok {
            match return_ns {
                None => {
                    let at = f.get("return_ns").unwrap_or(op);
                    return Err(at.error(
                        source,
                        "return_ns",
                        "the return time (an integer), as status is \"ok\"",
                    ));
                }
                Some(ret) if ret < call_ns => {
                    let at = f.get("return_ns").unwrap_or(op);
                    return Err(at.error(
                        source,
                        "return_ns",
                        &format!("a time not before call_ns ({call_ns})"),
                    ));
                }
                Some(_) => {}
            }
        }
        let f_node = f.required("f")?;
        match file_model {
            ModelKind::Kv => {
                let kind = match &f_node.val {
                    Val::Str(s) if s == "get" => KvKind::Get,
                    Val::Str(s) if s == "put" => KvKind::Put,
                    Val::Str(s) if s == "append" => KvKind::Append,
                    _ => return Err(f_node.error(source, "f", "\"get\", \"put\" or \"append\"")),
                };
                let key = f.string("key")?;
                let value = if kind == KvKind::Get {
                    f.null_or_absent("value", "null for a get")?;
                    String::new()
                } else {
                    f.string("value")?
                };
                let output = match (kind, status) {
                    (KvKind::Get, Status::Ok) => Some(f.string("output")?),
                    (KvKind::Get, _) => f.opt_string("output")?,
                    _ => {
                        f.null_or_absent("output", "null for a put or append")?;
                        None
                    }
                };
                kv.push(KvCall { id, client, kind, key, value, output, status, call_ns, return_ns });
            }
            ModelKind::CasRegister => {
                let key = f.opt_string("key")?.unwrap_or_default();
                let op = register_op(&f, f_node, status, source)?;
                reg.push(RegisterCall { id, client, key, op, status, call_ns, return_ns });
            }
        }
    }
    Ok(match file_model {
        ModelKind::Kv => {
            if let Some(init) = fields.get("initial") {
                return Err(init.error(
                    source,
                    "initial",
                    "no initial value for a kv history (keys start as \"\")",
                ));
            }
            History::Kv(kv)
        }
        ModelKind::CasRegister => {
            let initial = match fields.get("initial") {
                None => None,
                Some(n) if n.val == Val::Nil => Some(None),
                Some(n) => {
                    Some(Some(as_i64(n).ok_or_else(|| n.error(source, "initial", "an integer or null"))?))
                }
            };
            History::Register { calls: reg, initial }
        }
    })
}

fn register_op(
    f: &Fields<'_>,
    f_node: &Node,
    status: Status,
    source: &str,
) -> Result<RegisterOp, InputError> {
    let int = |name: &str| -> Result<i64, InputError> {
        let n = f.required(name)?;
        as_i64(n).ok_or_else(|| n.error(source, name, "an integer"))
    };
    Ok(match &f_node.val {
        Val::Str(s) if s == "read" => {
            f.null_or_absent("value", "null for a read")?;
            let output = match f.get("output") {
                None => None,
                Some(n) if n.val == Val::Nil => (status == Status::Ok).then_some(None),
                Some(n) => {
                    Some(Some(as_i64(n).ok_or_else(|| n.error(source, "output", "an integer or null"))?))
                }
            };
            RegisterOp::Read { output }
        }
        Val::Str(s) if s == "write" => {
            f.null_or_absent("output", "null for a write")?;
            RegisterOp::Write { value: int("value")? }
        }
        Val::Str(s) if s == "cas" => {
            let v = f.required("value")?;
            let pair = v.as_seq().filter(|p| p.len() == 2);
            let (from, to) = match pair.map(|p| (as_i64(&p[0]), as_i64(&p[1]))) {
                Some((Some(from), Some(to))) => (from, to),
                _ => return Err(v.error(source, "value", "[from, to], two integers")),
            };
            let succeeded = match f.get("output") {
                None => None,
                Some(n) => match n.val {
                    Val::Nil => None,
                    Val::Bool(b) => Some(b),
                    _ => return Err(n.error(source, "output", "true, false or null")),
                },
            };
            RegisterOp::Cas { from, to, succeeded }
        }
        _ => return Err(f_node.error(source, "f", "\"read\", \"write\" or \"cas\"")),
    })
}

fn as_u64(n: &Node) -> Option<u64> {
    match n.val {
        Val::Int(i) => u64::try_from(i).ok(),
        _ => None,
    }
}

fn as_i64(n: &Node) -> Option<i64> {
    match n.val {
        Val::Int(i) => i64::try_from(i).ok(),
        _ => None,
    }
}

/// The fields of one object, checked against the allowed names.
struct Fields<'n> {
    entries: &'n [(Node, Node)],
    source: &'n str,
    line: usize,
}

impl<'n> Fields<'n> {
    fn new(entries: &'n [(Node, Node)], source: &'n str, allowed: &[&str]) -> Result<Self, InputError> {
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in entries {
            let Val::Str(name) = &k.val else { continue };
            if !allowed.contains(&name.as_str()) {
                return Err(InputError::new(source, Some(k.line), format!("one of {}", allowed.join(", ")))
                    .field(name.clone())
                    .found("an unknown field"));
            }
            if seen.contains(&name.as_str()) {
                return Err(InputError::new(source, Some(k.line), "each field once").field(name.clone()));
            }
            seen.push(name);
        }
        let line = entries.first().map_or(0, |(k, _)| k.line);
        Ok(Fields { entries, source, line })
    }

    fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| matches!(&k.val, Val::Str(s) if s == name)).map(|(_, v)| v)
    }

    fn required(&self, name: &str) -> Result<&'n Node, InputError> {
        self.get(name).ok_or_else(|| {
            InputError::new(self.source, Some(self.line), "this field in the object")
                .field(name)
                .found("nothing")
        })
    }

    fn u64(&self, name: &str) -> Result<u64, InputError> {
        let n = self.required(name)?;
        as_u64(n).ok_or_else(|| n.error(self.source, name, "a non-negative integer"))
    }

    fn string(&self, name: &str) -> Result<String, InputError> {
        let n = self.required(name)?;
        match &n.val {
            Val::Str(s) => Ok(s.clone()),
            _ => Err(n.error(self.source, name, "a string")),
        }
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, InputError> {
        match self.get(name) {
            None => Ok(None),
            Some(n) if n.val == Val::Nil => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn null_or_absent(&self, name: &str, expected: &str) -> Result<(), InputError> {
        match self.get(name) {
            Some(n) if n.val != Val::Nil => Err(n.error(self.source, name, expected)),
            _ => Ok(()),
        }
    }
}
