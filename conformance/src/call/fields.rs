//! Each request's fields, read from and written to script lines, and the
//! places where database ids hide in them.
//!
//! Written by hand rather than by reflection: the contract is small, and a
//! reader can see here exactly which field path each request uses.

use prost_types::{FieldMask, Timestamp};

use super::{
    Call, IdSite,
    script::{Args, Fields, Result, SyntaxError},
};
use crate::proto::database::{self as pb, EntityType, MutationType};

/// Builds the request of `method` from its arguments.
pub fn build(method: &str, a: &mut Args) -> Result<Call> {
    let call = match method {
        "ListDatabases" => Call::ListDatabases(pb::ListDatabasesRequest {
            page_size: a.i32("page_size")?,
            page_token: a.str("page_token"),
        }),
        "GetDatabase" => Call::GetDatabase(pb::GetDatabaseRequest {
            name: a.str("name"),
        }),
        "CreateDatabase" => Call::CreateDatabase(pb::CreateDatabaseRequest {
            database_id: a.str("database_id"),
            database: take_database(a, "database")?,
        }),
        "UpdateDatabase" => Call::UpdateDatabase(pb::UpdateDatabaseRequest {
            database: take_database(a, "database")?,
            update_mask: take_mask(a),
        }),
        "DeleteDatabase" => Call::DeleteDatabase(pb::DeleteDatabaseRequest {
            name: a.str("name"),
        }),
        "ListCollections" => Call::ListCollections(pb::ListCollectionsRequest {
            parent: a.str("parent"),
            page_size: a.i32("page_size")?,
            page_token: a.str("page_token"),
        }),
        "GetCollection" => Call::GetCollection(pb::GetCollectionRequest {
            name: a.str("name"),
        }),
        "CreateCollection" => Call::CreateCollection(pb::CreateCollectionRequest {
            parent: a.str("parent"),
            collection_id: a.str("collection_id"),
            collection: take_collection(a, "collection")?,
        }),
        "UpdateCollection" => Call::UpdateCollection(pb::UpdateCollectionRequest {
            collection: take_collection(a, "collection")?,
            update_mask: take_mask(a),
        }),
        "DeleteCollection" => Call::DeleteCollection(pb::DeleteCollectionRequest {
            name: a.str("name"),
        }),
        "ListDocuments" => Call::ListDocuments(pb::ListDocumentsRequest {
            parent: a.str("parent"),
            page_size: a.i32("page_size")?,
            page_token: a.str("page_token"),
        }),
        "GetDocument" => Call::GetDocument(pb::GetDocumentRequest {
            name: a.str("name"),
        }),
        "CreateDocument" => Call::CreateDocument(pb::CreateDocumentRequest {
            parent: a.str("parent"),
            document_id: a.str("document_id"),
            document: take_document(a, "document")?,
        }),
        "UpdateDocument" => Call::UpdateDocument(pb::UpdateDocumentRequest {
            document: take_document(a, "document")?,
            update_mask: take_mask(a),
        }),
        "DeleteDocument" => Call::DeleteDocument(pb::DeleteDocumentRequest {
            name: a.str("name"),
        }),
        "Begin" => Call::Begin(pb::BeginRequest {
            database_name: a.str("database_name"),
        }),
        "Execute" => Call::Execute(pb::ExecuteRequest {
            database_name: a.str("database_name"),
            transaction_id: a.str("transaction_id"),
            operations: take_operations(a)?,
        }),
        "Commit" => Call::Commit(pb::CommitRequest {
            database_name: a.str("database_name"),
            transaction_id: a.str("transaction_id"),
        }),
        "Rollback" => Call::Rollback(pb::RollbackRequest {
            database_name: a.str("database_name"),
            transaction_id: a.str("transaction_id"),
        }),
        "ListWALEntries" => Call::ListWalEntries(pb::ListWalEntriesRequest {
            page_size: a.i32("page_size")?,
            page_token: a.str("page_token"),
            start_time: take_time(a, "start_time")?,
            end_time: take_time(a, "end_time")?,
            entity_type_filter: take_enum(a, "entity_type_filter", entity_from_name)?,
            operation_type_filter: take_enum(a, "operation_type_filter", mutation_from_name)?,
        }),
        "TruncateWAL" => Call::TruncateWal(pb::TruncateWalRequest {
            before: take_time(a, "before")?,
        }),
        other => return Err(SyntaxError(format!("unknown method {other:?}"))),
    };
    Ok(call)
}

