//! The master and its workers over TLS, with tokens, both ways: the
//! master calls a TLS worker that demands a token it does not share with
//! clients; a master that does not trust the worker's CA says so (TLS, at
//! once); a worker registers with a master that serves TLS and demands an
//! admin token; and mutual TLS, a worker that demands a client certificate
//! from the master, which presents its own `grpc.tls` one. Certificates are
//! made by the test (`common::pki`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::{
    TestMaster, TestWorker,
    pki::{Ca, TlsFiles},
};
use distgo_db::{
    config::Config,
    proto::database::{
        ListDatabasesRequest, database_service_client::DatabaseServiceClient as WorkerDatabases,
    },
    proto::master::{
        cluster::{ListWorkersRequest, cluster_service_client::ClusterServiceClient},
        database::{
            CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database,
            Document, GetDocumentRequest, collection_service_client::CollectionServiceClient,
            database_service_client::DatabaseServiceClient,
            document_service_client::DocumentServiceClient,
        },
    },
};
use tonic::{
    Code, Request,
    transport::{Channel, ClientTlsConfig, Endpoint},
};

/// The token clients present to the master (in the master's file only).
const CLIENT_TOKEN: &str = "client-token-0123456789";
/// The token the master presents to the workers (in theirs only).
const MASTER_TOKEN: &str = "master-token-9876543210";
/// The document the mutual-TLS cases write.
const BOTH_WAYS: &str = "{\"both\":\"ways\"}";
/// The token a worker registers with (an admin token of the master's).
const WORKER_TOKEN: &str = "worker-token-5555555555";

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    quoted(&path)
}

/// A worker on 127.0.0.1:0 that serves TLS (`pki`) and demands `MASTER_TOKEN`,
/// and with `mutual` a client certificate signed by `pki`'s CA as well.
async fn tls_worker(pki: &TlsFiles, mutual: bool) -> TestWorker {
    let tokens = write(
        pki.dir.path(),
        "worker-tokens",
        &format!("{MASTER_TOKEN} admin\n"),
    );
    let yaml = format!(
        "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 4s\n{}logging:\n  level: error\nauth:\n  tokens_file: {tokens}\n",
        pki.yaml(mutual)
    );
    TestWorker::start_with(Config::from_yaml(&yaml).unwrap()).await
}

impl TestMaster {
    /// A master from `rest` (the YAML after `logging:`), with `grpc_extra`
    /// added to its `grpc:` section.
    async fn start(grpc_extra: &str, rest: &str) -> Self {
        TestMaster::from_yaml(&format!(
            "name: m\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 4s\n{grpc_extra}logging:\n  level: error\n{rest}"
        ))
        .await
    }

    async fn channel(&self, tls: Option<ClientTlsConfig>) -> Channel {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", self.address)).unwrap();
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls).unwrap();
        }
        endpoint.connect().await.unwrap()
    }
}

/// A master in front of `worker`, trusting the CA in `ca_pem` for it.
async fn master_for(dir: &Path, worker: &TestWorker, ca_pem: &str) -> TestMaster {
    master_with(dir, worker, ca_pem, "").await
}

