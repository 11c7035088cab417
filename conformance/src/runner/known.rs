//! The clauses a run already knows to fail, handed to the model-based
//! cases so that they search past them instead of finding them again.
//!
//! ```text
//!   xfail file ──(clauses its cases cite)──────────────┐
//!   example cases ──run first──(clauses they failed)───┴─► Known ──► model cases
//! ```
//!
//! A model case that meets a deviation under a known clause does not count
//! it, and does not judge the rest of that sequence unless its state is
//! still the target's. So when it finds nothing *beyond* the known clauses
//! it has not shown the target right: it is reported `blocked` by the
//! clauses it met ([`Known::blocked`]), never `passed`. One that finds a
//! new clause fails as before, and its note says what it searched past.
//! (To judge the model on its own, run the model cases alone: `--case
//! 'model-*'` hands them no example failures.)

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use super::outcome::Outcome;
use crate::{check::Failure, xfail::XFail};

/// The clauses known to fail before a case starts, and where each was
/// learnt.
#[derive(Clone, Debug, Default)]
pub(super) struct Known {
    /// Every known clause: what the case's context hands the model.
    pub(super) all: Arc<BTreeSet<String>>,
    /// Those that failed among this run's example cases (the others are
    /// only expected to, by the xfail file).
    in_examples: BTreeSet<String>,
}

impl Known {
    /// The clauses cited by the cases `xfail` expects to fail, except the
    /// model-based cases' (which cite a whole area, not one clause).
    pub(super) fn expected(xfail: &XFail) -> Known {
        if xfail.is_empty() {
            // Most runs: no need to build the registry again.
            return Known::default();
        }
        let all = crate::cases::all()
            .into_iter()
            .filter(|case| xfail.contains_key(&case.id) && !case.is_model_based())
            .map(|case| case.clause)
            .collect();
        Known {
            all: Arc::new(all),
            in_examples: BTreeSet::new(),
        }
    }

    /// These clauses and `failed`, the clauses that failed among the
    /// example cases.
    pub(super) fn and_failed(&self, failed: BTreeSet<String>) -> Known {
        let mut all = (*self.all).clone();
        all.extend(failed.iter().cloned());
        Known {
            all: Arc::new(all),
            in_examples: failed,
        }
    }

    /// `met` (clause → first deviation) as a list that says where each
    /// clause was learnt: `DB-CREATE-1, LIST-2 (failed in example cases)`.
    fn describe(&self, met: &BTreeMap<String, Failure>) -> String {
        let (examples, expected): (Vec<&String>, Vec<&String>) =
            met.keys().partition(|c| self.in_examples.contains(*c));
        let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !examples.is_empty() {
            parts.push(format!("{} (failed in example cases)", join(&examples)));
        }
        if !expected.is_empty() {
            parts.push(format!(
                "{} (expected to fail by the xfail file)",
                join(&expected)
            ));
        }
        parts.join("; ")
    }

    /// The outcome of a model case that passed every comparison it counted
    /// but met the known clauses `met`: blocked by them, with the first
    /// deviation met and a note that says why it is not a pass.
    pub(super) fn blocked(&self, met: &BTreeMap<String, Failure>) -> Option<Outcome> {
        let first = met.values().next()?.clone();
        let by: Vec<&str> = met.keys().map(String::as_str).collect();
        let note = format!(
            "nothing beyond {}: the model met them and did not judge the requests past them, \
             so it neither passes nor fails; run the model cases alone (--case 'model-*') to check them independently",
            self.describe(met)
        );
        Some(Outcome::Blocked {
            by: by.join(", "),
            failure: first.note(note),
        })
    }

    /// `failure` (a new clause the model case found), its note extended by
    /// the known clauses it searched past.
    pub(super) fn searched_past(
        &self,
        failure: Failure,
        met: &BTreeMap<String, Failure>,
    ) -> Failure {
        if met.is_empty() {
            return failure;
        }
        let past = format!("Searched past, not reported again: {}.", self.describe(met));
        let note = match failure.note.clone() {
            Some(note) => format!("{note}\n\n{past}"),
            None => past,
        };
        failure.note(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Case;

    fn met(clauses: &[&str]) -> BTreeMap<String, Failure> {
        clauses
            .iter()
            .map(|c| ((*c).to_owned(), Failure::new("e", "a").clause(*c)))
            .collect()
    }

    #[test]
    fn the_model_based_cases_are_exactly_the_models() {
        let model: BTreeSet<String> = crate::model::cases().into_iter().map(|c| c.id).collect();
        let marked: BTreeSet<String> = crate::cases::all()
            .into_iter()
            .filter(Case::is_model_based)
            .map(|c| c.id)
            .collect();
        assert_eq!(marked, model);
        assert_eq!(model.len(), 6);
    }

    #[test]
    fn the_xfail_file_makes_its_example_cases_clauses_known() {
        assert!(Known::expected(&XFail::default()).all.is_empty());
        let xfail: XFail = [
            ("db-create-returns-stored".to_owned(), "known".to_owned()),
            ("model-databases".to_owned(), "a whole area".to_owned()),
        ]
        .into();
        let known = Known::expected(&xfail);
        assert_eq!(*known.all, ["DB-CREATE-1".to_owned()].into());
        assert!(known.in_examples.is_empty());
    }

    #[test]
    fn a_case_that_met_nothing_known_is_not_blocked() {
        assert_eq!(Known::default().blocked(&BTreeMap::new()), None);
    }

    #[test]
    fn blocked_names_each_clause_met_and_where_it_was_learnt() {
        let expected = Known {
            all: Arc::new(["LIST-2".to_owned()].into()),
            in_examples: BTreeSet::new(),
        };
        let known = expected.and_failed(["DB-CREATE-1".into(), "DB-DELETE-2".into()].into());
        assert_eq!(known.all.len(), 3);
        let Some(Outcome::Blocked { by, failure }) =
            known.blocked(&met(&["DB-CREATE-1", "DB-DELETE-2", "LIST-2"]))
        else {
            panic!("not blocked");
        };
        assert_eq!(by, "DB-CREATE-1, DB-DELETE-2, LIST-2");
        assert_eq!(
            failure.clause.as_deref(),
            Some("DB-CREATE-1"),
            "the first met"
        );
        let note = failure.note.unwrap_or_default();
        assert!(
            note.starts_with(
                "nothing beyond DB-CREATE-1, DB-DELETE-2 (failed in example cases); LIST-2 (expected to fail by the xfail file):"
            ),
            "{note}"
        );
    }

    #[test]
    fn a_new_clause_keeps_its_note_and_says_what_was_searched_past() {
        let known = Known::default().and_failed(["DB-CREATE-1".into()].into());
        let found = Failure::new("e", "a").clause("DB-DELETE-2").note("script");
        assert_eq!(known.searched_past(found.clone(), &BTreeMap::new()), found);
        let noted = known.searched_past(found, &met(&["DB-CREATE-1"]));
        assert_eq!(
            noted.note.as_deref(),
            Some(
                "script\n\nSearched past, not reported again: DB-CREATE-1 (failed in example cases)."
            )
        );
    }
}
