//! openraft's log storage on the project's own write-ahead log.
//!
//! ```text
//!  openraft                          LogStore                          Wal (segments on disk)
//!  ────────                          ────────                          ──────────────────────
//!  append(entries, callback) ──▶ cache += entries (readable now) ──▶ writer thread: write, fsync
//!                                                                     └─▶ callback.io_completed()
//!  try_get_log_entries(range) ◀── cache (entries not yet purged)
//!  save_vote(vote)           ──▶ "vote" file, durable, in order with the appends before it
//!  save_committed(id)        ──▶ "committed" file, a hint noted to the writer (see below)
//!  truncate_after(id)        ──▶ cache and segments cut after id, durably
//!  purge(id)                 ──▶ cache dropped up to id; "purged" file; whole segments
//!                                deleted up to min(id, the older kept snapshot)
//! ```
//!
//! **The cache.** Replication reads entries back to send them to followers,
//! so every entry that is not purged is kept in memory, in index order, as
//! the same `Arc` the log writes: a read is a clone of pointers. Purging
//! follows snapshots, which bounds the cache by `cluster.snapshot_entries`
//! entries and `wal.snapshot_bytes` bytes.
//!
//! **When to snapshot.** openraft counts entries (`cluster.snapshot_entries`);
//! the log store also counts the bytes appended since the last snapshot
//! started and asks for one once they pass `wal.snapshot_bytes` (64 MiB by
//! default), the budget a standalone worker compacts on. Both matter: a
//! snapshot costs the whole state (every document is encoded and written),
//! so snapshotting every 10,000 small entries of a large store spends more
//! on snapshots than on the writes themselves (measured: a set taking
//! 1 KiB creates at c=64 fell from 9,500 to 4,500 creates/s within 20 s,
//! with 0.3-0.7 s stalls, where the byte budget keeps it steady).
//!
//! **What must be durable, and when.** The vote is fsynced before
//! `save_vote` returns: a member that forgot its vote could vote twice in a
//! term. The appended entries are durable before their callback runs. The
//! committed log id is only a hint: losing it means that after a restart
//! the state machine catches up from the leader instead of from the local
//! log, which is safe, so it is written without an fsync, and nobody waits
//! for it to be written: openraft saves it before applying each committed
//! batch, and waiting for the writer thread there put every replicated
//! write behind the fsync in flight.
//!
//! **Two generations survive purging.** openraft purges the log once a
//! snapshot covers it; the files the *older* kept snapshot needs are kept
//! anyway, so that a damaged newest snapshot can still be replaced by the
//! older one plus the log (see [`crate::wal`]'s snapshot module).

use std::{
    collections::VecDeque,
    fmt::Debug,
    io,
    ops::RangeBounds,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use openraft::{
    LogState, RaftLogReader,
    storage::{IOFlushed, RaftLogStorage},
};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{
    encoding::{Decoder, put_u8, put_u64},
    replication::raft::types::{
        RaftEntry, RaftLogId, RaftVote, TypeConfig, log_id, position, to_log_entry, to_raft_entry,
    },
    store::LogPosition,
    wal::{LogEntry, Wal},
};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";

/// The Raft log of one member.
#[derive(Clone, Debug)]
pub struct LogStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    wal: Arc<Wal>,
    state: Mutex<State>,
    /// Bytes appended since the last snapshot started.
    appended: AtomicU64,
    /// `wal.snapshot_bytes`: past it, `snapshot_due` is notified.
    snapshot_bytes: u64,
    /// Wakes whoever asks openraft for a snapshot.
    snapshot_due: Arc<Notify>,
}

#[derive(Debug)]
struct State {
    /// Entries after `purged`, in index order.
    entries: VecDeque<Arc<LogEntry>>,
    /// The last entry purged (everything up to it is covered by a snapshot).
    purged: Option<LogPosition>,
    vote: Option<RaftVote>,
    /// The newest commit mark saved by this process (the file may lag it:
    /// the writer writes it after the batch in flight).
    committed: Option<RaftLogId>,
    /// The index of the older kept snapshot: segments up to it may go.
    oldest_snapshot: u64,
}

