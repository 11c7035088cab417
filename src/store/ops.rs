//! Operations: what a client asks the store to do.
//!
//! An [`Op`] is a request that has already passed validation at the edge
//! (names parsed, fields within their limits, JSON checked), so the store
//! only has to decide whether it applies to the current state.

use crate::names::{CollectionName, DatabaseName, DocumentName};

/// One create, update or delete, validated for shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create a database; `id: None` lets the store pick one.
    CreateDatabase {
        /// The new database's id, or `None` for a generated one.
        id: Option<String>,
        /// Its display name.
        display_name: String,
    },
    /// Replace a database's display name.
    UpdateDatabase {
        /// Which database.
        name: DatabaseName,
        /// The new display name.
        display_name: String,
    },
    /// Delete a database and everything in it.
    DeleteDatabase {
        /// Which database.
        name: DatabaseName,
    },
    /// Create a collection; `id: None` lets the store pick one.
    CreateCollection {
        /// The database to create it in.
        parent: DatabaseName,
        /// The new collection's id, or `None` for a generated one.
        id: Option<String>,
        /// Its description.
        description: String,
    },
    /// Replace a collection's description.
    UpdateCollection {
        /// Which collection.
        name: CollectionName,
        /// The new description.
        description: String,
    },
    /// Delete a collection and its documents.
    DeleteCollection {
        /// Which collection.
        name: CollectionName,
    },
    /// Create a document; `id: None` lets the store pick one.
    CreateDocument {
        /// The collection to create it in.
        parent: CollectionName,
        /// The new document's id, or `None` for a generated one.
        id: Option<String>,
        /// Its JSON text, already checked to be an object.
        value: String,
    },
    /// Replace a document's value.
    UpdateDocument {
        /// Which document.
        name: DocumentName,
        /// The new JSON text.
        value: String,
    },
    /// Delete a document.
    DeleteDocument {
        /// Which document.
        name: DocumentName,
    },
}
