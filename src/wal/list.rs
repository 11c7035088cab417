//! Listing the retained log: ListWALEntries without the wire types.
//!
//! A listing walks entries in commit order: by record LSN, then by the
//! entry's index in its record. A page ends at a [`Position`] (LSN, index),
//! which the service puts in its page token; the next page starts right
//! after it. Because a position names a place in the log rather than an
//! entry, it stays valid when TruncateWAL or compaction drops that entry:
//! the next page then starts at the oldest entry still retained.
//!
//! The walk copies up to [`CHUNK`] record pointers at a time under the
//! retained log's lock and filters them outside it, so even a listing with a
//! filter that matches almost nothing never holds up the store's writers for
//! long (they take the same lock to append).

use std::sync::Arc;

use crate::{
    clock::Timestamp,
    store::{Change, Entry, Lsn, Mutation, Record},
    wal::Wal,
};

/// Records copied per lock acquisition.
const CHUNK: usize = 1024;

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

/// A place in the log: the entry `index` of record `lsn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The record.
    pub lsn: Lsn,
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
            lsn: self.record.lsn,
            index: self.index,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct WalPage {
    /// At most the requested number of entries, in commit order.
    pub entries: Vec<Listed>,
    /// Whether a matching entry follows the last one.
    pub more: bool,
}

impl Wal {
    /// Up to `limit` retained entries that `filter` admits, strictly after
    /// `after` (or from the start).
    pub fn list(&self, filter: &Filter, after: Option<Position>, limit: usize) -> WalPage {
        let mut entries = Vec::with_capacity(limit.min(CHUNK));
        let start = filter.start.unwrap_or(Timestamp::MIN);
        let mut from = self.retained.lock().first_at_or_after(start);
        if let Some(after) = after {
            from = from.max(after.lsn);
        }
        loop {
            let chunk = {
                let retained = self.retained.lock();
                retained.chunk(retained.index_of(from), CHUNK)
            };
            if chunk.is_empty() {
                return WalPage {
                    entries,
                    more: false,
                };
            }
            for record in chunk {
                if filter.end.is_some_and(|end| record.timestamp >= end) {
                    return WalPage {
                        entries,
                        more: false,
                    };
                }
                from = record.lsn + 1;
                if record.timestamp < start {
                    continue;
                }
                for (index, entry) in record.entries.iter().enumerate() {
                    let position = Position {
                        lsn: record.lsn,
                        index,
                    };
                    if after.is_some_and(|after| position <= after) || !filter.admits(entry) {
                        continue;
                    }
                    if entries.len() == limit {
                        return WalPage {
                            entries,
                            more: true,
                        };
                    }
                    entries.push(Listed {
                        record: record.clone(),
                        index,
                    });
                }
            }
        }
    }
}