impl LogStore {
    /// The log over `wal`, holding `entries` read back at start-up. The
    /// state machine starts from a snapshot at `snapshot` (if any), which
    /// bounds what counts as purged when the newer snapshot was damaged.
    /// Once `snapshot_bytes` have been appended since the last snapshot,
    /// [`LogStore::snapshot_due`] is notified.
    pub async fn open(
        wal: Arc<Wal>,
        entries: Vec<LogEntry>,
        snapshot: Option<LogPosition>,
        snapshot_bytes: u64,
    ) -> io::Result<Self> {
        let vote = load(&wal, VOTE)?.map(|b| decode_vote(&b)).transpose()?;
        let mut purged = load(&wal, PURGED)?
            .map(|b| decode_position(&b))
            .transpose()?;
        // After falling back to an older snapshot, the entries after it are
        // still on disk (they were kept for exactly this) and must be read.
        if let (Some(p), Some(s)) = (purged, snapshot)
            && s.index < p.index
        {
            purged = Some(s);
        }
        let after = purged.map_or(0, |p| p.index + 1);
        let entries: VecDeque<Arc<LogEntry>> = entries
            .into_iter()
            .filter(|e| e.index() >= after)
            .map(Arc::new)
            .collect();
        Ok(LogStore {
            inner: Arc::new(Inner {
                wal,
                state: Mutex::new(State {
                    entries,
                    purged,
                    vote,
                    committed: None,
                    oldest_snapshot: 0,
                }),
                appended: AtomicU64::new(0),
                snapshot_bytes,
                snapshot_due: Arc::new(Notify::new()),
            }),
        })
    }

    /// Notified whenever an append leaves more than `wal.snapshot_bytes`
    /// appended since the last snapshot started.
    pub fn snapshot_due(&self) -> Arc<Notify> {
        self.inner.snapshot_due.clone()
    }

    /// A snapshot (built here or received) starts: the byte count restarts.
    pub fn snapshot_started(&self) {
        self.inner.appended.store(0, Ordering::Relaxed);
    }

    /// The committed log id saved by the last `save_committed`, if any:
    /// this process's newest, else the mark a previous one left.
    fn committed(&self) -> io::Result<Option<RaftLogId>> {
        if let Some(committed) = self.inner.state.lock().committed {
            return Ok(Some(committed));
        }
        let position = load(&self.inner.wal, COMMITTED)
            .ok()
            .flatten()
            .map(|b| decode_position(&b))
            .transpose();
        // A torn or missing commit mark is only a lost hint.
        Ok(position.ok().flatten().map(log_id))
    }

    /// Tells the log the index of the older kept snapshot: log segments up
    /// to it (and purged) are deleted.
    pub async fn snapshot_written(&self, oldest_kept: u64) -> io::Result<()> {
        let through = {
            let mut state = self.inner.state.lock();
            state.oldest_snapshot = state.oldest_snapshot.max(oldest_kept);
            state.purged.map(|p| p.index.min(state.oldest_snapshot))
        };
        if let Some(index) = through {
            let wal = self.inner.wal.clone();
            tokio::task::spawn_blocking(move || wal.purge_through(index))
                .await
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
        }
        Ok(())
    }
}

