//! # The master: one address for the whole cluster
//!
//! A replica set ([`crate::replication`]) is a group of workers that hold
//! the same databases. To hold more than one set's machines can, databases
//! are spread over many sets, and clients should not have to know which
//! set holds which database. The master (`distgo-master`) is that one
//! address: it serves the five database services of the contract under
//! package `master.database.v1` (same messages, same numbers) and sends
//! each request to the set that holds its database.
//!
//! ```text
//!             client
//!               │  master.database.v1.DocumentService/GetDocument
//!               ▼
//!   ┌──────── masters (any of them; none leads) ─────────┐
//!   │  router: database id ─▶ catalog cache ─▶ set        │
//!   └──────────────┬────────────────────────┬────────────┘
//!                  ▼ worker.database.v1      ▼
//!        set a: leader ─▶ followers   set b: leader ─▶ followers
//! ```
//!
//! ## Chapters
//!
//! | file | what it teaches |
//! |---|---|
//! | [`config`] | the YAML: `name`, `grpc.*`, `logging.*`, `auth.*` as the worker's, plus `master.*` |
//! | [`catalog`] | where each database lives: the cache, finding, and placing |
//! | [`placements`] | the replicated placements: a replica set of masters, on the worker's own code |
//! | [`moving`] | `master.admin.v1` MoveDatabase: copy, replay the log, fence, switch |
//! | [`router`] | the one path of every routed request |
//! | [`forward`] | one hop to one set: leader hints, retries, deadlines, request ids |
//! | [`database`] | create (placement), delete, and the merged ListDatabases |
//! | [`merge`] | one ordered listing with one token out of many sets' listings |
//! | [`wal`] | the cluster's WAL: the merge rule, and TruncateWAL everywhere |
//! | [`routed`] | collections, documents and transactions: forwarded whole |
//! | [`cluster`] | `master.cluster.v1`: Register, ListWorkers, Unregister |
//! | [`sets`] | replica sets and their members as the master sees them |
//!
//! ## High availability
//!
//! Masters route with no leader among them: any master answers any
//! request, and a client (or a load balancer) that loses one tries the
//! next address. Only the **placements** (which set holds which database,
//! [`placements`]) are shared state, and they are kept the way a worker
//! keeps its data: with `wal:` and `cluster:` in their configuration, the
//! masters form a replica set of their own (1, 3 or 5 of them) on the
//! worker's log, store and openraft code. A master that is not the group's
//! leader routes from its cache and reads placements linearizably; its
//! catalog writes (a new database placed, a deleted one removed) go to the
//! leading master. Killing that leader stops only those writes, for about
//! one election (10 SIGKILLs of the catalog leader of three masters, kill
//! to the next acknowledged CreateDatabase: 0.95-1.23 s, median 1.13 s);
//! databases already placed are routed all the while.
//!
//! Without `cluster:` each master's catalog is a set of one: on disk at
//! `wal.path`, or in memory. Several such masters still serve the same
//! sets (each finds the databases the others made by asking the sets), but
//! `least_loaded` then only counts what each master placed itself.
//!
//! ## What the master adds to a request
//!
//! One network hop and one protobuf decode/encode of the request and of
//! the answer (the bytes are forwarded under the worker's method name, not
//! converted field by field). Everything else — validation, errors, page
//! tokens of collections and documents, transactions, request ids — is the
//! set's, so the master answers exactly what a worker would.
//!
//! What that hop costs here, measured on 2026-12-04 with
//! `distgo-conformance bench --baseline LEADER --addr MASTER --api master`
//! (rounds alternating, median of 3 per-round ratios, 1 KiB values, 4
//! connections, not pinned): one master in front of a three-member set
//! (`wal.sync: always`), all five processes and the load generator on the
//! same 2 cores (`testdata/bench/master-vs-leader-*.json`):
//!
//! | workload | concurrency | leader ops/s | through the master ops/s | ratio |
//! |---|---:|---:|---:|---:|
//! | GetDocument | 16 | 29,725 | 13,738 | 0.46 |
//! | GetDocument | 64 | 50,303 | 18,777 | 0.38 |
//! | CreateDocument | 16 | 6,649 | 2,670-3,897 | 0.66 |
//! | CreateDocument | 64 | 7,795 | 5,417-7,167 | 0.70 |
//!
//! (ops/s: the last round.) On one machine the hop is paid in CPU, not in
//! latency: at c=64 the master spent 37 µs of CPU per Get (0.64 of a core
//! at 17,000 Gets/s), more than the leader's 32, beside the load
//! generator's 25; `perf` shows it spread over task switches, `writev`,
//! TCP and copies, with no one function above 5%. The target of issue 11,
//! 0.75, is not met: it would need a master that costs a quarter of what
//! the rest of a request costs. On machines of their own, master and set
//! do not share cores and the hop adds its network round trip instead.
//!
//! ## Serving
//!
//! The master runs the worker's server skeleton ([`crate::server`]): the
//! same accept loop and limits, TLS, tokens, deadline edge, health (one
//! status per master service) and reflection. [`Master::serve`] takes a
//! bound listener and a shutdown future, like [`crate::Worker::serve`].
//!
//! Calling the workers is the other direction: plaintext by default, over
//! TLS with `master.workers_tls.*`, with the master's own token instead of
//! the client's with `master.workers_token_file`
//! ([`crate::server::outbound`], used by [`sets`] and [`forward`]).

