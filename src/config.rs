//! # Configuration
//!
//! `distgo-worker --config PATH` reads YAML; without `--config` it runs the
//! embedded default, [`EMBEDDED_DEFAULT`], which is `fixtures/worker.yaml`:
//! a memory-only worker on port 55055. `fixtures/worker-durable.yaml` is the
//! same worker with its data kept on disk, every key written out and
//! commented: copy it to start your own.
//!
//! ```yaml
//! name: worker_1          # required
//! grpc:
//!   host: 0.0.0.0         # optional
//!   port: 55055           # 0: any free port
//!   timeout: 4s           # per-request bound
//! logging:
//!   level: info           # trace | debug | info | warn | error
//!   format: pretty        # pretty | json
//!   output: stdout        # stdout | stderr | a file path (appended)
//! wal:                    # optional; absent: memory only
//!   path: /var/lib/distgo # the log's directory
//!   sync: always          # always | interval | never
//!   sync_interval: 100ms  # how often `interval` syncs
//!   snapshot_bytes: 67108864  # snapshot once the log is this large
//! transactions:           # optional
//!   ttl: 60s              # open transactions expire this long after Begin
//!   max_operations: 500   # per transaction
//!   max_open: 10000       # at once
//! ```
//!
//! ## Every key
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `name` | string | required | the node's name, shown in logs |
//! | `grpc.host` | IP address | `0.0.0.0` | address to bind |
//! | `grpc.port` | 0-65535 | `55055` | port to bind; `0` picks a free one (logged at start-up) |
//! | `grpc.timeout` | duration | `4s` | longest a request may run; past it the request fails with DEADLINE_EXCEEDED. Also bounds the shutdown drain. Units: `ms`, `s`, `m`, `h`, combinable (`1m30s`) |
//! | `logging.level` | `trace` \| `debug` \| `info` \| `warn` \| `error` | `info` | `debug` logs one line per request (method, full resource name, status, latency) |
//! | `logging.format` | `pretty` \| `json` | `pretty` | human lines (coloured only on a terminal), or one JSON object per line |
//! | `logging.output` | `stdout` \| `stderr` \| path | `stdout` | a path is opened for appending |
//! | `wal.path` | directory | none (memory only) | the write-ahead log and snapshots; created if missing; relative to the working directory. Without it nothing survives a restart. An unusable directory stops the worker with exit code 2 |
//! | `wal.sync` | `always` \| `interval` \| `never` | `always` | when a write is acknowledged: `always` after fsync (concurrent writes share one fsync), `interval` after write(2) with an fsync every `wal.sync_interval`, `never` after write(2), the OS flushes. See [`crate::wal`] |
//! | `wal.sync_interval` | duration | `100ms` | how often `interval` fsyncs |
//! | `wal.snapshot_bytes` | bytes | `67108864` (64 MiB) | when the retained log passes this size a snapshot is written and the log prefix it covers is deleted; also bounds what ListWALEntries can list, in memory-only mode too |
//! | `transactions.ttl` | duration | `60s` | an open transaction expires this long after Begin |
//! | `transactions.max_operations` | integer ≥ 1 | `500` | operations one transaction may hold (RESOURCE_EXHAUSTED past it) |
//! | `transactions.max_open` | integer ≥ 1 | `10000` | transactions open at once (RESOURCE_EXHAUSTED past it) |
//!
//! ## Strict on purpose
//!
//! A misspelt key (`timout:`) silently falling back to a default is the kind
//! of mistake that is found in production, so unknown keys, wrong types and
//! bad values all fail, before the worker binds its port, with one line on
//! stderr that names the key, and exit code 2:
//!
//! ```text
//! $ distgo-worker --config fixtures/configs/bad/timeout-bad-unit.yaml
//! distgo-worker: configuration error: grpc.timeout: invalid duration "4x": unknown time unit "x", ...
//! ```
//!
//! Two steps make that possible: serde (with `deny_unknown_fields`, and
//! `serde_path_to_error` to know the key) checks the shape, then a
//! validation step turns raw strings (durations, addresses, paths) into
//! typed values. `fixtures/configs/bad/` is a corpus of broken
//! configurations, each starting with the exact message it must produce; a
//! test checks every one.
//!
//! ## Exit codes
//!
//! | code | when |
//! |---|---|
//! | `0` | clean shutdown: on SIGINT/SIGTERM the worker stops accepting, and finishes in-flight requests for at most `grpc.timeout` |
//! | `1` | the server or its disk failed (e.g. the port is taken) |
//! | `2` | bad configuration, including an unusable `wal.path` |
//! | `3` | a corrupt write-ahead log (see [`crate::wal`]; rerun with `--repair`) |
//!
//! The reason is one line on stderr, and in the log as well when the log is
//! a file.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

