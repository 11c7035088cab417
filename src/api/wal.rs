//! `WALService`: not implemented yet; every call answers UNIMPLEMENTED.

use tonic::{Request, Response, Status};

use crate::proto::database::{self as pb, wal_service_server::WalService};

/// Answers UNIMPLEMENTED until the log service lands.
#[derive(Clone, Debug, Default)]
pub struct WalApi;

#[tonic::async_trait]
impl WalService for WalApi {
    async fn list_wal_entries(
        &self,
        _: Request<pb::ListWalEntriesRequest>,
    ) -> Result<Response<pb::ListWalEntriesResponse>, Status> {
        Err(Status::unimplemented(
            "ListWALEntries is not implemented by this worker yet",
        ))
    }

    async fn truncate_wal(
        &self,
        _: Request<pb::TruncateWalRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented(
            "TruncateWAL is not implemented by this worker yet",
        ))
    }
}
