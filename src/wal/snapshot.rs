//! Snapshot files: the whole state at one LSN, written atomically.
//!
//! ```text
//! snapshot-00000000000000004710.snap
//! ┌───────────────────┬─────────────┐
//! │ magic "DGDBSNAP"  │ version u32 │
//! ├─────────┬─────────┴───────┬─────┴──────────────┐
//! │ lsn u64 │ last commit i64 │ first retained u64 │   what the snapshot covers
//! ├─────────┴────┬────────────┴──┬───────────┬─────┘
//! │ databases u32│ database 1    │ ...       │
//! ├──────────────┴───────────────┴───────────┤
//! │ CRC-32C u32 of every byte before it       │
//! └───────────────────────────────────────────┘
//!
//! database   = id, row, collections u32, collection*
//! collection = id, row, documents u32, document*
//! document   = id, row
//! row        = text, created i64, updated i64        (strings: u32 length + UTF-8)
//! ```
//!
//! The tree is written in id order, so loading builds each map from sorted
//! input. `first retained` is where ListWALEntries starts after a restart:
//! TruncateWAL moves it, and it must survive the restart with the state.
//!
//! **Atomic replacement.** A snapshot is written to `*.snap.tmp`, fsynced,
//! renamed to `*.snap`, and the directory fsynced. A crash at any point
//! leaves either the old snapshot or the new one, never half of one: the
//! rename is the commit point, and a leftover `.tmp` is deleted at start-up.
//! The CRC at the end still guards against the disk changing the bytes
//! later. The file is written in 1 MiB chunks, so a snapshot of millions of
//! documents never needs a second copy of itself in memory.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    names::IdKind,
    store::{CollectionNode, DatabaseNode, Key, Lsn, Snapshot, Tree},
    wal::{
        codec::{
            DecodeError, Decoder, coll_row, db_row, doc_row, put_row, put_str, put_time, put_u32,
            put_u64, row_parts_coll, row_parts_db, row_parts_doc,
        },
        dir::{TEMP_SUFFIX, snapshot_name, sync_dir},
        error::OpenError,
    },
};

const MAGIC: &[u8; 8] = b"DGDBSNAP";
const VERSION: u32 = 1;
const CHUNK: usize = 1 << 20;
/// The fewest bytes an item of a tree level can take: id length, row.
const MIN_ITEM: usize = 4 + 4 + 16;

/// A snapshot as stored: the state, and where the retained log starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    /// The state after `snapshot.lsn`.
    pub snapshot: Snapshot,
    /// The oldest LSN ListWALEntries may list.
    pub first_retained: Lsn,
}

/// Writes `file` into `dir` atomically; returns its path and size.
pub(crate) fn write(dir: &Path, file: &SnapshotFile) -> io::Result<(PathBuf, u64)> {
    let name = snapshot_name(file.snapshot.lsn);
    let path = dir.join(&name);
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let mut sink = Sink {
        file: File::create(&temp)?,
        buf: Vec::with_capacity(CHUNK + 64 * 1024),
        crc: 0,
        written: 0,
    };
    encode(file, &mut sink)?;
    let size = sink.finish()?;
    fs::rename(&temp, &path)?;
    sync_dir(dir)?;
    Ok((path, size))
}

/// Bytes on their way to the file, with the running checksum.
struct Sink {
    file: File,
    buf: Vec<u8>,
    crc: u32,
    written: u64,
}

impl Sink {
    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.file.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes the rest and the checksum, and fsyncs.
    fn finish(mut self) -> io::Result<u64> {
        self.flush()?;
        self.file.write_all(&self.crc.to_le_bytes())?;
        self.file.sync_all()?;
        Ok(self.written + 4)
    }
}

