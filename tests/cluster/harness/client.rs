//! gRPC clients of one node, and what an error says about a write.
//!
//! A test talks to a node the way an application would: tonic clients of
//! `worker.database.v1` (and `worker.replication.v1` for the set's status)
//! over one HTTP/2 channel. The channel connects lazily and reconnects on
//! its own, so a [`Clients`] made once survives its node being killed and
//! restarted on the same port.
//!
//! **Every call has two deadlines.** [`Clients::request`] sends
//! `grpc-timeout`, so the worker bounds its own work and answers
//! DEADLINE_EXCEEDED; and [`Clients::call`] also bounds the wait on the
//! client side, a little later, because a frozen (SIGSTOPped) or
//! partitioned node answers nothing at all.
//!
//! **What an error says.** After a crash or a partition the interesting
//! question about a failed write is whether it *happened*. Some answers
//! are definite: NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT,
//! FAILED_PRECONDITION mean the state was checked and nothing changed.
//! Others are not: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, a reset
//! connection, no answer: the write may have been applied, or may be
//! applied later (it may sit in a leader's log that a new leader keeps). A
//! history records those as [`Outcome::Unknown`], and a checker must allow
//! both. INTERNAL, UNKNOWN and the rest are unknown too: the harness
//! cannot tell what a server that failed unexpectedly did.

use std::{future::Future, net::SocketAddr, time::Duration};

use distgo_db::proto::{
    database::{
        collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient,
        transaction_service_client::TransactionServiceClient, wal_service_client::WalServiceClient,
    },
    replication::replication_service_client::ReplicationServiceClient,
};
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

use super::history::Outcome;

/// How long after the request's own deadline the client stops waiting.
const CLIENT_SLACK: Duration = Duration::from_millis(500);
/// How long connecting may take (a frozen node accepts, then says nothing).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The header that asks for a possibly stale read from the node's own state.
pub const LOCAL_READ: (&str, &str) = ("distgo-read", "local");

/// The clients of one node, on one channel. Cloning shares the channel.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The node's address.
    pub address: SocketAddr,
    /// Each request's deadline (`grpc-timeout`).
    pub deadline: Duration,
    /// `worker.database.v1.DatabaseService`.
    pub databases: DatabaseServiceClient<Channel>,
    /// `worker.database.v1.CollectionService`.
    pub collections: CollectionServiceClient<Channel>,
    /// `worker.database.v1.DocumentService`.
    pub documents: DocumentServiceClient<Channel>,
    /// `worker.database.v1.TransactionService`.
    pub transactions: TransactionServiceClient<Channel>,
    /// `worker.database.v1.WALService`.
    pub wal: WalServiceClient<Channel>,
    /// `worker.replication.v1.ReplicationService`.
    pub replication: ReplicationServiceClient<Channel>,
}

impl Clients {
    /// Clients of the node at `address` whose requests carry `deadline`.
    /// Does not connect yet: a node that is down fails calls, not this.
    pub fn new(address: SocketAddr, deadline: Duration) -> Clients {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .expect("http://<socket address> is a valid URI")
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy();
        Clients {
            address,
            deadline,
            databases: DatabaseServiceClient::new(channel.clone()),
            collections: CollectionServiceClient::new(channel.clone()),
            documents: DocumentServiceClient::new(channel.clone()),
            transactions: TransactionServiceClient::new(channel.clone()),
            wal: WalServiceClient::new(channel.clone()),
            replication: ReplicationServiceClient::new(channel),
        }
    }

    /// `message` as a request with this client's deadline.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.deadline);
        request
    }

    /// [`Clients::request`] asking for a local (possibly stale) read.
    pub fn local_request<T>(&self, message: T) -> Request<T> {
        let mut request = self.request(message);
        request
            .metadata_mut()
            .insert(LOCAL_READ.0, MetadataValue::from_static(LOCAL_READ.1));
        request
    }

    /// A local read when `local`, an ordinary request otherwise.
    pub fn read_request<T>(&self, local: bool, message: T) -> Request<T> {
        if local {
            self.local_request(message)
        } else {
            self.request(message)
        }
    }

    /// Awaits `call`, at most the deadline plus a little: a node that
    /// answers nothing yields DEADLINE_EXCEEDED from the client side.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(self.deadline + CLIENT_SLACK, call).await {
            Ok(answer) => answer.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer from {} within {:?} (client side)",
                self.address,
                self.deadline + CLIENT_SLACK
            ))),
        }
    }
}

/// Whether an error proves the operation did not change anything.
pub fn is_definite(code: Code) -> bool {
    matches!(
        code,
        Code::NotFound
            | Code::AlreadyExists
            | Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
    )
}

/// What a failed call tells a history: a definite failure, or unknown.
pub fn outcome_of(status: &Status) -> Outcome {
    if is_definite(status.code()) {
        Outcome::Failed(status.code())
    } else {
        Outcome::Unknown(format!("{:?}: {}", status.code(), status.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line between "did not happen" and "may have happened".
    #[test]
    fn only_answers_about_the_state_are_definite() {
        for code in [
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
        ] {
            assert_eq!(outcome_of(&Status::new(code, "x")), Outcome::Failed(code));
        }
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::Internal,
            Code::Unknown,
        ] {
            assert!(matches!(
                outcome_of(&Status::new(code, "x")),
                Outcome::Unknown(_)
            ));
        }
    }
}
