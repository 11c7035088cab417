//! The history: the recent records that ListWALEntries serves.
//!
//! ```text
//!   trimmed (budget, TruncateWAL)      held (this deque)
//! ─────────────────────────────────┬──────────────────────────────┬──▶ seq
//!                           first_retained                   next_seq
//! ```
//!
//! The history is part of the state, not of the log. Every record that
//! applying a command yields is pushed here as the same `Arc<Record>` the
//! write returned, so a held entry shares its row (and a document's JSON)
//! with the tree instead of copying it. And because applying is
//! deterministic, so is the history: the same records, trimmed at the same
//! points, on every replica, which is why ListWALEntries answers the same
//! on every member of a replica set. A snapshot carries it whole, so a
//! replica that catches up by snapshot lists the same entries too.
//!
//! **Trimming is a sliding window.** The records held are the newest ones
//! whose encoded size fits in the budget (`wal.history_bytes`): each push
//! drops the oldest records that no longer fit, usually one or none, so
//! the cost is spread evenly over the writes instead of arriving as one
//! large cut. The dropped records are handed back to the caller, who frees
//! them after releasing the store's lock. TruncateWAL moves the front
//! further, by time.
//!
//! The deque is a contiguous run of record numbers ([`Seq`]), which makes
//! finding a page token's position O(1) (`seq - front`), and, because
//! commit times strictly increase with the number, finding the start of a
//! time range a binary search.
//!
//! A listing walks entries in commit order: by record number, then by the
//! entry's index in its record. A page ends at a [`Position`], which the
//! service puts in its page token; because a position names a place in the
//! history rather than an entry, it stays valid when the entry is trimmed:
//! the next page then starts at the oldest entry still held.

use std::{collections::VecDeque, sync::Arc};

use crate::{
    clock::Timestamp,
    store::{
        codec::record_len,
        record::{Change, Entry, Mutation, Record, Seq},
    },
};

/// Recent records, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    records: VecDeque<Arc<Record>>,
    /// Sum of the encoded sizes of `records`.
    bytes: u64,
    /// The most bytes of records held.
    budget: u64,
    /// The oldest record number a listing may show.
    first_retained: Seq,
    /// The number the next record will have.
    next_seq: Seq,
}

/// Records the history let go of, to be freed outside the store's lock.
pub(crate) type Garbage = Vec<Arc<Record>>;

impl History {
    /// An empty history that holds about `budget` bytes of records.
    pub fn new(budget: u64) -> Self {
        History {
            records: VecDeque::new(),
            bytes: 0,
            budget,
            first_retained: 1,
            next_seq: 1,
        }
    }

    /// A history holding `records` (consecutive, from `first_retained` on)
    /// whose next record is `next_seq` (a snapshot being loaded).
    pub fn from_parts(
        budget: u64,
        first_retained: Seq,
        next_seq: Seq,
        records: Vec<Arc<Record>>,
    ) -> Self {
        let bytes = records.iter().map(|r| size(r)).sum();
        History {
            records: records.into(),
            bytes,
            budget,
            first_retained,
            next_seq,
        }
    }

    /// The records held, oldest first (writing a snapshot).
    pub fn records(&self) -> impl ExactSizeIterator<Item = &Arc<Record>> {
        self.records.iter()
    }

