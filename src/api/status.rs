//! # Errors: the one place where they become gRPC statuses
//!
//! Each [`Error`] variant maps to exactly one status code:
//!
//! | code | when |
//! |---|---|
//! | `INVALID_ARGUMENT` | a malformed name, id, field, mask, page size or token. Carries a `google.rpc.BadRequest` detail with one field violation per bad field (e.g. `document.value`, `parent`) |
//! | `NOT_FOUND` | the resource, or the parent a create or list needs, does not exist |
//! | `ALREADY_EXISTS` | create with a name that is taken; the existing resource is unchanged |
//! | `FAILED_PRECONDITION` | a transaction commit whose operation cannot apply (the message gives its index and reason) |
//! | `RESOURCE_EXHAUSTED` | a bound: open transactions, operations per transaction, a request over 4 MiB |
//! | `DEADLINE_EXCEEDED` | the request ran past `grpc.timeout` or the client's deadline |
//! | `UNAVAILABLE` | the worker is shutting down, or its log can no longer write |
//! | `UNIMPLEMENTED` | a service or method this worker does not serve (e.g. the master's packages) |
//!
//! Messages are lower case and name the resource or field at fault, e.g.
//! `databases/shop/collections/cart not found`. The worker never answers
//! `INTERNAL` or `UNKNOWN` for anything a client did. The field violations
//! of INVALID_ARGUMENT let a client point at the exact field in a form
//! instead of parsing the message, and all bad fields are reported at once
//! ([`crate::api::gather`]).
//!
//! **Deadlines.** Every request is bounded by the worker's `grpc.timeout`
//! and, if the client sent one, its `grpc-timeout` deadline, whichever is
//! shorter; either answers DEADLINE_EXCEEDED, never CANCELLED
//! (`src/server/deadline.rs` explains why this is deterministic rather than a
//! race with tonic's own timer). A malformed `grpc-timeout` is ignored, as
//! tonic ignores it, and a request already past its deadline is answered
//! without running its handler.
//!
//! ## Every status fits in trailers
//!
//! A status travels in HTTP/2 trailers: `grpc-message` (percent-encoded, up
//! to 3 bytes per byte) and `grpc-status-details-bin` (base64 of a
//! `google.rpc.Status` that repeats the message and holds the violations, 4
//! bytes per 3). Peers cap a header block, hyper and tonic clients at 16 KiB,
//! and a block past the cap resets the connection: the client sees
//! RESOURCE_EXHAUSTED "h2 protocol error" (and so does every other request
//! on that connection) instead of its status. Messages quote client input through
//! [`quote`](crate::error::quote) already; this module is the backstop that
//! holds whatever a message says:
//!
//! - the message is cut at [`MAX_MESSAGE_BYTES`],
//! - each violation's field at [`MAX_FIELD_BYTES`] and description at
//!   [`MAX_DESCRIPTION_BYTES`],
//! - and violations are kept, in order, while they fit in
//!   [`MAX_VIOLATION_BYTES`] together (the first one always does); the
//!   message says how many more there were.
//!
//! Worst case, 3 × 1024 + 4/3 × (1024 + 2048 + framing) ≈ 7.5 KiB: under
//! half the cap, leaving room for other trailers. A cut is marked with `…`
//! and the original length in bytes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::{Error, Violation};

/// The most bytes of a status message.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The most bytes of one violation's field path.
pub const MAX_FIELD_BYTES: usize = 128;
/// The most bytes of one violation's description.
pub const MAX_DESCRIPTION_BYTES: usize = 512;
/// The most bytes of the fields and descriptions of one status's violations.
pub const MAX_VIOLATION_BYTES: usize = 2048;

/// The trailer that names a replica set's leader on UNAVAILABLE.
pub const LEADER_TRAILER: &str = "distgo-leader";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => invalid_argument(violations),
            Error::NotLeader(leader) => not_leader(leader),
            error => Status::new(code(&error), bounded(error.to_string(), MAX_MESSAGE_BYTES)),
        }
    }
}

/// UNAVAILABLE, with the leader's address in a trailer when it is known.
fn not_leader(leader: Option<String>) -> Status {
    let message = bounded(
        Error::NotLeader(leader.clone()).to_string(),
        MAX_MESSAGE_BYTES,
    );
    let mut status = Status::new(Code::Unavailable, message);
    let value = leader.and_then(|address| address.parse().ok());
    if let Some(value) = value {
        status.metadata_mut().insert(LEADER_TRAILER, value);
    }
    status
}

/// The status code of each error: one per variant.
fn code(error: &Error) -> Code {
    match error {
        Error::InvalidArgument(_) => Code::InvalidArgument,
        Error::NotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::FailedPrecondition(_) => Code::FailedPrecondition,
        Error::ResourceExhausted(_) => Code::ResourceExhausted,
        Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
        Error::Unauthenticated(_) => Code::Unauthenticated,
        Error::PermissionDenied(_) => Code::PermissionDenied,
        Error::Unavailable(_) | Error::NotLeader(_) => Code::Unavailable,
        Error::Internal(_) => Code::Internal,
    }
}

