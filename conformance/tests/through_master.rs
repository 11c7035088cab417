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

/// `bench --api master`: the load generator measures a master against the
/// worker behind it (as `--baseline`), in the same rounds. Every call of
/// both sides must succeed: under the worker's package the master would
/// answer UNIMPLEMENTED to every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_measures_a_master_against_the_worker_behind_it() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: distgo_conformance::bench::BenchArgs,
    }

    let reference = Reference::start(config_yaml("")).await;
    let (master, _stop) = master_over(&reference.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let cli = Cli::parse_from([
        "bench",
        "--baseline",
        reference.addr().as_str(),
        "--addr",
        master.as_str(),
        "--api",
        "master",
        "--docs",
        "200",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--no-pin",
        "--json",
        json.to_str().unwrap(),
    ]);
    distgo_conformance::bench::run(cli.bench).await.unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report}");
    for run in runs {
        assert!(run["ok"].as_u64().unwrap() > 0, "{run}");
        let errors = run["errors"].as_object().unwrap();
        assert!(errors.is_empty(), "{run}");
    }
    let ratio = report["ratio"]["throughput"].as_f64().unwrap();
    assert!(ratio > 0.0, "{report}");
}
