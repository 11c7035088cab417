//! How fast `distgo doc import` and `doc export` move documents.
//!
//! ```text
//! just bench-cli            # = cargo build --release --bins --example cli_bench && run it
//! ./target/release/examples/cli_bench [DOCUMENTS] [-- extra import flags]
//! ```
//!
//! Starts `target/release/distgo-worker` on a generated configuration
//! (127.0.0.1, port 0, memory only), writes DOCUMENTS (default 100,000) JSON
//! lines of 1 KiB each to a temporary file, then times the real `distgo`
//! binary, as a user runs it, importing them (`--id-field _id`) and
//! exporting them back, and checks that the export has every line. Prints
//! documents/s of each. The worker is killed when the bench ends.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The bytes of each generated line, newline excluded.
const LINE_BYTES: usize = 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let documents: usize = match args.next() {
        Some(n) if n != "--" => n.parse()?,
        _ => 100_000,
    };
    let extra: Vec<String> = args.filter(|a| a != "--").collect();
    let bin = release_dir()?;
    let dir = tempfile::tempdir()?;
    let worker = Worker::start(&bin.join("distgo-worker"), dir.path())?;
    let addr = format!("http://{}", worker.addr);
    println!("worker at {addr}; {documents} documents of {LINE_BYTES} bytes");

    let input = dir.path().join("in.jsonl");
    write_input(&input, documents)?;
    let distgo = |args: &[&str]| -> Result<Duration, Box<dyn std::error::Error>> {
        let started = Instant::now();
        let status = Command::new(bin.join("distgo"))
            .args(["--addr", &addr, "--timeout", "60s"])
            .args(args)
            .stdout(Stdio::null())
            .status()?;
        let took = started.elapsed();
        if !status.success() {
            return Err(format!("distgo {args:?}: {status}").into());
        }
        Ok(took)
    };
    distgo(&["db", "create", "bench"])?;
    distgo(&["collection", "create", "bench/docs"])?;

    let mut import = vec![
        "doc",
        "import",
        "bench/docs",
        path(&input)?,
        "--id-field",
        "_id",
    ];
    import.extend(extra.iter().map(String::as_str));
    let took = distgo(&import)?;
    report("import", documents, took);

    let output = dir.path().join("out.jsonl");
    let export = [
        "doc",
        "export",
        "bench/docs",
        path(&output)?,
        "--id-field",
        "_id",
    ];
    let took = distgo(&export)?;
    report("export", documents, took);

    let lines = BufReader::new(std::fs::File::open(&output)?)
        .lines()
        .count();
    if lines != documents {
        return Err(format!("the export has {lines} lines, not {documents}").into());
    }
    drop(worker);
    Ok(())
}

fn report(what: &str, documents: usize, took: Duration) {
    let rate = documents as f64 / took.as_secs_f64();
    println!(
        "{what}: {documents} documents in {:.2} s = {rate:.0} documents/s",
        took.as_secs_f64()
    );
}

/// `target/release`, where this example's own binary lives.
fn release_dir() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let dir = me
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find target/release")?;
    Ok(dir.to_owned())
}

fn path(p: &Path) -> Result<&str, Box<dyn std::error::Error>> {
    p.to_str()
        .ok_or_else(|| "a non-UTF-8 temporary path".into())
}

/// Lines like `{"_id":"d0000042","n":42,"pad":"xxx..."}`, padded to exactly 1 KiB.
fn write_input(path: &Path, documents: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..documents {
        let head = format!("{{\"_id\":\"d{i:07}\",\"n\":{i},\"pad\":\"");
        let pad = LINE_BYTES - head.len() - 2;
        writeln!(out, "{head}{}\"}}", "x".repeat(pad))?;
    }
    out.flush()
}

/// A worker process, killed when dropped.
struct Worker {
    child: Child,
    addr: String,
}

impl Worker {
    fn start(binary: &Path, dir: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let config = dir.join("worker.yaml");
        std::fs::write(
            &config,
            "name: bench\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 60s\n\
             logging:\n  level: info\n  format: json\n  output: stdout\n",
        )?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (found, listening) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = listening_address(&line) {
                    let _ = found.send(addr);
                }
            }
        });
        match listening.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => Ok(Worker { child, addr }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("the worker did not say where it listens".into())
            }
        }
    }
}

/// `127.0.0.1:PORT` from the worker's `distgo worker listening` JSON log line.
fn listening_address(line: &str) -> Option<String> {
    let record: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &record["fields"];
    (fields["message"] == "distgo worker listening")
        .then(|| fields["address"].as_str().map(str::to_owned))
        .flatten()
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
