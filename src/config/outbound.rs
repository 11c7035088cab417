//! The keys of a node that *calls* another kind of node over TLS with a
//! token: a worker calling its masters (`master.tls.*`, `master.token_file`)
//! and a master calling its workers (`master.workers_tls.*`,
//! `master.workers_token_file`).
//!
//! ```yaml
//! tls:
//!   ca_file: /etc/distgo/ca.pem     # the CA whose certificates the callee presents
//!   server_name: db.internal        # optional: the name the certificate must carry
//! ```
//!
//! The two sides share this shape on purpose: the same CA file and the
//! same rules about names serve both directions. Only the shape and the
//! name are checked here; the files are read when the node starts
//! ([`crate::server::outbound`]), so that a missing CA file stops it with
//! exit code 2 and the key at fault, like every other bad value.

use std::path::PathBuf;

use rustls::pki_types::ServerName;
use serde::Deserialize;

use super::{ConfigError, network::path};

/// A validated `*.tls` section of a calling node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundTls {
    /// `ca_file`: the PEM certificates the callee's chain must end in.
    pub ca_file: PathBuf,
    /// `server_name`: the name the callee's certificate must carry; `None`:
    /// the host of the address called (an IP address or a DNS name).
    pub server_name: Option<String>,
}

/// A `*.tls` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutboundTls {
    ca_file: String,
    server_name: Option<String>,
}

impl RawOutboundTls {
    /// Checks the section found under `prefix` (`master.tls`,
    /// `master.workers_tls`); errors name `prefix.ca_file` or
    /// `prefix.server_name`.
    pub(crate) fn validate(self, prefix: &str) -> Result<OutboundTls, ConfigError> {
        let ca_file = path(self.ca_file, &format!("{prefix}.ca_file"))?;
        if let Some(name) = &self.server_name
            && ServerName::try_from(name.as_str()).is_err()
        {
            return Err(ConfigError::invalid(
                &format!("{prefix}.server_name"),
                format!("{name:?} is neither a DNS name nor an IP address"),
            ));
        }
        Ok(OutboundTls {
            ca_file,
            server_name: self.server_name,
        })
    }
}

/// A token file key's value: a path, not empty.
pub(crate) fn token_file(text: String, key: &str) -> Result<PathBuf, ConfigError> {
    path(text, key)
}
