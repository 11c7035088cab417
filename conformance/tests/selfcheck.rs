//! The suite checks itself: against workers that are wrong in exactly one
//! way, the cases of the matching clause must fail.

mod support;

use std::collections::BTreeSet;

use distgo_conformance::{
    case::Tag,
    cases,
    runner::{Outcome, Selection},
};
use support::{
    reference::{Reference, config_yaml},
    runner_for,
    wrong::{Flaw, WrongWorker},
};

/// Runs the core cases matching `globs` against a worker with `flaw`;
/// returns the failed case ids and the clauses they blamed.
async fn failures(flaw: Flaw, globs: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let reference = Reference::start(config_yaml("")).await;
    let wrong = WrongWorker::start(&reference.addr(), flaw).await;
    let runner = runner_for(&wrong.addr, Default::default(), None).await;
    let selection = Selection {
        tags: vec![Tag::Core],
        skip_tags: vec![Tag::Transactions, Tag::Wal, Tag::Restart],
        case_globs: globs.iter().map(|g| (*g).to_owned()).collect(),
    };
    let selected = selection.select(cases::all()).unwrap();
    let reports = runner.run_all(&selected, 6).await;
    let mut ids = BTreeSet::new();
    let mut clauses = BTreeSet::new();
    for report in reports {
        if let Outcome::Failed(failure) = &report.outcome {
            clauses.insert(failure.clause.clone().unwrap_or(report.clause.clone()));
            ids.insert(report.id);
        }
    }
    reference.stop().await;
    (ids, clauses)
}

fn assert_caught(
    flaw: Flaw,
    ids: &BTreeSet<String>,
    clauses: &BTreeSet<String>,
    case: &str,
    clause: &str,
) {
    assert!(
        ids.contains(case),
        "{flaw:?}: {case} did not fail; failed: {ids:?}"
    );
    assert!(
        clauses.contains(clause),
        "{flaw:?}: clause {clause} not blamed; blamed: {clauses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_status_code_fails_the_get_clause() {
    let (ids, clauses) = failures(Flaw::WrongCode, &["coll-*", "model-collections"]).await;
    assert_caught(
        Flaw::WrongCode,
        &ids,
        &clauses,
        "coll-get-missing-not-found",
        "COLL-GET-2",
    );
    assert!(
        ids.contains("model-collections"),
        "the model misses it too: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_update_fails_the_read_your_writes_clause() {
    let (ids, clauses) = failures(Flaw::LostUpdate, &["doc-*", "model-documents"]).await;
    assert_caught(
        Flaw::LostUpdate,
        &ids,
        &clauses,
        "doc-get-returns-last-stored",
        "DOC-GET-1",
    );
    assert!(
        ids.contains("model-documents"),
        "the model misses it too: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_pages_fail_the_paging_clauses() {
    let (ids, clauses) = failures(Flaw::PageOverlap, &["*-list-*", "model-paging"]).await;
    assert_caught(
        Flaw::PageOverlap,
        &ids,
        &clauses,
        "doc-list-paging-under-writes",
        "LIST-9",
    );
    assert_caught(
        Flaw::PageOverlap,
        &ids,
        &clauses,
        "doc-list-pages-are-full-until-the-end",
        "LIST-3",
    );
    assert!(ids.contains("model-paging"), "the model misses it: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserialised_value_fails_the_verbatim_clause() {
    let (ids, clauses) = failures(Flaw::NotVerbatim, &["doc-*", "scenario-*"]).await;
    assert_caught(
        Flaw::NotVerbatim,
        &ids,
        &clauses,
        "doc-create-verbatim-value",
        "DOC-CREATE-3",
    );
    assert!(
        ids.contains("scenario-verbatim"),
        "the scenario misses it: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_cascade_fails_the_cascade_clause() {
    let (ids, clauses) = failures(Flaw::PartialCascade, &["db-*", "scenario-cascade"]).await;
    assert_caught(
        Flaw::PartialCascade,
        &ids,
        &clauses,
        "db-delete-cascades",
        "DB-DELETE-3",
    );
    assert!(
        ids.contains("scenario-cascade"),
        "the scenario misses it: {ids:?}"
    );
}