    /// The number the next record will have.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// The oldest record number a listing may show.
    pub fn first_retained(&self) -> Seq {
        self.first_retained
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encoded bytes of the records held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends the next record, then lets go of the oldest ones that no
    /// longer fit in the budget (the newest record always stays).
    pub(crate) fn push(&mut self, record: Arc<Record>, garbage: &mut Garbage) {
        self.next_seq = record.seq + 1;
        self.bytes += size(&record);
        self.records.push_back(record);
        while self.bytes > self.budget && self.records.len() > 1 {
            self.pop_front(garbage);
        }
    }

    /// Lets go of every record committed before `time` (TruncateWAL).
    /// Returns how many went.
    pub(crate) fn trim_before(&mut self, time: Timestamp, garbage: &mut Garbage) -> usize {
        let before = garbage.len();
        while self.records.front().is_some_and(|r| r.timestamp < time) {
            self.pop_front(garbage);
        }
        if self.records.is_empty() {
            self.first_retained = self.next_seq;
        }
        garbage.len() - before
    }

    fn pop_front(&mut self, garbage: &mut Garbage) {
        if let Some(record) = self.records.pop_front() {
            self.bytes -= size(&record);
            self.first_retained = record.seq + 1;
            garbage.push(record);
        }
    }

    /// The number of the first record committed at or after `time`, or the
    /// next number if there is none.
    pub(crate) fn first_at_or_after(&self, time: Timestamp) -> Seq {
        let index = self.records.partition_point(|r| r.timestamp < time);
        self.records.get(index).map_or(self.next_seq, |r| r.seq)
    }

    /// The index of the first record numbered at least `seq`.
    fn index_of(&self, seq: Seq) -> usize {
        match self.records.front() {
            Some(front) => {
                let offset = seq.saturating_sub(front.seq);
                usize::try_from(offset).map_or(self.records.len(), |o| o.min(self.records.len()))
            }
            None => 0,
        }
    }

    /// Up to `max` records numbered `from` or later, sharing their `Arc`s: a
    /// listing copies pointers under the lock and filters outside it.
    pub(crate) fn chunk(&self, from: Seq, max: usize) -> Vec<Arc<Record>> {
        let index = self.index_of(from);
        self.records.range(index..).take(max).cloned().collect()
    }
}

/// Two histories are equal when they list the same records from the same
/// place on (the budget is configuration, not state).
impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        self.first_retained == other.first_retained
            && self.next_seq == other.next_seq
            && self.records == other.records
    }
}

impl Eq for History {}

fn size(record: &Record) -> u64 {
    record_len(record) as u64
}

/// Records copied per lock acquisition while listing.
pub(crate) const CHUNK: usize = 1024;

/// The kind of resource an entry changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A database.
    Database,
    /// A collection.
    Collection,
    /// A document.
    Document,
}

impl Entity {
    /// The kind of resource `change` is about.
    pub fn of(change: &Change) -> Self {
        match change {
            Change::Database(..) => Entity::Database,
            Change::Collection(..) => Entity::Collection,
            Change::Document(..) => Entity::Document,
        }
    }
}

/// Which entries a listing returns; `None` fields do not filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only entries committed at or after this time.
    pub start: Option<Timestamp>,
    /// Only entries committed before this time.
    pub end: Option<Timestamp>,
    /// Only entries about this kind of resource.
    pub entity: Option<Entity>,
    /// Only entries of this mutation.
    pub mutation: Option<Mutation>,
}

impl Filter {
    fn admits(&self, entry: &Entry) -> bool {
        self.entity.is_none_or(|e| e == Entity::of(&entry.change))
            && self.mutation.is_none_or(|m| m == entry.mutation)
    }
}

/// A place in the history: the entry `index` of record `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The record.
    pub seq: Seq,
    /// The entry within it, from 0.
    pub index: usize,
}

/// One listed entry: its record (for the commit time) and its index.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The record holding the entry.
    pub record: Arc<Record>,
    /// The entry's index in `record.entries`.
    pub index: usize,
}

impl Listed {
    /// The entry itself.
    pub fn entry(&self) -> &Entry {
        &self.record.entries[self.index]
    }

