//! Requests whose bytes are not their message: invalid UTF-8 in a string
//! field, a length past the end, a bad varint, a frame cut short, no
//! message at all. tonic's codec refuses each with INTERNAL; the client is
//! at fault, so the worker answers INVALID_ARGUMENT naming the request
//! message (and the field, where the decoder knows it), never INTERNAL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use common::TestWorker;
use http::{Request, header::CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A gRPC frame: uncompressed, with `declared` as its length.
fn frame(payload: &[u8], declared: u32) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend_from_slice(&declared.to_be_bytes());
    body.extend_from_slice(payload);
    body
}

/// The status the worker answers to `body` sent to `method`.
async fn status_of(worker: &TestWorker, method: &str, body: Vec<u8>) -> Status {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let request = Request::post(format!("http://{}{method}", worker.address))
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    if let Some(status) = Status::from_header_map(response.headers()) {
        return status;
    }
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    Status::from_header_map(&trailers).expect("a grpc-status")
}

const GET_DOCUMENT: &str = "/worker.database.v1.DocumentService/GetDocument";

fn violation_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn invalid_utf8_in_a_string_field_is_invalid_argument_naming_message_and_field() {
    let worker = TestWorker::start().await;
    // Field 1 (name), length 2, bytes that are not UTF-8.
    let payload = [0x0a, 0x02, 0xff, 0xfe];
    let status = status_of(&worker, GET_DOCUMENT, frame(&payload, 4)).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("worker.database.v1.GetDocumentRequest"),
        "{status:?}"
    );
    assert!(status.message().contains("UTF-8"), "{status:?}");
    assert_eq!(violation_fields(&status), ["name"]);
}

#[tokio::test]
async fn a_bad_field_inside_a_nested_message_is_named_by_its_path() {
    let worker = TestWorker::start().await;
    // CreateDocumentRequest.document (3) { Document.value (3): not UTF-8 }.
    let document = [0x1a, 0x01, 0xff];
    let mut payload = vec![0x1a, document.len() as u8];
    payload.extend_from_slice(&document);
    let method = "/worker.database.v1.DocumentService/CreateDocument";
    let status = status_of(&worker, method, frame(&payload, payload.len() as u32)).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violation_fields(&status), ["document.value"]);
}

#[tokio::test]
async fn every_kind_of_undecodable_request_is_invalid_argument_never_internal() {
    let worker = TestWorker::start().await;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        // Field 1 says 16 bytes follow; one does.
        (
            "a length past the end",
            frame(&[0x0a, 0x10, b'a'], 3),
            "buffer underflow",
        ),
        // An (unknown) varint field 2 whose value never ends: eleven
        // continuation bytes, more than any varint has.
        (
            "a bad varint",
            frame(
                &[
                    0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                12,
            ),
            "invalid varint",
        ),
        // The frame header promises 50 bytes; the body ends after 3.
        (
            "a frame cut short",
            frame(&[0x0a, 0x01, b'a'], 50),
            "ends inside a message frame",
        ),
        ("no message at all", Vec::new(), "holds no message"),
    ];
    for (what, body, says) in cases {
        let status = status_of(&worker, GET_DOCUMENT, body).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(
            status.message().contains("GetDocumentRequest"),
            "{what}: {status:?}"
        );
        assert!(status.message().contains(says), "{what}: {status:?}");
        assert!(!violation_fields(&status).is_empty(), "{what}: {status:?}");
    }
}

/// A well-formed request on the same path still reaches its handler.
#[tokio::test]
async fn a_decodable_request_is_answered_by_its_handler() {
    let worker = TestWorker::start().await;
    let name = b"databases/d/collections/c/documents/x";
    let mut payload = vec![0x0a, name.len() as u8];
    payload.extend_from_slice(name);
    let status = status_of(&worker, GET_DOCUMENT, frame(&payload, payload.len() as u32)).await;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}