/// The configuration the worker runs with when given no `--config`: the
/// contract's example, which is also `fixtures/worker.yaml`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../fixtures/worker.yaml");

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A key is unknown, missing, of the wrong type or has a bad value.
    #[error("{}{problem}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
    Invalid {
        /// The dotted key, e.g. `grpc.timeout`; empty for the document itself.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// A validated worker configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The node's name, shown in logs (and, later, to the master).
    pub name: String,
    /// The gRPC listener.
    pub grpc: GrpcConfig,
    /// Where and how much to log.
    pub logging: LoggingConfig,
    /// The write-ahead log.
    pub wal: WalConfig,
    /// Bounds on open transactions.
    pub transactions: crate::txn::Limits,
}

/// `grpc.*`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcConfig {
    /// The address to bind; `0.0.0.0` by default.
    pub host: IpAddr,
    /// The port to bind; 0 picks a free one.
    pub port: u16,
    /// The longest a request may take before it fails with DEADLINE_EXCEEDED.
    pub timeout: Duration,
}

/// `logging.*`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggingConfig {
    /// The least severe level that is written.
    pub level: LogLevel,
    /// Human-readable lines or one JSON object per line.
    pub format: LogFormat,
    /// Where lines go.
    pub output: LogOutput,
}

/// `logging.level`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// One line per request, among others.
    Debug,
    /// Start-up, shutdown and other notable events.
    Info,
    /// Things an operator should look at.
    Warn,
    /// Failures of the worker itself.
    Error,
}

/// `logging.format`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `logging.output`
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, opened for appending.
    File(PathBuf),
}

/// `wal.*`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalConfig {
    /// The log's directory; `None` keeps everything in memory only.
    pub path: Option<PathBuf>,
    /// When an acknowledged write reaches the disk.
    pub sync: SyncPolicy,
    /// How often the `interval` policy syncs.
    pub sync_interval: Duration,
    /// The log size that triggers a snapshot (and bounds the retained log).
    pub snapshot_bytes: u64,
}

/// `wal.sync`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncPolicy {
    /// fsync before acknowledging; concurrent writers share one fsync.
    Always,
    /// Acknowledge after write(2); fsync every `wal.sync_interval`.
    Interval,
    /// Acknowledge after write(2); leave flushing to the operating system.
    Never,
}

/// The default of `wal.snapshot_bytes`: 64 MiB.
pub const DEFAULT_SNAPSHOT_BYTES: u64 = 64 << 20;

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            path: None,
            sync: SyncPolicy::Always,
            sync_interval: Duration::from_millis(100),
            snapshot_bytes: DEFAULT_SNAPSHOT_BYTES,
        }
    }
}

/// The file's shape, before values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    #[serde(default)]
    grpc: RawGrpc,
    #[serde(default)]
    logging: RawLogging,
    #[serde(default)]
    wal: RawWal,
    #[serde(default)]
    transactions: RawTransactions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawGrpc {
    host: String,
    port: u16,
    timeout: String,
}

