//! # distgo-conformance
//!
//! The conformance suite of distgo-db: it checks any worker, by address,
//! against the contract, clause by clause (`SPEC.md`).
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`proto`] | the wire contract, generated from `proto/` (client and server traits) |
//! | [`call`] | every RPC as a value: one-line script syntax, sending, replies |
//! | [`req`] | request builders; the three resource kinds through one lens |
//! | [`target`] | the [`ServerUnderTest`](target::ServerUnderTest): address (and the other members of a deployment), TLS, headers, deadline; capabilities |
//! | [`api`] | `--api worker\|master`: the same clients under either package |
//! | [`ctx`] | what a case works with: its namespace, its record of requests |
//! | [`check`] | failures and the checks that produce them |
//! | [`case`] | a case: id, clause, tags, body |
//! | [`cases`] | the registry of cases, one file per topic (transactions, WAL and clusters: a directory, one file per sub-clause) |
//! | [`linearizability`] | the linearizability checker: document histories, judged per document; the cluster cases use it |
//! | [`runner`] | selection, isolation, expected failures, cleanup; outcomes and blame |
//! | [`report`] | text, JSON and JUnit reports |
//! | [`spec`] | the SPEC's clauses and the catalogue |
//! | [`xfail`] | expected-failure files |
//! | [`model`] | the executable spec ([`state`](model::state), [`txn`](model::txn)) and model-based random sequences ([`machine`](model::machine)) |
//! | [`soak`] | `run --soak DURATION`: the cluster cases round after round until one fails or time is up |
//! | [`scenario`] | snapshot scenarios: scripts, transcripts, redactions |
//! | [`bench`](mod@bench) | the load generator; a [`MeasuredServer`](bench::measured::MeasuredServer) is a server it measures |
//!
//! ## The path of a case
//!
//! ```text
//! cases::all() ──► runner::Runner ──► Ctx (namespace cf-xxxxxx-N-) ──► Call::send ──► worker
//!                       │                        │
//!                       ▼                        ▼
//!                 report (text/json/junit)   Failure {clause, request, expected, actual, diff}
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))] // unit tests assert by unwrapping
#![deny(missing_docs)]
// A `Failure` (the error of every check) carries the request, expectation,
// observation and diff a reader needs; it is built once per failing case, so
// its size on the happy path costs nothing worth boxing for.
#![allow(clippy::result_large_err)]
#![forbid(unsafe_code)]

pub mod api;
pub mod bench;
pub mod call;
pub mod case;
pub mod cases;
pub mod check;
pub mod ctx;
pub mod linearizability;
pub mod model;
pub mod proto;
pub mod report;
pub mod req;
pub mod runner;
pub mod scenario;
pub mod soak;
pub mod spec;
pub mod target;
pub mod xfail;
