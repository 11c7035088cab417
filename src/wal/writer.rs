//! The writer thread: group commit.
//!
//! ```text
//!  proposers                         writer thread                      callbacks, in log order
//!  ─────────                         ─────────────                      ───────────────────────
//!  append(e7, done7) ─┐                                                  done7(Ok) ─▶ apply e7, answer
//!  append(e8, done8) ─┼─▶ queue ─▶ drain e7 e8 e9 ─▶ write(2) ─▶ fsync ─▶ done8(Ok) ─▶ apply e8, answer
//!  append(e9, done9) ─┘                                                  done9(Ok) ─▶ apply e9, answer
//! ```
//!
//! Appending only puts entries on a channel, so no caller ever waits for
//! I/O while holding a lock. The thread takes *everything* queued, encodes
//! it into one buffer, writes it with one `write(2)` and makes it durable
//! with one `fdatasync`, then runs the callbacks of the batch in the order
//! the entries were appended. While one fsync runs, the next batch queues
//! up, so N concurrent writers share one fsync instead of paying for N: the
//! slower the disk, the bigger the batches.
//!
//! What "durable" means when a callback runs depends on `wal.sync`:
//!
//! | policy | callback after | lost on kill -9 | lost on power loss |
//! |---|---|---|---|
//! | `always` | write + fdatasync | nothing | nothing |
//! | `interval` | write(2) | nothing | up to `wal.sync_interval` of writes |
//! | `never` | write(2) | nothing | whatever the OS had not flushed (Linux: ~30 s) |
//!
//! **Poisoning.** If a write or an fsync fails, the thread stops: the
//! callbacks of the failed batch and of everything queued behind it get the
//! error, and later appends are refused. It does not retry: after a failed
//! fsync the kernel may have dropped the dirty pages, so a retry that
//! succeeds proves nothing (the lesson of PostgreSQL's "fsyncgate"). A
//! restart recovers from what is really on disk.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError, Sender},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use crate::{
    config::SyncPolicy,
    metrics::WalMetrics,
    wal::{dir, entry::LogEntry, frame},
};

/// Stop adding to a batch past this many bytes; the rest waits for the next.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// Why the log stopped, as every later caller is told.
pub type Failure = Arc<str>;

/// What runs once appended entries are durable (or the log failed).
pub type Done = Box<dyn FnOnce(Result<(), Failure>) + Send>;

/// How the writer answers a request: a oneshot, so that both a thread
/// (blocking) and a task (awaiting) can wait for the answer.
pub(crate) type Reply = tokio::sync::oneshot::Sender<Result<(), String>>;

/// What the writer thread is asked to do, in order.
pub(crate) enum Request {
    /// Write these entries, then run `done`.
    Append {
        /// The entries, in index order, continuing the log.
        entries: Vec<Arc<LogEntry>>,
        /// Runs when they are durable.
        done: Done,
    },
    /// Start a new segment after everything queued so far; answer when the
    /// new segment exists (compaction then deletes older ones whole).
    Roll(Reply),
    /// Cut the log before entry `from`: it and later entries, written or
    /// queued before this request, are gone, and the next entry is `from`.
    TruncateFrom {
        /// The first entry removed.
        from: u64,
        /// Answered when the cut is durable.
        reply: Reply,
    },
    /// Durably replace the small file `name` (a vote, a purge mark) with
    /// `bytes`, after everything queued before it: writes to the log and
    /// to these files happen in the order they were asked for.
    SaveMeta {
        /// The file's name inside the log directory.
        name: &'static str,
        /// Its new content.
        bytes: Vec<u8>,
        /// Answered when it is durable.
        reply: Reply,
    },
    /// Replace the small file `name` with `bytes` as a *hint* (a commit
    /// mark): written in place after the batch it arrives in has been
    /// written (and, with `wal.sync: always`, synced), never fsynced
    /// itself, and never answered. A crash may lose it or tear it (its
    /// checksum then says so); it never names an entry the log lost,
    /// because it is written after every entry queued before it.
    ///
    /// Nobody waits for it, and that is the point: the Raft engine saves
    /// its commit index before applying every committed batch, and an
    /// answered request would put the engine behind the fsync in flight
    /// (one whole disk sync on the path of every replicated write). Only
    /// the newest hint per name is kept, so a burst of commits costs one
    /// small write per batch.
    NoteMeta {
        /// The file's name inside the log directory.
        name: &'static str,
        /// Its new content.
        bytes: Vec<u8>,
    },
    /// Write and sync everything queued so far, then stop.
    Close(Sender<()>),
}

