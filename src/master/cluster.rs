//! `master.cluster.v1.ClusterService`: workers register, operators list.
//!
//! The rules (for the conformance spec):
//!
//! - **Register**(`database_name`, `address`): a worker announces itself.
//!   At this master `database_name` names the **replica set** the worker
//!   belongs to (a worker serves every database of its set; the contract's
//!   field predates replica sets): 1-64 characters of `[a-zA-Z0-9._-]`,
//!   else INVALID_ARGUMENT. `address` is `host:port`, where the master
//!   reaches the worker. The worker joins that set's members (the set is
//!   created if new) and gets a `worker_id`. The id is a function of the
//!   set and the address (`w-` and 16 hex digits of their SHA-256), so
//!   registering again, at this master or at any other, gives the same
//!   id: registration is idempotent and masters need not agree on anything.
//! - **ListWorkers**: every registered worker, by id, with its address and
//!   set (in `database_name`). Members named in `master.sets` are not
//!   registrations and are not listed.
//! - **Unregister**(`worker_id`): forgets the registration (NOT_FOUND if
//!   there is none); the address stops being a member unless
//!   `master.sets` names it. A set that only registrations made is
//!   forgotten with its last worker.
//!
//! Registrations live in the master's memory. That is enough because
//! workers renew them every `master.interval`
//! ([`crate::server::registration`]): a master that restarts knows every
//! live worker again within one interval, and a worker serves on whether a
//! master answers or not. A worker that dies stays registered until it is
//! unregistered; routing skips it like any member that does not answer.

use std::{collections::BTreeMap, sync::Arc};

use parking_lot::Mutex;
use tonic::{Request, Response, Status};

use super::{config::check_set_name, sets::Sets};
use crate::{
    config::check_peer_address,
    error::{Error, Violation},
    proto::master::cluster::{
        ListWorkersRequest, ListWorkersResponse, RegisterRequest, RegisterResponse,
        UnregisterRequest, Worker, cluster_service_server::ClusterService,
    },
};

/// The master's ClusterService.
#[derive(Debug)]
pub struct MasterCluster {
    sets: Arc<Sets>,
    workers: Mutex<BTreeMap<String, Worker>>,
}

impl MasterCluster {
    /// Registrations that add members to `sets`.
    pub fn new(sets: Arc<Sets>) -> Self {
        MasterCluster {
            sets,
            workers: Mutex::default(),
        }
    }
}

/// The id of the worker at `address` in `set`: the same at every master.
pub fn worker_id(set: &str, address: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(set.as_bytes());
    context.update(&[0]);
    context.update(address.as_bytes());
    let digest = context.finish();
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("w-{hex}")
}

fn check(request: &RegisterRequest) -> Result<(), Error> {
    let mut violations = Vec::new();
    if let Err(err) = check_set_name(&request.database_name, "database_name") {
        let problem = match err {
            crate::config::ConfigError::Invalid { problem, .. } => problem,
            other => other.to_string(),
        };
        violations.push(Violation::new("database_name", problem));
    }
    if let Err(why) = check_peer_address(&request.address) {
        violations.push(Violation::new(
            "address",
            format!("{} {why}", crate::error::quote(&request.address)),
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

#[tonic::async_trait]
impl ClusterService for MasterCluster {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let request = request.into_inner();
        check(&request)?;
        let id = worker_id(&request.database_name, &request.address);
        self.sets
            .register(&request.database_name, &request.address, &id);
        let known = self.workers.lock().insert(
            id.clone(),
            Worker {
                worker_id: id.clone(),
                address: request.address.clone(),
                database_name: request.database_name.clone(),
            },
        );
        if known.is_none() {
            tracing::info!(worker = %id, set = %request.database_name, address = %request.address, "worker registered");
        }
        Ok(Response::new(RegisterResponse { worker_id: id }))
    }

    async fn list_workers(
        &self,
        _request: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        let workers = self.workers.lock().values().cloned().collect();
        Ok(Response::new(ListWorkersResponse { workers }))
    }

    async fn unregister(
        &self,
        request: Request<UnregisterRequest>,
    ) -> Result<Response<()>, Status> {
        let id = request.into_inner().worker_id;
        let removed = self.workers.lock().remove(&id);
        let Some(worker) = removed else {
            return Err(Error::NotFound(format!("worker {}", crate::error::quote(&id))).into());
        };
        self.sets.unregister(&worker.database_name, &worker.address);
        tracing::info!(worker = %id, "worker unregistered");
        Ok(Response::new(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_id_is_the_same_at_every_master_and_differs_per_address() {
        assert_eq!(worker_id("a", "h:1"), worker_id("a", "h:1"));
        assert_ne!(worker_id("a", "h:1"), worker_id("a", "h:2"));
        assert_ne!(worker_id("a", "h:1"), worker_id("b", "h:1"));
        assert_eq!(worker_id("a", "h:1").len(), 18);
    }
}
