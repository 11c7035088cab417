//! The client's one error enum, and how each error reaches the user.
//!
//! A command either succeeds or returns a [`CliError`]; the binary prints
//! it with [`CliError::render`] on standard error and exits with
//! [`CliError::exit_code`]. The split that scripts rely on:
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the worker refused (any gRPC status), could not be reached, or an import or export did not carry every line |
//! | 2 | the command line or an input file is wrong; nothing was sent for it |
//!
//! A gRPC status is printed as its code's canonical name, the message, and
//! one line per `google.rpc.BadRequest` field violation:
//!
//! ```text
//! distgo: INVALID_ARGUMENT: document value is not a JSON object
//!   document.value: expected a JSON object, found an array
//! ```

use std::{fmt::Write as _, path::PathBuf};

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Everything that can stop a `distgo` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line, or an input it names, is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The worker answered with an error status (exit 1).
    #[error("{}", render_status(.0))]
    Status(#[from] Status),
    /// The worker could not be reached (exit 1).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why, with the transport's chain of causes.
        reason: String,
    },
    /// A local file or stream failed (exit 1).
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file (`-` for a standard stream).
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// An import finished, but not every line became a document (exit 1);
    /// the lines were reported as they were met, the summary printed.
    #[error("{skipped} line(s) skipped and {failed} document(s) refused; see the messages above")]
    Incomplete {
        /// Lines that could not be read as documents.
        skipped: u64,
        /// Documents the worker refused.
        failed: u64,
    },
    /// `health`: the worker answered, but it is not serving (exit 1).
    #[error("the worker is {0}")]
    NotServing(String),
}

impl CliError {
    /// A usage error from anything printable.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The text printed on standard error, one or more lines.
    pub fn render(&self) -> String {
        format!("distgo: {self}")
    }

    /// Whether this is the reader of standard output going away (`| head`),
    /// which ends a command quietly rather than as a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// `CODE: message`, then one indented line per BadRequest field violation.
pub fn render_status(status: &Status) -> String {
    let mut text = format!("{}: {}", code_name(status.code()), status.message());
    if let Some(bad_request) = status.get_details_bad_request() {
        for violation in &bad_request.field_violations {
            let _ = write!(text, "\n  {}: {}", violation.field, violation.description);
        }
    }
    text
}

/// The canonical name of a gRPC status code, as `grpc-status` documents it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn a_bad_request_prints_one_line_per_violation() {
        let details = ErrorDetails::with_bad_request(vec![
            FieldViolation::new("document.value", "must be a JSON object"),
            FieldViolation::new("parent", "does not match databases/{database}"),
        ]);
        let status = Status::with_error_details(Code::InvalidArgument, "bad request", details);
        assert_eq!(
            CliError::from(status).render(),
            "distgo: INVALID_ARGUMENT: bad request\n  document.value: must be a JSON object\n  \
             parent: does not match databases/{database}"
        );
    }

    #[test]
    fn usage_errors_exit_2_and_the_rest_1() {
        assert_eq!(CliError::usage("no").exit_code(), 2);
        assert_eq!(CliError::from(Status::not_found("x")).exit_code(), 1);
        let incomplete = CliError::Incomplete {
            skipped: 1,
            failed: 0,
        };
        assert_eq!(incomplete.exit_code(), 1);
    }
}
