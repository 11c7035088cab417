//! Start-up: reading the directory back.
//!
//! ```text
//!  1. prepare   create wal.path if missing; check it is writable; delete *.tmp
//!  2. snapshot  load the newest snapshot (CRC checked); if it is damaged, set
//!               it aside and load the previous generation instead
//!  3. scan      read every segment in order: header, frames, entries; indexes
//!               must run on without gaps past the snapshot
//!  4. hand over the snapshot and the entries after it, for the layer above
//!               to install and apply; the writer resumes on a fresh segment
//! ```
//!
//! The log does not apply anything itself: it hands the snapshot and the
//! entries to [`crate::replication`], which installs the one and applies
//! the others through the same state machine that serves requests.
//!
//! **Damage.** A crash mid-write can only damage the end of the newest
//! segment: such a *torn tail* is cut off with a warning that says how many
//! bytes went. Damage anywhere else (a bad checksum followed by valid
//! entries, an entry that does not decode, a gap in the indexes) is
//! corruption: start-up stops with the file and offset, and the worker
//! exits with code 3. Started with `--repair` ([`Recovery::Repair`]), it
//! instead keeps every valid entry before the damage, deletes the rest (the
//! damaged segment is cut, later segments are removed) and says what it
//! dropped. Repair can lose acknowledged writes; that is why it is opt-in.
//! Repair first reads everything and decides; it changes nothing on disk
//! until it knows the result will open.
//!
//! A damaged newest snapshot is not corruption of the database, only of a
//! copy of it: the previous generation and the log after it hold the same
//! state, so recovery falls back to them in either mode (with a warning)
//! and renames the damaged file to `*.snap.corrupt` so that it is never
//! chosen again. Only when no snapshot the log needs is readable does
//! start-up stop.

use std::{
    fs::{self, OpenOptions},
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool, mpsc},
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use crate::{
    config::WalConfig,
    store::Snapshot,
    wal::{
        Wal, dir,
        entry::LogEntry,
        error::{IoContext, OpenError},
        frame::{self, End},
        snapshot,
        writer::{Segment, Segments, Stats, Writer},
    },
};

/// What to do about corruption found at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Recovery {
    /// Stop with an error naming the file and offset (the default).
    #[default]
    Strict,
    /// Keep the valid prefix, delete the rest, and say what was dropped.
    Repair,
}

/// What recovery found and did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The log index of the snapshot loaded, if any.
    pub snapshot_index: Option<u64>,
    /// Its file.
    pub snapshot_path: Option<PathBuf>,
    /// Damaged snapshots set aside in favour of an older generation.
    pub snapshots_set_aside: Vec<PathBuf>,
    /// Entries after the snapshot, to be applied.
    pub entries: usize,
    /// Segment files read.
    pub segments: usize,
    /// Bytes cut off or deleted, one item per place.
    pub dropped: Vec<Dropped>,
    /// Wall time of reading the directory.
    pub elapsed: Duration,
}

/// Bytes recovery removed from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The file.
    pub file: PathBuf,
    /// Where the dropped bytes started.
    pub offset: u64,
    /// How many bytes were dropped.
    pub bytes: u64,
    /// Why: a torn tail, or repair of corruption.
    pub reason: String,
}

/// What the directory held: the state to start from and what follows it.
#[derive(Debug)]
pub struct Recovered {
    /// The newest readable snapshot.
    pub snapshot: Option<Snapshot>,
    /// Every entry on disk, in index order, the ones the snapshot covers
    /// included (a consensus engine may still send them to a lagging
    /// member): apply only those after the snapshot's position.
    pub entries: Vec<LogEntry>,
    /// What recovery found and did.
    pub report: Report,
}

/// A change to the files that recovery decided on; carried out only once
/// the whole directory has been read and found usable.
enum Fix {
    /// Cut `path` at `offset` (its length was `len`).
    Cut {
        path: PathBuf,
        offset: u64,
        len: u64,
        reason: String,
    },
    /// Delete `path`, which follows the damage.
    Delete { path: PathBuf, reason: String },
}

