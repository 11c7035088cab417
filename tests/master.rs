//! The master in front of two sets (two in-process workers): databases
//! spread over both, every request reaches the set holding its database,
//! listings merge into one, workers register.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{collections::BTreeSet, time::Duration};

use common::{TestMaster, TestWorker, test_config, two_sets};
use distgo_db::{
    proto::database as worker_pb,
    proto::master::{
        cluster::{
            ListWorkersRequest, RegisterRequest, UnregisterRequest,
            cluster_service_client::ClusterServiceClient,
        },
        database::{
            BeginRequest, CommitRequest, CreateCollectionRequest, CreateDatabaseRequest,
            CreateDocumentRequest, Database, DeleteDatabaseRequest, Document, EntityType,
            ExecuteRequest, GetDatabaseRequest, GetDocumentRequest, ListDatabasesRequest,
            ListWalEntriesRequest, MutationType, Operation,
            collection_service_client::CollectionServiceClient,
            database_service_client::DatabaseServiceClient,
            document_service_client::DocumentServiceClient,
            transaction_service_client::TransactionServiceClient,
            wal_service_client::WalServiceClient,
        },
    },
};
use tonic::{Code, transport::Channel};

async fn create_db(databases: &mut DatabaseServiceClient<Channel>, id: &str) -> Database {
    databases
        .create_database(CreateDatabaseRequest {
            database_id: id.into(),
            database: Some(Database {
                display_name: id.into(),
                ..Database::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn worker_databases(worker: &TestWorker) -> BTreeSet<String> {
    let channel = worker.channel().await;
    let mut client = worker_pb::database_service_client::DatabaseServiceClient::new(channel);
    let page = client
        .list_databases(worker_pb::ListDatabasesRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    page.databases.into_iter().map(|d| d.name).collect()
}

#[tokio::test]
async fn databases_created_through_the_master_spread_over_both_sets_and_are_reachable() {
    let (a, b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut documents = DocumentServiceClient::new(channel.clone());
    let mut collections = CollectionServiceClient::new(channel);
    for i in 0..100 {
        let id = format!("db{i:03}");
        create_db(&mut databases, &id).await;
        collections
            .create_collection(CreateCollectionRequest {
                parent: format!("databases/{id}"),
                collection_id: "c".into(),
                collection: Some(Default::default()),
            })
            .await
            .unwrap();
        documents
            .create_document(CreateDocumentRequest {
                parent: format!("databases/{id}/collections/c"),
                document_id: "d".into(),
                document: Some(Document {
                    value: format!("{{\"i\":{i}}}"),
                    ..Document::default()
                }),
            })
            .await
            .unwrap();
    }
    let on_a = worker_databases(&a).await;
    let on_b = worker_databases(&b).await;
    println!(
        "split of 100 databases: set a {}, set b {}",
        on_a.len(),
        on_b.len()
    );
    assert_eq!(on_a.len() + on_b.len(), 100);
    assert!(on_a.is_disjoint(&on_b));
    assert!(!on_a.is_empty() && !on_b.is_empty(), "one set got nothing");
    for i in 0..100 {
        let got = documents
            .get_document(GetDocumentRequest {
                name: format!("databases/db{i:03}/collections/c/documents/d"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.value, format!("{{\"i\":{i}}}"));
    }
    // A fresh master (empty cache) finds them too.
    let fresh = TestMaster::with_sets(&format!(
        "  sets:\n    a: [{}]\n    b: [{}]\n",
        a.address, b.address
    ))
    .await;
    let mut fresh_docs = DocumentServiceClient::new(fresh.plain_channel().await);
    let got = fresh_docs
        .get_document(GetDocumentRequest {
            name: "databases/db042/collections/c/documents/d".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.value, "{\"i\":42}");
}

#[tokio::test]
async fn errors_are_the_workers_own() {
    let (_a, _b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut documents = DocumentServiceClient::new(channel);
    let bad = documents
        .get_document(GetDocumentRequest {
            name: "databases/Bad/collections/c/documents/d".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let missing = databases
        .get_database(GetDatabaseRequest {
            name: "databases/nowhere".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "databases/nowhere not found");
    create_db(&mut databases, "twice").await;
    let again = databases
        .create_database(CreateDatabaseRequest {
            database_id: "twice".into(),
            database: Some(Database {
                display_name: "x".into(),
                ..Database::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let size = databases
        .list_databases(ListDatabasesRequest {
            page_size: -1,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(size.code(), Code::InvalidArgument);
    let token = databases
        .list_databases(ListDatabasesRequest {
            page_size: 1,
            page_token: "garbage".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(token.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn list_databases_pages_across_sets_in_order_exactly_once_under_change() {
    let (a, b, master) = two_sets().await;
    let mut databases = DatabaseServiceClient::new(master.plain_channel().await);
    for i in 0..40 {
        create_db(&mut databases, &format!("k{i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = databases
            .list_databases(ListDatabasesRequest {
                page_size: 7,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.databases.len() == 7 || page.next_page_token.is_empty());
        seen.extend(page.databases.into_iter().map(|d| d.name));
        // Change the listing between pages: new names before and after the
        // cursor, and a delete of one not yet listed (k39 is always last).
        create_db(&mut databases, &format!("a{pages:02}")).await;
        create_db(&mut databases, &format!("z{pages:02}")).await;
        pages += 1;
        assert!(pages < 100, "paging does not end");
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "out of order or twice");
    for i in 0..40 {
        assert!(
            seen.contains(&format!("databases/k{i:02}")),
            "k{i:02} missing"
        );
    }
    let total = worker_databases(&a).await.len() + worker_databases(&b).await.len();
    assert!(total >= 40 + 2 * pages);
}

#[tokio::test]
async fn deleting_a_database_removes_it_from_its_set_and_the_master() {
    let (a, b, master) = two_sets().await;
    let mut databases = DatabaseServiceClient::new(master.plain_channel().await);
    create_db(&mut databases, "gone").await;
    databases
        .delete_database(DeleteDatabaseRequest {
            name: "databases/gone".into(),
        })
        .await
        .unwrap();
    assert!(!worker_databases(&a).await.contains("databases/gone"));
    assert!(!worker_databases(&b).await.contains("databases/gone"));
    let err = databases
        .get_database(GetDatabaseRequest {
            name: "databases/gone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_transaction_runs_on_the_set_of_its_database() {
    let (_a, _b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut collections = CollectionServiceClient::new(channel.clone());
    let mut transactions = TransactionServiceClient::new(channel.clone());
    let mut documents = DocumentServiceClient::new(channel);
    for db in ["t1", "t2", "t3", "t4"] {
        create_db(&mut databases, db).await;
        collections
            .create_collection(CreateCollectionRequest {
                parent: format!("databases/{db}"),
                collection_id: "c".into(),
                collection: Some(Default::default()),
            })
            .await
            .unwrap();
        let id = transactions
            .begin(BeginRequest {
                database_name: format!("databases/{db}"),
            })
            .await
            .unwrap()
            .into_inner()
            .transaction_id;
        transactions
            .execute(ExecuteRequest {
                database_name: format!("databases/{db}"),
                transaction_id: id.clone(),
                operations: vec![Operation {
                    mutation_type: MutationType::Create as i32,
                    entity_type: EntityType::Document as i32,
                    name: format!("databases/{db}/collections/c/documents/x"),
                    value: "{\"in\":\"tx\"}".into(),
                }],
            })
            .await
            .unwrap();
        transactions
            .commit(CommitRequest {
                database_name: format!("databases/{db}"),
                transaction_id: id,
            })
            .await
            .unwrap();
        let got = documents
            .get_document(GetDocumentRequest {
                name: format!("databases/{db}/collections/c/documents/x"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.value, "{\"in\":\"tx\"}");
    }
}

/// TXN-COMMIT-4 through a master whose placement would now choose the
/// other set: the database was deleted while a transaction on it was
/// open, so the Commit must still reach the set that holds the
/// transaction (its FAILED_PRECONDITION), not the set a new database of
/// that id would go to (NOT_FOUND for the transaction).
#[tokio::test]
async fn a_commit_after_its_database_was_deleted_reaches_the_set_that_held_it() {
    let a = TestWorker::start().await;
    let b = TestWorker::start().await;
    let master = TestMaster::with_sets(&format!(
        "  sets:\n    a: [{}]\n    b: [{}]\n  placement: least_loaded\n  refresh: 100ms\n",
        a.address, b.address
    ))
    .await;
    let channel = master.plain_channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut transactions = TransactionServiceClient::new(channel.clone());
    create_db(&mut databases, "shop").await; // both empty: the first set, a
    assert!(worker_databases(&a).await.contains("databases/shop"));
    // Two more databases made on set a directly: a is now the fuller set.
    let mut on_a =
        worker_pb::database_service_client::DatabaseServiceClient::new(a.channel().await);
    for db in ["extra1", "extra2"] {
        on_a.create_database(worker_pb::CreateDatabaseRequest {
            database_id: db.into(),
            database: Some(worker_pb::Database {
                display_name: db.into(),
                ..worker_pb::Database::default()
            }),
        })
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await; // a refresh counts them
    let id = transactions
        .begin(BeginRequest {
            database_name: "databases/shop".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .transaction_id;
    transactions
        .execute(ExecuteRequest {
            database_name: "databases/shop".into(),
            transaction_id: id.clone(),
            operations: vec![Operation {
                mutation_type: MutationType::Create as i32,
                entity_type: EntityType::Collection as i32,
                name: "databases/shop/collections/late".into(),
                value: "{}".into(),
            }],
        })
        .await
        .unwrap();
    databases
        .delete_database(DeleteDatabaseRequest {
            name: "databases/shop".into(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await; // and forgets the deleted one
    let committed = transactions
        .commit(CommitRequest {
            database_name: "databases/shop".into(),
            transaction_id: id,
        })
        .await;
    let status = committed.expect_err("a commit into a deleted database");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // Made again, the id is made on the set it had.
    create_db(&mut databases, "shop").await;
    assert!(worker_databases(&a).await.contains("databases/shop"));
    assert!(!worker_databases(&b).await.contains("databases/shop"));
}

#[tokio::test]
async fn the_wal_of_both_sets_is_one_listing_in_commit_time_order() {
    let (_a, _b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    let mut databases = DatabaseServiceClient::new(channel.clone());
    let mut wal = WalServiceClient::new(channel);
    for i in 0..12 {
        create_db(&mut databases, &format!("w{i:02}")).await;
    }
    let mut names = Vec::new();
    let mut times = Vec::new();
    let mut token = String::new();
    loop {
        let page = wal
            .list_wal_entries(ListWalEntriesRequest {
                page_size: 5,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for entry in page.entries {
            let ts = entry.timestamp.unwrap();
            times.push((ts.seconds, ts.nanos));
            if let Some(distgo_db::proto::master::database::wal_entry::Payload::DatabasePayload(
                p,
            )) = entry.payload
            {
                names.push(p.database_id);
            }
        }
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("w{i:02}")).collect();
    assert_eq!(
        names, expected,
        "creates listed in the order they were made"
    );
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn workers_register_and_are_listed_and_unregistered() {
    let master = TestMaster::with_sets("  refresh: 200ms\n").await;
    // A worker that registers by itself, from its configuration.
    let worker = TestWorker::start_with(test_config(&format!(
        "master:\n  address: {}\n  set: solo\n  interval: 100ms\n",
        master.address
    )))
    .await;
    let mut cluster = ClusterServiceClient::new(master.plain_channel().await);
    let mut workers = Vec::new();
    for _ in 0..100 {
        workers = cluster
            .list_workers(ListWorkersRequest {})
            .await
            .unwrap()
            .into_inner()
            .workers;
        if !workers.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(workers.len(), 1, "the worker never registered");
    assert_eq!(workers[0].database_name, "solo");
    assert_eq!(workers[0].address, worker.address.to_string());
    // Registered workers serve data through the master.
    let mut databases = DatabaseServiceClient::new(master.plain_channel().await);
    create_db(&mut databases, "via-registration").await;
    assert!(
        worker_databases(&worker)
            .await
            .contains("databases/via-registration")
    );
    // Register by hand: the same id again and again.
    let first = cluster
        .register(RegisterRequest {
            database_name: "other".into(),
            address: "127.0.0.1:1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .worker_id;
    let again = cluster
        .register(RegisterRequest {
            database_name: "other".into(),
            address: "127.0.0.1:1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .worker_id;
    assert_eq!(first, again);
    cluster
        .unregister(UnregisterRequest {
            worker_id: first.clone(),
        })
        .await
        .unwrap();
    let err = cluster
        .unregister(UnregisterRequest { worker_id: first })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let bad = cluster
        .register(RegisterRequest {
            database_name: String::new(),
            address: "nowhere".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_master_without_sets_says_unavailable() {
    let master = TestMaster::with_sets("  refresh: 1s\n").await;
    let mut databases = DatabaseServiceClient::new(master.plain_channel().await);
    let err = databases
        .get_database(GetDatabaseRequest {
            name: "databases/x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}
