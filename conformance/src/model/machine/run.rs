//! Running a focus: proptest draws sequences from the seed, each runs in
//! its own [`Seq`], and the first failure is shrunk to the smallest failing
//! sequence, reported as a script that `replay` runs again.

use std::sync::Mutex;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;

use super::{Focus, Machine, sequence::Seq, translate::replay_script};
use crate::{
    check::{Check, Failure},
    ctx::Ctx,
    model::state::{Model, Op},
};

/// Runs `F`'s sequences against the target; `cases` sequences of up to
/// `steps` requests.
pub async fn run<F: Focus>(ctx: Ctx, default_cases: u32, steps: usize) -> Check {
    let cases = ctx.settings().cases.unwrap_or(default_cases);
    let seed = ctx.settings().seed;
    let handle = tokio::runtime::Handle::current();
    let worker = ctx.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 4096,
            // Shrinking stops after this long and reports the smallest
            // failing sequence found so far.
            max_shrink_time: 10_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        let counter = std::sync::atomic::AtomicUsize::new(0);
        let last: Mutex<Option<(Failure, Vec<Op>, usize)>> = Mutex::new(None);
        let outcome = runner.run(
            &Machine::<F>::sequential_strategy(1..steps),
            |(mut model, ops, seen)| {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let seq = Seq::new(&worker, n);
                let result = handle.block_on(seq.run(&mut model, &ops, seen.as_deref()));
                handle.block_on(seq.cleanup());
                match result {
                    Ok(()) => Ok(()),
                    Err((failure, at)) => {
                        let message = failure.to_string();
                        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some((failure, ops, at));
                        Err(TestCaseError::fail(message))
                    }
                }
            },
        );
        let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some((_, ops, _)) = &last {
            // Run the minimal sequence once more and keep its data to inspect.
            let seq = Seq::new(&worker, usize::MAX);
            let _ = handle.block_on(seq.run(&mut Model::default(), ops, None));
        }
        (outcome, last)
    })
    .await
    .map_err(|e| Failure::new("the model run completes", e.to_string()))?;
    match result {
        (Ok(()), _) => Ok(()),
        (Err(TestError::Abort(why)), _) => {
            Err(Failure::new("the model run completes", why.to_string()))
        }
        (Err(TestError::Fail(_, _)), None) => Err(Failure::new("a failure record", "none")),
        (Err(TestError::Fail(_, _)), Some((failure, ops, at))) => {
            let script = replay_script(&ops[..=at.min(ops.len().saturating_sub(1))]);
            let note = format!(
                "minimal failing sequence ({} requests; seed {seed}; rerun with --seed {seed}), as a script for `distgo-conformance replay`:\n{script}",
                at + 1
            );
            Err(Failure {
                note: Some(note),
                ..failure
            })
        }
    }
}
