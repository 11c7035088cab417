//! Limits on the mutable fields of resources.
//!
//! Lengths are counted in characters (Unicode scalar values), not bytes,
//! because that is what a user typing a name counts. A document value must
//! be the JSON text of an object; it is checked here and then stored
//! verbatim, byte for byte: the worker never re-serialises a client's JSON,
//! so whitespace, key order and number spelling survive a round trip.

use serde::de::IgnoredAny;

use crate::error::{Violation, clip};

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 255;
/// The longest collection description, in characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// The longest document value, in characters.
pub const MAX_VALUE: usize = 4096;

/// A database's display name: required, 1-255 characters.
pub fn check_display_name(value: &str, field: &str) -> Result<(), Violation> {
    check_length(value, true, MAX_DISPLAY_NAME, field)
}

/// A collection's description: 0-1024 characters.
pub fn check_description(value: &str, field: &str) -> Result<(), Violation> {
    check_length(value, false, MAX_DESCRIPTION, field)
}

/// A document's value: the JSON text of an object, 1-4096 characters.
///
/// Parsing into [`IgnoredAny`] checks the whole RFC 8259 grammar without
/// building a tree, so validation allocates nothing. serde_json skips over
/// ignored numbers without converting them, so `1e999` is accepted as the
/// grammar says it must be.
pub fn check_value(value: &str, field: &str) -> Result<(), Violation> {
    check_length(value, true, MAX_VALUE, field)?;
    if !value
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Err(Violation::new(field, "must be a JSON object"));
    }
    serde_json::from_str::<IgnoredAny>(value)
        .map(drop)
        .map_err(|err| {
            let err = err.to_string();
            Violation::new(field, format!("must be a JSON object: {}", clip(&err)))
        })
}

fn check_length(value: &str, required: bool, max: usize, field: &str) -> Result<(), Violation> {
    if required && value.is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    // A string of at most `max` bytes has at most `max` characters, so only
    // longer strings pay for the O(n) character count.
    if value.len() > max {
        let len = value.chars().count();
        if len > max {
            return Err(Violation::new(
                field,
                format!("must be at most {max} characters, got {len}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_json_object_text() {
        for ok in [
            "{}",
            " {\"a\": [1, 2.5e999, null, true]} \n",
            "{\"a\":{\"b\":\"\\u00e9\"}}",
            "{\"dup\":1,\"dup\":2}",
        ] {
            assert_eq!(check_value(ok, "v"), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn rejects_non_objects_and_malformed_json() {
        for bad in [
            "",
            "[]",
            "1",
            "\"s\"",
            "null",
            "{",
            "{} {}",
            "{'a':1}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":\"\u{1}\"}",
        ] {
            assert!(check_value(bad, "v").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn value_length_counts_characters_not_bytes() {
        // 4096 characters, 8190 bytes: accepted.
        let wide = format!("{{\"k\":\"{}\"}}", "é".repeat(4096 - 8));
        assert_eq!(wide.chars().count(), 4096);
        assert_eq!(check_value(&wide, "v"), Ok(()));
        let too_long = format!("{{\"k\":\"{}\"}}", "a".repeat(4096 - 7));
        assert!(check_value(&too_long, "v").is_err());
    }

    #[test]
    fn display_name_and_description_bounds() {
        assert!(check_display_name("", "d").is_err());
        assert!(check_display_name(&"x".repeat(255), "d").is_ok());
        assert!(check_display_name(&"x".repeat(256), "d").is_err());
        assert!(check_description("", "d").is_ok());
        assert!(check_description(&"ü".repeat(1024), "d").is_ok());
        assert!(check_description(&"ü".repeat(1025), "d").is_err());
    }
}
