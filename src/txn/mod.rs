//! # Transactions: operations buffered by id, applied all at once
//!
//! `TransactionService` groups creates, updates and deletes inside **one
//! database** into one all-or-nothing change:
//!
//! ```text
//! Begin(databases/shop)                         -> transaction_id (128 random bits)
//! Execute(id, [DELETE .../cart/documents/a,
//!              CREATE .../orders/documents/a])  -> each operation checked for shape now
//! Commit(id)                                    -> all applied, or none
//! ```
//!
//! ## What a client sees
//!
//! - `Operation.value`: for documents the JSON document; for databases
//!   `{"display_name": "..."}`; for collections `{"description": "..."}`
//!   (optional, default `""`); empty for deletes. `name` must be inside the
//!   transaction's database. Operations may create a collection and
//!   documents in it, or delete what an earlier operation created.
//! - Execute reports every malformed operation (`operations[2].value`, ...)
//!   as INVALID_ARGUMENT and buffers none of that call; the transaction stays
//!   open. Nothing is visible to anyone before Commit.
//! - Commit applies the operations in order under the store's write lock. If
//!   one fails, all are undone and Commit answers FAILED_PRECONDITION naming
//!   the operation's index and reason (`operation 1 failed:
//!   databases/shop/collections/a/documents/x not found`). The transaction
//!   ends either way; Rollback discards it.
//! - An unknown, finished, expired or other-database id answers NOT_FOUND
//!   (the same answer for all four, so ids cannot be probed).
//! - A committed transaction is one log record: recovery replays all of it
//!   or none of it, and its WAL entries share one timestamp.
//!
//! ## How it works
//!
//! ```text
//! Begin(db) ──► id ──► Execute(id, ops) ... Execute(id, ops) ──► Commit(id)
//!                         │ checked for shape at once,              │ one command:
//!                         │ buffered, invisible to everyone         │ all ops or none,
//!                         ▼                                         ▼ ONE log entry
//!                     [op, op, op ...] ─────────────────────────► applied
//!                                         Rollback(id): discarded
//! ```
//!
//! A transaction is only a list of operations waiting for Commit; there are
//! no reads inside a transaction, so nothing is locked while it is open. At
//! Commit the whole list is proposed as one command; the store applies it
//! under its write lock, as a single step between other commands, and
//! undoes it if any operation fails.
//!
//! **Isolation.** Concurrent plain writes happen entirely before or entirely
//! after a commit, and each commit behaves as if it ran alone at its place
//! in the log: commits are **serializable** by construction, on every
//! replica alike. What a transaction cannot do is read-modify-write: a
//! client that read a value before Begin may commit over a newer one (there
//! are no preconditions on versions yet).
//!
//! ## Bounds
//!
//! Open transactions are bounded three ways so a careless or hostile client
//! cannot grow the worker's memory without limit: they expire `ttl` after
//! Begin, hold at most `max_operations` operations, and at most `max_open`
//! exist at once. Expired transactions are reclaimed in expiry order on
//! every call, so reclaiming costs O(log n) per transaction.
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `transactions.ttl` | duration | `60s` | an open transaction expires this long after Begin |
//! | `transactions.max_operations` | integer ≥ 1 | `500` | operations one transaction may hold (RESOURCE_EXHAUSTED past it) |
//! | `transactions.max_open` | integer ≥ 1 | `10000` | transactions open at once (RESOURCE_EXHAUSTED past it) |

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use parking_lot::Mutex;
use rand::RngCore;

use crate::{
    clock::{Clock, Timestamp},
    error::{Error, Result, quote},
    metrics::{Abort, TxnMetrics},
    names::DatabaseName,
    replication::Replica,
    store::Op,
};

/// Bounds on open transactions (`transactions.*` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long after Begin a transaction expires.
    pub ttl: Duration,
    /// The most operations one transaction may hold.
    pub max_operations: usize,
    /// The most transactions open at once.
    pub max_open: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ttl: Duration::from_secs(60),
            max_operations: 500,
            max_open: 10_000,
        }
    }
}

/// The open transactions of a worker.
#[derive(Debug)]
pub struct Transactions {
    replica: Arc<Replica>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    open: Mutex<Open>,
    /// Begins, commits and aborts, counted for [`crate::metrics`].
    metrics: TxnMetrics,
}

#[derive(Debug, Default)]
struct Open {
    by_id: HashMap<String, Pending>,
    /// `(expires_at, id)`, so the next to expire is the first.
    by_expiry: BTreeSet<(Timestamp, String)>,
}

#[derive(Debug)]
struct Pending {
    database: DatabaseName,
    ops: Vec<Op>,
    expires_at: Timestamp,
}

impl Transactions {
    /// No open transactions; commits go to `replica`, expiry follows `clock`.
    pub fn new(replica: Arc<Replica>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        Transactions {
            replica,
            clock,
            limits,
            open: Mutex::new(Open::default()),
            metrics: TxnMetrics::default(),
        }
    }

