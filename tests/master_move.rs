//! Moving a database between replica sets while eight writers write to it.
//!
//! Two in-process workers (sets `a` and `b`) behind one master. A database
//! of 10,000 documents is moved from its set to the other with
//! `master.admin.v1.AdminService/MoveDatabase` while eight writers create
//! and update documents of their own through the master. Every write a
//! writer saw acknowledged must be on the target afterwards, with the last
//! value the writer wrote, exactly once; the source holds the database no
//! more; the longest time a writer waited between two acknowledgements is
//! printed beside the move's own report.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{TestWorker, two_sets};
use distgo_db::proto::{
    database as worker_pb,
    master::{
        admin::{MoveDatabaseRequest, admin_service_client::AdminServiceClient},
        database::{
            CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database,
            Document, UpdateDocumentRequest, collection_service_client::CollectionServiceClient,
            database_service_client::DatabaseServiceClient,
            document_service_client::DocumentServiceClient,
        },
    },
};
use tonic::{Code, transport::Channel};

const DB: &str = "moving";
const INITIAL: usize = 10_000;
const WRITERS: usize = 8;

fn doc(id: &str, value: String) -> Option<Document> {
    Some(Document {
        id: id.to_owned(),
        value,
        ..Document::default()
    })
}

/// A write may be retried after UNAVAILABLE or DEADLINE_EXCEEDED (its
/// outcome is unknown); any other error is a wrong answer: during a move, a
/// write must neither fail nor find its database missing.
fn retryable(status: &tonic::Status, id: &str) {
    assert!(
        matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
        "write of {id}: {status:?}"
    );
    eprintln!("write of {id} retried: {status:?}");
}

