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
//!
//! ## What one path costs a standalone worker
//!
//! Before this layer the store appended its own records to the log. The
//! standalone worker after the redesign (main at b578a38) against the last
//! worker before it (e9ec160), measured in one run with rounds alternating
//! (`distgo-conformance bench --baseline OLD --addr NEW`, both workers
//! pinned to CPU 0 and the load generator to CPU 1, 64 calls in flight,
//! 1 KiB values, 5 rounds of 4 s, median of the per-round ratios,
//! `testdata/bench/redesign-*.json`, load average 2-4 from builds beside):
//!
//! | workload | before ops/s | after ops/s | after/before | p99 after/before |
//! |---|---:|---:|---:|---:|
//! | CreateDocument, memory | 27,557 | 25,571 | 0.93 | 0.98 |
//! | GetDocument, memory | 32,692 | 33,028 | 1.00 | 1.00 |
//! | CreateDocument, `wal.sync: always` | 15,975 | 15,657 | 0.97 | 0.85 |
//!
//! Within the 10% the redesign was allowed, so a standalone worker drives
//! the same [`Replica::propose`] as a replica set instead of keeping a
//! second write path. (ops/s columns: the median round of each side.)

mod compaction;
pub mod raft;
mod solo;

use std::sync::Arc;

use rand::RngCore;

use crate::{
    clock::{Clock, Timestamp},
    config::Config,
    error::{Error, Result},
    store::{Action, Applied, Command, Failed, Op, Outcome, Record, Store},
    wal::{OpenError, Recovery, Report},
};

use self::{
    raft::{Leader, RaftNode},
    solo::Solo,
};

/// This node's replica of the state: propose changes to it, read from its
/// store.
#[derive(Debug)]
pub struct Replica {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    driver: Driver,
}

/// Which log the replica drives.
#[derive(Debug)]
enum Driver {
    /// A standalone worker's own log (or none, in memory).
    Solo(Solo),
    /// A replica set's Raft log.
    Raft(RaftNode),
}

impl Replica {
    /// A standalone replica that keeps everything in memory only.
    pub fn memory(config: &crate::config::WalConfig, clock: Arc<dyn Clock>) -> Self {
        let store = Arc::new(Store::new(config.history_bytes));
        let driver = Driver::Solo(Solo::memory(store.clone()));
        Replica {
            store,
            clock,
            driver,
        }
    }

    /// The replica `config` describes: a member of a replica set when it
    /// has a `cluster:` section (calling its peers with `credentials`);
    /// otherwise standalone, in memory without
    /// `wal.path` or recovered from the directory (snapshot, then every
    /// entry after it applied through the store).
    pub async fn open(
        config: &Config,
        clock: Arc<dyn Clock>,
        recovery: Recovery,
        credentials: raft::PeerCredentials,
    ) -> Result<(Self, Report), OpenError> {
        let wal = &config.wal;
        if let Some(cluster) = &config.cluster {
            let (node, store, report) =
                RaftNode::open(cluster, wal, recovery, config.grpc.timeout, credentials).await?;
            let driver = Driver::Raft(node);
            return Ok((
                Replica {
                    store,
                    clock,
                    driver,
                },
                report,
            ));
        }
        if wal.path.is_none() {
            return Ok((Self::memory(wal, clock), Report::default()));
        }
        let wal = wal.clone();
        let (solo, store, report) = tokio::task::spawn_blocking(move || Solo::open(&wal, recovery))
            .await
            .map_err(|err| OpenError::Start(err.to_string()))??;
        let replica = Replica {
            store,
            clock,
            driver: Driver::Solo(solo),
        };
        Ok((replica, report))
    }

