//! # The master's configuration
//!
//! `distgo-master --config PATH` reads YAML in the worker's style; without
//! `--config` it runs [`EMBEDDED_DEFAULT`] (`fixtures/master/master.yaml`):
//! one master on port 55056 that knows no replica set until workers
//! register with it.
//!
//! ```yaml
//! name: master_1
//! grpc:                   # every grpc.* key of the worker, same meaning
//!   port: 55056
//!   timeout: 4s
//! logging:                # as the worker's
//!   level: info
//! auth:                   # as the worker's; the client's token is passed on to the workers
//!   tokens_file: /etc/distgo/tokens
//! master:
//!   sets:                 # replica set name -> the addresses of its members
//!     a: [127.0.0.1:56001, 127.0.0.1:56002, 127.0.0.1:56003]
//!     b: [127.0.0.1:56011]
//!   placement: hash       # hash | least_loaded
//!   refresh: 2s           # how often each set's databases and leader are re-read
//!   registration_ttl: 15s # a registration not renewed this long expires
//!   workers_tls:          # the workers serve TLS
//!     ca_file: /etc/distgo/ca.pem
//!     server_name: worker.internal   # optional; default: the host of each member address
//!   workers_token_file: /etc/distgo/master-token   # the token every call to a worker carries
//! wal:                    # the catalog's log, as the worker's wal.*; no path: in memory
//!   path: data/master-1
//! cluster:                # the masters' catalog group, as the worker's cluster.*; absent: a catalog of one
//!   node_id: 1
//!   bootstrap: true       # on one master: form the group at its first start
//!   peers:                # every master of the group, this one included
//!     1: 127.0.0.1:55056
//!     2: 127.0.0.1:55057
//!     3: 127.0.0.1:55058
//! ```
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `name`, `grpc.*`, `logging.*`, `auth.*` | | | exactly as for the worker ([`crate::config`]), except that `grpc.port` defaults to `55056` |
//! | `master.sets` | map name → list of `host:port` | none | replica sets known from the start; names are 1-64 characters of `[a-zA-Z0-9._-]`. Workers that register add sets and members ([`super::cluster`]) |
//! | `master.placement` | `hash` \| `least_loaded` | `hash` | where CreateDatabase puts a new database ([`super::catalog`]) |
//! | `master.refresh` | duration | `2s` | how often the catalog re-reads every set's databases and leader |
//! | `master.registration_ttl` | duration | `15s` (3 × the workers' default `master.interval`) | a registration not renewed within this expires: the worker leaves ListWorkers and its set, as Unregister would ([`super::cluster`]) |
//! | `master.workers_tls.ca_file` | path | none: plaintext | the workers serve TLS: call them over TLS, trusting the PEM CA certificates in this file (and presenting the master's own `grpc.tls` certificate, if it has one, for workers with `grpc.tls.client_ca`) |
//! | `master.workers_tls.server_name` | DNS name or IP | the host of each member address | the name every worker's certificate must carry |
//! | `master.workers_token_file` | path | none: the client's token is passed on | a file whose first line is the token every call to a worker carries, in place of the client's: an `admin` token of the workers' `auth.tokens_file`. Needs `auth.tokens_file`, since the master then is the only check of who may do what |
//! | `wal.*` | | | the catalog's log ([`super::placements`]), every key as the worker's `wal.*`; without `wal.path` the catalog is kept in memory and a restarted master finds databases by asking the sets |
//! | `cluster.*` | | none: a catalog of one | the masters that keep the catalog together, every key as the worker's `cluster.*` (`node_id`, `peers` listing the masters' own addresses, `bootstrap`, `heartbeat`, `election_timeout`, `token_file`, ...); needs `wal.path`, and is refused beside `grpc.tls` (catalog writes between masters are plaintext) |
//!
//! Parsing reuses the worker's own pieces (`RawGrpc`, `RawLogging`,
//! `RawAuth`, the error wording of [`ConfigError`]), so a key that both
//! nodes have is checked, and reported, the same way: strict, the key
//! named, exit code 2. `fixtures/master/bad/` holds a broken file per rule,
//! each with the `# expect:` line it must produce.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::{
    config::{
        AuthConfig, ClusterConfig, Config, ConfigError, GrpcConfig, LoggingConfig, OutboundTls,
        RawAuth, RawCluster, RawGrpc, RawLogging, RawOutboundTls, RawWal, WalConfig,
        check_peer_address, parse_duration, parse_yaml, read_file, token_file, validate_log,
    },
    names::{IdKind, check_id},
};

/// The configuration `distgo-master` runs without `--config`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../fixtures/master/master.yaml");

