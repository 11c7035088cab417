//! Serving: from a bound listener to a running gRPC server, and back.
//!
//! Following mini-redis, the server takes an already-bound listener and any
//! shutdown future. The binary binds the configured address and passes
//! Ctrl-C/SIGTERM; a test binds `127.0.0.1:0`, reads back the port, and passes
//! a oneshot receiver, so it runs the real server in-process.
//!
//! Shutdown is graceful: when the future completes the server stops
//! accepting connections, asks clients to go away (HTTP/2 GOAWAY, which they
//! see as UNAVAILABLE on new calls), and lets in-flight requests finish, for
//! at most `grpc.timeout` — no request may run longer than that anyway.
//!
//! Who may connect and call is the business of four modules, in the order
//! a request meets them: [`limits`] (the accept loop: connection bounds and
//! timeouts), [`tls`], [`auth`] (bearer tokens and roles) and the edge
//! (deadlines, statuses of unreadable requests). [`security`](Security)
//! says what an operator must set before a worker is exposed.

pub mod auth;
mod deadline;
mod edge;
pub mod limits;
mod security;
pub mod tls;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::ServingStatus;

pub use self::{
    edge::{Edge, EdgeLayer},
    security::Security,
};
use crate::{
    api::{
        cluster::ClusterApi, collection::CollectionApi, database::DatabaseApi,
        document::DocumentApi, transaction::TransactionApi, wal::WalApi,
    },
    clock::{Clock, SystemClock},
    config::{Config, ConfigError},
    proto::{
        FILE_DESCRIPTOR_SET,
        cluster::cluster_service_server::ClusterServiceServer,
        database::{
            collection_service_server::CollectionServiceServer,
            database_service_server::DatabaseServiceServer,
            document_service_server::DocumentServiceServer,
            transaction_service_server::TransactionServiceServer,
            wal_service_server::WalServiceServer,
        },
    },
    store::Store,
    txn::Transactions,
    wal::{OpenError, Recovery, Wal},
};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener's address could not be read.
    #[error("cannot read the listener's address: {0}")]
    Address(#[source] std::io::Error),
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    /// A file the configuration names (TLS, tokens) cannot be used.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The recovery task panicked or was cancelled.
    #[error("recovery did not finish: {0}")]
    Recovery(String),
    /// The write-ahead log could not be opened or recovered.
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// A worker ready to serve: its configuration and its store.
#[derive(Debug)]
pub struct Worker {
    config: Config,
    store: Arc<Store>,
    transactions: Arc<Transactions>,
    /// Loaded by the binary before the store is opened, so that a bad
    /// certificate exits 2 early; `None`: [`Worker::serve`] loads it.
    security: Option<Security>,
}

impl Worker {
    /// A worker with an empty in-memory store on the system clock; ignores
    /// `wal.path` ([`Worker::open`] honours it).
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A worker whose in-memory store reads time from `clock` (tests move
    /// time by hand); ignores `wal.path`.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Self {
        let wal = Wal::memory_with_budget(config.wal.snapshot_bytes);
        let store = Arc::new(Store::new(clock.clone(), wal));
        Self::with_store(config, store, clock)
    }

    /// A worker on the system clock whose store is recovered from
    /// `wal.path` (or empty and memory-only without it).
    pub fn open(config: Config, recovery: Recovery) -> Result<Self, OpenError> {
        Self::open_with_clock(config, Arc::new(SystemClock), recovery)
    }

    /// [`Worker::open`] with a clock of the caller's choosing.
    pub fn open_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
        recovery: Recovery,
    ) -> Result<Self, OpenError> {
        let (store, _report) = crate::wal::open_store(&config.wal, clock.clone(), recovery)?;
        Ok(Self::with_store(config, store, clock))
    }

    fn with_store(config: Config, store: Arc<Store>, clock: Arc<dyn Clock>) -> Self {
        let transactions = Arc::new(Transactions::new(store.clone(), clock, config.transactions));
        Worker {
            config,
            store,
            transactions,
            security: None,
        }
    }

    /// Serves with `security` (TLS, tokens) already loaded, instead of
    /// loading it from the configuration's files when serving starts.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// The worker's store, for in-process inspection in tests.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight
    /// requests for at most `grpc.timeout`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let address: SocketAddr = listener.local_addr().map_err(ServeError::Address)?;
        let timeout = self.config.grpc.timeout;
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|err| ServeError::Reflection(err.to_string()))?;

        let security = match self.security {
            Some(security) => security,
            None => Security::load(&self.config)?,
        };
        let store = self.store;
        let max = self.config.grpc.max_request_bytes;
        let mut routes = Routes::builder();
        routes
            .add_service(
                DatabaseServiceServer::new(DatabaseApi::new(store.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                CollectionServiceServer::new(CollectionApi::new(store.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                DocumentServiceServer::new(DocumentApi::new(store.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                TransactionServiceServer::new(TransactionApi::new(self.transactions))
                    .max_decoding_message_size(max),
            )
            .add_service(
                WalServiceServer::new(WalApi::new(store.clone())).max_decoding_message_size(max),
            )
            .add_service(ClusterServiceServer::new(ClusterApi).max_decoding_message_size(max))
            .add_service(health)
            .add_service(reflection);
        // Outermost first: the token is checked before the deadline starts
        // or a byte of the message is decoded.
        let service = tower::ServiceBuilder::new()
            .layer(auth::AuthLayer::new(security.auth.clone()))
            .layer(EdgeLayer::new(timeout))
            .service(routes.routes().prepare());

        let mut settings = limits::Settings::new(self.config.grpc.limits, timeout);
        settings.tls = security.tls.as_ref().map(tls::Tls::server_config);
        let reload = security.reload_on_sighup();
        tracing::info!(
            node = %self.config.name,
            %address,
            tls = security.tls.as_ref().map_or("off", |t| if t.is_mutual() { "mutual" } else { "on" }),
            auth = security.auth.is_some(),
            max_connections = settings.max_connections,
            "distgo worker listening"
        );
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, draining in-flight requests");
            health_reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
        };
        limits::serve(listener, service, settings, signal).await;
        if let Some(reload) = reload {
            reload.abort();
        }
        // Everything acknowledged is on disk already; this syncs the rest and
        // releases the directory, so the same process may open it again.
        let wal_store = store.clone();
        let _ = tokio::task::spawn_blocking(move || wal_store.wal().close()).await;
        tracing::info!(node = %self.config.name, "distgo worker stopped");
        Ok(())
    }
}

/// Opens the worker's store (recovering `wal.path`, if set) and serves it on
/// `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let worker = tokio::task::spawn_blocking(move || Worker::open(config, Recovery::Strict))
        .await
        .map_err(|err| ServeError::Recovery(err.to_string()))??;
    worker.serve(listener, shutdown).await
}
