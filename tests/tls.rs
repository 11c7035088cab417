//! TLS and mutual TLS, end to end: a worker given `grpc.tls.*` serves only
//! clients that complete a TLS handshake with it, and with `client_ca` only
//! those that also present a certificate from that CA. Certificates are
//! made by each test (rcgen): nothing secret is committed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use common::{TestWorker, pki::TlsFiles};
use distgo_db::{
    proto::database::{ListDatabasesRequest, database_service_client::DatabaseServiceClient},
    server::tls::Tls,
};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const WORKER: &str = env!("CARGO_BIN_EXE_distgo-worker");

async fn tls_worker(files: &TlsFiles, mutual: bool) -> TestWorker {
    let yaml = format!(
        "name: tls\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  handshake_timeout: 2s\n{}logging:\n  level: error\n",
        files.yaml(mutual)
    );
    let config = distgo_db::config::Config::from_yaml(&yaml).unwrap();
    TestWorker::start_with(config).await
}

/// A channel to `worker` over TLS with `tls`, or the connection's error.
async fn connect(worker: &TestWorker, tls: ClientTlsConfig) -> Result<Channel, String> {
    Endpoint::from_shared(format!("https://{}", worker.address))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|err| format!("{err:?}"))
}

async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await?;
    Ok(response.into_inner().status())
}

#[tokio::test]
async fn a_client_that_trusts_the_ca_sees_serving_over_tls() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, false).await;
    let channel = connect(&worker, files.client()).await.unwrap();
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving
    );
    let listed = DatabaseServiceClient::new(channel)
        .list_databases(ListDatabasesRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().databases.is_empty());
}

/// A plaintext client's first bytes are the HTTP/2 preface, not a TLS
/// ClientHello: the handshake fails and the worker closes the connection.
#[tokio::test]
async fn a_plaintext_client_is_refused_by_a_tls_worker() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, false).await;
    let plaintext = Endpoint::from_shared(format!("http://{}", worker.address))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    let err = health(plaintext).await.unwrap_err();
    // The client sees its connection die (a broken pipe or a reset), which
    // tonic reports as UNAVAILABLE or as UNKNOWN "transport error". When the
    // worker's TLS alert arrives before the close, h2 reads the alert's bytes
    // as a frame header, finds it too large and reports INTERNAL "h2 protocol
    // error": the same refusal, seen one read earlier.
    let refused = match err.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown => true,
        tonic::Code::Internal => err.message().contains("h2 protocol error"),
        _ => false,
    };
    assert!(refused, "{err:?}");
    // And the worker still serves TLS clients afterwards.
    let channel = connect(&worker, files.client()).await.unwrap();
    assert_eq!(health(channel).await.unwrap(), ServingStatus::Serving);
}

/// A client that does not trust the worker's CA refuses the worker (the
/// other direction of the same handshake).
#[tokio::test]
async fn a_client_that_trusts_another_ca_refuses_the_worker() {
    let files = TlsFiles::new();
    let stranger = TlsFiles::new();
    let worker = tls_worker(&files, false).await;
    let channel = connect(&worker, stranger.client()).await;
    if let Ok(channel) = channel {
        assert!(health(channel).await.is_err());
    }
}

#[tokio::test]
async fn with_mutual_tls_a_client_without_a_certificate_is_refused() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, true).await;
    // TLS 1.3 finishes the client's side of the handshake before the server
    // has checked the (missing) certificate: the refusal arrives as the
    // first request fails.
    let refused = match connect(&worker, files.client()).await {
        Err(_) => true,
        Ok(channel) => health(channel).await.is_err(),
    };
    assert!(refused, "a client without a certificate was served");
}

#[tokio::test]
async fn with_mutual_tls_a_certificate_from_another_ca_is_refused() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, true).await;
    let impostor = common::pki::Ca::new("impostor CA").issue(&["client"]);
    let refused = match connect(&worker, files.client_with(&impostor)).await {
        Err(_) => true,
        Ok(channel) => health(channel).await.is_err(),
    };
    assert!(refused, "a certificate from another CA was accepted");
}

