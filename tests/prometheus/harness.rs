//! Real processes for the Prometheus test: a `distgo-worker`, a
//! `prometheus`, and the plain HTTP/1.1 GET that talks to both. Each process
//! is killed when its value is dropped, so a failing assertion leaves
//! nothing running.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

/// A child process, killed (and reaped) on drop.
pub struct Killed {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Killed {
    /// The process's output so far, to explain a failure.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

/// Reads `stream` to the end on a thread (a full pipe would block the
/// process), keeping every line and passing each to `found`.
fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    found: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = found.send(line.clone());
            if let Ok(mut log) = log.lock() {
                log.push(line);
            }
        }
    });
}

/// A port that was free a moment ago on 127.0.0.1 (for programs that need
/// a fixed port in their flags or configuration; callers retry on a clash).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A worker process: its gRPC and metrics addresses.
pub struct Worker {
    pub process: Killed,
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
}

/// The `fields.address` of the JSON log line whose message is `message`.
fn address_in(line: &str, message: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != message {
        return None;
    }
    fields.get("address")?.as_str()?.parse().ok()
}

impl Worker {
    /// Starts `distgo-worker` on a one-member replica set in `dir` with the
    /// metrics endpoint on port 0, and waits for both listening lines. The
    /// member's own peer address must be a real port, so the gRPC port is
    /// picked first; a clash is retried.
    pub fn start(dir: &Path) -> Worker {
        let mut last = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let config = dir.join(format!("worker-{attempt}.yaml"));
            std::fs::write(
                &config,
                format!(
                    "name: prometheus-test\n\
                     grpc:\n  host: 127.0.0.1\n  port: {port}\n\
                     logging:\n  level: info\n  format: json\n  output: stderr\n\
                     wal:\n  path: {wal}\n\
                     metrics:\n  host: 127.0.0.1\n  port: 0\n\
                     cluster:\n  node_id: 1\n  peers:\n    1: 127.0.0.1:{port}\n  bootstrap: true\n  \
                     snapshot_entries: 100\n",
                    wal = dir.join("wal").display()
                ),
            )
            .expect("write the worker's configuration");
            match Self::try_start(&config) {
                Ok(worker) => return worker,
                Err(why) => last = why,
            }
        }
        panic!("the worker did not start in 5 attempts; the last one said:\n{last}");
    }

    fn try_start(config: &Path) -> Result<Worker, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_distgo-worker"))
            .arg("--config")
            .arg(config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start distgo-worker: {e}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            drain(out, log.clone(), found.clone());
        }
        if let Some(err) = child.stderr.take() {
            drain(err, log.clone(), found);
        }
        let process = Killed { child, log };
        let (mut grpc, mut metrics) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while grpc.is_none() || metrics.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    grpc = grpc.or(address_in(&line, "distgo worker listening"));
                    metrics = metrics.or(address_in(&line, "distgo metrics listening"));
                }
                Err(_) => return Err(process.log()),
            }
        }
        Ok(Worker {
            process,
            grpc: grpc.unwrap_or_else(|| unreachable!()),
            metrics: metrics.unwrap_or_else(|| unreachable!()),
        })
    }
}

/// Where the `prometheus` binary is, if anywhere.
pub fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// A Prometheus server scraping one target every second.
pub struct Prometheus {
    pub process: Killed,
    pub address: SocketAddr,
}

impl Prometheus {
    /// Starts `binary` with a configuration that scrapes `target` and loads
    /// `rules`, on a free loopback port (retried on a clash), and waits
    /// until it is ready.
    pub fn start(binary: &Path, dir: &Path, target: SocketAddr, rules: &Path) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: distgo\n    static_configs:\n      - targets: ['{target}']\n",
                rules = rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let mut last = String::new();
        for attempt in 0..5 {
            let address: SocketAddr = format!("127.0.0.1:{}", free_port())
                .parse()
                .expect("an address");
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join(format!("tsdb-{attempt}")).display()
                ))
                .arg(format!("--web.listen-address={address}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(err) => panic!("cannot start {}: {err}", binary.display()),
            };
            let log = Arc::new(Mutex::new(Vec::new()));
            let (found, _lines) = mpsc::channel();
            if let Some(out) = child.stdout.take() {
                drain(out, log.clone(), found.clone());
            }
            if let Some(err) = child.stderr.take() {
                drain(err, log.clone(), found);
            }
            let mut process = Killed { child, log };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = process.child.try_wait() {
                    break; // the port was taken, most likely: try another
                }
                if let Some((200, _)) = http_get(address, "/-/ready") {
                    return Prometheus { process, address };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last = process.log();
        }
        panic!("prometheus did not become ready in 5 attempts; the last one said:\n{last}");
    }

    /// `GET /api/v1/query?query=EXPR`: the `data.result` array, or why not.
    pub fn query(&self, expr: &str) -> Result<Vec<serde_json::Value>, String> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let (status, body) = http_get(self.address, &path).ok_or("no answer")?;
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
        if value["status"] != "success" {
            return Err(format!("HTTP {status}: {body}"));
        }
        value["data"]["result"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no result array: {body}"))
    }

    /// `GET /api/v1/rules`: every rule's name and health.
    pub fn rule_health(&self) -> Vec<(String, String)> {
        let Some((_, body)) = http_get(self.address, "/api/v1/rules") else {
            return Vec::new();
        };
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let groups = value["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        groups
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                let name = r["name"].as_str().unwrap_or_default().to_owned();
                (name, r["health"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }
}

/// A query string's bytes, percent-encoded except for unreserved ones.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A blocking HTTP/1.1 GET with `Connection: close`: status and body, or
/// `None` when nothing answers within 10 s.
pub fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = match head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        true => unchunk(body),
        false => body.to_owned(),
    };
    Some((status, body))
}

/// The body of a chunked response.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
