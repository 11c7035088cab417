//! Recovery: what a restart finds, whatever state the files were left in.
//!
//! Each test writes through a real standalone [`Replica`], closes it,
//! damages or keeps the files, and opens the directory again, checking the
//! state, the history and what recovery reports.

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
    store::{Filter, Position, Snapshot},
    wal::{OpenError, frame},
};

fn config(dir: &Path, sync: SyncPolicy, snapshot_bytes: u64) -> WalConfig {
    WalConfig {
        path: Some(dir.to_owned()),
        sync,
        sync_interval: Duration::from_millis(10),
        snapshot_bytes,
        ..WalConfig::default()
    }
}

fn open_with(dir: &Path, recovery: Recovery) -> Result<(Replica, Report), OpenError> {
    Replica::open_standalone(
        &config(dir, SyncPolicy::Always, 1 << 30),
        Arc::new(SystemClock),
        recovery,
    )
}

fn open(dir: &Path) -> Replica {
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

/// Creates `shop/cart` and `docs` documents: `docs + 2` entries.
fn seed(replica: &Replica, docs: usize) {
    block_on(async {
        replica
            .write(
                Op::CreateDatabase {
                    id: Some("shop".into()),
                    display_name: "Shop".into(),
                },
                None,
            )
            .await
            .unwrap();
        replica
            .write(
                Op::CreateCollection {
                    parent: shop(),
                    id: Some("cart".into()),
                    description: "things".into(),
                },
                None,
            )
            .await
            .unwrap();
        for n in 0..docs {
            replica
                .write(
                    Op::CreateDocument {
                        parent: shop().collection("cart"),
                        id: Some(format!("d{n:04}")),
                        value: format!("{{\"n\": {n}}}"),
                    },
                    None,
                )
                .await
                .unwrap();
        }
    });
}

fn seed_more(replica: &Replica) {
    block_on(replica.write(
        Op::UpdateDatabase {
            name: shop(),
            display_name: "Shop 2".into(),
        },
        None,
    ))
    .unwrap();
}

/// What a restart must reproduce: the state (with its history and log
/// position) and every listed entry, with its id and time.
type Observed = (Snapshot, Vec<(Position, [u8; 16], Timestamp)>);

fn observe(replica: &Replica) -> Observed {
    let page = replica
        .store()
        .list_history(&Filter::default(), None, usize::MAX);
    let entries = page
        .entries
        .iter()
        .map(|l| (l.position(), l.entry().id, l.record.timestamp))
        .collect();
    (replica.store().snapshot(), entries)
}

fn applied(replica: &Replica) -> u64 {
    replica.store().applied().map_or(0, |p| p.index)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    crate::wal::list_segments(dir).unwrap()
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    crate::wal::list_snapshots(dir).unwrap()
}

/// A directory holding one segment with `docs + 2` entries, and its bytes.
fn small_log(docs: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, docs);
    replica.close_standalone();
    // Opening starts a fresh (empty) segment; the entries are in the first.
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
fn open_bytes(bytes: &[u8]) -> Result<(Replica, Report), OpenError> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(crate::wal::segment_name(1)), bytes).unwrap();
    let opened = open_with(dir.path(), Recovery::Strict);
    if let Ok((replica, _)) = &opened {
        replica.close_standalone();
    }
    opened
}

#[test]
fn acknowledged_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 5);
    block_on(replica.write(
        Op::DeleteCollection {
            name: shop().collection("cart"),
        },
        None,
    ))
    .unwrap();
    let before = observe(&replica);
    assert_eq!(before.1.len(), 2 + 5 + 6, "one entry per resource");
    replica.close_standalone();

    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&replica), before);
    assert_eq!((report.entries, report.dropped.len()), (8, 0));
    // The log continues where it stopped, and survives a second restart.
    seed_more(&replica);
    let before = observe(&replica);
    replica.close_standalone();
    assert_eq!(observe(&open(dir.path())), before);
}

#[test]
fn a_failed_command_is_logged_and_fails_again_the_same_way_on_replay() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 0);
    let again = block_on(replica.write(
        Op::CreateDatabase {
            id: Some("shop".into()),
            display_name: "Other".into(),
        },
        None,
    ));
    assert!(matches!(again, Err(Error::AlreadyExists(_))), "{again:?}");
    assert_eq!(applied(&replica), 3, "the failed command is an entry");
    let before = observe(&replica);
    replica.close_standalone();
    let replica = open(dir.path());
    assert_eq!(observe(&replica), before);
    let row = replica.store().get_database(&shop()).unwrap();
    assert_eq!(row.display_name, "Shop");
}

#[test]
fn every_sync_policy_recovers_what_it_acknowledged() {
    for sync in [SyncPolicy::Always, SyncPolicy::Interval, SyncPolicy::Never] {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), sync, 1 << 30);
        let clock = Arc::new(SystemClock);
        let (replica, _) =
            Replica::open_standalone(&config, clock.clone(), Recovery::Strict).unwrap();
        seed(&replica, 3);
        let before = observe(&replica);
        replica.close_standalone();
        let (replica, _) = Replica::open_standalone(&config, clock, Recovery::Strict).unwrap();
        assert_eq!(observe(&replica), before, "{sync:?}");
    }
}

