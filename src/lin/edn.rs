//! A small, tolerant reader for the EDN that Jepsen histories are written in, and the writer that
//! turns a [`History`] back into one op map per line.
//!
//! Only what a history needs is understood: `nil`, booleans, integers, keywords, symbols, strings,
//! vectors, lists, maps and sets; floats, characters and tagged literals (`#inst "…"`,
//! `#jepsen.history.Op{…}`) are read so they can be skipped. Commas are whitespace and `;` starts a
//! comment, as in EDN. No crate was used: the EDN crates on crates.io (`edn-rs`, `edn-format`) are
//! either unmaintained or build a full generic value model with its own error type, while a history
//! needs line numbers in every error and only this subset (about 200 lines here).

use std::fmt::{self, Write as _};

use crate::lin::history::{Completion, History, OpF};

/// One EDN value of the subset above.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Datum {
    Nil,
    Bool(bool),
    Int(i64),
    /// `:read` is stored as `read`.
    Keyword(Box<str>),
    Symbol(Box<str>),
    Str(Box<str>),
    /// Floats, characters and other atoms a history does not interpret: the text as written.
    Other(Box<str>),
    Vector(Vec<Datum>),
    List(Vec<Datum>),
    Set(Vec<Datum>),
    Map(Vec<(Datum, Datum)>),
}

impl Datum {
    pub fn as_keyword(&self) -> Option<&str> {
        match self {
            Datum::Keyword(k) => Some(k),
            _ => None,
        }
    }

    /// The value of keyword `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Datum> {
        match self {
            Datum::Map(entries) => entries.iter().find(|(k, _)| k.as_keyword() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Datum], close: &str) -> fmt::Result {
            f.write_str(open)?;
            for (i, d) in items.iter().enumerate() {
                if i > 0 {
                    f.write_char(' ')?;
                }
                write!(f, "{d}")?;
            }
            f.write_str(close)
        }
        match self {
            Datum::Nil => f.write_str("nil"),
            Datum::Bool(b) => write!(f, "{b}"),
            Datum::Int(i) => write!(f, "{i}"),
            Datum::Keyword(k) => write!(f, ":{k}"),
            Datum::Symbol(s) | Datum::Other(s) => f.write_str(s),
            Datum::Str(s) => write!(f, "{s:?}"),
            Datum::Vector(v) => seq(f, "[", v, "]"),
            Datum::List(v) => seq(f, "(", v, ")"),
            Datum::Set(v) => seq(f, "#{", v, "}"),
            Datum::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

/// A parse error: the 1-based line, the offending text and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnError {
    pub line: u64,
    pub found: String,
    pub expected: &'static str,
}

/// Nesting deeper than this is refused (a history op is two or three levels deep).
pub const DEPTH_MAX: usize = 64;

/// Reads every top-level form of `text`, each with the line it starts on.
pub fn parse_all(text: &str) -> Result<Vec<(u64, Datum)>, EdnError> {
    let mut p = Parser { s: text.as_bytes(), text, i: 0, line: 1 };
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        if p.i >= p.s.len() {
            return Ok(out);
        }
        let line = p.line;
        out.push((line, p.value(0)?));
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: u64,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' | b',' => {}
                b';' => {
                    while self.s.get(self.i).is_some_and(|&c| c != b'\n') {
                        self.i += 1;
                    }
                    continue;
                }
                _ => return,
            }
            self.i += 1;
        }
    }

    fn error(&self, expected: &'static str) -> EdnError {
        let rest = &self.text[self.i.min(self.text.len())..];
        let found: String = rest.lines().next().unwrap_or("").chars().take(30).collect();
        EdnError {
            line: self.line,
            found: if found.is_empty() { "end of file".into() } else { found },
            expected,
        }
    }

    fn value(&mut self, depth: usize) -> Result<Datum, EdnError> {
        if depth > DEPTH_MAX {
            return Err(self.error("at most 64 levels of nesting"));
        }
        self.skip_ws();
        let Some(&c) = self.s.get(self.i) else { return Err(self.error("a value")) };
        match c {
            b'[' => self.items(b']', depth).map(Datum::Vector),
            b'(' => self.items(b')', depth).map(Datum::List),
            b'{' => {
                let items = self.items(b'}', depth)?;
                if items.len() % 2 != 0 {
                    return Err(self.error("a map with an even number of forms"));
                }
                let mut it = items.into_iter();
                let mut entries = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Ok(Datum::Map(entries))
            }
            b'#' => match self.s.get(self.i + 1) {
                Some(b'{') => {
                    self.i += 1;
                    self.items(b'}', depth).map(Datum::Set)
                }
                Some(b'_') => {
                    // `#_form`: discard the next form.
                    self.i += 2;
                    self.value(depth + 1)?;
                    self.value(depth)
                }
                _ => {
                    // A tagged literal: skip the tag, keep the value.
                    self.i += 1;
                    self.token();
                    self.value(depth + 1)
                }
            },
            b'"' => self.string(),
            b')' | b']' | b'}' => Err(self.error("a value (unbalanced closing bracket)")),
            _ => self.atom(),
        }
    }

    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Datum>, EdnError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.i) {
                None => return Err(self.error("a closing bracket")),
                Some(&c) if c == close => {
                    self.i += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value(depth + 1)?),
            }
        }
    }

    fn string(&mut self) -> Result<Datum, EdnError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else { return Err(self.error("a closing quote")) };
            self.i += 1;
            match c {
                b'"' => return Ok(Datum::Str(out.into())),
                b'\\' => {
                    let e = self.s.get(self.i).copied().unwrap_or(b'\\');
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        other => other as char,
                    });
                }
                b'\n' => {
                    self.line += 1;
                    out.push('\n');
                }
                _ => {
                    // Copy the whole UTF-8 character.
                    let start = self.i - 1;
                    let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&self.text[start..start + len]);
                    self.i = start + len;
                }
            }
        }
    }

    /// The bytes up to the next delimiter.
    fn token(&mut self) -> &str {
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            if matches!(
                c,
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
            ) {
                break;
            }
            self.i += 1;
        }
        &self.text[start..self.i]
    }

    fn atom(&mut self) -> Result<Datum, EdnError> {
        let start = self.i;
        let token = self.token().to_owned();
        let first = token.chars().next().unwrap_or(' ');
        let numeric = first.is_ascii_digit()
            || ((first == '-' || first == '+') && token[1..].starts_with(|c: char| c.is_ascii_digit()));
        Ok(match token.as_str() {
            "nil" => Datum::Nil,
            "true" => Datum::Bool(true),
            "false" => Datum::Bool(false),
            _ if first == ':' && token.len() > 1 => Datum::Keyword(token[1..].into()),
            _ if first == '\\' => Datum::Other(token.into()),
            _ if numeric => match token.trim_end_matches('N').parse::<i64>() {
                Ok(i) => Datum::Int(i),
                Err(_) if token.contains(['.', 'e', 'E', 'M', '/']) => Datum::Other(token.into()),
                Err(_) => {
                    self.i = start;
                    return Err(self.error("an integer that fits in 64 bits"));
                }
            },
            _ if !token.is_empty() => Datum::Symbol(token.into()),
            _ => {
                self.i = start;
                return Err(self.error("an EDN value"));
            }
        })
    }
}

