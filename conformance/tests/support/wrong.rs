//! Deliberately wrong workers: each forwards to a reference worker and
//! breaks exactly one behaviour, so a test can check that the suite notices
//! (and blames the right clause).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use distgo_conformance::proto::database::{
    self as pb,
    collection_service_client::CollectionServiceClient,
    collection_service_server::{CollectionService, CollectionServiceServer},
    database_service_client::DatabaseServiceClient,
    database_service_server::{DatabaseService, DatabaseServiceServer},
    document_service_client::DocumentServiceClient,
    document_service_server::{DocumentService, DocumentServiceServer},
    transaction_service_client::TransactionServiceClient,
    transaction_service_server::{TransactionService, TransactionServiceServer},
};
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status, transport::Channel};

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
    flaw: Flaw,
    /// For PartialCascade.
    graveyard: Graveyard,
    /// For PartialCommit.
    buffers: Buffers,
}

type R<T> = Result<Response<T>, Status>;

impl Wrong {
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

    fn mangle(&self, value: String) -> String {
        if self.flaw != Flaw::NotVerbatim {
            return value;
        }
        serde_json::from_str::<serde_json::Value>(&value)
            .map(|v| v.to_string())
            .unwrap_or(value)
    }
}

#[tonic::async_trait]
impl DatabaseService for Wrong {
    async fn list_databases(
        &self,
        r: Request<pb::ListDatabasesRequest>,
    ) -> R<pb::ListDatabasesResponse> {
        self.db().list_databases(r.into_inner()).await
    }
    async fn get_database(&self, r: Request<pb::GetDatabaseRequest>) -> R<pb::Database> {
        self.db().get_database(r.into_inner()).await
    }
    async fn create_database(&self, r: Request<pb::CreateDatabaseRequest>) -> R<pb::Database> {
        let created = self.db().create_database(r.into_inner()).await?;
        let ghosts = self
            .graveyard
            .lock()
            .unwrap()
            .remove(&created.get_ref().name);
        for (id, description) in ghosts.unwrap_or_default() {
            let request = pb::CreateCollectionRequest {
                parent: created.get_ref().name.clone(),
                collection_id: id,
                collection: Some(pb::Collection {
                    description,
                    ..Default::default()
                }),
            };
            self.coll().create_collection(request).await?;
        }
        Ok(created)
    }
    async fn update_database(&self, r: Request<pb::UpdateDatabaseRequest>) -> R<pb::Database> {
        self.db().update_database(r.into_inner()).await
    }
    async fn delete_database(&self, r: Request<pb::DeleteDatabaseRequest>) -> R<()> {
        let name = r.get_ref().name.clone();
        if self.flaw == Flaw::PartialCascade {
            let list = pb::ListCollectionsRequest {
                parent: name.clone(),
                page_size: 1000,
                page_token: String::new(),
            };
            if let Ok(page) = self.coll().list_collections(list).await {
                let ghosts = page
                    .into_inner()
                    .collections
                    .into_iter()
                    .map(|c| {
                        (
                            c.name.rsplit('/').next().unwrap_or_default().to_owned(),
                            c.description,
                        )
                    })
                    .collect();
                self.graveyard.lock().unwrap().insert(name, ghosts);
            }
        }
        self.db().delete_database(r.into_inner()).await
    }
}

#[tonic::async_trait]
impl CollectionService for Wrong {
    async fn list_collections(
        &self,
        r: Request<pb::ListCollectionsRequest>,
    ) -> R<pb::ListCollectionsResponse> {
        self.coll().list_collections(r.into_inner()).await
    }
    async fn get_collection(&self, r: Request<pb::GetCollectionRequest>) -> R<pb::Collection> {
        let result = self.coll().get_collection(r.into_inner()).await;
        match result {
            Err(s) if self.flaw == Flaw::WrongCode && s.code() == Code::NotFound => {
                Err(Status::failed_precondition(s.message().to_owned()))
            }
            other => other,
        }
    }
    async fn create_collection(
        &self,
        r: Request<pb::CreateCollectionRequest>,
    ) -> R<pb::Collection> {
        self.coll().create_collection(r.into_inner()).await
    }
    async fn update_collection(
        &self,
        r: Request<pb::UpdateCollectionRequest>,
    ) -> R<pb::Collection> {
        self.coll().update_collection(r.into_inner()).await
    }
    async fn delete_collection(&self, r: Request<pb::DeleteCollectionRequest>) -> R<()> {
        self.coll().delete_collection(r.into_inner()).await
    }
}

