//! A real third-party client: Python's grpcio-reflection against the worker.
//!
//! `tests/reflection.rs` checks reflection with tonic's own client, which
//! shares tonic's assumptions. This test runs the client most users meet
//! first, grpcio-reflection, through `tests/python/reflection_client.py`: it
//! discovers the API, builds GetDatabase and Health/Check from the
//! descriptors the worker sent, and calls both, once per reflection version.
//!
//! It needs `python3` with `grpcio`, `grpcio-reflection` and `protobuf`
//! (`.ci/run` installs them with pip). Without them it says so on the
//! terminal, and fails when `CI` is set, so CI can never skip it silently.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    collections::BTreeSet,
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::TestWorker;
use distgo_db::proto::database::{CreateDatabaseRequest, Database};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/reflection_client.py"
);
const MODULES: &str = "import grpc, grpc_reflection.v1alpha, google.protobuf";

/// Whether Python and the client's modules are here; if not, says so where
/// a person will see it (past libtest's output capture) or, in CI, fails.
fn python_ready() -> bool {
    let probe = Command::new("python3").args(["-c", MODULES]).output();
    let problem = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(err) => format!("cannot run python3: {err}"),
    };
    let message = format!(
        "python_reflection: NOT RUN: {problem}\n  \
         install with `pip install grpcio grpcio-reflection protobuf` (.ci/run does)"
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    let _ = writeln!(std::io::stderr(), "\n{message}\n");
    false
}

/// Runs the script with a bound on its time; kills it if it overstays.
fn run_script(address: &str, version: &str, database: &str) -> Output {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .args([address, version, database])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let started = Instant::now();
    while child.try_wait().expect("wait for python3").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python client did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("python3 output")
}

async fn python_client_discovers_and_calls_the_api(version: &'static str) {
    assert!(Path::new(SCRIPT).exists(), "{SCRIPT}");
    if !python_ready() {
        return;
    }
    let worker = TestWorker::start().await;
    let created = worker
        .clients()
        .await
        .databases
        .create_database(CreateDatabaseRequest {
            database_id: format!("python-{version}"),
            database: Some(Database {
                display_name: "Seen from Python".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();

    let address = worker.address.to_string();
    let name = created.name.clone();
    let output = tokio::task::spawn_blocking(move || run_script(&address, version, &name))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{version}: {stderr}\n{stdout}");
    let reply: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");

    let services: BTreeSet<&str> = reply["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for expected in [
        "worker.database.v1.DatabaseService",
        "worker.database.v1.CollectionService",
        "worker.database.v1.DocumentService",
        "worker.database.v1.TransactionService",
        "worker.database.v1.WALService",
        "worker.cluster.v1.ClusterService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            services.contains(expected),
            "{version}: {expected} not in {services:?}"
        );
    }
    assert_eq!(reply["database"]["name"], created.name.as_str());
    assert_eq!(reply["database"]["display_name"], "Seen from Python");
    let health = reply["health"].as_object().unwrap();
    assert_eq!(
        health.len(),
        7,
        "the worker and its six services: {health:?}"
    );
    assert!(health.values().all(|s| s == "SERVING"), "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_reflection_v1alpha_lists_every_service_and_calls_get_database() {
    python_client_discovers_and_calls_the_api("v1alpha").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_reflection_v1_client_lists_every_service_and_calls_get_database() {
    python_client_discovers_and_calls_the_api("v1").await;
}
