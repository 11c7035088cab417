//! The suite reaches workers the way production deploys them: behind TLS
//! (`--tls-ca`) and with auth metadata on every request (`--header`). A
//! front in the style of a gateway, with its own certificate authority and
//! a bearer token, forwards to the reference worker; the cases pass through
//! it only when the suite is given the CA and the header.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod support;

use std::{path::PathBuf, sync::Arc};

use distgo_conformance::{
    case::Tag,
    cases,
    runner::{Outcome, Runner, Selection},
    target::{Connection, ServerUnderTest},
};
use support::{
    reference::{Reference, config_yaml},
    settings,
    wrong::{Flaw, Front, WrongWorker},
};

const TOKEN: &str = "Bearer conformance-token";

/// A self-signed certificate for 127.0.0.1, and the file the suite reads it from.
fn certificate(dir: &tempfile::TempDir) -> ((String, String), PathBuf) {
    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = issued.cert.pem();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    ((cert, issued.key_pair.serialize_pem()), ca)
}

fn database_cases() -> Vec<distgo_conformance::case::Case> {
    let selection = Selection {
        tags: vec![Tag::Core],
        skip_tags: vec![Tag::Concurrency],
        case_globs: vec!["db-*".to_owned()],
    };
    selection.select(cases::all()).unwrap()
}

/// (passed, failed) of the database cases through `connection`.
async fn run(connection: Connection) -> (usize, usize) {
    let target = ServerUnderTest::connect(connection).await.expect("connect");
    let golden = Arc::new(distgo_conformance::scenario::embedded_golden);
    let runner = Arc::new(Runner::new(
        Arc::new(target),
        settings(golden),
        Default::default(),
    ));
    let reports = runner.run_all(&database_cases(), 4).await;
    let passed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed))
        .count();
    (passed, reports.len() - passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_pass_through_tls_with_the_ca_and_the_auth_header() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, ca) = certificate(&dir);
    let reference = Reference::start(config_yaml("")).await;
    let front = Front {
        tls: Some(identity),
        token: Some(TOKEN.to_owned()),
    };
    let gateway = WrongWorker::start_behind(&reference.addr(), Flaw::Nothing, front).await;
    assert!(
        gateway.addr.starts_with("https://127.0.0.1:"),
        "{}",
        gateway.addr
    );

    let mut connection = Connection::new(gateway.addr.clone());
    connection.tls_ca = Some(ca.clone());
    connection.headers = vec![("authorization".to_owned(), TOKEN.to_owned())];
    let (passed, failed) = run(connection.clone()).await;
    assert!(passed >= 10, "{passed} database cases passed");
    assert_eq!(failed, 0, "every database case passes through the gateway");

    // Without the token, the gateway refuses every request.
    connection.headers.clear();
    let (passed, failed) = run(connection.clone()).await;
    assert_eq!(passed, 0, "no case passes without the authorization header");
    assert!(failed >= 10);

    // Without the CA, the certificate cannot be trusted: nothing connects.
    connection.tls_ca = None;
    connection.headers = vec![("authorization".to_owned(), TOKEN.to_owned())];
    assert!(
        ServerUnderTest::connect(connection).await.is_err(),
        "an untrusted certificate is refused"
    );

    reference.stop().await;
}
