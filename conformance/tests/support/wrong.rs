//! Deliberately wrong workers: each forwards to a reference worker and
//! breaks exactly one behaviour (or a chosen few, [`WrongWorker::start_with`]),
//! so a test can check that the suite notices and blames the right clause.
//!
//! The services are in [`resources`] (databases, collections, documents)
//! and [`txn_wal`] (transactions and the log); each flaw is one `if` there.

pub mod lagging;
mod resources;
mod txn_wal;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use distgo_conformance::proto::database::{
    self as pb, collection_service_client::CollectionServiceClient,
    collection_service_server::CollectionServiceServer,
    database_service_client::DatabaseServiceClient, database_service_server::DatabaseServiceServer,
    document_service_client::DocumentServiceClient, document_service_server::DocumentServiceServer,
    transaction_service_client::TransactionServiceClient,
    transaction_service_server::TransactionServiceServer, wal_service_client::WalServiceClient,
    wal_service_server::WalServiceServer,
};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status, transport::Channel};

/// The request header of retries.
const REQUEST_ID: &str = "distgo-request-id";

/// The one thing a wrong worker gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// GetCollection of a missing collection answers FAILED_PRECONDITION.
    WrongCode,
    /// UpdateDocument answers as if it stored the value, but stores nothing.
    LostUpdate,
    /// Document pages overlap: each next page repeats the last item.
    PageOverlap,
    /// Document values are re-serialised (compact JSON) on the way in.
    NotVerbatim,
    /// Deleting a database leaves its collections behind, to reappear when
    /// the database is created again.
    PartialCascade,
    /// Commit applies the operations one at a time and stops at the first
    /// that fails, keeping the ones before it (and answering, correctly,
    /// FAILED_PRECONDITION naming the failing operation).
    PartialCommit,
    /// Execute applies each operation at once, besides buffering it.
    LeakyExecute,
    /// Nothing: a faithful front (with TLS or a token, see [`Front`]).
    Nothing,
    /// INVALID_ARGUMENT of a create or update keeps only its first field
    /// violation (ERR-3).
    FirstViolationOnly,
    /// UpdateDocument with a value that is not JSON answers OK as if it
    /// stored it, and stores nothing (FIELD-3 on update).
    UpdateAcceptsMalformed,
    /// Every resource in every answer has `updated_at` = `created_at`: a
    /// frozen update time (FIELD-6).
    FrozenUpdatedAt,
    /// ListWALEntries leaves out the document deletes of a cascade: those
    /// with the timestamp of a collection's delete (WAL-4).
    CascadeLogPartial,
    /// A failed Commit leaves the transaction open: committing it again
    /// fails the same way instead of NOT_FOUND (TXN-COMMIT-3).
    FailedCommitStaysOpen,
    /// Execute with at least one operation answers OK for a transaction id
    /// it does not know: it looks the id up only for an empty Execute
    /// (TXN-UNKNOWN-1).
    ExecuteIgnoresUnknownId,
    /// The `distgo-request-id` header is ignored: a retry is a new write
    /// (REQ-1).
    IgnoresRequestId,
    /// Every List with `page_size` 0 answers an empty page (LIST-2).
    PageSizeZeroEmpty,
    /// ListDatabases with `page_size` 0 returns pages of 50 (LIST-2).
    DatabasePagesOfFifty,
    /// ListDatabases returns one item fewer than asked while more remain
    /// (LIST-3).
    DatabasePagesShort,
    /// ListDatabases pages by offset: the token is the index of the next
    /// item, so a deleted item shifts the listing (LIST-5), and a full last
    /// page still carries a token (LIST-8).
    DatabaseOffsetTokens,
    /// GetDocument answers from a copy of the documents that applies each
    /// write [`lagging::LAG`] after it was acknowledged: a follower's stale
    /// reads (CLUSTER-1..3; see [`lagging::LaggingDeployment`]).
    StaleFollowerReads,
    /// CreateDatabase answers an `updated_at` one nanosecond off its
    /// `created_at` (FIELD-6 at create, DB-CREATE-1); reads are right.
    CreatedDatabaseTimesDiffer,
    /// CreateDatabase of an id that exists answers FAILED_PRECONDITION
    /// instead of ALREADY_EXISTS (DB-CREATE-2).
    DuplicateDatabaseWrongCode,
    /// DeleteDatabase of a missing database answers OK (DB-DELETE-2).
    DeleteMissingDatabaseOk,
}

