//! The store: the state of the worker and the only way to change it.
//!
//! ```text
//!              write(op) / commit(ops)                 get / list
//!                        │                                  │
//!          ┌─────────────▼─────────────┐                    │
//!          │ write lock                │                    │
//!          │  1. commit time = max(now, last + 1ns)         │
//!          │  2. execute: plan + apply │◄── read lock ──────┘
//!          │     (undo on failure)     │    (clones an Arc, encodes
//!          │  3. append record to log  │     outside the lock)
//!          └─────────────┬─────────────┘
//!                        │ lock released
//!          4. wait until the log says the record is durable
//!          5. acknowledge
//! ```
//!
//! **One lock, short critical sections.** A single reader-writer lock guards
//! the [`Tree`]. Writers hold it only to plan, apply and *enqueue* their
//! record — microseconds — and never while the log is synced to disk, so a
//! slow disk delays acknowledgements but not readers. Because a record is
//! applied and enqueued under the same lock, the log's order is exactly the
//! order in which changes became visible.
//!
//! **Deterministic records.** The commit time, generated ids and entry UUIDs
//! are decided while planning and written into the [`Record`]. Replaying a
//! record ([`Store::replay`]) is then a pure function of the state, which is
//! what recovery and (later) Raft replicas need.
//!
//! **Time never goes backwards.** Each commit gets `max(clock, last + 1ns)`:
//! timestamps strictly increase in commit order even if the system clock
//! steps back, so `updated_at` never decreases and log time ranges are
//! contiguous ranges of records.

mod execute;
mod ops;
mod record;
mod rows;
mod tree;

use std::sync::Arc;

use parking_lot::RwLock;
use rand::{SeedableRng, rngs::StdRng};

pub use self::{
    execute::Failed,
    ops::Op,
    record::{Change, Entry, Lsn, Mutation, Record},
    rows::{CollectionRow, DatabaseRow, DocumentRow},
    tree::{CollectionNode, DatabaseNode, Key, Page, Tree},
};
use crate::{
    clock::{Clock, Timestamp},
    error::{Error, Result},
    names::{CollectionName, DatabaseName, DocumentName},
    wal::Wal,
};

/// The worker's data: databases, collections and documents.
#[derive(Debug)]
pub struct Store {
    state: RwLock<State>,
    clock: Arc<dyn Clock>,
    wal: Wal,
}

/// Everything behind the lock.
#[derive(Debug)]
struct State {
    tree: Tree,
    last_lsn: Lsn,
    last_commit: Timestamp,
    /// Generated ids and entry UUIDs; seeded from the OS unless a test seeds it.
    rng: StdRng,
}

/// A consistent copy of the whole state, for snapshots and replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The state after record `lsn`.
    pub tree: Tree,
    /// The last record the snapshot includes (0: none).
    pub lsn: Lsn,
    /// That record's commit time.
    pub last_commit: Timestamp,
}

impl Store {
    /// An empty store that reads time from `clock` and logs to `wal`.
    pub fn new(clock: Arc<dyn Clock>, wal: Wal) -> Self {
        Self::with_rng(clock, wal, StdRng::from_os_rng())
    }

    /// An empty store whose generated ids come from a seeded generator, so a
    /// test can predict them.
    pub fn with_seed(clock: Arc<dyn Clock>, wal: Wal, seed: u64) -> Self {
        Self::with_rng(clock, wal, StdRng::seed_from_u64(seed))
    }

    fn with_rng(clock: Arc<dyn Clock>, wal: Wal, rng: StdRng) -> Self {
        Store {
            state: RwLock::new(State {
                tree: Tree::default(),
                last_lsn: 0,
                last_commit: Timestamp::MIN,
                rng,
            }),
            clock,
            wal,
        }
    }

