//! The metrics endpoint, in-process: what a scrape shows after a few calls.
//!
//! `tests/prometheus.rs` runs a real Prometheus against a worker process;
//! this test checks the exposition itself, line by line, without one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::time::Duration;

use distgo_db::proto::database as pb;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

/// A raw HTTP/1.1 GET: status line and body.
async fn get(address: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the endpoint answers")
    .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (format!("{status}\n{head}"), body.to_owned())
}

#[tokio::test]
async fn a_scrape_shows_requests_by_method_and_code_and_the_store_sizes() {
    let config = common::test_config("metrics:\n  port: 0\n");
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = grpc.local_addr().unwrap();
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_address = metrics.local_addr().unwrap();
    let worker = distgo_db::Worker::new(config).with_metrics_listener(metrics);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(worker.serve(grpc, async {
        let _ = stopped.await;
    }));

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut databases = pb::database_service_client::DatabaseServiceClient::new(channel.clone());
    let mut collections =
        pb::collection_service_client::CollectionServiceClient::new(channel.clone());
    let mut documents = pb::document_service_client::DocumentServiceClient::new(channel);
    databases
        .create_database(pb::CreateDatabaseRequest {
            database_id: "shop".into(),
            database: Some(pb::Database {
                display_name: "Shop".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    collections
        .create_collection(pb::CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "carts".into(),
            collection: Some(pb::Collection::default()),
        })
        .await
        .unwrap();
    documents
        .create_document(pb::CreateDocumentRequest {
            parent: "databases/shop/collections/carts".into(),
            document_id: "c1".into(),
            document: Some(pb::Document {
                value: r#"{"items":3}"#.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    for _ in 0..3 {
        documents
            .get_document(pb::GetDocumentRequest {
                name: "databases/shop/collections/carts/documents/c1".into(),
            })
            .await
            .unwrap();
    }
    let missing = documents
        .get_document(pb::GetDocumentRequest {
            name: "databases/shop/collections/carts/documents/nope".into(),
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);

    let (head, body) = get(metrics_address, "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    let get_ok = "distgo_grpc_requests_total{service=\"worker.database.v1.DocumentService\",method=\"GetDocument\",code=\"OK\"} 3";
    let get_missing = "distgo_grpc_requests_total{service=\"worker.database.v1.DocumentService\",method=\"GetDocument\",code=\"NOT_FOUND\"} 1";
    let latency = "distgo_grpc_request_duration_seconds_count{service=\"worker.database.v1.DocumentService\",method=\"GetDocument\"} 4";
    for line in [
        get_ok,
        get_missing,
        latency,
        "distgo_grpc_requests_in_flight 0",
        "distgo_store_databases 1",
        "distgo_store_collections 1",
        "distgo_store_documents 1",
        "distgo_store_document_bytes 11",
        "distgo_transactions_open 0",
        "distgo_build_info{version=\"0.1.0\",node=\"test\"} 1",
        "# EOF",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "{line:?} missing from\n{body}"
        );
    }
    // A memory-only, standalone worker has no log and no replica set.
    assert!(!body.contains("distgo_wal_"), "{body}");
    assert!(!body.contains("distgo_raft_"), "{body}");

    let (head, _) = get(metrics_address, "/other").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn without_metrics_port_nothing_listens_and_requests_still_work() {
    let worker = common::TestWorker::start().await;
    let mut clients = worker.clients().await;
    let listed = clients
        .databases
        .list_databases(pb::ListDatabasesRequest::default())
        .await;
    assert!(listed.is_ok());
}