impl Wal {
    /// Opens the log in `config.path` (which must be set): reads back the
    /// newest snapshot and the entries after it, and starts the writer on a
    /// fresh segment after the last entry. Snapshots are decoded with a
    /// history of about `history_budget` bytes.
    pub fn open(
        config: &WalConfig,
        recovery: Recovery,
        history_budget: u64,
    ) -> Result<(Wal, Recovered), OpenError> {
        let Some(dir) = &config.path else {
            return Err(OpenError::Directory {
                path: PathBuf::new(),
                reason: "no wal.path is configured".into(),
            });
        };
        let started = Instant::now();
        let mut report = Report::default();
        prepare(dir)?;
        let (snapshot, damaged) = load_snapshot(dir, history_budget, &mut report)?;
        let covered = snapshot
            .as_ref()
            .and_then(|s| s.applied)
            .map_or(0, |p| p.index);
        let listed = dir::list(dir).opening("list", dir)?.segments;
        let scan = scan_segments(&listed, covered, recovery)?;
        // The directory is usable: only now is anything on disk changed.
        for path in &damaged {
            set_aside(path, &mut report)?;
        }
        for fix in &scan.fixes {
            apply_fix(fix, &mut report)?;
        }
        report.segments = scan.segments.len();
        let next = scan
            .segments
            .last()
            .map_or(covered + 1, |s| s.next().max(covered + 1));
        let entries = scan.entries;
        report.entries = entries.iter().filter(|e| e.index() > covered).count();
        report.elapsed = started.elapsed();
        let wal = start_writer(config, dir, scan.segments, next)?;
        tracing::info!(
            path = %dir.display(),
            snapshot_index = report.snapshot_index,
            entries = report.entries,
            segments = report.segments,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "read the write-ahead log"
        );
        Ok((
            wal,
            Recovered {
                snapshot,
                entries,
                report,
            },
        ))
    }
}

/// Creates the directory if needed, proves it writable, and deletes the
/// leftovers of interrupted writes.
fn prepare(dir: &Path) -> Result<(), OpenError> {
    let unusable = |err: std::io::Error| OpenError::Directory {
        path: dir.to_owned(),
        reason: err.to_string(),
    };
    fs::create_dir_all(dir).map_err(unusable)?;
    let probe = dir.join(format!(".write-test{}", dir::TEMP_SUFFIX));
    fs::write(&probe, b"").map_err(unusable)?;
    fs::remove_file(&probe).map_err(unusable)?;
    for temp in dir::list(dir).opening("list", dir)?.temps {
        tracing::warn!(file = %temp.display(), "deleting the leftover of an interrupted write");
        fs::remove_file(&temp).opening("delete", &temp)?;
    }
    Ok(())
}

/// The newest readable snapshot, and the damaged newer ones to set aside
/// (renamed to `*.corrupt`): the log after the older generation is kept for
/// exactly this.
fn load_snapshot(
    dir: &Path,
    history_budget: u64,
    report: &mut Report,
) -> Result<(Option<Snapshot>, Vec<PathBuf>), OpenError> {
    let snapshots = dir::list(dir).opening("list", dir)?.snapshots;
    let mut damaged = Vec::new();
    for (index, path) in snapshots.iter().rev() {
        match snapshot::read(path, history_budget) {
            Ok(snapshot) => {
                report.snapshot_index = Some(*index);
                report.snapshot_path = Some(path.clone());
                let paths = damaged.into_iter().map(|(path, err)| {
                    tracing::warn!(
                        "{err}; starting from the previous snapshot and the log after it \
                         instead (nothing is lost)"
                    );
                    path
                });
                return Ok((Some(snapshot), paths.collect()));
            }
            Err(err @ OpenError::Corrupt { .. }) => damaged.push((path.clone(), err)),
            Err(err) => return Err(err),
        }
    }
    // Every snapshot is damaged (or there is none): the log alone must
    // hold the whole history, from entry 1 on.
    let first_segment = dir::list(dir)
        .opening("list", dir)?
        .segments
        .first()
        .map(|s| s.0);
    match damaged.first() {
        Some((
            _,
            OpenError::Corrupt {
                file,
                offset,
                reason,
            },
        )) if first_segment.is_some_and(|first| first > 1) => {
            // The entries the snapshots covered are gone from the log, so
            // no amount of repair can rebuild the state.
            Err(OpenError::Unrecoverable {
                file: file.clone(),
                offset: *offset,
                reason: reason.clone(),
            })
        }
        _ => {
            for (_, err) in &damaged {
                tracing::warn!("{err}; the log holds every entry, starting from the first");
            }
            Ok((None, damaged.into_iter().map(|(path, _)| path).collect()))
        }
    }
}

/// Renames a damaged snapshot so that it is never chosen again.
fn set_aside(path: &Path, report: &mut Report) -> Result<(), OpenError> {
    let aside = path.with_extension("snap.corrupt");
    tracing::warn!(file = %path.display(), "setting the damaged snapshot aside as {}", aside.display());
    fs::rename(path, &aside).opening("rename", path)?;
    dir::sync_dir(path.parent().unwrap_or(Path::new("."))).opening("sync", path)?;
    report.snapshots_set_aside.push(path.to_owned());
    Ok(())
}

