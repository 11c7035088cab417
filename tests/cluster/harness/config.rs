//! The configuration a harness worker runs with.
//!
//! Every worker gets its own directory, and everything it writes is in it:
//! the configuration file, the write-ahead log, its JSON log and its
//! standard error. Two reasons. A restart must find exactly the files the
//! crashed process left (the test is about what survives on disk), and a
//! failed test must leave one directory per node to read afterwards.
//!
//! ```text
//!   <dir>/worker.yaml   the rendered configuration (rewritten on restart)
//!   <dir>/wal/          wal.path (or <dir>/disk/wal on a small disk)
//!   <dir>/worker.log    logging.output, JSON lines, appended across restarts
//!   <dir>/stderr.log    what the binary printed outside its logger
//! ```
//!
//! The log is JSON so the harness can read the bound address from the
//! "distgo worker listening" line instead of guessing it. A caller adds
//! what is specific to its test: `wal:` keys, and whole top-level sections
//! (the replica set's `cluster:` section), which are appended verbatim.

use std::{fmt::Write as _, path::Path};

/// What a test chooses about one worker; [`WorkerConfig::render`] turns it
/// into the YAML file.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The worker's `name` (shown in its log lines and the harness's).
    pub name: String,
    /// `wal.sync`: `always`, `interval` or `never`.
    pub sync: String,
    /// `logging.level`.
    pub log_level: String,
    /// `grpc.timeout`, when the test needs another than the worker's default.
    pub grpc_timeout: Option<String>,
    /// `grpc.port` on the first start: 0 (the OS chooses) unless the test
    /// needs the address before the process exists.
    pub port: u16,
    /// Further `wal:` keys, in order (`snapshot_bytes`, `sync_interval`, ...).
    pub wal: Vec<(String, String)>,
    /// Top-level YAML appended as is, e.g. the `cluster:` section.
    pub extra: String,
    /// Which binary runs it.
    pub program: Program,
}

/// The binary a node runs. A master reads the same `name`, `grpc`,
/// `logging`, `wal` and `cluster` keys as a worker, so one renderer serves
/// both; its `master:` section is added with [`WorkerConfig::section`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Program {
    /// `distgo-worker`.
    #[default]
    Worker,
    /// `distgo-master`.
    Master,
}

impl Program {
    /// The path of the binary cargo built for this test.
    pub fn path(self) -> &'static str {
        match self {
            Program::Worker => env!("CARGO_BIN_EXE_distgo-worker"),
            Program::Master => env!("CARGO_BIN_EXE_distgo-master"),
        }
    }
}

impl WorkerConfig {
    /// A durable worker (`sync: always`) logging at `info`, on any port.
    pub fn new(name: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            name: name.into(),
            sync: "always".into(),
            log_level: "info".into(),
            grpc_timeout: None,
            port: 0,
            wal: Vec::new(),
            extra: String::new(),
            program: Program::Worker,
        }
    }

    /// Runs `distgo-master` instead of `distgo-worker`.
    pub fn master(mut self) -> WorkerConfig {
        self.program = Program::Master;
        self
    }

    /// Sets `wal.sync`.
    pub fn sync(mut self, policy: &str) -> WorkerConfig {
        policy.clone_into(&mut self.sync);
        self
    }

    /// Sets `logging.level`.
    pub fn log_level(mut self, level: &str) -> WorkerConfig {
        level.clone_into(&mut self.log_level);
        self
    }

    /// Sets `grpc.timeout` (e.g. `2s`).
    pub fn grpc_timeout(mut self, timeout: &str) -> WorkerConfig {
        self.grpc_timeout = Some(timeout.to_owned());
        self
    }

    /// Starts on this port instead of letting the OS choose.
    pub fn port(mut self, port: u16) -> WorkerConfig {
        self.port = port;
        self
    }

    /// Adds a `wal:` key.
    pub fn wal_option(mut self, key: &str, value: &str) -> WorkerConfig {
        self.wal.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Appends top-level YAML (one or more whole sections).
    pub fn section(mut self, yaml: &str) -> WorkerConfig {
        self.extra.push_str(yaml);
        if !self.extra.ends_with('\n') {
            self.extra.push('\n');
        }
        self
    }

    /// The YAML for a worker living in `dir`, its log on `wal_dir`,
    /// listening on `port`. Paths are quoted: a temporary directory may
    /// hold characters YAML would read otherwise.
    pub fn render(&self, dir: &Path, wal_dir: &Path, port: u16) -> String {
        let mut yaml = format!(
            "name: {name}\n\
             grpc:\n  host: 127.0.0.1\n  port: {port}\n",
            name = quote(&self.name),
        );
        if let Some(timeout) = &self.grpc_timeout {
            let _ = writeln!(yaml, "  timeout: {timeout}");
        }
        let _ = write!(
            yaml,
            "logging:\n  level: {level}\n  format: json\n  output: {log}\n\
             wal:\n  path: {wal}\n  sync: {sync}\n",
            level = self.log_level,
            log = quote_path(&dir.join(LOG_FILE)),
            wal = quote_path(wal_dir),
            sync = self.sync,
        );
        for (key, value) in &self.wal {
            let _ = writeln!(yaml, "  {key}: {value}");
        }
        yaml.push_str(&self.extra);
        yaml
    }
}

/// The worker's JSON log, inside its directory.
pub const LOG_FILE: &str = "worker.log";
/// The worker's standard error, inside its directory.
pub const STDERR_FILE: &str = "stderr.log";
/// The rendered configuration, inside its directory.
pub const CONFIG_FILE: &str = "worker.yaml";

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered file is one the worker itself accepts: parsed with the
    /// worker's own strict loader, every harness choice arrives.
    #[test]
    fn the_rendered_configuration_is_one_the_worker_accepts() {
        let config = WorkerConfig::new("node-1")
            .sync("interval")
            .grpc_timeout("2s")
            .wal_option("snapshot_bytes", "32768")
            .section("transactions:\n  ttl: 5s");
        let yaml = config.render(Path::new("/tmp/a b"), Path::new("/tmp/a b/wal"), 4321);
        let parsed = distgo_db::config::Config::from_yaml(&yaml).unwrap();
        assert_eq!(parsed.name, "node-1");
        assert_eq!(parsed.grpc.port, 4321);
        assert_eq!(parsed.grpc.host.to_string(), "127.0.0.1");
        assert_eq!(parsed.grpc.timeout, std::time::Duration::from_secs(2));
        assert_eq!(parsed.wal.path.as_deref(), Some(Path::new("/tmp/a b/wal")));
        assert_eq!(parsed.wal.snapshot_bytes, 32768);
        assert_eq!(parsed.transactions.ttl, std::time::Duration::from_secs(5));
    }
}
