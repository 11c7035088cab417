//! Replication: the layer that owns the log, between the API and the store.
//!
//! ```text
//!   api / txn ── write(op) ──▶ Replica::propose
//!                                  │ 1. stamp:  proposed_at = clock.now(), seed = 128 random bits
//!                                  │ 2. append: a log entry at the next index
//!                                  │ 3. commit: the log says the entry is durable
//!                                  │            (standalone: fsynced here; replica set:
//!                                  │             on a majority — the Raft driver, later)
//!                                  │ 4. apply:  store.apply(position, command) → Outcome
//!   answer ◀── Outcome ────────────┘            (state checks happen here, deterministically)
//! ```
//!
//! The store ([`crate::store`]) is a pure state machine; the log
//! ([`crate::wal`]) only makes entries durable. This module is where the
//! two meet: it turns a client's operation into a [`Command`] whose every
//! nondeterministic input (the time, the randomness behind generated ids
//! and entry UUIDs) is fixed *before* it enters the log, appends it, and
//! applies it once it is committed. Because a command is applied only
//! after it is durable, a reader never sees a change that a crash could
//! take back, and because applying is deterministic, replaying the log
//! after a crash, or applying it on another node, gives the same state.
//!
//! A [`Replica`] hides which log it drives behind one narrow interface
//! ([`Replica::propose`]): a standalone worker's own log (`solo`), in
//! memory or on disk. The replica set's Raft log plugs in behind the same
//! call, so the API, transactions and the store do not know which one they
//! run on.

mod compaction;
mod solo;

use std::sync::Arc;

use rand::RngCore;

use crate::{
    clock::{Clock, Timestamp},
    config::WalConfig,
    error::{Error, Result},
    store::{Action, Applied, Command, Failed, Op, Outcome, Record, Store},
    wal::{OpenError, Recovery, Report},
};

use self::solo::Solo;

/// This node's replica of the state: propose changes to it, read from its
/// store.
#[derive(Debug)]
pub struct Replica {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    driver: Solo,
}

impl Replica {
    /// A standalone replica that keeps everything in memory only.
    pub fn memory(config: &WalConfig, clock: Arc<dyn Clock>) -> Self {
        let store = Arc::new(Store::new(config.history_bytes));
        let driver = Solo::memory(store.clone());
        Replica {
            store,
            clock,
            driver,
        }
    }

    /// A standalone replica as `config` says: in memory without `wal.path`;
    /// otherwise recovered from the directory (snapshot, then every entry
    /// after it applied through the store), with the log resuming after the
    /// last entry.
    pub fn open(
        config: &WalConfig,
        clock: Arc<dyn Clock>,
        recovery: Recovery,
    ) -> Result<(Self, Report), OpenError> {
        if config.path.is_none() {
            return Ok((Self::memory(config, clock), Report::default()));
        }
        let (driver, store, report) = Solo::open(config, recovery)?;
        let replica = Replica {
            store,
            clock,
            driver,
        };
        Ok((replica, report))
    }

    /// The state this replica applies commands to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The clock commands are stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Proposes `action`, waits until it is committed and applied, and
    /// returns what applying it did (the same on every replica).
    pub async fn propose(&self, action: Action, request_id: Option<String>) -> Outcome {
        let mut command = Command::new(self.clock.now(), seed(), action);
        command.request_id = request_id;
        self.driver.propose(command).await
    }

    /// Applies one operation; returns the record it produced.
    pub async fn write(&self, op: Op) -> Result<Arc<Record>> {
        match self.commit(vec![op]).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(Error::Internal("an operation produced no change".into())),
            Err(failed) => Err(failed.error),
        }
    }

    /// Applies `ops` all or nothing, as one record. An empty batch changes
    /// nothing, is not proposed, and returns `None`.
    pub async fn commit(&self, ops: Vec<Op>) -> Result<Option<Arc<Record>>, Failed> {
        if ops.is_empty() {
            return Ok(None);
        }
        match self.propose(Action::Write(ops), None).await? {
            Applied::Record(record) => Ok(Some(record)),
            Applied::Trimmed { .. } => Err(Failed::at(
                0,
                Error::Internal("a write was applied as a trim".into()),
            )),
        }
    }

    /// TruncateWAL: forgets history entries committed before `before`,
    /// then lets the log compact in the background (one snapshot at a
    /// time, however often this is called).
    pub async fn truncate_history(&self, before: Timestamp) -> Result<()> {
        self.propose(Action::TrimHistory { before }, None)
            .await
            .map_err(|failed| failed.error)?;
        self.driver.compact_soon();
        Ok(())
    }

    /// Snapshots the store and compacts the log now, waiting for it (tests
    /// and benchmarks; the log compacts itself as it grows).
    pub fn compact_now(&self) -> Result<()> {
        self.driver.compact_now()
    }

    /// Writes and syncs everything queued and stops the log; later writes
    /// answer UNAVAILABLE. Called on shutdown.
    pub fn close(&self) {
        self.driver.close();
    }
}

#[cfg(test)]
mod tests;

/// 128 bits from the OS-seeded thread-local generator: the entropy of one
/// command's generated ids and entry UUIDs.
fn seed() -> [u8; 16] {
    let mut seed = [0u8; 16];
    rand::rng().fill_bytes(&mut seed);
    seed
}