/// Writes the request's non-default fields.
pub fn write(call: &Call, f: &mut Fields) {
    match call {
        Call::ListDatabases(r) => {
            f.i32("page_size", r.page_size);
            f.str("page_token", &r.page_token);
        }
        Call::GetDatabase(pb::GetDatabaseRequest { name })
        | Call::DeleteDatabase(pb::DeleteDatabaseRequest { name })
        | Call::GetCollection(pb::GetCollectionRequest { name })
        | Call::DeleteCollection(pb::DeleteCollectionRequest { name })
        | Call::GetDocument(pb::GetDocumentRequest { name })
        | Call::DeleteDocument(pb::DeleteDocumentRequest { name }) => f.str("name", name),
        Call::CreateDatabase(r) => {
            f.str("database_id", &r.database_id);
            put_database(f, "database", r.database.as_ref());
        }
        Call::UpdateDatabase(r) => {
            put_database(f, "database", r.database.as_ref());
            put_mask(f, r.update_mask.as_ref());
        }
        Call::ListCollections(r) => put_list(f, &r.parent, r.page_size, &r.page_token),
        Call::CreateCollection(r) => {
            f.str("parent", &r.parent);
            f.str("collection_id", &r.collection_id);
            put_collection(f, "collection", r.collection.as_ref());
        }
        Call::UpdateCollection(r) => {
            put_collection(f, "collection", r.collection.as_ref());
            put_mask(f, r.update_mask.as_ref());
        }
        Call::ListDocuments(r) => put_list(f, &r.parent, r.page_size, &r.page_token),
        Call::CreateDocument(r) => {
            f.str("parent", &r.parent);
            f.str("document_id", &r.document_id);
            put_document(f, "document", r.document.as_ref());
        }
        Call::UpdateDocument(r) => {
            put_document(f, "document", r.document.as_ref());
            put_mask(f, r.update_mask.as_ref());
        }
        Call::Begin(r) => f.str("database_name", &r.database_name),
        Call::Execute(r) => {
            f.str("database_name", &r.database_name);
            f.str("transaction_id", &r.transaction_id);
            for (i, op) in r.operations.iter().enumerate() {
                let key = format!("operations[{i}]");
                f.message(&key, |f| {
                    put_enum(
                        f,
                        &format!("{key}.mutation_type"),
                        op.mutation_type,
                        mutation_name,
                    );
                    put_enum(
                        f,
                        &format!("{key}.entity_type"),
                        op.entity_type,
                        entity_name,
                    );
                    f.str(&format!("{key}.name"), &op.name);
                    f.str(&format!("{key}.value"), &op.value);
                });
            }
        }
        Call::Commit(pb::CommitRequest {
            database_name,
            transaction_id,
        })
        | Call::Rollback(pb::RollbackRequest {
            database_name,
            transaction_id,
        }) => {
            f.str("database_name", database_name);
            f.str("transaction_id", transaction_id);
        }
        Call::ListWalEntries(r) => {
            f.i32("page_size", r.page_size);
            f.str("page_token", &r.page_token);
            put_time(f, "start_time", r.start_time.as_ref());
            put_time(f, "end_time", r.end_time.as_ref());
            put_enum(f, "entity_type_filter", r.entity_type_filter, entity_name);
            put_enum(
                f,
                "operation_type_filter",
                r.operation_type_filter,
                mutation_name,
            );
        }
        Call::TruncateWal(r) => put_time(f, "before", r.before.as_ref()),
    }
}

