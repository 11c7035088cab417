//! Which API the address speaks: a worker's `worker.database.v1`, or a
//! master's `master.database.v1`, found out by asking when not told.
//!
//! The master repeats the worker's five database services under its own
//! package, with the same messages and numbers (CONTRACT Part 1), so the
//! bytes of every request and answer are the same and only the *path*
//! differs. The CLI therefore keeps one set of generated clients (the
//! worker's) and renames the path of each request on its way out when the
//! address is a master:
//!
//! ```text
//! distgo doc get ──▶ /worker.database.v1.DocumentService/GetDocument
//!                        │ under_master
//!                        ▼
//!                    /master.database.v1.DocumentService/GetDocument ──▶ master
//! ```
//!
//! Health, reflection and the replication service keep their paths.
//!
//! **Detection** (`--api auto`, the default) asks the address's gRPC
//! reflection which services it serves: one round trip before the command.
//! An address that lists `master.database.v1.DatabaseService` is a master;
//! anything else (a worker, or a server without reflection) is taken for a
//! worker, whose errors then speak for themselves.

use clap::ValueEnum;
use tonic::{body::Body, codegen::tokio_stream, transport::Channel};

use super::connect::Stamped;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};
use tower::util::MapRequest;

/// The package prefix of the generated clients' paths.
const WORKER_PACKAGE: &str = "/worker.database.v1.";

/// The package prefix a master serves the same services under.
const MASTER_PACKAGE: &str = "/master.database.v1.";

/// The service whose presence in reflection marks a master.
const MASTER_SERVICE: &str = "master.database.v1.DatabaseService";

/// `--api`: which API the address speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// Ask the address's reflection (one round trip).
    #[default]
    Auto,
    /// `worker.database.v1`: a worker or a replica set member.
    Worker,
    /// `master.database.v1`: the master, which routes to replica sets.
    Master,
}

/// How each request's path is set on its way out.
type Rename = fn(http::Request<Body>) -> http::Request<Body>;

/// The channel under the package the address serves.
pub type Routed = MapRequest<Channel, Rename>;

/// `channel` with each request under the master's package when `master`.
pub fn routed(channel: Channel, master: bool) -> Routed {
    let rename: Rename = if master { under_master } else { unchanged };
    MapRequest::new(channel, rename)
}

/// Whether the address is a master, as its reflection lists its services;
/// `false` when it cannot tell (no reflection, refused, unreachable).
pub async fn serves_master(mut reflection: ServerReflectionClient<Stamped>) -> bool {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let Ok(answer) = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
    else {
        return false;
    };
    let Ok(Some(first)) = answer.into_inner().message().await else {
        return false;
    };
    match first.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.iter().any(|s| s.name == MASTER_SERVICE)
        }
        _ => false,
    }
}

fn unchanged(request: http::Request<Body>) -> http::Request<Body> {
    request
}

/// The request with its `worker.database.v1` path moved to `master.database.v1`.
fn under_master(mut request: http::Request<Body>) -> http::Request<Body> {
    let Some(method) = request.uri().path().strip_prefix(WORKER_PACKAGE) else {
        return request;
    };
    let path = format!("{MASTER_PACKAGE}{method}");
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path.parse().ok();
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(rename: Rename, uri: &str) -> String {
        let request = http::Request::builder()
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        rename(request).uri().to_string()
    }

    #[test]
    fn the_database_api_moves_under_the_master_package() {
        assert_eq!(
            path_of(
                under_master,
                "http://h:1/worker.database.v1.WALService/ListWALEntries"
            ),
            "http://h:1/master.database.v1.WALService/ListWALEntries"
        );
    }

    #[test]
    fn other_services_and_a_worker_keep_their_paths() {
        let health = "http://h:1/grpc.health.v1.Health/Check";
        assert_eq!(path_of(under_master, health), health);
        let replication = "http://h:1/worker.replication.v1.ReplicationService/Status";
        assert_eq!(path_of(under_master, replication), replication);
        let document = "http://h:1/worker.database.v1.DocumentService/GetDocument";
        assert_eq!(path_of(unchanged, document), document);
    }
}