    /// Where the entry is, for a page token.
    pub fn position(&self) -> Position {
        Position {
            seq: self.record.seq,
            index: self.index,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct HistoryPage {
    /// At most the requested number of entries, in commit order.
    pub entries: Vec<Listed>,
    /// Whether a matching entry follows the last one.
    pub more: bool,
}

/// Walks the history from record `first` on, fetching it in chunks with
/// `chunk(from)` (which takes the store's read lock for each call, so a
/// listing whose filter matches almost nothing never holds up writers for
/// long).
pub(crate) fn list(
    mut chunk: impl FnMut(Seq) -> Vec<Arc<Record>>,
    first: Seq,
    filter: &Filter,
    after: Option<Position>,
    limit: usize,
) -> HistoryPage {
    let mut entries = Vec::with_capacity(limit.min(CHUNK));
    let start = filter.start.unwrap_or(Timestamp::MIN);
    let mut from = after.map_or(first, |after| first.max(after.seq));
    let done = |entries, more| HistoryPage { entries, more };
    loop {
        let records = chunk(from);
        if records.is_empty() {
            return done(entries, false);
        }
        for record in records {
            if filter.end.is_some_and(|end| record.timestamp >= end) {
                return done(entries, false);
            }
            from = record.seq + 1;
            if record.timestamp < start {
                continue;
            }
            for (index, entry) in record.entries.iter().enumerate() {
                let position = Position {
                    seq: record.seq,
                    index,
                };
                if after.is_some_and(|after| position <= after) || !filter.admits(entry) {
                    continue;
                }
                if entries.len() == limit {
                    return done(entries, true);
                }
                entries.push(Listed {
                    record: record.clone(),
                    index,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: Seq, nanos: i64) -> Arc<Record> {
        Arc::new(Record {
            seq,
            timestamp: Timestamp::from_nanos(nanos),
            entries: Vec::new(),
        })
    }

    fn seqs(history: &History) -> Vec<Seq> {
        history.records().map(|r| r.seq).collect()
    }

    fn filled(budget: u64) -> History {
        let mut history = History::new(budget);
        let mut garbage = Vec::new();
        for seq in 1..=5 {
            history.push(record(seq, seq as i64 * 10), &mut garbage);
        }
        history
    }

    #[test]
    fn time_ranges_are_binary_searches_over_commit_time() {
        let history = filled(u64::MAX);
        assert_eq!(history.first_at_or_after(Timestamp::from_nanos(0)), 1);
        assert_eq!(history.first_at_or_after(Timestamp::from_nanos(30)), 3);
        assert_eq!(history.first_at_or_after(Timestamp::from_nanos(31)), 4);
        assert_eq!(history.first_at_or_after(Timestamp::from_nanos(99)), 6);
    }

    #[test]
    fn the_window_slides_one_record_at_a_time_past_the_budget() {
        let one = size(&record(1, 10));
        let mut history = filled(3 * one);
        assert_eq!(seqs(&history), [3, 4, 5]);
        assert_eq!((history.first_retained(), history.bytes()), (3, 3 * one));
        let mut garbage = Vec::new();
        history.push(record(6, 60), &mut garbage);
        assert_eq!(seqs(&history), [4, 5, 6]);
        assert_eq!(
            garbage.len(),
            1,
            "exactly the one record that no longer fits"
        );
    }

    #[test]
    fn the_newest_record_stays_even_past_the_budget() {
        let history = filled(1);
        assert_eq!(seqs(&history), [5]);
    }

    #[test]
    fn trimming_by_time_moves_the_front_and_never_back() {
        let mut history = filled(u64::MAX);
        let mut garbage = Vec::new();
        assert_eq!(
            history.trim_before(Timestamp::from_nanos(30), &mut garbage),
            2
        );
        assert_eq!(
            (seqs(&history), history.first_retained()),
            (vec![3, 4, 5], 3)
        );
        assert_eq!(
            history.trim_before(Timestamp::from_nanos(5), &mut garbage),
            0
        );
        assert_eq!(history.first_retained(), 3);
        history.trim_before(Timestamp::MAX, &mut garbage);
        assert_eq!((history.len(), history.first_retained()), (0, 6));
        history.push(record(6, 60), &mut garbage);
        assert_eq!(seqs(&history), [6]);
    }

    #[test]
    fn positions_are_offsets_from_the_front() {
        let mut history = filled(u64::MAX);
        history.trim_before(Timestamp::from_nanos(30), &mut Vec::new());
        assert_eq!(history.index_of(1), 0);
        assert_eq!(history.index_of(4), 1);
        assert_eq!(history.index_of(9), 3);
        assert_eq!(history.chunk(4, 1)[0].seq, 4);
    }
}
