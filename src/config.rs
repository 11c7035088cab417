//! Worker configuration, read from YAML.
//!
//! ```yaml
//! name: worker_1          # required
//! grpc:
//!   host: 0.0.0.0         # optional
//!   port: 55055           # 0: any free port
//!   timeout: 4s           # per-request bound
//!   max_request_bytes: 4194304  # optional: the largest request message
//!   tls:                  # optional; absent: plaintext
//!     cert: /etc/distgo/worker.pem
//!     key: /etc/distgo/worker.key
//!     client_ca: /etc/distgo/clients-ca.pem  # optional: require client certificates
//! auth:                   # optional; absent: every caller is served
//!   tokens_file: /etc/distgo/tokens  # `TOKEN [ro|rw|admin]` per line
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
//! Absent keys take the default in the table. Durations are written
//! `500ms`, `4s`, `1m`, `1m30s`; sizes are plain numbers of bytes.
//!
//! | key | default | what it does |
//! |---|---|---|
//! | `name` | (required) | the node's name, in logs |
//! | `grpc.host` | `0.0.0.0` | the address to bind; set `127.0.0.1` unless clients on other hosts must reach the worker |
//! | `grpc.port` | `55055` | the port; `0` picks a free one (the bound address is logged) |
//! | `grpc.timeout` | `4s` | the longest a request may run: DEADLINE_EXCEEDED past it |
//! | `grpc.max_request_bytes` | `4194304` (4 MiB) | the largest request message; RESOURCE_EXHAUSTED past it |
//! | `grpc.max_connections` | the open-file limit − 64, at most 10 000 | connections at once; when full, a new one closes the connection idle the longest (or refuses itself when every connection is busy) |
//! | `grpc.max_concurrent_streams` | `200` | requests in flight on one connection (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`) |
//! | `grpc.keepalive_interval` | `60s` | how often an HTTP/2 PING checks a quiet connection's peer |
//! | `grpc.keepalive_timeout` | `20s` | a PING unanswered this long closes the connection |
//! | `grpc.idle_timeout` | `5m` | a connection with no request in flight for this long is closed (GOAWAY) |
//! | `grpc.handshake_timeout` | `10s` | a connection must finish its TLS handshake and send the HTTP/2 preface within this, or it is closed |
//! | `grpc.tls.cert` | none: plaintext | PEM certificate chain, leaf first; with `grpc.tls.key` it switches the worker to TLS |
//! | `grpc.tls.key` | none | PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1) |
//! | `grpc.tls.client_ca` | none | PEM certificates of the CA that signs client certificates: a client without one is refused (mTLS) |
//! | `auth.tokens_file` | none: no auth | one bearer token per line, `TOKEN [ro\|rw\|admin]`; `#` starts a comment; re-read on SIGHUP |
//! | `logging.level` | `info` | `trace`, `debug`, `info`, `warn`, `error` |
//! | `logging.format` | `pretty` | `pretty` or `json` (one object per line) |
//! | `logging.output` | `stdout` | `stdout`, `stderr` or a file path (appended) |
//! | `wal.path` | none: memory only | the write-ahead log's directory |
//! | `wal.sync` | `always` | `always` (fsync before ack), `interval`, `never` |
//! | `wal.sync_interval` | `100ms` | how often `interval` syncs |
//! | `wal.snapshot_bytes` | `67108864` (64 MiB) | the log size that triggers a snapshot |
//! | `transactions.ttl` | `60s` | open transactions expire this long after Begin |
//! | `transactions.max_operations` | `500` | operations per transaction |
//! | `transactions.max_open` | `10000` | transactions open at once |
//!
//! The files that `grpc.tls.*` and `auth.tokens_file` name are read when the
//! worker starts ([`crate::server::Security::load`]), before it binds: one
//! that is missing, unreadable, not PEM, or a key that does not belong to
//! its certificate stops it with exit code 2 and a message naming the key,
//! like any other bad value.
//!
//! Parsing is strict on purpose. A misspelt key (`timout:`) silently falling
//! back to a default is the kind of mistake that is found in production, so
//! unknown keys, wrong types and bad values all fail, before the worker binds
//! its port, with one line that names the key: `grpc.timeout: invalid
//! duration "4x"`. Two steps make that possible: serde (with
//! `deny_unknown_fields`, and `serde_path_to_error` to know the key) checks
//! the shape, then a validation step turns raw strings (durations, addresses,
//! paths) into typed values.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

mod network;

pub use self::network::{
    AuthConfig, ConnectionLimits, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_REQUEST_BYTES,
    TlsFiles,
};
use self::network::{RawAuth, RawLimits, RawTls};

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
    /// Who may call the worker.
    pub auth: AuthConfig,
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
    /// The largest request message; RESOURCE_EXHAUSTED past it.
    pub max_request_bytes: usize,
    /// Bounds on connections: how many, how many requests each, how long
    /// they may idle or take to start.
    pub limits: ConnectionLimits,
    /// TLS (and mutual TLS); `None`: plaintext.
    pub tls: Option<TlsFiles>,
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
    auth: Option<RawAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawGrpc {
    host: String,
    port: u16,
    timeout: String,
    max_request_bytes: u64,
    max_connections: Option<usize>,
    max_concurrent_streams: u32,
    keepalive_interval: String,
    keepalive_timeout: String,
    idle_timeout: String,
    handshake_timeout: String,
    tls: Option<RawTls>,
}

impl Default for RawGrpc {
    fn default() -> Self {
        let limits = ConnectionLimits::default();
        let text = |d: Duration| humantime::format_duration(d).to_string();
        RawGrpc {
            host: "0.0.0.0".into(),
            port: 55055,
            timeout: "4s".into(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES as u64,
            max_connections: limits.max_connections,
            max_concurrent_streams: limits.max_concurrent_streams,
            keepalive_interval: text(limits.keepalive_interval),
            keepalive_timeout: text(limits.keepalive_timeout),
            idle_timeout: text(limits.idle_timeout),
            handshake_timeout: text(limits.handshake_timeout),
            tls: None,
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
        .replace("expected u32", "expected a whole number")
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
            auth: self
                .auth
                .map_or(Ok(AuthConfig::default()), RawAuth::validate)?,
        })
    }
}

impl RawGrpc {
    fn validate(self) -> Result<GrpcConfig, ConfigError> {
        let host = self.host.parse().map_err(|_| {
            ConfigError::invalid("grpc.host", format!("{:?} is not an IP address", self.host))
        })?;
        let timeout = parse_duration(&self.timeout, "grpc.timeout")?;
        let limits = RawLimits {
            max_connections: self.max_connections,
            max_concurrent_streams: self.max_concurrent_streams,
            keepalive_interval: &self.keepalive_interval,
            keepalive_timeout: &self.keepalive_timeout,
            idle_timeout: &self.idle_timeout,
            handshake_timeout: &self.handshake_timeout,
        }
        .validate()?;
        Ok(GrpcConfig {
            host,
            port: self.port,
            timeout,
            max_request_bytes: network::max_request_bytes(self.max_request_bytes)?,
            limits,
            tls: self.tls.map(RawTls::validate).transpose()?,
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