/// Creates document `id` holding `value` until acknowledged (a retry that
/// finds it made counts: the earlier try landed).
async fn create(documents: &mut DocumentServiceClient<Channel>, id: &str, value: &str) {
    for _ in 0..200 {
        let request = CreateDocumentRequest {
            parent: format!("databases/{DB}/collections/c"),
            document_id: id.to_owned(),
            document: doc(id, value.to_owned()),
        };
        match documents.create_document(request).await {
            Ok(_) => return,
            Err(status) if status.code() == Code::AlreadyExists => return,
            Err(status) => retryable(&status, id),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("create {id} never acknowledged");
}

/// Sets document `id` to `value` until acknowledged.
async fn update(documents: &mut DocumentServiceClient<Channel>, id: &str, value: &str) {
    for _ in 0..200 {
        let request = UpdateDocumentRequest {
            document: Some(Document {
                name: format!("databases/{DB}/collections/c/documents/{id}"),
                value: value.to_owned(),
                ..Document::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["value".into()],
            }),
        };
        match documents.update_document(request).await {
            Ok(_) => return,
            Err(status) => retryable(&status, id),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("update {id} never acknowledged");
}

/// Writer `w` until `stop`: creates `w{w}-{n}`, then sets an earlier one
/// of its own to `n`. Returns what each of its documents must hold, and
/// the longest wait between two acknowledgements.
async fn writer(
    channel: Channel,
    w: usize,
    stop: Arc<AtomicBool>,
) -> (BTreeMap<String, String>, Duration) {
    let mut documents = DocumentServiceClient::new(channel);
    let mut expected = BTreeMap::new();
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("w{w}-{n:05}");
        let value = format!("{{\"n\":{n}}}");
        create(&mut documents, &id, &value).await;
        expected.insert(id, value);
        longest = longest.max(last.elapsed());
        last = Instant::now();
        let earlier = format!("w{w}-{:05}", n / 2);
        let value = format!("{{\"n\":{n},\"updated\":true}}");
        update(&mut documents, &earlier, &value).await;
        expected.insert(earlier, value);
        longest = longest.max(last.elapsed());
        last = Instant::now();
        n += 1;
    }
    (expected, longest)
}

/// Every document of the moved database on `worker`: id → value.
async fn documents_on(worker: &TestWorker) -> BTreeMap<String, String> {
    let mut client =
        worker_pb::document_service_client::DocumentServiceClient::new(worker.channel().await);
    let mut all = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_documents(worker_pb::ListDocumentsRequest {
                parent: format!("databases/{DB}/collections/c"),
                page_size: 1000,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        for document in page.documents {
            let id = document.name.rsplit('/').next().unwrap().to_owned();
            assert!(all.insert(id, document.value).is_none(), "listed twice");
        }
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// Creates the database (and its collection `c`) through the master.
async fn make_database(channel: &Channel, display_name: &str) {
    DatabaseServiceClient::new(channel.clone())
        .create_database(CreateDatabaseRequest {
            database_id: DB.into(),
            database: Some(Database {
                display_name: display_name.into(),
                ..Database::default()
            }),
        })
        .await
        .unwrap();
    CollectionServiceClient::new(channel.clone())
        .create_collection(CreateCollectionRequest {
            parent: format!("databases/{DB}"),
            collection_id: "c".into(),
            collection: Some(Default::default()),
        })
        .await
        .unwrap();
}

async fn holds(worker: &TestWorker) -> bool {
    let mut client =
        worker_pb::database_service_client::DatabaseServiceClient::new(worker.channel().await);
    client
        .get_database(worker_pb::GetDatabaseRequest {
            name: format!("databases/{DB}"),
        })
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_moves_to_the_other_set_under_eight_writers_losing_nothing() {
    let (a, b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    make_database(&channel, "Moving").await;
    let mut expected = BTreeMap::new();
    let fill: Vec<_> = (0..WRITERS)
        .map(|part| {
            let mut documents = DocumentServiceClient::new(channel.clone());
            tokio::spawn(async move {
                let mut made = Vec::new();
                for n in (part..INITIAL).step_by(WRITERS) {
                    let (id, value) = (format!("initial-{n:05}"), format!("{{\"i\":{n}}}"));
                    create(&mut documents, &id, &value).await;
                    made.push((id, value));
                }
                made
            })
        })
        .collect();
    for part in fill {
        expected.extend(part.await.unwrap());
    }
    let (source, target, to) = if holds(&a).await {
        (&a, &b, "b")
    } else {
        (&b, &a, "a")
    };

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(channel.clone(), w, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut admin = AdminServiceClient::new(channel.clone());
    let request = MoveDatabaseRequest {
        name: format!("databases/{DB}"),
        to_set: to.into(),
    };
    let first = tokio::spawn({
        let mut admin = admin.clone();
        let request = request.clone();
        async move { admin.move_database(request).await }
    });
    // A second move of the same database while the first copies: refused.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = admin.move_database(request).await.unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    let moved = first.await.unwrap().unwrap().into_inner();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut longest = Duration::ZERO;
    for writer in writers {
        let (written, waited) = writer.await.unwrap();
        expected.extend(written);
        longest = longest.max(waited);
    }
    println!(
        "moved {INITIAL} documents under {WRITERS} writers in {took:?}: {moved:?}; \
         longest wait between two acknowledged writes {longest:?}"
    );

    assert_eq!(moved.to_set, to);
    assert!(moved.copied_documents >= INITIAL as i64, "{moved:?}");
    assert!(!holds(source).await, "the source still holds the database");
    let on_target = documents_on(target).await;
    let lost: Vec<_> = expected
        .keys()
        .filter(|id| !on_target.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged documents lost: {lost:?}",
        lost.len()
    );
    let wrong: Vec<_> = expected
        .iter()
        .filter(|(id, value)| on_target.get(*id) != Some(value))
        .map(|(id, _)| id)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} documents hold an old value: {wrong:?}",
        wrong.len()
    );
    assert_eq!(on_target.len(), expected.len(), "documents nobody wrote");
}

/// A mover that died after fencing the source leaves the database on no
/// set but the target's partial copy and the source's log; moving it again
/// to the same set finishes the move from the log.
#[tokio::test]
async fn a_move_interrupted_after_its_fence_is_finished_by_moving_again() {
    let (a, b, master) = two_sets().await;
    let channel = master.plain_channel().await;
    make_database(&channel, "Halfway").await;
    let mut documents = DocumentServiceClient::new(channel.clone());
    for n in 0..20 {
        create(
            &mut documents,
            &format!("d{n:02}"),
            &format!("{{\"n\":{n}}}"),
        )
        .await;
    }
    let (source, target, from, to) = if holds(&a).await {
        (&a, &b, "a", "b")
    } else {
        (&b, &a, "b", "a")
    };
    // Where the mover died: the target has begun its copy, the placement
    // says moving (replay from the start of time), the source is fenced.
    worker_pb::database_service_client::DatabaseServiceClient::new(target.channel().await)
        .create_database(worker_pb::CreateDatabaseRequest {
            database_id: DB.into(),
            database: Some(worker_pb::Database {
                display_name: "Halfway".into(),
                ..worker_pb::Database::default()
            }),
        })
        .await
        .unwrap();
    let mut placement = tonic::Request::new(worker_pb::UpdateDocumentRequest {
        document: Some(worker_pb::Document {
            name: format!("databases/catalog/collections/placements/documents/{DB}"),
            value: format!(
                "{{\"set\":\"{from}\",\"moving_to\":\"{to}\",\"since\":{{\"seconds\":0,\"nanos\":0}}}}"
            ),
            ..worker_pb::Document::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["value".into()],
        }),
    });
    placement
        .metadata_mut()
        .insert(distgo_db::master::CATALOG_HEADER, "1".parse().unwrap());
    worker_pb::document_service_client::DocumentServiceClient::new(channel.clone())
        .update_document(placement)
        .await
        .unwrap();
    worker_pb::database_service_client::DatabaseServiceClient::new(source.channel().await)
        .delete_database(worker_pb::DeleteDatabaseRequest {
            name: format!("databases/{DB}"),
        })
        .await
        .unwrap();

    let moved = AdminServiceClient::new(channel.clone())
        .move_database(MoveDatabaseRequest {
            name: format!("databases/{DB}"),
            to_set: to.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((moved.from_set.as_str(), moved.to_set.as_str()), (from, to));
    let on_target = documents_on(target).await;
    assert_eq!(on_target.len(), 20, "{on_target:?}");
    assert_eq!(on_target["d07"], "{\"n\":7}");
    let read = documents
        .get_document(distgo_db::proto::master::database::GetDocumentRequest {
            name: format!("databases/{DB}/collections/c/documents/d19"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.value, "{\"n\":19}");
}
