//! Start-up: rebuilding the state from the directory.
//!
//! ```text
//!  1. prepare   create wal.path if missing; check it is writable; delete *.tmp
//!  2. snapshot  load the newest snapshot-S.snap (CRC checked): state after S,
//!               and first_retained F, where ListWALEntries starts
//!  3. clean     delete segments that hold only records before min(F, S+1)
//!  4. scan      read every segment in order: header, frames, records; LSNs
//!               must run on without gaps past S
//!  5. replay    Store::install(snapshot), then Store::replay(r) for r > S;
//!               records ≥ F refill the retained log
//!  6. resume    the writer starts a fresh segment at the next LSN
//! ```
//!
//! **Damage.** A crash mid-write can only damage the end of the newest
//! segment: such a *torn tail* is cut off with a warning that says how many
//! bytes went. Damage anywhere else (a bad checksum followed by valid
//! records, a record that does not decode, a gap in the LSNs, a broken
//! snapshot) is corruption: start-up stops with the file and offset, and the
//! worker exits with code 3. Started with `--repair`
//! ([`Recovery::Repair`]), it instead keeps every valid record before the
//! damage, deletes the rest (the damaged segment is cut, later segments are
//! removed, a broken snapshot is renamed to `*.corrupt`) and says what it
//! dropped. Repair can lose acknowledged writes; that is why it is opt-in.