/// The master's port when `grpc.port` is absent.
pub const DEFAULT_MASTER_PORT: u16 = 55056;

/// A validated master configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterConfig {
    /// The node's name, shown in logs.
    pub name: String,
    /// The gRPC listener (the worker's keys).
    pub grpc: GrpcConfig,
    /// Where and how much to log.
    pub logging: LoggingConfig,
    /// Who may call the master.
    pub auth: AuthConfig,
    /// Replica sets, placement and refresh.
    pub master: MasterSection,
    /// `wal.*`: where the catalog's log is kept (`None` path: in memory).
    pub wal: WalConfig,
    /// `cluster.*`: the masters' catalog group; `None`: a catalog of one.
    pub cluster: Option<ClusterConfig>,
}

/// `master.*`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterSection {
    /// `master.sets`: set name → member addresses.
    pub sets: BTreeMap<String, Vec<String>>,
    /// `master.placement`.
    pub placement: Placement,
    /// `master.refresh`.
    pub refresh: Duration,
    /// `master.registration_ttl`: how long a registration lasts unrenewed.
    pub registration_ttl: Duration,
    /// `master.workers_tls`: call the workers over TLS, trusting this CA.
    pub workers_tls: Option<OutboundTls>,
    /// `master.workers_token_file`: the token every call to a worker carries.
    pub workers_token_file: Option<PathBuf>,
}

/// Where CreateDatabase places a new database.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Rendezvous hashing of the database id over the set names: every
    /// master picks the same set with no coordination.
    #[default]
    Hash,
    /// The set holding the fewest databases, as this master last counted.
    LeastLoaded,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMasterConfig {
    name: String,
    #[serde(default)]
    grpc: RawGrpc,
    #[serde(default)]
    logging: RawLogging,
    auth: Option<RawAuth>,
    #[serde(default)]
    master: RawMaster,
    #[serde(default)]
    wal: RawWal,
    cluster: Option<RawCluster>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMaster {
    sets: BTreeMap<String, Vec<String>>,
    placement: Placement,
    refresh: String,
    registration_ttl: String,
    workers_tls: Option<RawOutboundTls>,
    workers_token_file: Option<String>,
}

impl Default for RawMaster {
    fn default() -> Self {
        RawMaster {
            sets: BTreeMap::new(),
            placement: Placement::Hash,
            refresh: "2s".into(),
            registration_ttl: "15s".into(),
            workers_tls: None,
            workers_token_file: None,
        }
    }
}

impl MasterConfig {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_yaml(&read_file(path)?)
    }

    /// The embedded default: one master on 55056, no sets configured.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::from_yaml(EMBEDDED_DEFAULT)
    }

    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        parse_yaml::<RawMasterConfig>(text)?.validate()
    }
}

impl RawMasterConfig {
    fn validate(self) -> Result<MasterConfig, ConfigError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        let auth = self
            .auth
            .map_or(Ok(AuthConfig::default()), RawAuth::validate)?;
        let master = self.master.validate()?;
        let (wal, cluster) = validate_log(self.wal, self.cluster, &auth)?;
        let grpc = self.grpc.validate(DEFAULT_MASTER_PORT)?;
        if cluster.is_some() && grpc.tls.is_some() {
            // The Raft calls between masters would speak TLS, but a catalog
            // write sent to the leading master would not.
            return Err(invalid(
                "cluster",
                "a catalog group of masters does not speak TLS yet: remove grpc.tls or cluster",
            ));
        }
        if master.workers_token_file.is_some() && auth.tokens_file.is_none() {
            // The workers see the master's token, not the client's: without
            // tokens of its own the master would lend its role to anyone.
            return Err(invalid(
                "master.workers_token_file",
                "needs auth.tokens_file: without it every caller of the master would act with this token",
            ));
        }
        Ok(MasterConfig {
            name: self.name,
            grpc,
            logging: self.logging.validate()?,
            auth,
            master,
            wal,
            cluster,
        })
    }
}

impl MasterConfig {
    /// The catalog's member, described as a worker's configuration: the
    /// catalog is a replica set whose members are the masters, on the
    /// worker's own log, store and Raft code ([`super::placements`]).
    pub fn catalog_member(&self) -> Config {
        Config {
            name: self.name.clone(),
            grpc: self.grpc.clone(),
            logging: self.logging.clone(),
            wal: self.wal.clone(),
            transactions: crate::txn::Limits::default(),
            auth: self.auth.clone(),
            cluster: self.cluster.clone(),
            metrics: None,
            master: None,
        }
    }
}

