//! The whole suite against a *secured* reference worker: TLS with a CA made
//! for the run (`--tls-ca`), and every request carrying an admin bearer
//! token (`--header 'authorization=Bearer …'`). Security must change who
//! may call, never what a call does: every case that passes against the
//! plain worker passes here too (the same expected failures,
//! `xfail/reference.yaml`; the restart cases are skipped, as this worker
//! cannot restart).
//!
//! And the other side of the same door: without the header, every case
//! that sends a request fails with UNAUTHENTICATED, so the test would
//! notice a worker that ignored its tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use std::{path::Path, sync::Arc, time::Duration};

use distgo_conformance::{
    cases,
    ctx::Settings,
    report::{Rerun, failure_text},
    runner::{Outcome, Runner},
    target::{Connection, ServerUnderTest, TxnLimits},
    xfail,
};
use tokio::sync::oneshot;

const XFAIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xfail/reference.yaml");
const TOKEN: &str = "conformance-admin-token";

/// The bounds the worker below is configured with, declared to the suite.
const TXN_LIMITS: TxnLimits = TxnLimits {
    ttl: Some(Duration::from_secs(3)),
    max_operations: Some(64),
    max_open: Some(48),
};

/// A worker with TLS and tokens on 127.0.0.1:0: its `https://` address,
/// the CA file a client needs, and what stops it.
struct Secured {
    addr: String,
    ca: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), distgo_db::ServeError>>,
    _dir: tempfile::TempDir,
}

impl Secured {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca = write("cert.pem", cert.pem());
        let key_path = write("key.pem", key.serialize_pem());
        let tokens = write("tokens", format!("{TOKEN} admin\n"));
        let yaml = format!(
            "name: secured\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  tls:\n    cert: {ca:?}\n    key: {key_path:?}\n\
             auth:\n  tokens_file: {tokens:?}\n\
             transactions:\n  ttl: 3s\n  max_operations: 64\n  max_open: 48\nlogging:\n  level: error\n"
        );
        let config = distgo_db::config::Config::from_yaml(&yaml).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("https://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(distgo_db::serve(config, listener, async {
            let _ = stopped.await;
        }));
        Secured {
            addr,
            ca,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    fn connection(&self, token: Option<&str>) -> Connection {
        let mut connection = Connection::new(self.addr.clone());
        connection.tls_ca = Some(self.ca.clone());
        if let Some(token) = token {
            connection.headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
        }
        connection
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn settings() -> Settings {
    Settings {
        seed: 0x5eed,
        cases: None,
        golden: Arc::new(distgo_conformance::scenario::embedded_golden),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_against_a_worker_with_tls_and_tokens() {
    let worker = Secured::start().await;
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let xfail = xfail::load(Path::new(XFAIL), &ids).unwrap();
    let target = ServerUnderTest::connect(worker.connection(Some(TOKEN)))
        .await
        .expect("connect over TLS")
        .with_exclusive(true)
        .with_txn_limits(TXN_LIMITS);
    let runner = Arc::new(Runner::new(Arc::new(target), settings(), xfail));
    let reports = runner.run_all(&all, 6).await;
    let rerun = Rerun("cargo test -p distgo-conformance --test secured".into());
    let failures: Vec<String> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_) | Outcome::XPassed { .. }))
        .map(|r| failure_text(r, &rerun))
        .collect();
    let passed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed))
        .count();
    worker.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 100, "only {passed} cases passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_the_cases_fail_unauthenticated() {
    let worker = Secured::start().await;
    let selection = distgo_conformance::runner::Selection {
        tags: Vec::new(),
        skip_tags: Vec::new(),
        case_globs: vec!["db-*".to_owned()],
    };
    let chosen = selection.select(cases::all()).unwrap();
    let target = ServerUnderTest::connect(worker.connection(None))
        .await
        .expect("connect over TLS");
    let runner = Arc::new(Runner::new(
        Arc::new(target),
        settings(),
        Default::default(),
    ));
    let reports = runner.run_all(&chosen, 4).await;
    let rerun = Rerun(String::new());
    let unauthenticated = reports
        .iter()
        .filter(|r| failure_text(r, &rerun).contains("UNAUTHENTICATED"))
        .count();
    let passed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed))
        .count();
    worker.stop().await;
    assert!(
        unauthenticated >= 5,
        "{unauthenticated} of {} cases met UNAUTHENTICATED",
        reports.len()
    );
    assert_eq!(passed, 0, "cases passed without a token");
}
