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
//!   history_bytes: 67108864   # how much history ListWALEntries lists
//! transactions:           # optional
//!   ttl: 60s              # open transactions expire this long after Begin
//!   max_operations: 500   # per transaction
//!   max_open: 10000       # at once
//! metrics:                # optional; absent: no metrics endpoint
//!   port: 9464            # Prometheus scrapes http://HOST:PORT/metrics
//!   host: 127.0.0.1       # optional; default: grpc.host
//! cluster:                # optional; absent: a standalone worker
//!   node_id: 1            # this member's id, unique in its replica set
//!   peers:                # id -> how this member reaches each member (itself included)
//!     1: 127.0.0.1:56001
//!     2: 127.0.0.1:56002
//!     3: 127.0.0.1:56003
//!   bootstrap: true       # on ONE member: form the set from `peers` at first start
//!   heartbeat: 100ms      # how often the leader reminds followers it leads
//!   election_timeout: 500ms..1s   # a follower that hears nothing this long elects
//!   snapshot_entries: 1000000     # snapshot after this many entries (or wal.snapshot_bytes)
//!   read: read_index      # read_index | lease: how a linearizable read is confirmed
//!   request_window: 10m   # how long a request id is remembered for retries
//!   token_file: /etc/distgo/peer-token   # with auth on: the admin token shown to peers
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
//! | `grpc.max_request_bytes` | bytes | `4194304` (4 MiB) | the largest request message; RESOURCE_EXHAUSTED past it |
//! | `grpc.max_connections` | integer ≥ 1 | the open-file limit − 64, at most 10 000 | connections at once; when full, a new one closes the connection idle the longest (or refuses itself when every connection is busy) |
//! | `grpc.max_concurrent_streams` | integer ≥ 1 | `200` | requests in flight on one connection (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`) |
//! | `grpc.keepalive_interval` | duration | `60s` | how often an HTTP/2 PING checks a quiet connection's peer |
//! | `grpc.keepalive_timeout` | duration | `20s` | a PING unanswered this long closes the connection |
//! | `grpc.idle_timeout` | duration | `5m` | a connection with no request in flight for this long is closed (GOAWAY) |
//! | `grpc.handshake_timeout` | duration | `10s` | a connection must finish its TLS handshake and send the HTTP/2 preface within this, or it is closed |
//! | `grpc.tls.cert` | path | none: plaintext | PEM certificate chain, leaf first; with `grpc.tls.key` it switches the worker to TLS |
//! | `grpc.tls.key` | path | none | PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1) |
//! | `grpc.tls.client_ca` | path | none | PEM certificates of the CA that signs client certificates: a client without one is refused (mTLS) |
//! | `auth.tokens_file` | path | none: no auth | one bearer token per line, `TOKEN [ro\|rw\|admin]`; `#` starts a comment; re-read on SIGHUP |
//! | `logging.level` | `trace` \| `debug` \| `info` \| `warn` \| `error` | `info` | `debug` logs one line per request (method, full resource name, status, latency) |
//! | `logging.format` | `pretty` \| `json` | `pretty` | human lines (coloured only on a terminal), or one JSON object per line |
//! | `logging.output` | `stdout` \| `stderr` \| path | `stdout` | a path is opened for appending |
//! | `wal.path` | directory | none (memory only) | the write-ahead log and snapshots; created if missing; relative to the working directory. Without it nothing survives a restart. An unusable directory stops the worker with exit code 2 |
//! | `wal.sync` | `always` \| `interval` \| `never` | `always` | when a write is acknowledged: `always` after fsync (concurrent writes share one fsync), `interval` after write(2) with an fsync every `wal.sync_interval`, `never` after write(2), the OS flushes. See [`crate::wal`] |
//! | `wal.sync_interval` | duration | `100ms` | how often `interval` fsyncs |
//! | `wal.snapshot_bytes` | bytes | `67108864` (64 MiB) | when the log written since the last snapshot passes this size, a snapshot is written and the log that no kept snapshot needs is deleted (two snapshot generations are kept); a replica set member counts its Raft log the same way, beside `cluster.snapshot_entries` |
//! | `wal.history_bytes` | bytes | `67108864` (64 MiB) | how much recent history ListWALEntries can list: the newest records whose encoded size fits, in memory-only mode too. Every member of a replica set must use the same value |
//! | `transactions.ttl` | duration | `60s` | an open transaction expires this long after Begin |
//! | `transactions.max_operations` | integer ≥ 1 | `500` | operations one transaction may hold (RESOURCE_EXHAUSTED past it) |
//! | `transactions.max_open` | integer ≥ 1 | `10000` | transactions open at once (RESOURCE_EXHAUSTED past it) |
//! | `metrics.port` | 0-65535 | none: no endpoint | serves Prometheus metrics at `http://HOST:PORT/metrics` (see [`crate::metrics`]); `0` picks a free port, logged at start-up as `distgo metrics listening` |
//! | `metrics.host` | IP address | `grpc.host` | address the metrics endpoint binds; needs `metrics.port` |
//! | `cluster` | mapping | none (standalone) | makes the worker a member of a replica set (see [`crate::replication::raft`]); needs `wal.path` |
//! | `cluster.node_id` | integer ≥ 1 | required | this member's id, unique in its set |
//! | `cluster.peers` | map id → `host:port` | required | how this member reaches each member, itself included (its own entry is the address it announces); the local map wins over the addresses in the replicated membership |
//! | `cluster.bootstrap` | bool | `false` | on exactly one member: form the set from `peers` at its first start (ignored once the member belongs to a set) |
//! | `cluster.heartbeat` | duration | `100ms` | how often the leader sends heartbeats; shorter than the election timeout |
//! | `cluster.election_timeout` | `MIN..MAX` | `500ms..1s` | a follower that hears no leader for a random time in this range starts an election |
//! | `cluster.snapshot_entries` | integer ≥ 1 | `1000000` | a snapshot is taken after this many entries since the last one, or once `wal.snapshot_bytes` of log were appended since, whichever comes first (a snapshot writes the whole state, so snapshotting often makes a large store's writes slow) |
//! | `cluster.read` | `read_index` \| `lease` | `read_index` | how a linearizable read is confirmed: a round with a majority, or the leader's lease (faster, trusts clocks) |
//! | `cluster.request_window` | duration | `10m` | how long a `distgo-request-id` is remembered, so that a retried write is not applied twice |
//! | `cluster.token_file` | path | none | required with `auth.tokens_file`: a file holding the token this member presents to its peers, which must be an `admin` token in theirs (members' Raft calls need `admin`). With `grpc.tls.*` set, members also call each other over TLS, presenting their own certificate |
//!
//! | `master.address` | `host:port` or a list of them | none (registers with no master) | the masters this worker registers with, at start and every `master.interval`; it serves on whether they answer or not ([`crate::server::registration`]) |
//! | `master.set` | name | the node's `name` | the replica set the worker registers as; required on a `cluster` member (all members of a set name the same set) |
//! | `master.advertise` | `host:port` | its own `cluster.peers` entry, else the bound address | where masters call this worker |
//! | `master.interval` | duration | `5s` | how often the registration is renewed; a master forgets a registration not renewed within its `master.registration_ttl` (`15s` by default: keep the interval well below it) |
//! | `master.tls.ca_file` | path | none: plaintext | the masters serve TLS: call them over TLS, trusting the PEM CA certificates in this file (and presenting this worker's own `grpc.tls` certificate, if it has one, for masters that demand client certificates) |
//! | `master.tls.server_name` | DNS name or IP | the host of each `master.address` | the name the masters' certificates must carry |
//! | `master.token_file` | path | `cluster.token_file` | a file whose first line is the bearer token Register carries: an `admin` token of the masters' `auth.tokens_file` |
//!
//! The files that `grpc.tls.*` and `auth.tokens_file` name are read when the
//! worker starts ([`crate::server::Security::load`]), before it binds: one
//! that is missing, unreadable, not PEM, or a key that does not belong to
//! its certificate stops it with exit code 2 and a message naming the key,
//! like any other bad value.
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

