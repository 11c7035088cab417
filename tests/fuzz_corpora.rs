//! Every input the fuzzers keep, replayed on stable.
//!
//! The fuzz targets (`fuzz/`, nightly, `just fuzz TARGET`) and this test
//! call the same entry points in `distgo_db::fuzzing`, so each seed, each
//! input a fuzzer found interesting (`just fuzz-merge`) and each crash
//! reproducer committed under `testdata/fuzz/TARGET/` is checked by every
//! `cargo test`: a bug a fuzzer once found stays fixed without a nightly
//! toolchain in CI.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use std::{
    fs,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
};

use distgo_db::fuzzing::TARGETS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The file stems in `dir` with extension `ext` (or every file name).
fn names_in(dir: &Path, ext: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| ext.is_none_or(|ext| path.extension().is_some_and(|e| e == ext)))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_fuzz_target_has_a_corpus_here() {
    let mut targets: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    targets.sort();
    let in_fuzz = names_in(&root().join("fuzz/fuzz_targets"), Some("rs"));
    assert_eq!(in_fuzz, targets, "fuzz/fuzz_targets/ and TARGETS disagree");
    let corpora = names_in(&root().join("testdata/fuzz"), None);
    assert_eq!(corpora, targets, "testdata/fuzz/ and TARGETS disagree");
}

#[test]
fn every_corpus_input_is_handled_without_a_panic() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, entry) in TARGETS {
        let dir = root().join("testdata/fuzz").join(target);
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("corpus {}: {err}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        for file in files {
            let bytes = fs::read(&file).unwrap();
            total += 1;
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| entry(&bytes))) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {why}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{total} corpus inputs replayed");
}