/// [`master_for`] with `grpc_extra` in its `grpc:` section (its own TLS).
async fn master_with(
    dir: &Path,
    worker: &TestWorker,
    ca_pem: &str,
    grpc_extra: &str,
) -> TestMaster {
    let tokens = write(dir, "master-tokens", &format!("{CLIENT_TOKEN} rw\n"));
    let ca = write(dir, "trusted-ca.pem", ca_pem);
    let token = write(dir, "master-token", &format!("{MASTER_TOKEN}\n"));
    TestMaster::start(
        grpc_extra,
        &format!(
            "auth:\n  tokens_file: {tokens}\nmaster:\n  sets:\n    a: [{}]\n  refresh: 200ms\n  workers_tls:\n    ca_file: {ca}\n  workers_token_file: {token}\n",
            worker.address
        ),
    )
    .await
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn a_master_routes_to_a_tls_worker_with_its_own_token() {
    let pki = TlsFiles::new();
    let worker = tls_worker(&pki, false).await;
    let master = master_for(pki.dir.path(), &worker, &pki.ca.pem()).await;
    let value = round_trip(master.channel(None).await, "secure", "{\"over\":\"tls\"}")
        .await
        .unwrap();
    // The client's token is unknown to the worker: only the master's own
    // could have carried these calls.
    assert_eq!(value, "{\"over\":\"tls\"}");
}

#[tokio::test]
async fn a_master_that_does_not_trust_the_workers_ca_answers_unavailable_naming_tls() {
    let pki = TlsFiles::new();
    let worker = tls_worker(&pki, false).await;
    let stranger = Ca::new("some other CA");
    let master = master_for(pki.dir.path(), &worker, &stranger.pem()).await;
    let mut documents = DocumentServiceClient::new(master.channel(None).await);
    let started = Instant::now();
    let err = documents
        .get_document(with_token(
            GetDocumentRequest {
                name: "databases/x/collections/c/documents/d".into(),
            },
            CLIENT_TOKEN,
        ))
        .await
        .unwrap_err();
    let took = started.elapsed();
    println!("untrusted worker: {:?} after {took:?}", err.message());
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("TLS"), "{err:?}");
    assert!(err.message().contains("master.workers_tls"), "{err:?}");
    // At once, not after the 4 s deadline of retries.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test]
async fn a_worker_registers_with_a_tls_master_with_its_token() {
    let pki = TlsFiles::new();
    let dir = pki.dir.path();
    let tokens = write(dir, "master-tokens", &format!("{WORKER_TOKEN} admin\n"));
    let master = TestMaster::start(
        &pki.yaml(false),
        &format!("auth:\n  tokens_file: {tokens}\nmaster:\n  refresh: 200ms\n"),
    )
    .await;
    let ca = write(dir, "ca-for-worker.pem", &pki.ca.pem());
    let token = write(dir, "worker-token", &format!("{WORKER_TOKEN}\n"));
    let worker = TestWorker::start_with(common::test_config(&format!(
        "master:\n  address: {}\n  set: secure\n  interval: 100ms\n  tls:\n    ca_file: {ca}\n  token_file: {token}\n",
        master.address
    )))
    .await;
    let mut cluster = ClusterServiceClient::new(master.channel(Some(pki.client())).await);
    let started = Instant::now();
    let workers = loop {
        let workers = cluster
            .list_workers(with_token(ListWorkersRequest {}, WORKER_TOKEN))
            .await
            .unwrap()
            .into_inner()
            .workers;
        if !workers.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break workers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(workers.len(), 1, "the worker never registered over TLS");
    assert_eq!(workers[0].database_name, "secure");
    assert_eq!(workers[0].address, worker.address.to_string());
}

/// Creates database `database` (with collection `c`) and document `d`
/// holding `value` through `channel` (a master), and reads `d` back.
async fn round_trip(
    channel: Channel,
    database: &str,
    value: &str,
) -> Result<String, tonic::Status> {
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut collections = CollectionServiceClient::new(channel.clone());
    let mut documents = DocumentServiceClient::new(channel);
    let create = CreateDatabaseRequest {
        database_id: database.into(),
        database: Some(Database {
            display_name: database.into(),
            ..Database::default()
        }),
    };
    databases
        .create_database(with_token(create, CLIENT_TOKEN))
        .await?;
    let parent = format!("databases/{database}/collections/c");
    let collection = CreateCollectionRequest {
        parent: format!("databases/{database}"),
        collection_id: "c".into(),
        collection: Some(Default::default()),
    };
    collections
        .create_collection(with_token(collection, CLIENT_TOKEN))
        .await?;
    let document = CreateDocumentRequest {
        parent: parent.clone(),
        document_id: "d".into(),
        document: Some(Document {
            value: value.into(),
            ..Document::default()
        }),
    };
    documents
        .create_document(with_token(document, CLIENT_TOKEN))
        .await?;
    let get = GetDocumentRequest {
        name: format!("{parent}/documents/d"),
    };
    let got = documents
        .get_document(with_token(get, CLIENT_TOKEN))
        .await?;
    Ok(got.into_inner().value)
}

#[tokio::test]
async fn a_master_presents_its_own_certificate_to_a_worker_that_demands_one() {
    let pki = TlsFiles::new();
    let worker = tls_worker(&pki, true).await;
    // The master's grpc.tls certificate (signed by the workers' CA) is
    // what it presents when a worker asks for a client certificate.
    let master = master_with(pki.dir.path(), &worker, &pki.ca.pem(), &pki.yaml(false)).await;
    let value = round_trip(
        master.channel(Some(pki.client())).await,
        "mutual",
        BOTH_WAYS,
    )
    .await
    .expect("the master reaches the mutual-TLS worker");
    assert_eq!(value, BOTH_WAYS);
}

#[tokio::test]
async fn a_master_without_a_certificate_cannot_reach_a_worker_that_demands_one() {
    let pki = TlsFiles::new();
    let worker = tls_worker(&pki, true).await;
    let master = master_for(pki.dir.path(), &worker, &pki.ca.pem()).await;
    let started = Instant::now();
    let err = round_trip(master.channel(None).await, "mutual", BOTH_WAYS)
        .await
        .expect_err("a worker demanding a client certificate must refuse the master");
    println!(
        "no client certificate: {:?} after {:?}",
        err.message(),
        started.elapsed()
    );
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("TLS"), "{err:?}");
    assert!(err.message().contains("CertificateRequired"), "{err:?}");
    // At once: a certificate is not mended by waiting out the deadline.
    assert!(started.elapsed() < Duration::from_secs(2), "{err:?}");
    // Nothing was written: the worker itself has no database.
    let mut direct = WorkerDatabases::new(worker_channel(&pki, &worker).await);
    let listed = direct
        .list_databases(with_token(ListDatabasesRequest::default(), MASTER_TOKEN))
        .await
        .expect("the worker answers a client that has a certificate")
        .into_inner();
    assert!(listed.databases.is_empty(), "{listed:?}");
}

/// A channel straight to `worker`, with a client certificate from `pki`'s CA.
async fn worker_channel(pki: &TlsFiles, worker: &TestWorker) -> Channel {
    let identity = pki.ca.issue(&["a client"]);
    Endpoint::from_shared(format!("https://{}", worker.address))
        .unwrap()
        .tls_config(pki.client_with(&identity))
        .unwrap()
        .connect()
        .await
        .unwrap()
}
