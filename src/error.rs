//! The one error type of the worker.
//!
//! Every layer below the gRPC edge returns [`Error`]; the edge turns it into a
//! `tonic::Status` in exactly one place (`api::status`). Each variant is one
//! gRPC status code of the contract, so the mapping is a plain `match` and a
//! reader can see at a glance which failures a client can meet.
//!
//! Messages are lower case and name the resource or field at fault, because
//! the message is what a user reads when a request fails.

use std::fmt;

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
    /// The request took longer than the worker's `grpc.timeout` (DEADLINE_EXCEEDED).
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// The worker is shutting down or its log is unusable (UNAVAILABLE).
    #[error("unavailable: {0}")]
    Unavailable(String),
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
