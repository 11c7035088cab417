//! `WALService`: list and truncate the write-ahead log.
//!
//! Entries come from the store's history of records
//! ([`crate::store::History`]), one per resource a commit changed, in
//! commit order; because the history is part of the replicated state, every
//! member of a replica set lists the same entries. Their `data` is the JSON of
//! the resource after the change (empty for a delete), with the resource's
//! full name and RFC 3339 timestamps:
//!
//! ```text
//! database    {"name":"databases/shop","display_name":"Shop","created_at":"2026-11-28T15:56:54.500000000Z","updated_at":"…"}
//! collection  {"name":"databases/shop/collections/cart","description":"","created_at":"…","updated_at":"…"}
//! document    {"name":"databases/shop/collections/cart/documents/a","value":"{\"qty\": 2}","created_at":"…","updated_at":"…"}
//! ```
//!
//! A document's `value` is the client's JSON text *as a string*, so it
//! comes back byte for byte, like GetDocument's.
//!
//! **Page tokens** carry the position of the last entry (record number,
//! entry index) and are scoped to the filter: the scope string spells out the
//! time range and both enum filters, so a token used with a different filter
//! is rejected (INVALID_ARGUMENT) rather than silently paging through
//! another listing.

use std::sync::Arc;

use serde::Serialize;
use tonic::{Request, Response, Status};

use crate::{
    api::{
        gather::Gather,
        paging::{decode_token, encode_token, page_size},
        respond,
    },
    clock::Timestamp,
    error::{Error, Violation},
    proto::database::{self as pb, wal_service_server::WalService},
    replication::Replica,
    store::{Change, Entity, Entry, Filter, Listed, Mutation, Position},
};

/// Serves `worker.database.v1.WALService` from a replica's history.
#[derive(Clone, Debug)]
pub struct WalApi {
    replica: Arc<Replica>,
}

impl WalApi {
    /// The service over the history of `replica`.
    pub fn new(replica: Arc<Replica>) -> Self {
        WalApi { replica }
    }
}

#[tonic::async_trait]
impl WalService for WalApi {
    async fn list_wal_entries(
        &self,
        request: Request<pb::ListWalEntriesRequest>,
    ) -> Result<Response<pb::ListWalEntriesResponse>, Status> {
        let req = request.into_inner();
        respond("ListWALEntries", "wal", async {
            let (filter, limit) = parse_filter(&req)?;
            let scope = scope(&filter);
            let after = decode_token(&req.page_token, &scope)?
                .map(|cursor| parse_cursor(&cursor))
                .transpose()?;
            let page = self.replica.store().list_history(&filter, after, limit);
            let next_page_token = match (page.more, page.entries.last()) {
                (true, Some(last)) => encode_token(&scope, &format_cursor(last.position())),
                _ => String::new(),
            };
            let entries = page.entries.iter().map(entry).collect();
            Ok(pb::ListWalEntriesResponse {
                entries,
                next_page_token,
            })
        })
        .await
    }

    async fn truncate_wal(
        &self,
        request: Request<pb::TruncateWalRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        respond("TruncateWAL", "wal", async {
            let before = match req.before {
                Some(before) => time(&before, "before")?,
                None => self.replica.clock().now(),
            };
            self.replica.truncate_history(before).await
        })
        .await
    }
}

/// The filter and page size a request asks for, with every bad field
/// reported.
fn parse_filter(req: &pb::ListWalEntriesRequest) -> Result<(Filter, usize), Error> {
    let (start, end, entity, mutation, limit) = (
        req.start_time
            .as_ref()
            .map(|t| time(t, "start_time"))
            .transpose(),
        req.end_time
            .as_ref()
            .map(|t| time(t, "end_time"))
            .transpose(),
        entity_filter(req.entity_type_filter),
        mutation_filter(req.operation_type_filter),
        page_size(req.page_size),
    )
        .gather()?;
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(Error::invalid("end_time", "must not be before start_time"));
    }
    let filter = Filter {
        start,
        end,
        entity,
        mutation,
    };
    Ok((filter, limit))
}

fn time(ts: &prost_types::Timestamp, field: &str) -> Result<Timestamp, Violation> {
    Timestamp::from_proto(ts)
        .ok_or_else(|| Violation::new(field, "nanos must be between 0 and 999999999"))
}

fn entity_filter(value: i32) -> Result<Option<Entity>, Violation> {
    match pb::EntityType::try_from(value) {
        Ok(pb::EntityType::Unspecified) => Ok(None),
        Ok(pb::EntityType::Database) => Ok(Some(Entity::Database)),
        Ok(pb::EntityType::Collection) => Ok(Some(Entity::Collection)),
        Ok(pb::EntityType::Document) => Ok(Some(Entity::Document)),
        Err(_) => Err(Violation::new(
            "entity_type_filter",
            format!("unknown entity type {value}"),
        )),
    }
}