/// INVALID_ARGUMENT with a BadRequest detail of the violations that fit.
fn invalid_argument(violations: Vec<Violation>) -> Status {
    let total = violations.len();
    let mut budget = MAX_VIOLATION_BYTES;
    let mut kept = Vec::with_capacity(total.min(16));
    for violation in violations {
        let violation = Violation {
            field: bounded(violation.field, MAX_FIELD_BYTES),
            description: bounded(violation.description, MAX_DESCRIPTION_BYTES),
        };
        let size = violation.field.len() + violation.description.len();
        if size > budget {
            break;
        }
        budget -= size;
        kept.push(violation);
    }
    // The count of dropped violations survives any cut of the message.
    let more = match total - kept.len() {
        0 => String::new(),
        n => format!("; and {n} more"),
    };
    let listed = Error::InvalidArgument(kept.clone()).to_string();
    let message = bounded(listed, MAX_MESSAGE_BYTES - more.len()) + &more;
    let violations: Vec<FieldViolation> = kept
        .into_iter()
        .map(|v| FieldViolation::new(v.field, v.description))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

/// `text` if it has at most `max` bytes; otherwise cut on a character
/// boundary so that, with the note of its length, it has at most `max`.
fn bounded(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let note = format!("… ({} bytes in all)", text.len());
    let mut at = max.saturating_sub(note.len());
    // Byte 0 is always a boundary, so this ends.
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(&note);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a status costs in a peer's header-list budget (RFC 7540 §6.5.2:
    /// name + value + 32 per field), once encoded for the wire.
    fn trailer_bytes(status: Status) -> usize {
        let response = status.into_http::<()>();
        response
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum()
    }

    /// The lesson of `err-hostile-inputs-never-internal`: nothing a client
    /// sends may make a status too large for a 16 KiB header list.
    #[test]
    fn any_error_fits_in_a_fraction_of_a_16_kib_header_list() {
        let huge = "\u{1F600}\u{0}".repeat(100_000);
        let many: Vec<Violation> = (0..10_000)
            .map(|i| Violation::new(format!("operations[{i}].name"), huge.clone()))
            .collect();
        let errors = [
            Error::invalid(huge.clone(), huge.clone()),
            Error::InvalidArgument(many),
            Error::NotFound(huge.clone()),
            Error::FailedPrecondition(huge.clone()),
            Error::Internal(huge),
        ];
        for error in errors {
            let bytes = trailer_bytes(Status::from(error));
            assert!(bytes < 8 * 1024, "{bytes} bytes of trailers");
        }
    }

    #[test]
    fn violations_past_the_budget_are_counted_in_the_message() {
        let many: Vec<Violation> = (0..1000)
            .map(|i| Violation::new(format!("operations[{i}].name"), "d".repeat(100)))
            .collect();
        let status = Status::from(Error::InvalidArgument(many));
        let details = status.get_error_details();
        let kept = details
            .bad_request()
            .map_or(0, |b| b.field_violations.len());
        assert!((10..1000).contains(&kept), "{kept} violations kept");
        assert!(status.message().len() <= MAX_MESSAGE_BYTES);
        let more = format!("and {} more", 1000 - kept);
        assert!(status.message().contains(&more), "{}", status.message());
    }

    #[test]
    fn a_cut_lands_on_a_character_boundary_and_says_how_long_the_text_was() {
        let text = "é".repeat(1000);
        let cut = bounded(text, 101);
        assert!(cut.len() <= 101, "{cut}");
        assert!(cut.starts_with("éé"), "{cut}");
        assert!(cut.ends_with("… (2000 bytes in all)"), "{cut}");
        assert_eq!(bounded("short".into(), 101), "short");
    }

    #[test]
    fn invalid_argument_carries_one_violation_per_field() {
        let status = Status::from(Error::InvalidArgument(vec![
            Violation::new("database_id", "must not be empty"),
            Violation::new("database.display_name", "must not be empty"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("a BadRequest detail");
        let fields: Vec<&str> = bad_request
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["database_id", "database.display_name"]);
    }

    #[test]
    fn every_error_has_its_own_code() {
        let cases = [
            (Error::NotFound("x".into()), Code::NotFound),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (
                Error::ResourceExhausted("x".into()),
                Code::ResourceExhausted,
            ),
            (Error::DeadlineExceeded("x".into()), Code::DeadlineExceeded),
            (Error::Unauthenticated("x".into()), Code::Unauthenticated),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::Unavailable("x".into()), Code::Unavailable),
            (Error::Internal("x".into()), Code::Internal),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message.as_str()));
        }
    }
}