/// How a wrong worker is reached: plain, or like a production gateway with
/// TLS and a bearer token every request must carry.
#[derive(Clone, Debug, Default)]
pub struct Front {
    /// PEM certificate and key to serve TLS with.
    pub tls: Option<(String, String)>,
    /// The `authorization` metadata every request must carry.
    pub token: Option<String>,
}

/// Collections (id, description) of deleted databases, by database name.
type Graveyard = Arc<Mutex<BTreeMap<String, Vec<(String, String)>>>>;

/// The operations executed in each open transaction, by id.
type Buffers = Arc<Mutex<BTreeMap<String, Vec<pb::Operation>>>>;

#[derive(Clone)]
struct Wrong {
    up: Channel,
    flaws: Arc<[Flaw]>,
    /// For FailedCommitStaysOpen: the answer of each failed commit, by
    /// transaction id.
    zombies: Arc<Mutex<BTreeMap<String, Status>>>,
    /// For PartialCascade.
    graveyard: Graveyard,
    /// For PartialCommit.
    buffers: Buffers,
    /// The copy of a [`lagging::LaggingDeployment`]'s follower, which every
    /// member feeds with the document writes it acknowledges.
    replica: Option<Arc<lagging::Replica>>,
}

type R<T> = Result<Response<T>, Status>;

impl Wrong {
    fn has(&self, flaw: Flaw) -> bool {
        self.flaws.contains(&flaw)
    }

    /// The message of `r`, as a request to the reference worker carrying
    /// the client's `distgo-request-id` (unless the flaw drops it).
    fn fwd<T>(&self, r: Request<T>) -> Request<T> {
        let id = r.metadata().get(REQUEST_ID).cloned();
        let mut out = Request::new(r.into_inner());
        if let (Some(id), false) = (id, self.has(Flaw::IgnoresRequestId)) {
            out.metadata_mut().insert(REQUEST_ID, id);
        }
        out
    }

    /// The answer of a create, get or update, as the flaws change it.
    fn answer<T: Resource>(&self, result: R<T>) -> R<T> {
        match result {
            Ok(mut response) => {
                if self.has(Flaw::FrozenUpdatedAt) {
                    response.get_mut().freeze();
                }
                Ok(response)
            }
            Err(status) if self.has(Flaw::FirstViolationOnly) => Err(first_violation(status)),
            Err(status) => Err(status),
        }
    }

    fn db(&self) -> DatabaseServiceClient<Channel> {
        DatabaseServiceClient::new(self.up.clone())
    }
    fn coll(&self) -> CollectionServiceClient<Channel> {
        CollectionServiceClient::new(self.up.clone())
    }
    fn doc(&self) -> DocumentServiceClient<Channel> {
        DocumentServiceClient::new(self.up.clone())
    }
    fn txn(&self) -> TransactionServiceClient<Channel> {
        TransactionServiceClient::new(self.up.clone())
    }
    fn wal(&self) -> WalServiceClient<Channel> {
        WalServiceClient::new(self.up.clone())
    }

    /// Applies one operation on its own: a transaction of one.
    async fn apply_alone(&self, database_name: &str, op: pb::Operation) -> Result<(), Status> {
        let begin = pb::BeginRequest {
            database_name: database_name.to_owned(),
        };
        let transaction_id = self.txn().begin(begin).await?.into_inner().transaction_id;
        let execute = pb::ExecuteRequest {
            database_name: database_name.to_owned(),
            transaction_id: transaction_id.clone(),
            operations: vec![op],
        };
        self.txn().execute(execute).await?;
        let commit = pb::CommitRequest {
            database_name: database_name.to_owned(),
            transaction_id,
        };
        self.txn().commit(commit).await.map(drop)
    }

    /// Feeds a lagging deployment's copy with an acknowledged document
    /// write: the document as answered, or `None` for a delete of `name`.
    fn replicate(&self, name: &str, document: Option<&pb::Document>) {
        if let Some(replica) = &self.replica {
            replica.apply_later(name.to_owned(), document.cloned());
        }
    }