impl RawMaster {
    fn validate(self) -> Result<MasterSection, ConfigError> {
        for (name, members) in &self.sets {
            let key = format!("master.sets.{name}");
            check_set_name(name, &key)?;
            if members.is_empty() {
                return Err(invalid(&key, "must list at least one member address"));
            }
            for member in members {
                check_peer_address(member)
                    .map_err(|why| invalid(&key, format!("{member:?} {why}")))?;
            }
        }
        Ok(MasterSection {
            sets: self.sets,
            placement: self.placement,
            refresh: parse_duration(&self.refresh, "master.refresh")?,
            registration_ttl: parse_duration(&self.registration_ttl, "master.registration_ttl")?,
            workers_tls: self
                .workers_tls
                .map(|tls| tls.validate("master.workers_tls"))
                .transpose()?,
            workers_token_file: self
                .workers_token_file
                .map(|file| token_file(file, "master.workers_token_file"))
                .transpose()?,
        })
    }
}

/// Checks a replica set's name: 1-64 characters of `[a-zA-Z0-9._-]`, the
/// alphabet of collection ids, so that it can be written anywhere a name
/// can (logs, tokens, YAML keys) without quoting.
pub fn check_set_name(name: &str, key: &str) -> Result<(), ConfigError> {
    check_id(name, IdKind::Child, key).map_err(|violation| invalid(key, violation.description))
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_one_master_on_55056() {
        let config = MasterConfig::embedded_default().unwrap();
        assert_eq!(config.grpc.port, 55056);
        assert!(config.master.sets.is_empty());
        assert_eq!(config.master.placement, Placement::Hash);
    }

    #[test]
    fn sets_placement_and_refresh_are_read() {
        let config = MasterConfig::from_yaml(
            "name: m\nmaster:\n  sets:\n    a: [127.0.0.1:1, 127.0.0.1:2]\n  placement: least_loaded\n  refresh: 500ms\n",
        )
        .unwrap();
        assert_eq!(config.master.sets["a"].len(), 2);
        assert_eq!(config.master.placement, Placement::LeastLoaded);
        assert_eq!(config.master.refresh, Duration::from_millis(500));
    }

    #[test]
    fn the_registration_ttl_defaults_to_three_worker_intervals() {
        let config = MasterConfig::from_yaml("name: m\n").unwrap();
        assert_eq!(config.master.registration_ttl, Duration::from_secs(15));
        let config = MasterConfig::from_yaml("name: m\nmaster:\n  registration_ttl: 1m\n").unwrap();
        assert_eq!(config.master.registration_ttl, Duration::from_secs(60));
    }

    #[test]
    fn the_workers_tls_and_token_keys_are_read() {
        let config = MasterConfig::from_yaml(
            "name: m\nauth:\n  tokens_file: t\nmaster:\n  workers_tls:\n    ca_file: ca.pem\n    server_name: w.internal\n  workers_token_file: tok\n",
        )
        .unwrap();
        let tls = config.master.workers_tls.unwrap();
        assert_eq!(tls.ca_file, Path::new("ca.pem"));
        assert_eq!(tls.server_name.as_deref(), Some("w.internal"));
        assert_eq!(config.master.workers_token_file.unwrap(), Path::new("tok"));
    }

    #[test]
    fn the_catalog_fixtures_are_one_group_of_three_masters() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/master/catalog");
        let configs: Vec<MasterConfig> = (1..=3)
            .map(|n| MasterConfig::load(&dir.join(format!("master-{n}.yaml"))).unwrap())
            .collect();
        let first = configs[0].cluster.clone().unwrap();
        let mut bootstraps = 0;
        for (index, config) in configs.iter().enumerate() {
            let cluster = config.cluster.as_ref().unwrap();
            assert_eq!(cluster.node_id, index as u64 + 1);
            assert_eq!(cluster.peers, first.peers, "the same group everywhere");
            let own = format!("127.0.0.1:{}", config.grpc.port);
            assert_eq!(
                cluster.peers[&cluster.node_id], own,
                "its own entry is its port"
            );
            assert!(config.wal.path.is_some());
            assert_eq!(config.master.sets, configs[0].master.sets);
            bootstraps += usize::from(cluster.bootstrap);
        }
        assert_eq!(bootstraps, 1, "exactly one master forms the group");
    }

    /// Every file in `fixtures/master/bad/` starts with `# expect: MESSAGE`.
    #[test]
    fn every_bad_master_config_fails_with_its_expected_message() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/master/bad");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let expected = text
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{} lacks an `# expect:` line", path.display()));
            // A bad value, or (once the values are fine) a file one names.
            let err = MasterConfig::from_yaml(&text)
                .and_then(|config| crate::master::Master::load_security(&config).map(drop))
                .unwrap_err();
            assert_eq!(err.to_string(), expected, "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 5, "only {seen} bad master configs");
    }
}