#[test]
fn snapshots_keep_two_generations_and_the_log_after_the_older() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 10);
    for _ in 0..3 {
        replica.compact_now().unwrap();
        seed_more(&replica);
    }
    assert_eq!(snapshots(dir.path()).len(), 2, "two generations");
    // The log from the older snapshot on is kept: restarting from it alone
    // must still give today's state (see the damaged-snapshot tests).
    let before = observe(&replica);
    assert_eq!(before.1.len(), 12 + 3, "compaction forgets no history");
    replica.close_standalone();
    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&replica), before);
    assert_eq!((report.snapshot_index, report.entries), (Some(14), 1));
    assert!(
        segments(dir.path()).len() <= 3,
        "older segments are deleted"
    );
}

#[test]
fn the_log_compacts_itself_past_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), SyncPolicy::Never, 4096);
    let clock = Arc::new(SystemClock);
    let (replica, _) = Replica::open_standalone(&config, clock.clone(), Recovery::Strict).unwrap();
    seed(&replica, 200);
    // Compaction runs on its own thread; closing waits for it.
    let before = observe(&replica);
    replica.close_standalone();
    assert!(!snapshots(dir.path()).is_empty(), "a snapshot was written");
    let (replica, report) = Replica::open_standalone(&config, clock, Recovery::Strict).unwrap();
    assert!(report.snapshot_index.is_some());
    assert_eq!(observe(&replica), before);
}

#[test]
fn truncation_keeps_later_entries_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 8);
    let all = observe(&replica).1;
    let cut = all[5].2;
    block_on(replica.truncate_history(cut)).unwrap();
    let before = observe(&replica);
    assert_eq!(before.1, all[5..], "entries from the cut on stay");
    replica.close_standalone();
    let replica = open(dir.path());
    assert_eq!(observe(&replica), before);
    // Truncating to an earlier time never brings entries back.
    block_on(replica.truncate_history(Timestamp::MIN)).unwrap();
    assert_eq!(observe(&replica).1, all[5..]);
}

#[test]
fn a_torn_tail_is_cut_with_a_warning() {
    let (dir, first, bytes) = small_log(3);
    let ends = frame_ends(&bytes);
    fs::write(&first, &bytes[..bytes.len() - 3]).unwrap();
    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(applied(&replica), 4);
    assert_eq!(report.dropped.len(), 1);
    let dropped = &report.dropped[0];
    assert_eq!(
        (dropped.offset, dropped.bytes),
        (ends[3] as u64, (bytes.len() - 3 - ends[3]) as u64)
    );
    assert!(dropped.reason.contains("torn"), "{}", dropped.reason);
    replica.close_standalone();
    // The cut is permanent: the next start finds nothing to drop.
    let (_, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert!(report.dropped.is_empty());
}

#[test]
fn every_cut_of_a_small_log_recovers_the_whole_entries_before_it() {
    let (_dir, _, bytes) = small_log(2);
    let ends = frame_ends(&bytes);
    for cut in 0..=bytes.len() {
        let (replica, report) =
            open_bytes(&bytes[..cut]).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(applied(&replica), whole as u64, "cut at {cut}");
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
            Ok((replica, report)) => {
                assert!(
                    i >= last_frame,
                    "byte {i}: damage before the tail went unnoticed"
                );
                assert_eq!(applied(&replica), ends.len() as u64 - 1, "byte {i}");
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
    assert!(message.contains("--repair"), "strict mode points to repair");
    assert_eq!(fs::read(&first).unwrap(), damaged, "strict changes nothing");

    let (replica, report) = open_with(dir.path(), Recovery::Repair).unwrap();
    assert_eq!(applied(&replica), 2, "the entries before the damage");
    assert_eq!(report.dropped[0].offset, ends[1] as u64);
    replica.close_standalone();
    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!((applied(&replica), report.dropped.len()), (2, 0));
}

#[test]
fn repairing_entries_a_snapshot_covers_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 2);
    replica.compact_now().unwrap();
    seed_more(&replica);
    let before = observe(&replica);
    replica.close_standalone();
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
    let (replica, report) = open_with(dir.path(), Recovery::Repair).unwrap();
    assert_eq!(report.dropped.len(), 1, "only the damaged segment was cut");
    assert_eq!(observe(&replica), before, "the snapshot covers the damage");
}

/// Three segments: every start begins a fresh segment, so a log written
/// over three runs has three (and no snapshot).
fn three_segments() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 2);
    replica.close_standalone();
    for _ in 0..2 {
        let replica = open(dir.path());
        seed_more(&replica);
        replica.close_standalone();
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
fn a_missing_segment_is_corruption_and_repair_keeps_what_precedes_it() {
    let (dir, files) = three_segments();
    fs::remove_file(&files[1]).unwrap();
    let err = open_with(dir.path(), Recovery::Strict).unwrap_err();
    assert!(
        err.to_string().contains("entries 5 to 5 are missing"),
        "{err}"
    );
    let (replica, report) = open_with(dir.path(), Recovery::Repair).unwrap();
    assert_eq!(applied(&replica), 4, "everything before the gap");
    assert!(!report.dropped.is_empty());
}

/// A replica with three snapshots written (so two are kept and the log
/// before the older one is gone), and its observed state.
fn compacted_three_times() -> (tempfile::TempDir, Observed) {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 20);
    for _ in 0..3 {
        replica.compact_now().unwrap();
        seed_more(&replica);
    }
    let before = observe(&replica);
    replica.close_standalone();
    (dir, before)
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_previous_one_with_nothing_lost() {
    let (dir, before) = compacted_three_times();
    let newest = snapshots(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&newest).unwrap();
    bytes[40] ^= 1;
    fs::write(&newest, &bytes).unwrap();
    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&replica), before);
    assert_eq!(report.snapshots_set_aside, std::slice::from_ref(&newest));
    assert!(newest.with_extension("snap.corrupt").exists());
    replica.close_standalone();
    // Set aside, the damaged file is never chosen again.
    assert_eq!(observe(&open(dir.path())), before);
}

