//! The worker under test: how to reach it, and what it can do beyond the
//! contract (restart, exclusive use).
//!
//! The suite only ever needs an address. Two optional *capabilities* unlock
//! more cases:
//!
//! - **restart**: an in-process worker that the harness can stop and start
//!   again on the same data directory ([`Restart`]); cases tagged `restart`
//!   need it and are reported skipped (with the reason) without it.
//! - **exclusive**: the caller promises that no one else uses the worker, so
//!   cases may act on the whole worker (TruncateWAL drops every client's log
//!   entries, not only the run's). Off by default: the isolation guarantee is
//!   that a run never touches anything outside its prefix.
//!
//! A target may also name the **members** of one replicated deployment
//! (`--addr A --addr B --addr C`): the first is the primary every case
//! talks to, and the cluster cases open a client per member
//! ([`ServerUnderTest::member_clients`]) to check that they behave as one
//! copy of the data. With one address, that address is the only member.
//!
//! And the target's transaction bounds ([`TxnLimits`]), which belong to its
//! configuration and cannot be read over the wire: told them, the suite
//! checks expiry and RESOURCE_EXHAUSTED at exactly those bounds.

use std::{future::Future, path::PathBuf, pin::Pin, str::FromStr, sync::Arc, time::Duration};

use tonic::{
    metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use crate::api::{Api, Packaged};
use crate::proto::database::{
    collection_service_client::CollectionServiceClient,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
    transaction_service_client::TransactionServiceClient, wal_service_client::WalServiceClient,
};

/// `DocumentService` over plain HTTP/2 with no client-side deadline timer.
///
/// tonic's channel runs a timer for the deadline it sends, and when that
/// fires before the answer it reports CANCELLED "Timeout expired" itself; as
/// it starts before the target's, it always wins against a target that
/// answers only when its own timer fires. A case about the *target's* answer
/// to an expired deadline needs a client that waits for that answer.
pub type TimerlessDocuments = DocumentServiceClient<
    Packaged<
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            tonic::body::Body,
        >,
    >,
>;

/// The transport of every generated client: one HTTP/2 connection, paths
/// under the target's package.
pub type Transport = Packaged<Channel>;

/// A future returned by a capability hook.
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// A target that can be stopped and started again on the same data.
///
/// Implemented by the test harness for the in-process reference worker;
/// the library knows nothing about how a worker is started.
pub trait Restart: Send + Sync {
    /// Stops the worker, starts it again on the same data directory, and
    /// returns its (possibly new) address, e.g. `http://127.0.0.1:40123`.
    fn restart(&self) -> HookFuture<'_, String>;
}

/// Why the target cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The address is not a URL.
    #[error("invalid address {addr:?}: {reason}")]
    Address {
        /// The address given.
        addr: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The CA certificate file cannot be read.
    #[error("cannot read the CA certificate {path}: {reason}")]
    TlsCa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A `--header` is not `KEY=VALUE` with a valid gRPC metadata key.
    #[error("invalid header {0:?}: expected KEY=VALUE with an ASCII metadata key")]
    Header(String),
    /// Connecting failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// How to reach a worker.
#[derive(Clone, Debug)]
pub struct Connection {
    /// `http://HOST:PORT` or `https://HOST:PORT`.
    pub addr: String,
    /// A PEM file with the CA that signed the worker's certificate.
    pub tls_ca: Option<PathBuf>,
    /// Metadata sent with every request (auth tokens, routing).
    pub headers: Vec<(String, String)>,
    /// The deadline of each request.
    pub timeout: Duration,
    /// The package the target serves the database API under.
    pub api: Api,
}

impl Connection {
    /// A plain connection to `addr` with a 10 s deadline per request.
    pub fn new(addr: impl Into<String>) -> Self {
        Connection {
            addr: addr.into(),
            tls_ca: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            api: Api::Worker,
        }
    }

    /// Connects, failing fast when the worker cannot be reached.
    pub async fn connect(&self) -> Result<Clients, TargetError> {
        let bad_addr = |reason: String| TargetError::Address {
            addr: self.addr.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_str(&self.addr)
            .map_err(|e| bad_addr(e.to_string()))?
            .connect_timeout(self.timeout)
            .tcp_nodelay(true);
        if let Some(path) = &self.tls_ca {
            let pem = std::fs::read(path).map_err(|e| TargetError::TlsCa {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| bad_addr(e.to_string()))?;
        }
        let mut headers = MetadataMap::new();
        for (key, value) in &self.headers {
            let bad = || TargetError::Header(format!("{key}={value}"));
            let key = AsciiMetadataKey::from_str(key).map_err(|_| bad())?;
            let value = AsciiMetadataValue::from_str(value).map_err(|_| bad())?;
            headers.insert(key, value);
        }
        let channel = endpoint.connect().await.map_err(|e| TargetError::Connect {
            addr: self.addr.clone(),
            reason: format!("{e}: {}", source_chain(&e)),
        })?;
        Ok(Clients {
            channel: Packaged::new(channel, self.api),
            headers: Arc::new(headers),
            timeout: self.timeout,
        })
    }
}

fn source_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Parses `KEY=VALUE`.
pub fn parse_header(text: &str) -> Result<(String, String), TargetError> {
    text.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| TargetError::Header(text.to_owned()))
}

/// The generated clients over one HTTP/2 connection.
#[derive(Clone, Debug)]
pub struct Clients {
    channel: Transport,
    headers: Arc<MetadataMap>,
    timeout: Duration,
}

impl Clients {
    /// A request carrying the run's headers and deadline.
    pub fn wrap<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = (*self.headers).clone();
        request.set_timeout(self.timeout);
        request
    }

    /// The same clients, every request also carrying `name: value` (a
    /// `distgo-request-id`); `None` when the pair is not valid metadata.
    pub fn with_header(&self, name: &'static str, value: &str) -> Option<Clients> {
        let mut headers = (*self.headers).clone();
        headers.insert(name, value.parse().ok()?);
        Some(Clients {
            headers: Arc::new(headers),
            ..self.clone()
        })
    }

    /// The same clients with another per-request deadline.
    pub fn with_timeout(&self, timeout: Duration) -> Clients {
        Clients {
            timeout,
            ..self.clone()
        }
    }

    /// `DatabaseService`.
    pub fn database(&self) -> DatabaseServiceClient<Transport> {
        DatabaseServiceClient::new(self.channel.clone())
    }

    /// `CollectionService`.
    pub fn collection(&self) -> CollectionServiceClient<Transport> {
        CollectionServiceClient::new(self.channel.clone())
    }

    /// `DocumentService`.
    pub fn document(&self) -> DocumentServiceClient<Transport> {
        DocumentServiceClient::new(self.channel.clone())
    }

    /// `TransactionService`.
    pub fn transaction(&self) -> TransactionServiceClient<Transport> {
        TransactionServiceClient::new(self.channel.clone())
    }

    /// `WALService`.
    pub fn wal(&self) -> WalServiceClient<Transport> {
        // Documents may approach 4096 characters; a WAL page of 1000 of them
        // is larger than tonic's 4 MiB default.
        WalServiceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }
}

/// The target's transaction bounds (its `transactions.*` configuration), as
/// far as the caller knows them; the cases about a bound run only when it
/// is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnLimits {
    /// How long an open transaction lives after Begin.
    pub ttl: Option<Duration>,
    /// Operations one transaction may hold.
    pub max_operations: Option<u32>,
    /// Transactions open at once, on the whole worker.
    pub max_open: Option<u32>,
}

/// The server under test: how to reach it (address, TLS, headers) and its
/// capabilities.
pub struct ServerUnderTest {
    connection: std::sync::Mutex<Connection>,
    clients: std::sync::RwLock<Clients>,
    /// The addresses of the other members of the deployment, after the
    /// primary's.
    others: Vec<String>,
    restart: Option<Arc<dyn Restart>>,
    exclusive: bool,
    txn_limits: TxnLimits,
}

impl std::fmt::Debug for ServerUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerUnderTest")
            .field("addr", &self.addr())
            .field("others", &self.others)
            .field("restart", &self.restart.is_some())
            .field("exclusive", &self.exclusive)
            .field("txn_limits", &self.txn_limits)
            .finish()
    }
}

