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
//! Beside the distgo-db services the server answers the two standard ones
//! every gRPC tool expects: **health** (`grpc.health.v1.Health`, SERVING for
//! the empty name and for each service's full name, NOT_SERVING once
//! shutdown begins) and **reflection** in both protocol versions (`v1` and
//! `v1alpha`), which lists every service served, health and reflection
//! included, so `grpcurl -plaintext HOST:PORT list` or a Python
//! grpcio-reflection client can call the API without a copy of `proto/`.
//!
//! Who may connect and call is the business of four modules, in the order
//! a request meets them: [`limits`] (the accept loop: connection bounds and
//! timeouts), [`tls`], [`auth`] (bearer tokens and roles) and the edge
//! (deadlines, statuses of unreadable requests). [`security`](Security)
//! says what an operator must set before a worker is exposed.
//!
//! Below them all, `coalesce` wraps each connection's socket so that the
//! responses finishing together leave in one system call (the largest
//! single saving on the write path; the numbers are in that module).

pub mod auth;
mod coalesce;
pub(crate) mod deadline;
mod edge;
pub mod limits;
pub mod methods;
pub mod outbound;
pub mod registration;
pub mod routing;
mod security;
pub mod tls;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tonic::{server::NamedService, service::Routes};
use tonic_health::{ServingStatus, server::HealthReporter};

