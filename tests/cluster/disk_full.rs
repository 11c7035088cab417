//! Disk full on one node: a worker whose log lives on a 1 MiB tmpfs of its
//! own (a private mount namespace; see `harness::disk`) is written to
//! until the disk is full. The log is poisoned by the first failed write:
//! every write from then on is UNAVAILABLE, and reads keep being served
//! from memory. Given room and a restart, the worker recovers every write
//! it acknowledged.
//!
//! Needs root, or unprivileged user namespaces; elsewhere the test says
//! loudly that it did not run (and fails when `CI` is set).

use std::time::Duration;

use distgo_db::proto::database::{
    CreateDocumentRequest, Document, GetDocumentRequest, ListDocumentsRequest,
};
use tonic::Code;

use crate::harness::{
    HarnessError,
    client::Clients,
    config::WorkerConfig,
    load::ensure_collection,
    process::{Port, Worker},
    unsupported,
};

const DISK: u64 = 1 << 20;
/// More writes than 1 MiB can hold, as a bound on the loop.
const MAX_WRITES: usize = 2_000;
const PARENT: &str = "databases/app/collections/items";

async fn write(clients: &Clients, id: &str) -> Result<Document, tonic::Status> {
    let mut documents = clients.documents.clone();
    let request = clients.request(CreateDocumentRequest {
        parent: PARENT.into(),
        document_id: id.into(),
        // ~4 KB per write: a megabyte fills in a few hundred.
        document: Some(Document {
            value: format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(4000)),
            ..Document::default()
        }),
    });
    clients.call(documents.create_document(request)).await
}

async fn read(clients: &Clients, id: &str) -> Result<Document, tonic::Status> {
    let mut documents = clients.documents.clone();
    let request = clients.request(GetDocumentRequest {
        name: format!("{PARENT}/documents/{id}"),
    });
    clients.call(documents.get_document(request)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_writes_unavailable_while_reads_still_work() {
    let test = "a_full_disk_makes_writes_unavailable_while_reads_still_work";
    let mut worker = match Worker::start_on_small_disk(WorkerConfig::new("full"), DISK).await {
        Ok(worker) => worker,
        Err(error @ HarnessError::Unsupported(_)) => return unsupported(test, &error),
        Err(error) => panic!("{error}"),
    };
    eprintln!("disk full: a {DISK}-byte tmpfs in a private mount namespace");
    let pid = worker.pid().unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.ends_with("distgo-worker"),
        "signals reach the worker: {exe:?}"
    );
    let disk = worker.disk().unwrap();
    assert!(
        disk.outside_view().join("wal").is_dir(),
        "the log is on the tmpfs"
    );
    let host = std::fs::read_dir(disk.mount_point()).unwrap().count();
    assert_eq!(
        host, 0,
        "outside the namespace, the mount point is an empty directory"
    );

    let clients = Clients::new(worker.address(), Duration::from_secs(5));
    ensure_collection(&clients, "app", "items", Duration::from_secs(5))
        .await
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for i in 0..MAX_WRITES {
        let id = format!("doc-{i}");
        match write(&clients, &id).await {
            Ok(_) => acknowledged.push(id),
            Err(status) => {
                refusal = Some(status);
                break;
            }
        }
    }
    let refusal = refusal.expect("the disk filled up within the bound");
    assert_eq!(refusal.code(), Code::Unavailable, "{refusal:?}");
    assert!(
        acknowledged.len() >= 10,
        "the disk was not full from the start"
    );
    let used = worker.disk().unwrap().used_bytes();
    assert!(
        used >= DISK * 8 / 10,
        "the tmpfs is (nearly) full: {used} bytes"
    );
    let again = write(&clients, "after").await.unwrap_err();
    assert_eq!(
        again.code(),
        Code::Unavailable,
        "the log stays poisoned: {again:?}"
    );

    // Reads are still served, from what the store applied.
    for id in [&acknowledged[0], acknowledged.last().unwrap()] {
        let document = read(&clients, id).await.unwrap();
        assert!(document.value.contains(id.as_str()));
    }
    let mut documents = clients.documents.clone();
    let listed = clients
        .call(
            documents.list_documents(clients.request(ListDocumentsRequest {
                parent: PARENT.into(),
                page_size: 10,
                page_token: String::new(),
            })),
        )
        .await
        .unwrap();
    assert_eq!(listed.documents.len(), 10);

    // Room again, and a restart: every acknowledged write is back.
    worker.disk().unwrap().resize(16 * DISK).unwrap();
    worker.restart(Port::Same).await.unwrap();
    for id in &acknowledged {
        assert!(
            read(&clients, id).await.is_ok(),
            "{id} was acknowledged, then lost"
        );
    }
    write(&clients, "after-recovery").await.unwrap();
    eprintln!(
        "disk full: {} writes acknowledged before UNAVAILABLE ({}), all recovered",
        acknowledged.len(),
        refusal.message()
    );
}
