//! Log records: the unit of change.
//!
//! Every successful write, whether one request, a cascade delete or a whole
//! transaction, becomes exactly one [`Record`]. A record says *what the state
//! looks like afterwards* for each resource it touched, not *what the client
//! asked for*:
//!
//! ```text
//! client asks:  DeleteCollection databases/shop/collections/cart
//! record 42 @ 2026-11-28T15:56:54.5Z
//!   entry 1  DELETE document   databases/shop/collections/cart/documents/a
//!   entry 2  DELETE document   databases/shop/collections/cart/documents/b
//!   entry 3  DELETE collection databases/shop/collections/cart
//! ```
//!
//! Deciding everything up front (the commit timestamp, generated ids, entry
//! UUIDs, the list of cascaded children) makes applying a record a pure
//! function of the state: replaying the log after a crash, or applying the
//! same records on a replica, always produces the same state. That is the
//! property a replicated log (Raft) needs from its state machine.
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

/// Log sequence number: the position of a record in commit order, from 1.
pub type Lsn = u64;

/// One atomic change to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Position in commit order.
    pub lsn: Lsn,
    /// Commit time, shared by every entry; strictly increasing with `lsn`.
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
