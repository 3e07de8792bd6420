//! Finding key/value writes whose outcome is unknown and whose effect no read ever saw.
//!
//! Such a write never needs to take effect: in any linearization that has it, no get can come
//! between it and the next put (a get there would read a value starting with the put's value, or
//! containing the appended text), so removing it leaves a linearization. Dropping them before the
//! search matters: an unknown call stays a candidate at every step, a lingering unknown append
//! doubles the configurations wherever a later put may erase it, and a lingering put stops the
//! look-ahead pruning. (Client timeouts make many such calls.)
//!
//! Appended text is looked for in every output at once with an Aho-Corasick automaton (1975), so
//! the cost is the outputs' length plus the patterns', not their product.

use crate::history::{KvCall, KvKind, Status};

pub(crate) struct Unseen<'a> {
    /// The completed gets' outputs.
    outputs: Vec<&'a str>,
    /// Whether checking puts against every output is cheap enough.
    search_puts: bool,
    /// Indexes (into the part's members) of the unknown appends seen in some output.
    appends_seen: Vec<u32>,
}

/// Outputs times unknown puts above which puts are kept rather than looked for (the search
/// copes, only more slowly).
const PUT_CHECKS_MAX: usize = 4 << 20;

impl<'a> Unseen<'a> {
    pub fn new(calls: &'a [KvCall], members: &[u32]) -> Self {
        let unknown = |i: &&u32, kind: KvKind| {
            let c = &calls[**i as usize];
            c.status == Status::Unknown && c.kind == kind
        };
        let puts = members.iter().filter(|i| unknown(i, KvKind::Put)).count();
        let appends: Vec<u32> = members.iter().filter(|i| unknown(i, KvKind::Append)).copied().collect();
        if puts == 0 && appends.is_empty() {
            return Unseen { outputs: Vec::new(), search_puts: false, appends_seen: Vec::new() };
        }
        let outputs: Vec<&'a str> = members
            .iter()
            .map(|&i| &calls[i as usize])
            .filter(|c| c.status == Status::Ok && c.kind == KvKind::Get)
            .filter_map(|c| c.output.as_deref())
            .collect();
        let mut appends_seen = Vec::new();
        if !appends.is_empty() {
            let patterns: Vec<&[u8]> = appends.iter().map(|&i| calls[i as usize].value.as_bytes()).collect();
            let matcher = Matcher::new(&patterns);
            let found = matcher.find_in(outputs.iter().map(|o| o.as_bytes()));
            appends_seen = appends.iter().zip(found).filter(|(_, seen)| *seen).map(|(&i, _)| i).collect();
        }
        Unseen { search_puts: outputs.len().saturating_mul(puts) <= PUT_CHECKS_MAX, outputs, appends_seen }
    }

    /// For an unknown call `calls[i]`: did no read see its effect?
    pub fn never_seen(&self, calls: &[KvCall], i: u32) -> bool {
        let call = &calls[i as usize];
        match call.kind {
            KvKind::Get => false,
            KvKind::Put => {
                let v = call.value.as_bytes();
                let starts_with_v = |o: &&str| {
                    let o = o.as_bytes();
                    o.len() >= v.len() && o.first() == v.first() && o.starts_with(v)
                };
                self.search_puts && !self.outputs.iter().any(starts_with_v)
            }
            KvKind::Append => !call.value.is_empty() && self.appends_seen.binary_search(&i).is_err(),
        }
    }
}

/// An Aho-Corasick automaton over a few short patterns, with bytes mapped to the classes that
/// occur in them (every other byte is class 0), so the transition table stays small.
pub(crate) struct Matcher {
    class: [u8; 256],
    width: usize,
    /// `next[state * width + class]`: the complete transition function.
    next: Vec<u32>,
    fail: Vec<u32>,
    /// States in breadth-first order (fail links point backwards in it).
    order: Vec<u32>,
    /// The state each pattern ends in.
    ends: Vec<u32>,
}

impl Matcher {
    pub(crate) fn new(patterns: &[&[u8]]) -> Self {
        let mut class = [0u8; 256];
        let mut classes = 1usize;
        for &b in patterns.iter().flat_map(|p| p.iter()) {
            if class[b as usize] == 0 && classes < 256 {
                class[b as usize] = classes as u8;
                classes += 1;
            }
        }
        let width = classes;
        const NONE: u32 = u32::MAX;
        // The trie.
        let mut next: Vec<u32> = vec![NONE; width];
        let mut ends = Vec::with_capacity(patterns.len());
        for p in patterns {
            let mut s = 0usize;
            for &b in p.iter() {
                let c = class[b as usize] as usize;
                if next[s * width + c] == NONE {
                    next[s * width + c] = (next.len() / width) as u32;
                    next.resize(next.len() + width, NONE);
                }
                s = next[s * width + c] as usize;
            }
            ends.push(s as u32);
        }
        // Fail links and the complete transitions, breadth first.
        let states = next.len() / width;
        let mut fail = vec![0u32; states];
        let mut order = Vec::with_capacity(states);
        for slot in &mut next[..width] {
            match *slot {
                NONE => *slot = 0,
                child => order.push(child),
            }
        }
        let mut i = 0;
        while i < order.len() {
            let s = order[i] as usize;
            i += 1;
            for c in 0..width {
                let child = next[s * width + c];
                let via_fail = next[fail[s] as usize * width + c];
                if child == NONE {
                    next[s * width + c] = via_fail;
                } else {
                    fail[child as usize] = via_fail;
                    order.push(child);
                }
            }
        }
        Matcher { class, width, next, fail, order, ends }
    }

