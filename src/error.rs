//! The one error type of the worker.
//!
//! Every layer below the gRPC edge returns [`Error`]; the edge turns it into a
//! `tonic::Status` in exactly one place (`api::status`). Each variant is one
//! gRPC status code of the contract, so the mapping is a plain `match` and a
//! reader can see at a glance which failures a client can meet.
//!
//! Messages are lower case and name the resource or field at fault, because
//! the message is what a user reads when a request fails.
//!
//! ## Quoting what the client sent
//!
//! A message often quotes the client's own value (`"databases/Bad" does not
//! match ...`), and a client can send a name of megabytes. The message goes
//! back in HTTP/2 trailers (`grpc-message`, and again inside
//! `grpc-status-details-bin`), which a peer limits to a few KiB (16 KiB for
//! hyper and tonic clients): an echo past that limit makes the peer reset the
//! connection, and the client sees a protocol error instead of the
//! INVALID_ARGUMENT it earned. So every client-supplied value is quoted
//! through [`quote`], which keeps its first [`QUOTE_CHARS`] characters and
//! says how long it was, and free text that may embed client input (a JSON
//! parser's error) goes through [`clip`]. `api::status` bounds whatever
//! reaches it once more, so a site that forgets cannot break a connection.

use std::{borrow::Cow, fmt};

/// The most characters of a client's value that a message quotes.
pub const QUOTE_CHARS: usize = 100;

/// The most characters of free text that [`clip`] keeps.
pub const CLIP_CHARS: usize = 200;

/// A client's value as a message quotes it; see [`quote`].
#[derive(Clone, Copy, Debug)]
pub struct Quoted<'a>(&'a str);

/// Quotes a client's `value` for a message: `{:?}`-escaped, so control
/// characters stay visible, and cut after [`QUOTE_CHARS`] characters with
/// the full length noted: `"xxxx"… (100000 characters)`.
pub fn quote(value: &str) -> Quoted<'_> {
    Quoted(value)
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0, QUOTE_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some(kept) => write!(f, "{kept:?}… ({} characters)", self.0.chars().count()),
        }
    }
}

/// Free text that may embed client input, cut after [`CLIP_CHARS`]
/// characters with the full length noted; short text is returned as is.
pub fn clip(text: &str) -> Cow<'_, str> {
    match cut(text, CLIP_CHARS) {
        None => Cow::Borrowed(text),
        Some(kept) => Cow::Owned(format!("{kept}… ({} characters)", text.chars().count())),
    }
}

/// The first `max` characters of `text`, if it has more.
fn cut(text: &str, max: usize) -> Option<&str> {
    text.char_indices().nth(max).map(|(at, _)| &text[..at])
}

/// A result whose error is the worker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One bad field of a request: the field's path and what is wrong with it.
///
/// Becomes one `google.rpc.BadRequest.FieldViolation` on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field path, e.g. `document.value` or `page_size`.
    pub field: String,
    /// What is wrong, e.g. `must be a JSON object`.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Everything that can go wrong with a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request is malformed; one violation per bad field (INVALID_ARGUMENT).
    #[error("invalid argument: {}", join(.0))]
    InvalidArgument(Vec<Violation>),
    /// The named resource, or the parent it needs, does not exist (NOT_FOUND).
    #[error("{0} not found")]
    NotFound(String),
    /// A resource with that name exists already (ALREADY_EXISTS).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The request is well formed but cannot apply to the current state,
    /// e.g. a transaction operation that fails at commit (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A bound was reached: open transactions, operations, message size
    /// (RESOURCE_EXHAUSTED).
    #[error("{0}")]
    ResourceExhausted(String),
    /// The request took longer than the worker's `grpc.timeout` or the
    /// client's deadline (DEADLINE_EXCEEDED).
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// The request carries no valid credentials: a missing, malformed or
    /// unknown bearer token (UNAUTHENTICATED). Never quotes the token.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller is known but its role does not allow the method
    /// (PERMISSION_DENIED).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The worker is shutting down or its log is unusable (UNAVAILABLE).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// This member of a replica set cannot take the request because it is
    /// not the leader (UNAVAILABLE, with the leader's address, when known,
    /// in the `distgo-leader` trailer so that a client can go there).
    #[error("unavailable: {}", match .0 {
        Some(leader) => format!("this member is not the leader; the leader is {leader}"),
        None => "this member is not the leader and no leader is known (an election may be under way); retry".to_owned(),
    })]
    NotLeader(Option<String>),
    /// A bug or an I/O failure that is not the client's doing (INTERNAL).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An INVALID_ARGUMENT error with a single violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![Violation::new(field, description)])
    }
}

impl From<Violation> for Error {
    fn from(violation: Violation) -> Self {
        Error::InvalidArgument(vec![violation])
    }
}

fn join(violations: &[Violation]) -> String {
    let parts: Vec<String> = violations.iter().map(Violation::to_string).collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_cut_with_their_length() {
        assert_eq!(quote("databases/a").to_string(), "\"databases/a\"");
        assert_eq!(quote("a\u{0}b").to_string(), "\"a\\0b\"");
        let exact = "x".repeat(QUOTE_CHARS);
        assert_eq!(quote(&exact).to_string(), format!("{exact:?}"));
        let long = "é".repeat(100_000);
        let quoted = quote(&long).to_string();
        let kept = "é".repeat(QUOTE_CHARS);
        assert_eq!(quoted, format!("\"{kept}\"… (100000 characters)"));
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_character_boundary() {
        assert_eq!(clip("expected `,` at line 1"), "expected `,` at line 1");
        let long = format!("unknown field `{}`", "ü".repeat(10_000));
        let clipped = clip(&long);
        assert!(clipped.chars().count() < CLIP_CHARS + 30, "{clipped}");
        let length = format!("… ({} characters)", long.chars().count());
        assert!(clipped.ends_with(&length), "{clipped}");
    }

    #[test]
    fn messages_name_the_resource_and_field() {
        assert_eq!(
            Error::NotFound("databases/a".into()).to_string(),
            "databases/a not found"
        );
        let err = Error::InvalidArgument(vec![
            Violation::new("page_size", "must be between 0 and 1000"),
            Violation::new("page_token", "was not issued by this server"),
        ]);
        assert_eq!(
            err.to_string(),
            "invalid argument: page_size: must be between 0 and 1000; \
             page_token: was not issued by this server"
        );
    }
}
