//! Recovery: what a restart finds, whatever state the files were left in.
//!
//! Each test writes through a real [`Store`], closes it, damages or keeps
//! the files, and opens the directory again, checking the state, the
//! listing and what recovery reports.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use super::*;
use crate::{
    clock::{SystemClock, Timestamp},
    config::{SyncPolicy, WalConfig},
    names::DatabaseName,
    store::{Op, Snapshot},
};

fn config(dir: &Path, sync: SyncPolicy, snapshot_bytes: u64) -> WalConfig {
    WalConfig {
        path: Some(dir.to_owned()),
        sync,
        sync_interval: Duration::from_millis(10),
        snapshot_bytes,
    }
}

fn open_with(dir: &Path, recovery: Recovery) -> Result<(Arc<Store>, Report), OpenError> {
    open_store(
        &config(dir, SyncPolicy::Always, 1 << 30),
        Arc::new(SystemClock),
        recovery,
    )
}

fn open(dir: &Path) -> Arc<Store> {
    open_with(dir, Recovery::Strict).unwrap().0
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn shop() -> DatabaseName {
    DatabaseName {
        database: "shop".into(),
    }
}

/// Creates `shop/cart` and `docs` documents: `docs + 2` records.
fn seed(store: &Store, docs: usize) {
    block_on(async {
        store
            .write(Op::CreateDatabase {
                id: Some("shop".into()),
                display_name: "Shop".into(),
            })
            .await
            .unwrap();
        store
            .write(Op::CreateCollection {
                parent: shop(),
                id: Some("cart".into()),
                description: "things".into(),
            })
            .await
            .unwrap();
        for n in 0..docs {
            store
                .write(Op::CreateDocument {
                    parent: shop().collection("cart"),
                    id: Some(format!("d{n:04}")),
                    value: format!("{{\"n\": {n}}}"),
                })
                .await
                .unwrap();
        }
    });
}

/// What a restart must reproduce: the state and every listed entry.
fn observe(store: &Store) -> (Snapshot, Vec<(Position, [u8; 16], Timestamp)>) {
    let page = store.wal().list(&Filter::default(), None, usize::MAX);
    let entries = page
        .entries
        .iter()
        .map(|l| (l.position(), l.entry().id, l.record.timestamp))
        .collect();
    (store.snapshot(), entries)
}

fn close(store: Arc<Store>) {
    store.wal().close();
    drop(store);
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    dir::list(dir)
        .unwrap()
        .segments
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// A directory holding one segment with `docs + 2` records, and its bytes.
fn small_log(docs: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, docs);
    close(store);
    // Opening starts a fresh (empty) segment; the records are in the first.
    let first = segments(dir.path()).remove(0);
    let bytes = fs::read(&first).unwrap();
    (dir, first, bytes)
}

/// Where each frame of a segment ends.
fn frame_ends(bytes: &[u8]) -> Vec<usize> {
    let (frames, end) = frame::scan(&bytes[frame::HEADER_LEN..], frame::HEADER_LEN);
    assert_eq!(end, frame::End::Clean);
    frames
        .iter()
        .map(|f| f.offset + frame::FRAME_HEADER_LEN + f.payload.len())
        .collect()
}

/// Opens a fresh directory holding only `bytes` as its first segment.
fn open_bytes(bytes: &[u8]) -> Result<(Arc<Store>, Report), OpenError> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(dir::segment_name(1)), bytes).unwrap();
    let opened = open_with(dir.path(), Recovery::Strict);
    if let Ok((store, _)) = &opened {
        store.wal().close();
    }
    opened
}

#[test]
fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 5);
    block_on(store.write(Op::DeleteCollection {
        name: shop().collection("cart"),
    }))
    .unwrap();
    let before = observe(&store);
    assert_eq!(before.1.len(), 2 + 5 + 6, "one entry per resource");
    close(store);

    let (store, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&store), before);
    assert_eq!((report.replayed, report.dropped.len()), (8, 0));
    // The log continues where it stopped, and survives a second restart.
    seed_more(&store);
    let before = observe(&store);
    close(store);
    assert_eq!(observe(&open(dir.path())), before);
}

fn seed_more(store: &Store) {
    block_on(store.write(Op::UpdateDatabase {
        name: shop(),
        display_name: "Shop 2".into(),
    }))
    .unwrap();
}

