//! The history types: what a client called, when, and what it saw.
//!
//! A history is a list of calls. Each call has an invocation time and, when the client got an
//! answer, a return time. Times are plain integers (nanoseconds of virtual time for the simulator,
//! event positions for EDN files); only their order matters.
//!
//! Real-time order (Herlihy & Wing 1990): call `a` precedes call `b` iff `a` returned strictly
//! before `b` was invoked. **Equal timestamps are concurrent**: an operation returning at `t` and
//! one invoked at `t` are not ordered. That is the safe rule: it can only add linearizations, so a
//! coarse clock never produces a false "not linearizable".

use std::fmt;

/// What a key/value call does. Values are strings; every key starts as "".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvKind {
    /// Read the key's value (`KvCall::output` holds what was read).
    Get,
    /// Replace the key's value with `KvCall::value`.
    Put,
    /// Concatenate `KvCall::value` to the key's value.
    Append,
}

impl KvKind {
    /// The lower-case name used in every format (`get`, `put`, `append`).
    pub fn name(self) -> &'static str {
        match self {
            KvKind::Get => "get",
            KvKind::Put => "put",
            KvKind::Append => "append",
        }
    }
}

/// What the client learnt about a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The call returned; its effect happened between invocation and return, exactly once.
    Ok,
    /// No answer (timeout, crash): the call may take effect at any point after its invocation,
    /// or never. Its return time, if any, is ignored by the checker.
    Unknown,
    /// Known not to have happened (a definite error). Dropped before checking.
    Failed,
}

impl Status {
    /// The lower-case name used in the JSON format (`ok`, `unknown`, `failed`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unknown => "unknown",
            Status::Failed => "failed",
        }
    }
}

/// One call on the key/value store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvCall {
    /// Unique within the history; violations name operations by this id.
    pub id: u64,
    /// The client (process) that made the call; shown in explanations only.
    pub client: u64,
    pub kind: KvKind,
    pub key: String,
    /// The argument of a put or append; "" for a get.
    pub value: String,
    /// `Some(value read)` for a get with status `Ok`; `None` otherwise.
    pub output: Option<String>,
    pub status: Status,
    pub call_ns: u64,
    /// `None` when the outcome is unknown.
    pub return_ns: Option<u64>,
}

impl KvCall {
    /// A completed get that read `output`.
    pub fn get(id: u64, client: u64, key: &str, output: &str, call_ns: u64, return_ns: u64) -> Self {
        Self::new(id, client, KvKind::Get, key, "", Some(output), call_ns, Some(return_ns))
    }

    /// A completed put.
    pub fn put(id: u64, client: u64, key: &str, value: &str, call_ns: u64, return_ns: u64) -> Self {
        Self::new(id, client, KvKind::Put, key, value, None, call_ns, Some(return_ns))
    }

    /// A completed append.
    pub fn append(id: u64, client: u64, key: &str, value: &str, call_ns: u64, return_ns: u64) -> Self {
        Self::new(id, client, KvKind::Append, key, value, None, call_ns, Some(return_ns))
    }

    /// The same call with an unknown outcome (no return time, no output).
    pub fn unknown(mut self) -> Self {
        self.status = Status::Unknown;
        self.return_ns = None;
        self.output = None;
        self
    }

    /// The same call, known not to have happened.
    pub fn failed(mut self) -> Self {
        self.status = Status::Failed;
        self.output = None;
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        client: u64,
        kind: KvKind,
        key: &str,
        value: &str,
        output: Option<&str>,
        call_ns: u64,
        return_ns: Option<u64>,
    ) -> Self {
        KvCall {
            id,
            client,
            kind,
            key: key.to_string(),
            value: value.to_string(),
            output: output.map(str::to_string),
            status: Status::Ok,
            call_ns,
            return_ns,
        }
    }
}

/// What a register call does. Register values are integers; `None` stands for nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// Read the value: `output` is `Some(value read)` (itself `None` for nil) when it returned.
    Read { output: Option<Option<i64>> },
    /// Set the value.
    Write { value: i64 },
    /// Compare-and-set: if the value is `from`, set it to `to`. `succeeded` is `Some(true)` when
    /// the swap happened, `Some(false)` when the call returned having found another value (no
    /// effect), `None` when the outcome is unknown. A cas that Jepsen records as `:fail` did not
    /// happen at all: give it `Status::Failed`.
    Cas { from: i64, to: i64, succeeded: Option<bool> },
}