pub use self::{
    edge::{Edge, EdgeLayer},
    routing::{Routing, RoutingLayer},
    security::Security,
};
use crate::{
    api::{
        cluster::ClusterApi, collection::CollectionApi, database::DatabaseApi,
        document::DocumentApi, transaction::TransactionApi, wal::WalApi,
    },
    clock::{Clock, SystemClock},
    config::{Config, ConfigError},
    metrics::{Metrics, RequestsLayer},
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
        replication::replication_service_server::ReplicationServiceServer,
    },
    replication::Replica,
    replication::raft::ReplicationApi,
    store::Store,
    txn::Transactions,
    wal::{OpenError, Recovery},
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
    /// The metrics endpoint could not bind its address.
    #[error("cannot listen on {address} (metrics): {source}")]
    MetricsListen {
        /// `metrics.host` and `metrics.port`.
        address: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// A worker ready to serve: its configuration and its replica.
#[derive(Debug)]
pub struct Worker {
    config: Config,
    replica: Arc<Replica>,
    transactions: Arc<Transactions>,
    /// Loaded by the binary before the store is opened, so that a bad
    /// certificate exits 2 early; `None`: [`Worker::serve`] loads it.
    security: Option<Security>,
    /// Bound by the binary (or a test) for `metrics.*`; `None`:
    /// [`Worker::serve`] binds `metrics.host:metrics.port` itself, if set.
    metrics_listener: Option<TcpListener>,
}

impl Worker {
    /// A worker with an empty in-memory store on the system clock; ignores
    /// `wal.path` ([`Worker::open`] honours it).
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A worker whose in-memory store is stamped by `clock` (tests move
    /// time by hand); ignores `wal.path`.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Self {
        let replica = Arc::new(Replica::memory(&config.wal, clock.clone()));
        Self::with_replica(config, replica, clock)
    }

    /// A worker on the system clock whose store is recovered from
    /// `wal.path` (or empty and memory-only without it), or that joins its
    /// replica set when the configuration has a `cluster:` section.
    pub async fn open(config: Config, recovery: Recovery) -> Result<Self, OpenError> {
        Self::open_with_clock(config, Arc::new(SystemClock), recovery).await
    }

    /// [`Worker::open`] with a clock of the caller's choosing.
    pub async fn open_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
        recovery: Recovery,
    ) -> Result<Self, OpenError> {
        // Members call each other with the worker's own TLS identity and
        // peer token, so these files are needed before the replica opens.
        let security = Security::load(&config).map_err(OpenError::Config)?;
        let credentials = security.peer_credentials();
        let (replica, _report) =
            Replica::open(&config, clock.clone(), recovery, credentials).await?;
        Ok(Self::with_replica(config, Arc::new(replica), clock).with_security(security))
    }

    fn with_replica(config: Config, replica: Arc<Replica>, clock: Arc<dyn Clock>) -> Self {
        let transactions = Arc::new(Transactions::new(
            replica.clone(),
            clock,
            config.transactions,
        ));
        Worker {
            config,
            replica,
            transactions,
            security: None,
            metrics_listener: None,
        }
    }

    /// Serves the metrics endpoint on `listener` (already bound, like the
    /// gRPC one), whatever `metrics.*` says.
    pub fn with_metrics_listener(mut self, listener: TcpListener) -> Self {
        self.metrics_listener = Some(listener);
        self
    }

    /// Serves with `security` (TLS, tokens) already loaded, instead of
    /// loading it from the configuration's files when serving starts.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// The worker's store, for in-process inspection in tests.
    pub fn store(&self) -> &Arc<Store> {
        self.replica.store()
    }

    /// The worker's replica: its store and the log it proposes to.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
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
        let served = service_names(self.replica.raft().is_some());

        let security = match self.security {
            Some(security) => security,
            None => Security::load(&self.config)?,
        };
        let metrics = start_metrics(
            &self.config,
            self.metrics_listener,
            &self.replica,
            &self.transactions,
        )
        .await?;
        let replica = self.replica;
        let max = self.config.grpc.max_request_bytes;
        let mut routes = Routes::builder();
        let health_reporter = add_standard_services(&mut routes, &served).await?;
        routes
            .add_service(
                DatabaseServiceServer::new(DatabaseApi::new(replica.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                CollectionServiceServer::new(CollectionApi::new(replica.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                DocumentServiceServer::new(DocumentApi::new(replica.clone()))
                    .max_decoding_message_size(max),
            )
            .add_service(
                TransactionServiceServer::new(TransactionApi::new(self.transactions))
                    .max_decoding_message_size(max),
            )
            .add_service(
                WalServiceServer::new(WalApi::new(replica.clone())).max_decoding_message_size(max),
            )
            .add_service(ClusterServiceServer::new(ClusterApi).max_decoding_message_size(max));
        if let Some(node) = replica.raft() {
            // Snapshots travel in chunks of 1 MiB; appends may batch many
            // entries, each up to a 4 MiB request.
            routes.add_service(
                ReplicationServiceServer::new(node.service())
                    .max_decoding_message_size(max.saturating_mul(4).max(64 << 20)),
            );
        }
        // Outermost first: the token is checked before the deadline starts
        // or a byte of the message is decoded; a write that this member
        // cannot make is forwarded only once it is known to be allowed.
        let service = tower::ServiceBuilder::new()
            .layer(RequestsLayer::new(
                metrics.as_ref().map(|m| m.requests.clone()),
            ))
            .layer(auth::AuthLayer::new(security.auth.clone()))
            .layer(EdgeLayer::new(timeout))
            .layer(RoutingLayer::new(replica.clone(), timeout))
            .service(routes.routes().prepare());

        let mut settings = limits::Settings::new(self.config.grpc.limits, timeout);
        settings.tls = security.tls.as_ref().map(tls::Tls::server_config);
        let reload = security.reload_on_sighup();
        let registering = self.config.master.clone().map(|link| {
            let registration = registration::Registration::of(&self.config, &link, address);
            registration::spawn(link, registration, security.outbound.clone())
        });
        tracing::info!(
            node = %self.config.name,
            %address,
            tls = security.tls.as_ref().map_or("off", |t| if t.is_mutual() { "mutual" } else { "on" }),
            auth = security.auth.is_some(),
            max_connections = settings.max_connections,
            "distgo worker listening"
        );
        let signal = draining(shutdown, health_reporter, served);
        limits::serve(listener, service, settings, signal).await;
        if let Some(reload) = reload {
            reload.abort();
        }
        if let Some(registering) = registering {
            registering.abort();
        }
        if let Some(metrics) = metrics {
            let _ = metrics.stop.send(());
        }
        // Everything acknowledged is on disk already; this syncs the rest and
        // releases the directory, so the same process may open it again.
        replica.close().await;
        tracing::info!(node = %self.config.name, "distgo worker stopped");
        Ok(())
    }
}

/// The running metrics endpoint: its request handles and its stop switch.
struct MetricsEndpoint {
    requests: Arc<crate::metrics::RequestMetrics>,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// Binds (unless `listener` is given) and starts the metrics endpoint when
/// the configuration asks for one, and logs where it listens: before the
/// gRPC listening line, so whoever waits for that line knows both.
async fn start_metrics(
    config: &Config,
    listener: Option<TcpListener>,
    replica: &Replica,
    transactions: &Arc<Transactions>,
) -> Result<Option<MetricsEndpoint>, ServeError> {
    let listener = match (listener, config.metrics) {
        (Some(listener), _) => listener,
        (None, None) => return Ok(None),
        (None, Some(m)) => {
            let address = SocketAddr::new(m.host, m.port);
            TcpListener::bind(address)
                .await
                .map_err(|source| ServeError::MetricsListen { address, source })?
        }
    };
    let address = listener.local_addr().map_err(ServeError::Address)?;
    let metrics = Arc::new(Metrics::for_worker(&config.name, replica, transactions));
    let requests = metrics.requests();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::metrics::http::serve(listener, metrics, async {
        let _ = stopped.await;
    }));
    tracing::info!(node = %config.name, %address, "distgo metrics listening");
    Ok(Some(MetricsEndpoint { requests, stop }))
}

/// The full names of the distgo-db services this worker serves, as health
/// checks and reflection name them: the replication service only on a
/// replica set member.
fn service_names(replicated: bool) -> Vec<&'static str> {
    let mut names = vec![
        <DatabaseServiceServer<DatabaseApi> as NamedService>::NAME,
        <CollectionServiceServer<CollectionApi> as NamedService>::NAME,
        <DocumentServiceServer<DocumentApi> as NamedService>::NAME,
        <TransactionServiceServer<TransactionApi> as NamedService>::NAME,
        <WalServiceServer<WalApi> as NamedService>::NAME,
        <ClusterServiceServer<ClusterApi> as NamedService>::NAME,
    ];
    if replicated {
        names.push(<ReplicationServiceServer<ReplicationApi> as NamedService>::NAME);
    }
    names
}

/// Adds what every distgo server serves beside its own services to
/// `routes`: health, SERVING for the whole server and each of `served`, and
/// both reflection versions. Returns the reporter that says NOT_SERVING at
/// shutdown ([`draining`]).
pub(crate) async fn add_standard_services(
    routes: &mut tonic::service::RoutesBuilder,
    served: &[&'static str],
) -> Result<HealthReporter, ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    report_health(&reporter, served, ServingStatus::Serving).await;
    let reflection_v1 = reflection(served)
        .build_v1()
        .map_err(|err| ServeError::Reflection(err.to_string()))?;
    let reflection_v1alpha = reflection(served)
        .build_v1alpha()
        .map_err(|err| ServeError::Reflection(err.to_string()))?;
    routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok(reporter)
}

/// The signal [`limits::serve`] drains on: `shutdown`, then a log line and
/// NOT_SERVING for the server and each of `served`, so health checks see
/// the server going before its connections close.
pub(crate) async fn draining(
    shutdown: impl Future<Output = ()>,
    reporter: HealthReporter,
    served: Vec<&'static str>,
) {
    shutdown.await;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    report_health(&reporter, &served, ServingStatus::NotServing).await;
}

/// Sets the health of the whole worker (`""`) and of each of its services:
/// a client may check the one service it uses, and with a name the health
/// service does not know it answers NOT_FOUND.
async fn report_health(reporter: &HealthReporter, served: &[&str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in served {
        reporter.set_service_status(*name, status).await;
    }
}

/// A reflection builder that knows every service the worker serves (and
/// only those): its own, health, and both reflection versions, so that
/// `list` from any tool shows all of them and `Health/Check` resolves
/// without a local proto. Two versions because clients differ: grpcurl and
/// Go speak `v1`, Python's grpcio-reflection and many IDE plugins only
/// `v1alpha`.
fn reflection(served: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health")
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .with_service_name("grpc.reflection.v1alpha.ServerReflection");
    served
        .iter()
        .fold(builder, |builder, name| builder.with_service_name(*name))
}

/// A future that completes on Ctrl-C or SIGTERM: what a server binary
/// (`distgo-worker`, `distgo-master`) stops on.
///
/// The handlers are installed *now*, before the listener is announced, so a
/// signal sent as soon as the server says it is listening is never missed.
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Opens the worker's store (recovering `wal.path`, if set) and serves it on
/// `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let worker = Worker::open(config, Recovery::Strict).await?;
    worker.serve(listener, shutdown).await
}