/// Writes `history` as a Jepsen history: one op map per line, in history order, with `:index` (the
/// op id), `:time` (ns, when known), `:process`, `:type`, `:f`, `:key` (when the op has one) and
/// `:value` (a cas as `[old new]`; a read invoke, and a read that did not complete ok, as `nil`).
pub fn write_edn(history: &History, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut line = String::new();
    for event in history.events() {
        let op = &history.ops()[event.op];
        let (kind, time_ns) = match (event.completion, op.completion) {
            (false, _) => ("invoke", op.invoke.time_ns),
            (true, Completion::Ok(at)) => ("ok", at.time_ns),
            (true, Completion::Fail(at)) => ("fail", at.time_ns),
            (true, Completion::Info(at)) => ("info", at.time_ns),
            (true, Completion::None) => continue,
        };
        line.clear();
        let _ = write!(line, "{{:index {}", op.id);
        if let Some(t) = time_ns {
            let _ = write!(line, ", :time {t}");
        }
        let _ = write!(line, ", :process {}, :type :{kind}, :f :{}", op.process, op.f.as_str());
        if let Some(key) = history.key_datum(op.key) {
            let _ = write!(line, ", :key {key}");
        }
        let value = history.datum(op.value);
        let _ = match op.f {
            OpF::Cas => write!(line, ", :value [{} {}]", history.datum(op.expect), value),
            OpF::Read if kind != "ok" => write!(line, ", :value nil"),
            _ => write!(line, ", :value {value}"),
        };
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Datum {
        let mut all = parse_all(text).unwrap();
        assert_eq!(all.len(), 1, "{text}");
        all.pop().unwrap().1
    }

    #[test]
    fn reads_the_subset() {
        let d = one("{:process 0, :type :invoke, :f :cas, :value [1 nil] :time 12 :error \"x, y\"}");
        assert_eq!(d.get("process"), Some(&Datum::Int(0)));
        assert_eq!(d.get("f"), Some(&Datum::Keyword("cas".into())));
        assert_eq!(d.get("value"), Some(&Datum::Vector(vec![Datum::Int(1), Datum::Nil])));
        assert_eq!(d.get("error"), Some(&Datum::Str("x, y".into())));
        assert_eq!(one("#{1 -2} ; comment"), Datum::Set(vec![Datum::Int(1), Datum::Int(-2)]));
        assert_eq!(one("#inst \"2020\""), Datum::Str("2020".into()));
        assert_eq!(
            one("(1.5 :a/b)"),
            Datum::List(vec![Datum::Other("1.5".into()), Datum::Keyword("a/b".into())])
        );
        assert_eq!(one("#_ :skipped :kept"), Datum::Keyword("kept".into()));
    }

    #[test]
    fn lines_are_counted_and_errors_point_at_the_text() {
        let all = parse_all("{:a 1}\n\n{:b 2}\n").unwrap();
        assert_eq!(all.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 3]);
        let err = parse_all("{:a 1}\n{:b [2 3}").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.found, "}");
        let err = parse_all("{:a 99999999999999999999999}").unwrap_err();
        assert_eq!(
            (err.found.as_str(), err.expected),
            ("99999999999999999999999}", "an integer that fits in 64 bits")
        );
        assert_eq!(parse_all("{:a}").unwrap_err().expected, "a map with an even number of forms");
        assert_eq!(parse_all("[[[[").unwrap_err().found, "end of file");
    }

    #[test]
    fn display_is_edn() {
        let text = "{:a [1 nil :k \"s\"], :b #{true}}";
        assert_eq!(one(text).to_string(), text);
    }
}
