//! The log alone: appends come back after a restart, callbacks run in
//! order once entries are durable, a conflicting tail is cut, and a prefix
//! is purged in whole segments.

use std::{
    path::Path,
    sync::{Arc, mpsc},
    time::Duration,
};

use super::*;
use crate::{
    clock::Timestamp,
    config::{SyncPolicy, WalConfig},
    store::{Action, Command, LogPosition},
};

fn config(dir: &Path) -> WalConfig {
    WalConfig {
        path: Some(dir.to_owned()),
        sync: SyncPolicy::Always,
        sync_interval: Duration::from_millis(10),
        ..WalConfig::default()
    }
}

fn entry(index: u64, term: u64) -> Arc<LogEntry> {
    let command = Command::new(
        Timestamp::from_nanos(index as i64),
        [index as u8; 16],
        Action::TrimHistory {
            before: Timestamp::MIN,
        },
    );
    Arc::new(LogEntry {
        position: LogPosition {
            term,
            node: 1,
            index,
        },
        payload: Payload::Command(Arc::new(command)),
    })
}

/// Appends entries `from..=to` of `term` one request each; returns the
/// order in which their callbacks ran.
fn append(wal: &Wal, from: u64, to: u64, term: u64) -> Vec<u64> {
    let (done, order) = mpsc::channel();
    for index in from..=to {
        let done = done.clone();
        let callback: Done = Box::new(move |written| {
            assert!(written.is_ok(), "{written:?}");
            let _ = done.send(index);
        });
        wal.append(vec![entry(index, term)], callback).unwrap();
    }
    drop(done);
    order.iter().collect()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn reopen(dir: &Path) -> (Wal, Recovered) {
    Wal::open(&config(dir), Recovery::Strict, 1 << 20).unwrap()
}

#[test]
fn appended_entries_come_back_in_order_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, recovered) = reopen(dir.path());
    assert!(recovered.entries.is_empty() && recovered.snapshot.is_none());
    assert_eq!(append(&wal, 1, 50, 1), (1..=50).collect::<Vec<_>>());
    wal.close();
    let (_wal, recovered) = reopen(dir.path());
    let indexes: Vec<u64> = recovered.entries.iter().map(LogEntry::index).collect();
    assert_eq!(indexes, (1..=50).collect::<Vec<_>>());
    assert_eq!(recovered.entries[7], *entry(8, 1));
}

#[test]
fn a_conflicting_tail_is_cut_and_the_log_continues_after_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = reopen(dir.path());
    append(&wal, 1, 10, 1);
    wal.roll().unwrap();
    append(&wal, 11, 20, 1);
    block_on(wal.truncate_from(8)).unwrap();
    append(&wal, 8, 9, 2);
    wal.close();
    let (_wal, recovered) = reopen(dir.path());
    let positions: Vec<(u64, u64)> = recovered
        .entries
        .iter()
        .map(|e| (e.index(), e.position.term))
        .collect();
    let expected: Vec<(u64, u64)> = (1..=7).map(|i| (i, 1)).chain([(8, 2), (9, 2)]).collect();
    assert_eq!(positions, expected);
}

#[test]
fn purging_deletes_whole_segments_and_never_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = reopen(dir.path());
    for start in [1, 11, 21] {
        append(&wal, start, start + 9, 1);
        wal.roll().unwrap();
    }
    // Segments 1..=10, 11..=20, 21..=30 and the empty current one at 31.
    assert_eq!(
        wal.purge_through(15).unwrap(),
        1,
        "only 1..=10 is wholly covered"
    );
    assert_eq!(
        wal.purge_through(100).unwrap(),
        2,
        "the current segment stays"
    );
    append(&wal, 31, 32, 1);
    wal.close();
    let left = list_segments(dir.path()).unwrap();
    assert_eq!(left, [dir.path().join(segment_name(31))]);
    // Without a snapshot covering 1..=30 the log no longer opens: a purge
    // is only ever asked for behind a snapshot.
    let err = Wal::open(&config(dir.path()), Recovery::Strict, 1 << 20).unwrap_err();
    assert!(
        err.to_string().contains("entries 1 to 30 are missing"),
        "{err}"
    );
}

#[test]
fn after_a_failure_every_callback_hears_it_and_appends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = reopen(dir.path());
    append(&wal, 1, 2, 1);
    // The next segment is /dev/full: the roll's header write fails.
    std::os::unix::fs::symlink("/dev/full", dir.path().join(segment_name(3))).unwrap();
    assert!(wal.roll().is_err());
    assert!(wal.is_poisoned());
    let refused = wal.append(vec![entry(3, 1)], Box::new(|_| {}));
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
}
