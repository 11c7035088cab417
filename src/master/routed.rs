//! The services that are forwarded whole: collections, documents and
//! transactions. Each method names the string that holds its database
//! (`parent`, `name`, `collection.name`, `database_name` ...) and the
//! worker method it becomes; [`Router::unary`] does the rest.
//!
//! **Transactions** need nothing more: a transaction lives in one database,
//! and Begin, Execute, Commit and Rollback all carry `database_name`, so
//! every call of one transaction reaches the same set, which keeps the
//! transaction and commits it as one log entry. The id handed out is the
//! set's own. A transaction whose set has a leader change in the middle
//! fails there as it would on the set directly (NOT_FOUND: buffered
//! operations live on the leader); the master does not hide that.
//!
//! Page tokens of ListCollections and ListDocuments are the set's own,
//! passed through: one database's listing never leaves its set.

use tonic::{Request, Response, Status};

use super::router::Router;
use crate::proto::master::database::{
    BeginRequest, BeginResponse, Collection, CommitRequest, CreateCollectionRequest,
    CreateDocumentRequest, DeleteCollectionRequest, DeleteDocumentRequest, Document,
    ExecuteRequest, GetCollectionRequest, GetDocumentRequest, ListCollectionsRequest,
    ListCollectionsResponse, ListDocumentsRequest, ListDocumentsResponse, RollbackRequest,
    UpdateCollectionRequest, UpdateDocumentRequest, collection_service_server::CollectionService,
    document_service_server::DocumentService, transaction_service_server::TransactionService,
};

/// A service whose every method is forwarded: `$name(request: $req) ->
/// $resp` is routed by the string `$key` (computed from the request `$r`)
/// to the worker's `$service/$method`. The whole `impl` is generated, so
/// that `async_trait` sees the methods.
macro_rules! routed {
    ($ty:ty: $trait:ident, $service:literal {
        $( $name:ident($req:ty) -> $resp:ty = $method:literal by |$r:ident| $key:expr; )*
    }) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $(
                async fn $name(&self, request: Request<$req>) -> Result<Response<$resp>, Status> {
                    let key: String = {
                        let $r = request.get_ref();
                        $key
                    };
                    const PATH: &str = concat!("/worker.database.v1.", $service, "/", $method);
                    self.router.unary(&key, PATH, request).await
                }
            )*
        }
    };
}

/// `master.database.v1.CollectionService`.
#[derive(Clone, Debug)]
pub struct MasterCollections {
    router: Router,
}

impl MasterCollections {
    /// The service over `router`.
    pub fn new(router: Router) -> Self {
        MasterCollections { router }
    }
}

routed!(MasterCollections: CollectionService, "CollectionService" {
    list_collections(ListCollectionsRequest) -> ListCollectionsResponse = "ListCollections" by |r| r.parent.clone();
    get_collection(GetCollectionRequest) -> Collection = "GetCollection" by |r| r.name.clone();
    create_collection(CreateCollectionRequest) -> Collection = "CreateCollection" by |r| r.parent.clone();
    update_collection(UpdateCollectionRequest) -> Collection = "UpdateCollection"
        by |r| r.collection.as_ref().map(|c| c.name.clone()).unwrap_or_default();
    delete_collection(DeleteCollectionRequest) -> () = "DeleteCollection" by |r| r.name.clone();
});

/// `master.database.v1.DocumentService`.
#[derive(Clone, Debug)]
pub struct MasterDocuments {
    router: Router,
}

impl MasterDocuments {
    /// The service over `router`.
    pub fn new(router: Router) -> Self {
        MasterDocuments { router }
    }
}

routed!(MasterDocuments: DocumentService, "DocumentService" {
    list_documents(ListDocumentsRequest) -> ListDocumentsResponse = "ListDocuments" by |r| r.parent.clone();
    get_document(GetDocumentRequest) -> Document = "GetDocument" by |r| r.name.clone();
    create_document(CreateDocumentRequest) -> Document = "CreateDocument" by |r| r.parent.clone();
    update_document(UpdateDocumentRequest) -> Document = "UpdateDocument"
        by |r| r.document.as_ref().map(|d| d.name.clone()).unwrap_or_default();
    delete_document(DeleteDocumentRequest) -> () = "DeleteDocument" by |r| r.name.clone();
});

/// `master.database.v1.TransactionService`.
#[derive(Clone, Debug)]
pub struct MasterTransactions {
    router: Router,
}

impl MasterTransactions {
    /// The service over `router`.
    pub fn new(router: Router) -> Self {
        MasterTransactions { router }
    }
}

routed!(MasterTransactions: TransactionService, "TransactionService" {
    begin(BeginRequest) -> BeginResponse = "Begin" by |r| r.database_name.clone();
    execute(ExecuteRequest) -> () = "Execute" by |r| r.database_name.clone();
    commit(CommitRequest) -> () = "Commit" by |r| r.database_name.clone();
    rollback(RollbackRequest) -> () = "Rollback" by |r| r.database_name.clone();
});
