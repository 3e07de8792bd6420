//! The register model (Jepsen's cas-register): an integer or nil, with read, write and
//! compare-and-set. Values are interned as byte strings: nil is the empty string and an integer
//! its 8 little-endian bytes, so the two can never be confused and the search stays model-blind.

use super::{push_quoted, Model};
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

    fn initial_value(&self, value: &mut Vec<u8>) {
        value.clear();
        if self.initial.is_some() {
            value.extend_from_slice(&encode(self.initial));
        }
    }

    fn apply(call: &RegisterCall, value: &mut Vec<u8>) -> Result<(), ()> {
        let is = |v: i64| value.as_slice() == encode(Some(v));
        match call.op {
            RegisterOp::Read { output: Some(out) } => {
                let same = match out {
                    None => value.is_empty(),
                    Some(v) => is(v),
                };
                if !same {
                    return Err(());
                }
            }
            RegisterOp::Read { output: None } => {}
            RegisterOp::Write { value: v } => {
                value.clear();
                value.extend_from_slice(&encode(Some(v)));
            }
            RegisterOp::Cas { from, to, succeeded } => {
                let found = is(from);
                match (call.status, succeeded) {
                    (Status::Ok, Some(false)) if found => return Err(()),
                    (Status::Ok, Some(false)) => {}
                    (Status::Ok, _) if !found => return Err(()),
                    _ if found => {
                        value.clear();
                        value.extend_from_slice(&encode(Some(to)));
                    }
                    // An unknown cas that finds another value has no effect.
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn compile_from(
        &self,
        calls: &'a [RegisterCall],
        members: &[u32],
        start: Option<&[u8]>,
        search: &mut Search<'a>,
    ) {
        search.begin(members.len());
        let initial = match start {
            Some(bytes) => search.states.intern(bytes),
            None => intern(search, self.initial),
        };
        let seen = Seen::new(calls, members);
        for &i in members {
            let call = &calls[i as usize];
            let known = call.status == Status::Ok;
            if !known && seen.never_seen(call) {
                continue;
            }
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
            search.ops.push(Op::new(tr, call.call_ns, return_ns, i));
        }
        search.prepare(initial);
    }

    fn replay(&self, calls: &[RegisterCall], members: &[u32], buf: &mut Vec<u8>) -> Result<(), usize> {
        let mut value = self.initial;
        for (k, &i) in members.iter().enumerate() {
            let fits = match calls[i as usize].op {
                RegisterOp::Read { output } => output == Some(value),
                RegisterOp::Write { value: v } => {
                    value = Some(v);
                    true
                }
                RegisterOp::Cas { from, to, succeeded } => {
                    let swaps = value == Some(from);
                    if swaps && succeeded != Some(false) {
                        value = Some(to);
                    }
                    swaps != (succeeded == Some(false))
                }
            };
            if !fits {
                buf.clear();
                if value.is_some() {
                    buf.extend_from_slice(&encode(value));
                }
                return Err(k);
            }
        }
        Ok(())
    }

    fn impossible_read(&self, calls: &[RegisterCall], members: &[u32]) -> Option<usize> {
        let part = || members.iter().map(|&i| &calls[i as usize]);
        let mut written: Vec<Option<i64>> = part()
            .filter(|c| c.status != Status::Failed)
            .filter_map(|c| match c.op {
                RegisterOp::Write { value } => Some(Some(value)),
                RegisterOp::Cas { to, succeeded, .. } if succeeded != Some(false) => Some(Some(to)),
                _ => None,
            })
            .chain(std::iter::once(self.initial))
            .collect();
        written.sort_unstable();
        part().position(|c| match c.op {
            RegisterOp::Read { output: Some(v) } => {
                c.status == Status::Ok && written.binary_search(&v).is_err()
            }
            _ => false,
        })
    }

    /// Sources of a value: known writes and swaps to it (their latest return), the initial value
    /// (before everything), unknown ones (any time: then nothing is stale). Writers of another
    /// value: known writes and swaps, sorted by invocation, with the two earliest returns of
    /// different values among each suffix, so that each read is one binary search.
    fn stale_read(&self, calls: &[RegisterCall], members: &[u32]) -> Option<(usize, usize)> {
        /// None: no known source, or the initial value (before everything).
        #[derive(Clone, Copy)]
        enum Latest {
            Before,
            At(u64),
            Anytime,
        }
        let sets = |c: &RegisterCall| match c.op {
            RegisterOp::Write { value } => Some(value),
            RegisterOp::Cas { to, succeeded, .. } if succeeded != Some(false) => Some(to),
            _ => None,
        };
        let mut latest: Vec<(Option<i64>, Latest)> = Vec::new();
        let mut writers: Vec<(u64, u64, Option<i64>, usize)> = Vec::new(); // (call, return, value, position)
        for (k, &i) in members.iter().enumerate() {
            let c = &calls[i as usize];
            let Some(v) = sets(c) else { continue };
            let at = match (c.status, c.return_ns) {
                (Status::Ok, Some(ret)) => {
                    writers.push((c.call_ns, ret, Some(v), k));
                    Latest::At(ret)
                }
                _ => Latest::Anytime,
            };
            latest.push((Some(v), at));
        }
        latest.push((self.initial, Latest::Before));
        if writers.is_empty() {
            return None;
        }
        // Per value, the latest source (Anytime wins).
        latest.sort_by_key(|&(v, _)| v);
        let mut merged: Vec<(Option<i64>, Latest)> = Vec::new();
        for (v, at) in latest {
            match merged.last_mut() {
                Some((last, prev)) if *last == v => {
                    *prev = match (*prev, at) {
                        (Latest::Anytime, _) | (_, Latest::Anytime) => Latest::Anytime,
                        (Latest::At(a), Latest::At(b)) => Latest::At(a.max(b)),
                        (Latest::At(a), Latest::Before) | (Latest::Before, Latest::At(a)) => Latest::At(a),
                        (Latest::Before, Latest::Before) => Latest::Before,
                    }
                }
                _ => merged.push((v, at)),
            }
        }
        writers.sort_unstable();
        // best[i]: the two earliest-returning writers of different values among writers[i..].
        type Best = [Option<(u64, Option<i64>, usize)>; 2];
        let mut best: Vec<Best> = vec![[None, None]; writers.len() + 1];
        for i in (0..writers.len()).rev() {
            let (_, ret, v, k) = writers[i];
            let mut b = best[i + 1];
            let me = Some((ret, v, k));
            if b[0].is_none_or(|(r, _, _)| ret < r) {
                if b[0].is_some_and(|(_, w, _)| w != v) {
                    b[1] = b[0];
                }
                b[0] = me;
            } else if b[0].is_some_and(|(_, w, _)| w != v) && b[1].is_none_or(|(r, _, _)| ret < r) {
                b[1] = me;
            }
            best[i] = b;
        }
        for (k, &i) in members.iter().enumerate() {
            let c = &calls[i as usize];
            let (RegisterOp::Read { output: Some(v) }, Status::Ok) = (c.op, c.status) else { continue };
            let Ok(at) = merged.binary_search_by_key(&v, |&(w, _)| w) else { continue };
            let from = match merged[at].1 {
                Latest::Anytime => continue,
                Latest::Before => 0,
                Latest::At(t) => writers.partition_point(|&(call, _, _, _)| call <= t),
            };
            let stale = best[from].iter().flatten().find(|&&(_, w, _)| w != v);
            if let Some(&(ret, _, writer)) = stale {
                if ret < c.call_ns {
                    return Some((k, writer));
                }
            }
        }
        None
    }

    fn render_value(bytes: &[u8], out: &mut String) {
        match <[u8; 8]>::try_from(bytes) {
            Ok(le) => out.push_str(&i64::from_le_bytes(le).to_string()),
            Err(_) => out.push_str("nil"),
        }
    }

    fn describe(call: &RegisterCall, out: &mut String) {
        let show = |v: Option<i64>| v.map_or("nil".to_string(), |v| v.to_string());
        out.push_str(call.op.name());
        out.push('(');
        if !call.key.is_empty() {
            push_quoted(out, &call.key);
            if !matches!(call.op, RegisterOp::Read { .. }) {
                out.push_str(", ");
            }
        }
        match call.op {
            RegisterOp::Read { output: Some(v) } => {
                out.push_str(") -> ");
                out.push_str(&show(v));
            }
            RegisterOp::Read { output: None } => out.push(')'),
            RegisterOp::Write { value } => {
                out.push_str(&value.to_string());
                out.push(')');
            }
            RegisterOp::Cas { from, to, succeeded } => {
                out.push_str(&format!("{from}, {to})"));
                match succeeded {
                    Some(true) | None if call.status == Status::Ok => out.push_str(" -> ok"),
                    Some(false) => out.push_str(" -> found another value"),
                    _ => {}
                }
            }
        }
        match call.status {
            Status::Ok => {}
            Status::Unknown => out.push_str(", outcome unknown"),
            Status::Failed => out.push_str(", failed"),
        }
    }
}

/// Values some call depends on: read by a completed read, or expected by a cas. A write (or cas)
/// whose outcome is unknown and whose value is none of these never needs to take effect: no read
/// or cas can come between it and the next value change, so removing it leaves a linearization
/// (unless a cas that failed is around: it depends on the value *not* being something, so then
/// nothing is dropped). See `Unseen` in kv.rs for why this matters.
struct Seen {
    values: Vec<Option<i64>>,
    drop_allowed: bool,
}

impl Seen {
    fn new(calls: &[RegisterCall], members: &[u32]) -> Self {
        let members = || members.iter().map(|&i| &calls[i as usize]);
        if !members().any(|c| c.status == Status::Unknown) {
            return Seen { values: Vec::new(), drop_allowed: false };
        }
        let mut values = Vec::new();
        let mut drop_allowed = true;
        for call in members() {
            match call.op {
                RegisterOp::Read { output: Some(v) } if call.status == Status::Ok => values.push(v),
                RegisterOp::Cas { succeeded: Some(false), .. } if call.status == Status::Ok => {
                    drop_allowed = false
                }
                RegisterOp::Cas { from, .. } if call.status != Status::Failed => values.push(Some(from)),
                _ => {}
            }
        }
        values.sort_unstable();
        values.dedup();
        Seen { values, drop_allowed }
    }

    fn never_seen(&self, call: &RegisterCall) -> bool {
        let set = match call.op {
            RegisterOp::Write { value } => value,
            RegisterOp::Cas { to, .. } => to,
            RegisterOp::Read { .. } => return false,
        };
        self.drop_allowed && self.values.binary_search(&Some(set)).is_err()
    }
}
