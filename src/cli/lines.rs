//! One document per line: reading an id out of a JSON line, putting it back.
//!
//! `doc import` and `doc export` speak JSON lines: each line is one
//! document's value, a JSON object. Where the id lives is the user's
//! choice, and the two commands mirror each other:
//!
//! | | without `--id-field` | with `--id-field F` |
//! |---|---|---|
//! | import | the line is the value, verbatim; the id is generated | the id is the line's top-level `F` (a string or an integer); `F` is removed from the value (kept with `--keep-id-field`) |
//! | export | the line is the value, verbatim | `"F":"ID"` is put first in the line, unless the value already has a top-level `F` |
//!
//! So `doc export --id-field _id` followed by `doc import --id-field _id`
//! copies a collection with its ids, and every value comes back as it was.
//!
//! Removing a field keeps every other member's value byte for byte (they
//! are sliced out of the line with `serde_json`'s `RawValue`), in order,
//! but writes the object compactly: whitespace *between* members is not
//! kept. A value that contains line breaks (whitespace between tokens; a
//! JSON string cannot hold one) has them turned into spaces on export, or
//! it would not be one line.

use std::borrow::Cow;

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, Visitor},
};
use serde_json::value::RawValue;

/// Where a line's document id comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdRule {
    /// The top-level field holding the id; `None`: generate ids.
    pub field: Option<String>,
    /// Keep the field in the stored value.
    pub keep: bool,
}

impl IdRule {
    /// The rule of `--id-field` and `--keep-id-field`.
    pub fn new(field: Option<String>, keep: bool) -> Self {
        IdRule { field, keep }
    }
}

/// A line read as a document: its id (if the rule takes one) and its value.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The id from the id field.
    pub id: Option<String>,
    /// The value to store.
    pub value: Cow<'a, str>,
}

/// Reads one line (without its line break) as a document under `rule`; the
/// error says what is wrong with the line.
pub fn parse<'a>(line: &'a str, rule: &IdRule) -> Result<Parsed<'a>, String> {
    let Some(field) = &rule.field else {
        serde_json::from_str::<AnObject>(line).map_err(describe)?;
        return Ok(Parsed {
            id: None,
            value: Cow::Borrowed(line),
        });
    };
    let members = serde_json::from_str::<Members<'_>>(line).map_err(describe)?;
    let id = members
        .0
        .iter()
        .find(|(key, _)| key.as_ref() == field)
        .ok_or_else(|| format!("no top-level {field:?} field to take the id from"))
        .and_then(|(_, raw)| id_of(raw, field))?;
    let value = if rule.keep {
        Cow::Borrowed(line)
    } else {
        Cow::Owned(without(&members, field))
    };
    Ok(Parsed {
        id: Some(id),
        value,
    })
}

/// serde_json's message without its "at line 1": the caller names the line.
pub fn describe(err: serde_json::Error) -> String {
    let text = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&position) {
        Some(stem) => format!("{stem} (column {})", err.column()),
        None => text,
    }
}

/// The id an id field holds: a string as is, an integer in decimal.
fn id_of(raw: &RawValue, field: &str) -> Result<String, String> {
    match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(serde_json::Value::String(id)) => Ok(id),
        Ok(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        _ => Err(format!(
            "{field:?} must be a string or an integer, not {}",
            raw.get()
        )),
    }
}

/// The object without the members named `field`, compact, values verbatim.
fn without(members: &Members<'_>, field: &str) -> String {
    let mut out = String::with_capacity(members.1);
    out.push('{');
    for (key, raw) in members.0.iter().filter(|(key, _)| key.as_ref() != field) {
        if out.len() > 1 {
            out.push(',');
        }
        // A key the parser had to unescape is escaped again; most are borrowed.
        out.push_str(&serde_json::Value::from(key.as_ref()).to_string());
        out.push(':');
        out.push_str(raw.get());
    }
    out.push('}');
    out
}

/// One export line: the value with `"field":"id"` first (unless the value
/// already has a top-level `field`), line breaks turned into spaces.
pub fn export_line(value: &str, id: &str, field: Option<&str>) -> String {
    let value = one_line(value);
    let Some(field) = field else {
        return value.into_owned();
    };
    if has_member(&value, field) {
        return value.into_owned();
    }
    let trimmed = value.trim_start();
    let body = trimmed.strip_prefix('{').unwrap_or(trimmed);
    let member = format!(
        "{}:{}",
        serde_json::Value::from(field),
        serde_json::Value::from(id)
    );
    if body.trim_start().starts_with('}') {
        format!("{{{member}}}")
    } else {
        format!("{{{member},{body}")
    }
}

