//! A worker registers with its masters, and keeps doing so.
//!
//! With `master.address` in its configuration ([`crate::config::MasterLink`])
//! a worker calls `master.cluster.v1.ClusterService/Register` on every
//! master it names, at start and then every `master.interval`, with its
//! replica set's name and the address the masters should call it at.
//! Masters keep registrations in memory, so renewing is how a master that
//! restarted learns the worker again; the worker id that comes back is the
//! same every time (it depends on the set and the address only).
//!
//! When the masters serve TLS and demand tokens, `master.tls.ca_file` and
//! `master.token_file` say whom to trust and what to present
//! ([`super::outbound`]); a failed handshake is logged as such, naming
//! `master.tls`, since retrying will not mend it.
//!
//! Registration never gets in the way of serving: it runs in its own task,
//! each call bounded by a short timeout, a master that does not answer is
//! logged (once per outage, at `warn`; its return at `info`) and tried
//! again at the next interval. The task stops with the server.

use std::{net::SocketAddr, time::Duration};

use super::outbound::{Outbound, describe, tls_cause};
use crate::{
    config::{Config, MasterLink},
    proto::master::cluster::{RegisterRequest, cluster_service_client::ClusterServiceClient},
};

/// How long one Register call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What a worker registers as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The replica set (`Register.database_name`).
    pub set: String,
    /// Where masters call this worker.
    pub address: String,
}

impl Registration {
    /// The registration of the worker configured by `config`, bound at
    /// `bound`: `master.set`, else the node's name; `master.advertise`,
    /// else its own `cluster.peers` entry, else the bound address (an
    /// unspecified host, `0.0.0.0`, announced as loopback).
    pub fn of(config: &Config, link: &MasterLink, bound: SocketAddr) -> Self {
        let set = link.set.clone().unwrap_or_else(|| config.name.clone());
        let own_peer = config
            .cluster
            .as_ref()
            .and_then(|c| c.peers.get(&c.node_id).cloned());
        let address = link.advertise.clone().or(own_peer).unwrap_or_else(|| {
            let host = if bound.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                bound.ip()
            };
            SocketAddr::new(host, bound.port()).to_string()
        });
        Registration { set, address }
    }
}

/// Registers with every master of `link` now and every `link.interval`,
/// until the returned task is aborted.
pub fn spawn(
    link: MasterLink,
    registration: Registration,
    outbound: Outbound,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reachable = vec![None::<bool>; link.addresses.len()];
        loop {
            for (master, was) in link.addresses.iter().zip(reachable.iter_mut()) {
                let outcome = register(master, &registration, &outbound).await;
                match (&outcome, *was) {
                    (Ok(id), Some(true)) => {
                        tracing::trace!(%master, worker = %id, "registration renewed")
                    }
                    (Ok(id), _) => {
                        tracing::info!(%master, worker = %id, set = %registration.set, "registered with the master")
                    }
                    (Err(err), Some(false)) => {
                        tracing::debug!(%master, %err, "master still unreachable")
                    }
                    (Err(err), _) => {
                        tracing::warn!(%master, %err, "cannot register with the master; serving on, retrying every {:?}", link.interval)
                    }
                }
                *was = Some(outcome.is_ok());
            }
            tokio::time::sleep(link.interval).await;
        }
    })
}

async fn register(
    master: &str,
    registration: &Registration,
    outbound: &Outbound,
) -> Result<String, String> {
    let endpoint = outbound
        .endpoint(master)
        .map_err(|err| err.to_string())?
        .connect_timeout(CALL_TIMEOUT)
        .timeout(CALL_TIMEOUT);
    let channel = endpoint
        .connect()
        .await
        .map_err(|err| match tls_cause(&err) {
            Some(why) => format!("TLS handshake with {master} failed: {why} (see master.tls)"),
            None => describe(&err),
        })?;
    let mut request = tonic::Request::new(RegisterRequest {
        database_name: registration.set.clone(),
        address: registration.address.clone(),
    });
    outbound.authorize(&mut request);
    ClusterServiceClient::new(channel)
        .register(request)
        .await
        .map(|response| response.into_inner().worker_id)
        .map_err(|status| format!("{}: {}", status.code(), status.message()))
}
