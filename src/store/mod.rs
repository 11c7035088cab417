//! The store: the state of a worker, as a pure state machine.
//!
//! ```text
//!       apply(position, command) ──▶ Outcome            get / list / list_history
//!                    │                                          │
//!      ┌─────────────▼──────────────┐                           │
//!      │ write lock                 │                           │
//!      │  commit time = max(proposed, last + 1ns)               │
//!      │  ids, UUIDs  = ChaCha8(seed)                           │
//!      │  plan + apply (undo on failure) ◀── read lock ─────────┘
//!      │  record → history          │    (clones an Arc, encodes
//!      └────────────────────────────┘     outside the lock)
//! ```
//!
//! **A state machine and nothing else.** The store knows nothing of logs,
//! clocks, disks or networks. It changes in exactly one way, by applying a
//! [`Command`] taken from a log at a [`LogPosition`], and the outcome of
//! applying is a function of the state and the command alone. That is the
//! contract a replicated log needs from its state machine: feed the same
//! commands in the same order to two stores and they hold the same state,
//! list the same WAL history and answer every client the same. The layer
//! that owns the log ([`crate::replication`]) decides *when* a command is
//! applied (once the log says it is committed); the store decides *what*
//! it does.
//!
//! **One lock, short critical sections.** A single reader-writer lock
//! guards the [`Tree`] and the [`History`]. Applying holds it for the plan
//! and apply of one command, microseconds; readers clone an `Arc` under it
//! and encode their response after releasing it. What a command lets go of
//! (old history records, replaced rows) is freed after the lock is
//! released.
//!
//! **Snapshots** ([`Snapshot`]) are a consistent copy of everything,
//! including the history and the log position they were taken at, so a
//! store can be rebuilt from a snapshot plus the commands after it.

mod apply;
pub mod codec;
mod command;
mod history;
mod ops;
mod position;
mod record;
mod requests;
mod rows;
mod snapshot;
mod tree;

use std::sync::Arc;

use parking_lot::RwLock;

pub use self::{
    command::{Action, Applied, Command, Failed, Outcome},
    history::{Entity, Filter, History, HistoryPage, Listed, Position},
    ops::Op,
    position::{LogPosition, Membership},
    record::{Change, Entry, Mutation, Record, Seq},
    requests::{DEFAULT_WINDOW, MAX_REMEMBERED, Requests},
    rows::{CollectionRow, DatabaseRow, DocumentRow},
    snapshot::Snapshot,
    tree::{CollectionNode, DatabaseNode, Key, Page, Sizes, Tree},
};
use crate::{
    clock::Timestamp,
    error::{Error, Result},
    names::{CollectionName, DatabaseName, DocumentName},
};

/// The worker's data: databases, collections, documents and their history.
#[derive(Debug)]
pub struct Store {
    state: RwLock<State>,
    /// `wal.history_bytes`: how much history ListWALEntries can list.
    history_budget: u64,
}

/// Everything behind the lock.
#[derive(Debug)]
struct State {
    tree: Tree,
    history: History,
    requests: Requests,
    applied: Option<LogPosition>,
    last_commit: Timestamp,
    membership: Membership,
}

/// What applying let go of: freed after the lock is released.
#[derive(Default)]
struct Garbage {
    records: Vec<Arc<Record>>,
    changes: Vec<Change>,
}

impl Store {
    /// An empty store whose history holds about `history_budget` bytes and
    /// that remembers request ids for the default window (10 minutes).
    pub fn new(history_budget: u64) -> Self {
        Self::with_request_window(history_budget, DEFAULT_WINDOW)
    }

    /// An empty store that remembers request ids for `request_window`
    /// (`cluster.request_window`).
    pub fn with_request_window(history_budget: u64, request_window: std::time::Duration) -> Self {
        Store {
            state: RwLock::new(State {
                tree: Tree::default(),
                history: History::new(history_budget),
                requests: Requests::new(request_window),
                applied: None,
                last_commit: Timestamp::MIN,
                membership: Membership::default(),
            }),
            history_budget,
        }
    }

    /// Applies the command of the log entry at `at`; every replica that
    /// applies the same commands in the same order gets the same outcomes.
    pub fn apply(&self, at: LogPosition, command: &Command) -> Outcome {
        let mut garbage = Garbage::default();
        let outcome = self.state.write().apply(at, command, &mut garbage);
        drop(garbage);
        outcome
    }

    /// Records that the entry at `at` was applied although it holds no
    /// command: an entry of the consensus engine's own, which may carry a
    /// new `membership`.
    pub fn advance(&self, at: LogPosition, membership: Option<Vec<u8>>) {
        let mut state = self.state.write();
        state.applied = Some(at);
        if let Some(config) = membership {
            state.membership = Membership {
                at: Some(at),
                config,
            };
        }
    }