#[tokio::test]
async fn with_mutual_tls_a_certificate_from_the_ca_is_served() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, true).await;
    let client = files.ca.issue(&["client"]);
    let channel = connect(&worker, files.client_with(&client)).await.unwrap();
    assert_eq!(health(channel).await.unwrap(), ServingStatus::Serving);
}

/// The TLS module's client half, built from the very files the worker
/// serves with, is what a node uses to call another node: it presents the
/// node's certificate (accepted by the peer's `client_ca`) and trusts the
/// cluster's CA.
#[tokio::test]
async fn a_node_calls_a_mutual_tls_peer_with_the_client_half_of_its_own_files() {
    let files = TlsFiles::new();
    let worker = tls_worker(&files, true).await;
    let config = distgo_db::config::TlsFiles {
        cert: files.path("server.pem"),
        key: files.path("server.key"),
        client_ca: Some(files.path("ca.pem")),
    };
    let tls = Tls::load(&config).unwrap();
    assert!(tls.is_mutual());
    let channel = connect(&worker, tls.client_config("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(health(channel).await.unwrap(), ServingStatus::Serving);
}

/// Exit code 2 and one line naming the key, before anything is bound.
fn exits_2_naming(yaml: &str, dir: &std::path::Path, expected: &str) {
    let path = dir.join("worker.yaml");
    std::fs::write(&path, yaml).unwrap();
    let started = Instant::now();
    let output = Command::new(WORKER)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("distgo-worker: configuration error: {expected}")),
        "{stderr}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_exits_2_naming_grpc_tls_key() {
    let files = TlsFiles::new();
    let other = files.ca.issue(&["127.0.0.1"]);
    std::fs::write(files.path("other.key"), &other.key).unwrap();
    let yaml = format!(
        "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  tls:\n    cert: {:?}\n    key: {:?}\n",
        files.path("server.pem"),
        files.path("other.key"),
    );
    let expected = format!(
        "grpc.tls.key: {}: is not the private key of the certificate in {}",
        files.path("other.key").display(),
        files.path("server.pem").display()
    );
    exits_2_naming(&yaml, files.dir.path(), &expected);
}

#[test]
fn an_unreadable_client_ca_exits_2_naming_grpc_tls_client_ca() {
    let files = TlsFiles::new();
    let yaml = format!(
        "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  tls:\n    cert: {:?}\n    key: {:?}\n    client_ca: {:?}\n",
        files.path("server.pem"),
        files.path("server.key"),
        files.path("missing-ca.pem"),
    );
    let expected = format!(
        "grpc.tls.client_ca: cannot read {}",
        files.path("missing-ca.pem").display()
    );
    exits_2_naming(&yaml, files.dir.path(), &expected);
}

#[test]
fn in_memory_pem_is_checked_like_files() {
    let files = TlsFiles::new();
    let other = files.ca.issue(&["127.0.0.1"]);
    let ok = Tls::from_pem(
        files.server.cert.as_bytes(),
        files.server.key.as_bytes(),
        Some(files.ca.pem().as_bytes()),
    );
    assert!(ok.is_ok());
    let mismatched = Tls::from_pem(files.server.cert.as_bytes(), other.key.as_bytes(), None)
        .unwrap_err()
        .to_string();
    assert!(
        mismatched.starts_with("grpc.tls.key: <memory>: is not the private key"),
        "{mismatched}"
    );
    let not_a_ca = Tls::from_pem(
        files.server.cert.as_bytes(),
        files.server.key.as_bytes(),
        Some(b"not pem"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        not_a_ca,
        "grpc.tls.client_ca: <memory>: holds no PEM certificate"
    );
}

/// The TLS material is logged and printed in `Debug` output (the worker
/// derives `Debug`): the private key must never be in it.
#[test]
fn debug_output_never_shows_the_private_key() {
    let files = TlsFiles::new();
    let tls = Tls::from_pem(
        files.server.cert.as_bytes(),
        files.server.key.as_bytes(),
        None,
    )
    .unwrap();
    let printed = format!("{tls:?}");
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    let key_body: String = files
        .server
        .key
        .lines()
        .nth(1)
        .unwrap()
        .chars()
        .take(20)
        .collect();
    assert!(!printed.contains(&key_body), "{printed}");
}
