//! Which package the target serves the database API under: a worker's
//! `worker.database.v1` or a master's `master.database.v1`.
//!
//! The two packages have the same services, messages and field numbers
//! (CONTRACT Part 1), so their bytes on the wire are the same and only the
//! request path differs:
//!
//! ```text
//! case ──▶ DocumentServiceClient ──▶ /worker.database.v1.DocumentService/GetDocument
//!                                        │ Packaged (Api::Master)
//!                                        ▼
//!                                    /master.database.v1.DocumentService/GetDocument ──▶ master
//! ```
//!
//! So the suite keeps one set of generated clients and one set of cases,
//! and [`Packaged`], a transport wrapper, renames the path of each request
//! on its way out. Nothing else (health, reflection) is renamed.

use std::task::{Context, Poll};

use tonic::codegen::{
    Service,
    http::{self, Uri, uri::PathAndQuery},
};

/// The package prefix of the generated clients' paths.
const WORKER_PREFIX: &str = "/worker.database.v1.";

/// The package prefix a master serves the same services under.
const MASTER_PREFIX: &str = "/master.database.v1.";

/// The API a target speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// `worker.database.v1`: a worker or a replica set member.
    #[default]
    Worker,
    /// `master.database.v1`: a master that routes to replica sets.
    Master,
}

impl Api {
    /// The URI a request for `uri` goes to, when it differs.
    fn rename(self, uri: &Uri) -> Option<Uri> {
        let Api::Master = self else { return None };
        let method = uri.path().strip_prefix(WORKER_PREFIX)?;
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = PathAndQuery::try_from(format!("{MASTER_PREFIX}{method}")).ok();
        Uri::from_parts(parts).ok()
    }
}

/// A transport that sends each request under the target's package.
#[derive(Clone, Debug)]
pub struct Packaged<S> {
    inner: S,
    api: Api,
}

impl<S> Packaged<S> {
    /// Wraps `inner`, renaming paths for `api`.
    pub fn new(inner: S, api: Api) -> Self {
        Packaged { inner, api }
    }
}

impl<S, B> Service<http::Request<B>> for Packaged<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(uri) = self.api.rename(request.uri()) {
            *request.uri_mut() = uri;
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(api: Api, uri: &str) -> String {
        let uri: Uri = uri.parse().unwrap();
        api.rename(&uri).unwrap_or(uri).to_string()
    }

    #[test]
    fn a_master_gets_the_database_api_under_its_own_package() {
        assert_eq!(
            renamed(
                Api::Master,
                "http://127.0.0.1:1/worker.database.v1.DocumentService/GetDocument"
            ),
            "http://127.0.0.1:1/master.database.v1.DocumentService/GetDocument"
        );
    }

    #[test]
    fn a_worker_and_other_services_keep_their_paths() {
        for (api, uri) in [
            (
                Api::Worker,
                "http://h:1/worker.database.v1.DocumentService/GetDocument",
            ),
            (Api::Master, "http://h:1/grpc.health.v1.Health/Check"),
            (
                Api::Master,
                "http://h:1/worker.cluster.v1.ClusterService/ForgetConnection",
            ),
        ] {
            assert_eq!(renamed(api, uri), uri, "{api:?}");
        }
    }
}
