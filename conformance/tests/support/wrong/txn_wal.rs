//! Transactions and the log, as the flaws break them.

use distgo_conformance::proto::database::{
    self as pb, EntityType, MutationType, transaction_service_server::TransactionService,
    wal_service_server::WalService,
};
use tonic::{Code, Request, Response, Status};

use super::{Flaw, R, Wrong};

#[tonic::async_trait]
impl TransactionService for Wrong {
    async fn begin(&self, r: Request<pb::BeginRequest>) -> R<pb::BeginResponse> {
        self.txn().begin(r.into_inner()).await
    }
    async fn execute(&self, r: Request<pb::ExecuteRequest>) -> R<()> {
        let request = r.into_inner();
        if let Some(status) = self.zombie(&request.transaction_id) {
            return Err(status);
        }
        let answer = match self.txn().execute(request.clone()).await {
            Err(s)
                if s.code() == Code::NotFound
                    && !request.operations.is_empty()
                    && self.has(Flaw::ExecuteIgnoresUnknownId) =>
            {
                return Ok(Response::new(()));
            }
            other => other?,
        };
        if self.has(Flaw::PartialCommit) {
            self.buffers
                .lock()
                .unwrap()
                .entry(request.transaction_id.clone())
                .or_default()
                .extend(request.operations.iter().cloned());
        }
        if self.has(Flaw::LeakyExecute) {
            for op in request.operations {
                let _ = self.apply_alone(&request.database_name, op).await;
            }
        }
        Ok(answer)
    }
    async fn commit(&self, r: Request<pb::CommitRequest>) -> R<()> {
        let request = r.into_inner();
        if let Some(status) = self.zombie(&request.transaction_id) {
            return Err(status);
        }
        if !self.has(Flaw::PartialCommit) {
            let result = self.txn().commit(request.clone()).await;
            if let Err(status) = &result
                && status.code() == Code::FailedPrecondition
                && self.has(Flaw::FailedCommitStaysOpen)
            {
                let zombies = &mut self.zombies.lock().unwrap();
                zombies.insert(request.transaction_id, status.clone());
            }
            return result;
        }
        // End the real transaction (its answer is the right one for unknown,
        // finished and other databases' ids), then apply what it held.
        let rollback = pb::RollbackRequest {
            database_name: request.database_name.clone(),
            transaction_id: request.transaction_id.clone(),
        };
        self.txn().rollback(rollback).await?;
        let ops = self
            .buffers
            .lock()
            .unwrap()
            .remove(&request.transaction_id)
            .unwrap_or_default();
        for (i, op) in ops.into_iter().enumerate() {
            if let Err(status) = self.apply_alone(&request.database_name, op).await {
                let message = format!("operation {i} failed: {}", status.message());
                return Err(Status::failed_precondition(message));
            }
        }
        Ok(Response::new(()))
    }
    async fn rollback(&self, r: Request<pb::RollbackRequest>) -> R<()> {
        let request = r.into_inner();
        if self
            .zombies
            .lock()
            .unwrap()
            .remove(&request.transaction_id)
            .is_some()
        {
            // Still "open": rolling it back succeeds.
            return Ok(Response::new(()));
        }
        let answer = self.txn().rollback(request.clone()).await?;
        self.buffers.lock().unwrap().remove(&request.transaction_id);
        Ok(answer)
    }
}

impl Wrong {
    /// The failed commit's answer again, for a transaction left open.
    fn zombie(&self, id: &str) -> Option<Status> {
        self.zombies.lock().unwrap().get(id).cloned()
    }
}

#[tonic::async_trait]
impl WalService for Wrong {
    async fn list_wal_entries(
        &self,
        r: Request<pb::ListWalEntriesRequest>,
    ) -> R<pb::ListWalEntriesResponse> {
        let mut page = self
            .wal()
            .list_wal_entries(r.into_inner())
            .await?
            .into_inner();
        if self.has(Flaw::CascadeLogPartial) {
            let is = |e: &pb::WalEntry, entity: EntityType| {
                e.entity_type == entity as i32 && e.operation_type == MutationType::Delete as i32
            };
            let cascades: Vec<_> = page
                .entries
                .iter()
                .filter(|e| is(e, EntityType::Collection))
                .map(|e| e.timestamp)
                .collect();
            page.entries
                .retain(|e| !(is(e, EntityType::Document) && cascades.contains(&e.timestamp)));
        }
        Ok(Response::new(page))
    }
    async fn truncate_wal(&self, r: Request<pb::TruncateWalRequest>) -> R<()> {
        self.wal().truncate_wal(r.into_inner()).await
    }
}
