//! How a case ended ([`Outcome`]), what the report says of it
//! ([`CaseReport`]), and [`blame`]: a failure that follows from a failed
//! prerequisite is reported as blocked by it, so the root cause stands out
//! ([`failed_clauses`] says which clauses failed).

use std::{collections::BTreeSet, time::Duration};

use crate::{case::Tag, check::Failure};

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed.
    Failed(Failure),
    /// It did not run, for this reason.
    Skipped(String),
    /// It failed, as the expected-failure file said it would.
    XFailed {
        /// The file's reason.
        reason: String,
        /// The failure.
        failure: Failure,
    },
    /// It passed although the expected-failure file said it would fail;
    /// this fails the run.
    XPassed {
        /// The file's reason.
        reason: String,
    },
    /// It failed, but a clause it relies on failed in the same run: the
    /// failure is most likely that clause's, so it is reported as `blocked
    /// by` it, not as a violation of this case's own clause. A model case
    /// is blocked when every deviation it met was under a clause already
    /// known to fail (`known.rs`): it found nothing beyond them, but it did
    /// not judge the requests past them either, so it has not passed.
    Blocked {
        /// The prerequisite clause that failed (a model case: the known
        /// clauses it met, `DB-CREATE-1, LIST-2`).
        by: String,
        /// What this case saw.
        failure: Failure,
    },
}

impl Outcome {
    /// `passed`, `failed`, `skipped`, `xfailed`, `xpassed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::XFailed { .. } => "xfailed",
            Outcome::XPassed { .. } => "xpassed",
            Outcome::Blocked { .. } => "blocked",
        }
    }

    /// Whether the outcome fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::XPassed { .. })
    }
}

/// What happened to one case.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Its clause.
    pub clause: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// The clauses it relies on ([`Case::requires`](crate::case::Case::requires)).
    pub requires: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran.
    pub duration: Duration,
    /// The requests it sent, with outcomes (kept only when it failed).
    pub transcript: Vec<String>,
    /// Databases kept for inspection (it failed).
    pub kept: Vec<String>,
}

/// Blames failures on their root cause: a failed case that relies on a
/// clause that failed in this run becomes [`Outcome::Blocked`] by it.
///
/// A clause *failed* when a case failed (or xfailed) blaming it (its own
/// clause, or the one a model case names) without a failed prerequisite of
/// its own. The
/// two passes keep one level of dependency: a case blocked by LIST-2 does
/// not in turn make its own clause count as failed, so what it relies on
/// is never itself blamed on a symptom.
pub fn blame(reports: &mut [CaseReport]) {
    let failed = failed_clauses(reports.iter());
    for r in reports.iter_mut() {
        let Outcome::Failed(f) = &r.outcome else {
            continue;
        };
        let own = blamed(r, f);
        let by = r
            .requires
            .iter()
            .find(|c| **c != own && **c != r.clause && failed.contains(*c));
        if let Some(by) = by {
            r.outcome = Outcome::Blocked {
                by: by.clone(),
                failure: f.clone(),
            };
        }
    }
}

/// The clause a failure blames: its own, or else the case's.
fn blamed(r: &CaseReport, f: &Failure) -> String {
    f.clause.clone().unwrap_or_else(|| r.clause.clone())
}

/// The clauses that failed among `reports`: blamed by a failed (or
/// xfailed) case that has no failed prerequisite of its own (see
/// [`blame`]). The runner hands those of the example cases to the model
/// cases as known.
pub(super) fn failed_clauses<'a>(
    reports: impl Iterator<Item = &'a CaseReport> + Clone,
) -> BTreeSet<String> {
    let failure = |r: &CaseReport| match &r.outcome {
        Outcome::Failed(f) | Outcome::XFailed { failure: f, .. } => Some(blamed(r, f)),
        _ => None,
    };
    let raw: BTreeSet<String> = reports.clone().filter_map(failure).collect();
    reports
        .filter(|r| !r.requires.iter().any(|c| *c != r.clause && raw.contains(c)))
        .filter_map(failure)
        .collect()
}