/// What reading the segments found.
struct Scan {
    segments: Vec<Segment>,
    entries: Vec<LogEntry>,
    fixes: Vec<Fix>,
}

/// Reads every segment, checking that the indexes past `covered` have no
/// gaps; damage is an error, or (repairing) a list of fixes.
fn scan_segments(
    listed: &[(u64, PathBuf)],
    covered: u64,
    recovery: Recovery,
) -> Result<Scan, OpenError> {
    let mut scan = Scan {
        segments: Vec::new(),
        entries: Vec::new(),
        fixes: Vec::new(),
    };
    let mut expected: Option<u64> = None;
    for (i, (first, path)) in listed.iter().enumerate() {
        if let Err(reason) = continuity(*first, expected, covered) {
            if recovery == Recovery::Strict {
                return Err(OpenError::Corrupt {
                    file: path.clone(),
                    offset: 0,
                    reason,
                });
            }
            // Nothing after a gap can be applied: keep what comes before.
            for (_, later) in &listed[i..] {
                scan.fixes.push(Fix::Delete {
                    path: later.clone(),
                    reason: format!("repair: {reason}"),
                });
            }
            break;
        }
        let last = i + 1 == listed.len();
        let bytes = fs::read(path).opening("read", path)?;
        let (segment, entries, damage) = read_segment(&bytes, *first, path);
        expected = Some(segment.next());
        scan.entries.extend(entries);
        let Some(damage) = damage else {
            scan.segments.push(segment);
            continue;
        };
        let len = bytes.len() as u64;
        if damage.torn && last {
            let reason = "torn tail: a write was cut short by a crash".to_owned();
            scan.fixes
                .push(cut_or_delete(path, damage.offset, len, reason));
            if damage.offset >= frame::HEADER_LEN as u64 {
                scan.segments.push(segment);
            }
            continue;
        }
        if recovery == Recovery::Strict {
            return Err(OpenError::Corrupt {
                file: path.clone(),
                offset: damage.offset,
                reason: damage.reason,
            });
        }
        let reason = format!("repair: {}", damage.reason);
        scan.fixes
            .push(cut_or_delete(path, damage.offset, len, reason));
        if damage.offset >= frame::HEADER_LEN as u64 {
            scan.segments.push(segment);
        }
        // If the next segment starts inside the snapshot, the entries lost
        // here were covered by it: the state is whole and the later
        // segments are kept.
        if listed
            .get(i + 1)
            .is_some_and(|(next, _)| *next <= covered + 1)
        {
            expected = None;
            continue;
        }
        for (_, later) in &listed[i + 1..] {
            scan.fixes.push(Fix::Delete {
                path: later.clone(),
                reason: format!("repair: follows the damage in {}", path.display()),
            });
        }
        break;
    }
    Ok(scan)
}

/// Cut at `offset`, or delete the file if not even its header survives.
fn cut_or_delete(path: &Path, offset: u64, len: u64, reason: String) -> Fix {
    if offset < frame::HEADER_LEN as u64 {
        Fix::Delete {
            path: path.to_owned(),
            reason,
        }
    } else {
        Fix::Cut {
            path: path.to_owned(),
            offset,
            len,
            reason,
        }
    }
}

/// Checks that a segment named `first` continues the log: it must not
/// overlap the previous segment, and may leave a gap only where the
/// snapshot covers the missing entries (`expected`: the index after the
/// previous segment's last entry; `None` for the first segment).
fn continuity(first: u64, expected: Option<u64>, covered: u64) -> Result<(), String> {
    match expected {
        Some(expected) if first < expected => Err(format!(
            "segment starts at entry {first}, inside the previous segment (which ends before {expected})"
        )),
        Some(expected) if first > expected && first > covered + 1 => {
            Err(format!("entries {expected} to {} are missing", first - 1))
        }
        None if first > covered + 1 => Err(format!(
            "entries {} to {} are missing (the snapshot covers up to {covered})",
            covered + 1,
            first - 1
        )),
        _ => Ok(()),
    }
}

/// Where a segment stops making sense.
struct Damage {
    offset: u64,
    reason: String,
    /// Nothing valid follows: a crash could have caused it.
    torn: bool,
}

