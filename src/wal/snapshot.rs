//! Snapshot files: the store's snapshot bytes, written atomically, in two
//! generations.
//!
//! ```text
//! wal.path/
//!   snapshot-00000000000000004710.snap      the previous generation
//!   snapshot-00000000000000009113.snap      the newest
//!   00000000000000004711.wal …              every entry after the previous one
//! ```
//!
//! The bytes are [`Snapshot::encode`]'s (magic, version, state, CRC); this
//! module only puts them on disk and reads them back.
//!
//! **Atomic replacement.** A snapshot is written to `*.snap.tmp`, fsynced,
//! renamed to `*.snap`, and the directory fsynced. A crash at any point
//! leaves either the old snapshot or the new one, never half of one: the
//! rename is the commit point, and a leftover `.tmp` is deleted at
//! start-up. A write that fails (a full disk, an I/O error) deletes its
//! temporary file before it reports the error, so a failing disk is never
//! also filled with leftovers.
//!
//! **Two generations.** The newest snapshot is not trusted alone: its CRC
//! protects against a disk changing bytes later, but a checksum can only
//! say that the file is bad, not what it held. So the previous snapshot,
//! and every log entry after it, are kept until a third one is written.
//! If the newest fails its checksum, recovery sets it aside and starts
//! from the previous one plus the log, and nothing acknowledged is lost.

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
};

use crate::{
    store::Snapshot,
    wal::{
        dir::{self, TEMP_SUFFIX, snapshot_name, sync_dir},
        error::OpenError,
    },
};

/// How many snapshot files are kept: the newest and the one before it.
pub const GENERATIONS: usize = 2;

/// Writes `snapshot` into `dir` atomically as the snapshot of entry
/// `index`; returns its path and size. On failure the temporary file is
/// gone and the previous snapshots are untouched.
pub(crate) fn write(dir: &Path, index: u64, snapshot: &Snapshot) -> io::Result<(PathBuf, u64)> {
    let name = snapshot_name(index);
    let path = dir.join(&name);
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let written = write_temp(&temp, snapshot).and_then(|size| {
        fs::rename(&temp, &path)?;
        sync_dir(dir)?;
        Ok(size)
    });
    match written {
        Ok(size) => Ok((path, size)),
        Err(err) => {
            // Leave no partial file behind; the error that matters is the
            // write's, so a failure to delete is only logged.
            if let Err(cleanup) = fs::remove_file(&temp)
                && cleanup.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(file = %temp.display(), "cannot delete a failed snapshot: {cleanup}");
            }
            Err(err)
        }
    }
}

fn write_temp(temp: &Path, snapshot: &Snapshot) -> io::Result<u64> {
    let mut file = File::create(temp)?;
    let size = snapshot.encode(&mut file)?;
    file.sync_all()?;
    Ok(size)
}

/// Reads and checks the snapshot at `path`; its history keeps about
/// `history_budget` bytes.
pub(crate) fn read(path: &Path, history_budget: u64) -> Result<Snapshot, OpenError> {
    let bytes = fs::read(path).map_err(|source| OpenError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    Snapshot::decode(&bytes, history_budget).map_err(|e| OpenError::Corrupt {
        file: path.to_owned(),
        offset: e.offset as u64,
        reason: e.what,
    })
}

/// Deletes snapshot files older than the [`GENERATIONS`] newest; returns
/// the index of the oldest one kept (entries up to it are no longer needed
/// by any snapshot that is kept), or `None` while fewer exist.
pub(crate) fn retain(dir: &Path) -> io::Result<Option<u64>> {
    let snapshots = dir::list(dir)?.snapshots;
    if snapshots.len() < GENERATIONS {
        return Ok(None);
    }
    let cut = snapshots.len() - GENERATIONS;
    for (_, path) in &snapshots[..cut] {
        fs::remove_file(path)?;
    }
    if cut > 0 {
        sync_dir(dir)?;
    }
    Ok(Some(snapshots[cut].0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn only_the_two_newest_snapshots_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = Store::new(1 << 20).snapshot();
        assert_eq!(retain(dir.path()).unwrap(), None);
        for index in [10, 20, 30] {
            write(dir.path(), index, &snapshot).unwrap();
        }
        assert_eq!(retain(dir.path()).unwrap(), Some(20));
        let kept: Vec<u64> = dir::list(dir.path())
            .unwrap()
            .snapshots
            .iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(kept, [20, 30]);
        let read_back = read(&dir.path().join(snapshot_name(30)), 1 << 20).unwrap();
        assert_eq!(read_back, snapshot);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = Store::new(1 << 20).snapshot();
        // A directory where the final name should go makes the rename fail
        // after the temporary file was written in full.
        fs::create_dir(dir.path().join(snapshot_name(5))).unwrap();
        fs::write(dir.path().join(snapshot_name(5)).join("x"), b"").unwrap();
        assert!(write(dir.path(), 5, &snapshot).is_err());
        assert!(dir::list(dir.path()).unwrap().temps.is_empty());
    }
}
