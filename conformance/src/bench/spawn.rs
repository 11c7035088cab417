//! A worker process started by the bench (`--spawn-worker PATH`).
//!
//! The load generator measures any address and never links a worker. To
//! measure memory and recovery, though, it needs the worker's process: it
//! starts the binary on a generated configuration that binds
//! `127.0.0.1:0`, reads the bound address from the worker's
//! `distgo worker listening ... address=HOST:PORT` log line, reads its
//! resident memory from `/proc/PID/status`, and kills it when dropped, so
//! no process outlives the bench.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use super::{
    pinning::{self, CpuList},
    procfs::{self, CpuSource},
};

/// Log lines kept to explain a worker that failed to start.
const TAIL_LINES: usize = 20;

/// How to start a worker.
#[derive(Clone, Debug)]
pub struct SpawnSpec {
    /// The `distgo-worker` binary.
    pub binary: PathBuf,
    /// `wal.path`, for durable runs (recovery timing).
    pub wal_path: Option<PathBuf>,
    /// How long the worker may take to start listening (recovery included).
    pub startup_timeout: Duration,
    /// The CPUs its threads are pinned to, once it listens ([`pinning`]).
    pub cpus: Option<CpuList>,
}

/// A running worker process; killed on drop.
#[derive(Debug)]
pub struct SpawnedWorker {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// From spawning to the listening line.
    pub startup: Duration,
    _config: tempfile::NamedTempFile,
}

/// The configuration file a spawned worker runs on.
pub fn config_yaml(wal_path: Option<&Path>) -> String {
    // The generous timeout lets the final cascade delete of a 10^6-document
    // database finish; it does not change the cost of a call.
    let mut yaml = String::from(
        "name: bench\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 60s\n\
         logging:\n  level: info\n  format: json\n  output: stdout\n",
    );
    if let Some(path) = wal_path {
        yaml.push_str(&format!("wal:\n  path: {:?}\n", path.display().to_string()));
    }
    yaml
}

impl SpawnedWorker {
    /// Starts the worker and waits for its listening line.
    pub fn start(spec: &SpawnSpec) -> anyhow::Result<Self> {
        let mut config = tempfile::Builder::new()
            .prefix("distgo-bench-")
            .suffix(".yaml")
            .tempfile()?;
        std::io::Write::write_all(
            &mut config,
            config_yaml(spec.wal_path.as_deref()).as_bytes(),
        )?;
        let began = Instant::now();
        let mut child = Command::new(&spec.binary)
            .arg("--config")
            .arg(config.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", spec.binary.display()))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (found, listening) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            drain(out, tail.clone(), found.clone());
        }
        if let Some(err) = child.stderr.take() {
            drain(err, tail.clone(), found);
        }
        let addr = match listening.recv_timeout(spec.startup_timeout) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let tail = tail
                    .lock()
                    .map(|t| Vec::from(t.clone()).join("\n"))
                    .unwrap_or_default();
                bail!(
                    "{} did not start listening ({status}):\n{tail}",
                    spec.binary.display()
                );
            }
        };
        if let Some(cpus) = &spec.cpus
            && let Err(err) = pinning::pin_process(child.id(), cpus)
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err.into());
        }
        Ok(SpawnedWorker {
            child,
            addr,
            startup: began.elapsed(),
            _config: config,
        })
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident memory (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        procfs::rss_bytes(self.child.id())
    }

    /// Where its CPU time is read.
    pub fn cpu(&self) -> CpuSource {
        CpuSource::Process(self.child.id())
    }

    /// Kills the process at once (SIGKILL: a crash, as recovery tests want).
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SpawnedWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `stream` line by line on its own thread until it closes, keeping the
/// last lines in `tail` and reporting the listening address once. Reading to
/// the end matters: a worker whose log pipe fills up would block.
fn drain(
    stream: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    found: mpsc::Sender<SocketAddr>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(addr) = listening_address(&line) {
                let _ = found.send(addr);
            }
            if let Ok(mut tail) = tail.lock() {
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    });
}

/// The address in a `distgo worker listening` log line, pretty or JSON,
/// with or without colours.
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    let line = strip_ansi(line);
    if !line.contains("distgo worker listening") {
        return None;
    }
    let after = &line[line.find("address")? + "address".len()..];
    let value = after.trim_start_matches(['"', ':', '=', ' ']);
    let end = value
        .find(|c: char| c == '"' || c == ',' || c == '}' || c.is_whitespace())
        .unwrap_or(value.len());
    value[..end].parse().ok()
}

/// `text` without terminal colour sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_json_and_pretty_log_lines() {
        let json = r#"{"timestamp":"2026-01-01T00:00:00Z","level":"INFO","fields":{"message":"distgo worker listening","node":"bench","address":"127.0.0.1:41234"}}"#;
        let pretty =
            "2026-01-01T00:00:00Z  INFO distgo worker listening node=bench address=127.0.0.1:5";
        let coloured = "\x1b[2m2026\x1b[0m \x1b[32m INFO\x1b[0m distgo worker listening \x1b[3maddress\x1b[0m\x1b[2m=\x1b[0m127.0.0.1:77";
        assert_eq!(listening_address(json), "127.0.0.1:41234".parse().ok());
        assert_eq!(listening_address(pretty), "127.0.0.1:5".parse().ok());
        assert_eq!(listening_address(coloured), "127.0.0.1:77".parse().ok());
        assert_eq!(
            listening_address("distgo worker stopped address=127.0.0.1:1"),
            None
        );
    }

    #[test]
    fn the_config_binds_loopback_on_a_free_port_and_adds_wal_only_when_asked() {
        let plain = config_yaml(None);
        assert!(plain.contains("host: 127.0.0.1\n  port: 0\n"), "{plain}");
        assert!(!plain.contains("wal"));
        let durable = config_yaml(Some(Path::new("/tmp/x y/wal")));
        assert!(
            durable.ends_with("wal:\n  path: \"/tmp/x y/wal\"\n"),
            "{durable}"
        );
    }

    #[test]
    fn a_binary_that_never_listens_is_reported_with_its_output() {
        let spec = SpawnSpec {
            binary: PathBuf::from("/bin/echo"),
            wal_path: None,
            startup_timeout: Duration::from_secs(5),
            cpus: None,
        };
        let err = SpawnedWorker::start(&spec).unwrap_err().to_string();
        assert!(err.contains("did not start listening"), "{err}");
        assert!(
            err.contains("--config"),
            "echo's output is in the message: {err}"
        );
    }
}
