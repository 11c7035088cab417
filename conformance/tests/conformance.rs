//! `cargo test -p distgo-conformance`: every case of the registry as one
//! libtest trial, against `DISTGO_ADDR` when it is set, otherwise against a
//! reference worker started in-process on 127.0.0.1:0 with a write-ahead log
//! in a temporary directory (with the restart and exclusive capabilities,
//! and the expected failures of `xfail/reference.yaml`).
//!
//! The same runner as `distgo-conformance run`, so both report the same
//! cases; only scenario transcripts differ in how they are checked (insta
//! snapshots here, embedded golden files in the binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod support;

use std::{path::Path, process::ExitCode, sync::Arc};

use distgo_conformance::{
    cases,
    report::{Rerun, failure_text},
    runner::{Outcome, Runner},
    target::{Connection, ServerUnderTest},
    xfail,
};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use support::reference::{Reference, TXN_LIMITS};

const XFAIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xfail/reference.yaml");

/// How long the in-process worker and the runtime get to stop after the run.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // Cases wait on the network, not the CPU: run more than one per core.
    args.test_threads = args.test_threads.or(Some(6));
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let (runner, reference) = runtime.block_on(async {
        match std::env::var("DISTGO_ADDR") {
            Ok(addr) if !addr.is_empty() => {
                let xfail = match std::env::var("DISTGO_XFAIL") {
                    Ok(path) => xfail::load(Path::new(&path), &ids).expect("xfail file"),
                    Err(_) => Default::default(),
                };
                let target = ServerUnderTest::connect(Connection::new(addr))
                    .await
                    .expect("connect to DISTGO_ADDR");
                let settings = support::settings(support::insta_golden());
                (
                    Arc::new(Runner::new(Arc::new(target), settings, xfail)),
                    None,
                )
            }
            _ => {
                let reference = Reference::start_durable().await;
                let target = ServerUnderTest::connect(Connection::new(reference.addr()))
                    .await
                    .expect("connect to the in-process worker")
                    .with_restart(reference.clone())
                    .with_exclusive(true)
                    .with_txn_limits(TXN_LIMITS);
                let xfail = xfail::load(Path::new(XFAIL), &ids).expect("xfail/reference.yaml");
                let settings = support::settings(support::insta_golden());
                (
                    Arc::new(Runner::new(Arc::new(target), settings, xfail)),
                    Some(reference),
                )
            }
        }
    });
    let rerun =
        Rerun("cargo test -p distgo-conformance --test conformance -- --exact {case}".into());
    let trials = all
        .into_iter()
        .map(|case| {
            let (runtime, runner, rerun) = (runtime.clone(), runner.clone(), rerun.clone());
            let kind = format!("{} {}", case.clause, case.tag_list());
            Trial::ignorable_test(case.id.clone(), move || {
                let report = runtime.block_on(runner.run_case(&case));
                match &report.outcome {
                    Outcome::Passed | Outcome::XFailed { .. } => Ok(Completion::Completed),
                    Outcome::Skipped(reason) => Ok(Completion::ignored_with(reason)),
                    // One trial at a time cannot see other cases fail, so
                    // only a model case is blocked here: every deviation it
                    // met is under a clause the xfail file expects to fail.
                    // Not judged past them, it has not passed either.
                    Outcome::Blocked { by, .. } => {
                        Ok(Completion::ignored_with(format!("blocked by {by}")))
                    }
                    Outcome::Failed(_) | Outcome::XPassed { .. } => {
                        Err(Failed::from(failure_text(&report, &rerun)))
                    }
                }
            })
            .with_kind(kind)
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // A worker that never finishes a request (a handler that spins) fails
    // that request's case at its deadline; it must not also keep the process
    // from ending, so stopping it and the runtime are bounded: dropping a
    // runtime would wait for a busy thread for ever.
    if let Some(reference) = reference {
        let _ =
            runtime.block_on(async { tokio::time::timeout(STOP_GRACE, reference.stop()).await });
    }
    if let Ok(runtime) = Arc::try_unwrap(runtime) {
        runtime.shutdown_timeout(STOP_GRACE);
    }
    conclusion.exit_code()
}