fn encode(file: &SnapshotFile, sink: &mut Sink) -> io::Result<()> {
    let snapshot = &file.snapshot;
    sink.buf.extend_from_slice(MAGIC);
    put_u32(&mut sink.buf, VERSION);
    put_u64(&mut sink.buf, snapshot.lsn);
    put_time(&mut sink.buf, snapshot.last_commit);
    put_u64(&mut sink.buf, file.first_retained);
    let databases = snapshot.tree.databases();
    put_u32(&mut sink.buf, databases.len() as u32);
    for (id, db) in databases {
        put_str(&mut sink.buf, id);
        put_row(&mut sink.buf, row_parts_db(&db.row));
        put_u32(&mut sink.buf, db.collections.len() as u32);
        for (id, coll) in &db.collections {
            put_str(&mut sink.buf, id);
            put_row(&mut sink.buf, row_parts_coll(&coll.row));
            put_u32(&mut sink.buf, coll.documents.len() as u32);
            for (id, doc) in &coll.documents {
                put_str(&mut sink.buf, id);
                put_row(&mut sink.buf, row_parts_doc(doc));
                sink.flush_if_full()?;
            }
        }
    }
    Ok(())
}

/// Reads and checks the snapshot at `path`.
pub(crate) fn read(path: &Path) -> Result<SnapshotFile, OpenError> {
    let bytes = fs::read(path).map_err(|source| OpenError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let corrupt = |offset: usize, reason: String| OpenError::Corrupt {
        file: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    let header = MAGIC.len() + 4;
    let Some((body, crc)) = bytes.split_last_chunk::<4>() else {
        return Err(corrupt(0, "snapshot shorter than its checksum".into()));
    };
    if body.len() < header || &body[..MAGIC.len()] != MAGIC {
        return Err(corrupt(0, "not a distgo-db snapshot".into()));
    }
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err(corrupt(body.len(), "snapshot fails its checksum".into()));
    }
    let mut d = Decoder::new(&body[MAGIC.len()..]);
    let version = d.u32().map_err(|e| corrupt(MAGIC.len(), e.to_string()))?;
    if version != VERSION {
        return Err(corrupt(
            MAGIC.len(),
            format!("unsupported version {version}"),
        ));
    }
    let file = decode(&mut d).and_then(|file| d.finish().map(|()| file));
    file.map_err(|e| corrupt(MAGIC.len() + e.offset, e.what))
}

fn decode(d: &mut Decoder<'_>) -> Result<SnapshotFile, DecodeError> {
    let lsn = d.u64()?;
    let last_commit = d.time()?;
    let first_retained = d.u64()?;
    let databases = sorted_map(
        d,
        |d| {
            let row = db_row(d.row()?);
            let collections = sorted_map(
                d,
                |d| {
                    let row = coll_row(d.row()?);
                    let documents =
                        sorted_map(d, |d| Ok(Arc::new(doc_row(d.row()?))), IdKind::Child)?;
                    Ok(CollectionNode { row, documents })
                },
                IdKind::Child,
            )?;
            Ok(DatabaseNode { row, collections })
        },
        IdKind::Database,
    )?;
    let snapshot = Snapshot {
        tree: Tree::from_databases(databases),
        lsn,
        last_commit,
    };
    Ok(SnapshotFile {
        snapshot,
        first_retained,
    })
}

/// A count, then that many `(id, value)` items in strictly increasing id
/// order (the order they were written in; anything else is corruption).
fn sorted_map<V>(
    d: &mut Decoder<'_>,
    mut value: impl FnMut(&mut Decoder<'_>) -> Result<V, DecodeError>,
    kind: IdKind,
) -> Result<BTreeMap<Key, V>, DecodeError> {
    let count = d.count(MIN_ITEM)?;
    let mut items: Vec<(Key, V)> = Vec::with_capacity(count);
    for _ in 0..count {
        let id = d.id(kind)?;
        if items
            .last()
            .is_some_and(|(last, _)| last.as_str() >= id.as_str())
        {
            return Err(d.error(format!("id {id:?} out of order")));
        }
        items.push((Key::from(id), value(d)?));
    }
    Ok(items.into_iter().collect())
}
