//! The retained log: the recent records that ListWALEntries serves.
//!
//! ```text
//!   compacted or truncated        retained (this deque)
//! ─────────────────────────┬─────────────────────────────────┬──▶ lsn
//!                   first_retained                      next_lsn
//!                   (persisted in the snapshot)
//! ```
//!
//! Every record the store commits is pushed here as the same `Arc<Record>`
//! the store built, so a retained entry shares its row (and a document's
//! JSON) with the state instead of copying it. The deque is a contiguous run
//! of LSNs, which makes finding a page token's position O(1) (`lsn -
//! front`), and, because commit timestamps strictly increase with the LSN,
//! finding the start of a time range a binary search.
//!
//! The front moves forward only by [`Retained::drop_before`]: when the log
//! passes `wal.snapshot_bytes` (compaction: everything the snapshot covers
//! goes) and on TruncateWAL (entries before a time go). The same deque, with
//! the same rules, serves memory-only mode and file mode; in file mode it is
//! rebuilt after a restart from the segments, starting at `first_retained`,
//! so a listing is the same before and after a restart.

use std::{collections::VecDeque, sync::Arc};

use crate::{
    clock::Timestamp,
    store::{Lsn, Record},
};

/// A record and the bytes it takes in the log.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) record: Arc<Record>,
    pub(crate) size: u64,
}

/// Recent records, oldest first.
#[derive(Debug)]
pub(crate) struct Retained {
    records: VecDeque<Held>,
    /// Sum of `size` over `records`.
    bytes: u64,
    /// The oldest LSN a listing may show (everything before is gone).
    first_retained: Lsn,
    /// The LSN the next pushed record will have.
    next_lsn: Lsn,
}

impl Retained {
    /// An empty log whose next record is `next_lsn`.
    pub(crate) fn new(first_retained: Lsn, next_lsn: Lsn) -> Self {
        Retained {
            records: VecDeque::new(),
            bytes: 0,
            first_retained,
            next_lsn,
        }
    }

    /// Moves the next LSN forward after recovery, when the snapshot covers
    /// more than the records pushed.
    pub(crate) fn resume_at(&mut self, next_lsn: Lsn) {
        self.next_lsn = self.next_lsn.max(next_lsn);
    }

    /// Appends the next record. Records arrive in LSN order because the
    /// store pushes them under its write lock.
    pub(crate) fn push(&mut self, record: Arc<Record>, size: u64) {
        self.next_lsn = record.lsn + 1;
        if record.lsn < self.first_retained {
            return;
        }
        self.bytes += size;
        self.records.push_back(Held { record, size });
    }

    /// Bytes of the records held.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of records held.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The oldest LSN a listing may show.
    pub(crate) fn first_retained(&self) -> Lsn {
        self.first_retained
    }

    /// The LSN the next record will have.
    pub(crate) fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// The LSN of the first record committed at or after `time`, or the next
    /// LSN if there is none.
    pub(crate) fn first_at_or_after(&self, time: Timestamp) -> Lsn {
        let index = self
            .records
            .partition_point(|held| held.record.timestamp < time);
        self.lsn_at(index)
    }

    /// The index of the first record with an LSN of at least `lsn`.
    pub(crate) fn index_of(&self, lsn: Lsn) -> usize {
        match self.records.front() {
            Some(front) => {
                let offset = lsn.saturating_sub(front.record.lsn);
                usize::try_from(offset).map_or(self.records.len(), |o| o.min(self.records.len()))
            }
            None => 0,
        }
    }

    /// The LSN of the record at `index`, or the next LSN past the end.
    fn lsn_at(&self, index: usize) -> Lsn {
        self.records
            .get(index)
            .map_or(self.next_lsn, |held| held.record.lsn)
    }

    /// Up to `max` records from `index` on, sharing their `Arc`s: a listing
    /// copies pointers under the lock and filters outside it.
    pub(crate) fn chunk(&self, index: usize, max: usize) -> Vec<Arc<Record>> {
        self.records
            .range(index.min(self.records.len())..)
            .take(max)
            .map(|held| held.record.clone())
            .collect()
    }

    /// Forgets every record before `lsn` and returns them, so the caller can
    /// free them after releasing the lock. `first_retained` never moves back.
    pub(crate) fn drop_before(&mut self, lsn: Lsn) -> VecDeque<Held> {
        self.first_retained = self.first_retained.max(lsn.min(self.next_lsn));
        let count = self.index_of(self.first_retained);
        let mut rest = self.records.split_off(count);
        std::mem::swap(&mut rest, &mut self.records);
        self.bytes -= rest.iter().map(|held| held.size).sum::<u64>();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(lsn: Lsn, nanos: i64) -> Arc<Record> {
        Arc::new(Record {
            lsn,
            timestamp: Timestamp::from_nanos(nanos),
            entries: Vec::new(),
        })
    }

    fn lsns(retained: &Retained) -> Vec<Lsn> {
        retained
            .chunk(0, usize::MAX)
            .iter()
            .map(|r| r.lsn)
            .collect()
    }

    fn filled() -> Retained {
        let mut retained = Retained::new(1, 1);
        for lsn in 1..=5 {
            retained.push(record(lsn, lsn as i64 * 10), 100);
        }
        retained
    }

    #[test]
    fn time_ranges_are_binary_searches_over_commit_time() {
        let retained = filled();
        assert_eq!(retained.first_at_or_after(Timestamp::from_nanos(0)), 1);
        assert_eq!(retained.first_at_or_after(Timestamp::from_nanos(30)), 3);
        assert_eq!(retained.first_at_or_after(Timestamp::from_nanos(31)), 4);
        assert_eq!(retained.first_at_or_after(Timestamp::from_nanos(99)), 6);
    }

    #[test]
    fn dropping_a_prefix_frees_its_bytes_and_never_moves_back() {
        let mut retained = filled();
        let dropped = retained.drop_before(3);
        assert_eq!(dropped.len(), 2);
        assert_eq!((lsns(&retained), retained.bytes()), (vec![3, 4, 5], 300));
        retained.drop_before(2);
        assert_eq!(retained.first_retained(), 3);
        assert_eq!(lsns(&retained), [3, 4, 5]);
        retained.drop_before(100);
        assert_eq!((retained.len(), retained.first_retained()), (0, 6));
        retained.push(record(6, 60), 7);
        assert_eq!((lsns(&retained), retained.bytes()), (vec![6], 7));
    }

    #[test]
    fn positions_are_offsets_from_the_front() {
        let mut retained = filled();
        retained.drop_before(3);
        assert_eq!(retained.index_of(1), 0);
        assert_eq!(retained.index_of(4), 1);
        assert_eq!(retained.index_of(9), 3);
        assert_eq!(retained.chunk(1, 1)[0].lsn, 4);
    }

    #[test]
    fn records_before_the_truncation_point_are_not_held() {
        // Recovery pushes every record of the segments; only those at or
        // after the persisted truncation point are listed again.
        let mut retained = Retained::new(3, 3);
        for lsn in 1..=4 {
            retained.push(record(lsn, lsn as i64), 1);
        }
        assert_eq!((lsns(&retained), retained.bytes()), (vec![3, 4], 2));
        retained.resume_at(9);
        assert_eq!(retained.next_lsn(), 9);
        retained.resume_at(2);
        assert_eq!(retained.next_lsn(), 9);
    }
}
