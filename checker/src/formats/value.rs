//! A parsed EDN or JSON value that remembers its line, so that every later complaint about a
//! field can name the line it is on.

use crate::history::InputError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Nil,
    Bool(bool),
    /// Wide enough for every i64 and u64.
    Int(i128),
    Float(f64),
    Str(String),
    /// Without the leading colon.
    Keyword(String),
    Symbol(String),
    Char(char),
    Vector(Vec<Node>),
    List(Vec<Node>),
    Set(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// 1-based line where the value starts.
    pub line: usize,
    pub val: Val,
}

impl Node {
    /// The entries of a map, or `None`.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.val {
            Val::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a vector or list.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.val {
            Val::Vector(items) | Val::List(items) => Some(items),
            _ => None,
        }
    }

    /// A short description of the value for "found ..." in messages.
    pub fn describe(&self) -> String {
        match &self.val {
            Val::Nil => "nil/null".to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Str(s) if s.chars().count() > 40 => {
                let head: String = s.chars().take(37).collect();
                format!("{head:?}...")
            }
            Val::Str(s) => format!("{s:?}"),
            Val::Keyword(k) => format!(":{k}"),
            Val::Symbol(s) => s.clone(),
            Val::Char(c) => format!("\\{c}"),
            Val::Vector(items) => format!("a vector of {}", items.len()),
            Val::List(items) => format!("a list of {}", items.len()),
            Val::Set(items) => format!("a set of {}", items.len()),
            Val::Map(entries) => format!("a map of {} entries", entries.len()),
        }
    }

    /// An error about this value: "expected X, found <this>".
    pub fn error(&self, source: &str, field: &str, expected: &str) -> InputError {
        InputError::new(source, Some(self.line), expected).field(field).found(self.describe())
    }
}
