//! Snapshots and compaction: keeping the log short without stopping writers.
//!
//! A log that only grows makes recovery slower every day. Once the retained
//! records pass `wal.snapshot_bytes` (and on every TruncateWAL) the log is
//! compacted:
//!
//! ```text
//!  1. roll        the writer closes the current segment and starts a new one
//!                 after everything queued so far       ...0001.wal │ ...4711.wal
//!  2. snapshot    Store::snapshot(): a consistent copy of the tree at LSN S ≥ 4710
//!                 (one pass under the read lock; documents are shared Arcs)
//!  3. write       snapshot-S.snap: temp file, fsync, rename, fsync directory
//!  4. forget      drop retained records before the new first_retained
//!  5. delete      segments whose records all precede min(first_retained, S+1),
//!                 and older snapshots
//! ```
//!
//! Writers keep committing throughout: the roll is just a command in the
//! writer's queue, and the snapshot holds the store's *read* lock only while
//! it copies the tree. Records committed between the roll and the snapshot
//! land in the new segment although the snapshot covers them; recovery
//! skips records at or below the snapshot's LSN, so that overlap is harmless.
//! A crash anywhere in these steps leaves a directory that recovers: before
//! step 3's rename the old snapshot and all segments are intact; after it the
//! new snapshot is complete, and leftover segments are deleted at start-up.
//!
//! **What ListWALEntries keeps.** Compaction for size forgets every retained
//! record the snapshot covers. TruncateWAL(before) forgets only the records
//! committed before `before`; the ones it keeps stay in their segments (which
//! therefore are not deleted) and their first LSN is written into the
//! snapshot, so a restart lists exactly the same entries.

use std::time::Instant;

use crate::{
    clock::Timestamp,
    error::{Error, Result},
    store::{Lsn, Store},
    wal::{
        Durable, Wal, dir,
        error::IoContext,
        snapshot::{self, SnapshotFile},
        writer::Command,
    },
};

/// How far a compaction forgets.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Everything the snapshot covers (the log grew past its budget).
    Covered,
    /// Entries committed before this time (TruncateWAL).
    Before(Timestamp),
}

impl Wal {
    /// Compacts now: in file mode writes a snapshot and deletes the segments
    /// it covers; in both modes forgets the retained records it covers.
    pub fn compact(&self, store: &Store) -> Result<()> {
        self.cut(store, Cut::Covered)
    }

    /// TruncateWAL: forgets entries committed before `before`, after
    /// writing a snapshot (file mode) so that the state they made survives.
    pub fn truncate(&self, store: &Store, before: Timestamp) -> Result<()> {
        self.cut(store, Cut::Before(before))
    }

    fn cut(&self, store: &Store, cut: Cut) -> Result<()> {
        let _serial = self.serial.lock();
        let Some(durable) = &self.durable else {
            let first = {
                let retained = self.retained.lock();
                match cut {
                    Cut::Covered => retained.next_lsn(),
                    Cut::Before(time) => retained.first_at_or_after(time),
                }
            };
            self.forget_before(first);
            return Ok(());
        };
        let started = Instant::now();
        durable.roll()?;
        let snapshot = store.snapshot();
        let covered = snapshot.lsn;
        let first_retained = {
            let retained = self.retained.lock();
            let first = match cut {
                Cut::Covered => covered + 1,
                Cut::Before(time) => retained.first_at_or_after(time),
            };
            first.max(retained.first_retained())
        };
        let file = SnapshotFile {
            snapshot,
            first_retained,
        };
        let (path, bytes) =
            snapshot::write(&durable.dir, &file).running("write snapshot in", &durable.dir)?;
        self.forget_before(first_retained);
        let removed = dir::remove_covered(&durable.dir, first_retained.min(covered + 1), covered)
            .running("delete old segments in", &durable.dir)?;
        tracing::info!(
            snapshot = %path.display(),
            lsn = covered,
            bytes,
            first_retained,
            files_removed = removed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wrote a snapshot and compacted the log"
        );
        Ok(())
    }

    /// Drops retained records before `lsn`, freeing them outside the lock.
    fn forget_before(&self, lsn: Lsn) {
        let dropped = self.retained.lock().drop_before(lsn);
        drop(dropped);
    }
}

impl Durable {
    /// Asks the writer to start a new segment and waits until it has.
    fn roll(&self) -> Result<()> {
        let (reply, rolled) = std::sync::mpsc::channel();
        let closed = || Error::Unavailable("the write-ahead log is closed".into());
        self.commands
            .send(Command::Roll(reply))
            .map_err(|_| closed())?;
        match rolled.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(Error::Unavailable(format!(
                "write-ahead log: cannot start a new segment: {why}"
            ))),
            Err(_) => Err(self.failure_or(closed())),
        }
    }

    fn failure_or(&self, otherwise: Error) -> Error {
        if self.poisoned.load(std::sync::atomic::Ordering::Acquire) {
            self.failure()
        } else {
            otherwise
        }
    }
}