#[tonic::async_trait]
impl DocumentService for Wrong {
    async fn list_documents(
        &self,
        r: Request<pb::ListDocumentsRequest>,
    ) -> R<pb::ListDocumentsResponse> {
        let request = r.into_inner();
        let mut page = self
            .doc()
            .list_documents(request.clone())
            .await?
            .into_inner();
        if self.flaw == Flaw::PageOverlap
            && !page.next_page_token.is_empty()
            && page.documents.len() >= 2
        {
            // The token of a page one shorter: the next page starts with the
            // last item of this one again.
            let shorter = pb::ListDocumentsRequest {
                page_size: page.documents.len() as i32 - 1,
                ..request
            };
            page.next_page_token = self
                .doc()
                .list_documents(shorter)
                .await?
                .into_inner()
                .next_page_token;
        }
        Ok(Response::new(page))
    }
    async fn get_document(&self, r: Request<pb::GetDocumentRequest>) -> R<pb::Document> {
        self.doc().get_document(r.into_inner()).await
    }
    async fn create_document(&self, r: Request<pb::CreateDocumentRequest>) -> R<pb::Document> {
        let mut request = r.into_inner();
        if let Some(d) = request.document.as_mut() {
            d.value = self.mangle(std::mem::take(&mut d.value));
        }
        self.doc().create_document(request).await
    }
    async fn update_document(&self, r: Request<pb::UpdateDocumentRequest>) -> R<pb::Document> {
        let mut request = r.into_inner();
        if let Some(d) = request.document.as_mut() {
            d.value = self.mangle(std::mem::take(&mut d.value));
        }
        if self.flaw == Flaw::LostUpdate {
            let doc = request.document.unwrap_or_default();
            let get = pb::GetDocumentRequest {
                name: doc.name.clone(),
            };
            let mut stored = self.doc().get_document(get).await?.into_inner();
            stored.value = doc.value;
            return Ok(Response::new(stored));
        }
        self.doc().update_document(request).await
    }
    async fn delete_document(&self, r: Request<pb::DeleteDocumentRequest>) -> R<()> {
        self.doc().delete_document(r.into_inner()).await
    }
}

#[tonic::async_trait]
impl TransactionService for Wrong {
    async fn begin(&self, r: Request<pb::BeginRequest>) -> R<pb::BeginResponse> {
        self.txn().begin(r.into_inner()).await
    }
    async fn execute(&self, r: Request<pb::ExecuteRequest>) -> R<()> {
        let request = r.into_inner();
        let answer = self.txn().execute(request.clone()).await?;
        match self.flaw {
            Flaw::PartialCommit => self
                .buffers
                .lock()
                .unwrap()
                .entry(request.transaction_id)
                .or_default()
                .extend(request.operations),
            Flaw::LeakyExecute => {
                for op in request.operations {
                    let _ = self.apply_alone(&request.database_name, op).await;
                }
            }
            _ => {}
        }
        Ok(answer)
    }
    async fn commit(&self, r: Request<pb::CommitRequest>) -> R<()> {
        let request = r.into_inner();
        if self.flaw != Flaw::PartialCommit {
            return self.txn().commit(request).await;
        }
        // End the real transaction (its answer is the right one for unknown,
        // finished and other databases' ids), then apply what it held.
        let rollback = pb::RollbackRequest {
            database_name: request.database_name.clone(),
            transaction_id: request.transaction_id.clone(),
        };
        self.txn().rollback(rollback).await?;
        let ops = self
            .buffers
            .lock()
            .unwrap()
            .remove(&request.transaction_id)
            .unwrap_or_default();
        for (i, op) in ops.into_iter().enumerate() {
            if let Err(status) = self.apply_alone(&request.database_name, op).await {
                let message = format!("operation {i} failed: {}", status.message());
                return Err(Status::failed_precondition(message));
            }
        }
        Ok(Response::new(()))
    }
    async fn rollback(&self, r: Request<pb::RollbackRequest>) -> R<()> {
        let request = r.into_inner();
        let answer = self.txn().rollback(request.clone()).await?;
        self.buffers.lock().unwrap().remove(&request.transaction_id);
        Ok(answer)
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
        Self::start_behind(upstream, flaw, Front::default()).await
    }

    /// [`WrongWorker::start`], reached through `front`.
    pub async fn start_behind(upstream: &str, flaw: Flaw, front: Front) -> WrongWorker {
        let up = Channel::from_shared(upstream.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let wrong = Wrong {
            up,
            flaw,
            graveyard: Arc::default(),
            buffers: Arc::default(),
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
            .add_service(TransactionServiceServer::new(wrong))
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
