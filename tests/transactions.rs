//! Transactions through the gRPC API: atomic, isolated from concurrent
//! writers, and one step in the store's history.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use common::{Clients, TestWorker};
use distgo_db::proto::database::{
    BeginRequest, CommitRequest, CreateCollectionRequest, CreateDatabaseRequest,
    CreateDocumentRequest, Database, Document, EntityType, ExecuteRequest, GetCollectionRequest,
    GetDatabaseRequest, GetDocumentRequest, MutationType, Operation,
};
use tonic::Code;

fn op(mutation: MutationType, entity: EntityType, name: &str, value: &str) -> Operation {
    Operation {
        mutation_type: mutation as i32,
        entity_type: entity as i32,
        name: name.into(),
        value: value.into(),
    }
}

async fn database(clients: &mut Clients, id: &str) {
    clients
        .databases
        .create_database(CreateDatabaseRequest {
            database_id: id.into(),
            database: Some(Database {
                display_name: id.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

async fn run(clients: &mut Clients, db: &str, ops: Vec<Operation>) -> Result<(), tonic::Status> {
    let database_name = format!("databases/{db}");
    let id = clients
        .transactions
        .begin(BeginRequest {
            database_name: database_name.clone(),
        })
        .await?
        .into_inner()
        .transaction_id;
    clients
        .transactions
        .execute(ExecuteRequest {
            database_name: database_name.clone(),
            transaction_id: id.clone(),
            operations: ops,
        })
        .await?;
    clients
        .transactions
        .commit(CommitRequest {
            database_name,
            transaction_id: id,
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_commit_mixes_entity_types_and_shares_one_record() {
    use EntityType as E;
    use MutationType as M;
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    database(&mut clients, "shop").await;
    let records_before = worker.store.history_size().0;
    run(
        &mut clients,
        "shop",
        vec![
            op(
                M::Update,
                E::Database,
                "databases/shop",
                r#"{"display_name": "The Shop"}"#,
            ),
            op(
                M::Create,
                E::Collection,
                "databases/shop/collections/orders",
                r#"{"description": "all"}"#,
            ),
            op(
                M::Create,
                E::Document,
                "databases/shop/collections/orders/documents/o1",
                r#"{"total": 3}"#,
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(worker.store.history_size().0, records_before + 1);
    let db = clients
        .databases
        .get_database(GetDatabaseRequest {
            name: "databases/shop".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(db.display_name, "The Shop");
    let coll = clients
        .collections
        .get_collection(GetCollectionRequest {
            name: "databases/shop/collections/orders".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(coll.description, "all");
    let doc = clients
        .documents
        .get_document(GetDocumentRequest {
            name: "databases/shop/collections/orders/documents/o1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(doc.value, r#"{"total": 3}"#);
    assert_eq!(doc.created_at, coll.created_at, "one commit time");
}

#[tokio::test]
async fn a_failing_middle_operation_leaves_nothing_behind() {
    use EntityType as E;
    use MutationType as M;
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    database(&mut clients, "shop").await;
    // What clients can see: the tree and the WAL history (the log position
    // moves: the failed commit is an entry of the log, applied as nothing).
    let visible = || {
        let snapshot = worker.store.snapshot();
        (snapshot.tree, snapshot.history)
    };
    let before = visible();
    let status = run(
        &mut clients,
        "shop",
        vec![
            op(
                M::Create,
                E::Collection,
                "databases/shop/collections/a",
                "{}",
            ),
            op(
                M::Update,
                E::Document,
                "databases/shop/collections/a/documents/missing",
                "{}",
            ),
            op(
                M::Create,
                E::Collection,
                "databases/shop/collections/b",
                "{}",
            ),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("operation 1"),
        "{}",
        status.message()
    );
    assert_eq!(visible(), before);
}

/// Movers shuttle documents between two collections by transaction while
/// readers take atomic views of the store: the total never changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_documents_by_transaction_never_changes_the_total() {
    use EntityType as E;
    use MutationType as M;
    const DOCS: usize = 20;
    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    database(&mut clients, "bank").await;
    for coll in ["left", "right"] {
        clients
            .collections
            .create_collection(CreateCollectionRequest {
                parent: "databases/bank".into(),
                collection_id: coll.into(),
                collection: Some(Default::default()),
            })
            .await
            .unwrap();
    }
    for i in 0..DOCS {
        clients
            .documents
            .create_document(CreateDocumentRequest {
                parent: "databases/bank/collections/left".into(),
                document_id: format!("d{i}"),
                document: Some(Document {
                    value: format!(r#"{{"n":{i}}}"#),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop) = (worker.store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut views = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || views == 0 {
                let (_, _, documents) = store.snapshot().tree.counts();
                assert_eq!(documents, DOCS, "a reader saw a half-applied move");
                views += 1;
            }
            views
        })
    };
    let mut movers = Vec::new();
    for mover in 0..8 {
        let mut clients = worker.clients().await;
        movers.push(tokio::spawn(async move {
            let (mut moved, mut conflicts) = (0, 0);
            for round in 0..15 {
                let id = format!("d{}", (mover * 7 + round * 3) % DOCS);
                let name = |c: &str| format!("databases/bank/collections/{c}/documents/{id}");
                let found = clients
                    .documents
                    .get_document(GetDocumentRequest { name: name("left") })
                    .await;
                let (from, to) = if found.is_ok() {
                    ("left", "right")
                } else {
                    ("right", "left")
                };
                let value = format!(r#"{{"moved_by":{mover}}}"#);
                let result = run(
                    &mut clients,
                    "bank",
                    vec![
                        op(M::Delete, E::Document, &name(from), ""),
                        op(M::Create, E::Document, &name(to), &value),
                    ],
                )
                .await;
                match result {
                    Ok(()) => moved += 1,
                    Err(status) if status.code() == Code::FailedPrecondition => conflicts += 1,
                    Err(status) => panic!("unexpected {status:?}"),
                }
            }
            (moved, conflicts)
        }));
    }
    let mut moved = 0;
    for mover in movers {
        moved += mover.await.unwrap().0;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let views = reader.join().unwrap();
    assert!(moved > 20, "only {moved} moves succeeded");
    assert!(views > 0);
    assert_eq!(worker.store.snapshot().tree.counts().2, DOCS);
}