    /// The last log entry applied (`None`: none yet).
    pub fn applied(&self) -> Option<LogPosition> {
        self.state.read().applied
    }

    /// The membership as last applied.
    pub fn membership(&self) -> Membership {
        self.state.read().membership.clone()
    }

    /// A consistent copy of the whole state.
    ///
    /// Cloning holds the read lock for one pass over the tree (documents are
    /// shared `Arc`s, so values are not copied); writers wait that long.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.read();
        Snapshot {
            tree: state.tree.clone(),
            history: state.history.clone(),
            requests: state.requests.clone(),
            applied: state.applied,
            last_commit: state.last_commit,
            membership: state.membership.clone(),
        }
    }

    /// Replaces the whole state with `snapshot` (recovery, or a replica
    /// catching up). Its history is held within this store's budget.
    pub fn install(&self, snapshot: Snapshot) {
        let history = History::from_parts(
            self.history_budget,
            snapshot.history.first_retained(),
            snapshot.history.next_seq(),
            snapshot.history.records().cloned().collect(),
        );
        let old = {
            let mut state = self.state.write();
            let window = state.requests.window();
            let requests = Requests::from_entries(
                window,
                snapshot
                    .requests
                    .entries()
                    .map(|(id, at, outcome)| (id.to_owned(), at, outcome.clone())),
            );
            std::mem::replace(
                &mut *state,
                State {
                    tree: snapshot.tree,
                    history,
                    requests,
                    applied: snapshot.applied,
                    last_commit: snapshot.last_commit,
                    membership: snapshot.membership,
                },
            )
        };
        drop(old);
    }

    /// The budget of the history, in encoded bytes.
    pub fn history_budget(&self) -> u64 {
        self.history_budget
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

    /// Up to `limit` history entries that `filter` admits, strictly after
    /// `after` (or from the start).
    pub fn list_history(
        &self,
        filter: &Filter,
        after: Option<Position>,
        limit: usize,
    ) -> HistoryPage {
        let start = filter.start.unwrap_or(Timestamp::MIN);
        let first = self.state.read().history.first_at_or_after(start);
        let chunk = |from| self.state.read().history.chunk(from, history::CHUNK);
        history::list(chunk, first, filter, after, limit)
    }

    /// Request ids remembered for retries.
    pub fn remembered_requests(&self) -> usize {
        self.state.read().requests.len()
    }

    /// Records and encoded bytes of the history ListWALEntries can list.
    pub fn history_size(&self) -> (usize, u64) {
        let state = self.state.read();
        (state.history.len(), state.history.bytes())
    }

    /// Number of databases, collections and documents, for statistics.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.state.read().tree.counts()
    }

    /// What the store holds, for the metrics: O(databases + collections)
    /// under the read lock.
    pub fn sizes(&self) -> Sizes {
        let state = self.state.read();
        Sizes {
            history_records: state.history.len() as u64,
            history_bytes: state.history.bytes(),
            ..state.tree.sizes()
        }
    }
}

impl State {
    fn apply(&mut self, at: LogPosition, command: &Command, garbage: &mut Garbage) -> Outcome {
        self.applied = Some(at);
        let Some(id) = &command.request_id else {
            return self.execute(command, garbage);
        };
        // A retry: the first outcome, and nothing applied again.
        let now = command.commit_time(self.last_commit);
        if let Some(first) = self.requests.recall(id, now) {
            return first;
        }
        let outcome = self.execute(command, garbage);
        self.requests.remember(id, now, outcome.clone());
        outcome
    }

    fn execute(&mut self, command: &Command, garbage: &mut Garbage) -> Outcome {
        match &command.action {
            Action::Write(ops) if ops.is_empty() => Err(Failed::at(
                0,
                Error::Internal("a write with no operations".into()),
            )),
            Action::Write(ops) => {
                let time = command.commit_time(self.last_commit);
                let mut rng = command.rng();
                let executed = apply::execute(&mut self.tree, ops, time, &mut rng)?;
                garbage.changes.extend(executed.undo);
                let record = Arc::new(Record {
                    seq: self.history.next_seq(),
                    timestamp: time,
                    entries: executed.entries,
                });
                self.last_commit = time;
                self.history.push(record.clone(), &mut garbage.records);
                Ok(Applied::Record(record))
            }
            Action::TrimHistory { before } => {
                let records = self.history.trim_before(*before, &mut garbage.records);
                Ok(Applied::Trimmed { records })
            }
        }
    }
}

#[cfg(test)]
mod tests;
