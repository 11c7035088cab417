//! The null worker: the same RPCs, no store. It is the transport's ceiling.
//!
//! A real worker's cost per call is gRPC (HTTP/2 framing, protobuf decoding
//! and encoding, tokio scheduling) *plus* its own work (validation, locking,
//! the store, the log). The null worker does only the first part: it answers
//! every call at once with a fixed, realistic message of the same size a real
//! worker would send (the request's name echoed back, a value of
//! `--value-bytes`, two timestamps, a page of documents, a page token of a
//! typical length). Benchmarked with the same client, settings and machine,
//! right before the real target, it tells how much of the real target's cost
//! is its own: `target / null` throughput near 1.0 means the worker adds
//! little beyond what gRPC costs anyway.
//!
//! It runs on its own thread and tokio runtime (as many worker threads as a
//! worker process would get), so it competes with the load generator for the
//! CPU the same way a separate worker process does.

use std::{net::SocketAddr, thread::JoinHandle};

use anyhow::Context;
use prost_types::Timestamp;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::{
    Request, Response, Status,
    transport::{Server, server::TcpIncoming},
};

use super::{
    dataset::json_value,
    pinning::{self, CpuList},
};
use crate::proto::database::{
    self as pb,
    collection_service_server::{CollectionService, CollectionServiceServer},
    database_service_server::{DatabaseService, DatabaseServiceServer},
    document_service_server::{DocumentService, DocumentServiceServer},
    transaction_service_server::{TransactionService, TransactionServiceServer},
    wal_service_server::{WalService, WalServiceServer},
};

/// The name of the null worker's threads, whose CPU time the report reads.
pub const THREAD_NAME: &str = "null-worker";

/// The length of an id the null worker "generates" (as a worker would: 20).
const GENERATED_ID: &str = "nullnullnullnullnull";

/// The answers of the null worker.
#[derive(Clone, Debug)]
pub struct NullWorker {
    /// Every document value it returns.
    value: String,
}

impl NullWorker {
    /// A null worker whose documents have values of `value_bytes` bytes.
    pub fn new(value_bytes: usize) -> Self {
        NullWorker {
            value: json_value(value_bytes, 0),
        }
    }

    fn document(&self, name: String) -> pb::Document {
        pb::Document {
            name,
            id: String::new(),
            value: self.value.clone(),
            created_at: Some(timestamp()),
            updated_at: Some(timestamp()),
        }
    }

    /// A page of `page_size` documents under `parent` (0 means 100).
    fn page(&self, parent: &str, page_size: i32) -> Result<pb::ListDocumentsResponse, Status> {
        let size = page_size_of(page_size)?;
        let documents = (0..size)
            .map(|i| self.document(format!("{parent}/documents/d{i:06}")))
            .collect();
        Ok(pb::ListDocumentsResponse {
            documents,
            next_page_token: token(parent, "d000000"),
        })
    }
}

/// A commit time as long on the wire as most real ones: nanos of 2^28 or
/// more (nearly 3 in 4 real times) take 5 varint bytes.
fn timestamp() -> Timestamp {
    Timestamp {
        seconds: 1_780_000_000,
        nanos: 987_654_321,
    }
}

/// A token as long as a real cursor token for `scope` and `cursor`: base64
/// of version, two length-prefixed strings and a checksum.
fn token(scope: &str, cursor: &str) -> String {
    let raw = 1 + 2 + scope.len() + 2 + cursor.len() + 4;
    "t".repeat(raw.div_ceil(3) * 4)
}

fn page_size_of(requested: i32) -> Result<usize, Status> {
    match usize::try_from(requested) {
        Ok(0) => Ok(100),
        Ok(n) if n <= 1000 => Ok(n),
        _ => Err(Status::invalid_argument(
            "page_size must be between 0 and 1000",
        )),
    }
}

fn id_or_generated(id: String) -> String {
    if id.is_empty() {
        GENERATED_ID.to_owned()
    } else {
        id
    }
}

#[tonic::async_trait]
impl DocumentService for NullWorker {
    async fn list_documents(
        &self,
        request: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        let req = request.into_inner();
        self.page(&req.parent, req.page_size).map(Response::new)
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        Ok(Response::new(self.document(request.into_inner().name)))
    }

    async fn create_document(
        &self,
        request: Request<pb::CreateDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let req = request.into_inner();
        let body = req.document.unwrap_or_default();
        let id = id_or_generated(if req.document_id.is_empty() {
            body.id
        } else {
            req.document_id
        });
        let mut document = self.document(format!("{}/documents/{id}", req.parent));
        document.value = body.value;
        Ok(Response::new(document))
    }

    async fn update_document(
        &self,
        request: Request<pb::UpdateDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let body = request.into_inner().document.unwrap_or_default();
        let mut document = self.document(body.name);
        document.value = body.value;
        Ok(Response::new(document))
    }