impl RegisterOp {
    /// The lower-case name used in every format (`read`, `write`, `cas`).
    pub fn name(&self) -> &'static str {
        match self {
            RegisterOp::Read { .. } => "read",
            RegisterOp::Write { .. } => "write",
            RegisterOp::Cas { .. } => "cas",
        }
    }
}

/// One call on a register (Jepsen's classic cas-register). `key` is "" for the single register;
/// several keys make independent registers, checked as separate parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterCall {
    pub id: u64,
    pub client: u64,
    pub key: String,
    pub op: RegisterOp,
    pub status: Status,
    pub call_ns: u64,
    pub return_ns: Option<u64>,
}

/// A history of one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum History {
    Kv(Vec<KvCall>),
    Register {
        calls: Vec<RegisterCall>,
        /// The initial value (`None` = nil) if the file says; the CLI's `--initial` overrides it.
        initial: Option<Option<i64>>,
    },
}

impl History {
    /// Number of calls, including failed ones.
    pub fn len(&self) -> usize {
        match self {
            History::Kv(calls) => calls.len(),
            History::Register { calls, .. } => calls.len(),
        }
    }

    /// True when there is no call at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Which model the history is for.
    pub fn model(&self) -> ModelKind {
        match self {
            History::Kv(_) => ModelKind::Kv,
            History::Register { .. } => ModelKind::CasRegister,
        }
    }
}

/// The sequential specification a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ModelKind {
    /// Keyed strings starting as "": get / put / append.
    Kv,
    /// Integer register(s): read / write / compare-and-set; initial value from `--initial`.
    CasRegister,
}

impl ModelKind {
    /// The name used on the command line and in JSON (`kv`, `cas-register`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Kv => "kv",
            ModelKind::CasRegister => "cas-register",
        }
    }
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// The simulator's `raftsim-history` JSON (see checker/README.md).
    Json,
    /// Porcupine's KV logs: one EDN map a line, `:invoke`/`:ok` only.
    PorcupineKv,
    /// Jepsen / Knossos histories.
    Edn,
    /// Jepsen's log lines (`INFO jepsen.util - 3 :invoke :cas [1 2]`), as in Porcupine's etcd
    /// logs: a cas-register history.
    JepsenLog,
}

impl Format {
    /// The name used on the command line (`json`, `porcupine-kv`, `edn`, `jepsen-log`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::PorcupineKv => "porcupine-kv",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
        }
    }
}

/// What a completed read of nil means in an EDN register history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum NilReads {
    /// Knossos's reading (its register models accept a read of nil in any state): the read
    /// returned without a value, so it says nothing; it is dropped like a read whose outcome
    /// is unknown. The default for EDN.
    #[default]
    Unknown,
    /// nil is the register's value: the read saw a register never written (or the initial
    /// value, if that is nil).
    Value,
}

impl NilReads {
    /// The name used on the command line (`unknown`, `value`).
    pub fn name(self) -> &'static str {
        match self {
            NilReads::Unknown => "unknown",
            NilReads::Value => "value",
        }
    }
}

/// How to read a history file; `Default` recognises the format and model from the content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    pub format: Option<Format>,
    pub model: Option<ModelKind>,
    /// EDN register histories only (other formats say what nil means themselves).
    pub nil_reads: NilReads,
}

/// A history read from a file, with what was recognised about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedHistory {
    /// The file name given to the parser, for messages.
    pub source: String,
    /// The format actually read (given, or recognised from the content).
    pub format: Format,
    pub history: History,
}

/// Why a history could not be read: where, which field, what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file name (or "-" / a description for other sources).
    pub source: String,
    /// 1-based line, when the problem is at a place in the text.
    pub line: Option<usize>,
    /// The field (or syntactic element) at fault, e.g. `:type` or `call_ns`.
    pub field: Option<String>,
    /// What was expected there, e.g. "one of :invoke, :ok, :fail, :info".
    pub expected: String,
    /// What was found instead, if it helps.
    pub found: Option<String>,
}

impl InputError {
    pub(crate) fn new(source: &str, line: Option<usize>, expected: impl Into<String>) -> Self {
        InputError { source: source.to_string(), line, field: None, expected: expected.into(), found: None }
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn found(mut self, found: impl Into<String>) -> Self {
        self.found = Some(found.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        write!(f, "expected {}", self.expected)?;
        if let Some(found) = &self.found {
            write!(f, ", found {found}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}
