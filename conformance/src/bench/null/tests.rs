//! The null worker's answers: the asked names echoed, values and pages of
//! the asked size, replies as large as a real worker's, tokens as long as
//! real ones, and a running null worker that serves and stops on drop.

use prost::Message;

use super::*;

const PARENT: &str = "databases/bench-abcdefgh/collections/docs";

async fn call<T>(response: Result<Response<T>, Status>) -> T {
    response.unwrap().into_inner()
}

#[tokio::test]
async fn get_returns_the_named_document_with_a_value_of_the_asked_size() {
    let null = NullWorker::new(256);
    let name = format!("{PARENT}/documents/d000042");
    let doc = call(
        null.get_document(Request::new(pb::GetDocumentRequest { name: name.clone() }))
            .await,
    )
    .await;
    assert_eq!(doc.name, name);
    assert_eq!(doc.value.len(), 256);
    assert!(doc.created_at.is_some() && doc.updated_at.is_some());
    assert!(doc.id.is_empty(), "id is input only");
}

/// The null worker's Get reply has exactly the size a real worker's reply
/// of the same document has (same name, value and full timestamps).
#[tokio::test]
async fn replies_encode_to_the_size_of_a_real_reply() {
    let null = NullWorker::new(100);
    let name = format!("{PARENT}/documents/d000001");
    let reply = call(
        null.get_document(Request::new(pb::GetDocumentRequest { name: name.clone() }))
            .await,
    )
    .await;
    let real = pb::Document {
        name,
        id: String::new(),
        value: json_value(100, 9),
        created_at: Some(Timestamp {
            seconds: 1_781_234_567,
            nanos: 500_000_000,
        }),
        updated_at: Some(Timestamp {
            seconds: 1_781_234_567,
            nanos: 500_000_000,
        }),
    };
    assert_eq!(reply.encoded_len(), real.encoded_len());
}

#[tokio::test]
async fn create_and_update_echo_what_was_written() {
    let null = NullWorker::new(64);
    let value = json_value(300, 1);
    let created = call(
        null.create_document(Request::new(pb::CreateDocumentRequest {
            parent: PARENT.into(),
            document_id: "n1-1".into(),
            document: Some(pb::Document {
                value: value.clone(),
                ..Default::default()
            }),
        }))
        .await,
    )
    .await;
    assert_eq!(created.name, format!("{PARENT}/documents/n1-1"));
    assert_eq!(created.value, value);
    let generated = call(
        null.create_document(Request::new(pb::CreateDocumentRequest {
            parent: PARENT.into(),
            ..Default::default()
        }))
        .await,
    )
    .await;
    assert!(
        generated
            .name
            .ends_with(&format!("/documents/{GENERATED_ID}"))
    );
    assert_eq!(GENERATED_ID.len(), 20);
    let updated = call(
        null.update_document(Request::new(pb::UpdateDocumentRequest {
            document: Some(pb::Document {
                name: created.name.clone(),
                value: value.clone(),
                ..Default::default()
            }),
            update_mask: None,
        }))
        .await,
    )
    .await;
    assert_eq!((updated.name, updated.value), (created.name, value));
}

#[tokio::test]
async fn list_pages_hold_the_asked_number_of_documents_and_a_token() {
    let null = NullWorker::new(128);
    for (asked, expected) in [(0, 100), (1, 1), (1000, 1000)] {
        let page = call(
            null.list_documents(Request::new(pb::ListDocumentsRequest {
                parent: PARENT.into(),
                page_size: asked,
                page_token: String::new(),
            }))
            .await,
        )
        .await;
        assert_eq!(page.documents.len(), expected);
        assert!(
            page.documents
                .iter()
                .all(|d| d.value.len() == 128 && d.name.starts_with(PARENT))
        );
        assert!(!page.next_page_token.is_empty());
    }
    for bad in [-1, 1001] {
        let err = null
            .list_documents(Request::new(pb::ListDocumentsRequest {
                parent: PARENT.into(),
                page_size: bad,
                page_token: String::new(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
}

#[test]
fn tokens_are_as_long_as_base64_cursor_tokens() {
    // 1 + 2 + 41 + 2 + 7 + 4 = 57 raw bytes: 76 base64 characters.
    assert_eq!(token(PARENT, "d000000").len(), 76);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_running_null_worker_answers_over_the_network_and_stops_on_drop() {
    let running = Running::start(NullWorker::new(32), 1, None).unwrap();
    let url = format!("http://{}", running.addr);
    let mut client = pb::document_service_client::DocumentServiceClient::connect(url.clone())
        .await
        .unwrap();
    let doc = client
        .get_document(pb::GetDocumentRequest {
            name: format!("{PARENT}/documents/x"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(doc.value.len(), 32);
    drop(client);
    tokio::task::spawn_blocking(move || drop(running))
        .await
        .unwrap();
    assert!(
        pb::document_service_client::DocumentServiceClient::connect(url)
            .await
            .is_err()
    );
}
