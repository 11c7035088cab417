//! Standard gRPC tooling: server reflection (v1 and v1alpha) and health.
//!
//! grpcurl, Postman, IDE plugins and Python's grpcio-reflection discover a
//! server's API through reflection and check its readiness through
//! `grpc.health.v1.Health`. Older and non-Go clients speak only the
//! `v1alpha` reflection protocol, newer ones `v1`, so a worker must serve
//! both, list every service it serves (health included: a tool cannot call
//! `Health/Check` without its descriptor), and answer a health check naming
//! any of its services. `tests/python_reflection.rs` does the same from a
//! real Python client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::collections::BTreeSet;

use common::TestWorker;
use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::{v1, v1alpha};

/// Every service of the worker's own protos a standalone worker serves, by
/// full name: all but the replication protocol, which only a replica set
/// member serves.
fn distgo_services() -> BTreeSet<String> {
    let set = FileDescriptorSet::decode(distgo_db::proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.service
                .iter()
                .map(move |service| format!("{package}.{}", service.name()))
        })
        // A standalone worker serves neither replication nor the master's
        // packages (those are `distgo-master`'s).
        .filter(|name| !name.starts_with("worker.replication.") && !name.starts_with("master."))
        .collect()
}

/// What `list` must show: the worker's services, health, both reflections.
fn served_services() -> BTreeSet<String> {
    let mut all = distgo_services();
    all.extend(
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .map(String::from),
    );
    all
}

/// One v1 reflection request, one response.
async fn ask_v1(
    channel: Channel,
    request: v1::server_reflection_request::MessageRequest,
) -> v1::server_reflection_response::MessageResponse {
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut replies = client
        .server_reflection_info(one(request))
        .await
        .expect("the v1 reflection service answers")
        .into_inner();
    let reply = replies.message().await.unwrap().expect("one response");
    reply.message_response.expect("a response body")
}

/// One v1alpha reflection request, one response.
async fn ask_v1alpha(
    channel: Channel,
    request: v1alpha::server_reflection_request::MessageRequest,
) -> v1alpha::server_reflection_response::MessageResponse {
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut replies = client
        .server_reflection_info(one(request))
        .await
        .expect("the v1alpha reflection service answers")
        .into_inner();
    let reply = replies.message().await.unwrap().expect("one response");
    reply.message_response.expect("a response body")
}

/// A request stream of exactly one message (reflection is a bidirectional
/// stream; tonic re-exports the `tokio_stream` its generated code uses).
fn one<T: Send + 'static>(item: T) -> impl tonic::codegen::tokio_stream::Stream<Item = T> {
    tonic::codegen::tokio_stream::iter([item])
}

#[tokio::test]
async fn reflection_v1_lists_every_served_service_health_included() {
    let worker = TestWorker::start().await;
    let reply = ask_v1(
        worker.channel().await,
        v1::server_reflection_request::MessageRequest::ListServices(String::new()),
    )
    .await;
    let v1::server_reflection_response::MessageResponse::ListServicesResponse(list) = reply else {
        panic!("expected a service list, got {reply:?}");
    };
    let listed: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(listed, served_services());
}

#[tokio::test]
async fn reflection_v1alpha_lists_every_served_service_health_included() {
    let worker = TestWorker::start().await;
    let reply = ask_v1alpha(
        worker.channel().await,
        v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
    )
    .await;
    let v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list) = reply
    else {
        panic!("expected a service list, got {reply:?}");
    };
    let listed: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(listed, served_services());
}

/// The file that defines `symbol`, as reflection v1alpha serves it.
async fn file_containing(channel: Channel, symbol: &str) -> Vec<FileDescriptorProto> {
    let reply = ask_v1alpha(
        channel,
        v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(symbol.into()),
    )
    .await;
    let v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files) = reply
    else {
        panic!("expected the file defining {symbol}, got {reply:?}");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap())
        .collect()
}

#[tokio::test]
async fn reflection_resolves_health_check_so_tools_can_call_it_without_the_proto() {
    let worker = TestWorker::start().await;
    let files = file_containing(worker.channel().await, "grpc.health.v1.Health.Check").await;
    let health = files
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "Health")
        .expect("the file defining grpc.health.v1.Health");
    let check = health.method.iter().find(|m| m.name() == "Check").unwrap();
    assert_eq!(check.input_type(), ".grpc.health.v1.HealthCheckRequest");
}

#[tokio::test]
async fn health_answers_serving_for_the_whole_worker_and_each_of_its_services() {
    let worker = TestWorker::start().await;
    let mut health = HealthClient::new(worker.channel().await);
    let names = std::iter::once(String::new()).chain(distgo_services());
    for service in names {
        let reply = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .unwrap_or_else(|status| panic!("health check of {service:?}: {status:?}"))
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "worker.database.v1.NoSuchService".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}
