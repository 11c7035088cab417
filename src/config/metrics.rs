//! `metrics.*`: where the Prometheus endpoint listens (see [`crate::metrics`]).
//!
//! The section is optional and so is the endpoint: without `metrics.port`
//! the worker serves no metrics and records no request metrics at all.

use std::net::IpAddr;

use serde::Deserialize;

use super::ConfigError;

/// `metrics.*`: the HTTP endpoint Prometheus scrapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `metrics.host`: the address to bind; by default the same as `grpc.host`.
    pub host: IpAddr,
    /// `metrics.port`: the port to bind; 0 picks a free one (logged at start-up).
    pub port: u16,
}

/// `metrics:` as written, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    port: Option<u16>,
    host: Option<String>,
}

impl RawMetrics {
    /// The endpoint, or `None` when no port is given; `grpc_host` is the
    /// default host.
    pub(super) fn validate(self, grpc_host: IpAddr) -> Result<Option<MetricsConfig>, ConfigError> {
        let host = match &self.host {
            None => grpc_host,
            Some(text) => text.parse().map_err(|_| {
                ConfigError::invalid("metrics.host", format!("{text:?} is not an IP address"))
            })?,
        };
        match self.port {
            Some(port) => Ok(Some(MetricsConfig { host, port })),
            None if self.host.is_some() => Err(ConfigError::invalid(
                "metrics.port",
                "is required with metrics.host: without a port no metrics are served",
            )),
            None => Ok(None),
        }
    }
}
