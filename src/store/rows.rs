//! What the store keeps for each resource.
//!
//! A row holds a resource's mutable field and its two timestamps; the
//! resource's name is the key it is stored under, so it is not repeated here.
//! Document rows live behind an `Arc`: a read clones a pointer under the lock
//! and encodes the (up to 16 KiB) value after releasing it, and the log record
//! that created the row shares the same allocation.

use crate::clock::Timestamp;

/// A database's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseRow {
    /// 1-255 characters.
    pub display_name: String,
    /// Set once, at create.
    pub created_at: Timestamp,
    /// The commit time of the last change; never earlier than `created_at`.
    pub updated_at: Timestamp,
}

/// A collection's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionRow {
    /// 0-1024 characters.
    pub description: String,
    /// Set once, at create.
    pub created_at: Timestamp,
    /// The commit time of the last change; never earlier than `created_at`.
    pub updated_at: Timestamp,
}

/// A document's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRow {
    /// The JSON text exactly as the client wrote it.
    pub value: String,
    /// Set once, at create.
    pub created_at: Timestamp,
    /// The commit time of the last change; never earlier than `created_at`.
    pub updated_at: Timestamp,
}
