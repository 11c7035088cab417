//! The one-line request syntax shared by scenarios, failure reports and
//! replayable model scripts.
//!
//! ```text
//! CreateDocument parent=databases/shop/collections/orders document_id=o1 document.value={"total": 12}
//! UpdateDatabase database.name=databases/shop database.display_name="Shop 2" update_mask=display_name
//! ```
//!
//! A line is the RPC name followed by `key=value` pairs whose keys are proto
//! field paths, exactly the paths that BadRequest violations name. A value is
//!
//! - a bare word (no spaces, quotes or leading `{`): `o1`, `databases/shop`;
//! - a JSON string literal: `"Shop 2"`, `""`, `"a \"quoted\" word"`;
//! - a JSON-object-looking text with balanced braces: `{"total": 12}`, taken
//!   verbatim up to its matching `}` (strings inside it may hold braces).
//!
//! A message field that is present but empty is written `database={}`.
//! Fields left at their proto default are simply omitted.

use std::fmt;

/// Why a script line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

/// A result of reading script syntax.
pub type Result<T, E = SyntaxError> = std::result::Result<T, E>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(SyntaxError(message.into()))
}

/// Splits a line into its method and its `key=value` pairs.
pub fn split_line(line: &str) -> Result<(String, Args)> {
    let line = line.trim();
    let (method, mut rest) = match line.split_once(char::is_whitespace) {
        Some((method, rest)) => (method, rest.trim_start()),
        None => (line, ""),
    };
    if method.is_empty() {
        return err("empty request line");
    }
    let mut pairs = Vec::new();
    while !rest.is_empty() {
        let (key, after_key) = rest
            .split_once('=')
            .ok_or_else(|| SyntaxError(format!("expected key=value, found {rest:?}")))?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return err(format!("bad key {key:?}"));
        }
        let (value, after) = read_value(after_key)?;
        pairs.push((key.to_owned(), value, false));
        rest = after.trim_start();
    }
    Ok((method.to_owned(), Args { pairs }))
}

/// Reads one value at the start of `text`; returns it and what follows.
fn read_value(text: &str) -> Result<(String, &str)> {
    if text.starts_with('"') {
        let end = string_end(text, 0).ok_or_else(|| SyntaxError("unterminated string".into()))?;
        let value: String = serde_json::from_str(&text[..end])
            .map_err(|e| SyntaxError(format!("bad string literal: {e}")))?;
        return Ok((value, &text[end..]));
    }
    if text.starts_with('{') {
        let end = braces_end(text).ok_or_else(|| SyntaxError("unbalanced braces".into()))?;
        return Ok((text[..end].to_owned(), &text[end..]));
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    Ok((text[..end].to_owned(), &text[end..]))
}

/// The byte index just after the JSON string starting at `start`.
fn string_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The byte index just after the `}` that balances the `{` at 0.
fn braces_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(text, i)?;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Writes `value` so that a script line reads it back unchanged.
pub fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && !value.starts_with(['"', '{'])
        && !value.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"');
    if bare {
        return value.to_owned();
    }
    let braced = value.starts_with('{')
        && braces_end(value) == Some(value.len())
        && !value.contains(['\n', '\r']);
    if braced {
        return value.to_owned();
    }
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}

/// The `key=value` pairs of a line, consumed by the request builders.
#[derive(Debug, Default)]
pub struct Args {
    pairs: Vec<(String, String, bool)>,
}

impl Args {
    /// The value of `key`, or "" when absent.
    pub fn str(&mut self, key: &str) -> String {
        self.take(key).unwrap_or_default()
    }

    /// The value of `key` when present.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let pair = self
            .pairs
            .iter_mut()
            .find(|(k, _, used)| k == key && !*used)?;
        pair.2 = true;
        Some(pair.1.clone())
    }

    /// An integer field; absent is 0.
    pub fn i32(&mut self, key: &str) -> Result<i32> {
        match self.take(key) {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| SyntaxError(format!("{key}: {v:?} is not an integer"))),
        }
    }

    /// Whether a message field `key` is present: written as `key={}` or with
    /// any subfield `key.x` / `key[i]`.
    pub fn present(&mut self, key: &str) -> bool {
        let mut found = false;
        for (k, v, used) in &mut self.pairs {
            if k == key && v == "{}" {
                *used = true;
                found = true;
            } else if k.starts_with(key)
                && (k[key.len()..].starts_with('.') || k[key.len()..].starts_with('['))
            {
                found = true;
            }
        }
        found
    }

    /// Fails on keys no builder asked for: a typo must not pass silently.
    pub fn finish(self) -> Result<()> {
        let unused: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(_, _, used)| !used)
            .map(|(k, _, _)| k.as_str())
            .collect();
        if unused.is_empty() {
            Ok(())
        } else {
            err(format!("unknown field(s): {}", unused.join(", ")))
        }
    }
}

/// `key=value` pairs being rendered, in field order.
#[derive(Debug, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// A string field; omitted when empty (the proto default).
    pub fn str(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.always(key, value);
        }
    }

    /// A field written even when empty.
    pub fn always(&mut self, key: &str, value: &str) {
        self.pairs.push((key.to_owned(), value.to_owned()));
    }

    /// An integer field; omitted when 0.
    pub fn i32(&mut self, key: &str, value: i32) {
        if value != 0 {
            self.always(key, &value.to_string());
        }
    }

    /// A message field: its subfields, or `key={}` when it is present but empty.
    pub fn message(&mut self, key: &str, write: impl FnOnce(&mut Fields)) {
        let before = self.pairs.len();
        write(self);
        if self.pairs.len() == before {
            self.always(key, "{}");
        }
    }

    /// Number of pairs written so far.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{key}={}", quote(value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_quoting() {
        for value in [
            "o1",
            "",
            "two words",
            "{\"a\": \"}\"}",
            "{\"a\":1} trailing",
            "{",
            "\"",
            "tab\there",
            "é",
            "{}",
            " {\"lead\":1}",
        ] {
            let line = format!("M k={} j=x", quote(value));
            let (_, mut args) = split_line(&line).unwrap();
            assert_eq!(args.str("k"), value, "{line}");
            assert_eq!(args.str("j"), "x");
            args.finish().unwrap();
        }
    }

    #[test]
    fn unknown_keys_and_bad_syntax_are_reported() {
        let (_, mut args) = split_line("M a=1 b=2").unwrap();
        assert_eq!(args.str("a"), "1");
        assert!(args.finish().unwrap_err().0.contains('b'));
        assert!(split_line("M a").is_err());
        assert!(split_line("M a=\"open").is_err());
        assert!(split_line("M a={").is_err());
    }

    #[test]
    fn presence_of_messages() {
        let (_, mut args) = split_line("M database={} document.value={}").unwrap();
        assert!(args.present("database"));
        assert!(args.present("document"));
        assert!(!args.present("collection"));
        assert_eq!(args.str("document.value"), "{}");
        args.finish().unwrap();
    }
}
