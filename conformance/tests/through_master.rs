//! The whole suite through a master (`--api master`): a `distgo-master`
//! in front of one reference worker must answer every case as the worker
//! answers it, under package `master.database.v1`.
//!
//! The master adds routing, not semantics, so the expected outcome is the
//! reference worker's own: every case passes or is skipped for a missing
//! capability (restart, exclusive use), except what `xfail/master.yaml`
//! names with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod support;

use std::{path::Path, sync::Arc};

use distgo_conformance::{
    api::Api,
    cases,
    report::{Rerun, failure_text},
    runner::{Outcome, Runner},
    target::{Connection, ServerUnderTest},
    xfail,
};
use distgo_db::master::{Master, MasterConfig};
use support::reference::{Reference, TXN_LIMITS, config_yaml};

const XFAIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xfail/master.yaml");

/// A master on 127.0.0.1:0 over one set whose only member is `worker`
/// (`http://HOST:PORT`); returns its address and its stop switch.
async fn master_over(worker: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let member = worker.trim_start_matches("http://");
    let yaml = format!(
        "name: m\ngrpc:\n  host: 127.0.0.1\n  port: 0\nlogging:\n  level: error\n\
         master:\n  sets:\n    a: [{member}]\n"
    );
    let config = MasterConfig::from_yaml(&yaml).expect("a valid master config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Master::new(config).serve(listener, async {
        let _ = stopped.await;
    }));
    (format!("http://{address}"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_through_a_master_as_against_its_worker() {
    let reference = Reference::start(config_yaml("")).await;
    let (master, _stop) = master_over(&reference.addr()).await;
    let mut connection = Connection::new(master);
    connection.api = Api::Master;
    let target = ServerUnderTest::connect(connection)
        .await
        .expect("connect to the master")
        .with_txn_limits(TXN_LIMITS);
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let xfail = xfail::load(Path::new(XFAIL), &ids).expect("xfail/master.yaml");
    let settings = support::settings(Arc::new(distgo_conformance::scenario::embedded_golden));
    let runner = Arc::new(Runner::new(Arc::new(target), settings, xfail));
    let reports = runner.run_all(&all, 6).await;

    let rerun = Rerun("cargo test -p distgo-conformance --test through_master".into());
    let failures: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome.is_failure() || matches!(r.outcome, Outcome::Blocked { .. }))
        .map(|r| failure_text(r, &rerun))
        .collect();
    let passed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed))
        .count();
    println!(
        "through the master: {passed} passed, {} failed, of {}",
        failures.len(),
        reports.len()
    );
    assert!(
        passed > reports.len() / 2,
        "most cases must run (and pass) through the master, {passed} of {} did",
        reports.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    reference.stop().await;
}
