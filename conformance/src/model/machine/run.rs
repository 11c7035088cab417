//! Running a focus: proptest draws sequences from the seed, each runs in
//! its own [`Seq`], and a failure is shrunk to the smallest failing
//! sequence, reported as a script that `replay` runs again.
//!
//! One bug must not hide the others: a wrong worker usually breaks one
//! clause often, and every search would shrink to that one. So the run
//! keeps a set of *known* clauses. Each search that fails adds its clause
//! to the set, and the next search (same seed, same sequences) no longer
//! counts a comparison failing under a known clause: that sequence is not
//! judged past it, since the model's state may no longer be the target's.
//! The set starts with the clauses the run already knows to fail
//! ([`Ctx::known_failures`]: those the expected-failure file's cases cite,
//! and those that failed among the run's example cases, which run first),
//! so a bug already shown is searched past from the start; each deviation
//! met under one of them is recorded ([`Ctx::met_known`]), and a case that
//! finds nothing else is reported blocked by them, not passed. The run
//! ends when a search passes, finds nothing new, or after [`MAX_CLAUSES`]
//! clauses or [`SEARCH_TIME`]; against a correct target the first search
//! passes and nothing more runs.

use std::{
    collections::BTreeSet,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

use super::{Focus, Machine, sequence::Seq, translate::replay_script};
use crate::{
    check::{Check, Failure},
    ctx::Ctx,
    model::state::{Model, Op},
};

/// The most distinct clauses one model case reports.
pub const MAX_CLAUSES: usize = 5;

/// No new search starts after this long (each one's shrinking is bounded
/// on its own), well inside the runner's deadline of a case.
pub const SEARCH_TIME: Duration = Duration::from_secs(40);

/// A failure found and shrunk: its failure, the minimal sequence, and the
/// index of the request that failed.
struct Found {
    failure: Failure,
    ops: Vec<Op>,
    at: usize,
}

/// What one search needs besides the known clauses.
struct Search<'a> {
    ctx: &'a Ctx,
    handle: &'a tokio::runtime::Handle,
    seed: u64,
    cases: u32,
    steps: usize,
    /// Numbers the sequences of all searches, so each has its namespace.
    counter: &'a AtomicUsize,
}

/// Runs `F`'s sequences against the target; `cases` sequences of up to
/// `steps` requests.
pub async fn run<F: Focus>(ctx: Ctx, default_cases: u32, steps: usize) -> Check {
    let cases = ctx.settings().cases.unwrap_or(default_cases);
    let seed = ctx.settings().seed;
    let handle = tokio::runtime::Handle::current();
    let worker = ctx.clone();
    let result = tokio::task::spawn_blocking(move || {
        let counter = AtomicUsize::new(0);
        let search = Search {
            ctx: &worker,
            handle: &handle,
            seed,
            cases,
            steps,
            counter: &counter,
        };
        let found = explore::<F>(&search);
        if let Ok(Some(first)) = found.as_ref().map(|f| f.first()) {
            // Run the first minimal sequence once more and keep its data to
            // inspect.
            let seq = Seq::new(&worker, usize::MAX);
            let _ =
                handle.block_on(seq.run(&mut Model::default(), &first.ops, None, &BTreeSet::new()));
        }
        found
    })
    .await
    .map_err(|e| Failure::new("the model run completes", e.to_string()))?;
    let mut found = result
        .map_err(|why| Failure::new("the model run completes", why))?
        .into_iter();
    let Some(first) = found.next() else {
        return Ok(());
    };
    let mut note = script_note(&first, seed);
    let others: Vec<Found> = found.collect();
    if !others.is_empty() {
        note.push_str(&format!(
            "\n\nPast it, the model found {} more clause(s) violated, each with its own minimal sequence:",
            others.len()
        ));
        for other in &others {
            let clause = other.failure.clause.as_deref().unwrap_or("?");
            note.push_str(&format!(
                "\n\nalso violated: {clause}\n{}\n{}",
                other.failure.to_string().trim_end(),
                script_note(other, seed)
            ));
        }
    }
    Err(Failure {
        note: Some(note),
        ..first.failure
    })
}

/// Searches until nothing new fails: each failure found adds its clause to
/// the known set of the next search.
fn explore<F: Focus>(search: &Search) -> Result<Vec<Found>, String> {
    let started = Instant::now();
    // Clauses the run already knows to fail are known from the start.
    let mut known = search.ctx.known_failures().clone();
    let mut found = Vec::new();
    while found.len() < MAX_CLAUSES && started.elapsed() < SEARCH_TIME {
        match search_once::<F>(search, &known) {
            Ok(None) => break,
            Ok(Some(f)) => {
                let clause = f.failure.clause.clone().unwrap_or_default();
                if !known.insert(clause) {
                    // Not counted as known (no clause): it would come back.
                    break;
                }
                found.push(f);
            }
            // A later search that cannot run still leaves what was found.
            Err(why) if found.is_empty() => return Err(why),
            Err(_) => break,
        }
    }
    Ok(found)
}

/// One proptest search with `known` clauses not counted: the first failure,
/// shrunk, or `None` when every sequence passes.
fn search_once<F: Focus>(
    search: &Search,
    known: &BTreeSet<String>,
) -> Result<Option<Found>, String> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&search.seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let config = Config {
        cases: search.cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        // Shrinking stops after this long and reports the smallest
        // failing sequence found so far.
        max_shrink_time: 10_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng);
    let last: Mutex<Option<Found>> = Mutex::new(None);
    let outcome = runner.run(
        &Machine::<F>::sequential_strategy(1..search.steps),
        |(mut model, ops, seen)| {
            let n = search.counter.fetch_add(1, Ordering::Relaxed);
            let seq = Seq::new(search.ctx, n);
            let result = search
                .handle
                .block_on(seq.run(&mut model, &ops, seen.as_deref(), known));
            search.handle.block_on(seq.cleanup());
            match result {
                Ok(()) => Ok(()),
                Err((failure, at)) => {
                    let message = failure.to_string();
                    *last.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Found { failure, ops, at });
                    Err(TestCaseError::fail(message))
                }
            }
        },
    );
    let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
    match (outcome, last) {
        (Ok(()), _) => Ok(None),
        (Err(TestError::Abort(why)), _) => Err(why.to_string()),
        (Err(TestError::Fail(_, _)), None) => Err("a failure record: none".into()),
        (Err(TestError::Fail(_, _)), Some(found)) => Ok(Some(found)),
    }
}

/// The minimal failing sequence of `found` as a replay script, with the
/// seed that regenerates it.
fn script_note(found: &Found, seed: u64) -> String {
    let ops = &found.ops[..=found.at.min(found.ops.len().saturating_sub(1))];
    format!(
        "minimal failing sequence ({} requests; seed {seed}; rerun with --seed {seed}), as a script for `distgo-conformance replay`:\n{}",
        found.at + 1,
        replay_script(ops)
    )
}
