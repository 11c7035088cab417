//! The WAL service over gRPC: ListWALEntries and TruncateWAL as a client
//! sees them, in memory-only mode and with a log directory, and across a
//! restart of the worker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use std::path::Path;

use distgo_db::{
    config::Config,
    proto::database::{
        Collection, CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest,
        Database, DeleteCollectionRequest, Document, EntityType, ListWalEntriesRequest,
        ListWalEntriesResponse, MutationType, TruncateWalRequest, UpdateDocumentRequest, WalEntry,
        collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient, wal_entry::Payload,
        wal_service_client::WalServiceClient,
    },
};
use prost_types::Timestamp;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// A worker serving in-process on 127.0.0.1, stopped by [`Running::stop`].
struct Running {
    channel: Channel,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), distgo_db::ServeError>>,
}

fn config(wal: Option<&Path>) -> Config {
    let mut yaml = "name: wal-test\ngrpc:\n  host: 127.0.0.1\n  port: 0\n".to_owned();
    if let Some(path) = wal {
        yaml += &format!("wal:\n  path: {}\n", path.display());
    }
    Config::from_yaml(&yaml).unwrap()
}

async fn start(wal: Option<&Path>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(distgo_db::serve(config(wal), listener, async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Running {
        channel,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        drop(self.channel);
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }

    fn wal(&self) -> WalServiceClient<Channel> {
        WalServiceClient::new(self.channel.clone())
    }

    /// One page of entries.
    async fn page(&self, request: ListWalEntriesRequest) -> ListWalEntriesResponse {
        self.wal()
            .list_wal_entries(request)
            .await
            .unwrap()
            .into_inner()
    }

    /// Every entry matching `request`, page by page.
    async fn list_all(&self, request: ListWalEntriesRequest) -> Vec<WalEntry> {
        let mut entries = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .page(ListWalEntriesRequest {
                    page_token,
                    ..request
                })
                .await;
            entries.extend(page.entries);
            if page.next_page_token.is_empty() {
                return entries;
            }
            page_token = page.next_page_token;
        }
    }

    async fn entries(&self) -> Vec<WalEntry> {
        self.list_all(ListWalEntriesRequest::default()).await
    }

    async fn truncate(&self, before: Option<Timestamp>) {
        self.wal()
            .truncate_wal(TruncateWalRequest { before })
            .await
            .unwrap();
    }
}

/// A database, a collection, two documents, an update, then a cascade
/// delete of the collection: 8 entries in 6 commits.
async fn history(worker: &Running) {
    let channel = worker.channel.clone();
    DatabaseServiceClient::new(channel.clone())
        .create_database(CreateDatabaseRequest {
            database_id: "shop".into(),
            database: Some(Database {
                display_name: "Shop".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let mut collections = CollectionServiceClient::new(channel.clone());
    collections
        .create_collection(CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "cart".into(),
            collection: Some(Collection::default()),
        })
        .await
        .unwrap();
    let mut documents = DocumentServiceClient::new(channel);
    for id in ["a", "b"] {
        documents
            .create_document(CreateDocumentRequest {
                parent: "databases/shop/collections/cart".into(),
                document_id: id.into(),
                document: Some(Document {
                    value: format!("{{ \"id\": \"{id}\" }}"),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    documents
        .update_document(UpdateDocumentRequest {
            document: Some(Document {
                name: "databases/shop/collections/cart/documents/a".into(),
                value: "{\"id\":  \"a\", \"n\": 2}".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap();
    collections
        .delete_collection(DeleteCollectionRequest {
            name: "databases/shop/collections/cart".into(),
        })
        .await
        .unwrap();
}

/// (entity, mutation, resource name) of an entry.
fn shape(entry: &WalEntry) -> (EntityType, MutationType, String) {
    let name = match &entry.payload {
        Some(Payload::DatabasePayload(p)) => format!("databases/{}", p.database_id),
        Some(Payload::CollectionPayload(p)) => {
            format!(
                "databases/{}/collections/{}",
                p.database_id, p.collection_id
            )
        }
        Some(Payload::DocumentPayload(p)) => format!(
            "databases/{}/collections/{}/documents/{}",
            p.database_id, p.collection_id, p.document_id
        ),
        None => panic!("entry without payload"),
    };
    (entry.entity_type(), entry.operation_type(), name)
}

fn data(entry: &WalEntry) -> &[u8] {
    match &entry.payload {
        Some(Payload::DatabasePayload(p)) => &p.data,
        Some(Payload::CollectionPayload(p)) => &p.data,
        Some(Payload::DocumentPayload(p)) => &p.data,
        None => &[],
    }
}

fn json(entry: &WalEntry) -> serde_json::Value {
    serde_json::from_slice(data(entry)).unwrap()
}

fn nanos(ts: &Option<Timestamp>) -> i128 {
    let ts = ts.as_ref().unwrap();
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// A listing request with `edit` applied to the defaults.
fn request(edit: impl FnOnce(&mut ListWalEntriesRequest)) -> ListWalEntriesRequest {
    let mut request = ListWalEntriesRequest::default();
    edit(&mut request);
    request
}

/// Runs `test` against a memory-only worker and one with a log directory,
/// each after [`history`], with the entries it listed.
async fn in_both_modes<F, Fut>(test: F)
where
    F: Fn(Running, Vec<WalEntry>) -> Fut,
    Fut: std::future::Future<Output = Running>,
{
    let dir = tempfile::tempdir().unwrap();
    for wal in [None, Some(dir.path())] {
        let worker = start(wal).await;
        history(&worker).await;
        let all = worker.entries().await;
        test(worker, all).await.stop().await;
    }
}

#[tokio::test]
async fn entries_follow_commit_order_one_per_resource() {
    in_both_modes(|worker, entries| async move {
        let doc = |id: &str| format!("databases/shop/collections/cart/documents/{id}");
        let cart = "databases/shop/collections/cart".to_owned();
        use {EntityType as E, MutationType as M};
        let expected = vec![
            (E::Database, M::Create, "databases/shop".to_owned()),
            (E::Collection, M::Create, cart.clone()),
            (E::Document, M::Create, doc("a")),
            (E::Document, M::Create, doc("b")),
            (E::Document, M::Update, doc("a")),
            (E::Document, M::Delete, doc("a")),
            (E::Document, M::Delete, doc("b")),
            (E::Collection, M::Delete, cart),
        ];
        assert_eq!(entries.iter().map(shape).collect::<Vec<_>>(), expected);
        // The cascade is one commit: one timestamp; commits strictly increase.
        let times: Vec<i128> = entries.iter().map(|e| nanos(&e.timestamp)).collect();
        assert!(times[..6].windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert_eq!((times[5], times[6]), (times[7], times[7]));
        let ids: std::collections::HashSet<uuid::Uuid> =
            entries.iter().map(|e| e.id.parse().unwrap()).collect();
        assert_eq!(ids.len(), entries.len(), "ids are distinct UUIDs");
        worker
    })
    .await;
}

#[tokio::test]
async fn data_is_the_json_of_the_resource_after_the_change() {
    in_both_modes(|worker, entries| async move {
        let database = json(&entries[0]);
        assert_eq!(database["name"], "databases/shop");
        assert_eq!(database["display_name"], "Shop");
        let stamp = database["created_at"].as_str().unwrap();
        assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
        assert_eq!(database["created_at"], database["updated_at"]);
        assert_eq!(json(&entries[1])["description"], "");
        let updated = json(&entries[4]);
        // The document's JSON comes back as the exact text the client wrote.
        assert_eq!(updated["value"], "{\"id\":  \"a\", \"n\": 2}");
        assert_ne!(updated["created_at"], updated["updated_at"]);
        assert!(data(&entries[5]).is_empty(), "a delete carries no data");
        worker
    })
    .await;
}

#[tokio::test]
async fn filters_select_by_entity_mutation_and_time() {
    in_both_modes(|worker, all| async move {
        let filter = |entity: EntityType, mutation: MutationType| ListWalEntriesRequest {
            entity_type_filter: entity as i32,
            operation_type_filter: mutation as i32,
            ..Default::default()
        };
        let window = |start: usize, end: usize| ListWalEntriesRequest {
            start_time: all[start].timestamp,
            end_time: all[end].timestamp,
            ..Default::default()
        };
        use {EntityType as E, MutationType as M};
        let cases = [
            ("documents", filter(E::Document, M::Unspecified), 2..7),
            ("deletes", filter(E::Unspecified, M::Delete), 5..8),
            (
                "created collections",
                filter(E::Collection, M::Create),
                1..2,
            ),
            // start_time is inclusive, end_time exclusive.
            ("a time window", window(2, 4), 2..4),
            ("an empty window", window(3, 3), 3..3),
        ];
        for (what, request, expected) in cases {
            assert_eq!(worker.list_all(request).await, all[expected], "{what}");
        }
        worker
    })
    .await;
}

#[tokio::test]
async fn pages_continue_where_they_stopped() {
    in_both_modes(|worker, all| async move {
        for page_size in [1, 2, 3, 7, 8, 9] {
            let mut seen = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = worker
                    .page(ListWalEntriesRequest {
                        page_size,
                        page_token,
                        ..Default::default()
                    })
                    .await;
                let more = !page.next_page_token.is_empty();
                let expected_len = if more {
                    page_size as usize
                } else {
                    all.len() - seen.len()
                };
                assert_eq!(page.entries.len(), expected_len, "page_size {page_size}");
                seen.extend(page.entries);
                if !more {
                    break;
                }
                page_token = page.next_page_token;
            }
            assert_eq!(seen, all, "page_size {page_size}");
        }
        worker
    })
    .await;
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments_naming_the_field() {
    let worker = start(None).await;
    history(&worker).await;
    let first = worker
        .page(ListWalEntriesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await;
    let bad = |request: ListWalEntriesRequest| {
        let mut wal = worker.wal();
        async move { wal.list_wal_entries(request).await.unwrap_err() }
    };
    let token = first.next_page_token;
    let time = |seconds, nanos| Some(Timestamp { seconds, nanos });
    let cases = [
        // A token is bound to the filter it was issued for.
        (
            "page_token",
            request(|r| {
                r.page_token = token.clone();
                r.entity_type_filter = EntityType::Document as i32;
            }),
        ),
        (
            "page_token",
            request(|r| r.page_token = "bm90IGEgdG9rZW4".into()),
        ),
        ("page_size", request(|r| r.page_size = -1)),
        ("page_size", request(|r| r.page_size = 1001)),
        ("entity_type_filter", request(|r| r.entity_type_filter = 9)),
        (
            "operation_type_filter",
            request(|r| r.operation_type_filter = -3),
        ),
        ("start_time", request(|r| r.start_time = time(0, -1))),
        (
            "end_time",
            request(|r| {
                r.start_time = time(10, 0);
                r.end_time = time(9, 0);
            }),
        ),
    ];
    for (field, request) in cases {
        let status = bad(request).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let details = status.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, field, "{status:?}");
    }
    let status = worker
        .wal()
        .truncate_wal(TruncateWalRequest {
            before: time(0, 1_000_000_000),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    worker.stop().await;
}

#[tokio::test]
async fn truncation_drops_older_entries_and_keeps_the_state() {
    in_both_modes(|worker, all| async move {
        worker.truncate(all[3].timestamp).await;
        assert_eq!(worker.entries().await, all[3..]);
        worker.truncate(None).await;
        assert!(worker.entries().await.is_empty(), "unset: now");
        // The state the entries made is still there.
        let db = DatabaseServiceClient::new(worker.channel.clone())
            .get_database(distgo_db::proto::database::GetDatabaseRequest {
                name: "databases/shop".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(db.display_name, "Shop");
        history_after_truncation(&worker).await;
        assert_eq!(worker.entries().await.len(), 1, "new commits are listed");
        worker
    })
    .await;
}

async fn history_after_truncation(worker: &Running) {
    CollectionServiceClient::new(worker.channel.clone())
        .create_collection(CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "later".into(),
            collection: Some(Collection::default()),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_page_token_outlives_the_truncation_of_its_entry() {
    in_both_modes(|worker, all| async move {
        let first = worker
            .page(ListWalEntriesRequest {
                page_size: 2,
                ..Default::default()
            })
            .await;
        worker.truncate(all[4].timestamp).await;
        let next = worker
            .page(ListWalEntriesRequest {
                page_token: first.next_page_token,
                ..Default::default()
            })
            .await;
        assert_eq!(next.entries, all[4..], "resumes at the oldest entry left");
        worker
    })
    .await;
}

#[tokio::test]
async fn entries_and_state_are_the_same_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let worker = start(Some(dir.path())).await;
    history(&worker).await;
    let all = worker.entries().await;
    worker.truncate(all[2].timestamp).await;
    history_after_truncation(&worker).await;
    let before = worker.entries().await;
    assert_eq!(before[..6], all[2..]);
    worker.stop().await;

    let worker = start(Some(dir.path())).await;
    assert_eq!(
        worker.entries().await,
        before,
        "ids, times and data survive"
    );
    // The log goes on after the restart, and the new entry sorts last.
    CollectionServiceClient::new(worker.channel.clone())
        .create_collection(CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "after-restart".into(),
            collection: Some(Collection::default()),
        })
        .await
        .unwrap();
    let after = worker.entries().await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(
        shape(&after[before.len()]).2,
        "databases/shop/collections/after-restart"
    );
    assert!(nanos(&after[before.len()].timestamp) > nanos(&before[before.len() - 1].timestamp));
    worker.stop().await;
}
