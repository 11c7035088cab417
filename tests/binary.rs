//! The `distgo-worker` binary: configuration errors, start-up and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

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

/// A config for a worker on 127.0.0.1:0 with `logging:` as given.
fn write_config(dir: &Path, port: u16, logging: &str) -> std::path::PathBuf {
    let path = dir.join("worker.yaml");
    let yaml = format!(
        "name: b\ngrpc:\n  host: 127.0.0.1\n  port: {port}\n  timeout: 2s\nlogging:\n{logging}"
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs the worker until `ready` holds for what it has written to stdout
/// so far, then SIGTERMs it; returns its whole stdout once it has exited.
fn listen_and_stop(config: &Path, ready: impl Fn(&str) -> bool) -> String {
    let child = Command::new(WORKER)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut text = String::new();
    let started = Instant::now();
    while !ready(&text) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never ready: {text}"
        );
        if let Ok(line) = received.recv_timeout(Duration::from_millis(20)) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    kill(Pid::from_raw(running.0.id() as i32), Signal::SIGTERM).unwrap();
    let _ = running.0.wait();
    text.extend(received.iter().map(|line| line + "\n"));
    text
}

#[test]
fn pretty_logs_carry_no_colour_codes_unless_written_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // Standard output that is a pipe, as when redirected to a file.
    let config = write_config(dir.path(), 0, "  format: pretty\n  output: stdout\n");
    let stdout = listen_and_stop(&config, |text| text.contains("listening"));
    assert!(stdout.contains("distgo worker stopped"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "colour codes on a pipe: {stdout:?}"
    );

    let log = dir.path().join("worker.log");
    let logging = format!("  format: pretty\n  output: {}\n", log.display());
    let config = write_config(dir.path(), 0, &logging);
    listen_and_stop(&config, |_| {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("listening"))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("distgo worker stopped"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text:?}");
}

#[test]
fn a_taken_port_is_reported_once_with_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    for output in ["stdout", "stderr"] {
        let logging = format!("  format: pretty\n  output: {output}\n");
        let config = write_config(dir.path(), port, &logging);
        let run = Command::new(WORKER)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1));
        let everything = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        let said = everything.matches("cannot listen on 127.0.0.1:").count();
        assert_eq!(said, 1, "logging to {output}: {everything}");
        assert!(
            String::from_utf8_lossy(&run.stderr).starts_with("distgo-worker: cannot listen on"),
            "{everything}"
        );
    }
}

#[test]
fn a_taken_port_is_also_recorded_in_a_log_file() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    let logging = format!("  format: json\n  output: {}\n", log.display());
    let config = write_config(dir.path(), port, &logging);
    let run = Command::new(WORKER)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.matches("cannot listen on").count(), 1, "{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("cannot listen on"),
        "the log says why: {text}"
    );
}
