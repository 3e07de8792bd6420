//! Jepsen's log lines, as in Porcupine's `test_data/jepsen/etcd_*.log` (etcd's cas-register test):
//!
//! ```text
//! INFO  jepsen.util - 4  :invoke  :cas  [3 0]
//! INFO  jepsen.util - 4  :fail  :cas  [3 0]
//! INFO  jepsen.util - 13  :info  :write  :timed-out
//! ```
//!
//! One event a line: `jepsen.util - PROCESS TYPE F VALUE`, fields separated by tabs (as in the
//! files) or spaces.
//! Lines that are not `jepsen.util` events (other loggers, the nemesis) are skipped. The reading
//! is Porcupine's, so that its labels hold: a `:fail` cas returned "the value was not `from`"
//! (it did not swap, and it tells something about the value); a `:fail` read (a timeout) and an
//! `:info` are unknown outcomes; an invoke never completed is unknown. Times and ids are event
//! positions, as for EDN.

use crate::history::{History, InputError, RegisterCall, RegisterOp, Status};
use std::collections::HashMap;

/// True when the line is a `jepsen.util` event line (used to recognise the format).
pub(crate) fn is_event_line(line: &str) -> bool {
    split_event(line).is_some()
}

/// The tokens after `jepsen.util -`, if the line is such a line with a numeric process.
fn split_event(line: &str) -> Option<(u64, Vec<&str>)> {
    let at = line.find("jepsen.util - ")?;
    let rest = &line[at + "jepsen.util - ".len()..];
    let mut tokens = rest.split_whitespace();
    let process = tokens.next()?.parse::<u64>().ok()?;
    Some((process, tokens.collect()))
}

pub(crate) fn history(text: &str, source: &str) -> Result<History, InputError> {
    let mut calls: Vec<RegisterCall> = Vec::new();
    // process -> index of its pending call
    let mut pending: HashMap<u64, usize> = HashMap::new();
    let mut t = 0u64;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let Some((process, tokens)) = split_event(line) else { continue };
        let err = |field: &str, expected: &str, found: &str| {
            InputError::new(source, Some(line_no), expected).field(field).found(found.to_string())
        };
        let [kind, f, value @ ..] = tokens.as_slice() else {
            return Err(err("event", "PROCESS :type :f VALUE after \"jepsen.util -\"", line.trim()));
        };
        let value = value.join(" ");
        match *kind {
            ":invoke" => {
                if pending.contains_key(&process) {
                    return Err(err(
                        ":type",
                        &format!("a completion of process {process}'s pending call before its next invoke"),
                        ":invoke",
                    ));
                }
                let op = match *f {
                    ":read" => RegisterOp::Read { output: None },
                    ":write" => RegisterOp::Write {
                        value: int(&value).ok_or_else(|| err("value", "an integer", &value))?,
                    },
                    ":cas" => {
                        let (from, to) =
                            pair(&value).ok_or_else(|| err("value", "[from to], two integers", &value))?;
                        RegisterOp::Cas { from, to, succeeded: None }
                    }
                    other => return Err(err(":f", ":read, :write or :cas", other)),
                };
                pending.insert(process, calls.len());
                calls.push(RegisterCall {
                    id: t,
                    client: process,
                    key: String::new(),
                    op,
                    status: Status::Unknown,
                    call_ns: t,
                    return_ns: None,
                });
            }
            ":ok" | ":fail" | ":info" => {
                let Some(index) = pending.remove(&process) else {
                    return Err(err(
                        ":process",
                        &format!("an :invoke by process {process} before this completion"),
                        kind,
                    ));
                };
                let call = &mut calls[index];
                if *f != format!(":{}", call.op.name()) {
                    return Err(err(":f", &format!(":{} as in the invoke", call.op.name()), f));
                }
                match (*kind, &mut call.op) {
                    (":ok", RegisterOp::Read { output }) => {
                        let read =
                            if value == "nil" {
                                None
                            } else {
                                Some(int(&value).ok_or_else(|| {
                                    err("value", "the value read: an integer or nil", &value)
                                })?)
                            };
                        *output = Some(read);
                        call.status = Status::Ok;
                    }
                    (":ok", RegisterOp::Write { .. }) => call.status = Status::Ok,
                    (":ok", RegisterOp::Cas { succeeded, .. }) => {
                        *succeeded = Some(true);
                        call.status = Status::Ok;
                    }
                    (":fail", RegisterOp::Cas { succeeded, .. }) => {
                        *succeeded = Some(false);
                        call.status = Status::Ok;
                    }
                    // :info, or a :fail of a read or write (a timeout): unknown outcome.
                    _ => {}
                }
                if call.status == Status::Ok {
                    call.return_ns = Some(t);
                }
            }
            other => return Err(err(":type", "one of :invoke, :ok, :fail, :info", other)),
        }
        t += 1;
    }
    Ok(History::Register { calls, initial: None })
}

fn int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

fn pair(text: &str) -> Option<(i64, i64)> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut it = inner.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty());
    let (from, to) = (int(it.next()?)?, int(it.next()?)?);
    it.next().is_none().then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_cas_is_a_cas_that_found_another_value_and_info_is_unknown() {
        let text = "INFO  jepsen.core - starting\n\
                    INFO  jepsen.util - 4\t:invoke\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 1\t:invoke\t:write\t2\n\
                    INFO  jepsen.util - 4\t:fail\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 0 :invoke :read nil\n\
                    INFO  jepsen.util - 0 :ok :read 2\n";
        let History::Register { calls, .. } = history(text, "t.log").unwrap_or_else(|e| panic!("{e}")) else {
            panic!("a register history")
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].op, RegisterOp::Cas { from: 3, to: 0, succeeded: Some(false) });
        assert_eq!((calls[0].status, calls[0].call_ns, calls[0].return_ns), (Status::Ok, 0, Some(2)));
        assert_eq!((calls[1].status, calls[1].return_ns), (Status::Unknown, None));
        assert_eq!(calls[2].op, RegisterOp::Read { output: Some(Some(2)) });
    }

    #[test]
    fn a_bad_value_names_the_line_and_field() {
        let text = "INFO  jepsen.util - 4\t:invoke\t:cas\t[3 x]\n";
        let e = history(text, "t.log").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "t.log:1: field value: expected [from to], two integers, found [3 x]");
    }
}
