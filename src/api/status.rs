//! The one place where errors become gRPC statuses.
//!
//! Each [`Error`] variant maps to exactly one status code of the contract.
//! INVALID_ARGUMENT additionally carries a `google.rpc.BadRequest` detail
//! with one field violation per bad field, so a client can point at the
//! exact field in a form instead of parsing the message.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::Error;

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::InvalidArgument(violations) => {
                let violations: Vec<FieldViolation> = violations
                    .into_iter()
                    .map(|v| FieldViolation::new(v.field, v.description))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            Error::NotFound(_) => Status::not_found(message),
            Error::AlreadyExists(_) => Status::already_exists(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            Error::ResourceExhausted(_) => Status::resource_exhausted(message),
            Error::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            Error::Unavailable(_) => Status::unavailable(message),
            Error::Internal(_) => Status::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Violation;

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
