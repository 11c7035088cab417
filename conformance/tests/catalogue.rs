//! The suite's bookkeeping: the checked-in catalogue is current, every SPEC
//! clause has a case, every case cites a clause, the expected-failure file
//! names real cases, and every scenario has its golden transcript.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use distgo_conformance::{cases, scenario, spec, xfail};

const CATALOGUE: &str = include_str!("../CATALOGUE.md");
const XFAIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xfail/reference.yaml");

#[test]
fn the_checked_in_catalogue_is_current() {
    let now = spec::catalogue(&cases::all());
    if now != CATALOGUE {
        let diff = distgo_conformance::check::diff(CATALOGUE, &now);
        panic!(
            "conformance/CATALOGUE.md is stale; regenerate it with\n  \
             cargo run -p distgo-conformance -- list > conformance/CATALOGUE.md\n{diff}"
        );
    }
}

#[test]
fn every_clause_has_a_case_and_every_case_cites_a_clause() {
    let problems = spec::coverage_problems(&cases::all());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_suite_has_at_least_120_cases() {
    let n = cases::all().len();
    assert!(n >= 120, "{n} cases");
}

#[test]
fn the_reference_xfail_file_names_only_real_cases() {
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    // Loading checks every id; the file may have no entries at all (only
    // its header comment) once every expected failure has been fixed.
    let loaded = xfail::load(std::path::Path::new(XFAIL), &ids);
    assert!(loaded.is_ok(), "{loaded:?}");
}

#[test]
fn every_scenario_has_a_golden_transcript_unless_expected_to_fail() {
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let xfail = xfail::load(std::path::Path::new(XFAIL), &ids).unwrap();
    for s in scenario::all() {
        let id = format!("scenario-{}", s.name);
        assert!(
            s.golden.is_some() || xfail.contains_key(&id),
            "testdata/scenarios/{}.snap is missing (run cargo test, then cargo insta review)",
            s.name
        );
    }
}