#[test]
fn every_sync_policy_recovers_what_it_acknowledged() {
    for sync in [SyncPolicy::Always, SyncPolicy::Interval, SyncPolicy::Never] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), sync, 1 << 30);
        let clock = Arc::new(SystemClock);
        let (store, _) = open_store(&config, clock.clone(), Recovery::Strict).unwrap();
        seed(&store, 3);
        let before = observe(&store);
        close(store);
        let (store, _) = open_store(&config, clock, Recovery::Strict).unwrap();
        assert_eq!(observe(&store), before, "{sync:?}");
    }
}

#[test]
fn a_snapshot_replaces_the_segments_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 30);
    store.wal().compact(&store).unwrap();
    seed_more(&store);
    let before = observe(&store);
    assert_eq!(
        before.1.len(),
        1,
        "only the record after the snapshot is listed"
    );
    let listing = dir::list(dir.path()).unwrap();
    assert_eq!(listing.snapshots.len(), 1);
    assert_eq!(listing.segments.len(), 1, "covered segments are deleted");
    close(store);

    let (store, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&store), before);
    assert_eq!((report.snapshot_lsn, report.replayed), (Some(32), 1));
}

#[test]
fn the_log_compacts_itself_past_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), SyncPolicy::Never, 4096);
    let clock = Arc::new(SystemClock);
    let (store, _) = open_store(&config, clock.clone(), Recovery::Strict).unwrap();
    seed(&store, 200);
    // Compaction runs on its own thread; give it a moment.
    for _ in 0..500 {
        if !store.wal().compacting.load(Ordering::Acquire) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(store.wal().retained_bytes() < 4096, "retained log bounded");
    assert_eq!(dir::list(dir.path()).unwrap().snapshots.len(), 1);
    let before = observe(&store);
    close(store);
    let (store, report) = open_store(&config, clock, Recovery::Strict).unwrap();
    assert!(report.snapshot_lsn.is_some());
    assert_eq!(observe(&store), before);
}

#[test]
fn truncation_keeps_later_entries_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 8);
    let all = observe(&store).1;
    let cut = all[5].2;
    store.wal().truncate(&store, cut).unwrap();
    let before = observe(&store);
    assert_eq!(before.1, all[5..], "entries from the cut on stay");
    close(store);
    let store = open(dir.path());
    assert_eq!(observe(&store), before);
    // Truncating to an earlier time never brings entries back.
    store.wal().truncate(&store, Timestamp::MIN).unwrap();
    assert_eq!(observe(&store).1, all[5..]);
}

#[test]
fn a_torn_tail_is_cut_with_a_warning() {
    let (dir, first, bytes) = small_log(3);
    let ends = frame_ends(&bytes);
    fs::write(&first, &bytes[..bytes.len() - 3]).unwrap();
    let (store, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(store.last_lsn(), 4);
    assert_eq!(report.dropped.len(), 1);
    let dropped = &report.dropped[0];
    assert_eq!(
        (dropped.offset, dropped.bytes),
        (ends[3] as u64, (bytes.len() - 3 - ends[3]) as u64)
    );
    assert!(dropped.reason.contains("torn"), "{}", dropped.reason);
    close(store);
    // The cut is permanent: the next start finds nothing to drop.
    let (_, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert!(report.dropped.is_empty());
}

#[test]
fn every_cut_of_a_small_log_recovers_the_whole_records_before_it() {
    let (_dir, _, bytes) = small_log(2);
    let ends = frame_ends(&bytes);
    for cut in 0..=bytes.len() {
        let (store, report) =
            open_bytes(&bytes[..cut]).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(store.last_lsn(), whole as u64, "cut at {cut}");
        let clean = cut == frame::HEADER_LEN || ends.contains(&cut);
        assert_eq!(report.dropped.is_empty(), clean, "cut at {cut}");
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let (_dir, _, bytes) = small_log(2);
    let ends = frame_ends(&bytes);
    let last_frame = ends[ends.len() - 2];
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x40;
        match open_bytes(&damaged) {
            Err(OpenError::Corrupt { offset, .. }) => {
                assert!(
                    i < last_frame || offset == 0,
                    "byte {i}: corrupt only before the tail"
                )
            }
            Err(other) => panic!("byte {i}: {other}"),
            Ok((store, report)) => {
                assert!(
                    i >= last_frame,
                    "byte {i}: damage before the tail went unnoticed"
                );
                assert_eq!(store.last_lsn(), ends.len() as u64 - 1, "byte {i}");
                assert_eq!(report.dropped.len(), 1, "byte {i}");
            }
        }
    }
}

#[test]
fn corruption_in_the_middle_stops_start_up_unless_repaired() {
    let (dir, first, bytes) = small_log(3);
    let ends = frame_ends(&bytes);
    let mut damaged = bytes.clone();
    damaged[ends[1] + 20] ^= 1;
    fs::write(&first, &damaged).unwrap();

    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let message = err.to_string();
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("offset {}", ends[1])),
        "{message}"
    );

    let (store, report) = open_with(dir.path(), Recovery::Repair).unwrap();
    assert_eq!(store.last_lsn(), 2, "the records before the damage");
    assert_eq!(report.dropped[0].offset, ends[1] as u64);
    close(store);
    let (store, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!((store.last_lsn(), report.dropped.len()), (2, 0));
}

#[test]
fn repairing_records_the_snapshot_covers_keeps_every_later_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 2);
    // A snapshot that keeps every entry listed keeps the first segment too.
    store.wal().truncate(&store, Timestamp::MIN).unwrap();
    seed_more(&store);
    let before = store.snapshot();
    close(store);
    let first = segments(dir.path()).remove(0);
    let mut bytes = fs::read(&first).unwrap();
    let ends = frame_ends(&bytes);
    bytes[ends[0] + 20] ^= 1;
    fs::write(&first, &bytes).unwrap();

    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt { file, .. } if *file == first),
        "{err}"
    );
    let (store, report) = open_with(dir.path(), Recovery::Repair).unwrap();
    assert_eq!(store.snapshot(), before, "no state lost");
    assert_eq!(report.dropped.len(), 1, "only the damaged segment was cut");
    let listed = store.wal().list(&Filter::default(), None, usize::MAX);
    let lsns: Vec<Lsn> = listed.entries.iter().map(|l| l.record.lsn).collect();
    assert_eq!(
        lsns,
        [1, 5],
        "the entries after the damage are gone from the listing"
    );
}

