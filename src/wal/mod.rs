//! The write-ahead log: how an acknowledged write survives a crash.
//!
//! The state lives in memory ([`crate::store`]); the log is what makes it
//! durable. Every commit becomes one [`Record`] that is appended here, in
//! commit order, before the client hears "OK". After a crash the state is
//! rebuilt from the newest snapshot plus the records after it.
//!
//! ```text
//!  Store::commit                    Wal                          disk (wal.path)
//!  ─────────────                    ───                          ───────────────
//!  write lock ── append(record) ──▶ retained log (memory) ─────▶ ListWALEntries
//!             │                     queue ──▶ writer thread ───▶ 000…0001.wal   segments:
//!  unlock     │                               (group commit)     000…4711.wal   records
//!  ticket.wait() ◀────────── acked LSN ◀──────┘
//!  acknowledge                      compaction (past snapshot_bytes, TruncateWAL):
//!                                     roll segment ─▶ Store::snapshot() ─▶ snapshot-…4710.snap
//!                                     delete covered segments, drop covered retained records
//! ```
//!
//! | file | what it teaches |
//! |---|---|
//! | [`codec`] | a hand-written binary record format, and decoding that never trusts its input |
//! | [`frame`] | checksummed frames, and telling a torn tail from corruption |
//! | `dir` | file naming, and why directories need fsync too |
//! | `writer` | group commit: one fsync for many writers; sync policies; poisoning |
//! | `snapshot` | writing a large file atomically (temp, fsync, rename, fsync dir) |
//! | `compact` | snapshots and compaction without stopping writers |
//! | `recovery` | start-up: newest snapshot, then the records after it |
//! | `retained` / `list` | the in-memory log behind ListWALEntries |
//!
//! **Two rules keep the store fast.** [`Wal::append`] runs under the store's
//! write lock, so it only pushes an `Arc` onto a queue and the retained log:
//! no I/O, no encoding. And nothing that readers need is held across an
//! fsync: the writer thread owns the file, and clients wait on a watch
//! channel ([`Ticket::wait`]) after the store's lock is released.
//!
//! **Memory-only mode** (no `wal.path`) keeps the same retained log, so the
//! WAL service behaves the same; tickets are ready at once and nothing
//! survives a restart.
//!
//! **Poisoning.** A failed write or fsync stops the log for good: every
//! later write answers UNAVAILABLE, reads keep working, and the operator
//! restarts the worker, which recovers from what is on disk. Records whose
//! clients were told UNAVAILABLE may still be visible until then (they were
//! applied in memory before the disk failed) and may or may not be on disk:
//! as with any UNAVAILABLE or DEADLINE_EXCEEDED, their outcome is unknown.

pub mod codec;
mod compact;
mod dir;
mod error;
pub mod frame;
mod list;
mod recovery;
mod retained;
mod snapshot;
mod writer;

use std::{
    fmt,
    path::PathBuf,
    sync::{
        Arc, OnceLock, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, Sender},
    },
    thread::JoinHandle,
};

use parking_lot::Mutex;
use tokio::sync::watch;

pub use self::{
    error::OpenError,
    list::{Entity, Filter, Listed, Position, WalPage},
    recovery::{Dropped, Recovery, Report, open_store},
    snapshot::SnapshotFile,
};
use self::{
    retained::Retained,
    writer::{Command, Progress},
};
use crate::{
    config::DEFAULT_SNAPSHOT_BYTES,
    error::{Error, Result},
    store::{Lsn, Record, Store},
};

/// Where committed records go.
pub struct Wal {
    retained: Mutex<Retained>,
    /// `wal.snapshot_bytes`: compaction starts when the log grows past it.
    budget: u64,
    /// Retained bytes at which the next compaction starts.
    compact_at: AtomicU64,
    /// Whether a background compaction is running.
    compacting: AtomicBool,
    /// The files, in file mode.
    durable: Option<Durable>,
    /// Compaction, truncation and closing, one at a time.
    serial: Mutex<()>,
    /// The store this log belongs to; compaction snapshots it.
    store: OnceLock<Weak<Store>>,
}

/// The file side of the log.
struct Durable {
    dir: PathBuf,
    commands: Sender<Command>,
    progress: watch::Receiver<Progress>,
    poisoned: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A promise that one appended record will become durable.
#[derive(Debug)]
#[must_use = "a write is acknowledged only after its ticket is waited on"]
pub struct Ticket(Option<(Lsn, watch::Receiver<Progress>)>);

impl Wal {
    /// A log that keeps records in memory only, with the default budget.
    pub fn memory() -> Self {
        Self::memory_with_budget(DEFAULT_SNAPSHOT_BYTES)
    }

    /// A memory-only log that retains at most about `budget` bytes.
    pub fn memory_with_budget(budget: u64) -> Self {
        Self::new(Retained::new(1, 1), budget, None)
    }

