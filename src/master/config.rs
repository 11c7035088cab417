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
//! ```
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `name`, `grpc.*`, `logging.*`, `auth.*` | | | exactly as for the worker ([`crate::config`]), except that `grpc.port` defaults to `55056` |
//! | `master.sets` | map name → list of `host:port` | none | replica sets known from the start; names are 1-64 characters of `[a-zA-Z0-9._-]`. Workers that register add sets and members ([`super::cluster`]) |
//! | `master.placement` | `hash` \| `least_loaded` | `hash` | where CreateDatabase puts a new database ([`super::catalog`]) |
//! | `master.refresh` | duration | `2s` | how often the catalog re-reads every set's databases and leader |
//!
//! Parsing reuses the worker's own pieces (`RawGrpc`, `RawLogging`,
//! `RawAuth`, the error wording of [`ConfigError`]), so a key that both
//! nodes have is checked, and reported, the same way: strict, the key
//! named, exit code 2. `fixtures/master/bad/` holds a broken file per rule,
//! each with the `# expect:` line it must produce.

use std::{collections::BTreeMap, path::Path, time::Duration};

use serde::Deserialize;

use crate::{
    config::{
        AuthConfig, ConfigError, GrpcConfig, LoggingConfig, RawAuth, RawGrpc, RawLogging,
        check_peer_address, parse_duration, parse_yaml, read_file,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMaster {
    sets: BTreeMap<String, Vec<String>>,
    placement: Placement,
    refresh: String,
}

impl Default for RawMaster {
    fn default() -> Self {
        RawMaster {
            sets: BTreeMap::new(),
            placement: Placement::Hash,
            refresh: "2s".into(),
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
        Ok(MasterConfig {
            name: self.name,
            grpc: self.grpc.validate(DEFAULT_MASTER_PORT)?,
            logging: self.logging.validate()?,
            auth,
            master: self.master.validate()?,
        })
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
            let err = MasterConfig::from_yaml(&text).unwrap_err();
            assert_eq!(err.to_string(), expected, "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 5, "only {seen} bad master configs");
    }
}