impl ServerUnderTest {
    /// Connects to the worker described by `connection`.
    pub async fn connect(connection: Connection) -> Result<Self, TargetError> {
        let clients = connection.connect().await?;
        Ok(ServerUnderTest {
            connection: std::sync::Mutex::new(connection),
            clients: std::sync::RwLock::new(clients),
            others: Vec::new(),
            restart: None,
            exclusive: false,
            txn_limits: TxnLimits::default(),
        })
    }

    /// Names the other members of the deployment the primary belongs to
    /// (reached with the primary's TLS, headers, deadline and API).
    pub fn with_members(mut self, others: Vec<String>) -> Self {
        self.others = others;
        self
    }

    /// Every member's address, the primary's first; just the primary's when
    /// no other member was named.
    pub fn members(&self) -> Vec<String> {
        let mut members = vec![self.addr()];
        members.extend(self.others.iter().cloned());
        members
    }

    /// Clients for every member, in the order of [`ServerUnderTest::members`],
    /// each over a connection of its own.
    pub async fn member_clients(&self) -> Result<Vec<Clients>, TargetError> {
        let primary = lock(&self.connection).clone();
        let mut clients = Vec::new();
        for addr in self.members() {
            let connection = Connection {
                addr,
                ..primary.clone()
            };
            clients.push(connection.connect().await?);
        }
        Ok(clients)
    }