mod master_link;
mod metrics;
mod network;
mod outbound;

pub use self::metrics::MetricsConfig;

pub use self::master_link::MasterLink;
use self::master_link::RawMasterLink;
pub(crate) use self::network::RawAuth;
pub use self::network::{
    AuthConfig, ConnectionLimits, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_REQUEST_BYTES,
    TlsFiles,
};
pub use self::outbound::OutboundTls;
pub(crate) use self::outbound::{RawOutboundTls, token_file};
use self::{
    metrics::RawMetrics,
    network::{RawLimits, RawTls},
};

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
    /// Membership of a replica set; `None` for a standalone worker.
    pub cluster: Option<ClusterConfig>,
    /// The Prometheus endpoint; `None`: no metrics are served.
    pub metrics: Option<MetricsConfig>,
    /// The masters this worker registers with; `None`: it registers with none.
    pub master: Option<MasterLink>,
}

/// `cluster.*`: this worker as a member of a replica set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This member's id (at least 1), unique in its replica set.
    pub node_id: u64,
    /// How this member reaches each member, itself included: `host:port`.
    pub peers: std::collections::BTreeMap<u64, String>,
    /// Whether this member forms the set from `peers` at its first start.
    pub bootstrap: bool,
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// The range an election timeout is drawn from.
    pub election_timeout: (Duration, Duration),
    /// A snapshot is taken after this many entries since the last one.
    pub snapshot_entries: u64,
    /// How a linearizable read is confirmed.
    pub read: ReadMode,
    /// How long a client's request id is remembered, so that a retry is not
    /// applied twice.
    pub request_window: Duration,
    /// A file holding the token this member presents to its peers (an
    /// `admin` token of theirs) when `auth.tokens_file` is set.
    pub token_file: Option<PathBuf>,
}

