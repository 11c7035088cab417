//! The `distgo-worker` binary: configuration errors, start-up and shutdown.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

const WORKER: &str = env!("CARGO_BIN_EXE_distgo-worker");

/// Kills the child if the test fails before it exits on its own.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_bad_config_exits_2_with_one_line_naming_the_key() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/bad/timeout-bad-unit.yaml");
    let output = Command::new(WORKER)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "distgo-worker: configuration error: grpc.timeout: invalid duration \"4x\""
        ),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing logged before the config is valid"
    );
}

#[test]
fn a_missing_config_file_exits_2() {
    let output = Command::new(WORKER)
        .args(["--config", "/nonexistent/worker.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot read /nonexistent/worker.yaml"),
        "{stderr}"
    );
}

#[test]
fn sigterm_stops_the_worker_cleanly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.yaml");
    std::fs::write(
        &config,
        "name: sig\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 2s\nlogging:\n  format: json\n  output: stderr\n",
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
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let line: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(line["fields"]["node"], "sig", "{first}");
    let address = line["fields"]["address"].as_str().unwrap();
    assert!(address.starts_with("127.0.0.1:"), "{address}");

    kill(Pid::from_raw(running.0.id() as i32), Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "worker did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("distgo worker stopped")),
        "{rest:?}"
    );
}