/// Issue 12's fault injection: one random byte of the newest snapshot
/// flipped, a hundred times over; each time the state recovers whole.
#[test]
fn a_hundred_random_flips_in_the_newest_snapshot_lose_nothing() {
    use rand::{Rng, SeedableRng};
    let (dir, before) = compacted_three_times();
    let newest = snapshots(dir.path()).pop().unwrap();
    let pristine = fs::read(&newest).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for round in 0..100 {
        let copy = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
        }
        let mut bytes = pristine.clone();
        let at = rng.random_range(0..bytes.len());
        bytes[at] ^= rng.random_range(1..=255u8);
        fs::write(copy.path().join(newest.file_name().unwrap()), &bytes).unwrap();
        let (replica, _) = open_with(copy.path(), Recovery::Strict)
            .unwrap_or_else(|e| panic!("round {round}, byte {at}: {e}"));
        assert_eq!(observe(&replica), before, "round {round}, byte {at}");
        replica.close_standalone();
    }
}

#[test]
fn when_every_snapshot_is_damaged_start_up_stops_and_says_to_restore() {
    let (dir, _) = compacted_three_times();
    for snapshot in snapshots(dir.path()) {
        let mut bytes = fs::read(&snapshot).unwrap();
        bytes[40] ^= 1;
        fs::write(&snapshot, &bytes).unwrap();
    }
    for recovery in [Recovery::Strict, Recovery::Repair] {
        let err = open_with(dir.path(), recovery).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        let message = err.to_string();
        assert!(message.contains("restore"), "{message}");
        assert!(!message.contains("--repair"), "never sends back to repair");
    }
}

#[test]
fn a_damaged_only_snapshot_over_a_whole_log_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let replica = open(dir.path());
    seed(&replica, 2);
    replica.compact_now().unwrap();
    seed_more(&replica);
    let before = observe(&replica);
    replica.close_standalone();
    let snapshot = snapshots(dir.path()).remove(0);
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes[30] ^= 1;
    fs::write(&snapshot, &bytes).unwrap();
    // One snapshot: no log was purged yet, so the log alone rebuilds all.
    let (replica, report) = open_with(dir.path(), Recovery::Strict).unwrap();
    assert_eq!(observe(&replica), before);
    assert_eq!(report.snapshot_index, None);
}

#[test]
fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    let replica = open(&nested);
    seed(&replica, 1);
    replica.close_standalone();
    assert_eq!(applied(&open(&nested)), 3);
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
    let replica = open(dir.path());
    seed(&replica, 0);
    // The next segment the writer creates is /dev/full: every write fails.
    std::os::unix::fs::symlink("/dev/full", dir.path().join(crate::wal::segment_name(3))).unwrap();
    let err = replica.compact_now().unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    let err = block_on(replica.write(Op::DeleteDatabase { name: shop() }, None)).unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("failed")),
        "{err}"
    );
    let row = replica.store().get_database(&shop()).unwrap();
    assert_eq!(row.display_name, "Shop", "nothing that failed was applied");
}

#[test]
fn memory_mode_holds_at_most_its_history_budget() {
    let config = WalConfig {
        history_bytes: 2048,
        ..WalConfig::default()
    };
    let replica = Replica::memory(&config, Arc::new(SystemClock));
    seed(&replica, 100);
    assert!(replica.store().history_size().1 <= 2048);
    let listed = replica
        .store()
        .list_history(&Filter::default(), None, usize::MAX);
    let last = listed.entries.last().unwrap();
    assert_eq!(last.record.seq, 102, "the newest records are kept");
}