    /// The log this store appends to.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// The clock this store stamps commits with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Applies one operation and waits until it is durable.
    ///
    /// Returns the record it produced; its entries hold the resulting rows.
    pub async fn write(&self, op: Op) -> Result<Arc<Record>> {
        match self.commit(std::slice::from_ref(&op)).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(Error::Internal("an operation produced no change".into())),
            Err(failed) => Err(failed.error),
        }
    }

    /// Applies `ops` all or nothing, as one record, and waits until it is
    /// durable. An empty batch changes nothing and returns `None`.
    pub async fn commit(&self, ops: &[Op]) -> Result<Option<Arc<Record>>, Failed> {
        if ops.is_empty() {
            return Ok(None);
        }
        let (record, ticket) = self.apply(ops)?;
        let durable = ticket.wait().await;
        durable.map_err(|error| Failed { index: 0, error })?;
        Ok(Some(record))
    }

    /// The synchronous part of a commit: everything done under the lock.
    fn apply(&self, ops: &[Op]) -> Result<(Arc<Record>, crate::wal::Ticket), Failed> {
        let mut state = self.state.write();
        let state = &mut *state;
        let timestamp = self.clock.now().max(state.last_commit.next());
        let applied = execute::execute(&mut state.tree, ops, timestamp, &mut state.rng)?;
        let record = Arc::new(Record {
            lsn: state.last_lsn + 1,
            timestamp,
            entries: applied.entries,
        });
        match self.wal.append(&record) {
            Ok(ticket) => {
                state.last_lsn = record.lsn;
                state.last_commit = timestamp;
                Ok((record, ticket))
            }
            Err(error) => {
                // The log refused the record, so it must not stay visible.
                execute::undo(&mut state.tree, applied.undo);
                Err(Failed { index: 0, error })
            }
        }
    }

    /// Applies a record read back from the log (recovery) or received from a
    /// leader (replication). Records at or below the current LSN are skipped,
    /// so replaying a log over a snapshot that already covers part of it is safe.
    pub fn replay(&self, record: &Record) -> Result<()> {
        let mut state = self.state.write();
        if record.lsn <= state.last_lsn {
            return Ok(());
        }
        for entry in &record.entries {
            state.tree.set(entry.change.clone())?;
        }
        state.last_lsn = record.lsn;
        state.last_commit = state.last_commit.max(record.timestamp);
        Ok(())
    }

    /// A consistent copy of the whole state.
    ///
    /// Cloning holds the read lock for one pass over the tree (documents are
    /// shared `Arc`s, so values are not copied); writers wait that long.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.read();
        Snapshot {
            tree: state.tree.clone(),
            lsn: state.last_lsn,
            last_commit: state.last_commit,
        }
    }

    /// Replaces the whole state with `snapshot` (recovery, or a replica
    /// catching up).
    pub fn install(&self, snapshot: Snapshot) {
        let mut state = self.state.write();
        state.tree = snapshot.tree;
        state.last_lsn = snapshot.lsn;
        state.last_commit = snapshot.last_commit;
    }

    /// The LSN of the last applied record.
    pub fn last_lsn(&self) -> Lsn {
        self.state.read().last_lsn
    }

    /// The database `name`.
    pub fn get_database(&self, name: &DatabaseName) -> Result<DatabaseRow> {
        let state = self.state.read();
        let node = state.tree.database(name);
        node.map(|n| n.row.clone())
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// The collection `name`.
    pub fn get_collection(&self, name: &CollectionName) -> Result<CollectionRow> {
        let state = self.state.read();
        let node = state.tree.collection(name);
        node.map(|n| n.row.clone())
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// The document `name`.
    pub fn get_document(&self, name: &DocumentName) -> Result<Arc<DocumentRow>> {
        let state = self.state.read();
        state
            .tree
            .document(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// Up to `limit` databases with ids after `after`.
    pub fn list_databases(&self, after: Option<&str>, limit: usize) -> Page<DatabaseRow> {
        self.state.read().tree.list_databases(after, limit)
    }

    /// Up to `limit` collections of `parent` with ids after `after`.
    pub fn list_collections(
        &self,
        parent: &DatabaseName,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<CollectionRow>> {
        let state = self.state.read();
        state
            .tree
            .list_collections(parent, after, limit)
            .ok_or_else(|| Error::NotFound(parent.to_string()))
    }

    /// Up to `limit` documents of `parent` with ids after `after`.
    pub fn list_documents(
        &self,
        parent: &CollectionName,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Arc<DocumentRow>>> {
        let state = self.state.read();
        state
            .tree
            .list_documents(parent, after, limit)
            .ok_or_else(|| Error::NotFound(parent.to_string()))
    }
}

#[cfg(test)]
mod tests;
