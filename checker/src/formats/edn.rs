//! A small EDN reader, enough for Jepsen / Knossos / Porcupine histories.
//!
//! Reads maps, vectors, lists, sets, keywords, symbols, strings with escapes, integers (with an
//! optional `N`), floats (read but unused), characters, `nil`, `true`, `false`; `;` comments and
//! commas are whitespace; `#_` discards the next form; a tagged literal (`#inst "..."`,
//! `#jepsen.history.Op{...}`) reads as its value. Errors name the line.

use super::value::{Node, Val};
use crate::history::InputError;

/// Deeper nesting than this is refused rather than risking the stack.
const DEPTH_MAX: usize = 200;

/// Reads every top-level form of `text`.
pub(crate) fn read_all(text: &str, source: &str) -> Result<Vec<Node>, InputError> {
    let mut reader = Reader { src: text.as_bytes(), pos: 0, line: 1, source };
    let mut forms = Vec::new();
    while let Some(node) = reader.next_form(0)? {
        forms.push(node);
    }
    Ok(forms)
}

struct Reader<'t> {
    src: &'t [u8],
    pos: usize,
    line: usize,
    source: &'t str,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

impl<'t> Reader<'t> {
    fn error(&self, line: usize, expected: &str) -> InputError {
        InputError::new(self.source, Some(line), expected)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b';' => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                b if b.is_ascii_whitespace() || b == b',' => self.pos += 1,
                _ => break,
            }
        }
    }

    /// Skips whitespace, comments and `#_`-discarded forms.
    fn skip_space_and_discards(&mut self, depth: usize) -> Result<(), InputError> {
        loop {
            self.skip_space();
            if self.src.get(self.pos..self.pos + 2) != Some(b"#_") {
                return Ok(());
            }
            self.pos += 2;
            if depth > DEPTH_MAX {
                return Err(self.error(self.line, &format!("at most {DEPTH_MAX} nested #_")).field("syntax"));
            }
            self.skip_space_and_discards(depth + 1)?;
            self.form(depth + 1)?;
        }
    }

    /// The next form, or `None` at the end of the text.
    fn next_form(&mut self, depth: usize) -> Result<Option<Node>, InputError> {
        self.skip_space_and_discards(depth)?;
        match self.peek() {
            None => Ok(None),
            Some(b')' | b']' | b'}') => {
                let found = (self.peek().unwrap_or(b'?') as char).to_string();
                Err(self.error(self.line, "a value").field("syntax").found(format!("an unmatched '{found}'")))
            }
            Some(_) => self.form(depth).map(Some),
        }
    }

    fn form(&mut self, depth: usize) -> Result<Node, InputError> {
        if depth > DEPTH_MAX {
            return Err(self
                .error(self.line, &format!("at most {DEPTH_MAX} levels of nesting"))
                .field("syntax"));
        }
        let line = self.line;
        let Some(b) = self.peek() else {
            return Err(self.error(line, "a value").field("syntax").found("the end of the file"));
        };
        let val = match b {
            b'(' => Val::List(self.items(b')', depth)?),
            b'[' => Val::Vector(self.items(b']', depth)?),
            b'{' => {
                let items = self.items(b'}', depth)?;
                if items.len() % 2 != 0 {
                    return Err(self
                        .error(line, "an even number of forms in a map (key value pairs)")
                        .field("syntax")
                        .found(format!("{} forms", items.len())));
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Val::Map(entries)
            }
            b'"' => Val::Str(self.string()?),
            b'#' => return self.dispatch(depth),
            b'\\' => {
                self.pos += 1;
                let token = self.token();
                let c = match token {
                    "newline" => '\n',
                    "space" => ' ',
                    "tab" => '\t',
                    "return" => '\r',
                    t if t.chars().count() == 1 => t.chars().next().unwrap_or(' '),
                    _ => {
                        // A lone delimiter character such as \( or \,.
                        let c = self.peek().map(char::from).unwrap_or(' ');
                        self.pos += usize::from(self.peek().is_some());
                        c
                    }
                };
                Val::Char(c)
            }
            b':' => {
                self.pos += 1;
                let token = self.token();
                if token.is_empty() {
                    return Err(self.error(line, "a keyword name after ':'").field("syntax"));
                }
                Val::Keyword(token.to_string())
            }
            _ => {
                let token = self.token();
                if token.is_empty() {
                    return Err(self
                        .error(line, "a value")
                        .field("syntax")
                        .found(format!("{:?}", b as char)));
                }
                atom(token).map_err(|expected| self.error(line, expected).field("syntax").found(token))?
            }
        };
        Ok(Node { line, val })
    }

    /// `#{...}` sets and `#tag value` tagged literals (`#_` is handled by `skip_space_and_discards`).
    fn dispatch(&mut self, depth: usize) -> Result<Node, InputError> {
        let line = self.line;
        self.pos += 1;
        match self.peek() {
            Some(b'{') => Ok(Node { line, val: Val::Set(self.items(b'}', depth)?) }),
            _ => {
                let tag = self.token();
                if tag.is_empty() {
                    return Err(self.error(line, "a tag, '{' or '_' after '#'").field("syntax"));
                }
                self.skip_space_and_discards(depth)?;
                // A record literal such as #jepsen.history.Op{...} reads as its map.
                self.form(depth + 1)
            }
        }
    }

    /// The forms up to `close`, consuming both brackets.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Node>, InputError> {
        let line = self.line;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space_and_discards(depth)?;
            match self.peek() {
                None => {
                    return Err(self
                        .error(
                            line,
                            &format!("a closing '{}' for the one opened on this line", close as char),
                        )
                        .field("syntax")
                        .found("the end of the file"))
                }
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(b @ (b')' | b']' | b'}')) => {
                    return Err(self
                        .error(self.line, &format!("'{}' (opened on line {line})", close as char))
                        .field("syntax")
                        .found(format!("'{}'", b as char)))
                }
                Some(_) => items.push(self.form(depth + 1)?),
            }
        }
    }

    fn token(&mut self) -> &'t str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.pos += 1;
        }
        // Tokens end at ASCII delimiters, so the slice is on char boundaries.
        std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("")
    }

    fn string(&mut self) -> Result<String, InputError> {
        let line = self.line;
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self
                    .error(line, "a closing '\"' for the string opened on this line")
                    .field("syntax")
                    .found("the end of the file"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'u' => {
                            let hex = self
                                .src
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok());
                            let c =
                                hex.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
                            let Some(c) = c else {
                                return Err(self
                                    .error(self.line, "4 hex digits of a character after \\u")
                                    .field("string"));
                            };
                            self.pos += 4;
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        other => {
                            return Err(self
                                .error(self.line, "an escape: \\n \\t \\r \\b \\f \\\" \\\\ or \\uXXXX")
                                .field("string")
                                .found(format!("\\{}", other as char)))
                        }
                    }
                }
                b'\n' => {
                    self.line += 1;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        // The input is a &str and escapes add whole characters, so this cannot fail.
        Ok(String::from_utf8(out).unwrap_or_default())
    }
}

