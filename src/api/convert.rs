//! From store rows to wire messages.

use crate::{
    error::{Error, Result},
    names::{CollectionName, DatabaseName, DocumentName},
    proto::database as pb,
    store::{Change, CollectionRow, DatabaseRow, DocumentRow, Record},
};

/// A database as the client sees it.
pub fn database(name: &DatabaseName, row: &DatabaseRow) -> pb::Database {
    pb::Database {
        name: name.to_name(),
        display_name: row.display_name.clone(),
        created_at: Some(row.created_at.to_proto()),
        updated_at: Some(row.updated_at.to_proto()),
    }
}

/// A collection as the client sees it.
pub fn collection(name: &CollectionName, row: &CollectionRow) -> pb::Collection {
    pb::Collection {
        name: name.to_name(),
        description: row.description.clone(),
        created_at: Some(row.created_at.to_proto()),
        updated_at: Some(row.updated_at.to_proto()),
    }
}

/// A document as the client sees it; `id` is input only and stays empty.
pub fn document(name: &DocumentName, row: &DocumentRow) -> pb::Document {
    pb::Document {
        name: name.to_name(),
        id: String::new(),
        value: row.value.clone(),
        created_at: Some(row.created_at.to_proto()),
        updated_at: Some(row.updated_at.to_proto()),
    }
}

/// The change a single create or update made: the last entry of its record.
pub fn written(record: &Record) -> Result<&Change> {
    record
        .entries
        .last()
        .map(|entry| &entry.change)
        .ok_or_else(|| Error::Internal(format!("record {} has no entries", record.seq)))
}

/// The database a create or update wrote.
pub fn written_database(record: &Record) -> Result<pb::Database> {
    match written(record)? {
        Change::Database(name, Some(row)) => Ok(database(name, row)),
        other => Err(unexpected(other)),
    }
}

/// The collection a create or update wrote.
pub fn written_collection(record: &Record) -> Result<pb::Collection> {
    match written(record)? {
        Change::Collection(name, Some(row)) => Ok(collection(name, row)),
        other => Err(unexpected(other)),
    }
}

/// The document a create or update wrote.
pub fn written_document(record: &Record) -> Result<pb::Document> {
    match written(record)? {
        Change::Document(name, Some(row)) => Ok(document(name, row)),
        other => Err(unexpected(other)),
    }
}

fn unexpected(change: &Change) -> Error {
    Error::Internal(format!("unexpected change to {}", change.name()))
}
