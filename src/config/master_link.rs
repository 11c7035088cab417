//! `master.*` in a *worker's* configuration: the masters it registers with.
//!
//! ```yaml
//! master:
//!   address: 127.0.0.1:55056   # one master, or a list: [host:port, host:port]
//!   set: shop_a                # the replica set this worker belongs to
//!   advertise: 127.0.0.1:56001 # how masters reach this worker
//!   interval: 5s               # how often the registration is renewed
//!   tls:                       # optional: the masters serve TLS
//!     ca_file: /etc/distgo/ca.pem
//!     server_name: master.internal   # optional; default: the host of each address
//!   token_file: /etc/distgo/master-token  # optional: the token Register carries
//! ```
//!
//! A master keeps registrations in memory only, so a worker renews its
//! registration every `interval`: a master that restarts knows every worker
//! again within one interval, and a worker never stops serving while no
//! master answers ([`crate::server::registration`]).

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{
    ConfigError,
    outbound::{OutboundTls, RawOutboundTls, token_file},
    parse_duration,
};

/// `master.*`: where the worker registers, and as what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterLink {
    /// `master.address`: every master of the HA group, `host:port`.
    pub addresses: Vec<String>,
    /// `master.set`: the replica set this worker serves; `None`: the
    /// worker's `name` (a standalone worker is a set of one).
    pub set: Option<String>,
    /// `master.advertise`: the address masters call this worker at; `None`:
    /// its own `cluster.peers` entry, or the address it listens on.
    pub advertise: Option<String>,
    /// `master.interval`: how often the registration is renewed.
    pub interval: Duration,
    /// `master.tls`: call the masters over TLS, trusting this CA.
    pub tls: Option<OutboundTls>,
    /// `master.token_file`: the token Register carries (an `admin` token of
    /// the masters); `None`: `cluster.token_file`'s, if any.
    pub token_file: Option<PathBuf>,
}

/// One address or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Addresses {
    One(String),
    Many(Vec<String>),
}

/// `master:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMasterLink {
    address: Addresses,
    set: Option<String>,
    advertise: Option<String>,
    #[serde(default = "default_interval")]
    interval: String,
    tls: Option<RawOutboundTls>,
    token_file: Option<String>,
}

fn default_interval() -> String {
    "5s".into()
}

impl RawMasterLink {
    pub(super) fn validate(self) -> Result<MasterLink, ConfigError> {
        let addresses = match self.address {
            Addresses::One(one) => vec![one],
            Addresses::Many(many) => many,
        };
        if addresses.is_empty() {
            return Err(ConfigError::invalid(
                "master.address",
                "must name at least one master",
            ));
        }
        for address in &addresses {
            super::check_peer_address(address).map_err(|why| {
                ConfigError::invalid("master.address", format!("{address:?} {why}"))
            })?;
        }
        if let Some(advertise) = &self.advertise {
            super::check_peer_address(advertise).map_err(|why| {
                ConfigError::invalid("master.advertise", format!("{advertise:?} {why}"))
            })?;
        }
        if let Some(set) = &self.set {
            crate::master::config::check_set_name(set, "master.set")?;
        }
        Ok(MasterLink {
            addresses,
            set: self.set,
            advertise: self.advertise,
            interval: parse_duration(&self.interval, "master.interval")?,
            tls: self.tls.map(|tls| tls.validate("master.tls")).transpose()?,
            token_file: self
                .token_file
                .map(|file| token_file(file, "master.token_file"))
                .transpose()?,
        })
    }
}
