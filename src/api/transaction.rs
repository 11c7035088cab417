//! `TransactionService`: not implemented yet; every call answers UNIMPLEMENTED.

use tonic::{Request, Response, Status};

use crate::proto::database::{self as pb, transaction_service_server::TransactionService};

/// Answers UNIMPLEMENTED until transactions land.
#[derive(Clone, Debug, Default)]
pub struct TransactionApi;

fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!("{method} is not implemented by this worker yet"))
}

#[tonic::async_trait]
impl TransactionService for TransactionApi {
    async fn begin(
        &self,
        _: Request<pb::BeginRequest>,
    ) -> Result<Response<pb::BeginResponse>, Status> {
        Err(unimplemented("Begin"))
    }

    async fn execute(&self, _: Request<pb::ExecuteRequest>) -> Result<Response<()>, Status> {
        Err(unimplemented("Execute"))
    }

    async fn commit(&self, _: Request<pb::CommitRequest>) -> Result<Response<()>, Status> {
        Err(unimplemented("Commit"))
    }

    async fn rollback(&self, _: Request<pb::RollbackRequest>) -> Result<Response<()>, Status> {
        Err(unimplemented("Rollback"))
    }
}
