//! `--junit FILE`: JUnit XML for CI dashboards. One test case per
//! conformance case; the class name is the clause, so dashboards group by it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Rerun, failure_text};
use crate::runner::{CaseReport, Outcome};

/// The report as JUnit XML.
pub fn to_junit(reports: &[CaseReport], rerun: &Rerun, wall: Duration) -> Result<String, String> {
    let mut suite = TestSuite::new("distgo-conformance");
    for r in reports {
        let status = match &r.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped(reason) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(reason.as_str());
                s
            }
            Outcome::Blocked { by, failure } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("blocked by {by}"));
                s.set_description(
                    format!(
                        "expected {}\nactual {}\n{}",
                        failure.expected,
                        failure.actual,
                        failure.note.as_deref().unwrap_or_default()
                    )
                    .trim_end()
                    .to_owned(),
                );
                s
            }
            Outcome::XFailed { reason, .. } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("expected failure: {reason}"));
                s
            }
            Outcome::Failed(_) | Outcome::XPassed { .. } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{} violated", r.clause));
                s.set_description(failure_text(r, rerun));
                s
            }
        };
        let mut case = TestCase::new(r.id.as_str(), status);
        case.set_classname(r.clause.as_str()).set_time(r.duration);
        suite.add_test_case(case);
    }
    suite.set_time(wall);
    let mut report = Report::new("distgo-conformance");
    report.add_test_suite(suite).set_time(wall);
    report.to_string().map_err(|e| e.to_string())
}
