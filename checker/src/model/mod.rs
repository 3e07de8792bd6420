//! Sequential specifications, compiled for the search.
//!
//! A model turns one part's calls into search ops (`Tr` transitions over interned state ids, see
//! states.rs) and says how to show values and calls to people. The search itself knows nothing
//! about keys, strings or registers.

pub(crate) mod kv;
pub(crate) mod register;
pub(crate) mod unseen;

use crate::history::Status;
use crate::search::Search;

pub(crate) trait Model<'a> {
    type Call: 'a;

    fn key(call: &Self::Call) -> &str;
    fn id(call: &Self::Call) -> u64;
    fn client(call: &Self::Call) -> u64;
    fn status(call: &Self::Call) -> Status;
    fn call_ns(call: &Self::Call) -> u64;
    fn return_ns(call: &Self::Call) -> Option<u64>;

    /// True for calls that constrain nothing: failed calls (they did not happen) and reads with
    /// an unknown outcome (no effect, nothing observed).
    fn dropped(call: &Self::Call) -> bool;

    /// True for a completed read without the value it read.
    fn missing_output(call: &Self::Call) -> bool;

    /// Checks what the types cannot: an `Ok` call has a return time not before its call, an `Ok`
    /// read has an output. The message names the problem; the caller adds the id.
    fn validate(call: &Self::Call) -> Result<(), String> {
        if Self::status(call) == Status::Ok && Self::missing_output(call) {
            return Err("a completed read has no output (the value read)".into());
        }
        if Self::status(call) == Status::Ok {
            match Self::return_ns(call) {
                None => return Err("status ok but no return time".into()),
                Some(ret) if ret < Self::call_ns(call) => {
                    return Err(format!("returns at {ret}, before its call at {}", Self::call_ns(call)))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Fills `search` with the part made of `calls[members]` (dropped calls excluded by the
    /// caller) and prepares it.
    fn compile(&self, calls: &'a [Self::Call], members: &[u32], search: &mut Search<'a>) {
        self.compile_from(calls, members, None, search);
    }

    /// `compile`, starting from the value `initial` (encoded as `apply` writes it) instead of
    /// the model's initial value.
    fn compile_from(
        &self,
        calls: &'a [Self::Call],
        members: &[u32],
        initial: Option<&[u8]>,
        search: &mut Search<'a>,
    );

    /// The model's initial value, encoded as `apply` reads it.
    fn initial_value(&self, value: &mut Vec<u8>);

    /// Applies `call` to `value` as one step of a sequential history: a call whose outcome is
    /// unknown takes effect (a cas only if it finds its `from`). `Err` when the call does not
    /// fit (a read of another value, a cas that should have found its `from` or not).
    fn apply(call: &Self::Call, value: &mut Vec<u8>) -> Result<(), ()>;

    /// Replays calls that are known and totally ordered in real time (each returns before the
    /// next is invoked), in that order. Such a part has exactly one order to check, so it needs
    /// no search (single-client histories, quiet keys). On the first call that does not fit,
    /// returns its position in `members`, with `value` holding the value it met (encoded as
    /// `render_value` reads it).
    fn replay(&self, calls: &[Self::Call], members: &[u32], value: &mut Vec<u8>) -> Result<(), usize>;

    /// A completed read (its position in `members`) that no state can satisfy: the value it
    /// saw is not the initial one and no call in the part could have set it. Checked before a
    /// search, which would otherwise have to exhaust every order to find out. `None` when every
    /// read is possible, or when the model cannot tell cheaply (appends build new values).
    fn impossible_read(&self, calls: &[Self::Call], members: &[u32]) -> Option<usize>;

    /// A completed read (its position in `members`) that real time alone rules out, with the
    /// write that makes it stale (its position): every call that could set the value it read
    /// is known and returned before that write, of another value, was invoked, and the write
    /// returned before the read was invoked. Checked before a search, which would otherwise
    /// explore every order of the calls before the read to find out. `None` when there is no
    /// such read, or the model cannot tell cheaply.
    fn stale_read(&self, _calls: &[Self::Call], _members: &[u32]) -> Option<(usize, usize)> {
        None
    }

    /// Writes a state value as people read it.
    fn render_value(bytes: &[u8], out: &mut String);

    /// Writes the call as people read it, e.g. `get("k1") -> "x"` or `cas(1, 2) -> ok`.
    fn describe(call: &Self::Call, out: &mut String);
}

/// Writes a string value in quotes, shortened in the middle when long (Porcupine's values run to
/// kilobytes; the end is where two candidates differ, so more of it is kept).
pub(crate) fn push_quoted_short(out: &mut String, s: &str) {
    const HEAD: usize = 16;
    const TAIL: usize = 40;
    if s.len() <= HEAD + TAIL + 8 {
        push_quoted(out, s);
        return;
    }
    let chars = s.chars().count();
    if chars <= HEAD + TAIL + 8 {
        push_quoted(out, s);
        return;
    }
    let head_end = s.char_indices().nth(HEAD).map_or(s.len(), |(i, _)| i);
    let tail_start = s.char_indices().nth(chars - TAIL).map_or(s.len(), |(i, _)| i);
    push_quoted(out, &s[..head_end]);
    out.push_str("...");
    push_quoted(out, &s[tail_start..]);
    out.push_str(" (");
    push_number(out, chars as u64);
    out.push_str(" chars)");
}

/// Writes `s` in double quotes, escaped as Rust's `{:?}` would (the fast path skips the
/// formatting machinery for plain text).
pub(crate) fn push_quoted(out: &mut String, s: &str) {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{s:?}");
    }
}

/// Writes a number without the formatting machinery.
pub(crate) fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}
