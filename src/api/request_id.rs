//! `distgo-request-id`: retrying a write without applying it twice.
//!
//! A client that sent a write and got UNAVAILABLE or DEADLINE_EXCEEDED
//! does not know whether it took effect: the leader may have committed it
//! just before it failed. Retrying blindly could apply it twice (two
//! documents with generated ids, an update over a later one). A write that
//! carries a request id in this header is remembered, with its outcome, in
//! the replicated state for `cluster.request_window`; a repeat within the
//! window gets the first outcome back and changes nothing. Because the
//! window is part of the state machine, the memory survives snapshots and
//! leader changes: the retry may go to any member.

use tonic::metadata::MetadataMap;

use crate::error::Violation;

/// The request header that names a write for retries.
pub const REQUEST_ID_HEADER: &str = "distgo-request-id";

/// The longest request id, in characters.
pub const MAX_REQUEST_ID: usize = 128;

/// The request id a request carries, if any: 1-128 visible ASCII characters.
pub fn request_id(metadata: &MetadataMap) -> Result<Option<String>, Violation> {
    let Some(value) = metadata.get(REQUEST_ID_HEADER) else {
        return Ok(None);
    };
    let bad = |why: &str| Violation::new(REQUEST_ID_HEADER, why.to_owned());
    let text = value
        .to_str()
        .map_err(|_| bad("must be visible ASCII characters"))?;
    if text.is_empty() || text.len() > MAX_REQUEST_ID {
        return Err(bad("must be 1 to 128 characters"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be visible ASCII characters"));
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &'static str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(REQUEST_ID_HEADER, value.parse().unwrap());
        metadata
    }

    #[test]
    fn a_request_id_is_optional_and_bounded() {
        assert_eq!(request_id(&MetadataMap::new()), Ok(None));
        assert_eq!(request_id(&with("retry-7")), Ok(Some("retry-7".into())));
        assert!(request_id(&with("has space")).is_err());
        assert!(request_id(&with("")).is_err());
        let long: &'static str = Box::leak("x".repeat(129).into_boxed_str());
        assert!(request_id(&with(long)).is_err());
    }
}