/// Line breaks can only be whitespace between a JSON text's tokens.
fn one_line(value: &str) -> Cow<'_, str> {
    if value.contains(['\n', '\r']) {
        Cow::Owned(value.replace(['\n', '\r'], " "))
    } else {
        Cow::Borrowed(value)
    }
}

fn has_member(value: &str, field: &str) -> bool {
    // Fast path: without the quoted key or any escape, there is no such key.
    let quoted = serde_json::Value::from(field).to_string();
    if !value.contains(&quoted) && !value.contains('\\') {
        return false;
    }
    serde_json::from_str::<Members<'_>>(value)
        .map(|members| members.0.iter().any(|(key, _)| key.as_ref() == field))
        .unwrap_or(false)
}

/// A JSON object, checked and ignored.
struct AnObject;

impl<'de> Deserialize<'de> for AnObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Expect;
        impl<'de> Visitor<'de> for Expect {
            type Value = AnObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnObject)
            }
        }
        deserializer.deserialize_map(Expect)
    }
}

/// A JSON object's members in order, values as raw slices of the input;
/// the second field is the input's length, to size a rebuilt object.
struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>, usize);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Collect;
        impl<'de> Visitor<'de> for Collect {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                let mut len = 2;
                while let Some((key, raw)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    len += key.as_ref().len() + raw.get().len() + 4;
                    members.push((key, raw));
                }
                Ok(Members(members, len))
            }
        }
        deserializer.deserialize_map(Collect)
    }
}

/// An object key, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl AsRef<str> for Key<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(field: &str, keep: bool) -> IdRule {
        IdRule::new(Some(field.to_owned()), keep)
    }

    #[test]
    fn without_an_id_field_the_line_is_the_value_verbatim() {
        let line = r#"{ "b": 1,   "a": [1, 2] }"#;
        let parsed = parse(line, &IdRule::default()).unwrap();
        assert_eq!(
            parsed,
            Parsed {
                id: None,
                value: Cow::Borrowed(line)
            }
        );
    }

    #[test]
    fn the_id_field_is_taken_out_and_the_rest_kept_in_order() {
        let parsed = parse(
            r#"{"name":"Ada", "_id":"u1", "tags":[1, 2]}"#,
            &rule("_id", false),
        );
        let parsed = parsed.unwrap();
        assert_eq!(parsed.id.as_deref(), Some("u1"));
        assert_eq!(parsed.value, r#"{"name":"Ada","tags":[1, 2]}"#);
    }

    #[test]
    fn keep_id_field_stores_the_line_as_is() {
        let line = r#"{"_id": 7, "x": 1}"#;
        let parsed = parse(line, &rule("_id", true)).unwrap();
        assert_eq!(parsed.id.as_deref(), Some("7"));
        assert_eq!(parsed.value, line);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let bad = [
            ("[1, 2]", IdRule::default(), "expected a JSON object"),
            ("{\"a\":", IdRule::default(), "EOF"),
            (r#"{"a":1}"#, rule("_id", false), "no top-level \"_id\""),
            (
                r#"{"_id":[1]}"#,
                rule("_id", false),
                "must be a string or an integer",
            ),
            (
                r#"{"_id":1.5}"#,
                rule("_id", false),
                "must be a string or an integer",
            ),
        ];
        for (line, rule, expected) in bad {
            let err = parse(line, &rule).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn an_escaped_key_is_matched_and_escaped_again() {
        let parsed = parse(r#"{"\u005fid":"a","q\"k":2}"#, &rule("_id", false)).unwrap();
        assert_eq!(parsed.id.as_deref(), Some("a"));
        assert_eq!(parsed.value, r#"{"q\"k":2}"#);
    }

    #[test]
    fn export_puts_the_id_first_and_import_takes_it_back() {
        let value = r#"{"name":"Ada","n":1}"#;
        let line = export_line(value, "u1", Some("_id"));
        assert_eq!(line, r#"{"_id":"u1","name":"Ada","n":1}"#);
        let parsed = parse(&line, &rule("_id", false)).unwrap();
        assert_eq!(
            (parsed.id.as_deref(), parsed.value.as_ref()),
            (Some("u1"), value)
        );
    }

    #[test]
    fn export_leaves_a_value_that_has_the_field_and_fixes_line_breaks() {
        assert_eq!(
            export_line(r#"{"_id":"x"}"#, "u1", Some("_id")),
            r#"{"_id":"x"}"#
        );
        assert_eq!(export_line("{}", "u1", Some("_id")), r#"{"_id":"u1"}"#);
        assert_eq!(export_line("{\n\"a\":1\r\n}", "u1", None), "{ \"a\":1  }");
    }
}
