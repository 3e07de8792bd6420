//! Sequential specifications, compiled for the search.
//!
//! A model turns one part's calls into search ops (`Tr` transitions over interned state ids, see
//! states.rs) and says how to show values and calls to people. The search itself knows nothing
//! about keys, strings or registers.

pub(crate) mod kv;
pub(crate) mod register;

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
    fn compile(&self, calls: &'a [Self::Call], members: &[u32], search: &mut Search<'a>);

    /// A state value as people read it.
    fn render_value(bytes: &[u8]) -> String;

    /// The call as people read it, e.g. `get("k1") -> "x"` or `cas(1, 2) failed`.
    fn describe(call: &Self::Call) -> String;
}

/// A string value in quotes, shortened in the middle when long (Porcupine's values run to
/// kilobytes; the end is where two candidates differ, so more of it is kept).
pub(crate) fn quote_short(s: &str) -> String {
    const HEAD: usize = 16;
    const TAIL: usize = 40;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= HEAD + TAIL + 8 {
        return format!("{s:?}");
    }
    let head: String = chars[..HEAD].iter().collect();
    let tail: String = chars[chars.len() - TAIL..].iter().collect();
    format!("{:?}...{:?} ({} chars)", head, tail, chars.len())
}