    fn new(retained: Retained, budget: u64, durable: Option<Durable>) -> Self {
        Wal {
            retained: Mutex::new(retained),
            budget,
            compact_at: AtomicU64::new(budget),
            compacting: AtomicBool::new(false),
            durable,
            serial: Mutex::new(()),
            store: OnceLock::new(),
        }
    }

    /// Appends `record`. Called with the store's write lock held, so it must
    /// only enqueue, never wait for a disk.
    pub fn append(&self, record: &Arc<Record>) -> Result<Ticket> {
        let ticket = match &self.durable {
            None => Ticket(None),
            Some(durable) => durable.enqueue(record)?,
        };
        let size = (frame::FRAME_HEADER_LEN + codec::record_len(record)) as u64;
        let mut retained = self.retained.lock();
        retained.push(record.clone(), size);
        if retained.bytes() >= self.compact_at.load(Ordering::Relaxed) {
            match self.durable {
                None => self.compact_in_memory(&mut retained),
                Some(_) => self.start_compaction(),
            }
        }
        Ok(ticket)
    }

    /// Memory-only compaction: forget everything retained. The records are
    /// freed on another thread; this runs under the store's lock.
    fn compact_in_memory(&self, retained: &mut Retained) {
        let dropped = retained.drop_before(retained.next_lsn());
        let freed = std::thread::Builder::new()
            .name("distgo-wal-free".into())
            .spawn(move || drop(dropped));
        drop(freed);
    }

    /// Starts a background compaction unless one is running.
    fn start_compaction(&self) {
        if self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.store.get().cloned();
        let spawned = std::thread::Builder::new()
            .name("distgo-wal-compact".into())
            .spawn(move || {
                if let Some(store) = store.and_then(|weak| weak.upgrade()) {
                    let wal = store.wal();
                    let result = wal.compact(&store);
                    wal.compaction_finished(result.is_ok());
                }
            });
        if spawned.is_err() {
            self.compaction_finished(false);
        }
    }

    /// Re-arms the trigger: after a failure, try again one budget later
    /// rather than on every write; after a success, go again at once if
    /// the writes that came in meanwhile already fill the budget.
    fn compaction_finished(&self, succeeded: bool) {
        let bytes = self.retained.lock().bytes();
        let next = if succeeded {
            self.budget
        } else {
            bytes.saturating_add(self.budget)
        };
        self.compact_at.store(next, Ordering::Relaxed);
        self.compacting.store(false, Ordering::Release);
        if bytes >= next {
            self.start_compaction();
        }
    }

    /// Lets compaction reach the store that owns this log.
    pub(crate) fn attach(&self, store: &Arc<Store>) {
        let _ = self.store.set(Arc::downgrade(store));
    }

    /// The log directory, in file mode.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.durable.as_ref().map(|d| d.dir.as_path())
    }

    /// Number of records the WAL service can list.
    pub fn retained_records(&self) -> usize {
        self.retained.lock().len()
    }

    /// Bytes of the records the WAL service can list.
    pub fn retained_bytes(&self) -> u64 {
        self.retained.lock().bytes()
    }

    /// Writes and syncs everything queued, then stops the writer thread;
    /// later writes answer UNAVAILABLE. Waits for a running compaction.
    /// Called on shutdown (and on drop), so a test can reopen the directory.
    pub fn close(&self) {
        let _serial = self.serial.lock();
        let Some(durable) = &self.durable else {
            return;
        };
        let Some(thread) = durable.thread.lock().take() else {
            return;
        };
        let (done, closed) = mpsc::channel();
        if durable.commands.send(Command::Close(done)).is_ok() {
            let _ = closed.recv();
        }
        let _ = thread.join();
    }
}

impl Durable {
    fn enqueue(&self, record: &Arc<Record>) -> Result<Ticket> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(self.failure());
        }
        self.commands
            .send(Command::Append(record.clone()))
            .map_err(|_| Error::Unavailable("the write-ahead log is closed".into()))?;
        Ok(Ticket(Some((record.lsn, self.progress.clone()))))
    }

    fn failure(&self) -> Error {
        let failed = self.progress.borrow().failed.clone();
        Error::Unavailable(
            failed.map_or_else(|| "the write-ahead log failed".into(), |m| m.to_string()),
        )
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("path", &self.path())
            .field("retained_records", &self.retained_records())
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// Waits until the record is as durable as the log's sync policy
    /// promises; UNAVAILABLE if the log failed or closed first.
    pub async fn wait(self) -> Result<()> {
        let Some((lsn, mut progress)) = self.0 else {
            return Ok(());
        };
        let seen = progress
            .wait_for(|p| p.acked >= lsn || p.failed.is_some())
            .await
            .map(|p| p.clone());
        // A closed channel means the writer stopped: its last word stands.
        let seen = seen.unwrap_or_else(|_| progress.borrow().clone());
        if seen.acked >= lsn {
            return Ok(());
        }
        let why = seen.failed.map_or_else(
            || "the write-ahead log closed before the record was written".into(),
            |m| m.to_string(),
        );
        Err(Error::Unavailable(why))
    }
}

#[cfg(test)]
mod tests;