/// `cluster.read`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// The leader confirms with a majority that it still leads (a round
    /// trip per read, or per batch of reads).
    ReadIndex,
    /// The leader trusts its lease: no round trip while heartbeats keep
    /// arriving, at the price of trusting clocks not to drift apart.
    Lease,
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
    /// The log size that triggers a snapshot.
    pub snapshot_bytes: u64,
    /// How many bytes of recent records ListWALEntries can list (in memory
    /// too). Part of the replicated state's behaviour: every member of a
    /// replica set must use the same value to list the same history.
    pub history_bytes: u64,
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

/// The default of `wal.history_bytes`: 64 MiB.
pub const DEFAULT_HISTORY_BYTES: u64 = 64 << 20;

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            path: None,
            sync: SyncPolicy::Always,
            sync_interval: Duration::from_millis(100),
            snapshot_bytes: DEFAULT_SNAPSHOT_BYTES,
            history_bytes: DEFAULT_HISTORY_BYTES,
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
    cluster: Option<RawCluster>,
    metrics: Option<RawMetrics>,
    master: Option<RawMasterLink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawGrpc {
    host: String,
    /// `None`: the node's default port (the worker's 55055, the master's 55056).
    port: Option<u16>,
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
            port: None,
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
pub(crate) struct RawLogging {
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
pub(crate) struct RawWal {
    path: Option<String>,
    sync: SyncPolicy,
    sync_interval: String,
    snapshot_bytes: u64,
    history_bytes: u64,
}

impl Default for RawWal {
    fn default() -> Self {
        RawWal {
            path: None,
            sync: SyncPolicy::Always,
            sync_interval: "100ms".into(),
            snapshot_bytes: DEFAULT_SNAPSHOT_BYTES,
            history_bytes: DEFAULT_HISTORY_BYTES,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    node_id: u64,
    peers: std::collections::BTreeMap<u64, String>,
    #[serde(default)]
    bootstrap: bool,
    #[serde(default = "default_heartbeat")]
    heartbeat: String,
    #[serde(default = "default_election_timeout")]
    election_timeout: String,
    #[serde(default = "default_snapshot_entries")]
    snapshot_entries: u64,
    #[serde(default = "default_read")]
    read: ReadMode,
    #[serde(default = "default_request_window")]
    request_window: String,
    token_file: Option<String>,
}

fn default_heartbeat() -> String {
    "100ms".into()
}

fn default_election_timeout() -> String {
    "500ms..1s".into()
}

fn default_snapshot_entries() -> u64 {
    1_000_000
}

fn default_read() -> ReadMode {
    ReadMode::ReadIndex
}

fn default_request_window() -> String {
    "10m".into()
}

/// The text of the configuration file at `path`.
pub(crate) fn read_file(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|err| ConfigError::Unreadable {
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

/// YAML text as the raw (not yet validated) configuration `T`, a shape
/// error named by its key ([`describe_shape_error`]).
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(describe_shape_error)
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        Self::from_yaml(&read_file(path)?)
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::from_yaml(EMBEDDED_DEFAULT)
    }

    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        parse_yaml::<RawConfig>(text)?.validate()
    }
}

/// Turns a serde error into `key: problem`, in the words of a config file
/// rather than of Rust types.
pub(crate) fn describe_shape_error(
    err: serde_path_to_error::Error<serde_yaml::Error>,
) -> ConfigError {
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
        let auth = self
            .auth
            .map_or(Ok(AuthConfig::default()), RawAuth::validate)?;
        let (wal, cluster) = validate_log(self.wal, self.cluster, &auth)?;
        let grpc = self.grpc.validate(DEFAULT_WORKER_PORT)?;
        let metrics = match self.metrics {
            Some(raw) => raw.validate(grpc.host)?,
            None => None,
        };
        if let Some(m) = metrics
            && m.port != 0
            && m.port == grpc.port
            && m.host == grpc.host
        {
            return Err(ConfigError::invalid(
                "metrics.port",
                format!("{} is grpc.port already", m.port),
            ));
        }
        let master = self.master.map(RawMasterLink::validate).transpose()?;
        if cluster.is_some() && master.as_ref().is_some_and(|m| m.set.is_none()) {
            return Err(ConfigError::invalid(
                "master.set",
                "is required for a replica set member: every member registers as the same set",
            ));
        }
        Ok(Config {
            name: self.name,
            grpc,
            logging: self.logging.validate()?,
            wal,
            transactions: self.transactions.validate()?,
            auth,
            cluster,
            metrics,
            master,
        })
    }
}

/// Checks `wal.*` and `cluster.*` together: a replica set member (a
/// worker, or a master in the catalog's group) keeps its vote and log on
/// disk, and with tokens it needs one to present to its peers.
pub(crate) fn validate_log(
    wal: RawWal,
    cluster: Option<RawCluster>,
    auth: &AuthConfig,
) -> Result<(WalConfig, Option<ClusterConfig>), ConfigError> {
    let wal = wal.validate()?;
    let cluster = cluster.map(RawCluster::validate).transpose()?;
    if cluster.is_some() && wal.path.is_none() {
        return Err(ConfigError::invalid(
            "cluster",
            "a replica set member needs wal.path: its vote and log must survive a restart",
        ));
    }
    if auth.tokens_file.is_some() && cluster.as_ref().is_some_and(|c| c.token_file.is_none()) {
        return Err(ConfigError::invalid(
            "cluster.token_file",
            "is required with auth.tokens_file: members call each other with an admin token",
        ));
    }
    Ok((wal, cluster))
}

/// The worker's port when `grpc.port` is absent.
pub const DEFAULT_WORKER_PORT: u16 = 55055;

impl RawGrpc {
    /// Checks `grpc.*`; an absent `grpc.port` is `default_port`.
    pub(crate) fn validate(self, default_port: u16) -> Result<GrpcConfig, ConfigError> {
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
            port: self.port.unwrap_or(default_port),
            timeout,
            max_request_bytes: network::max_request_bytes(self.max_request_bytes)?,
            limits,
            tls: self.tls.map(RawTls::validate).transpose()?,
        })
    }
}

