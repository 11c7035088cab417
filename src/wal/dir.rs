//! The log directory: which files it holds and what their names mean.
//!
//! ```text
//! wal.path/
//!   00000000000000000001.wal            segment: entries from index 1 on
//!   00000000000000004711.wal            segment: entries from index 4711 on (current)
//!   snapshot-00000000000000004710.snap  the state after entry 4710
//!   snapshot-00000000000000004710.snap.tmp   a snapshot being written
//!   snapshot-00000000000000002000.snap.corrupt   a damaged snapshot, set aside
//! ```
//!
//! Names carry zero-padded indexes, so sorting names sorts the log. A segment
//! is never rewritten, only appended to and, once a snapshot covers all of
//! it, deleted whole: compaction is `unlink`, not a copy.
//!
//! Creating or renaming a file changes the *directory*, which has its own
//! place on disk: fsyncing a new file makes its bytes durable but not its
//! name. Every create and rename here is therefore followed by an fsync of
//! the directory ([`sync_dir`]).

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

use crate::wal::frame;

const SEGMENT_SUFFIX: &str = ".wal";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
/// Suffix of a file being written; such a file is garbage after a crash.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// The file name of the segment whose first entry is `first`.
pub(crate) fn segment_name(first: u64) -> String {
    format!("{first:020}{SEGMENT_SUFFIX}")
}

/// The file name of the snapshot of the state after entry `index`.
pub(crate) fn snapshot_name(index: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{index:020}{SNAPSHOT_SUFFIX}")
}

/// What the directory holds, each list in index order.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Segments: (first index, path).
    pub(crate) segments: Vec<(u64, PathBuf)>,
    /// Snapshots: (last index covered, path).
    pub(crate) snapshots: Vec<(u64, PathBuf)>,
    /// Leftovers of interrupted writes.
    pub(crate) temps: Vec<PathBuf>,
}

/// Lists the files of `dir` that belong to the log; other files are left
/// alone.
pub(crate) fn list(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.ends_with(TEMP_SUFFIX) {
            listing.temps.push(path);
        } else if let Some(index) = parse_index(name.strip_suffix(SEGMENT_SUFFIX)) {
            listing.segments.push((index, path));
        } else if let Some(index) = parse_index(
            name.strip_prefix(SNAPSHOT_PREFIX)
                .and_then(|n| n.strip_suffix(SNAPSHOT_SUFFIX)),
        ) {
            listing.snapshots.push((index, path));
        }
    }
    listing.segments.sort();
    listing.snapshots.sort();
    Ok(listing)
}

fn parse_index(digits: Option<&str>) -> Option<u64> {
    let digits = digits?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Makes the directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates (or empties) the segment whose first entry will be `first`,
/// writes its header and makes both the file and its name durable.
pub(crate) fn create_segment(dir: &Path, first: u64) -> io::Result<(File, PathBuf)> {
    let path = dir.join(segment_name(first));
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    file.write_all(&frame::header())?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Replaces the small file `name` in `dir` with `bytes` and a CRC-32C of
/// them. `durable`: written to a temporary file, fsynced, renamed over the
/// old one, and the directory fsynced, so a crash leaves the old content or
/// the new one. Otherwise overwritten in place without a sync: a crash may
/// leave it old, torn or empty, which [`read_meta`] reports as missing or
/// damaged, so only a value that may be lost can be saved so.
pub(crate) fn write_meta(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> io::Result<()> {
    let path = dir.join(name);
    if !durable {
        let mut with_crc = bytes.to_vec();
        with_crc.extend_from_slice(&crc32c::crc32c(bytes).to_le_bytes());
        return fs::write(&path, with_crc);
    }
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let mut file = File::create(&temp)?;
    file.write_all(bytes)?;
    file.write_all(&crc32c::crc32c(bytes).to_le_bytes())?;
    file.sync_all()?;
    fs::rename(&temp, &path)?;
    sync_dir(dir)
}

/// The content of the small file `name` in `dir` written by [`write_meta`]:
/// `None` if there is none, an error if it fails its checksum.
pub(crate) fn read_meta(dir: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let bytes = match fs::read(dir.join(name)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some((body, crc)) = bytes.split_last_chunk::<4>() else {
        return Err(io::Error::other(format!(
            "{name}: shorter than its checksum"
        )));
    };
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err(io::Error::other(format!("{name}: fails its checksum")));
    }
    Ok(Some(body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_replaced_whole_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_meta(dir.path(), "vote").unwrap(), None);
        write_meta(dir.path(), "vote", b"term 1", true).unwrap();
        write_meta(dir.path(), "vote", b"term 2", false).unwrap();
        assert_eq!(read_meta(dir.path(), "vote").unwrap().unwrap(), b"term 2");
        let mut bytes = fs::read(dir.path().join("vote")).unwrap();
        bytes[0] ^= 1;
        fs::write(dir.path().join("vote"), bytes).unwrap();
        assert!(read_meta(dir.path(), "vote").is_err());
    }

    #[test]
    fn names_sort_like_their_indexes_and_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            segment_name(10),
            segment_name(9),
            snapshot_name(8),
            "notes.txt".into(),
            "123.wal".into(),
            format!("{}{TEMP_SUFFIX}", snapshot_name(12)),
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let listing = list(dir.path()).unwrap();
        let indexes: Vec<u64> = listing.segments.iter().map(|s| s.0).collect();
        assert_eq!(indexes, [9, 10]);
        assert_eq!(listing.snapshots.len(), 1);
        assert_eq!(listing.snapshots[0].0, 8);
        assert_eq!(listing.temps.len(), 1);
    }
}