impl Default for RawGrpc {
    fn default() -> Self {
        RawGrpc {
            host: "0.0.0.0".into(),
            port: 55055,
            timeout: "4s".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLogging {
    level: LogLevel,
    format: LogFormat,
    output: String,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            level: LogLevel::Info,
            format: LogFormat::Pretty,
            output: "stdout".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWal {
    path: Option<String>,
    sync: SyncPolicy,
    sync_interval: String,
    snapshot_bytes: u64,
}

impl Default for RawWal {
    fn default() -> Self {
        RawWal {
            path: None,
            sync: SyncPolicy::Always,
            sync_interval: "100ms".into(),
            snapshot_bytes: DEFAULT_SNAPSHOT_BYTES,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTransactions {
    ttl: String,
    max_operations: usize,
    max_open: usize,
}

impl Default for RawTransactions {
    fn default() -> Self {
        let limits = crate::txn::Limits::default();
        RawTransactions {
            ttl: "60s".into(),
            max_operations: limits.max_operations,
            max_open: limits.max_open,
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Unreadable {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        Self::from_yaml(&text)
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::from_yaml(EMBEDDED_DEFAULT)
    }

    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let raw: RawConfig =
            serde_path_to_error::deserialize(deserializer).map_err(describe_shape_error)?;
        raw.validate()
    }
}

/// Turns a serde error into `key: problem`, in the words of a config file
/// rather than of Rust types.
fn describe_shape_error(err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let message = err.into_inner().to_string();
    // serde_yaml starts nested messages with the path (or its parent) again.
    let parent = path.rsplit_once('.').map_or("", |(parent, _)| parent);
    let message = message
        .strip_prefix(&format!("{path}: "))
        .or_else(|| message.strip_prefix(&format!("{parent}: ")))
        .unwrap_or(&message)
        .replace("expected u16", "expected a port number from 0 to 65535")
        .replace("expected u64", "expected a number of bytes")
        .replace("expected usize", "expected a whole number")
        .replace("unknown field", "unknown key")
        .replace("duplicate field", "duplicate key");
    let message = replace_struct_names(&message);
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let key = if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
        return ConfigError::invalid(&key, "is required");
    }
    ConfigError::Invalid {
        key: path,
        problem: message,
    }
}

/// `expected struct RawGrpc` means "expected a mapping" to a config author.
fn replace_struct_names(message: &str) -> String {
    match message.find("struct Raw") {
        Some(start) => {
            let end = message[start + 7..]
                .find(|c: char| !c.is_alphanumeric())
                .map_or(message.len(), |i| start + 7 + i);
            format!("{}a mapping{}", &message[..start], &message[end..])
        }
        None => message.to_owned(),
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::invalid("name", "must not be empty"));
        }
        Ok(Config {
            name: self.name,
            grpc: self.grpc.validate()?,
            logging: self.logging.validate()?,
            wal: self.wal.validate()?,
            transactions: self.transactions.validate()?,
        })
    }
}

impl RawGrpc {
    fn validate(self) -> Result<GrpcConfig, ConfigError> {
        let host = self.host.parse().map_err(|_| {
            ConfigError::invalid("grpc.host", format!("{:?} is not an IP address", self.host))
        })?;
        let timeout = parse_duration(&self.timeout, "grpc.timeout")?;
        Ok(GrpcConfig {
            host,
            port: self.port,
            timeout,
        })
    }
}

impl RawLogging {
    fn validate(self) -> Result<LoggingConfig, ConfigError> {
        let output = match self.output.as_str() {
            "" => return Err(ConfigError::invalid("logging.output", "must not be empty")),
            "stdout" => LogOutput::Stdout,
            "stderr" => LogOutput::Stderr,
            path => LogOutput::File(PathBuf::from(path)),
        };
        Ok(LoggingConfig {
            level: self.level,
            format: self.format,
            output,
        })
    }
}

impl RawWal {
    fn validate(self) -> Result<WalConfig, ConfigError> {
        let path = match self.path {
            Some(path) if path.is_empty() => {
                return Err(ConfigError::invalid("wal.path", "must not be empty"));
            }
            path => path.map(PathBuf::from),
        };
        if self.snapshot_bytes == 0 {
            return Err(ConfigError::invalid(
                "wal.snapshot_bytes",
                "must be greater than zero",
            ));
        }
        Ok(WalConfig {
            path,
            sync: self.sync,
            sync_interval: parse_duration(&self.sync_interval, "wal.sync_interval")?,
            snapshot_bytes: self.snapshot_bytes,
        })
    }
}

impl RawTransactions {
    fn validate(self) -> Result<crate::txn::Limits, ConfigError> {
        let ttl = parse_duration(&self.ttl, "transactions.ttl")?;
        for (key, value) in [
            ("transactions.max_operations", self.max_operations),
            ("transactions.max_open", self.max_open),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        Ok(crate::txn::Limits {
            ttl,
            max_operations: self.max_operations,
            max_open: self.max_open,
        })
    }
}

/// Parses a positive duration such as `500ms`, `4s`, `1m` or `1m30s`.
pub fn parse_duration(text: &str, key: &str) -> Result<Duration, ConfigError> {
    let duration = humantime::parse_duration(text)
        .map_err(|err| ConfigError::invalid(key, format!("invalid duration {text:?}: {err}")))?;
    if duration.is_zero() {
        return Err(ConfigError::invalid(key, "must be longer than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests;
