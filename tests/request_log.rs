//! The request log: at `logging.level: debug` every request is one line
//! naming its method, the full resource name, its status and latency.
//!
//! A line is only useful if it can be grepped for the resource a user
//! complains about, so creates name what they created
//! (`databases/shop/collections/cart`), generated ids included, and not
//! the bare id or the parent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::sync::{Arc, Mutex};

use common::TestWorker;
use distgo_db::proto::database::{
    Collection, CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database,
    Document,
};
use tracing_subscriber::fmt::MakeWriter;

/// Log lines, collected in memory.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

impl Lines {
    /// Every line of a request (it has a `method`), parsed.
    fn requests(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|line| line["fields"]["method"].is_string())
            .collect()
    }
}

// The default (current-thread) test runtime runs the worker's tasks on this
// thread, so a thread-local subscriber sees every line they log.
#[tokio::test]
async fn creates_are_logged_with_the_full_name_of_what_they_created() {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(lines.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let shop = Database {
        display_name: "Shop".into(),
        ..Default::default()
    };
    clients
        .databases
        .create_database(CreateDatabaseRequest {
            database_id: "shop".into(),
            database: Some(shop.clone()),
        })
        .await
        .unwrap();
    let generated = clients
        .databases
        .create_database(CreateDatabaseRequest {
            database_id: String::new(),
            database: Some(shop),
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    clients
        .collections
        .create_collection(CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "cart".into(),
            collection: Some(Collection::default()),
        })
        .await
        .unwrap();
    clients
        .documents
        .create_document(CreateDocumentRequest {
            parent: "databases/shop/collections/cart".into(),
            document_id: "a".into(),
            document: Some(Document {
                value: "{}".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    // A refused create still names what was asked for.
    let refused = clients
        .documents
        .create_document(CreateDocumentRequest {
            parent: "databases/shop/collections/nothing".into(),
            document_id: "b".into(),
            document: Some(Document {
                value: "{}".into(),
                ..Default::default()
            }),
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::NotFound);

    let requests = lines.requests();
    let logged: Vec<(String, String)> = requests
        .iter()
        .map(|line| {
            let field = |name: &str| line["fields"][name].as_str().unwrap().to_owned();
            (field("method"), field("resource"))
        })
        .collect();
    let expected = [
        ("CreateDatabase", "databases/shop"),
        ("CreateDatabase", generated.as_str()),
        ("CreateCollection", "databases/shop/collections/cart"),
        (
            "CreateDocument",
            "databases/shop/collections/cart/documents/a",
        ),
        (
            "CreateDocument",
            "databases/shop/collections/nothing/documents/b",
        ),
    ]
    .map(|(method, resource)| (method.to_owned(), resource.to_owned()));
    assert_eq!(logged, expected);
}

#[tokio::test]
async fn a_refused_request_keeps_its_message_and_gives_the_reason_as_error() {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(lines.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let worker = TestWorker::start().await;
    let mut clients = worker.clients().await;
    let refused = clients
        .collections
        .create_collection(CreateCollectionRequest {
            parent: "databases/nowhere".into(),
            collection_id: "c".into(),
            collection: Some(Collection::default()),
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::NotFound);

    let requests = lines.requests();
    let [line] = requests.as_slice() else {
        panic!("one request line: {requests:?}");
    };
    // JSON with two `message` keys (the event's and the status's) is read
    // differently by every log processor; the reason has its own key.
    assert_eq!(line["fields"]["message"], "request");
    assert_eq!(line["fields"]["status"], "NotFound");
    assert_eq!(line["fields"]["error"], "databases/nowhere not found");
}