/// Calls `visit` on every field that holds a database id or a name.
pub fn visit_names(call: &mut Call, visit: &mut dyn FnMut(IdSite, &mut String)) {
    let name = IdSite::Name;
    match call {
        Call::ListDatabases(_) | Call::ListWalEntries(_) | Call::TruncateWal(_) => {}
        Call::GetDatabase(pb::GetDatabaseRequest { name: n })
        | Call::DeleteDatabase(pb::DeleteDatabaseRequest { name: n })
        | Call::GetCollection(pb::GetCollectionRequest { name: n })
        | Call::DeleteCollection(pb::DeleteCollectionRequest { name: n })
        | Call::GetDocument(pb::GetDocumentRequest { name: n })
        | Call::DeleteDocument(pb::DeleteDocumentRequest { name: n })
        | Call::ListCollections(pb::ListCollectionsRequest { parent: n, .. })
        | Call::ListDocuments(pb::ListDocumentsRequest { parent: n, .. })
        | Call::Begin(pb::BeginRequest { database_name: n })
        | Call::Commit(pb::CommitRequest {
            database_name: n, ..
        })
        | Call::Rollback(pb::RollbackRequest {
            database_name: n, ..
        }) => visit(name, n),
        Call::CreateDatabase(r) => {
            visit(IdSite::Id, &mut r.database_id);
            if let Some(d) = &mut r.database {
                visit(name, &mut d.name);
            }
        }
        Call::UpdateDatabase(r) => {
            if let Some(d) = &mut r.database {
                visit(name, &mut d.name);
            }
        }
        Call::CreateCollection(r) => {
            visit(name, &mut r.parent);
            if let Some(c) = &mut r.collection {
                visit(name, &mut c.name);
            }
        }
        Call::UpdateCollection(r) => {
            if let Some(c) = &mut r.collection {
                visit(name, &mut c.name);
            }
        }
        Call::CreateDocument(r) => {
            visit(name, &mut r.parent);
            if let Some(d) = &mut r.document {
                visit(name, &mut d.name);
            }
        }
        Call::UpdateDocument(r) => {
            if let Some(d) = &mut r.document {
                visit(name, &mut d.name);
            }
        }
        Call::Execute(r) => {
            visit(name, &mut r.database_name);
            for op in &mut r.operations {
                visit(name, &mut op.name);
            }
        }
    }
}

fn put_list(f: &mut Fields, parent: &str, page_size: i32, page_token: &str) {
    f.str("parent", parent);
    f.i32("page_size", page_size);
    f.str("page_token", page_token);
}

fn take_database(a: &mut Args, key: &str) -> Result<Option<pb::Database>> {
    if !a.present(key) {
        return Ok(None);
    }
    Ok(Some(pb::Database {
        name: a.str(&format!("{key}.name")),
        display_name: a.str(&format!("{key}.display_name")),
        created_at: take_time(a, &format!("{key}.created_at"))?,
        updated_at: take_time(a, &format!("{key}.updated_at"))?,
    }))
}

fn put_database(f: &mut Fields, key: &str, db: Option<&pb::Database>) {
    let Some(db) = db else { return };
    f.message(key, |f| {
        f.str(&format!("{key}.name"), &db.name);
        f.str(&format!("{key}.display_name"), &db.display_name);
        put_time(f, &format!("{key}.created_at"), db.created_at.as_ref());
        put_time(f, &format!("{key}.updated_at"), db.updated_at.as_ref());
    });
}

fn take_collection(a: &mut Args, key: &str) -> Result<Option<pb::Collection>> {
    if !a.present(key) {
        return Ok(None);
    }
    Ok(Some(pb::Collection {
        name: a.str(&format!("{key}.name")),
        description: a.str(&format!("{key}.description")),
        created_at: take_time(a, &format!("{key}.created_at"))?,
        updated_at: take_time(a, &format!("{key}.updated_at"))?,
    }))
}

fn put_collection(f: &mut Fields, key: &str, c: Option<&pb::Collection>) {
    let Some(c) = c else { return };
    f.message(key, |f| {
        f.str(&format!("{key}.name"), &c.name);
        f.str(&format!("{key}.description"), &c.description);
        put_time(f, &format!("{key}.created_at"), c.created_at.as_ref());
        put_time(f, &format!("{key}.updated_at"), c.updated_at.as_ref());
    });
}

