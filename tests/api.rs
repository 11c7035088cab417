//! The worker through its gRPC API: the issue's acceptance checks and the
//! error details a client relies on. (Rule-by-rule coverage of the contract
//! is the conformance suite's job: `cargo test -p distgo-conformance`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::collections::BTreeSet;

use common::{Clients, TestWorker};
use distgo_db::proto::database::{
    Collection, CommitRequest, CreateCollectionRequest, CreateDatabaseRequest,
    CreateDocumentRequest, Database, DeleteDocumentRequest, Document, GetDatabaseRequest,
    GetDocumentRequest, ListDatabasesRequest, ListDocumentsRequest, UpdateDatabaseRequest,
    UpdateDocumentRequest, database_service_client::DatabaseServiceClient,
};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use prost_types::FieldMask;
use tonic::{Code, Status, body::Body};
use tonic_types::StatusExt;

async fn collection_with(clients: &mut Clients, db: &str) -> String {
    clients
        .databases
        .create_database(CreateDatabaseRequest {
            database_id: db.into(),
            database: Some(Database {
                display_name: db.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    clients
        .collections
        .create_collection(CreateCollectionRequest {
            parent: format!("databases/{db}"),
            collection_id: "c".into(),
            collection: Some(Collection::default()),
        })
        .await
        .unwrap()
        .into_inner()
        .name
}

fn doc(id: &str, value: &str) -> Option<Document> {
    Some(Document {
        id: id.into(),
        value: value.into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn eight_concurrent_clients_creating_400_documents_lose_none() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let parent = collection_with(&mut clients, "busy").await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let mut documents = worker.clients().await.documents;
        let parent = parent.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                documents
                    .create_document(CreateDocumentRequest {
                        parent: parent.clone(),
                        document_id: format!("c{client}-{i:02}"),
                        document: doc("", &format!(r#"{{"client":{client},"i":{i}}}"#)),
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut ids = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = clients
            .documents
            .list_documents(ListDocumentsRequest {
                parent: parent.clone(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.documents.into_iter().map(|d| d.name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(ids.len(), 400);
}

#[tokio::test]
async fn paging_250_documents_by_7_with_a_deletion_between_pages() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let parent = collection_with(&mut clients, "paging").await;
    for i in 0..250 {
        clients
            .documents
            .create_document(CreateDocumentRequest {
                parent: parent.clone(),
                document_id: format!("d{i:03}"),
                document: doc("", "{}"),
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut deleted = BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = clients
            .documents
            .list_documents(ListDocumentsRequest {
                parent: parent.clone(),
                page_size: 7,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        let last = page.documents.last().map(|d| d.name.clone());
        seen.extend(page.documents.into_iter().map(|d| d.name));
        // Delete the item the token points past, and one not yet seen.
        if pages % 5 == 1 {
            let last = last.clone().unwrap();
            let last_index: usize = last[last.len() - 3..].parse().unwrap();
            let ahead = format!("{parent}/documents/d{:03}", last_index + 5);
            for name in [last, ahead] {
                clients
                    .documents
                    .delete_document(DeleteDocumentRequest { name: name.clone() })
                    .await
                    .unwrap();
                deleted.insert(name);
            }
        }
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let expected: Vec<String> = (0..250)
        .map(|i| format!("{parent}/documents/d{i:03}"))
        .filter(|name| !deleted.contains(name) || seen.contains(name))
        .collect();
    assert_eq!(
        seen, expected,
        "every remaining item exactly once, in order"
    );
    assert!(pages >= 30, "{pages} pages");
}

#[tokio::test]
async fn invalid_arguments_name_every_bad_field() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let status = clients
        .documents
        .create_document(CreateDocumentRequest {
            parent: "databases/UPPER/collections/c".into(),
            document_id: "bad id".into(),
            document: doc("", "[1, 2]"),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["parent", "document_id", "document.value"]);
}

#[tokio::test]
async fn values_round_trip_byte_for_byte_and_updates_keep_created_at() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let parent = collection_with(&mut clients, "verbatim").await;
    let value = "{ \"b\" : 1.50,\n  \"a\": [\"\\u00e9\", 1e400] }";
    let created = clients
        .documents
        .create_document(CreateDocumentRequest {
            parent: parent.clone(),
            document_id: String::new(),
            document: doc("", value),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.id.is_empty(), "id is input only");
    assert_eq!(created.value, value);
    assert_eq!(created.created_at, created.updated_at);
    let updated = clients
        .documents
        .update_document(UpdateDocumentRequest {
            document: Some(Document {
                name: created.name.clone(),
                value: "{}".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.created_at, created.created_at);
    let nanos = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos));
    assert!(nanos(updated.updated_at) > nanos(created.updated_at));
    let read = clients
        .documents
        .get_document(GetDocumentRequest { name: created.name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, updated);
}

#[tokio::test]
async fn stopping_returns_once_in_flight_work_is_done() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    collection_with(&mut clients, "stop").await;
    worker.stop().await.unwrap();
    let err = clients
        .documents
        .get_document(GetDocumentRequest {
            name: "databases/stop/collections/c/documents/x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

/// DatabaseService over plain HTTP/2, without the deadline timer that
/// tonic's channel runs on the client side (it reports its own CANCELLED
/// when that fires first), so the test sees the worker's answer.
fn timerless(worker: &TestWorker) -> DatabaseServiceClient<Client<HttpConnector, Body>> {
    let http = Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let origin = format!("http://{}", worker.address).parse().unwrap();
    DatabaseServiceClient::with_origin(http, origin)
}

fn get_database(name: &str, timeout: Option<&'static str>) -> tonic::Request<GetDatabaseRequest> {
    let mut request = tonic::Request::new(GetDatabaseRequest { name: name.into() });
    if let Some(timeout) = timeout {
        let value = timeout.parse().unwrap();
        request.metadata_mut().insert("grpc-timeout", value);
    }
    request
}

/// tonic's server timer would answer CANCELLED about half of these (it and
/// the handler race); the worker answers every one DEADLINE_EXCEEDED.
#[tokio::test]
async fn an_expired_client_deadline_is_deadline_exceeded_every_time() {
    let worker = TestWorker::start().await;
    let mut client = timerless(&worker);
    for _ in 0..50 {
        let status = client
            .get_database(get_database("databases/missing", Some("1n")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert!(status.message().contains("client's deadline"), "{status:?}");
    }
}

/// A deadline that leaves time, and one that cannot be parsed (ignored, as
/// tonic ignores it), both let the request reach its handler.
#[tokio::test]
async fn a_generous_or_malformed_client_deadline_lets_the_request_run() {
    let worker = TestWorker::start().await;
    let mut client = timerless(&worker);
    for timeout in [
        None,
        Some("10S"),
        Some("99999999H"),
        Some("soon"),
        Some("1x"),
    ] {
        let status = client
            .get_database(get_database("databases/missing", timeout))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{timeout:?}: {status:?}");
    }
}

fn assert_small(status: &Status) {
    assert!(
        status.message().len() <= 1024,
        "{} bytes",
        status.message().len()
    );
    assert!(
        status.details().len() <= 4096,
        "{} bytes",
        status.details().len()
    );
}

/// Before the messages were bounded, a 100 000-character name came back in
/// the trailers, past the client's 16 KiB header limit: the connection was
/// reset and the client saw RESOURCE_EXHAUSTED "h2 protocol error". Every
/// echo of client input is now bounded, and the connection stays usable.
#[tokio::test]
async fn huge_client_values_get_small_statuses_and_the_connection_survives() {
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let long = "x".repeat(100_000);

    let name = format!("databases/{long}");
    let status = clients
        .databases
        .get_database(GetDatabaseRequest { name: name.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["name"]);
    assert!(
        status.message().contains("(100010 characters)"),
        "{status:?}"
    );
    assert_small(&status);

    let update = UpdateDatabaseRequest {
        database: Some(Database {
            name: "databases/a".into(),
            display_name: "A".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec![long.clone()],
        }),
    };
    let status = clients.databases.update_database(update).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("(100000 characters)"),
        "{status:?}"
    );
    assert_small(&status);

    let commit = CommitRequest {
        database_name: "databases/a".into(),
        transaction_id: long,
    };
    let status = clients.transactions.commit(commit).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        status.message().contains("(100000 characters)"),
        "{status:?}"
    );
    assert_small(&status);

    // The same connection still serves.
    clients
        .databases
        .list_databases(ListDatabasesRequest::default())
        .await
        .unwrap();
}
