//! What each result looks like: table columns and the stable JSON fields.
//!
//! The JSON (and YAML) field names below are the scripting interface of
//! `distgo --output json`; they are kept stable. Timestamps are RFC 3339
//! UTC strings with nine fractional digits (they sort as text); `id` is the
//! last segment of `name`, for convenience.
//!
//! | result | JSON fields |
//! |---|---|
//! | database | `name`, `id`, `display_name`, `created_at`, `updated_at` |
//! | collection | `name`, `id`, `description`, `created_at`, `updated_at` |
//! | document | `name`, `id`, `value` (the stored JSON, embedded verbatim), `created_at`, `updated_at` |
//! | WAL entry | `id` (UUID), `timestamp`, `operation` (`create`/`update`/`delete`), `entity` (`database`/`collection`/`document`), `name`, `data` (the resource after the change as JSON, `null` for a delete) |
//! | delete | `deleted` (the name) |
//! | import | `imported`, `skipped`, `failed`, `seconds` |
//! | transaction | `database`, `operations` (how many were committed) |
//! | health | `status` (`SERVING`, `NOT_SERVING`, ...) |
//!
//! Lists print a JSON array of these objects.

use serde::{Serialize, Serializer};

use super::{
    output::{Embedded, Show, full_time, table_time},
    path::last_id,
};
use crate::proto::database::{
    Collection, Database, Document, EntityType, MutationType, WalEntry, wal_entry::Payload,
};

#[derive(Serialize)]
struct ResourceView<'a> {
    name: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Embedded<'a>>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl<'a> ResourceView<'a> {
    fn new(
        name: &'a str,
        created_at: Option<&prost_types::Timestamp>,
        updated_at: Option<&prost_types::Timestamp>,
    ) -> Self {
        ResourceView {
            name,
            id: last_id(name),
            display_name: None,
            description: None,
            value: None,
            created_at: full_time(created_at),
            updated_at: full_time(updated_at),
        }
    }
}

impl Show for Database {
    const COLUMNS: &'static [&'static str] = &["ID", "DISPLAY NAME", "CREATED", "UPDATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            last_id(&self.name).to_owned(),
            self.display_name.clone(),
            table_time(self.created_at.as_ref()),
            table_time(self.updated_at.as_ref()),
        ]
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        ResourceView {
            display_name: Some(&self.display_name),
            ..ResourceView::new(
                &self.name,
                self.created_at.as_ref(),
                self.updated_at.as_ref(),
            )
        }
        .serialize(serializer)
    }
}

impl Show for Collection {
    const COLUMNS: &'static [&'static str] = &["ID", "DESCRIPTION", "CREATED", "UPDATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            last_id(&self.name).to_owned(),
            self.description.clone(),
            table_time(self.created_at.as_ref()),
            table_time(self.updated_at.as_ref()),
        ]
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        ResourceView {
            description: Some(&self.description),
            ..ResourceView::new(
                &self.name,
                self.created_at.as_ref(),
                self.updated_at.as_ref(),
            )
        }
        .serialize(serializer)
    }
}

impl Show for Document {
    const COLUMNS: &'static [&'static str] = &["ID", "UPDATED", "VALUE"];

    fn cells(&self) -> Vec<String> {
        vec![
            last_id(&self.name).to_owned(),
            table_time(self.updated_at.as_ref()),
            self.value.clone(),
        ]
    }

    fn alone(&self) -> Option<String> {
        Some(self.value.clone())
    }

    fn view<S: Serializer>(&self, raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        ResourceView {
            value: Some(Embedded {
                text: &self.value,
                raw,
            }),
            ..ResourceView::new(
                &self.name,
                self.created_at.as_ref(),
                self.updated_at.as_ref(),
            )
        }
        .serialize(serializer)
    }
}

/// A WAL entry with the resource name spelled out from its payload.
#[derive(Debug)]
pub struct Entry {
    /// The entry as listed.
    pub entry: WalEntry,
    /// `databases/...` of the resource it changed.
    pub name: String,
}

impl Entry {
    /// Reads the resource name out of the entry's payload.
    pub fn new(entry: WalEntry) -> Self {
        let name = match &entry.payload {
            Some(Payload::DatabasePayload(p)) => format!("databases/{}", p.database_id),
            Some(Payload::CollectionPayload(p)) => {
                format!(
                    "databases/{}/collections/{}",
                    p.database_id, p.collection_id
                )
            }
            Some(Payload::DocumentPayload(p)) => format!(
                "databases/{}/collections/{}/documents/{}",
                p.database_id, p.collection_id, p.document_id
            ),
            None => String::new(),
        };
        Entry { entry, name }
    }

    fn data(&self) -> &[u8] {
        match &self.entry.payload {
            Some(Payload::DatabasePayload(p)) => &p.data,
            Some(Payload::CollectionPayload(p)) => &p.data,
            Some(Payload::DocumentPayload(p)) => &p.data,
            None => &[],
        }
    }