    fn mangle(&self, value: String) -> String {
        if !self.has(Flaw::NotVerbatim) {
            return value;
        }
        serde_json::from_str::<serde_json::Value>(&value)
            .map(|v| v.to_string())
            .unwrap_or(value)
    }
}

/// A running wrong worker; stops when dropped.
pub struct WrongWorker {
    /// `http://127.0.0.1:PORT` (`https://` behind TLS).
    pub addr: String,
    stop: Option<oneshot::Sender<()>>,
}

impl WrongWorker {
    /// Starts a worker with `flaw` in front of the worker at `upstream`.
    pub async fn start(upstream: &str, flaw: Flaw) -> WrongWorker {
        Self::start_with(upstream, &[flaw], Front::default()).await
    }

    /// [`WrongWorker::start`], reached through `front`.
    pub async fn start_behind(upstream: &str, flaw: Flaw, front: Front) -> WrongWorker {
        Self::start_with(upstream, &[flaw], front).await
    }

    /// A worker with every one of `flaws`, reached through `front`.
    pub async fn start_with(upstream: &str, flaws: &[Flaw], front: Front) -> WrongWorker {
        Self::start_wrong(upstream, flaws, front, None).await
    }

    /// A member of a [`lagging::LaggingDeployment`]: it feeds `replica`.
    pub async fn start_member(
        upstream: &str,
        flaws: &[Flaw],
        front: Front,
        replica: Arc<lagging::Replica>,
    ) -> WrongWorker {
        Self::start_wrong(upstream, flaws, front, Some(replica)).await
    }

    async fn start_wrong(
        upstream: &str,
        flaws: &[Flaw],
        front: Front,
        replica: Option<Arc<lagging::Replica>>,
    ) -> WrongWorker {
        let up = Channel::from_shared(upstream.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let wrong = Wrong {
            up,
            flaws: flaws.into(),
            zombies: Arc::default(),
            graveyard: Arc::default(),
            buffers: Arc::default(),
            replica,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut builder = tonic::transport::Server::builder();
        let scheme = match &front.tls {
            Some((cert, key)) => {
                let identity = tonic::transport::Identity::from_pem(cert, key);
                let tls = tonic::transport::ServerTlsConfig::new().identity(identity);
                builder = builder.tls_config(tls).unwrap();
                "https"
            }
            None => "http",
        };
        let token = front.token.clone();
        let authorized = move |request: Request<()>| -> Result<Request<()>, Status> {
            let Some(token) = &token else {
                return Ok(request);
            };
            match request.metadata().get("authorization") {
                Some(given) if given.to_str().ok() == Some(token.as_str()) => Ok(request),
                _ => Err(Status::unauthenticated("missing or wrong authorization")),
            }
        };
        let server = builder
            .layer(tonic::service::InterceptorLayer::new(authorized))
            .add_service(DatabaseServiceServer::new(wrong.clone()))
            .add_service(CollectionServiceServer::new(wrong.clone()))
            .add_service(DocumentServiceServer::new(wrong.clone()))
            .add_service(TransactionServiceServer::new(wrong.clone()))
            .add_service(WalServiceServer::new(wrong))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            );
        tokio::spawn(server);
        WrongWorker {
            addr: format!("{scheme}://{addr}"),
            stop: Some(stop),
        }
    }
}

impl Drop for WrongWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A resource message whose timestamps a flaw can freeze.
trait Resource {
    /// Sets `updated_at` to `created_at`.
    fn freeze(&mut self);
}

macro_rules! resource {
    ($($t:ty),*) => {$(
        impl Resource for $t {
            fn freeze(&mut self) {
                self.updated_at = self.created_at;
            }
        }
    )*};
}
resource!(pb::Database, pb::Collection, pb::Document);

/// `status` with only its first BadRequest field violation.
fn first_violation(status: Status) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = status.get_error_details();
    let Some(bad) = details.bad_request().cloned() else {
        return status;
    };
    let mut first = bad.clone();
    first.field_violations.truncate(1);
    details = ErrorDetails::new();
    details.set_bad_request(first.field_violations);
    Status::with_error_details(status.code(), status.message(), details)
}

/// The i32 page size `n` as a count.
fn count(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Decodes an offset token of [`Flaw::DatabaseOffsetTokens`].
fn offset_of(token: &str) -> Option<usize> {
    token.strip_prefix("off-")?.parse().ok()
}
