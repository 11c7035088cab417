//! Reports: the human one on stdout, and `--json` / `--junit` files.
//!
//! The closing line is always `N passed, N failed, N skipped`, alone on the
//! last line, so any CI that reads test-runner output can count it; the
//! expected-failure counts go on the line before.

mod json;
mod junit;
pub mod time;

use std::{fmt::Write, time::Duration};

pub use self::{json::to_json, junit::to_junit};
use crate::{runner::CaseReport, runner::Outcome, spec};

/// Totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed, xpassed included.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed as expected.
    pub xfailed: usize,
    /// Passed although expected to fail (counted in `failed` too).
    pub xpassed: usize,
    /// Failed after a clause they rely on failed (not counted in `failed`).
    pub blocked: usize,
}

impl Summary {
    /// Counts the outcomes.
    pub fn of(reports: &[CaseReport]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed(_) => s.failed += 1,
                Outcome::Skipped(_) => s.skipped += 1,
                Outcome::XFailed { .. } => s.xfailed += 1,
                Outcome::XPassed { .. } => {
                    s.xpassed += 1;
                    s.failed += 1;
                }
                Outcome::Blocked { .. } => s.blocked += 1,
            }
        }
        s
    }

    /// Whether the run succeeded: nothing failed and something ran.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed + self.xfailed > 0
    }

    /// `N passed, N failed, N skipped`.
    pub fn closing_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// How to rerun one case: a command with `{case}` where the id goes.
#[derive(Clone, Debug)]
pub struct Rerun(pub String);

impl Rerun {
    /// The command for `case`.
    pub fn command(&self, case: &str) -> String {
        self.0.replace("{case}", case)
    }
}

/// The details of one failed (or xpassed) case.
pub fn failure_text(report: &CaseReport, rerun: &Rerun) -> String {
    let mut out = String::new();
    let (failure, headline) = match &report.outcome {
        Outcome::Failed(f) => (Some(f), "FAILED"),
        Outcome::XPassed { .. } => (None, "XPASSED"),
        _ => return out,
    };
    let clause_id = failure
        .and_then(|f| f.clause.clone())
        .unwrap_or_else(|| report.clause.clone());
    let _ = writeln!(out, "{headline} {}  [{clause_id}]", report.id);
    if let Some(clause) = spec::clause(&clause_id) {
        let _ = writeln!(out, "  clause:   {}", clause.text);
    }
    match (&report.outcome, failure) {
        (Outcome::XPassed { reason }, _) => {
            let _ = writeln!(
                out,
                "  it passed but is listed as an expected failure ({reason}): remove it from the xfail file"
            );
        }
        (_, Some(failure)) => {
            for line in failure.to_string().lines() {
                let _ = writeln!(out, "  {}", elide(line));
            }
        }
        _ => {}
    }
    if !report.kept.is_empty() {
        // One name a line, and at most 20: a case that created hundreds of
        // databases must not bury the failure under one 5,000-character line.
        let _ = writeln!(out, "  data kept for inspection ({}):", report.kept.len());
        for name in report.kept.iter().take(20) {
            let _ = writeln!(out, "    {}", elide(name));
        }
        if report.kept.len() > 20 {
            let _ = writeln!(
                out,
                "    ... and {} more (all in --json)",
                report.kept.len() - 20
            );
        }
    }
    if !report.transcript.is_empty() {
        let _ = writeln!(out, "  requests sent by the case (last 12):");
        let skip = report.transcript.len().saturating_sub(12);
        for line in &report.transcript[skip..] {
            let _ = writeln!(out, "    {}", elide(line));
        }
    }
    let _ = writeln!(out, "  rerun:    {}", rerun.command(&report.id));
    out
}

/// Longest line of a human report, in characters: a hostile-input case sends
/// 100 000-character names, and a report that prints them whole buries the
/// failure. The JSON report keeps every line whole.
const MAX_LINE_CHARS: usize = 400;

/// `line`, or its first [`MAX_LINE_CHARS`] characters and how many were cut.
fn elide(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        None => line.into(),
        Some((cut, _)) => {
            let rest = line[cut..].chars().count();
            format!("{}... ({rest} more characters)", &line[..cut]).into()
        }
    }
}

/// The whole human report: failures, then counts, then the closing line.
pub fn text(reports: &[CaseReport], rerun: &Rerun, prefix: &str, wall: Duration) -> String {
    let mut out = String::new();
    for report in reports {
        if report.outcome.is_failure() {
            out.push_str(&failure_text(report, rerun));
            out.push('\n');
        }
    }
    for r in reports {
        if let Outcome::Blocked { by, failure } = &r.outcome {
            let _ = writeln!(
                out,
                "blocked {} [{}] by {by}: {}",
                r.id,
                r.clause,
                elide(&format!(
                    "expected {}, got {}",
                    failure.expected, failure.actual
                ))
            );
            // A model case says there why it is blocked, not passed.
            if let Some(why) = failure.note.as_deref().and_then(|n| n.lines().next()) {
                let _ = writeln!(out, "  {}", elide(why));
            }
        }
    }
    let skipped: Vec<&CaseReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped(_)))
        .collect();
    for r in &skipped {
        if let Outcome::Skipped(reason) = &r.outcome {
            let _ = writeln!(out, "skipped {}: {reason}", r.id);
        }
    }
    let s = Summary::of(reports);
    let _ = writeln!(
        out,
        "run prefix {prefix}, {} cases in {:.1} s; expected failures: {} xfailed, {} xpassed; {} blocked by a failed prerequisite",
        reports.len(),
        wall.as_secs_f64(),
        s.xfailed,
        s.xpassed,
        s.blocked
    );
    let _ = writeln!(out, "{}", s.closing_line());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_case_shows_why_under_its_line() {
        let failure = crate::check::Failure::new("e", "a").note("nothing beyond X\nmore");
        let report = CaseReport {
            id: "model-databases".into(),
            clause: "DB-CREATE-1".into(),
            tags: vec![],
            requires: vec![],
            outcome: Outcome::Blocked {
                by: "X".into(),
                failure,
            },
            duration: Duration::ZERO,
            transcript: vec![],
            kept: vec![],
        };
        let out = text(&[report], &Rerun(String::new()), "cf-", Duration::ZERO);
        assert!(
            out.contains(
                "blocked model-databases [DB-CREATE-1] by X: expected e, got a\n  nothing beyond X\n"
            ),
            "{out}"
        );
        assert!(!out.contains("more"), "one line of the note: {out}");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary_and_say_how_much_went() {
        assert_eq!(elide("short"), "short");
        let long = "é".repeat(MAX_LINE_CHARS + 5);
        let cut = elide(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_LINE_CHARS)));
        assert!(cut.ends_with("... (5 more characters)"), "{cut}");
        let exact = "x".repeat(MAX_LINE_CHARS);
        assert_eq!(elide(&exact), exact);
    }
}