    /// Adds the restart capability.
    pub fn with_restart(mut self, restart: Arc<dyn Restart>) -> Self {
        self.restart = Some(restart);
        self
    }

    /// Declares that nobody else uses the worker.
    pub fn with_exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }

    /// Declares the target's transaction bounds.
    pub fn with_txn_limits(mut self, limits: TxnLimits) -> Self {
        self.txn_limits = limits;
        self
    }

    /// The transaction bounds the caller declared.
    pub fn txn_limits(&self) -> TxnLimits {
        self.txn_limits
    }

    /// The worker's address.
    pub fn addr(&self) -> String {
        lock(&self.connection).addr.clone()
    }

    /// The current clients (they change after a restart).
    pub fn clients(&self) -> Clients {
        match self.clients.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Clients over a new connection of their own (for requests that may
    /// make the server drop their connection).
    pub async fn fresh_clients(&self) -> Result<Clients, TargetError> {
        let connection = lock(&self.connection).clone();
        connection.connect().await
    }

    /// [`TimerlessDocuments`] for a plaintext (`http://`) target; `None`
    /// for TLS, which the suite speaks only through tonic's channel. Connects
    /// on first use.
    pub fn timerless_documents(&self) -> Option<TimerlessDocuments> {
        let (addr, tls, api) = {
            let c = lock(&self.connection);
            (c.addr.clone(), c.tls_ca.is_some(), c.api)
        };
        let origin: tonic::codegen::http::Uri = addr.parse().ok()?;
        if tls || origin.scheme_str() != Some("http") {
            return None;
        }
        let executor = hyper_util::rt::TokioExecutor::new();
        let http = hyper_util::client::legacy::Client::builder(executor)
            .http2_only(true)
            .build_http();
        Some(DocumentServiceClient::with_origin(
            Packaged::new(http, api),
            origin,
        ))
    }

    /// Whether the target can restart.
    pub fn can_restart(&self) -> bool {
        self.restart.is_some()
    }

    /// Whether the run may act on the whole worker.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Restarts the worker and reconnects.
    pub async fn restart(&self) -> Result<Clients, String> {
        let hook = self
            .restart
            .as_ref()
            .ok_or("the target has no restart capability")?;
        let addr = hook.restart().await?;
        let connection = {
            let mut c = lock(&self.connection);
            c.addr = addr;
            c.clone()
        };
        let clients = connection.connect().await.map_err(|e| e.to_string())?;
        match self.clients.write() {
            Ok(mut c) => *c = clients.clone(),
            Err(poisoned) => *poisoned.into_inner() = clients.clone(),
        }
        Ok(clients)
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