impl RawLogging {
    pub(crate) fn validate(self) -> Result<LoggingConfig, ConfigError> {
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
        for (key, value) in [
            ("wal.snapshot_bytes", self.snapshot_bytes),
            ("wal.history_bytes", self.history_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than zero"));
            }
        }
        Ok(WalConfig {
            path,
            sync: self.sync,
            sync_interval: parse_duration(&self.sync_interval, "wal.sync_interval")?,
            snapshot_bytes: self.snapshot_bytes,
            history_bytes: self.history_bytes,
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

impl RawCluster {
    fn validate(self) -> Result<ClusterConfig, ConfigError> {
        if self.node_id == 0 {
            return Err(ConfigError::invalid(
                "cluster.node_id",
                "must be at least 1",
            ));
        }
        if !self.peers.contains_key(&self.node_id) {
            return Err(ConfigError::invalid(
                "cluster.peers",
                format!("must include this member, node {}", self.node_id),
            ));
        }
        for (id, address) in &self.peers {
            if *id == 0 {
                return Err(ConfigError::invalid(
                    "cluster.peers",
                    "ids must be at least 1",
                ));
            }
            check_peer_address(address).map_err(|why| {
                ConfigError::invalid(&format!("cluster.peers.{id}"), format!("{address:?} {why}"))
            })?;
        }
        let heartbeat = parse_duration(&self.heartbeat, "cluster.heartbeat")?;
        let election_timeout = parse_range(&self.election_timeout, "cluster.election_timeout")?;
        if heartbeat >= election_timeout.0 {
            return Err(ConfigError::invalid(
                "cluster.heartbeat",
                "must be shorter than the shortest election timeout",
            ));
        }
        if self.snapshot_entries == 0 {
            return Err(ConfigError::invalid(
                "cluster.snapshot_entries",
                "must be at least 1",
            ));
        }
        Ok(ClusterConfig {
            node_id: self.node_id,
            peers: self.peers,
            bootstrap: self.bootstrap,
            heartbeat,
            election_timeout,
            snapshot_entries: self.snapshot_entries,
            read: self.read,
            request_window: parse_duration(&self.request_window, "cluster.request_window")?,
            token_file: match self.token_file {
                Some(path) if path.is_empty() => {
                    return Err(ConfigError::invalid(
                        "cluster.token_file",
                        "must not be empty",
                    ));
                }
                path => path.map(PathBuf::from),
            },
        })
    }
}

/// Checks a peer address: `host:port`, optionally behind `http://` or
/// `https://`.
pub(crate) fn check_peer_address(address: &str) -> Result<(), &'static str> {
    let bare = address
        .strip_prefix("http://")
        .or_else(|| address.strip_prefix("https://"))
        .unwrap_or(address);
    let (host, port) = bare.rsplit_once(':').ok_or("is not host:port")?;
    if host.is_empty() || host.contains('/') {
        return Err("has no host");
    }
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .map(|_| ())
        .ok_or("has no port from 1 to 65535")
}

/// Parses a range of durations `MIN..MAX` with MIN < MAX.
fn parse_range(text: &str, key: &str) -> Result<(Duration, Duration), ConfigError> {
    let (min, max) = text.split_once("..").ok_or_else(|| {
        ConfigError::invalid(
            key,
            format!("{text:?} is not a range MIN..MAX, e.g. 500ms..1s"),
        )
    })?;
    let (min, max) = (parse_duration(min, key)?, parse_duration(max, key)?);
    if min >= max {
        return Err(ConfigError::invalid(
            key,
            "the minimum must be below the maximum",
        ));
    }
    Ok((min, max))
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