fn take_document(a: &mut Args, key: &str) -> Result<Option<pb::Document>> {
    if !a.present(key) {
        return Ok(None);
    }
    Ok(Some(pb::Document {
        name: a.str(&format!("{key}.name")),
        id: a.str(&format!("{key}.id")),
        value: a.str(&format!("{key}.value")),
        created_at: take_time(a, &format!("{key}.created_at"))?,
        updated_at: take_time(a, &format!("{key}.updated_at"))?,
    }))
}

fn put_document(f: &mut Fields, key: &str, d: Option<&pb::Document>) {
    let Some(d) = d else { return };
    f.message(key, |f| {
        f.str(&format!("{key}.name"), &d.name);
        f.str(&format!("{key}.id"), &d.id);
        f.str(&format!("{key}.value"), &d.value);
        put_time(f, &format!("{key}.created_at"), d.created_at.as_ref());
        put_time(f, &format!("{key}.updated_at"), d.updated_at.as_ref());
    });
}

fn take_operations(a: &mut Args) -> Result<Vec<pb::Operation>> {
    let mut ops = Vec::new();
    loop {
        let key = format!("operations[{}]", ops.len());
        if !a.present(&key) {
            return Ok(ops);
        }
        ops.push(pb::Operation {
            mutation_type: take_enum(a, &format!("{key}.mutation_type"), mutation_from_name)?,
            entity_type: take_enum(a, &format!("{key}.entity_type"), entity_from_name)?,
            name: a.str(&format!("{key}.name")),
            value: a.str(&format!("{key}.value")),
        });
    }
}

/// `update_mask=a,b`; `update_mask=""` is a present but empty mask.
fn take_mask(a: &mut Args) -> Option<FieldMask> {
    let text = a.take("update_mask")?;
    let paths = if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::to_owned).collect()
    };
    Some(FieldMask { paths })
}

fn put_mask(f: &mut Fields, mask: Option<&FieldMask>) {
    if let Some(mask) = mask {
        f.always("update_mask", &mask.paths.join(","));
    }
}

/// `SECONDS.NANOSECONDS` (nine digits), e.g. `1700000000.000000001`.
pub fn format_time(ts: &Timestamp) -> String {
    format!("{}.{:09}", ts.seconds, ts.nanos)
}

fn parse_time(text: &str) -> Option<Timestamp> {
    let (seconds, nanos) = text.split_once('.')?;
    if nanos.len() != 9 {
        return None;
    }
    Some(Timestamp {
        seconds: seconds.parse().ok()?,
        nanos: nanos.parse().ok()?,
    })
}

fn take_time(a: &mut Args, key: &str) -> Result<Option<Timestamp>> {
    if a.present(key) {
        return Ok(Some(Timestamp::default()));
    }
    match a.take(key) {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| SyntaxError(format!("{key}: {text:?} is not SECONDS.NANOS"))),
    }
}

fn put_time(f: &mut Fields, key: &str, ts: Option<&Timestamp>) {
    match ts {
        Some(ts) if *ts == Timestamp::default() => f.always(key, "{}"),
        Some(ts) => f.always(key, &format_time(ts)),
        None => {}
    }
}

fn entity_from_name(name: &str) -> Option<i32> {
    EntityType::from_str_name(name).map(|e| e as i32)
}

fn mutation_from_name(name: &str) -> Option<i32> {
    MutationType::from_str_name(name).map(|m| m as i32)
}

fn entity_name(value: i32) -> Option<&'static str> {
    EntityType::try_from(value).ok().map(|e| e.as_str_name())
}

fn mutation_name(value: i32) -> Option<&'static str> {
    MutationType::try_from(value).ok().map(|m| m.as_str_name())
}

/// An enum field by its proto name, or by number for values outside the enum.
fn take_enum(a: &mut Args, key: &str, from_name: fn(&str) -> Option<i32>) -> Result<i32> {
    match a.take(key) {
        None => Ok(0),
        Some(text) => from_name(&text)
            .or_else(|| text.parse().ok())
            .ok_or_else(|| SyntaxError(format!("{key}: unknown value {text:?}"))),
    }
}

fn put_enum(f: &mut Fields, key: &str, value: i32, name: fn(i32) -> Option<&'static str>) {
    if value != 0 {
        match name(value) {
            Some(name) => f.always(key, name),
            None => f.always(key, &value.to_string()),
        }
    }
}
