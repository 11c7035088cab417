//! Records: what a successful write did.
//!
//! Every command that applies, whether one request, a cascade delete or a
//! whole transaction, yields exactly one [`Record`]. Where the command in
//! the log says *what the client asked for*, the record says *what the state
//! looks like afterwards* for each resource it touched:
//!
//! ```text
//! command:  DeleteCollection databases/shop/collections/cart
//! record 42 @ 2026-11-28T15:56:54.5Z
//!   entry 1  DELETE document   databases/shop/collections/cart/documents/a
//!   entry 2  DELETE document   databases/shop/collections/cart/documents/b
//!   entry 3  DELETE collection databases/shop/collections/cart
//! ```
//!
//! Records are what ListWALEntries serves (one WAL entry per record entry,
//! kept in the store's [`History`](super::History)) and what a write's
//! response is built from. Because applying a command is deterministic,
//! every replica builds the same records, with the same entry UUIDs and
//! timestamps, so the WAL service lists the same entries on every member.
//!
//! Entries are ordered so that each one changes exactly one resource:
//! children are deleted before their parent, parents are created before their
//! children.

use std::sync::Arc;

use crate::{
    clock::Timestamp,
    names::{CollectionName, DatabaseName, DocumentName},
    store::rows::{CollectionRow, DatabaseRow, DocumentRow},
};

/// A record's number in commit order, from 1. Not a log index: a command
/// that fails is in the log but yields no record.
pub type Seq = u64;

/// One atomic change to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Position in commit order.
    pub seq: Seq,
    /// Commit time, shared by every entry; strictly increasing with `seq`.
    pub timestamp: Timestamp,
    /// The resources changed, in the order they are applied.
    pub entries: Vec<Entry>,
}

/// What happened to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The resource did not exist before.
    Create,
    /// The resource's mutable field was replaced.
    Update,
    /// The resource is gone.
    Delete,
}

/// One resource changed by a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// A UUID (version 4), unique across the log; the WAL service's entry id.
    pub id: [u8; 16],
    /// Create, update or delete.
    pub mutation: Mutation,
    /// The resource and its fields after the change (`None` once deleted).
    pub change: Change,
}

/// A resource name with its row after the change; `None` means deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A database.
    Database(DatabaseName, Option<DatabaseRow>),
    /// A collection.
    Collection(CollectionName, Option<CollectionRow>),
    /// A document.
    Document(DocumentName, Option<Arc<DocumentRow>>),
}

impl Change {
    /// The full resource name, e.g. `databases/a/collections/b`.
    pub fn name(&self) -> String {
        match self {
            Change::Database(name, _) => name.to_string(),
            Change::Collection(name, _) => name.to_string(),
            Change::Document(name, _) => name.to_string(),
        }
    }
}