pub mod catalog;
pub mod cluster;
pub mod config;
pub mod database;
pub mod forward;
pub mod merge;
pub mod moving;
pub mod placements;
pub mod routed;
pub mod router;
pub mod sets;
pub mod wal;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tonic::{
    server::NamedService,
    service::{Routes, RoutesBuilder, interceptor::InterceptedService},
};

pub use self::config::MasterConfig;
use self::{
    catalog::Catalog,
    cluster::MasterCluster,
    database::MasterDatabases,
    moving::MasterAdmin,
    placements::Placements,
    routed::{MasterCollections, MasterDocuments, MasterTransactions},
    router::Router,
    sets::Sets,
    wal::MasterWal,
};
use crate::{
    api::{collection::CollectionApi, database::DatabaseApi, document::DocumentApi},
    proto::master::{
        admin::admin_service_server::AdminServiceServer,
        cluster::cluster_service_server::ClusterServiceServer,
        database::{
            collection_service_server::CollectionServiceServer,
            database_service_server::DatabaseServiceServer,
            document_service_server::DocumentServiceServer,
            transaction_service_server::TransactionServiceServer,
            wal_service_server::WalServiceServer,
        },
    },
    proto::{
        database::{
            collection_service_server::CollectionServiceServer as WorkerCollections,
            database_service_server::DatabaseServiceServer as WorkerDatabases,
            document_service_server::DocumentServiceServer as WorkerDocuments,
        },
        replication::replication_service_server::ReplicationServiceServer,
    },
    replication::Replica,
    server::{
        EdgeLayer, Security, ServeError, add_standard_services, auth, draining, limits,
        outbound::Outbound, routing::RoutingLayer, tls::Tls,
    },
};

/// A master ready to serve.
#[derive(Debug)]
pub struct Master {
    config: MasterConfig,
    sets: Arc<Sets>,
    security: Option<Security>,
}

impl Master {
    /// A master over the sets of `config`; its catalog member opens when it
    /// starts serving.
    pub fn new(config: MasterConfig) -> Self {
        let sets = Arc::new(Sets::configured(&config.master.sets));
        Master {
            config,
            sets,
            security: None,
        }
    }

    /// Reads `grpc.tls.*`, `auth.tokens_file`, `cluster.token_file`,
    /// `master.workers_tls.*` and `master.workers_token_file` (exit code 2
    /// material).
    pub fn load_security(config: &MasterConfig) -> Result<Security, crate::config::ConfigError> {
        // The catalog member's files are a worker's: TLS, tokens, and the
        // token it presents to the other masters.
        let member = Security::load(&config.catalog_member())?;
        let outbound = Outbound::load(
            config.master.workers_tls.as_ref(),
            "master.workers_tls",
            config.master.workers_token_file.as_deref(),
            "master.workers_token_file",
            member.tls.as_ref(),
        )?;
        Ok(Security { outbound, ..member })
    }

    /// Serves with `security` already loaded.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains
    /// in-flight requests for at most `grpc.timeout`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let address: SocketAddr = listener.local_addr().map_err(ServeError::Address)?;
        let timeout = self.config.grpc.timeout;
        let served = service_names();
        let security = match self.security {
            Some(security) => security,
            None => Self::load_security(&self.config)?,
        };
        self.sets.use_outbound(security.outbound.clone());
        let placements =
            Arc::new(Placements::open(&self.config, security.peer_credentials()).await?);
        let catalog = Arc::new(Catalog::new(
            self.sets.clone(),
            self.config.master.placement,
            placements.clone(),
        ));

