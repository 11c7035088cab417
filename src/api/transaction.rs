//! `TransactionService`: Begin, Execute, Commit, Rollback.
//!
//! The lifecycle and its bounds live in [`crate::txn`]; this file checks
//! requests and translates. `database_name` is a database resource name
//! (`databases/{db}`), and every operation must name a resource inside it.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::{
    api::{gather::Gather, operation::parse_operations, request_id::request_id, respond},
    error::{Error, Violation},
    names::DatabaseName,
    proto::database::{self as pb, transaction_service_server::TransactionService},
    txn::Transactions,
};

/// Serves `worker.database.v1.TransactionService`.
#[derive(Clone, Debug)]
pub struct TransactionApi {
    transactions: Arc<Transactions>,
}

impl TransactionApi {
    /// The service over the worker's open transactions.
    pub fn new(transactions: Arc<Transactions>) -> Self {
        TransactionApi { transactions }
    }
}

fn transaction_id(id: &str) -> Result<&str, Violation> {
    if id.is_empty() {
        Err(Violation::new("transaction_id", "must not be empty"))
    } else {
        Ok(id)
    }
}

#[tonic::async_trait]
impl TransactionService for TransactionApi {
    async fn begin(
        &self,
        request: Request<pb::BeginRequest>,
    ) -> Result<Response<pb::BeginResponse>, Status> {
        let req = request.into_inner();
        respond("Begin", &req.database_name, async {
            let database = DatabaseName::parse(&req.database_name, "database_name")?;
            let transaction_id = self.transactions.begin(&database)?;
            Ok(pb::BeginResponse { transaction_id })
        })
        .await
    }

    async fn execute(&self, request: Request<pb::ExecuteRequest>) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        respond("Execute", &req.database_name, async {
            let database = DatabaseName::parse(&req.database_name, "database_name");
            let id = transaction_id(&req.transaction_id);
            // Operations are judged against the database they must be
            // inside, so they are checked whenever its name parses, and
            // every bad field of the request is reported together.
            let ops = match &database {
                Ok(database) => parse_operations(database, req.operations),
                Err(_) => Ok(Vec::new()),
            };
            match (database, id, ops) {
                (Ok(database), Ok(id), Ok(ops)) => self.transactions.execute(&database, id, ops),
                (database, id, ops) => {
                    let mut violations: Vec<Violation> =
                        [database.err(), id.err()].into_iter().flatten().collect();
                    match ops {
                        Err(Error::InvalidArgument(mut bad)) => violations.append(&mut bad),
                        Err(other) => return Err(other),
                        Ok(_) => {}
                    }
                    Err(Error::InvalidArgument(violations))
                }
            }
        })
        .await
    }

    async fn commit(&self, request: Request<pb::CommitRequest>) -> Result<Response<()>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        respond("Commit", &req.database_name, async {
            let request_id = request_id?;
            let (database, id) = (
                DatabaseName::parse(&req.database_name, "database_name"),
                transaction_id(&req.transaction_id),
            )
                .gather()?;
            self.transactions.commit(&database, id, request_id).await
        })
        .await
    }

    async fn rollback(
        &self,
        request: Request<pb::RollbackRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        respond("Rollback", &req.database_name, async {
            let (database, id) = (
                DatabaseName::parse(&req.database_name, "database_name"),
                transaction_id(&req.transaction_id),
            )
                .gather()?;
            self.transactions.rollback(&database, id)
        })
        .await
    }
}
