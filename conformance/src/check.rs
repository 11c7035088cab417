//! Failures, and the checks that produce them.
//!
//! A [`Failure`] is what a case returns when the target deviates: the
//! request that showed it, what the clause expected and what came back, and
//! for payloads a unified diff. Checks never panic; a case reads as a list of
//! `?`-ed expectations.

use std::fmt::{self, Debug};

use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::call::{Call, Outcome, Reply};

/// How a case failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The clause the failure shows a violation of, when it is not the
    /// case's own (the model checks many clauses).
    pub clause: Option<String>,
    /// The request (script line) that showed the deviation.
    pub request: Option<String>,
    /// What the clause expects.
    pub expected: String,
    /// What the target did.
    pub actual: String,
    /// A unified diff of expected and actual payloads, when both exist.
    pub diff: Option<String>,
    /// Anything else worth knowing (a replay script, a seed).
    pub note: Option<String>,
}

impl Failure {
    /// A failure with an expectation and an observation.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
            ..Failure::default()
        }
    }

    /// Attributes the failure to `clause`.
    pub fn clause(mut self, clause: impl Into<String>) -> Self {
        self.clause = Some(clause.into());
        self
    }

    /// Records the request that showed it.
    pub fn request(mut self, request: impl Into<String>) -> Self {
        self.request = Some(request.into());
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(request) = &self.request {
            writeln!(f, "request:  {request}")?;
        }
        writeln!(f, "expected: {}", self.expected)?;
        writeln!(f, "actual:   {}", self.actual)?;
        if let Some(diff) = &self.diff {
            writeln!(f, "diff (- expected, + actual):")?;
            for line in diff.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(note) = &self.note {
            writeln!(f, "{note}")?;
        }
        Ok(())
    }
}

/// The result of a case or a check.
pub type Check<T = ()> = Result<T, Failure>;

/// The gRPC name of a code: `NOT_FOUND`, as in the contract.
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

/// The field paths of a status's BadRequest violations, in order.
pub fn violation_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|br| {
            br.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One line describing a status: code, message and violated fields.
pub fn describe_status(status: &Status) -> String {
    let fields = violation_fields(status);
    let mut text = format!("{} {:?}", code_name(status.code()), status.message());
    if !fields.is_empty() {
        text.push_str(&format!(" violations=[{}]", fields.join(", ")));
    }
    text
}

/// One line describing an outcome.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Ok(reply) => format!("OK {}", yaml_line(reply)),
        Err(status) => describe_status(status),
    }
}

fn yaml_line(reply: &Reply) -> String {
    serde_json::to_string(&reply.to_yaml()).unwrap_or_default()
}

/// A unified diff of two texts.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

/// One request and what it returned.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The request.
    pub call: Call,
    /// What came back.
    pub outcome: Outcome,
}

impl Exchange {
    fn failure(&self, expected: impl Into<String>) -> Failure {
        Failure::new(expected, describe(&self.outcome)).request(self.call.render())
    }

    /// The reply, which must be OK.
    pub fn ok(self) -> Check<Reply> {
        match self.outcome {
            Ok(reply) => Ok(reply),
            Err(_) => Err(self.failure("OK")),
        }
    }

    /// The status, which must have `code`.
    pub fn code(self, code: Code) -> Check<Status> {
        match &self.outcome {
            Err(status) if status.code() == code => Ok(status.clone()),
            _ => Err(self.failure(code_name(code))),
        }
    }

    /// INVALID_ARGUMENT with exactly these violated fields (in any order).
    pub fn invalid(self, fields: &[&str]) -> Check<Status> {
        let mut want: Vec<&str> = fields.to_vec();
        want.sort_unstable();
        let expected = format!("INVALID_ARGUMENT violations=[{}]", want.join(", "));
        let status = self
            .clone()
            .code(Code::InvalidArgument)
            .map_err(|f| Failure {
                expected: expected.clone(),
                ..f
            })?;
        let mut got = violation_fields(&status);
        got.sort_unstable();
        if got != want {
            return Err(self.failure(expected));
        }
        Ok(status)
    }

    /// NOT_FOUND whose message names `name` (ERR-2 is checked everywhere).
    pub fn not_found(self, name: &str) -> Check<Status> {
        let status = self.clone().code(Code::NotFound)?;
        if !status.message().contains(name) {
            return Err(self
                .failure(format!("NOT_FOUND with a message naming {name}"))
                .clause("ERR-2"));
        }
        Ok(status)
    }

    /// ALREADY_EXISTS whose message names `name`.
    pub fn already_exists(self, name: &str) -> Check<Status> {
        let status = self.clone().code(Code::AlreadyExists)?;
        if !status.message().contains(name) {
            return Err(self
                .failure(format!("ALREADY_EXISTS with a message naming {name}"))
                .clause("ERR-2"));
        }
        Ok(status)
    }

    /// Any error; never OK.
    pub fn err(self) -> Check<Status> {
        match &self.outcome {
            Err(status) => Ok(status.clone()),
            Ok(_) => Err(self.failure("an error")),
        }
    }
}

/// Checks `expected == actual`, with a diff of their pretty Debug forms.
pub fn eq<T: PartialEq + Debug + ?Sized>(what: &str, expected: &T, actual: &T) -> Check {
    if expected == actual {
        return Ok(());
    }
    let (e, a) = (format!("{expected:#?}\n"), format!("{actual:#?}\n"));
    // The compact Debug form keeps every space of a string: a verbatim
    // check must show the difference, not normalise it away.
    let mut failure = Failure::new(
        format!("{what} = {}", shorten(&format!("{expected:?}"))),
        format!("{what} = {}", shorten(&format!("{actual:?}"))),
    );
    if e.lines().count() > 1 {
        failure.diff = Some(diff(&e, &a));
    }
    Err(failure)
}

/// Checks that two timestamps are equal, printing them in RFC 3339.
pub fn eq_time(
    what: &str,
    expected: Option<&prost_types::Timestamp>,
    actual: Option<&prost_types::Timestamp>,
) -> Check {
    use crate::report::time::rfc3339;
    ensure(
        expected == actual,
        format!("{what} = {}", rfc3339(expected)),
        format!("{what} = {}", rfc3339(actual)),
    )
}

/// Checks a condition.
pub fn ensure(condition: bool, expected: impl Into<String>, actual: impl Into<String>) -> Check {
    if condition {
        Ok(())
    } else {
        Err(Failure::new(expected, actual))
    }
}

/// At most 300 characters of `text`; the diff below has the rest.
fn shorten(text: &str) -> String {
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(297).collect();
        format!("{cut}...")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_the_canonical_upper_case_names() {
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::from_i32(14)), "UNAVAILABLE");
    }
}
