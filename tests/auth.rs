//! Bearer tokens, end to end: with `auth.tokens_file`, a call without a
//! valid token is UNAUTHENTICATED, a read-only token cannot write, only an
//! admin token may truncate the log, health stays open; and SIGHUP swaps
//! the tokens without dropping a connection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::TestWorker;
use distgo_db::proto::database::{
    BeginRequest, CreateDatabaseRequest, Database, GetDatabaseRequest, ListDatabasesRequest,
    TruncateWalRequest, database_service_client::DatabaseServiceClient,
    transaction_service_client::TransactionServiceClient, wal_service_client::WalServiceClient,
};
use tonic::{Code, Request, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const TOKENS: &str = "\
# the test's tokens
reader-token-0001   ro
writer-token-0002           # rw is the default
admin-token-00003   admin
";

async fn authed_worker(dir: &tempfile::TempDir) -> TestWorker {
    let path = dir.path().join("tokens");
    std::fs::write(&path, TOKENS).unwrap();
    let yaml = format!(
        "name: auth\ngrpc:\n  host: 127.0.0.1\n  port: 0\nauth:\n  tokens_file: {:?}\nlogging:\n  level: error\n",
        path.display()
    );
    TestWorker::start_with(distgo_db::config::Config::from_yaml(&yaml).unwrap()).await
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn create(id: &str) -> CreateDatabaseRequest {
    CreateDatabaseRequest {
        database_id: id.into(),
        database: Some(Database {
            display_name: "D".into(),
            ..Default::default()
        }),
    }
}

async fn list(channel: &Channel, token: Option<&str>) -> Result<(), tonic::Status> {
    DatabaseServiceClient::new(channel.clone())
        .list_databases(with_token(ListDatabasesRequest::default(), token))
        .await
        .map(drop)
}

#[tokio::test]
async fn without_a_valid_token_every_call_but_health_is_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let worker = authed_worker(&dir).await;
    let channel = worker.channel().await;
    let missing = list(&channel, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    assert!(missing.message().contains("Bearer"), "{missing:?}");
    let wrong = list(&channel, Some("writer-token-0003")).await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
    assert!(
        !wrong.message().contains("writer-token"),
        "the token was echoed: {wrong:?}"
    );
    let mut request = Request::new(ListDatabasesRequest::default());
    request
        .metadata_mut()
        .insert("authorization", "Basic d3JpdGVyOg==".parse().unwrap());
    let malformed = DatabaseServiceClient::new(channel.clone())
        .list_databases(request)
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::Unauthenticated, "{malformed:?}");

    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await;
    assert!(health.is_ok(), "{health:?}");
}

#[tokio::test]
async fn a_read_only_token_reads_but_every_write_is_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let worker = authed_worker(&dir).await;
    let channel = worker.channel().await;
    let reader = Some("reader-token-0001");
    list(&channel, reader).await.unwrap();
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let status = databases
        .get_database(with_token(
            GetDatabaseRequest {
                name: "databases/none".into(),
            },
            reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "a read is served: {status:?}"
    );
    let denied = databases
        .create_database(with_token(create("ro"), reader))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("rw role"), "{denied:?}");
    // A transaction is a write as a whole, Begin included.
    let begin = TransactionServiceClient::new(channel.clone())
        .begin(with_token(
            BeginRequest {
                database_name: "databases/none".into(),
            },
            reader,
        ))
        .await
        .unwrap_err();
    assert_eq!(begin.code(), Code::PermissionDenied, "{begin:?}");
}

#[tokio::test]
async fn truncating_the_log_needs_the_admin_role() {
    let dir = tempfile::tempdir().unwrap();
    let worker = authed_worker(&dir).await;
    let channel = worker.channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    databases
        .create_database(with_token(create("w"), Some("writer-token-0002")))
        .await
        .unwrap();
    let mut wal = WalServiceClient::new(channel);
    let denied = wal
        .truncate_wal(with_token(
            TruncateWalRequest::default(),
            Some("writer-token-0002"),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("admin role"), "{denied:?}");
    wal.truncate_wal(with_token(
        TruncateWalRequest::default(),
        Some("admin-token-00003"),
    ))
    .await
    .unwrap();
}

/// Without `auth.tokens_file`, nothing is asked: TruncateWAL is as open as
/// it has always been (the documented default).
#[tokio::test]
async fn without_a_tokens_file_truncate_wal_stays_open() {
    let worker = TestWorker::start().await;
    let mut wal = WalServiceClient::new(worker.channel().await);
    wal.truncate_wal(TruncateWalRequest::default())
        .await
        .unwrap();
}

const WORKER: &str = env!("CARGO_BIN_EXE_distgo-worker");

/// Kills the child if the test fails before it is stopped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The binary, because SIGHUP is a process's business: the new tokens
/// apply on the connection that was already open, an invalid file leaves
/// the old tokens in force, and no connection is closed on the way.
#[tokio::test]
async fn sighup_reloads_the_tokens_without_dropping_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "old-token-00001\n").unwrap();
    let config = dir.path().join("worker.yaml");
    std::fs::write(
        &config,
        format!(
            "name: hup\ngrpc:\n  host: 127.0.0.1\n  port: 0\nauth:\n  tokens_file: {:?}\n\
             logging:\n  level: debug\n  format: json\n  output: stderr\n",
            tokens.display()
        ),
    )
    .unwrap();
    let child = Command::new(WORKER)
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stderr = running.0.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let address = loop {
        let line = lines_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(line);
        if let Some(address) = json["fields"]["address"].as_str() {
            break address.to_owned();
        }
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    list(&channel, Some("old-token-00001")).await.unwrap();

    std::fs::write(&tokens, "new-token-00002 ro\n").unwrap();
    let pid = nix::unistd::Pid::from_raw(running.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    eventually("the new token is accepted", async || {
        list(&channel, Some("new-token-00002")).await.is_ok()
    })
    .await;
    let old = list(&channel, Some("old-token-00001")).await.unwrap_err();
    assert_eq!(old.code(), Code::Unauthenticated, "{old:?}");

    std::fs::write(&tokens, "broken-token extra words\n").unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let mut reload_failed = false;
    let started = Instant::now();
    while !reload_failed && started.elapsed() < Duration::from_secs(10) {
        if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(100)) {
            reload_failed = line.contains("tokens file not reloaded");
            seen.push(line);
        }
    }
    assert!(reload_failed, "no log line about the failed reload");
    list(&channel, Some("new-token-00002")).await.unwrap();

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = running.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    seen.extend(lines_rx.try_iter());
    for line in &seen {
        assert!(!line.contains("-token-0"), "a token was logged: {line}");
        assert!(!line.contains("broken-token"), "a token was logged: {line}");
    }
    let closed_early = seen
        .iter()
        .take_while(|l| !l.contains("shutting down"))
        .filter(|l| l.contains("connection closed"))
        .count();
    assert_eq!(
        closed_early, 0,
        "a connection was closed before shutdown: {seen:#?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("request refused")),
        "the refusal of the old token was not logged"
    );
}