/// A token that is not a keyword: a number, nil, true, false or a symbol.
fn atom(token: &str) -> Result<Val, &'static str> {
    let bytes = token.as_bytes();
    let numeric = bytes[0].is_ascii_digit()
        || (matches!(bytes[0], b'+' | b'-') && bytes.get(1).is_some_and(u8::is_ascii_digit));
    if !numeric {
        return Ok(match token {
            "nil" => Val::Nil,
            "true" => Val::Bool(true),
            "false" => Val::Bool(false),
            _ => Val::Symbol(token.to_string()),
        });
    }
    let digits = token.strip_suffix('N').unwrap_or(token);
    if let Ok(i) = digits.parse::<i128>() {
        return Ok(Val::Int(i));
    }
    let float = token.strip_suffix('M').unwrap_or(token);
    if let Ok(f) = float.parse::<f64>() {
        return Ok(Val::Float(f));
    }
    if let Some((num, den)) = token.split_once('/') {
        if let (Ok(n), Ok(d)) = (num.parse::<f64>(), den.parse::<f64>()) {
            return Ok(Val::Float(n / d));
        }
    }
    Err("a number")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Node> {
        match read_all(text, "t.edn") {
            Ok(forms) => forms,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn reads_a_jepsen_event_with_comments_commas_and_escapes() {
        let forms =
            read("; a comment\n{:process 3, :type :ok, :f :read, :value \"a\\\"b\\n\\u0041\" :time 12N}");
        assert_eq!(forms.len(), 1);
        let map = forms[0].as_map().map(<[_]>::to_vec).unwrap_or_default();
        assert_eq!(map.len(), 5);
        assert_eq!(map[0].0.val, Val::Keyword("process".into()));
        assert_eq!(map[0].1.val, Val::Int(3));
        assert_eq!(map[3].1.val, Val::Str("a\"b\nA".into()));
        assert_eq!(map[4].1.val, Val::Int(12));
        assert_eq!(forms[0].line, 2);
    }

    #[test]
    fn reads_nested_collections_nil_booleans_sets_tags_and_discards() {
        let forms = read("[(1 -2) #{:a} nil true false #_ 99 #inst \"2020\" sym 1.5 \\a #_ #_ 1 2]");
        let items = forms[0].as_seq().map(<[_]>::to_vec).unwrap_or_default();
        let vals: Vec<Val> = items.into_iter().map(|n| n.val).collect();
        assert_eq!(
            vals,
            vec![
                Val::List(vec![Node { line: 1, val: Val::Int(1) }, Node { line: 1, val: Val::Int(-2) }]),
                Val::Set(vec![Node { line: 1, val: Val::Keyword("a".into()) }]),
                Val::Nil,
                Val::Bool(true),
                Val::Bool(false),
                Val::Str("2020".into()),
                Val::Symbol("sym".into()),
                Val::Float(1.5),
                Val::Char('a'),
            ]
        );
    }

    #[test]
    fn counts_lines_inside_multi_line_strings() {
        let forms = read("\"a\nb\"\n:k");
        assert_eq!(forms[1].line, 3);
    }

    #[test]
    fn an_unterminated_string_names_the_line_it_opened_on() {
        let err = read_all("{:a 1}\n{:b \"oops}\n\n", "h.edn").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("h.edn:2: field syntax: expected a closing '\"' for the string opened on this line, found the end of the file")
        );
    }

    #[test]
    fn a_map_with_an_odd_number_of_forms_is_an_error() {
        let err = read_all("\n{:a 1 :b}", "h.edn").err();
        assert_eq!(err.as_ref().and_then(|e| e.line), Some(2));
        assert!(err.map(|e| e.to_string()).unwrap_or_default().contains("even number"));
    }

    #[test]
    fn mismatched_brackets_are_errors() {
        assert!(read_all("[1 2}", "h").is_err());
        assert!(read_all(")", "h").is_err());
        assert!(read_all("[1 2", "h").is_err());
        assert!(read_all("#", "h").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = "[".repeat(100_000);
        assert!(read_all(&text, "h").is_err());
        let text = "#_".repeat(100_000);
        assert!(read_all(&text, "h").is_err());
    }
}