/// Where each segment of the log starts and how far it was written: the
/// map a truncation needs to find its cut.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    /// `(first index, path, file length after each entry)`, oldest first.
    pub(crate) files: Vec<Segment>,
}

/// One segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Index of its first entry.
    pub(crate) first: u64,
    /// The file.
    pub(crate) path: PathBuf,
    /// The file's length after each of its entries, in order.
    pub(crate) ends: Vec<u64>,
}

impl Segment {
    /// The index after its last entry.
    pub(crate) fn next(&self) -> u64 {
        self.first + self.ends.len() as u64
    }
}

/// The state of the writer thread.
pub(crate) struct Writer {
    pub(crate) dir: PathBuf,
    pub(crate) file: File,
    pub(crate) policy: SyncPolicy,
    pub(crate) interval: Duration,
    pub(crate) dirty: bool,
    pub(crate) synced_at: Instant,
    pub(crate) buf: Vec<u8>,
    /// The file's length without `buf`.
    pub(crate) len: u64,
    /// Callbacks of the entries in `buf`.
    pub(crate) waiting: Vec<Done>,
    /// The log's segments, shared with the log for purging.
    pub(crate) segments: Arc<Mutex<Segments>>,
    pub(crate) poisoned: Arc<AtomicBool>,
    pub(crate) failure: Arc<Mutex<Option<Failure>>>,
    /// Entries, writes and fsyncs so far: entries per fsync is group
    /// commit at work.
    pub(crate) stats: Stats,
    /// `stats.entries` at the last fsync: the next one makes the rest durable.
    pub(crate) synced_entries: u64,
    pub(crate) metrics: WalMetrics,
    /// Hints (`NoteMeta`) to write after the current batch, newest per name.
    pub(crate) noted: Vec<(&'static str, Vec<u8>)>,
}

/// What the writer has done since it started.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Entries written.
    pub entries: u64,
    /// `write(2)` calls.
    pub writes: u64,
    /// `fdatasync` calls.
    pub syncs: u64,
}

impl Writer {
    /// Serves requests until `Close`, a closed channel or an I/O failure.
    pub(crate) fn run(mut self, requests: Receiver<Request>) {
        if let Err(err) = self.serve(&requests) {
            let message = self.poison(&err);
            for done in self.waiting.drain(..) {
                done(Err(message.clone()));
            }
            // Everything still queued fails the same way, in order.
            while let Ok(request) = requests.try_recv() {
                refuse(request, &message);
            }
        }
    }

    /// Marks the log failed for good, once, and returns what every later
    /// caller is told. Called before any caller hears of the failure, so
    /// that whoever learns of it also finds the log refusing appends.
    fn poison(&mut self, err: &std::io::Error) -> Failure {
        if let Some(message) = self.failure.lock().clone() {
            return message;
        }
        let path = self.current_path();
        let message: Failure = format!(
            "write-ahead log failed ({}: {err}); writes are refused until the worker restarts",
            path.display()
        )
        .into();
        tracing::error!("{message}");
        *self.failure.lock() = Some(message.clone());
        self.poisoned.store(true, Ordering::SeqCst);
        message
    }

    /// Answers a request that did I/O: an error poisons the log first.
    fn answer(&mut self, reply: Reply, result: std::io::Result<()>) -> std::io::Result<()> {
        let answer = match &result {
            Ok(()) => Ok(()),
            Err(err) => Err(self.poison(err).to_string()),
        };
        let _ = reply.send(answer);
        result
    }

    fn current_path(&self) -> PathBuf {
        let segments = self.segments.lock();
        segments
            .files
            .last()
            .map_or_else(|| self.dir.clone(), |s| s.path.clone())
    }