    /// For each pattern, the index of the last text it occurs in (`None`: in none). Texts are
    /// scanned from the last; a state whose patterns were already found in a later text is not
    /// reported again, so the cost is the texts' length plus the automaton's size.
    pub(crate) fn last_text_containing(&self, texts: &[&[u8]]) -> Vec<Option<usize>> {
        const NONE: u32 = u32::MAX;
        let states = self.fail.len();
        let mut is_end = vec![false; states];
        for &e in &self.ends {
            is_end[e as usize] = true;
        }
        // dict[s]: the longest proper suffix state of s that ends a pattern (Aho & Corasick's
        // output links), computed breadth first so that fail[s] is done before s.
        let mut dict = vec![NONE; states];
        for &s in &self.order {
            let f = self.fail[s as usize];
            if s != 0 && f != s {
                dict[s as usize] = if is_end[f as usize] { f } else { dict[f as usize] };
            }
        }
        let mut found: Vec<Option<usize>> = vec![None; states];
        for (t, text) in texts.iter().enumerate().rev() {
            let mut s = 0usize;
            for &b in text.iter() {
                s = self.next[s * self.width + self.class[b as usize] as usize] as usize;
                let mut at = if is_end[s] { s as u32 } else { dict[s] };
                while at != NONE && found[at as usize].is_none() {
                    found[at as usize] = Some(t);
                    at = dict[at as usize];
                }
            }
        }
        self.ends.iter().map(|&e| found[e as usize]).collect()
    }

    /// Which patterns occur in some text.
    fn find_in<'t>(&self, texts: impl Iterator<Item = &'t [u8]>) -> Vec<bool> {
        let mut visited = vec![false; self.fail.len()];
        for text in texts {
            let mut s = 0usize;
            for &b in text {
                s = self.next[s * self.width + self.class[b as usize] as usize] as usize;
                visited[s] = true;
            }
        }
        // A pattern occurs iff its end state is a suffix (by fail links) of a visited state.
        for &s in self.order.iter().rev() {
            if visited[s as usize] {
                visited[self.fail[s as usize] as usize] = true;
            }
        }
        self.ends.iter().map(|&e| visited[e as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matcher_finds_exactly_the_patterns_that_occur() {
        let patterns: [&[u8]; 6] = [b"he", b"she", b"his", b"hers", b"xyz", b"s"];
        let m = Matcher::new(&patterns);
        let texts: [&[u8]; 2] = [b"ushers", b"hi"];
        assert_eq!(m.find_in(texts.into_iter()), vec![true, true, false, true, false, true]);
        assert_eq!(m.find_in(std::iter::empty()), vec![false; 6]);
        let texts: [&[u8]; 1] = [b"a his \xff"];
        assert_eq!(m.find_in(texts.into_iter()), vec![false, false, true, false, false, true]);
    }

    #[test]
    fn the_matcher_finds_the_last_text_each_pattern_occurs_in() {
        let patterns: [&[u8]; 5] = [b"he", b"she", b"e", b"xyz", b"hers"];
        let m = Matcher::new(&patterns);
        let texts: [&[u8]; 4] = [b"ushers", b"he", b"ash", b"e"];
        assert_eq!(m.last_text_containing(&texts), vec![Some(1), Some(0), Some(3), None, Some(0)]);
    }

    #[test]
    fn unknown_writes_nobody_saw_are_found() {
        let get = |id, out: &str| KvCall::get(id, 0, "k", out, 0, 1);
        let calls = vec![
            get(0, "p1;a2;"),
            KvCall::put(1, 0, "k", "p1;", 0, 1).unknown(),
            KvCall::put(2, 0, "k", "p9;", 0, 1).unknown(),
            KvCall::append(3, 0, "k", "a2;", 0, 1).unknown(),
            KvCall::append(4, 0, "k", "a7;", 0, 1).unknown(),
            KvCall::append(5, 0, "k", "", 0, 1).unknown(),
        ];
        let members: Vec<u32> = (0..6).collect();
        let unseen = Unseen::new(&calls, &members);
        let never: Vec<bool> = (0..6).map(|i| unseen.never_seen(&calls, i)).collect();
        assert_eq!(never, vec![false, false, true, false, true, false]);
    }
}