/// Three segments: every start begins a fresh segment, so a log written
/// over three runs has three (and no snapshot).
fn three_segments() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 2);
    close(store);
    for _ in 0..2 {
        let store = open(dir.path());
        seed_more(&store);
        close(store);
    }
    let files = segments(dir.path());
    assert_eq!(files.len(), 3);
    (dir, files)
}

#[test]
fn damage_at_the_end_of_an_older_segment_is_corruption() {
    let (dir, files) = three_segments();
    let bytes = fs::read(&files[0]).unwrap();
    fs::write(&files[0], &bytes[..bytes.len() - 1]).unwrap();
    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt { file, .. } if *file == files[0]),
        "{err}"
    );
}

#[test]
fn a_missing_segment_is_corruption() {
    let (dir, files) = three_segments();
    fs::remove_file(&files[1]).unwrap();
    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert!(
        err.to_string().contains("records 5 to 5 are missing"),
        "{err}"
    );
}

#[test]
fn a_damaged_snapshot_is_corruption_and_repair_sets_it_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 2);
    store.wal().compact(&store).unwrap();
    close(store);
    let snapshot = dir::list(dir.path()).unwrap().snapshots.remove(0).1;
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes[30] ^= 1;
    fs::write(&snapshot, &bytes).unwrap();
    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt { file, .. } if *file == snapshot),
        "{err}"
    );
    // The segments the snapshot covered are gone, so repair cannot bring
    // the state back; it fails rather than start with records missing.
    let err = open_with(dir.path(), Recovery::Repair).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(snapshot.with_extension("snap.corrupt").exists());
}

#[test]
fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    let store = open(&nested);
    seed(&store, 1);
    close(store);
    assert_eq!(open(&nested).last_lsn(), 3);
}

#[test]
fn an_unusable_directory_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let err = open_with(&file.join("wal"), Recovery::Strict).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with("wal.path: cannot use"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_poisons_the_log_but_reads_continue() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seed(&store, 0);
    // The next segment the writer creates is /dev/full: every write fails.
    std::os::unix::fs::symlink("/dev/full", dir.path().join(dir::segment_name(3))).unwrap();
    let err = store.wal().compact(&store).unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    let err = block_on(store.write(Op::DeleteDatabase { name: shop() })).unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("failed")),
        "{err}"
    );
    assert_eq!(store.get_database(&shop()).unwrap().display_name, "Shop");
}

#[test]
fn memory_mode_retains_at_most_its_budget() {
    let store = Store::new(Arc::new(SystemClock), Wal::memory_with_budget(2048));
    seed(&store, 100);
    assert!(store.wal().retained_bytes() < 2048);
    let listed = store.wal().list(&Filter::default(), None, usize::MAX);
    let last = listed.entries.last().unwrap();
    assert_eq!(last.record.lsn, 102, "the newest records are kept");
}
