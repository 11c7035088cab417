//! A client that is not ours: Python's `grpcio` (gRPC's C core) against a
//! TLS worker, a mutual-TLS worker and one with tokens. It sees SERVING
//! over TLS, is refused in plaintext, refused without a client certificate
//! under mutual TLS, UNAUTHENTICATED without a token and PERMISSION_DENIED
//! writing with a read-only one. The checks are `tests/python/secured_client.py`.
//!
//! `.ci/run` installs grpcio where it is missing. Where it still cannot be
//! imported, the test says so loudly and fails under CI (`CI` set);
//! elsewhere it is reported as not run, never as a silent pass.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{path::Path, process::Command};

use common::{TestWorker, pki::TlsFiles};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/secured_client.py"
);

/// Whether `python3` can import grpc; panics under CI when it cannot.
fn grpcio_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import grpc; print(grpc.__version__)"])
        .output();
    match probe {
        Ok(output) if output.status.success() => true,
        outcome => {
            let why = match outcome {
                Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                Err(err) => err.to_string(),
            };
            let message = format!(
                "\n*** tests/python.rs DID NOT RUN: python3 cannot import grpc ({}).\n\
                 *** Install it with `python3 -m pip install grpcio` (.ci/run does).\n",
                why.trim()
            );
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            false
        }
    }
}

async fn worker(files: &TlsFiles, mutual: bool, auth: &str) -> TestWorker {
    let yaml = format!(
        "name: py\ngrpc:\n  host: 127.0.0.1\n  port: 0\n{}{auth}logging:\n  level: error\n",
        files.yaml(mutual)
    );
    TestWorker::start_with(distgo_db::config::Config::from_yaml(&yaml).unwrap()).await
}

/// Runs one check of the script off the runtime's threads (the workers
/// are on them), and fails with the script's own report.
async fn run(check: &str, worker: &TestWorker, ca: &Path, extra: Vec<String>) {
    let mut command = Command::new("python3");
    command
        .arg(SCRIPT)
        .arg(check)
        .arg(worker.address.to_string())
        .arg(ca)
        .args(extra);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{check}:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok  "),
        "{check} checked nothing:\n{stdout}"
    );
    println!("{check}:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_sees_tls_mutual_tls_and_tokens_as_the_contract_says() {
    if !grpcio_available() {
        return;
    }
    let files = TlsFiles::new();
    let ca = files.path("ca.pem");

    let tls = worker(&files, false, "").await;
    run("tls", &tls, &ca, Vec::new()).await;

    let mutual = worker(&files, true, "").await;
    let client = files.ca.issue(&["python-client"]);
    std::fs::write(files.path("client.pem"), &client.cert).unwrap();
    std::fs::write(files.path("client.key"), &client.key).unwrap();
    let identity = vec![
        files.path("client.pem").display().to_string(),
        files.path("client.key").display().to_string(),
    ];
    run("mtls", &mutual, &ca, identity).await;

    let tokens = files.path("tokens");
    std::fs::write(&tokens, "py-reader-token ro\npy-writer-token rw\n").unwrap();
    let auth = format!("auth:\n  tokens_file: {:?}\n", tokens.display());
    let authed = worker(&files, false, &auth).await;
    let names = vec!["py-reader-token".to_owned(), "py-writer-token".to_owned()];
    run("tokens", &authed, &ca, names).await;
}