    fn operation(&self) -> &'static str {
        match self.entry.operation_type() {
            MutationType::Create => "create",
            MutationType::Update => "update",
            MutationType::Delete => "delete",
            MutationType::Unspecified => "unspecified",
        }
    }

    fn entity(&self) -> &'static str {
        match self.entry.entity_type() {
            EntityType::Database => "database",
            EntityType::Collection => "collection",
            EntityType::Document => "document",
            EntityType::Unspecified => "unspecified",
        }
    }
}

#[derive(Serialize)]
struct EntryView<'a> {
    id: &'a str,
    timestamp: Option<String>,
    operation: &'static str,
    entity: &'static str,
    name: &'a str,
    data: Option<Embedded<'a>>,
}

impl Show for Entry {
    const COLUMNS: &'static [&'static str] = &["TIME", "OP", "ENTITY", "NAME"];

    fn cells(&self) -> Vec<String> {
        vec![
            table_time(self.entry.timestamp.as_ref()),
            self.operation().to_owned(),
            self.entity().to_owned(),
            self.name.clone(),
        ]
    }

    fn view<S: Serializer>(&self, raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        let data = std::str::from_utf8(self.data())
            .ok()
            .filter(|d| !d.is_empty());
        EntryView {
            id: &self.entry.id,
            timestamp: full_time(self.entry.timestamp.as_ref()),
            operation: self.operation(),
            entity: self.entity(),
            name: &self.name,
            data: data.map(|text| Embedded { text, raw }),
        }
        .serialize(serializer)
    }
}

/// The result of a move (`--output json`: these fields).
#[derive(Debug, Serialize)]
pub struct Moved {
    /// The set it was on.
    pub from_set: String,
    /// The set it is on now.
    pub to_set: String,
    /// Documents copied before the replay.
    pub copied_documents: i64,
    /// Write-ahead log entries replayed onto the target.
    pub replayed_entries: i64,
    /// How long writes waited at most, in milliseconds.
    pub write_pause_ms: f64,
}

impl From<crate::proto::master::admin::MoveDatabaseResponse> for Moved {
    fn from(moved: crate::proto::master::admin::MoveDatabaseResponse) -> Self {
        let pause = moved.write_pause.unwrap_or_default();
        #[allow(clippy::cast_precision_loss)] // milliseconds, for people
        let write_pause_ms = pause.seconds as f64 * 1e3 + f64::from(pause.nanos) / 1e6;
        Moved {
            from_set: moved.from_set,
            to_set: moved.to_set,
            copied_documents: moved.copied_documents,
            replayed_entries: moved.replayed_entries,
            write_pause_ms,
        }
    }
}

impl Show for Moved {
    const COLUMNS: &'static [&'static str] = &["FROM", "TO", "COPIED", "REPLAYED", "PAUSE"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.from_set.clone(),
            self.to_set.clone(),
            self.copied_documents.to_string(),
            self.replayed_entries.to_string(),
            format!("{:.1}ms", self.write_pause_ms),
        ]
    }

    fn alone(&self) -> Option<String> {
        Some(format!(
            "moved from {} to {}: {} documents copied, {} log entries replayed, writes paused {:.1} ms",
            self.from_set,
            self.to_set,
            self.copied_documents,
            self.replayed_entries,
            self.write_pause_ms
        ))
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

/// The result of a delete.
#[derive(Debug, Serialize)]
pub struct Deleted {
    /// The full name of what was deleted.
    pub deleted: String,
}

impl Show for Deleted {
    const COLUMNS: &'static [&'static str] = &["DELETED"];

    fn cells(&self) -> Vec<String> {
        vec![self.deleted.clone()]
    }

    fn alone(&self) -> Option<String> {
        Some(format!("deleted {}", self.deleted))
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

/// The result of `health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `SERVING`, `NOT_SERVING`, `UNKNOWN` or `SERVICE_UNKNOWN`.
    pub status: String,
}

impl Show for Health {
    const COLUMNS: &'static [&'static str] = &["STATUS"];

    fn cells(&self) -> Vec<String> {
        vec![self.status.clone()]
    }

    fn alone(&self) -> Option<String> {
        Some(self.status.clone())
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

/// The result of `tx run`.
#[derive(Debug, Serialize)]
pub struct Committed {
    /// The transaction's database.
    pub database: String,
    /// How many operations were committed.
    pub operations: usize,
}

impl Show for Committed {
    const COLUMNS: &'static [&'static str] = &["DATABASE", "OPERATIONS"];

    fn cells(&self) -> Vec<String> {
        vec![self.database.clone(), self.operations.to_string()]
    }

    fn alone(&self) -> Option<String> {
        Some(format!(
            "committed {} operation(s) in {}",
            self.operations, self.database
        ))
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}