    fn serve(&mut self, requests: &Receiver<Request>) -> std::io::Result<()> {
        loop {
            let Some(first) = self.next_request(requests)? else {
                return self.sync();
            };
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Append { entries, done } => self.encode(&entries, done)?,
                    Request::Roll(reply) => {
                        let rolled = self.flush().and_then(|()| self.roll());
                        self.answer(reply, rolled)?;
                    }
                    Request::TruncateFrom { from, reply } => {
                        let cut = self.flush().and_then(|()| self.truncate_from(from));
                        self.answer(reply, cut)?;
                    }
                    Request::SaveMeta { name, bytes, reply } => {
                        let saved = self
                            .flush()
                            .and_then(|()| dir::write_meta(&self.dir, name, &bytes, true));
                        self.answer(reply, saved)?;
                    }
                    Request::NoteMeta { name, bytes } => self.note(name, bytes),
                    Request::Close(reply) => {
                        self.flush()?;
                        self.sync()?;
                        self.write_notes();
                        let Stats {
                            entries,
                            writes,
                            syncs,
                        } = self.stats;
                        tracing::info!(entries, writes, syncs, "closed the write-ahead log");
                        let _ = reply.send(());
                        return Ok(());
                    }
                }
                if self.buf.len() < MAX_BATCH_BYTES {
                    next = requests.try_recv().ok();
                }
            }
            self.flush()?;
            self.write_notes();
        }
    }

    /// Keeps `bytes` as the newest hint for `name`.
    fn note(&mut self, name: &'static str, bytes: Vec<u8>) {
        match self.noted.iter_mut().find(|(noted, _)| *noted == name) {
            Some(slot) => slot.1 = bytes,
            None => self.noted.push((name, bytes)),
        }
    }

    /// Writes the hints noted during the batch just flushed. A hint that
    /// cannot be written is only lost (and said so), not a failure of the
    /// log: its reader treats a missing or torn hint as absent.
    fn write_notes(&mut self) {
        for (name, bytes) in self.noted.drain(..) {
            if let Err(err) = dir::write_meta(&self.dir, name, &bytes, false) {
                tracing::warn!(file = name, %err, "cannot write a hint file of the log; it is only lost");
            }
        }
    }

    /// Waits for the next request; with the `interval` policy, wakes up to
    /// sync when the interval has passed. `None`: every sender is gone.
    fn next_request(&mut self, requests: &Receiver<Request>) -> std::io::Result<Option<Request>> {
        loop {
            if !(self.dirty && self.policy == SyncPolicy::Interval) {
                return Ok(requests.recv().ok());
            }
            let due = self.synced_at + self.interval;
            match requests.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(request) => return Ok(Some(request)),
                Err(RecvTimeoutError::Timeout) => self.sync()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    fn encode(&mut self, entries: &[Arc<LogEntry>], done: Done) -> std::io::Result<()> {
        if let Some(first) = entries.first()
            && let Err(err) = self.continue_at(first.index())
        {
            done(Err(err.to_string().into()));
            return Err(err);
        }
        let mut segments = self.segments.lock();
        let Some(segment) = segments.files.last_mut() else {
            // There is always a current segment; without one nothing can
            // be written, which the caller learns as a failure.
            drop(segments);
            done(Err("the write-ahead log has no segment".into()));
            return Ok(());
        };
        for entry in entries {
            frame::push_frame(&mut self.buf, |buf| entry.encode(buf));
            segment.ends.push(self.len + self.buf.len() as u64);
        }
        self.stats.entries += entries.len() as u64;
        self.metrics.appended(entries.len());
        self.waiting.push(done);
        Ok(())
    }

    /// Makes sure entry `index` can be written next. An empty current
    /// segment named after another index (a log that starts at 0, or after
    /// a snapshot a leader installed) is replaced by one named after it; an
    /// entry that would leave a gap or overlap is refused, because a log
    /// with a hole cannot be recovered.
    fn continue_at(&mut self, index: u64) -> std::io::Result<()> {
        let current = self
            .segments
            .lock()
            .files
            .last()
            .map(|s| (s.ends.is_empty(), s.next(), s.path.clone()));
        let Some((empty, next, path)) = current else {
            return self.start_segment(index);
        };
        if next == index {
            return Ok(());
        }
        if !empty {
            return Err(std::io::Error::other(format!(
                "entry {index} does not continue the log, which ends before {next}"
            )));
        }
        std::fs::remove_file(&path)?;
        self.segments.lock().files.pop();
        self.start_segment(index)
    }

    /// Writes the batch, syncs if the policy says so, and runs its callbacks.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.metrics.written(self.buf.len());
        self.stats.writes += 1;
        self.len += self.buf.len() as u64;
        self.buf.clear();
        self.dirty = true;
        match self.policy {
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval if self.synced_at.elapsed() >= self.interval => self.sync()?,
            SyncPolicy::Interval | SyncPolicy::Never => {}
        }
        for done in self.waiting.drain(..) {
            done(Ok(()));
        }
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if self.dirty {
            let started = Instant::now();
            self.file.sync_data()?;
            let durable = self.stats.entries - self.synced_entries;
            self.metrics.synced(started.elapsed(), durable);
            self.synced_entries = self.stats.entries;
            self.stats.syncs += 1;
            self.dirty = false;
        }
        self.synced_at = Instant::now();
        Ok(())
    }

    /// Closes the current segment (synced, whatever the policy, so that a
    /// later segment never holds entries that an earlier one lost) and
    /// starts the next one. An empty segment is kept rather than rolled.
    fn roll(&mut self) -> std::io::Result<()> {
        let next = {
            let segments = self.segments.lock();
            match segments.files.last() {
                Some(s) if s.ends.is_empty() => return Ok(()),
                Some(s) => s.next(),
                None => return Ok(()),
            }
        };
        self.dirty = true;
        self.sync()?;
        self.start_segment(next)
    }

    fn start_segment(&mut self, first: u64) -> std::io::Result<()> {
        let (file, path) = dir::create_segment(&self.dir, first)?;
        self.file = file;
        self.len = frame::HEADER_LEN as u64;
        self.segments.lock().files.push(Segment {
            first,
            path,
            ends: Vec::new(),
        });
        Ok(())
    }

    /// Removes entry `from` and every later one: later segments are
    /// deleted and the one holding `from` is cut before it; the next entry
    /// goes to a fresh segment at `from`.
    fn truncate_from(&mut self, from: u64) -> std::io::Result<()> {
        let mut doomed = Vec::new();
        let mut cut: Option<(PathBuf, u64)> = None;
        {
            let mut segments = self.segments.lock();
            while let Some(last) = segments.files.last_mut() {
                if last.first >= from {
                    if let Some(s) = segments.files.pop() {
                        doomed.push(s.path);
                    }
                    continue;
                }
                let keep = (from - last.first) as usize;
                if keep < last.ends.len() {
                    last.ends.truncate(keep);
                    let len = last
                        .ends
                        .last()
                        .copied()
                        .unwrap_or(frame::HEADER_LEN as u64);
                    cut = Some((last.path.clone(), len));
                }
                break;
            }
        }
        for path in &doomed {
            std::fs::remove_file(path)?;
        }
        if let Some((path, len)) = &cut {
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(*len)?;
            file.sync_all()?;
        }
        if !doomed.is_empty() || cut.is_some() {
            dir::sync_dir(&self.dir)?;
        }
        // A fresh segment, so nothing is ever appended after a cut.
        self.start_segment(from)
    }
}

/// Answers a request the failed log will never carry out.
fn refuse(request: Request, why: &Failure) {
    match request {
        Request::Append { done, .. } => done(Err(why.clone())),
        Request::Roll(reply)
        | Request::TruncateFrom { reply, .. }
        | Request::SaveMeta { reply, .. } => {
            let _ = reply.send(Err(why.to_string()));
        }
        Request::NoteMeta { .. } => {}
        Request::Close(reply) => {
            let _ = reply.send(());
        }
    }
}
