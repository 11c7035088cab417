//! The writer thread: group commit.
//!
//! ```text
//!  store (write lock held)            writer thread                 waiting clients
//!  ───────────────────────            ─────────────                 ───────────────
//!  append(r7) ─┐                                                    ticket(7).wait()
//!  append(r8) ─┼─▶ queue ─▶ drain r7 r8 r9 ─▶ write(2) ─▶ fsync ─┐   ticket(8).wait()
//!  append(r9) ─┘                                                 │   ticket(9).wait()
//!                                     acked = 9 ◀────────────────┘──▶ all three wake
//! ```
//!
//! Appending only puts a record on a channel, so the store's lock is never
//! held across I/O. The thread takes *everything* queued, encodes it into one
//! buffer, writes it with one `write(2)` and makes it durable with one
//! `fdatasync`, then publishes the highest LSN it covered on a watch channel.
//! While one fsync runs, the next batch queues up, so N concurrent writers
//! share one fsync instead of paying for N: the slower the disk, the bigger
//! the batches.
//!
//! What "acked" means depends on `wal.sync`:
//!
//! | policy | acked after | lost on kill -9 | lost on power loss |
//! |---|---|---|---|
//! | `always` | write + fdatasync | nothing | nothing |
//! | `interval` | write(2) | nothing | up to `wal.sync_interval` of writes |
//! | `never` | write(2) | nothing | whatever the OS had not flushed (Linux: ~30 s) |
//!
//! **Poisoning.** If a write or an fsync fails, the thread stops and
//! publishes the failure: waiting and later writes answer UNAVAILABLE and
//! the worker keeps serving reads. It does not retry: after a failed fsync
//! the kernel may have dropped the dirty pages, so a retry that succeeds
//! proves nothing (the lesson of PostgreSQL's "fsyncgate"). A restart
//! recovers from what is really on disk.

use std::{
    fs::File,
    io::Write,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError, Sender},
    },
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    config::SyncPolicy,
    store::{Lsn, Record},
    wal::{codec, dir, frame},
};

/// Stop adding to a batch past this many bytes; the rest waits for the next.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// What the writer thread is asked to do, in order.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write this record.
    Append(Arc<Record>),
    /// Start a new segment after everything queued so far; answer when the
    /// new segment exists (compaction then deletes the older ones).
    Roll(Sender<Result<(), String>>),
    /// Write and sync everything queued so far, then stop.
    Close(Sender<()>),
}

/// What the writer has done, published to every waiting ticket.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    /// The highest LSN as durable as the sync policy promises.
    pub(crate) acked: Lsn,
    /// Why the log stopped, once it has.
    pub(crate) failed: Option<Arc<str>>,
}

/// The state of the writer thread.
pub(crate) struct Writer {
    pub(crate) dir: PathBuf,
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    /// The first LSN of the current segment.
    pub(crate) segment_first: Lsn,
    pub(crate) policy: SyncPolicy,
    pub(crate) interval: Duration,
    /// The last LSN written to the file.
    pub(crate) written: Lsn,
    /// The last LSN in `buf`, not yet written.
    pub(crate) pending: Lsn,
    pub(crate) dirty: bool,
    pub(crate) synced_at: Instant,
    pub(crate) buf: Vec<u8>,
    pub(crate) progress: watch::Sender<Progress>,
    pub(crate) poisoned: Arc<AtomicBool>,
    /// Records, writes and fsyncs so far: records per fsync is group
    /// commit at work.
    pub(crate) stats: Stats,
}

/// What the writer has done since it started.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) records: u64,
    pub(crate) writes: u64,
    pub(crate) syncs: u64,
}

impl Writer {
    /// Serves commands until `Close`, a closed channel or an I/O failure.
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        if let Err(err) = self.serve(&commands) {
            let message: Arc<str> = format!(
                "write-ahead log failed ({}: {err}); writes are refused until the worker restarts",
                self.path.display()
            )
            .into();
            tracing::error!("{message}");
            self.poisoned.store(true, Ordering::SeqCst);
            self.progress.send_modify(|p| p.failed = Some(message));
        }
    }

    fn serve(&mut self, commands: &Receiver<Command>) -> std::io::Result<()> {
        loop {
            let Some(first) = self.next_command(commands)? else {
                return self.sync();
            };
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(record) => self.encode(&record),
                    Command::Roll(reply) => {
                        let rolled = self.flush().and_then(|()| self.roll());
                        let _ = reply.send(rolled.as_ref().map_err(|e| e.to_string()).copied());
                        rolled?;
                    }
                    Command::Close(reply) => {
                        self.flush()?;
                        self.sync()?;
                        let Stats {
                            records,
                            writes,
                            syncs,
                        } = self.stats;
                        tracing::info!(records, writes, syncs, "closed the write-ahead log");
                        let _ = reply.send(());
                        return Ok(());
                    }
                }
                if self.buf.len() < MAX_BATCH_BYTES {
                    next = commands.try_recv().ok();
                }
            }
            self.flush()?;
        }
    }

    /// Waits for the next command; with the `interval` policy, wakes up to
    /// sync when the interval has passed. `None`: every sender is gone.
    fn next_command(&mut self, commands: &Receiver<Command>) -> std::io::Result<Option<Command>> {
        loop {
            if !(self.dirty && self.policy == SyncPolicy::Interval) {
                return Ok(commands.recv().ok());
            }
            let due = self.synced_at + self.interval;
            match commands.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(command) => return Ok(Some(command)),
                Err(RecvTimeoutError::Timeout) => self.sync()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    fn encode(&mut self, record: &Record) {
        frame::push_frame(&mut self.buf, |buf| codec::encode_record(record, buf));
        self.pending = record.lsn;
        self.stats.records += 1;
    }

    /// Writes the batch, syncs if the policy says so, and wakes its waiters.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.stats.writes += 1;
        self.buf.clear();
        self.written = self.pending;
        self.dirty = true;
        match self.policy {
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval if self.synced_at.elapsed() >= self.interval => self.sync()?,
            SyncPolicy::Interval | SyncPolicy::Never => {}
        }
        let acked = self.written;
        self.progress.send_modify(|p| p.acked = acked);
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.stats.syncs += 1;
            self.dirty = false;
        }
        self.synced_at = Instant::now();
        Ok(())
    }

    /// Closes the current segment (synced, whatever the policy, so that a
    /// later segment never holds records that an earlier one lost) and
    /// starts the next one. An empty segment is kept rather than rolled.
    fn roll(&mut self) -> std::io::Result<()> {
        let next = self.written + 1;
        if next == self.segment_first {
            return Ok(());
        }
        self.dirty = true;
        self.sync()?;
        let (file, path) = dir::create_segment(&self.dir, next)?;
        self.file = file;
        self.path = path;
        self.segment_first = next;
        Ok(())
    }
}
