//! Retries without duplicates: a write that carries `distgo-request-id` and
//! is sent again gets its first answer back, and is applied once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use common::TestWorker;
use distgo_db::proto::database::{
    CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database, Document,
    ListDocumentsRequest,
};
use tonic::{Code, Request};

fn with_id<T>(message: T, id: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("distgo-request-id", id.parse().unwrap());
    request
}

#[tokio::test]
async fn a_retried_create_with_a_generated_id_makes_one_document() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let database = CreateDatabaseRequest {
        database_id: "shop".into(),
        database: Some(Database {
            display_name: "Shop".into(),
            ..Default::default()
        }),
    };
    clients.databases.create_database(database).await.unwrap();
    let collection = CreateCollectionRequest {
        parent: "databases/shop".into(),
        collection_id: "cart".into(),
        collection: Some(Default::default()),
    };
    clients
        .collections
        .create_collection(collection)
        .await
        .unwrap();
    let create = || CreateDocumentRequest {
        parent: "databases/shop/collections/cart".into(),
        document_id: String::new(),
        document: Some(Document {
            value: r#"{"n": 1}"#.into(),
            ..Default::default()
        }),
    };
    let first = clients
        .documents
        .create_document(with_id(create(), "retry-1"))
        .await
        .unwrap()
        .into_inner();
    let again = clients
        .documents
        .create_document(with_id(create(), "retry-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first, "the same document, with the same timestamps");
    let other = clients
        .documents
        .create_document(with_id(create(), "retry-2"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.name, first.name, "another id is another write");
    let listed = clients
        .documents
        .list_documents(ListDocumentsRequest {
            parent: "databases/shop/collections/cart".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.documents.len(), 2);
}

#[tokio::test]
async fn a_retried_failure_is_answered_the_same_and_a_bad_id_is_refused() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let create = |display_name: &str| CreateDatabaseRequest {
        database_id: "shop".into(),
        database: Some(Database {
            display_name: display_name.into(),
            ..Default::default()
        }),
    };
    clients
        .databases
        .create_database(create("Shop"))
        .await
        .unwrap();
    let refused = clients
        .databases
        .create_database(with_id(create("Again"), "r"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    let retried = clients
        .databases
        .create_database(with_id(create("Again"), "r"))
        .await
        .unwrap_err();
    assert_eq!(
        (retried.code(), retried.message()),
        (refused.code(), refused.message())
    );
    let bad = clients
        .databases
        .create_database(with_id(create("Shop"), "has space"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("distgo-request-id"),
        "{}",
        bad.message()
    );
}
