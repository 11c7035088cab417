//! # Durability: the write-ahead log
//!
//! The state lives in memory ([`crate::store`]); the log is what makes it
//! survive a crash, and what a replica set agrees on. Every change (one
//! request, a cascade delete or a whole transaction) is first a
//! [`LogEntry`] carrying a [`Command`](crate::store::Command): appended
//! here, made durable, and only then applied to the store and answered. So
//! a reader never sees a change that a crash could take back, and after a
//! crash the state is rebuilt from the newest snapshot plus the entries
//! after it, through the same state machine that served requests.
//!
//! ```text
//!  replication (the layer above)         Wal                              disk (wal.path)
//!  ─────────────────────────────         ───                              ───────────────
//!  append([entry], done) ───────────▶ queue ──▶ writer thread ─────────▶ 000…0001.wal   segments:
//!                                               (group commit)           000…4711.wal   entries
//!  done(Ok) ◀── durable ─────────────────────────────┘
//!  → store.apply(entry), answer the client
//!
//!  compaction:  roll() ─▶ store.snapshot() ─▶ write_snapshot() ─▶ snapshot-…4710.snap
//!               purge_through(older snapshot): delete segments no kept snapshot needs
//! ```
//!
//! ## What is acknowledged, and what a crash can lose
//!
//! A writer thread gives concurrent writers one shared fsync (group
//! commit); it never holds a lock that readers need, so a slow disk delays
//! acknowledgements, not reads. `wal.sync` says when an entry counts as
//! durable:
//!
//! | `wal.sync` | applied and acknowledged after | lost on kill -9 | lost on power loss / OS crash |
//! |---|---|---|---|
//! | `always` (default) | write + fdatasync | nothing | nothing |
//! | `interval` | write(2) | nothing | up to `wal.sync_interval` of acknowledged writes |
//! | `never` | write(2) | nothing | whatever the OS had not flushed yet (Linux: up to ~30 s) |
//!
//! ## The files
//!
//! ```text
//! wal.path/
//!   00000000000000000001.wal                segment, named after its first entry's index
//!   00000000000000004711.wal                ┌ magic "DGDB-WAL" │ version ┐
//!   snapshot-00000000000000004710.snap      ├ len │ crc(len) │ crc(payload) │ payload ┤ one entry
//!   vote, committed, purged                 a replica set member's Raft state
//! ```
//!
//! **Snapshots.** When the log written since the last snapshot passes
//! `wal.snapshot_bytes` (and after a TruncateWAL), the state is written to
//! `snapshot-<index>.snap` (temp file, fsync, rename, fsync of the
//! directory), one snapshot at a time, while writers keep going. Two
//! generations are kept, with the log from the older one on, so a damaged
//! newest snapshot costs nothing: recovery sets it aside and starts from the
//! previous one. ListWALEntries lists the newest `wal.history_bytes` of
//! records, kept in the store; TruncateWAL(before) drops only entries older
//! than `before` and never loses state. Entry ids and timestamps are the
//! same before and after a restart, because they were fixed in the command.
//!
//! **Recovery.** At start-up the newest good snapshot is loaded and the
//! entries after it are applied. An entry cut short by a crash at the end of
//! the newest segment is dropped with a warning saying how many bytes went.
//! Damage anywhere else (a bad checksum followed by valid entries, a gap in
//! the log) is corruption: the worker names the file and offset and exits
//! with code 3. `distgo-worker --repair` keeps the valid entries before the
//! damage, deletes the rest and logs what it dropped; it can lose
//! acknowledged writes, which is why it is opt-in, and it decides everything
//! before it changes a file. When every snapshot is damaged and the log no
//! longer reaches back to the start, nothing can rebuild the state: start-up
//! stops and says to restore from a backup. A log written by a worker
//! before 2026-12 (segment format 1, records of results) is not read: export
//! its data with that worker first.
//!
//! **Disk errors.** If a write or an fsync fails, the log stops for good:
//! writes answer UNAVAILABLE, reads keep working (nothing that failed was
//! applied), and a restart recovers from what is on disk. Writes that got
//! UNAVAILABLE have an unknown outcome, as with any UNAVAILABLE or
//! DEADLINE_EXCEEDED.
//!
//! **Proof.** `tests/crash.rs` runs the real binary with eight concurrent
//! writers (documents, cascades, transactions), SIGKILLs it at random
//! moments for 20 rounds under every sync policy, restarts it, and checks
//! that the state is exactly the acknowledged operations (plus, possibly,
//! each writer's one in-flight operation, whole). `CRASH_ROUNDS=200
//! CRASH_SEED=... cargo test --test crash` runs longer or reproduces a
//! failure. `src/replication/tests.rs` damages the files in every way it
//! can (a torn tail at every offset, every flipped byte, a missing segment,
//! a hundred random flips of the newest snapshot) and checks what recovery
//! makes of each. `just bench-wal` measures durable throughput, recovery
//! time and snapshot size.
//!
//! ## How the module is built
//!
//! | file | what it teaches |
//! |---|---|
//! | [`entry`] | the envelope around a command: index, term, kind |
//! | [`frame`] | checksummed frames, and telling a torn tail from corruption |
//! | `dir` | file naming, small durable files, and why directories need fsync too |
//! | `writer` | group commit: one fsync for many writers; sync policies; poisoning |
//! | `snapshot` | writing a large file atomically; two generations |
//! | `recovery` | start-up: newest good snapshot, then the entries after it |
//!
//! **One log for one node and for three.** The log knows nothing of
//! consensus: it appends entries at the positions it is given, calls back
//! once they are durable, cuts a conflicting tail when asked
//! ([`Wal::truncate_from`]) and deletes a prefix a snapshot covers
//! ([`Wal::purge_through`]). A standalone worker drives it directly; in a
//! replica set, the Raft engine drives the same log.