fn mutation_filter(value: i32) -> Result<Option<Mutation>, Violation> {
    match pb::MutationType::try_from(value) {
        Ok(pb::MutationType::Unspecified) => Ok(None),
        Ok(pb::MutationType::Create) => Ok(Some(Mutation::Create)),
        Ok(pb::MutationType::Update) => Ok(Some(Mutation::Update)),
        Ok(pb::MutationType::Delete) => Ok(Some(Mutation::Delete)),
        Err(_) => Err(Violation::new(
            "operation_type_filter",
            format!("unknown mutation type {value}"),
        )),
    }
}

/// The page-token scope: the listing's whole filter.
fn scope(filter: &Filter) -> String {
    let nanos =
        |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.as_nanos().to_string());
    format!(
        "wal start={} end={} entity={} mutation={}",
        nanos(filter.start),
        nanos(filter.end),
        filter.entity.map_or(0, |e| entity_type(e) as i32),
        filter.mutation.map_or(0, |m| mutation_type(m) as i32),
    )
}

fn format_cursor(position: Position) -> String {
    format!("{}.{}", position.seq, position.index)
}

fn parse_cursor(cursor: &str) -> Result<Position, Violation> {
    let parsed = cursor.split_once('.').and_then(|(seq, index)| {
        Some(Position {
            seq: seq.parse().ok()?,
            index: index.parse().ok()?,
        })
    });
    parsed.ok_or_else(|| Violation::new("page_token", "was not issued by this server"))
}

fn entity_type(entity: Entity) -> pb::EntityType {
    match entity {
        Entity::Database => pb::EntityType::Database,
        Entity::Collection => pb::EntityType::Collection,
        Entity::Document => pb::EntityType::Document,
    }
}

fn mutation_type(mutation: Mutation) -> pb::MutationType {
    match mutation {
        Mutation::Create => pb::MutationType::Create,
        Mutation::Update => pb::MutationType::Update,
        Mutation::Delete => pb::MutationType::Delete,
    }
}

/// The wire form of one listed entry.
fn entry(listed: &Listed) -> pb::WalEntry {
    let Entry {
        id,
        mutation,
        change,
    } = listed.entry();
    pb::WalEntry {
        id: uuid::Uuid::from_bytes(*id).to_string(),
        entity_type: entity_type(Entity::of(change)) as i32,
        operation_type: mutation_type(*mutation) as i32,
        payload: Some(payload(change)),
        timestamp: Some(listed.record.timestamp.to_proto()),
    }
}

/// The JSON of a resource in `data`; field order as in the API's messages.
#[derive(Serialize)]
struct Data<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> Data<'a> {
    fn new(name: String, created: Timestamp, updated: Timestamp) -> Self {
        Data {
            name,
            display_name: None,
            description: None,
            value: None,
            created_at: created.to_string(),
            updated_at: updated.to_string(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        // Strings and plain structs always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `data`: the resource after the change as JSON; empty once deleted.
fn data(change: &Change) -> Vec<u8> {
    let name = change.name();
    let data = match change {
        Change::Database(_, Some(row)) => Data {
            display_name: Some(&row.display_name),
            ..Data::new(name, row.created_at, row.updated_at)
        },
        Change::Collection(_, Some(row)) => Data {
            description: Some(&row.description),
            ..Data::new(name, row.created_at, row.updated_at)
        },
        Change::Document(_, Some(row)) => Data {
            value: Some(&row.value),
            ..Data::new(name, row.created_at, row.updated_at)
        },
        Change::Database(_, None) | Change::Collection(_, None) | Change::Document(_, None) => {
            return Vec::new();
        }
    };
    data.bytes()
}

fn payload(change: &Change) -> pb::wal_entry::Payload {
    use pb::wal_entry::Payload;
    let data = data(change);
    match change {
        Change::Database(db, _) => Payload::DatabasePayload(pb::DatabasePayload {
            database_id: db.database.clone(),
            data,
        }),
        Change::Collection(coll, _) => Payload::CollectionPayload(pb::CollectionPayload {
            database_id: coll.database.clone(),
            collection_id: coll.collection.clone(),
            data,
        }),
        Change::Document(doc, _) => Payload::DocumentPayload(pb::DocumentPayload {
            database_id: doc.database.clone(),
            collection_id: doc.collection.clone(),
            document_id: doc.document.clone(),
            data,
        }),
    }
}