    /// Opens a transaction on `database` and returns its id.
    pub fn begin(&self, database: &DatabaseName) -> Result<String> {
        self.replica.store().get_database(database)?;
        let now = self.clock.now();
        let mut open = self.open.lock();
        self.metrics
            .aborted(Abort::Expired, open.reclaim_expired(now));
        if open.by_id.len() >= self.limits.max_open {
            return Err(Error::ResourceExhausted(format!(
                "too many open transactions (at most {}); commit or roll back some first",
                self.limits.max_open
            )));
        }
        let id = new_transaction_id();
        let expires_at = now.plus(self.limits.ttl);
        open.by_expiry.insert((expires_at, id.clone()));
        let pending = Pending {
            database: database.clone(),
            ops: Vec::new(),
            expires_at,
        };
        open.by_id.insert(id.clone(), pending);
        self.metrics.begun();
        Ok(id)
    }

    /// Buffers `ops` (already checked for shape) in transaction `id`.
    ///
    /// All or nothing: past the operation bound none of `ops` is added and
    /// the transaction stays open as it was.
    pub fn execute(&self, database: &DatabaseName, id: &str, ops: Vec<Op>) -> Result<()> {
        let now = self.clock.now();
        let mut open = self.open.lock();
        self.metrics
            .aborted(Abort::Expired, open.reclaim_expired(now));
        let pending = open.find(database, id)?;
        let total = pending.ops.len() + ops.len();
        if total > self.limits.max_operations {
            return Err(Error::ResourceExhausted(format!(
                "transaction {id} would hold {total} operations, at most {} are allowed",
                self.limits.max_operations
            )));
        }
        pending.ops.extend(ops);
        Ok(())
    }

    /// Ends transaction `id` and applies its operations atomically; a
    /// repeated `request_id` returns the first commit's outcome.
    ///
    /// The transaction ends whether or not the commit succeeds.
    pub async fn commit(
        &self,
        database: &DatabaseName,
        id: &str,
        request_id: Option<String>,
    ) -> Result<()> {
        let pending = self.take(database, id)?;
        let committed = self.replica.commit(pending.ops, request_id).await;
        self.metrics.ended(committed.is_ok());
        match committed {
            Ok(_) => Ok(()),
            Err(failed) => Err(match failed.error {
                // The log failing is not the transaction's fault.
                error @ (Error::Unavailable(_) | Error::Internal(_)) => error,
                error => Error::FailedPrecondition(format!(
                    "transaction {id} rolled back: operation {} failed: {error}",
                    failed.index
                )),
            }),
        }
    }

    /// Ends transaction `id`, discarding its operations.
    pub fn rollback(&self, database: &DatabaseName, id: &str) -> Result<()> {
        self.take(database, id)?;
        self.metrics.aborted(Abort::Rollback, 1);
        Ok(())
    }

    /// The counters of begins, commits and aborts.
    pub fn metrics(&self) -> &TxnMetrics {
        &self.metrics
    }

    /// The number of open (not yet reclaimed) transactions.
    pub fn open_count(&self) -> usize {
        self.open.lock().by_id.len()
    }

    fn take(&self, database: &DatabaseName, id: &str) -> Result<Pending> {
        let now = self.clock.now();
        let mut open = self.open.lock();
        self.metrics
            .aborted(Abort::Expired, open.reclaim_expired(now));
        open.find(database, id)?;
        let pending = open.by_id.remove(id).ok_or_else(|| unknown(id))?;
        open.by_expiry.remove(&(pending.expires_at, id.to_owned()));
        Ok(pending)
    }
}

impl Open {
    /// Drops every transaction whose expiry is at or before `now`; returns
    /// how many went.
    fn reclaim_expired(&mut self, now: Timestamp) -> usize {
        let mut reclaimed = 0;
        while let Some((expires_at, _)) = self.by_expiry.first() {
            if *expires_at > now {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first()
                && self.by_id.remove(&id).is_some()
            {
                reclaimed += 1;
            }
        }
        reclaimed
    }

    /// The open transaction `id` of `database`. A transaction of another
    /// database is reported exactly like a missing one, so ids cannot be
    /// probed across databases.
    fn find(&mut self, database: &DatabaseName, id: &str) -> Result<&mut Pending> {
        match self.by_id.get_mut(id) {
            Some(pending) if pending.database == *database => Ok(pending),
            _ => Err(unknown(id)),
        }
    }
}

/// Unknown, finished, expired and other-database ids all look the same.
fn unknown(id: &str) -> Error {
    Error::NotFound(format!("transaction {}", quote(id)))
}

/// 128 random bits from the OS-seeded generator, as 32 hex digits: an id a
/// client cannot guess, so one client cannot commit another's transaction.
fn new_transaction_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
