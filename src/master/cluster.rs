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
//! - **Expiry**: a registration not renewed within `master.registration_ttl`
//!   (default 15 s, three of the workers' default 5 s intervals) is
//!   forgotten exactly as Unregister would forget it. Registering again,
//!   later, brings the worker back with the same id (the id depends on set
//!   and address only).
//!
//! Registrations live in the master's memory. That is enough because
//! workers renew them every `master.interval`
//! ([`crate::server::registration`]): a master that restarts knows every
//! live worker again within one interval, and a worker serves on whether a
//! master answers or not. A worker that dies stops renewing, and its
//! registration expires one ttl after its last renewal; until then routing
//! skips it like any member that does not answer.
//!
//! ## How expiry is checked
//!
//! Two ways, through one function ([`MasterCluster::expire`]):
//!
//! - **lazily, at read time**, in ListWorkers: what an operator lists is
//!   exact, with no sweep's lag;
//! - **on a tokio interval** of a quarter of the ttl
//!   ([`MasterCluster::expire_loop`]), for the members routing tries and
//!   the sets placement picks from. Checking those lazily would mean a
//!   check in every reader of [`Sets`] (targets, names, placement), and a
//!   set made only of dead registrations would still be chosen for new
//!   databases until someone listed the workers. A quarter of the ttl
//!   bounds the lag to 1.25 ttl, and costs one scan of the registrations
//!   per tick: no busy loop, nothing at all while nobody is registered
//!   beyond the wake-up.
//!
//! Register, Unregister and expiry change the registrations and the sets'
//! members under one lock (registrations, then sets), so a renewal that
//! races an expiry leaves the worker both listed and a member, never one
//! of the two.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use parking_lot::Mutex;
use tokio::time::Instant;
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
    ttl: Duration,
    workers: Mutex<BTreeMap<String, Registered>>,
}

/// One registration and when it was last renewed.
#[derive(Debug)]
struct Registered {
    worker: Worker,
    renewed: Instant,
}

impl MasterCluster {
    /// Registrations that add members to `sets` and last `ttl` unrenewed.
    pub fn new(sets: Arc<Sets>, ttl: Duration) -> Self {
        MasterCluster {
            sets,
            ttl,
            workers: Mutex::default(),
        }
    }

