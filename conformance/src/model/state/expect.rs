//! What the contract says a request answers ([`Expect`]), and what a
//! committed operation did to the resource it names ([`Effect`]).

use tonic::Code;

/// What the contract says a request answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// OK with this resource (local name segments, mutable field).
    Resource(Vec<String>, String),
    /// OK with a resource whose id the server generated under this parent.
    Generated(Vec<String>, String),
    /// OK, Empty.
    Empty,
    /// OK with these items (local names, fields) and whether a token follows.
    Page(Vec<(Vec<String>, String)>, bool),
    /// All of the run's databases (a full listing, filtered).
    AllDatabases(Vec<(Vec<String>, String)>),
    /// An error; for INVALID_ARGUMENT the violated fields, sorted.
    Error(Code, Vec<String>),
    /// OK with a transaction id no Begin returned before.
    Begun,
    /// OK, Empty: a commit that wrote these resources (local names), in order.
    Committed(Vec<(Vec<String>, Effect)>),
    /// FAILED_PRECONDITION whose message names operation `.0` (0-based, in
    /// the transaction) as the one that failed; nothing changed.
    CommitFailed(usize),
}

impl Expect {
    /// Whether the request must fail.
    pub fn is_error(&self) -> bool {
        matches!(self, Expect::Error(..) | Expect::CommitFailed(_))
    }
}

/// What a committed operation did to the resource it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Created it: created_at = updated_at = the commit time.
    Created,
    /// Updated it: updated_at = the commit time.
    Updated,
    /// Deleted it, and everything below it.
    Deleted,
}