/// The entries of the segment at `path`, whose first index is `first`, the
/// segment's map, and the damage that ended it, if any.
fn read_segment(bytes: &[u8], first: u64, path: &Path) -> (Segment, Vec<LogEntry>, Option<Damage>) {
    let mut segment = Segment {
        first,
        path: path.to_owned(),
        ends: Vec::new(),
    };
    let mut entries = Vec::new();
    if bytes.len() < frame::HEADER_LEN {
        let damage = Damage {
            offset: 0,
            reason: "segment header cut short".into(),
            torn: true,
        };
        return (segment, entries, Some(damage));
    }
    if bytes[..frame::HEADER_LEN] != frame::header() {
        let reason = if &bytes[..8] == frame::MAGIC {
            "unsupported segment version (a log written by another version of the worker)"
        } else {
            "not a distgo-db log segment"
        };
        let damage = Damage {
            offset: 0,
            reason: reason.into(),
            torn: false,
        };
        return (segment, entries, Some(damage));
    }
    let (frames, end) = frame::scan(&bytes[frame::HEADER_LEN..], frame::HEADER_LEN);
    for (n, f) in frames.iter().enumerate() {
        let damage = |reason: String| Damage {
            offset: f.offset as u64,
            reason,
            torn: false,
        };
        let entry = match LogEntry::decode(f.payload) {
            Ok(entry) => entry,
            Err(err) => {
                let why = format!("entry does not decode: {err}");
                return (segment, entries, Some(damage(why)));
            }
        };
        let index = first + n as u64;
        if entry.index() != index {
            let why = format!("entry has index {}, expected {index}", entry.index());
            return (segment, entries, Some(damage(why)));
        }
        segment
            .ends
            .push((f.offset + frame::FRAME_HEADER_LEN + f.payload.len()) as u64);
        entries.push(entry);
    }
    let damage = match end {
        End::Clean => None,
        End::Torn { offset } => Some(Damage {
            offset: offset as u64,
            reason: "damaged final entry".into(),
            torn: true,
        }),
        End::Corrupt { offset, reason } => Some(Damage {
            offset: offset as u64,
            reason,
            torn: false,
        }),
    };
    (segment, entries, damage)
}

/// Carries out one fix decided by the scan, and reports it.
fn apply_fix(fix: &Fix, report: &mut Report) -> Result<(), OpenError> {
    let (path, offset, dropped, reason) = match fix {
        Fix::Cut {
            path,
            offset,
            len,
            reason,
        } => {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .opening("open", path)?;
            file.set_len(*offset).opening("truncate", path)?;
            file.sync_all().opening("sync", path)?;
            (path, *offset, len - offset, reason)
        }
        Fix::Delete { path, reason } => {
            let size = fs::metadata(path).map_or(0, |m| m.len());
            fs::remove_file(path).opening("delete", path)?;
            (path, 0, size, reason)
        }
    };
    tracing::warn!(
        file = %path.display(),
        offset,
        bytes = dropped,
        "{reason}: dropping {dropped} bytes at offset {offset}"
    );
    report.dropped.push(Dropped {
        file: path.clone(),
        offset,
        bytes: dropped,
        reason: reason.clone(),
    });
    Ok(())
}

/// Starts the writer thread on a fresh segment at `next`.
fn start_writer(
    config: &WalConfig,
    dir: &Path,
    mut segments: Vec<Segment>,
    next: u64,
) -> Result<Wal, OpenError> {
    let (file, path) = dir::create_segment(dir, next).opening("create a segment in", dir)?;
    // A fresh segment at `next` replaces an empty one of the same name.
    segments.retain(|s| s.first != next);
    segments.push(Segment {
        first: next,
        path,
        ends: Vec::new(),
    });
    let segments = Arc::new(Mutex::new(Segments { files: segments }));
    let poisoned = Arc::new(AtomicBool::new(false));
    let failure = Arc::new(Mutex::new(None));
    let metrics = crate::metrics::WalMetrics::default();
    let writer = Writer {
        dir: dir.to_owned(),
        file,
        policy: config.sync,
        interval: config.sync_interval,
        dirty: false,
        synced_at: Instant::now(),
        buf: Vec::with_capacity(1 << 16),
        len: frame::HEADER_LEN as u64,
        waiting: Vec::new(),
        segments: segments.clone(),
        poisoned: poisoned.clone(),
        failure: failure.clone(),
        stats: Stats::default(),
        synced_entries: 0,
        metrics: metrics.clone(),
        noted: Vec::new(),
    };
    let (requests, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("distgo-wal-writer".into())
        .spawn(move || writer.run(receiver))
        .opening("start the writer thread for", dir)?;
    Ok(Wal {
        dir: dir.to_owned(),
        requests,
        segments,
        poisoned,
        failure,
        thread: Mutex::new(Some(thread)),
        serial: Mutex::new(()),
        metrics,
    })
}
