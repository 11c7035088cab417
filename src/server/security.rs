//! # Security: what to set before a worker is exposed
//!
//! Out of the box a worker listens on `0.0.0.0:55055` in plaintext and
//! serves anyone who can reach the port, TruncateWAL included. That is the
//! contract's example and right for a laptop; it is wrong for any network
//! you do not control. Before a worker is reachable from other hosts, set:
//!
//! 1. **`grpc.host`** to the one address clients use (`127.0.0.1` when only
//!    local processes or a sidecar talk to it). The default binds every
//!    interface.
//! 2. **`grpc.tls.cert` and `grpc.tls.key`**: the worker then speaks TLS
//!    only, and a plaintext client is refused at the handshake. Add
//!    **`grpc.tls.client_ca`** to accept only clients with a certificate
//!    from that CA (mutual TLS) — the usual choice between nodes.
//! 3. **`auth.tokens_file`**: every call except the health check then needs
//!    `authorization: Bearer <token>`. Give applications `rw` tokens,
//!    dashboards and backups `ro`, and keep `admin` (TruncateWAL, cluster
//!    calls) for operators. Without it, TruncateWAL is open to every caller.
//!    Tokens travel in headers: use them only together with TLS.
//!
//! The connection limits (`grpc.max_connections`, `grpc.idle_timeout`,
//! `grpc.handshake_timeout`, keepalive, `grpc.max_concurrent_streams`,
//! `grpc.max_request_bytes`) have defaults that hold off idle and slow
//! connections already (see [`super::limits`]); lower `max_connections` if
//! the worker shares its open-file limit with other work.
//!
//! A tokens file is a secret: `chmod 600` it, owned by the worker's user.
//! Send the worker SIGHUP after editing it; connections stay up.
//!
//! ## What each layer does
//!
//! ```text
//! TCP accept ─▶ limits: connection count, handshake deadline, idle timeout
//!            ─▶ tls:    TLS handshake (client certificate with client_ca)
//!            ─▶ HTTP/2 (hyper): streams per connection, keepalive PINGs
//!            ─▶ auth:   bearer token and role, per request
//!            ─▶ edge:   deadline, message size, undecodable requests
//!            ─▶ api:    the handlers
//! ```
//!
//! [`Security`] gathers what the files of the configuration say: it is
//! loaded once at start-up, so a bad file fails the start (exit code 2),
//! not the first request.

use std::sync::Arc;

use super::{auth::Auth, outbound::Outbound, tls::Tls};
use crate::config::{Config, ConfigError};

/// The worker's TLS identity and tokens, read from the files the
/// configuration names.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// TLS, when `grpc.tls` is set.
    pub tls: Option<Tls>,
    /// The tokens, when `auth.tokens_file` is set.
    pub auth: Option<Arc<Auth>>,
    /// The token this member presents to its peers (`cluster.token_file`).
    pub peer_token: Option<String>,
    /// How this node calls the other kind of node: a worker its masters
    /// (`master.tls`, `master.token_file`), a master its workers
    /// (`master.workers_tls`, `master.workers_token_file`).
    pub outbound: Outbound,
}

impl Security {
    /// Reads and checks `grpc.tls.*` and `auth.tokens_file`. The error names
    /// the key whose file is at fault.
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        let tls = config.grpc.tls.as_ref().map(Tls::load).transpose()?;
        let auth = match &config.auth.tokens_file {
            Some(path) => Some(Arc::new(Auth::load(path)?)),
            None => None,
        };
        let peer_token = config
            .cluster
            .as_ref()
            .and_then(|c| c.token_file.as_deref())
            .map(|path| read_token(path, "cluster.token_file"))
            .transpose()?;
        // Registration carried `cluster.token_file`'s token before
        // `master.token_file` existed; a member without the new key keeps
        // doing so.
        let outbound = match &config.master {
            Some(link) => Outbound::load(
                link.tls.as_ref(),
                "master.tls",
                link.token_file.as_deref(),
                "master.token_file",
                tls.as_ref(),
            )?
            .or_token(peer_token.as_deref()),
            None => Outbound::default(),
        };
        Ok(Security {
            tls,
            auth,
            peer_token,
            outbound,
        })
    }

    /// How this member calls its peers: with its TLS identity and token.
    pub fn peer_credentials(&self) -> crate::replication::raft::PeerCredentials {
        crate::replication::raft::PeerCredentials {
            tls: self.tls.clone(),
            token: self.peer_token.clone(),
        }
    }

    /// Re-reads the tokens file on every SIGHUP, for as long as the returned
    /// task runs (the server aborts it when it stops). A file that no longer
    /// loads is logged and the tokens in force stay.
    #[cfg(unix)]
    pub(crate) fn reload_on_sighup(&self) -> Option<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let auth = self.auth.clone()?;
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGHUP: the tokens file will not be reloaded");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match auth.reload() {
                    Ok(tokens) => tracing::info!(tokens, "SIGHUP: tokens file reloaded"),
                    Err(err) => {
                        tracing::error!(%err, "SIGHUP: tokens file not reloaded; the previous tokens stay in force")
                    }
                }
            }
        }))
    }

    /// No signals off Unix: the tokens are read once.
    #[cfg(not(unix))]
    pub(crate) fn reload_on_sighup(&self) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}

/// The token in the file that `key` names (`cluster.token_file`,
/// `master.token_file`, ...): its first line, trimmed.
pub(crate) fn read_token(path: &std::path::Path, key: &str) -> Result<String, ConfigError> {
    let bad = |problem: String| ConfigError::Invalid {
        key: key.into(),
        problem,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| bad(format!("cannot read {}: {err}", path.display())))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(format!(
            "{} must hold one token of visible ASCII characters",
            path.display()
        )));
    }
    Ok(token.to_owned())
}
