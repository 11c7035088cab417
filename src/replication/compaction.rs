//! Compaction: keeping the log short without stopping writers.
//!
//! A log that only grows makes recovery slower every day. Once the entries
//! appended since the last snapshot pass `wal.snapshot_bytes` (and after a
//! TruncateWAL) the log is compacted, on a thread of its own:
//!
//! ```text
//!  1. roll       the writer closes the current segment and starts a new one
//!                after everything queued so far       ...0001.wal │ ...4711.wal
//!  2. snapshot   Store::snapshot(): a consistent copy of the state after the
//!                last applied entry S (one pass under the read lock;
//!                documents are shared Arcs)
//!  3. write      snapshot-S.snap: temp file, fsync, rename, fsync directory;
//!                generations older than the two newest are deleted
//!  4. purge      segments holding only entries up to the older kept snapshot
//! ```
//!
//! Writers keep going throughout: the roll is a request in the writer's
//! queue, and the snapshot holds the store's *read* lock only while it
//! copies the tree. Entries applied between the roll and the snapshot land
//! in the new segment although the snapshot covers them; recovery applies
//! only entries after the snapshot, so that overlap is harmless. A crash
//! anywhere in these steps leaves a directory that recovers.
//!
//! **One at a time.** A compaction that is running is never joined by a
//! second one: the size trigger fires on every write past the budget, and
//! TruncateWAL may be called in a loop, but both only *start* a compaction
//! when none is running, so a client cannot make the worker write
//! snapshots back to back.
//!
//! **Failures back off.** A snapshot that fails (a full disk, an I/O
//! error) leaves no file behind, is logged with its cause, and is not tried
//! again before a delay that doubles with each failure in a row (1 s up to
//! a minute). Writes go on meanwhile; only the log grows.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::{Condvar, Mutex};

use crate::{
    error::{Error, Result},
    store::Store,
    wal::Wal,
};

/// The first delay after a failed compaction.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest delay between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs compactions of one log, one at a time.
#[derive(Debug)]
pub(crate) struct Compactor {
    store: Arc<Store>,
    wal: Arc<Wal>,
    /// Bytes appended since the last snapshot started; reset by each roll.
    appended: Arc<AtomicU64>,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    running: bool,
    /// Compactions asked for by [`Compactor::run_now`], and finished.
    wanted: u64,
    finished: u64,
    /// The outcome of the last one.
    last: Option<Result<()>>,
    /// Failures in a row, and when the next attempt may start.
    failures: u32,
    retry_at: Option<Instant>,
}

impl Compactor {
    pub(crate) fn new(store: Arc<Store>, wal: Arc<Wal>, appended: Arc<AtomicU64>) -> Self {
        Compactor {
            store,
            wal,
            appended,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// Starts a compaction in the background unless one is running or a
    /// failure's backoff has not passed.
    pub(crate) fn start(self: &Arc<Self>) {
        let mut state = self.state.lock();
        if state.running || state.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.spawn(&mut state);
    }

    /// Runs a compaction that starts after this call and waits for it.
    pub(crate) fn run_now(self: &Arc<Self>) -> Result<()> {
        let mut state = self.state.lock();
        state.wanted += 1;
        let ticket = state.wanted;
        if !state.running {
            self.spawn(&mut state);
        }
        while state.finished < ticket {
            self.changed.wait(&mut state);
        }
        state.last.clone().unwrap_or(Ok(()))
    }

    /// Waits until no compaction is running (shutdown).
    pub(crate) fn wait_idle(&self) {
        let mut state = self.state.lock();
        while state.running {
            self.changed.wait(&mut state);
        }
    }

    fn spawn(self: &Arc<Self>, state: &mut State) {
        state.running = true;
        let compactor = self.clone();
        let spawned = std::thread::Builder::new()
            .name("distgo-compact".into())
            .spawn(move || compactor.run());
        if let Err(err) = spawned {
            state.running = false;
            state.last = Some(Err(Error::Unavailable(format!(
                "cannot start a compaction thread: {err}"
            ))));
            state.finished = state.wanted;
        }
    }

    /// Compacts until every compaction asked for meanwhile is done.
    fn run(&self) {
        loop {
            let ticket = self.state.lock().wanted;
            let result = self.compact();
            let mut state = self.state.lock();
            match &result {
                Ok(()) => {
                    state.failures = 0;
                    state.retry_at = None;
                }
                Err(err) => {
                    state.failures += 1;
                    let delay = backoff(state.failures);
                    state.retry_at = Some(Instant::now() + delay);
                    tracing::error!(
                        retry_in_ms = delay.as_millis() as u64,
                        "compaction failed: {err}"
                    );
                }
            }
            state.last = Some(result);
            state.finished = state.finished.max(ticket);
            if state.wanted > ticket {
                continue;
            }
            state.running = false;
            self.changed.notify_all();
            return;
        }
    }

    fn compact(&self) -> Result<()> {
        let started = Instant::now();
        self.wal.roll()?;
        self.appended.store(0, Ordering::Relaxed);
        let snapshot = self.store.snapshot();
        let Some(applied) = snapshot.applied else {
            return Ok(());
        };
        let (bytes, oldest_kept) = self.wal.write_snapshot(applied.index, &snapshot)?;
        let purged = match oldest_kept {
            Some(index) => self.wal.purge_through(index)?,
            None => 0,
        };
        tracing::info!(
            index = applied.index,
            bytes,
            segments_removed = purged,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wrote a snapshot and compacted the log"
        );
        Ok(())
    }
}

/// The delay after `failures` failures in a row: 1 s, 2 s, 4 s ... 60 s.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
