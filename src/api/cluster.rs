//! `worker.cluster.v1.ClusterService`: what the master node asks of a worker.
//!
//! A standalone worker has no master to forget, so `ForgetConnection` is a
//! successful no-op; it becomes meaningful once workers register with a master.

use tonic::{Request, Response, Status};

use crate::proto::cluster::{ForgetConnectionRequest, cluster_service_server::ClusterService};

/// The cluster service of a standalone worker.
#[derive(Clone, Debug, Default)]
pub struct ClusterApi;

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    async fn forget_connection(
        &self,
        _: Request<ForgetConnectionRequest>,
    ) -> Result<Response<()>, Status> {
        tracing::debug!(method = "ForgetConnection", status = "OK", "request");
        Ok(Response::new(()))
    }
}