    /// Forgets every registration last renewed more than the ttl before
    /// `now`, as Unregister would; returns how many.
    pub fn expire(&self, now: Instant) -> usize {
        let mut workers = self.workers.lock();
        let expired: Vec<String> = workers
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.renewed) > self.ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            if let Some(gone) = workers.remove(id) {
                self.sets
                    .unregister(&gone.worker.database_name, &gone.worker.address);
                tracing::warn!(worker = %id, set = %gone.worker.database_name, address = %gone.worker.address, ttl = ?self.ttl, "registration expired: not renewed within master.registration_ttl");
            }
        }
        expired.len()
    }

    /// Expires registrations every quarter of the ttl, until aborted.
    pub async fn expire_loop(self: Arc<Self>) {
        let period = (self.ttl / 4).max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.expire(Instant::now());
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
        let mut workers = self.workers.lock();
        self.sets
            .register(&request.database_name, &request.address, &id);
        let known = workers.insert(
            id.clone(),
            Registered {
                worker: Worker {
                    worker_id: id.clone(),
                    address: request.address.clone(),
                    database_name: request.database_name.clone(),
                },
                renewed: Instant::now(),
            },
        );
        drop(workers);
        if known.is_none() {
            tracing::info!(worker = %id, set = %request.database_name, address = %request.address, "worker registered");
        }
        Ok(Response::new(RegisterResponse { worker_id: id }))
    }

    async fn list_workers(
        &self,
        _request: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        self.expire(Instant::now());
        let workers = self
            .workers
            .lock()
            .values()
            .map(|r| r.worker.clone())
            .collect();
        Ok(Response::new(ListWorkersResponse { workers }))
    }

    async fn unregister(
        &self,
        request: Request<UnregisterRequest>,
    ) -> Result<Response<()>, Status> {
        let id = request.into_inner().worker_id;
        let mut workers = self.workers.lock();
        let Some(gone) = workers.remove(&id) else {
            return Err(Error::NotFound(format!("worker {}", crate::error::quote(&id))).into());
        };
        self.sets
            .unregister(&gone.worker.database_name, &gone.worker.address);
        drop(workers);
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

    const TTL: Duration = Duration::from_secs(15);

    fn register(address: &str) -> Request<RegisterRequest> {
        Request::new(RegisterRequest {
            database_name: "a".into(),
            address: address.into(),
        })
    }

    async fn listed(cluster: &MasterCluster) -> Vec<String> {
        let answer = cluster
            .list_workers(Request::new(ListWorkersRequest {}))
            .await
            .unwrap();
        let mut addresses: Vec<String> = answer
            .into_inner()
            .workers
            .into_iter()
            .map(|w| w.address)
            .collect();
        addresses.sort();
        addresses
    }

    /// The rule, on tokio's paused clock: listed until one ttl after the
    /// last renewal, then gone from ListWorkers and from the set.
    #[tokio::test(start_paused = true)]
    async fn a_registration_not_renewed_within_the_ttl_expires() {
        let sets = Arc::new(Sets::default());
        let cluster = MasterCluster::new(sets.clone(), TTL);
        cluster.register(register("h:1")).await.unwrap();
        cluster.register(register("h:2")).await.unwrap();
        tokio::time::advance(Duration::from_secs(10)).await;
        cluster.register(register("h:2")).await.unwrap(); // renewed
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            listed(&cluster).await,
            ["h:1", "h:2"],
            "exactly one ttl: kept"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(listed(&cluster).await, ["h:2"]);
        assert_eq!(sets.get("a").unwrap().targets(), ["h:2"]);
        tokio::time::advance(TTL).await;
        assert!(listed(&cluster).await.is_empty());
        assert!(
            sets.names().is_empty(),
            "a set of registrations only goes too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn registering_again_revives_an_expired_worker_with_the_same_id() {
        let cluster = MasterCluster::new(Arc::new(Sets::default()), TTL);
        let first = cluster.register(register("h:1")).await.unwrap();
        tokio::time::advance(TTL * 2).await;
        assert!(listed(&cluster).await.is_empty());
        let again = cluster.register(register("h:1")).await.unwrap();
        assert_eq!(first.into_inner().worker_id, again.into_inner().worker_id);
        assert_eq!(listed(&cluster).await, ["h:1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_keeps_a_statically_configured_member() {
        let sets = Arc::new(Sets::configured(&BTreeMap::from([(
            "a".to_owned(),
            vec!["h:1".to_owned()],
        )])));
        let cluster = MasterCluster::new(sets.clone(), TTL);
        cluster.register(register("h:1")).await.unwrap();
        cluster.register(register("h:9")).await.unwrap();
        tokio::time::advance(TTL * 2).await;
        assert_eq!(cluster.expire(Instant::now()), 2);
        assert_eq!(sets.get("a").unwrap().targets(), ["h:1"]);
    }

    /// The sweep, not only ListWorkers, takes an expired worker out of its
    /// set: routing and placement never read the registrations.
    #[tokio::test(start_paused = true)]
    async fn the_interval_sweep_removes_expired_members_without_a_listing() {
        let sets = Arc::new(Sets::default());
        let cluster = Arc::new(MasterCluster::new(sets.clone(), TTL));
        cluster.register(register("h:1")).await.unwrap();
        let sweep = tokio::spawn(cluster.clone().expire_loop());
        tokio::time::sleep(TTL).await;
        assert_eq!(sets.names(), ["a"], "not expired yet");
        // Within a quarter ttl after expiry, the sweep has run.
        tokio::time::sleep(TTL / 4 + Duration::from_millis(1)).await;
        assert!(sets.names().is_empty());
        sweep.abort();
    }
}
