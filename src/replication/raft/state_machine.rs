//! openraft's state machine on the store, and snapshots as files.
//!
//! openraft calls [`StateMachine::apply`] with committed entries, in log
//! order, exactly as the standalone driver does: each command goes to
//! [`Store::apply`], and its [`Outcome`] is what the proposer's
//! `client_write` returns (on the member that proposed it; every other
//! member computes the same outcome and drops it).
//!
//! **Snapshots are files.** A snapshot is built from [`Store::snapshot`]
//! and written with the log's snapshot files (two generations, atomic); the
//! [`SnapshotFile`] handed to openraft is an open handle on that file, so a
//! leader can stream it to a lagging member in chunks without loading it,
//! even if a newer snapshot replaces it meanwhile. A member receiving one
//! writes the chunks to a temporary file and installs it from there; the
//! file then becomes its own newest snapshot.

use std::{
    fs::File,
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use futures_util::{Stream, StreamExt};
use openraft::{
    RaftSnapshotBuilder,
    storage::{EntryResponder, RaftStateMachine, Snapshot},
};
use parking_lot::Mutex;

use crate::{
    replication::raft::{
        log_store::LogStore,
        types::{
            RaftLogId, RaftSnapshot, RaftSnapshotMeta, RaftStoredMembership, TypeConfig,
            encode_membership, log_id, position, stored_membership,
        },
    },
    store::{Applied, Store},
    wal::Wal,
};

/// A snapshot as openraft carries it: an open snapshot file.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    /// Where it was opened (it may have been replaced since).
    pub path: PathBuf,
    /// The open file.
    pub file: Arc<File>,
    /// Its length in bytes.
    pub size: u64,
}

impl SnapshotFile {
    /// Opens the snapshot file at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(SnapshotFile {
            path: path.to_owned(),
            file: Arc::new(file),
            size,
        })
    }
}

type Meta = RaftSnapshotMeta;

/// The newest snapshot and what it covers.
#[derive(Clone, Debug)]
struct Current {
    meta: Meta,
    data: SnapshotFile,
}

/// The store, as openraft's state machine.
#[derive(Clone, Debug)]
pub struct StateMachine {
    store: Arc<Store>,
    wal: Arc<Wal>,
    log: LogStore,
    current: Arc<Mutex<Option<Current>>>,
}

impl StateMachine {
    /// The state machine over `store`, whose snapshots go to `wal`'s
    /// directory; `snapshot` is the file the store was loaded from.
    pub fn new(
        store: Arc<Store>,
        wal: Arc<Wal>,
        log: LogStore,
        snapshot: Option<&Path>,
    ) -> io::Result<Self> {
        let current = match snapshot {
            Some(path) => Some(Current {
                meta: meta_of(&store)?,
                data: SnapshotFile::open(path)?,
            }),
            None => None,
        };
        Ok(StateMachine {
            store,
            wal,
            log,
            current: Arc::new(Mutex::new(current)),
        })
    }

    /// Writes the store's state as the newest snapshot file.
    async fn write_snapshot(&self) -> io::Result<Current> {
        self.log.snapshot_started();
        let (store, wal) = (self.store.clone(), self.wal.clone());
        let (meta, path, oldest_kept) = tokio::task::spawn_blocking(move || {
            let snapshot = store.snapshot();
            let meta = Meta {
                last_log_id: snapshot.applied.map(log_id),
                last_membership: stored_membership(&snapshot.membership)
                    .map_err(io::Error::other)?,
            };
            let index = snapshot.applied.map_or(0, |p| p.index);
            let (_, oldest_kept) = wal
                .write_snapshot(index, &snapshot)
                .map_err(io::Error::other)?;
            let path = wal.snapshot_path(index);
            Ok::<_, io::Error>((meta, path, oldest_kept))
        })
        .await
        .map_err(io::Error::other)??;
        let current = Current {
            meta,
            data: SnapshotFile::open(&path)?,
        };
        *self.current.lock() = Some(current.clone());
        if let Some(oldest) = oldest_kept {
            self.log.snapshot_written(oldest).await?;
        }
        Ok(current)
    }
}

/// The snapshot metadata of the store's current state.
fn meta_of(store: &Store) -> io::Result<Meta> {
    Ok(Meta {
        last_log_id: store.applied().map(log_id),
        last_membership: stored_membership(&store.membership()).map_err(io::Error::other)?,
    })
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<RaftSnapshot, io::Error> {
        let current = self.write_snapshot().await?;
        Ok(Snapshot {
            meta: current.meta,
            snapshot: current.data,
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<RaftLogId>, RaftStoredMembership), io::Error> {
        let applied = self.store.applied().map(log_id);
        let membership = stored_membership(&self.store.membership()).map_err(io::Error::other)?;
        Ok((applied, membership))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + Send,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let at = position(&entry.log_id);
            let outcome = match entry.payload {
                openraft::EntryPayload::Normal(proposal) => self.store.apply(at, &proposal.0),
                openraft::EntryPayload::Blank => {
                    self.store.advance(at, None);
                    Ok(Applied::Noop)
                }
                openraft::EntryPayload::Membership(membership) => {
                    self.store.advance(at, Some(encode_membership(&membership)));
                    Ok(Applied::Noop)
                }
            };
            if let Some(responder) = responder {
                responder.send(outcome);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: SnapshotFile,
    ) -> Result<(), io::Error> {
        let index = meta.last_log_id.map_or(0, |id| id.index);
        self.log.snapshot_started();
        let (store, wal) = (self.store.clone(), self.wal.clone());
        let received = snapshot.path.clone();
        let (path, oldest_kept) = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&received)?;
            let decoded = crate::store::Snapshot::decode(&bytes, store.history_budget())
                .map_err(io::Error::other)?;
            let kept = wal
                .adopt_snapshot(&received, index)
                .map_err(io::Error::other)?;
            store.install(decoded);
            Ok::<_, io::Error>((wal.snapshot_path(index), kept))
        })
        .await
        .map_err(io::Error::other)??;
        *self.current.lock() = Some(Current {
            meta: meta.clone(),
            data: SnapshotFile::open(&path)?,
        });
        if let Some(oldest) = oldest_kept {
            self.log.snapshot_written(oldest).await?;
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<RaftSnapshot>, io::Error> {
        Ok(self.current.lock().clone().map(|c| Snapshot {
            meta: c.meta,
            snapshot: c.data,
        }))
    }
}