    /// [`Replica::open`] for a standalone worker, from a thread (tests and
    /// tools that have no runtime).
    pub fn open_standalone(
        config: &crate::config::WalConfig,
        clock: Arc<dyn Clock>,
        recovery: Recovery,
    ) -> Result<(Self, Report), OpenError> {
        if config.path.is_none() {
            return Ok((Self::memory(config, clock), Report::default()));
        }
        let (solo, store, report) = Solo::open(config, recovery)?;
        let replica = Replica {
            store,
            clock,
            driver: Driver::Solo(solo),
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

    /// The write-ahead log, if this replica keeps one.
    pub fn wal(&self) -> Option<&Arc<crate::wal::Wal>> {
        match &self.driver {
            Driver::Solo(solo) => solo.wal(),
            Driver::Raft(node) => Some(node.wal()),
        }
    }

    /// The replica set member, if this replica is one.
    pub fn raft(&self) -> Option<&RaftNode> {
        match &self.driver {
            Driver::Raft(node) => Some(node),
            Driver::Solo(_) => None,
        }
    }

    /// Proposes `action`, waits until it is committed and applied, and
    /// returns what applying it did (the same on every replica).
    pub async fn propose(&self, action: Action, request_id: Option<String>) -> Outcome {
        let mut command = Command::new(self.clock.now(), seed(), action);
        command.request_id = request_id;
        match &self.driver {
            Driver::Solo(solo) => solo.propose(command).await,
            Driver::Raft(node) => node.propose(command).await,
        }
    }

    /// Applies one operation; returns the record it produced. A repeated
    /// `request_id` returns the first outcome instead of applying again.
    pub async fn write(&self, op: Op, request_id: Option<String>) -> Result<Arc<Record>> {
        match self.commit(vec![op], request_id).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(Error::Internal("an operation produced no change".into())),
            Err(failed) => Err(failed.error),
        }
    }

    /// Applies `ops` all or nothing, as one record. An empty batch changes
    /// nothing, is not proposed, and returns `None`.
    pub async fn commit(
        &self,
        ops: Vec<Op>,
        request_id: Option<String>,
    ) -> Result<Option<Arc<Record>>, Failed> {
        if ops.is_empty() {
            return Ok(None);
        }
        match self.propose(Action::Write(ops), request_id).await? {
            Applied::Record(record) => Ok(Some(record)),
            other => Err(Failed::at(
                0,
                Error::Internal(format!("a write was applied as {other:?}")),
            )),
        }
    }

    /// Waits until a linearizable read may be served here: immediately on
    /// a standalone worker, after a ReadIndex round in a replica set.
    pub async fn linearize(&self) -> Result<()> {
        match &self.driver {
            Driver::Solo(_) => Ok(()),
            Driver::Raft(node) => node.linearize().await,
        }
    }

    /// Whether this replica takes writes itself (always, unless it is a
    /// replica set member that does not lead).
    pub fn leads(&self) -> bool {
        match &self.driver {
            Driver::Solo(_) => true,
            Driver::Raft(node) => node.is_leader(),
        }
    }

    /// The leader of this replica's set, when it is another member.
    pub fn leader(&self) -> Option<Leader> {
        match &self.driver {
            Driver::Solo(_) => None,
            Driver::Raft(node) => node.leader(),
        }
    }

    /// TruncateWAL: forgets history entries committed before `before`,
    /// then lets the log compact in the background (one snapshot at a
    /// time, however often this is called).
    pub async fn truncate_history(&self, before: Timestamp) -> Result<()> {
        self.propose(Action::TrimHistory { before }, None)
            .await
            .map_err(|failed| failed.error)?;
        if let Driver::Solo(solo) = &self.driver {
            solo.compact_soon();
        }
        Ok(())
    }

    /// Snapshots the store and compacts the log now, waiting for it (tests
    /// and benchmarks; the log compacts itself as it grows). Standalone only.
    pub fn compact_now(&self) -> Result<()> {
        match &self.driver {
            Driver::Solo(solo) => solo.compact_now(),
            Driver::Raft(_) => Err(Error::FailedPrecondition(
                "a replica set member compacts through its Raft engine".into(),
            )),
        }
    }

    /// Writes and syncs everything queued and stops the log; later writes
    /// answer UNAVAILABLE. Called on shutdown.
    pub async fn close(&self) {
        match &self.driver {
            Driver::Solo(solo) => {
                let solo = solo.clone();
                let _ = tokio::task::spawn_blocking(move || solo.close()).await;
            }
            Driver::Raft(node) => node.shutdown().await,
        }
    }

    /// [`Replica::close`] from a thread (tests and tools without a runtime).
    pub fn close_standalone(&self) {
        if let Driver::Solo(solo) = &self.driver {
            solo.close();
        }
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
