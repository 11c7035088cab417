//! The keys that decide who may connect and how much a connection may take:
//! `grpc.max_*`, the timeouts of a connection, `grpc.tls.*` and `auth.*`.
//!
//! Each section is parsed by its own small function, so a later section
//! (a `cluster:` block that reuses `grpc.tls`, say) adds a function rather
//! than growing one. The files these keys name are *not* read here: parsing
//! a configuration has no side effects beyond reading the file itself, and
//! [`crate::server::Security::load`] reads certificates and tokens when the
//! worker starts.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{ConfigError, parse_duration};

/// The default of `grpc.max_request_bytes`: 4 MiB, gRPC's customary bound.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;

/// The default of `grpc.max_concurrent_streams`: hyper's own default.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 200;

/// How the worker bounds connections (`grpc.max_connections` and the
/// connection timeouts); `server::limits` enforces them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections at once; `None`: derived from the open-file limit when
    /// the worker starts.
    pub max_connections: Option<usize>,
    /// Requests in flight on one connection.
    pub max_concurrent_streams: u32,
    /// How often an HTTP/2 PING checks a quiet connection's peer.
    pub keepalive_interval: Duration,
    /// How long a PING may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
    /// How long a connection may have no request in flight before it is
    /// closed.
    pub idle_timeout: Duration,
    /// How long a new connection has to finish its TLS handshake and send the
    /// HTTP/2 connection preface.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: None,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(5 * 60),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// `grpc.tls.*`: the PEM files of the worker's identity, and the CA its
/// clients' certificates must come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// `grpc.tls.cert`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `grpc.tls.key`: the private key of the leaf certificate.
    pub key: PathBuf,
    /// `grpc.tls.client_ca`: when set, clients must present a certificate
    /// signed by one of these (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// `auth.*`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `auth.tokens_file`: the bearer tokens and their roles; `None` turns
    /// authentication off.
    pub tokens_file: Option<PathBuf>,
}

/// `grpc.tls:` as written, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: String,
    key: String,
    client_ca: Option<String>,
}

/// `auth:` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    tokens_file: String,
}

/// The keys of [`ConnectionLimits`] as written: counts already typed by
/// serde, durations still text.
pub(super) struct RawLimits<'a> {
    pub max_connections: Option<usize>,
    pub max_concurrent_streams: u32,
    pub keepalive_interval: &'a str,
    pub keepalive_timeout: &'a str,
    pub idle_timeout: &'a str,
    pub handshake_timeout: &'a str,
}

impl RawLimits<'_> {
    pub(super) fn validate(self) -> Result<ConnectionLimits, ConfigError> {
        if self.max_connections == Some(0) {
            return Err(ConfigError::invalid(
                "grpc.max_connections",
                "must be at least 1",
            ));
        }
        if self.max_concurrent_streams == 0 {
            return Err(ConfigError::invalid(
                "grpc.max_concurrent_streams",
                "must be at least 1",
            ));
        }
        Ok(ConnectionLimits {
            max_connections: self.max_connections,
            max_concurrent_streams: self.max_concurrent_streams,
            keepalive_interval: parse_duration(self.keepalive_interval, "grpc.keepalive_interval")?,
            keepalive_timeout: parse_duration(self.keepalive_timeout, "grpc.keepalive_timeout")?,
            idle_timeout: parse_duration(self.idle_timeout, "grpc.idle_timeout")?,
            handshake_timeout: parse_duration(self.handshake_timeout, "grpc.handshake_timeout")?,
        })
    }
}

/// `grpc.max_request_bytes`: at least one byte, and no more than a gRPC
/// frame's 32-bit length can say.
pub(super) fn max_request_bytes(value: u64) -> Result<usize, ConfigError> {
    const KEY: &str = "grpc.max_request_bytes";
    if value == 0 {
        return Err(ConfigError::invalid(KEY, "must be at least 1"));
    }
    match usize::try_from(value) {
        Ok(bytes) if value <= u64::from(u32::MAX) => Ok(bytes),
        _ => Err(ConfigError::invalid(
            KEY,
            format!(
                "must be at most {} (a gRPC message's 32-bit length)",
                u32::MAX
            ),
        )),
    }
}

impl RawTls {
    pub(super) fn validate(self) -> Result<TlsFiles, ConfigError> {
        Ok(TlsFiles {
            cert: path(self.cert, "grpc.tls.cert")?,
            key: path(self.key, "grpc.tls.key")?,
            client_ca: self
                .client_ca
                .map(|ca| path(ca, "grpc.tls.client_ca"))
                .transpose()?,
        })
    }
}

impl RawAuth {
    pub(crate) fn validate(self) -> Result<AuthConfig, ConfigError> {
        Ok(AuthConfig {
            tokens_file: Some(path(self.tokens_file, "auth.tokens_file")?),
        })
    }
}

pub(super) fn path(text: String, key: &str) -> Result<PathBuf, ConfigError> {
    if text.is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    Ok(PathBuf::from(text))
}