fn load(wal: &Wal, name: &str) -> io::Result<Option<Vec<u8>>> {
    wal.load_meta(name).map_err(io::Error::other)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, io::Error> {
        let state = self.inner.state.lock();
        let Some(first) = state.entries.front().map(|e| e.index()) else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        for entry in state.entries.range(start_offset(&range, first)..) {
            if !range.contains(&entry.index()) {
                break;
            }
            entries.push(to_raft_entry(entry).map_err(io::Error::other)?);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> Result<Option<RaftVote>, io::Error> {
        Ok(self.inner.state.lock().vote)
    }
}

/// Where in a cache starting at `first` the entries of `range` start.
fn start_offset(range: &impl RangeBounds<u64>, first: u64) -> usize {
    let start = match range.start_bound() {
        std::ops::Bound::Included(&i) => i,
        std::ops::Bound::Excluded(&i) => i.saturating_add(1),
        std::ops::Bound::Unbounded => first,
    };
    usize::try_from(start.saturating_sub(first)).unwrap_or(usize::MAX)
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let state = self.inner.state.lock();
        let last_purged_log_id = state.purged.map(log_id);
        let last_log_id = state
            .entries
            .back()
            .map(|e| log_id(e.position))
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &RaftVote) -> Result<(), io::Error> {
        self.inner
            .wal
            .save_meta(VOTE, encode_vote(vote))
            .await
            .map_err(io::Error::other)?;
        self.inner.state.lock().vote = Some(*vote);
        Ok(())
    }

    /// Notes the commit mark without waiting for the disk: openraft calls
    /// this before applying every committed batch, so an fsync (or a place
    /// in the writer's queue behind one) here would stall every replicated
    /// write. The mark is a hint (a restart without it re-applies only up
    /// to the snapshot and catches up from the leader), and the writer
    /// writes it after the entries queued before it, so a mark read back
    /// at start-up never names an entry the log lost.
    async fn save_committed(&mut self, committed: Option<RaftLogId>) -> Result<(), io::Error> {
        if let Some(committed) = committed {
            self.inner.state.lock().committed = Some(committed);
            let bytes = encode_position(position(&committed));
            self.inner
                .wal
                .note_meta(COMMITTED, bytes)
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<RaftLogId>, io::Error> {
        self.committed()
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = RaftEntry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Arc<LogEntry>> = entries
            .into_iter()
            .map(|e| Arc::new(to_log_entry(&e)))
            .collect();
        if entries.is_empty() {
            callback.io_completed(Ok(()));
            return Ok(());
        }
        let bytes: u64 = entries.iter().map(|e| e.encoded_len() as u64).sum();
        let appended = self.inner.appended.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if appended >= self.inner.snapshot_bytes {
            self.inner.snapshot_due.notify_one();
        }
        // Readable as soon as append returns; durable when the callback runs.
        self.inner
            .state
            .lock()
            .entries
            .extend(entries.iter().cloned());
        let done = Box::new(move |written: Result<(), crate::wal::Failure>| {
            callback.io_completed(written.map_err(|why| io::Error::other(why.to_string())));
        });
        self.inner
            .wal
            .append(entries, done)
            .map_err(io::Error::other)
    }

    async fn truncate_after(&mut self, last_log_id: Option<RaftLogId>) -> Result<(), io::Error> {
        let keep_through = last_log_id.map(|id| id.index);
        {
            let mut state = self.inner.state.lock();
            let keep = |e: &Arc<LogEntry>| keep_through.is_some_and(|k| e.index() <= k);
            while state.entries.back().is_some_and(|e| !keep(e)) {
                state.entries.pop_back();
            }
        }
        // `None`: the whole log goes.
        let from = keep_through.map_or(0, |k| k + 1);
        self.inner
            .wal
            .truncate_from(from)
            .await
            .map_err(io::Error::other)
    }

    async fn purge(&mut self, log_id: RaftLogId) -> Result<(), io::Error> {
        let purged = position(&log_id);
        let (past_the_end, through) = {
            let mut state = self.inner.state.lock();
            while state
                .entries
                .front()
                .is_some_and(|e| e.index() <= purged.index)
            {
                state.entries.pop_front();
            }
            state.purged = Some(purged);
            (
                state.entries.is_empty(),
                purged.index.min(state.oldest_snapshot),
            )
        };
        let wal = &self.inner.wal;
        wal.save_meta(PURGED, encode_position(purged))
            .await
            .map_err(io::Error::other)?;
        if past_the_end {
            // A snapshot covers the whole log: the next entry comes after
            // it, in a segment of its own.
            wal.roll_async().await.map_err(io::Error::other)?;
        }
        let wal = wal.clone();
        tokio::task::spawn_blocking(move || wal.purge_through(through))
            .await
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        Ok(())
    }
}

fn encode_position(p: LogPosition) -> Vec<u8> {
    let mut buf = Vec::with_capacity(24);
    put_u64(&mut buf, p.term);
    put_u64(&mut buf, p.node);
    put_u64(&mut buf, p.index);
    buf
}

fn decode_position(bytes: &[u8]) -> io::Result<LogPosition> {
    let mut d = Decoder::new(bytes);
    let position = LogPosition {
        term: d.u64().map_err(io::Error::other)?,
        node: d.u64().map_err(io::Error::other)?,
        index: d.u64().map_err(io::Error::other)?,
    };
    d.finish().map_err(io::Error::other)?;
    Ok(position)
}

fn encode_vote(vote: &RaftVote) -> Vec<u8> {
    let mut buf = Vec::with_capacity(17);
    put_u64(&mut buf, vote.leader_id.term);
    put_u64(&mut buf, vote.leader_id.node_id);
    put_u8(&mut buf, u8::from(vote.committed));
    buf
}

fn decode_vote(bytes: &[u8]) -> io::Result<RaftVote> {
    let mut d = Decoder::new(bytes);
    let term = d.u64().map_err(io::Error::other)?;
    let node = d.u64().map_err(io::Error::other)?;
    let committed = d.u8().map_err(io::Error::other)? == 1;
    d.finish().map_err(io::Error::other)?;
    Ok(if committed {
        RaftVote::new_committed(term, node)
    } else {
        RaftVote::new(term, node)
    })
}
