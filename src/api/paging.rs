//! # Paging: page sizes and page tokens, shared by every List method
//!
//! What a client sees:
//!
//! - Lists are in ascending name order.
//! - `page_size` 0 means 100, at most 1000; a negative size or one over
//!   1000 is INVALID_ARGUMENT on `page_size`.
//! - `page_token` is opaque: pass back the `next_page_token` of the previous
//!   page, with the same request otherwise. It resumes right after the last
//!   item returned even if that item has been deleted since, and it is
//!   refused (INVALID_ARGUMENT) for another parent or filter.
//! - `next_page_token` is empty exactly when nothing follows.
//! - A page costs O(log n + page size) wherever it starts: page 500 costs
//!   what page 1 does ([`crate::performance`] has the measurement).
//!
//! How that works:
//!
//! A page token is a *cursor*: it records the last item a page returned, and
//! the next page starts strictly after it in name order. Because it names a
//! position in the key space rather than an item, it keeps working when that
//! item is deleted (the next page simply starts at the first id after it),
//! and a page costs a `BTreeMap` range lookup wherever it starts.
//!
//! Token layout, before base64url encoding:
//!
//! ```text
//! ┌─────────┬──────────────┬───────┬─────────────┬────────┬──────────────┐
//! │ version │ scope length │ scope │ cursor len  │ cursor │ CRC-32C      │
//! │ u8 = 1  │ u16 LE       │ bytes │ u16 LE      │ bytes  │ u32 LE       │
//! └─────────┴──────────────┴───────┴─────────────┴────────┴──────────────┘
//! ```
//!
//! The *scope* is what the listing was of (the parent's name, or the WAL
//! filter): a token used for another scope is rejected instead of silently
//! paging through the wrong collection. The checksum rejects tokens the
//! server did not make (typos, truncation, tokens of another API). It is not a
//! secret: a token only says where to resume, and forging one grants nothing
//! that a first-page request does not.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{
    error::{Violation, quote},
    store::Page,
};

/// Items per page when the client asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

const VERSION: u8 = 1;

/// The number of items to return for a requested `page_size`.
pub fn page_size(requested: i32) -> Result<usize, Violation> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(Violation::new(
            "page_size",
            format!("must be between 0 and {MAX_PAGE_SIZE}, got {requested}"),
        )),
    }
}

/// The `next_page_token` for a page of a listing of `scope`: empty exactly
/// when nothing follows.
pub fn next_token<T>(scope: &str, page: &Page<T>) -> String {
    match (page.more, page.items.last()) {
        (true, Some((id, _))) => encode_token(scope, id),
        _ => String::new(),
    }
}

/// Makes the token that resumes a listing of `scope` after `cursor`.
pub fn encode_token(scope: &str, cursor: &str) -> String {
    let mut bytes = Vec::with_capacity(9 + scope.len() + cursor.len());
    bytes.push(VERSION);
    push_field(&mut bytes, scope.as_bytes());
    push_field(&mut bytes, cursor.as_bytes());
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a page token for a listing of `scope`: `None` for the first page,
/// the cursor to resume after otherwise.
pub fn decode_token(token: &str, scope: &str) -> Result<Option<String>, Violation> {
    if token.is_empty() {
        return Ok(None);
    }
    let not_ours = || Violation::new("page_token", "was not issued by this server");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| not_ours())?;
    let (body, crc) = bytes.split_last_chunk::<4>().ok_or_else(not_ours)?;
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err(not_ours());
    }
    let (&version, rest) = body.split_first().ok_or_else(not_ours)?;
    if version != VERSION {
        return Err(not_ours());
    }
    let (token_scope, rest) = take_field(rest).ok_or_else(not_ours)?;
    let (cursor, rest) = take_field(rest).ok_or_else(not_ours)?;
    if !rest.is_empty() {
        return Err(not_ours());
    }
    if token_scope != scope.as_bytes() {
        return Err(Violation::new(
            "page_token",
            format!(
                "was issued for {}, not for {scope:?}",
                quote(&String::from_utf8_lossy(token_scope))
            ),
        ));
    }
    String::from_utf8(cursor.to_vec())
        .map(Some)
        .map_err(|_| not_ours())
}

fn push_field(bytes: &mut Vec<u8>, field: &[u8]) {
    // Scopes and cursors are names and ids, far below 64 KiB.
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&field[..usize::from(len)]);
}

fn take_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_zero_means_default_and_bounds_are_enforced() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(1), Ok(1));
        assert_eq!(page_size(1000), Ok(1000));
        assert!(page_size(1001).is_err());
        assert!(page_size(-1).is_err());
        assert!(page_size(i32::MIN).is_err());
    }

    #[test]
    fn tokens_round_trip_within_their_scope() {
        let token = encode_token("databases/a", "doc-7");
        assert_eq!(
            decode_token(&token, "databases/a"),
            Ok(Some("doc-7".into()))
        );
        assert_eq!(decode_token("", "databases/a"), Ok(None));
    }

    #[test]
    fn tokens_of_another_scope_are_rejected_by_name() {
        let token = encode_token("databases/a", "x");
        let err = decode_token(&token, "databases/b").unwrap_err();
        assert_eq!(err.field, "page_token");
        assert!(err.description.contains("databases/a"), "{err}");
    }

    #[test]
    fn every_altered_token_is_rejected() {
        let token = encode_token("databases/a/collections/b", "doc");
        for bogus in [
            "x",
            "AAAA",
            "not base64!",
            &token[1..],
            &token[..token.len() - 1],
        ] {
            assert!(
                decode_token(bogus, "databases/a/collections/b").is_err(),
                "{bogus}"
            );
        }
        // Flip every bit of the raw token: the checksum catches each one.
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() * 8 {
            let mut flipped = raw.clone();
            flipped[i / 8] ^= 1 << (i % 8);
            let bogus = URL_SAFE_NO_PAD.encode(flipped);
            assert!(decode_token(&bogus, "databases/a/collections/b").is_err());
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_token_is_decoded_or_refused_without_panicking(token in ".{0,64}", scope in "[a-z/]{0,20}") {
            let _ = decode_token(&token, &scope);
        }

        #[test]
        fn every_cursor_round_trips(scope in "[a-z0-9/._-]{0,80}", cursor in "[a-zA-Z0-9._-]{0,64}") {
            let token = encode_token(&scope, &cursor);
            prop_assert_eq!(decode_token(&token, &scope), Ok(Some(cursor)));
        }
    }
}