mod dir;
pub mod entry;
mod error;
pub mod frame;
mod recovery;
mod snapshot;
mod writer;

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Sender},
    },
    thread::JoinHandle,
};

use parking_lot::Mutex;

pub use self::{
    entry::{LogEntry, Payload},
    error::OpenError,
    recovery::{Dropped, Recovered, Recovery, Report},
    snapshot::GENERATIONS,
    writer::{Done, Failure, Stats},
};
use self::{
    error::IoContext,
    writer::{Reply, Request, Segments},
};
use crate::{
    error::{Error, Result},
    metrics::WalMetrics,
    store::Snapshot,
};

/// The log files of one node, and the thread that writes them.
pub struct Wal {
    dir: PathBuf,
    requests: Sender<Request>,
    segments: Arc<Mutex<Segments>>,
    poisoned: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<Failure>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Rolling, truncating, purging and closing, one at a time.
    serial: Mutex<()>,
    /// Appends, fsyncs and snapshots, counted for [`crate::metrics`].
    metrics: WalMetrics,
}

impl Wal {
    /// Appends `entries` (continuing the log, in index order) and calls
    /// `done` once they are as durable as `wal.sync` promises, or with the
    /// failure that stopped the log. Only enqueues: never waits for a disk.
    pub fn append(&self, entries: Vec<Arc<LogEntry>>, done: Done) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(self.unavailable());
        }
        self.requests
            .send(Request::Append { entries, done })
            .map_err(|_| Error::Unavailable("the write-ahead log is closed".into()))
    }

    /// Starts a new segment after everything appended so far and waits
    /// until it exists, so that a snapshot taken now lets whole older
    /// segments be deleted. Blocks: for threads, not tasks.
    pub fn roll(&self) -> Result<()> {
        let _serial = self.serial.lock();
        self.ask(Request::Roll, "start a new segment")
    }

    /// [`Wal::roll`] for async callers.
    pub async fn roll_async(&self) -> Result<()> {
        self.ask_async(Request::Roll, "start a new segment").await
    }

    /// Removes entry `from` and every later one (a replica whose
    /// uncommitted tail conflicts with its new leader's log), durably,
    /// before returning; the next entry appended is `from`.
    pub async fn truncate_from(&self, from: u64) -> Result<()> {
        let request = |reply| Request::TruncateFrom { from, reply };
        self.ask_async(request, "cut the log").await
    }

    fn ask(&self, request: impl FnOnce(Reply) -> Request, what: &str) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| self.unavailable())?;
        self.answered(answer.blocking_recv().ok(), what)
    }

    async fn ask_async(&self, request: impl FnOnce(Reply) -> Request, what: &str) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| self.unavailable())?;
        self.answered(answer.await.ok(), what)
    }

    fn answered(&self, answer: Option<std::result::Result<(), String>>, what: &str) -> Result<()> {
        match answer {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(Error::Unavailable(format!(
                "write-ahead log: cannot {what}: {why}"
            ))),
            None => Err(self.unavailable()),
        }
    }

    /// Replaces the small file `name` of the log directory with `bytes`,
    /// in order with the appends queued before it (a consensus engine's
    /// vote must never overtake the entries written before it), fsynced
    /// before returning.
    pub async fn save_meta(&self, name: &'static str, bytes: Vec<u8>) -> Result<()> {
        let request = |reply| Request::SaveMeta { name, bytes, reply };
        self.ask_async(request, "save its state").await
    }

    /// Replaces the small file `name` with `bytes` as a hint a crash may
    /// lose, without waiting: the writer writes it after the entries
    /// queued before it, so it never names an entry the log does not
    /// hold. Returns at once; fails only when the log is closed.
    pub fn note_meta(&self, name: &'static str, bytes: Vec<u8>) -> Result<()> {
        self.requests
            .send(Request::NoteMeta { name, bytes })
            .map_err(|_| self.unavailable())
    }

    /// The small file `name` written by [`Wal::save_meta`], if any.
    pub fn load_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        dir::read_meta(&self.dir, name).running("read", &self.dir.join(name))
    }

    /// Deletes the segments whose entries all come at or before `index`
    /// (never the one being written); returns how many files went.
    pub fn purge_through(&self, index: u64) -> Result<usize> {
        let _serial = self.serial.lock();
        let doomed: Vec<PathBuf> = {
            let mut segments = self.segments.lock();
            let files = &mut segments.files;
            let keep_from = files
                .iter()
                .position(|s| s.next() > index + 1)
                .unwrap_or(files.len())
                .min(files.len().saturating_sub(1));
            files.drain(..keep_from).map(|s| s.path).collect()
        };
        for path in &doomed {
            fs::remove_file(path).running("delete", path)?;
        }
        if !doomed.is_empty() {
            dir::sync_dir(&self.dir).running("sync", &self.dir)?;
        }
        Ok(doomed.len())
    }

    /// Writes `snapshot`, the state after entry `index`, as a snapshot file
    /// (atomically), deletes generations older than the [`GENERATIONS`]
    /// newest, and returns the file's size and the index up to which log
    /// entries are no longer needed by any kept snapshot.
    pub fn write_snapshot(&self, index: u64, snapshot: &Snapshot) -> Result<(u64, Option<u64>)> {
        let started = std::time::Instant::now();
        let (_, size) = snapshot::write(&self.dir, index, snapshot)
            .running("write a snapshot in", &self.dir)?;
        self.metrics.snapshot_written(started.elapsed());
        let oldest_kept =
            snapshot::retain(&self.dir).running("delete old snapshots in", &self.dir)?;
        Ok((size, oldest_kept))
    }

    /// The file of the snapshot of entry `index`.
    pub fn snapshot_path(&self, index: u64) -> PathBuf {
        self.dir.join(dir::snapshot_name(index))
    }

    /// A fresh temporary file name in the log directory for a snapshot
    /// being received (deleted at start-up if it is left behind).
    pub fn incoming_snapshot_path(&self) -> PathBuf {
        let nonce: u64 = rand::random();
        self.dir
            .join(format!("incoming-{nonce:016x}.snap{}", dir::TEMP_SUFFIX))
    }

    /// Makes the received snapshot file at `received` (complete and
    /// fsynced) the snapshot of entry `index`, atomically, then deletes
    /// generations older than the [`GENERATIONS`] newest; returns the index
    /// of the oldest kept, like [`Wal::write_snapshot`].
    pub fn adopt_snapshot(&self, received: &Path, index: u64) -> Result<Option<u64>> {
        let path = self.snapshot_path(index);
        fs::rename(received, &path).running("rename", received)?;
        dir::sync_dir(&self.dir).running("sync", &self.dir)?;
        snapshot::retain(&self.dir).running("delete old snapshots in", &self.dir)
    }

    /// The log directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The log's counters (appends, fsyncs, snapshots).
    pub fn metrics(&self) -> &WalMetrics {
        &self.metrics
    }

    /// Bytes of the segment files, as written so far (from memory: no I/O).
    pub fn log_bytes(&self) -> u64 {
        let segments = self.segments.lock();
        segments
            .files
            .iter()
            .map(|s| s.ends.last().copied().unwrap_or(frame::HEADER_LEN as u64))
            .sum()
    }

    /// Bytes of the newest snapshot file, 0 when there is none (or the
    /// directory cannot be listed: the metrics are no place to fail).
    pub fn newest_snapshot_bytes(&self) -> u64 {
        let newest = dir::list(&self.dir)
            .ok()
            .and_then(|listing| listing.snapshots.into_iter().max_by_key(|s| s.0));
        newest
            .and_then(|(_, path)| fs::metadata(path).ok())
            .map_or(0, |meta| meta.len())
    }

    /// Whether a write or fsync failed, so that the log refuses appends.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Writes and syncs everything queued, then stops the writer thread;
    /// later appends answer UNAVAILABLE. Called on shutdown (and on drop),
    /// so that a test can reopen the directory in the same process.
    pub fn close(&self) {
        let _serial = self.serial.lock();
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        let (done, closed) = mpsc::channel();
        if self.requests.send(Request::Close(done)).is_ok() {
            let _ = closed.recv();
        }
        let _ = thread.join();
    }

    fn unavailable(&self) -> Error {
        let failure = self.failure.lock().clone();
        Error::Unavailable(failure.map_or_else(
            || "the write-ahead log is closed".into(),
            |why| why.to_string(),
        ))
    }
}

/// The segment files of `dir`, oldest first (tests).
#[cfg(test)]
pub(crate) fn list_segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(dir::list(dir)?.segments.into_iter().map(|s| s.1).collect())
}

/// The snapshot files of `dir`, oldest first (tests).
#[cfg(test)]
pub(crate) fn list_snapshots(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(dir::list(dir)?.snapshots.into_iter().map(|s| s.1).collect())
}

#[cfg(test)]
pub(crate) use dir::segment_name;

impl Drop for Wal {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("path", &self.dir)
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
