//! The trace of a run: a rolling hash over every event (always on, so two runs can be compared
//! bit for bit), and optionally every event as one JSON object a line.

use std::fmt::Write as _;

/// A small, fast, stable 64-bit hash. Not cryptographic; stable across machines and versions of
/// Rust, which `std`'s hashers do not promise.
#[derive(Clone, Copy, Debug)]
pub struct Hasher {
    state: u64,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

impl Hasher {
    #[must_use]
    pub fn new() -> Hasher {
        Hasher { state: 0x243f_6a88_85a3_08d3 }
    }

    /// Mixes in one word (a multiply-rotate step, as in wyhash and FxHash).
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.state = (self.state ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(a));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.word(u64::from_le_bytes(tail) ^ (bytes.len() as u64) << 56);
    }

    /// The final value, with an avalanche step so that nearby states spread.
    #[must_use]
    pub fn finish(&self) -> u64 {
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The trace of one run.
#[derive(Clone, Default)]
pub struct Trace {
    hasher: Hasher,
    events: u64,
    /// The rolling hash after every event, kept for `--check-determinism`.
    checkpoints: Option<Vec<u64>>,
    /// JSON lines, when the trace is written out.
    lines: Option<String>,
    /// The lines reached [`TRACE_BYTES_MAX`]; later events are hashed but not written.
    truncated: bool,
}

/// The most bytes of JSON lines a trace keeps. Past it the trace ends with a `trace-truncated`
/// line: the run, its verdict and its hash are unchanged, only the written trace is shorter.
pub const TRACE_BYTES_MAX: usize = 256 << 20;

impl Trace {
    #[must_use]
    pub fn new(keep_checkpoints: bool, keep_lines: bool) -> Trace {
        Trace {
            hasher: Hasher::new(),
            events: 0,
            checkpoints: keep_checkpoints.then(Vec::new),
            lines: keep_lines.then(String::new),
            truncated: false,
        }
    }

    /// Mixes the identifying words of one event into the hash.
    #[inline]
    pub fn mix(&mut self, words: &[u64]) {
        for w in words {
            self.hasher.word(*w);
        }
    }

    /// Ends one event: counts it and records a checkpoint if asked to.
    #[inline]
    pub fn end_event(&mut self) {
        self.events += 1;
        if let Some(c) = &mut self.checkpoints {
            c.push(self.hasher.state);
        }
    }

    /// Whether JSON lines are being kept; callers skip formatting when not.
    #[inline]
    #[must_use]
    pub fn detailed(&self) -> bool {
        self.lines.is_some() && !self.truncated
    }

    /// Whether the written trace stops short of the run (see [`TRACE_BYTES_MAX`]).
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Appends one JSON line: `{"t":<time>,"ev":<kind>,<fields>}`. `fields` is raw JSON members.
    pub fn line(&mut self, time: u64, kind: &str, fields: std::fmt::Arguments<'_>) {
        if self.truncated {
            return;
        }
        if let Some(lines) = &mut self.lines {
            if lines.len() >= TRACE_BYTES_MAX {
                self.truncated = true;
                let _ = writeln!(
                    lines,
                    "{{\"t\":{time},\"n\":{},\"ev\":\"trace-truncated\",\"bytes\":{}}}",
                    self.events,
                    lines.len()
                );
                return;
            }
            let _ = write!(lines, "{{\"t\":{time},\"n\":{},\"ev\":\"{kind}\"", self.events);
            let start = lines.len();
            let _ = lines.write_fmt(fields);
            if lines.len() > start {
                // `fields` starts with its own members; separate them from ours.
                lines.insert(start, ',');
            }
            lines.push_str("}\n");
        }
    }

    #[must_use]
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn take_checkpoints(&mut self) -> Vec<u64> {
        self.checkpoints.take().unwrap_or_default()
    }

    pub fn take_lines(&mut self) -> String {
        self.lines.take().unwrap_or_default()
    }
}

/// Escapes a string for a JSON string literal.
#[must_use]
pub fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_order_and_content() {
        let mut a = Hasher::new();
        a.word(1);
        a.word(2);
        let mut b = Hasher::new();
        b.word(2);
        b.word(1);
        assert_ne!(a.finish(), b.finish());
        let mut c = Hasher::new();
        c.bytes(b"abc");
        let mut d = Hasher::new();
        d.bytes(b"abd");
        assert_ne!(c.finish(), d.finish());
    }

    #[test]
    fn json_lines_carry_time_kind_and_fields() {
        let mut t = Trace::new(false, true);
        t.line(5, "tick", format_args!("\"node\":1"));
        t.end_event();
        t.line(6, "heal", format_args!(""));
        let lines = t.take_lines();
        let parsed: Vec<serde_json::Value> =
            lines.lines().map(|l| serde_json::from_str(l).expect("valid JSON")).collect();
        assert_eq!(parsed[0]["node"], 1);
        assert_eq!(parsed[0]["ev"], "tick");
        assert_eq!(parsed[1]["t"], 6);
        assert_eq!(parsed[1]["n"], 1);
    }
}
