//! `--json FILE`: a versioned, machine-readable report.
//!
//! Schema `distgo-conformance/report/v1`:
//!
//! ```json
//! { "schema": "distgo-conformance/report/v1",
//!   "target": "http://127.0.0.1:55055", "prefix": "cf-k2x9a1-", "seed": 42,
//!   "duration_ms": 5123,
//!   "summary": { "passed": 120, "failed": 1, "skipped": 2, "xfailed": 0, "xpassed": 0,
//!                "blocked": 3 },
//!   "cases": [ { "id": "...", "clause": "DOC-CREATE-3", "tags": ["core"],
//!                "outcome": "failed", "duration_ms": 3,
//!                "reason": null,   // or "blocked by LIST-2" for outcome "blocked"
//!                "failure": { "clause": null, "request": "...", "expected": "...",
//!                             "actual": "...", "diff": null, "note": null },
//!                "transcript": ["GetDocument name=...\n    -> OK {...}"],
//!                "kept": ["databases/cf-k2x9a1-7-x"] } ] }
//! ```
//!
//! New fields may be added within v1; renaming or removing one bumps the
//! version.

use std::time::Duration;

use serde_json::{Value, json};

use super::Summary;
use crate::runner::{CaseReport, Outcome};

/// The schema identifier.
pub const SCHEMA: &str = "distgo-conformance/report/v1";

/// The report as JSON.
pub fn to_json(
    reports: &[CaseReport],
    target: &str,
    prefix: &str,
    seed: u64,
    wall: Duration,
) -> Value {
    let cases: Vec<Value> = reports.iter().map(case).collect();
    json!({
        "schema": SCHEMA,
        "target": target,
        "prefix": prefix,
        "seed": seed,
        "duration_ms": wall.as_millis() as u64,
        "summary": Summary::of(reports),
        "cases": cases,
    })
}

fn case(r: &CaseReport) -> Value {
    let (reason, failure) = match &r.outcome {
        Outcome::Passed => (None, None),
        Outcome::Failed(f) => (None, Some(f)),
        Outcome::Skipped(reason) | Outcome::XPassed { reason } => (Some(reason.clone()), None),
        Outcome::XFailed { reason, failure } => (Some(reason.clone()), Some(failure)),
        Outcome::Blocked { by, failure } => (Some(format!("blocked by {by}")), Some(failure)),
    };
    json!({
        "id": r.id,
        "clause": r.clause,
        "tags": r.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "outcome": r.outcome.label(),
        "duration_ms": r.duration.as_millis() as u64,
        "reason": reason,
        "failure": failure,
        "transcript": r.transcript,
        "kept": r.kept,
    })
}