use std::{
    fs::{self, OpenOptions},
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool, mpsc},
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    clock::Clock,
    config::WalConfig,
    store::{Lsn, Record, Store},
    wal::{
        Durable, Wal, codec, dir,
        error::{IoContext, OpenError},
        frame::{self, End},
        retained::Retained,
        snapshot::{self, SnapshotFile},
        writer::{Progress, Stats, Writer},
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
    /// The LSN of the snapshot loaded, if any.
    pub snapshot_lsn: Option<Lsn>,
    /// Records applied on top of the snapshot.
    pub replayed: usize,
    /// Records the WAL service lists after the restart.
    pub retained: usize,
    /// Segment files read.
    pub segments: usize,
    /// Bytes cut off or deleted, one item per place.
    pub dropped: Vec<Dropped>,
    /// Wall time of the whole recovery.
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

/// A record read back, with where it was.
struct Found {
    record: Arc<Record>,
    size: u64,
    file: usize,
    offset: u64,
}

/// Opens the store described by `config`: empty and memory-only without
/// `wal.path`; otherwise recovered from the directory, with a writer thread
/// appending to it.
pub fn open_store(
    config: &WalConfig,
    clock: Arc<dyn Clock>,
    recovery: Recovery,
) -> Result<(Arc<Store>, Report), OpenError> {
    let Some(dir) = &config.path else {
        let wal = Wal::memory_with_budget(config.snapshot_bytes);
        return Ok((Arc::new(Store::new(clock, wal)), Report::default()));
    };
    let started = Instant::now();
    let mut report = Report::default();
    prepare(dir)?;
    let snapshot = load_snapshot(dir, recovery, &mut report)?;
    let (covered, first_retained) = snapshot
        .as_ref()
        .map_or((0, 1), |s| (s.snapshot.lsn, s.first_retained));
    dir::remove_covered(dir, first_retained.min(covered + 1), covered).opening("clean", dir)?;
    let segments = dir::list(dir).opening("list", dir)?.segments;
    let (files, found) = scan_segments(
        &segments,
        covered,
        first_retained.min(covered + 1),
        recovery,
        &mut report,
    )?;
    let next_lsn = found.last().map_or(0, |f| f.record.lsn).max(covered) + 1;

    let mut retained = Retained::new(first_retained, first_retained);
    for f in &found {
        retained.push(f.record.clone(), f.size);
    }
    retained.resume_at(next_lsn);
    report.retained = retained.len();
    let wal = start_writer(config, dir, retained, next_lsn)?;
    let store = Arc::new(Store::new(clock, wal));
    if let Some(file) = snapshot {
        store.install(file.snapshot);
    }
    for f in found.iter().filter(|f| f.record.lsn > covered) {
        store.replay(&f.record).map_err(|err| OpenError::Corrupt {
            file: files[f.file].clone(),
            offset: f.offset,
            reason: format!("record {} does not apply: {err}", f.record.lsn),
        })?;
        report.replayed += 1;
    }
    store.wal().attach(&store);
    report.elapsed = started.elapsed();
    tracing::info!(
        path = %dir.display(),
        snapshot_lsn = report.snapshot_lsn,
        replayed = report.replayed,
        retained = report.retained,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "recovered the write-ahead log"
    );
    Ok((store, report))
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

/// The newest snapshot. A broken one is corruption; repair sets it aside
/// and tries the one before.
fn load_snapshot(
    dir: &Path,
    recovery: Recovery,
    report: &mut Report,
) -> Result<Option<SnapshotFile>, OpenError> {
    let snapshots = dir::list(dir).opening("list", dir)?.snapshots;
    for (_, path) in snapshots.iter().rev() {
        match snapshot::read(path) {
            Ok(file) => {
                report.snapshot_lsn = Some(file.snapshot.lsn);
                return Ok(Some(file));
            }
            Err(err @ OpenError::Corrupt { .. }) if recovery == Recovery::Repair => {
                let aside = path.with_extension("snap.corrupt");
                tracing::warn!("repair: setting aside {}: {err}", path.display());
                fs::rename(path, &aside).opening("rename", path)?;
                let bytes = fs::metadata(&aside).map_or(0, |m| m.len());
                report.dropped.push(Dropped {
                    file: path.clone(),
                    offset: 0,
                    bytes,
                    reason: format!("repair: {err}"),
                });
            }
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// Reads every segment, checking that the LSNs past `covered` have no gaps.
fn scan_segments(
    segments: &[(Lsn, PathBuf)],
    covered: Lsn,
    keep_from: Lsn,
    recovery: Recovery,
    report: &mut Report,
) -> Result<(Vec<PathBuf>, Vec<Found>), OpenError> {
    let mut files = Vec::new();
    let mut found = Vec::new();
    let mut expected: Option<Lsn> = None;
    for (i, (first, path)) in segments.iter().enumerate() {
        if let Err(reason) = continuity(*first, expected, covered) {
            return Err(OpenError::Corrupt {
                file: path.clone(),
                offset: 0,
                reason,
            });
        }
        let continues = expected.unwrap_or(keep_from);
        if *first > continues && *first > keep_from {
            tracing::warn!(
                file = %path.display(),
                "records {continues} to {} are missing; the snapshot covers them, \
                 but ListWALEntries cannot list them",
                first - 1
            );
        }
        let last = i + 1 == segments.len();
        let bytes = fs::read(path).opening("read", path)?;
        report.segments += 1;
        files.push(path.clone());
        let (records, damage) = read_segment(&bytes, *first, i);
        expected = Some(*first + records.len() as u64);
        found.extend(records.into_iter().filter(|f| f.record.lsn >= keep_from));
        if let Some(damage) = damage {
            if damage.torn && last {
                cut(
                    path,
                    damage.offset,
                    bytes.len() as u64,
                    "torn tail: a write was cut short by a crash",
                    report,
                )?;
            } else if recovery == Recovery::Repair {
                let why = format!("repair: {}", damage.reason);
                cut(path, damage.offset, bytes.len() as u64, &why, report)?;
                // If the next segment starts inside the snapshot, the lost
                // records were only there for listing: the state is whole
                // and the later segments are kept.
                if segments
                    .get(i + 1)
                    .is_some_and(|(next, _)| *next <= covered + 1)
                {
                    continue;
                }
                for (_, later) in &segments[i + 1..] {
                    let size = fs::metadata(later).map_or(0, |m| m.len());
                    fs::remove_file(later).opening("delete", later)?;
                    report.dropped.push(Dropped {
                        file: later.clone(),
                        offset: 0,
                        bytes: size,
                        reason: format!("repair: follows the damage in {}", path.display()),
                    });
                    tracing::warn!(file = %later.display(), bytes = size, "repair: deleted a segment after the damage");
                }
                break;
            } else {
                return Err(OpenError::Corrupt {
                    file: path.clone(),
                    offset: damage.offset,
                    reason: damage.reason,
                });
            }
        }
    }
    Ok((files, found))
}

/// Checks that a segment named `first` continues the log: it must not
/// overlap the previous segment, and may leave a gap only where the snapshot
/// covers the missing records (`expected`: the LSN after the previous
/// segment's last record; `None` for the first segment).
fn continuity(first: Lsn, expected: Option<Lsn>, covered: Lsn) -> Result<(), String> {
    match expected {
        Some(expected) if first < expected => Err(format!(
            "segment starts at LSN {first}, inside the previous segment (which ends before {expected})"
        )),
        Some(expected) if first > expected && first > covered + 1 => {
            Err(format!("records {expected} to {} are missing", first - 1))
        }
        None if first > covered + 1 => Err(format!(
            "records {} to {} are missing (the snapshot covers up to {covered})",
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

/// The records of segment number `file`, whose first LSN is `first`, and
/// the damage that ended it, if any.
fn read_segment(bytes: &[u8], first: Lsn, file: usize) -> (Vec<Found>, Option<Damage>) {
    let mut records = Vec::new();
    if bytes.len() < frame::HEADER_LEN {
        let damage = Damage {
            offset: 0,
            reason: "segment header cut short".into(),
            torn: true,
        };
        return (records, Some(damage));
    }
    if bytes[..frame::HEADER_LEN] != frame::header() {
        let reason = if &bytes[..8] == frame::MAGIC {
            "unsupported segment version"
        } else {
            "not a distgo-db log segment"
        };
        let damage = Damage {
            offset: 0,
            reason: reason.into(),
            torn: false,
        };
        return (records, Some(damage));
    }
    let (frames, end) = frame::scan(&bytes[frame::HEADER_LEN..], frame::HEADER_LEN);
    for (n, f) in frames.iter().enumerate() {
        let damage = |reason: String| Damage {
            offset: f.offset as u64,
            reason,
            torn: false,
        };
        let record = match codec::decode_record(f.payload) {
            Ok(record) => record,
            Err(err) => {
                return (
                    records,
                    Some(damage(format!("record does not decode: {err}"))),
                );
            }
        };
        let lsn = first + n as u64;
        if record.lsn != lsn {
            let why = format!("record has LSN {}, expected {lsn}", record.lsn);
            return (records, Some(damage(why)));
        }
        records.push(Found {
            record: Arc::new(record),
            size: (frame::FRAME_HEADER_LEN + f.payload.len()) as u64,
            file,
            offset: f.offset as u64,
        });
    }
    let damage = match end {
        End::Clean => None,
        End::Torn { offset } => Some(Damage {
            offset: offset as u64,
            reason: "damaged final record".into(),
            torn: true,
        }),
        End::Corrupt { offset, reason } => Some(Damage {
            offset: offset as u64,
            reason,
            torn: false,
        }),
    };
    (records, damage)
}

/// Cuts `path` at `offset` (deleting it if not even the header survives)
/// and reports the bytes dropped.
fn cut(
    path: &Path,
    offset: u64,
    len: u64,
    reason: &str,
    report: &mut Report,
) -> Result<(), OpenError> {
    let dropped = len - offset;
    tracing::warn!(
        file = %path.display(),
        offset,
        bytes = dropped,
        "{reason}: dropping {dropped} bytes at offset {offset}"
    );
    if offset < frame::HEADER_LEN as u64 {
        fs::remove_file(path).opening("delete", path)?;
    } else {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .opening("open", path)?;
        file.set_len(offset).opening("truncate", path)?;
        file.sync_all().opening("sync", path)?;
    }
    report.dropped.push(Dropped {
        file: path.to_owned(),
        offset,
        bytes: dropped,
        reason: reason.to_owned(),
    });
    Ok(())
}

/// Starts the writer thread on a fresh segment at `next_lsn`.
fn start_writer(
    config: &WalConfig,
    dir: &Path,
    retained: Retained,
    next_lsn: Lsn,
) -> Result<Wal, OpenError> {
    let (file, path) = dir::create_segment(dir, next_lsn).opening("create a segment in", dir)?;
    let (progress_tx, progress) = watch::channel(Progress {
        acked: next_lsn - 1,
        failed: None,
    });
    let poisoned = Arc::new(AtomicBool::new(false));
    let writer = Writer {
        dir: dir.to_owned(),
        file,
        path,
        segment_first: next_lsn,
        policy: config.sync,
        interval: config.sync_interval,
        written: next_lsn - 1,
        pending: next_lsn - 1,
        dirty: false,
        synced_at: Instant::now(),
        buf: Vec::with_capacity(1 << 16),
        progress: progress_tx,
        poisoned: poisoned.clone(),
        stats: Stats::default(),
    };
    let (commands, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("distgo-wal-writer".into())
        .spawn(move || writer.run(receiver))
        .opening("start the writer thread for", dir)?;
    let durable = Durable {
        dir: dir.to_owned(),
        commands,
        progress,
        poisoned,
        thread: parking_lot::Mutex::new(Some(thread)),
    };
    Ok(Wal::new(retained, config.snapshot_bytes, Some(durable)))
}
