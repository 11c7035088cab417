//! Successful responses, and their YAML form for transcripts and reports.

use serde_yaml::{Mapping, Value};

use super::fields::format_time;
use crate::proto::database::{self as pb, EntityType, MutationType, wal_entry::Payload};

/// The response of a successful [`Call`](super::Call).
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Reply {
    Database(pb::Database),
    Databases(pb::ListDatabasesResponse),
    Collection(pb::Collection),
    Collections(pb::ListCollectionsResponse),
    Document(pb::Document),
    Documents(pb::ListDocumentsResponse),
    Begin(pb::BeginResponse),
    WalEntries(pb::ListWalEntriesResponse),
    /// `google.protobuf.Empty`.
    Empty,
}

impl Reply {
    /// The response as YAML: every field, defaults included, so that a
    /// missing field shows as a difference. Timestamps are `SECONDS.NANOS`.
    pub fn to_yaml(&self) -> Value {
        match self {
            Reply::Database(d) => database(d),
            Reply::Databases(r) => list(
                "databases",
                r.databases.iter().map(database),
                &r.next_page_token,
            ),
            Reply::Collection(c) => collection(c),
            Reply::Collections(r) => list(
                "collections",
                r.collections.iter().map(collection),
                &r.next_page_token,
            ),
            Reply::Document(d) => document(d),
            Reply::Documents(r) => list(
                "documents",
                r.documents.iter().map(document),
                &r.next_page_token,
            ),
            Reply::Begin(r) => map([("transaction_id", r.transaction_id.as_str().into())]),
            Reply::WalEntries(r) => list(
                "entries",
                r.entries.iter().map(wal_entry),
                &r.next_page_token,
            ),
            Reply::Empty => Value::Mapping(Mapping::new()),
        }
    }
}

fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Mapping(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn time(ts: Option<&prost_types::Timestamp>) -> Value {
    ts.map_or(Value::Null, |ts| Value::from(format_time(ts)))
}

fn list(key: &str, items: impl Iterator<Item = Value>, token: &str) -> Value {
    map([
        (key, Value::Sequence(items.collect())),
        ("next_page_token", token.into()),
    ])
}

fn database(d: &pb::Database) -> Value {
    map([
        ("name", d.name.as_str().into()),
        ("display_name", d.display_name.as_str().into()),
        ("created_at", time(d.created_at.as_ref())),
        ("updated_at", time(d.updated_at.as_ref())),
    ])
}

fn collection(c: &pb::Collection) -> Value {
    map([
        ("name", c.name.as_str().into()),
        ("description", c.description.as_str().into()),
        ("created_at", time(c.created_at.as_ref())),
        ("updated_at", time(c.updated_at.as_ref())),
    ])
}

fn document(d: &pb::Document) -> Value {
    map([
        ("name", d.name.as_str().into()),
        ("id", d.id.as_str().into()),
        ("value", d.value.as_str().into()),
        ("created_at", time(d.created_at.as_ref())),
        ("updated_at", time(d.updated_at.as_ref())),
    ])
}

/// A log entry's payload: the ids it names (database, collection,
/// document, as far as its entity goes) and its data.
pub fn wal_payload(e: &pb::WalEntry) -> (Vec<&str>, &[u8]) {
    match &e.payload {
        Some(Payload::DatabasePayload(p)) => (vec![&p.database_id], &p.data),
        Some(Payload::CollectionPayload(p)) => (vec![&p.database_id, &p.collection_id], &p.data),
        Some(Payload::DocumentPayload(p)) => (
            vec![&p.database_id, &p.collection_id, &p.document_id],
            &p.data,
        ),
        None => (Vec::new(), &[]),
    }
}

fn wal_entry(e: &pb::WalEntry) -> Value {
    let entity = EntityType::try_from(e.entity_type).map_or("?", |t| t.as_str_name());
    let op = MutationType::try_from(e.operation_type).map_or("?", |t| t.as_str_name());
    let (ids, data) = wal_payload(e);
    map([
        ("id", e.id.as_str().into()),
        ("entity_type", entity.into()),
        ("operation_type", op.into()),
        (
            "ids",
            Value::Sequence(ids.into_iter().map(Value::from).collect()),
        ),
        ("data", String::from_utf8_lossy(data).into_owned().into()),
        ("timestamp", time(e.timestamp.as_ref())),
    ])
}
