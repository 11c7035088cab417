//! A standalone worker's log: one node, so "committed" means "durable here".
//!
//! ```text
//!  memory only (no wal.path)            with wal.path
//!  ─────────────────────────            ─────────────
//!  lock next index                      lock next index
//!  store.apply(index, command)          wal.append(entry, done) ── queue ──▶ writer thread
//!  unlock, answer                       unlock                               write, fsync
//!                                       await done ◀── store.apply(index, command) ◀┘
//!                                       answer
//! ```
//!
//! The *sequencer* (a mutex around the next index) is held only to number
//! an entry and hand it on, so entries reach the log, and the store, in
//! index order. With a log, the writer thread applies each batch right
//! after it is durable, in order, and wakes the proposers: one fsync and one
//! pass over the store for everything that queued up meanwhile.
//!
//! A consensus engine would do exactly this with a majority in place of the
//! local disk; the store cannot tell the difference.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::{
    config::WalConfig,
    error::{Error, Result},
    replication::compaction::Compactor,
    store::{Applied, Command, Failed, LogPosition, Outcome, Store},
    wal::{LogEntry, OpenError, Payload, Recovery, Report, Wal},
};

/// The standalone driver (cheap to clone: every part is shared).
#[derive(Clone, Debug)]
pub(crate) struct Solo {
    store: Arc<Store>,
    /// The index the next entry gets.
    next: Arc<Mutex<u64>>,
    /// The durable log, if there is one.
    durable: Option<Arc<Durable>>,
}

#[derive(Debug)]
struct Durable {
    wal: Arc<Wal>,
    compactor: Arc<Compactor>,
    /// Bytes appended since the last snapshot started.
    appended: Arc<AtomicU64>,
    /// `wal.snapshot_bytes`.
    snapshot_bytes: u64,
}

impl Solo {
    /// The log, if the driver has one.
    pub(crate) fn wal(&self) -> Option<&Arc<Wal>> {
        self.durable.as_ref().map(|durable| &durable.wal)
    }

    /// A driver without a log: every command is applied as it is proposed.
    pub(crate) fn memory(store: Arc<Store>) -> Self {
        Solo {
            store,
            next: Arc::new(Mutex::new(1)),
            durable: None,
        }
    }

    /// Recovers the store from `config.path` and resumes its log.
    pub(crate) fn open(
        config: &WalConfig,
        recovery: Recovery,
    ) -> Result<(Self, Arc<Store>, Report), OpenError> {
        let (wal, recovered) = Wal::open(config, recovery, config.history_bytes)?;
        let store = Arc::new(Store::new(config.history_bytes));
        if let Some(snapshot) = recovered.snapshot {
            store.install(snapshot);
        }
        let mut next = store.applied().map_or(1, |p| p.index + 1);
        let covered = next - 1;
        for entry in recovered.entries.iter().filter(|e| e.index() > covered) {
            // A replayed entry's outcome was its client's answer before the
            // restart; applying it again only rebuilds the state.
            let _ = apply(&store, entry);
            next = entry.index() + 1;
        }
        let wal = Arc::new(wal);
        let appended = Arc::new(AtomicU64::new(0));
        let compactor = Arc::new(Compactor::new(store.clone(), wal.clone(), appended.clone()));
        let solo = Solo {
            store: store.clone(),
            next: Arc::new(Mutex::new(next)),
            durable: Some(Arc::new(Durable {
                wal,
                compactor,
                appended,
                snapshot_bytes: config.snapshot_bytes,
            })),
        };
        Ok((solo, store, recovered.report))
    }

    /// Appends `command`, waits until it is durable and applied, and
    /// returns its outcome.
    pub(crate) async fn propose(&self, command: Command) -> Outcome {
        let Some(durable) = &self.durable else {
            let mut next = self.next.lock();
            let outcome = self.store.apply(LogPosition::solo(*next), &command);
            *next += 1;
            return outcome;
        };
        let (answer, answered) = oneshot::channel();
        {
            let mut next = self.next.lock();
            let entry = Arc::new(LogEntry {
                position: LogPosition::solo(*next),
                payload: Payload::Command(Arc::new(command)),
            });
            let size = entry.encoded_len() as u64;
            let store = self.store.clone();
            let applied = entry.clone();
            let done = Box::new(move |written: Result<(), crate::wal::Failure>| {
                let outcome = match written {
                    Ok(()) => apply(&store, &applied),
                    Err(why) => Err(Failed::at(0, Error::Unavailable(why.to_string()))),
                };
                let _ = answer.send(outcome);
            });
            durable
                .wal
                .append(vec![entry], done)
                .map_err(|error| Failed::at(0, error))?;
            *next += 1;
            let appended = durable.appended.fetch_add(size, Ordering::Relaxed) + size;
            if appended >= durable.snapshot_bytes {
                durable.compactor.start();
            }
        }
        answered.await.unwrap_or_else(|_| {
            Err(Failed::at(
                0,
                Error::Unavailable(
                    "the write-ahead log stopped before the entry was written".into(),
                ),
            ))
        })
    }

    /// Asks for a snapshot soon (TruncateWAL); a no-op in memory.
    pub(crate) fn compact_soon(&self) {
        if let Some(durable) = &self.durable {
            durable.compactor.start();
        }
    }

    /// Snapshots and compacts now, waiting for it; a no-op in memory.
    pub(crate) fn compact_now(&self) -> Result<()> {
        match &self.durable {
            Some(durable) => durable.compactor.run_now(),
            None => Ok(()),
        }
    }

    /// Stops the log after syncing everything queued.
    pub(crate) fn close(&self) {
        if let Some(durable) = &self.durable {
            durable.compactor.wait_idle();
            durable.wal.close();
        }
    }
}

/// Applies one durable entry to the store.
fn apply(store: &Store, entry: &LogEntry) -> Outcome {
    match &entry.payload {
        Payload::Command(command) => store.apply(entry.position, command),
        Payload::Blank => {
            store.advance(entry.position, None);
            Ok(Applied::Noop)
        }
        Payload::Membership(config) => {
            store.advance(entry.position, Some(config.clone()));
            Ok(Applied::Noop)
        }
    }
}