    async fn delete_document(
        &self,
        _: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

fn database(name: String, display_name: String) -> pb::Database {
    pb::Database {
        name,
        display_name,
        created_at: Some(timestamp()),
        updated_at: Some(timestamp()),
    }
}

fn collection(name: String, description: String) -> pb::Collection {
    pb::Collection {
        name,
        description,
        created_at: Some(timestamp()),
        updated_at: Some(timestamp()),
    }
}

#[tonic::async_trait]
impl DatabaseService for NullWorker {
    async fn list_databases(
        &self,
        request: Request<pb::ListDatabasesRequest>,
    ) -> Result<Response<pb::ListDatabasesResponse>, Status> {
        let size = page_size_of(request.into_inner().page_size)?;
        let databases = (0..size)
            .map(|i| database(format!("databases/db{i:06}"), "null".into()))
            .collect();
        let next_page_token = token("", "db000000");
        Ok(Response::new(pb::ListDatabasesResponse {
            databases,
            next_page_token,
        }))
    }

    async fn get_database(
        &self,
        request: Request<pb::GetDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        Ok(Response::new(database(
            request.into_inner().name,
            "null".into(),
        )))
    }

    async fn create_database(
        &self,
        request: Request<pb::CreateDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        let req = request.into_inner();
        let name = format!("databases/{}", id_or_generated(req.database_id));
        let display_name = req.database.unwrap_or_default().display_name;
        Ok(Response::new(database(name, display_name)))
    }

    async fn update_database(
        &self,
        request: Request<pb::UpdateDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        let body = request.into_inner().database.unwrap_or_default();
        Ok(Response::new(database(body.name, body.display_name)))
    }

    async fn delete_database(
        &self,
        _: Request<pb::DeleteDatabaseRequest>,
    ) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl CollectionService for NullWorker {
    async fn list_collections(
        &self,
        request: Request<pb::ListCollectionsRequest>,
    ) -> Result<Response<pb::ListCollectionsResponse>, Status> {
        let req = request.into_inner();
        let size = page_size_of(req.page_size)?;
        let collections = (0..size)
            .map(|i| collection(format!("{}/collections/c{i:06}", req.parent), String::new()))
            .collect();
        let next_page_token = token(&req.parent, "c000000");
        Ok(Response::new(pb::ListCollectionsResponse {
            collections,
            next_page_token,
        }))
    }

    async fn get_collection(
        &self,
        request: Request<pb::GetCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        Ok(Response::new(collection(
            request.into_inner().name,
            String::new(),
        )))
    }

    async fn create_collection(
        &self,
        request: Request<pb::CreateCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        let req = request.into_inner();
        let name = format!(
            "{}/collections/{}",
            req.parent,
            id_or_generated(req.collection_id)
        );
        let description = req.collection.unwrap_or_default().description;
        Ok(Response::new(collection(name, description)))
    }

    async fn update_collection(
        &self,
        request: Request<pb::UpdateCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        let body = request.into_inner().collection.unwrap_or_default();
        Ok(Response::new(collection(body.name, body.description)))
    }

    async fn delete_collection(
        &self,
        _: Request<pb::DeleteCollectionRequest>,
    ) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl TransactionService for NullWorker {
    async fn begin(
        &self,
        _: Request<pb::BeginRequest>,
    ) -> Result<Response<pb::BeginResponse>, Status> {
        let transaction_id = GENERATED_ID.repeat(2);
        Ok(Response::new(pb::BeginResponse { transaction_id }))
    }

    async fn execute(&self, _: Request<pb::ExecuteRequest>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn commit(&self, _: Request<pb::CommitRequest>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn rollback(&self, _: Request<pb::RollbackRequest>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl WalService for NullWorker {
    async fn list_wal_entries(
        &self,
        _: Request<pb::ListWalEntriesRequest>,
    ) -> Result<Response<pb::ListWalEntriesResponse>, Status> {
        Ok(Response::new(pb::ListWalEntriesResponse::default()))
    }

    async fn truncate_wal(
        &self,
        _: Request<pb::TruncateWalRequest>,
    ) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

/// Serves `worker` on `listener` until `shutdown` completes.
///
/// Accepted sockets get TCP_NODELAY, as tonic's own `serve(addr)` sets by
/// default: the ceiling is the best the transport does out of the box.
pub async fn serve(
    worker: NullWorker,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .add_service(DatabaseServiceServer::new(worker.clone()))
        .add_service(CollectionServiceServer::new(worker.clone()))
        .add_service(DocumentServiceServer::new(worker.clone()))
        .add_service(TransactionServiceServer::new(worker.clone()))
        .add_service(WalServiceServer::new(worker))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

/// A null worker running on its own thread and runtime; stopped on drop.
#[derive(Debug)]
pub struct Running {
    /// Where it listens: `127.0.0.1:<free port>`.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Binds `127.0.0.1:0` and starts serving `worker` with `threads` runtime
    /// threads, each pinned to `cpus` when given.
    pub fn start(
        worker: NullWorker,
        threads: usize,
        cpus: Option<CpuList>,
    ) -> anyhow::Result<Self> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind the null worker")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let outer_cpus = cpus.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(THREAD_NAME)
            .on_thread_start(move || {
                pinning::pin_this_thread(cpus.as_ref(), "null worker");
            })
            .enable_all()
            .build()
            .context("cannot start the null worker's runtime")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                pinning::pin_this_thread(outer_cpus.as_ref(), "null worker");
                runtime.block_on(async move {
                    let outcome = match TcpListener::from_std(listener) {
                        Ok(listener) => serve(worker, listener, async { drop(stopped.await) })
                            .await
                            .map_err(anyhow::Error::from),
                        Err(err) => Err(err.into()),
                    };
                    if let Err(err) = outcome {
                        eprintln!("null worker: {err:#}");
                    }
                });
            })
            .context("cannot start the null worker's thread")?;
        Ok(Running {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