        let router = Router::new(catalog.clone(), timeout);
        let cluster = Arc::new(MasterCluster::new(
            self.sets.clone(),
            self.config.master.registration_ttl,
        ));
        let max = self.config.grpc.max_request_bytes;
        let placement = self.config.master.placement;
        let mut routes = Routes::builder();
        let health_reporter = add_standard_services(&mut routes, &served).await?;
        routes
            .add_service(
                DatabaseServiceServer::new(MasterDatabases::new(router.clone(), placement))
                    .max_decoding_message_size(max),
            )
            .add_service(
                CollectionServiceServer::new(MasterCollections::new(router.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                DocumentServiceServer::new(MasterDocuments::new(router.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                TransactionServiceServer::new(MasterTransactions::new(router.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                WalServiceServer::new(MasterWal::new(router.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                ClusterServiceServer::from_arc(cluster.clone()).max_decoding_message_size(max),
            )
            .add_service(
                AdminServiceServer::new(MasterAdmin::new(router.clone()))
                    .max_decoding_message_size(max),
            );
        serve_catalog_member(&mut routes, placements.replica(), max);
        let service = tower::ServiceBuilder::new()
            .layer(auth::AuthLayer::new(security.auth.clone()))
            .layer(EdgeLayer::new(timeout))
            .layer(RoutingLayer::new(placements.replica().clone(), timeout).only_under("/worker."))
            .service(routes.routes().prepare());

        let refresh = tokio::spawn(refresh_loop(
            catalog.clone(),
            self.config.master.refresh,
            timeout,
        ));
        let expiry = tokio::spawn(cluster.clone().expire_loop());
        let mut settings = limits::Settings::new(self.config.grpc.limits, timeout);
        settings.tls = security.tls.as_ref().map(Tls::server_config);
        let reload = security.reload_on_sighup();
        tracing::info!(
            node = %self.config.name,
            %address,
            sets = ?self.sets.names(),
            placement = ?placement,
            "distgo master listening"
        );
        let signal = draining(shutdown, health_reporter, served);
        limits::serve(listener, service, settings, signal).await;
        refresh.abort();
        expiry.abort();
        if let Some(reload) = reload {
            reload.abort();
        }
        placements.replica().close().await;
        tracing::info!(node = %self.config.name, "distgo master stopped");
        Ok(())
    }
}

/// The catalog member's services on the master's port: the catalog's
/// documents under `worker.database.v1` (how masters send catalog writes
/// to the one that leads), and, in a group of masters, Raft between them.
/// The `worker.database.v1` services answer only calls that carry
/// [`CATALOG_HEADER`], so a client that speaks the worker's package to a
/// master by mistake is told so instead of seeing the catalog.
fn serve_catalog_member(routes: &mut RoutesBuilder, replica: &Arc<Replica>, max: usize) {
    routes
        .add_service(InterceptedService::new(
            WorkerDatabases::new(DatabaseApi::new(replica.clone())).max_decoding_message_size(max),
            catalog_calls_only,
        ))
        .add_service(InterceptedService::new(
            WorkerCollections::new(CollectionApi::new(replica.clone()))
                .max_decoding_message_size(max),
            catalog_calls_only,
        ))
        .add_service(InterceptedService::new(
            WorkerDocuments::new(DocumentApi::new(replica.clone())).max_decoding_message_size(max),
            catalog_calls_only,
        ));
    if let Some(node) = replica.raft() {
        routes.add_service(
            ReplicationServiceServer::new(node.service())
                .max_decoding_message_size(max.saturating_mul(4).max(64 << 20)),
        );
    }
}

/// The header a call to the catalog's `worker.database.v1` services on a
/// master carries (any value).
pub const CATALOG_HEADER: &str = "distgo-catalog";

/// UNIMPLEMENTED for a `worker.database.v1` call that is not meant for the
/// catalog: on a master, the data is under `master.database.v1`.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn catalog_calls_only(request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    if request.metadata().contains_key(CATALOG_HEADER) {
        return Ok(request);
    }
    Err(tonic::Status::unimplemented(format!(
        "this is a master: its data services are master.database.v1 (worker.database.v1 here \
         holds only the masters' catalog, for calls with the {CATALOG_HEADER} header)"
    )))
}

/// Re-reads every set's databases and leader every `every`.
async fn refresh_loop(
    catalog: Arc<Catalog>,
    every: std::time::Duration,
    timeout: std::time::Duration,
) {
    loop {
        catalog.refresh(timeout).await;
        tokio::time::sleep(every).await;
    }
}

/// The full names of the services the master serves.
fn service_names() -> Vec<&'static str> {
    vec![
        <DatabaseServiceServer<MasterDatabases> as NamedService>::NAME,
        <CollectionServiceServer<MasterCollections> as NamedService>::NAME,
        <DocumentServiceServer<MasterDocuments> as NamedService>::NAME,
        <TransactionServiceServer<MasterTransactions> as NamedService>::NAME,
        <WalServiceServer<MasterWal> as NamedService>::NAME,
        <ClusterServiceServer<MasterCluster> as NamedService>::NAME,
        <AdminServiceServer<MasterAdmin> as NamedService>::NAME,
    ]
}
