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
//! | [`catalog`] | where each database lives, and **why the master stores no catalog** |
//! | [`router`] | the one path of every routed request |
//! | [`forward`] | one hop to one set: leader hints, retries, deadlines, request ids |
//! | [`database`] | create (placement), delete, and the merged ListDatabases |
//! | [`merge`] | one ordered listing with one token out of many sets' listings |
//! | [`wal`] | the cluster's WAL: the merge rule, and TruncateWAL everywhere |
//! | [`routed`] | collections, documents and transactions: forwarded whole |
//! | [`cluster`] | `master.cluster.v1`: Register, ListWorkers, Unregister |
//! | [`sets`] | replica sets and their members as the master sees them |
//!
//! ## High availability without a leader
//!
//! The masters keep nothing that is not in the sets: placements are read
//! from the sets' own listings, the placement rule is a hash every master
//! computes alike, registrations are renewed by the workers. So any number
//! of masters with the same `master.sets` are **interchangeable**: a
//! client (or a load balancer) may send any request to any of them, and
//! when one dies the others serve on with no election and no hand-over:
//! the failover time is how long the client takes to try the next address.
//! A restarted master serves at once (it locates each database on first
//! use) and has its whole cache back after one `master.refresh`.
//!
//! The trade-offs of that choice, against a catalog in a Raft group of
//! masters, are in [`catalog`]: a cache miss costs a round of lookups,
//! `least_loaded` placement is only exact behind one master, and moving a
//! database between sets (which needs the catalog to say "here, not
//! there" during the move) is not built.
//!
//! ## What the master adds to a request
//!
//! One network hop and one protobuf decode/encode of the request and of
//! the answer (the bytes are forwarded under the worker's method name, not
//! converted field by field). Everything else — validation, errors, page
//! tokens of collections and documents, transactions, request ids — is the
//! set's, so the master answers exactly what a worker would.
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
pub mod routed;
pub mod router;
pub mod sets;
pub mod wal;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tonic::{server::NamedService, service::Routes};

pub use self::config::MasterConfig;
use self::{
    catalog::Catalog,
    cluster::MasterCluster,
    database::MasterDatabases,
    routed::{MasterCollections, MasterDocuments, MasterTransactions},
    router::Router,
    sets::Sets,
    wal::MasterWal,
};
use crate::{
    proto::master::{
        cluster::cluster_service_server::ClusterServiceServer,
        database::{
            collection_service_server::CollectionServiceServer,
            database_service_server::DatabaseServiceServer,
            document_service_server::DocumentServiceServer,
            transaction_service_server::TransactionServiceServer,
            wal_service_server::WalServiceServer,
        },
    },
    server::{
        EdgeLayer, Security, ServeError, add_standard_services, auth, draining, limits,
        outbound::Outbound, tls::Tls,
    },
};

/// A master ready to serve.
#[derive(Debug)]
pub struct Master {
    config: MasterConfig,
    sets: Arc<Sets>,
    catalog: Arc<Catalog>,
    security: Option<Security>,
}

impl Master {
    /// A master over the sets of `config`, with an empty catalog cache.
    pub fn new(config: MasterConfig) -> Self {
        let sets = Arc::new(Sets::configured(&config.master.sets));
        let catalog = Arc::new(Catalog::new(sets.clone(), config.master.placement));
        Master {
            config,
            sets,
            catalog,
            security: None,
        }
    }

    /// Reads `grpc.tls.*`, `auth.tokens_file`, `master.workers_tls.*` and
    /// `master.workers_token_file` (exit code 2 material).
    pub fn load_security(config: &MasterConfig) -> Result<Security, crate::config::ConfigError> {
        let tls = config.grpc.tls.as_ref().map(Tls::load).transpose()?;
        let auth = match &config.auth.tokens_file {
            Some(path) => Some(Arc::new(auth::Auth::load(path)?)),
            None => None,
        };
        let outbound = Outbound::load(
            config.master.workers_tls.as_ref(),
            "master.workers_tls",
            config.master.workers_token_file.as_deref(),
            "master.workers_token_file",
            tls.as_ref(),
        )?;
        Ok(Security {
            tls,
            auth,
            peer_token: None,
            outbound,
        })
    }

    /// Serves with `security` already loaded.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// The catalog, for in-process inspection in tests.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
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

        let router = Router::new(self.catalog.clone(), timeout);
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
            );
        let service = tower::ServiceBuilder::new()
            .layer(auth::AuthLayer::new(security.auth.clone()))
            .layer(EdgeLayer::new(timeout))
            .service(routes.routes().prepare());

        let refresh = tokio::spawn(refresh_loop(
            self.catalog.clone(),
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
        tracing::info!(node = %self.config.name, "distgo master stopped");
        Ok(())
    }
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
    ]
}
