//! Building requests, and the three resource kinds seen through one lens.
//!
//! Databases, collections and documents behave alike: create, get, update
//! with a mask, delete, list under a parent; each has exactly one mutable
//! field. [`Kind`] lets a case state a rule once and check it on all three
//! (each with its own clause), and [`Res`] is any of them as a plain record.

use prost_types::{FieldMask, Timestamp};

use crate::{
    call::{Call, Reply},
    check::{Check, Failure},
    proto::database::{self as pb, EntityType, MutationType},
};

/// A kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `databases/{database}`
    Database,
    /// `databases/{database}/collections/{collection}`
    Collection,
    /// `.../documents/{document}`
    Document,
}

impl Kind {
    /// All kinds, parents first.
    pub const ALL: [Kind; 3] = [Kind::Database, Kind::Collection, Kind::Document];

    /// The clause family: `DB`, `COLL`, `DOC`.
    pub fn family(self) -> &'static str {
        match self {
            Kind::Database => "DB",
            Kind::Collection => "COLL",
            Kind::Document => "DOC",
        }
    }

    /// Lower-case word for case ids: `db`, `coll`, `doc`.
    pub fn short(self) -> &'static str {
        match self {
            Kind::Database => "db",
            Kind::Collection => "coll",
            Kind::Document => "doc",
        }
    }

    /// The request field of the resource message: `database`, ...
    pub fn message_field(self) -> &'static str {
        match self {
            Kind::Database => "database",
            Kind::Collection => "collection",
            Kind::Document => "document",
        }
    }

    /// The request field of the id on create: `database_id`, ...
    pub fn id_field(self) -> &'static str {
        match self {
            Kind::Database => "database_id",
            Kind::Collection => "collection_id",
            Kind::Document => "document_id",
        }
    }

    /// The one mutable field: `display_name`, `description`, `value`.
    pub fn mutable_field(self) -> &'static str {
        match self {
            Kind::Database => "display_name",
            Kind::Collection => "description",
            Kind::Document => "value",
        }
    }

    /// The segment before an id of this kind in a name.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Database => "databases",
            Kind::Collection => "collections",
            Kind::Document => "documents",
        }
    }

    /// The entity type of transactions and the log.
    pub fn entity(self) -> EntityType {
        match self {
            Kind::Database => EntityType::Database,
            Kind::Collection => EntityType::Collection,
            Kind::Document => EntityType::Document,
        }
    }

    /// The kind of this kind's children.
    pub fn child(self) -> Option<Kind> {
        match self {
            Kind::Database => Some(Kind::Collection),
            Kind::Collection => Some(Kind::Document),
            Kind::Document => None,
        }
    }

    /// A valid value of the mutable field, different for each `n`.
    pub fn sample(self, n: usize) -> String {
        match self {
            Kind::Database => format!("Database {n}"),
            Kind::Collection => format!("collection number {n}"),
            Kind::Document => format!("{{\"n\": {n}}}"),
        }
    }

    /// The name of the resource `id` under `parent` ("" for databases).
    pub fn name(self, parent: &str, id: &str) -> String {
        match self {
            Kind::Database => format!("databases/{id}"),
            _ => format!("{parent}/{}/{id}", self.segment()),
        }
    }

    /// CreateX with an id and the mutable field.
    pub fn create(self, parent: &str, id: &str, field: &str) -> Call {
        match self {
            Kind::Database => create_database(id, field),
            Kind::Collection => create_collection(parent, id, field),
            Kind::Document => create_document(parent, id, field),
        }
    }

    /// GetX.
    pub fn get(self, name: &str) -> Call {
        let name = name.to_owned();
        match self {
            Kind::Database => Call::GetDatabase(pb::GetDatabaseRequest { name }),
            Kind::Collection => Call::GetCollection(pb::GetCollectionRequest { name }),
            Kind::Document => Call::GetDocument(pb::GetDocumentRequest { name }),
        }
    }

    /// UpdateX of the mutable field, with an optional mask.
    pub fn update(self, name: &str, field: &str, mask: Option<&[&str]>) -> Call {
        let update_mask = mask.map(|paths| FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        });
        let name = name.to_owned();
        match self {
            Kind::Database => Call::UpdateDatabase(pb::UpdateDatabaseRequest {
                database: Some(pb::Database {
                    name,
                    display_name: field.to_owned(),
                    ..Default::default()
                }),
                update_mask,
            }),
            Kind::Collection => Call::UpdateCollection(pb::UpdateCollectionRequest {
                collection: Some(pb::Collection {
                    name,
                    description: field.to_owned(),
                    ..Default::default()
                }),
                update_mask,
            }),
            Kind::Document => Call::UpdateDocument(pb::UpdateDocumentRequest {
                document: Some(pb::Document {
                    name,
                    value: field.to_owned(),
                    ..Default::default()
                }),
                update_mask,
            }),
        }
    }

    /// DeleteX.
    pub fn delete(self, name: &str) -> Call {
        let name = name.to_owned();
        match self {
            Kind::Database => Call::DeleteDatabase(pb::DeleteDatabaseRequest { name }),
            Kind::Collection => Call::DeleteCollection(pb::DeleteCollectionRequest { name }),
            Kind::Document => Call::DeleteDocument(pb::DeleteDocumentRequest { name }),
        }
    }

    /// ListX under `parent` (ignored for databases).
    pub fn list(self, parent: &str, page_size: i32, page_token: &str) -> Call {
        let (parent, page_token) = (parent.to_owned(), page_token.to_owned());
        match self {
            Kind::Database => Call::ListDatabases(pb::ListDatabasesRequest {
                page_size,
                page_token,
            }),
            Kind::Collection => Call::ListCollections(pb::ListCollectionsRequest {
                parent,
                page_size,
                page_token,
            }),
            Kind::Document => Call::ListDocuments(pb::ListDocumentsRequest {
                parent,
                page_size,
                page_token,
            }),
        }
    }
}

/// Any resource as a plain record.
#[derive(Clone, PartialEq)]
pub struct Res {
    /// Its name.
    pub name: String,
    /// Its mutable field's value.
    pub field: String,
    /// `created_at`.
    pub created_at: Option<Timestamp>,
    /// `updated_at`.
    pub updated_at: Option<Timestamp>,
    /// A document's `id` (input only: must be empty); "" for other kinds.
    pub id: String,
}

impl std::fmt::Debug for Res {
    /// Timestamps in RFC 3339 ([`crate::report::time`]), not as structs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::report::time::Rfc3339;
        f.debug_struct("Res")
            .field("name", &self.name)
            .field("field", &self.field)
            .field("created_at", &Rfc3339(self.created_at.as_ref()))
            .field("updated_at", &Rfc3339(self.updated_at.as_ref()))
            .field("id", &self.id)
            .finish()
    }
}

impl Res {
    fn database(d: pb::Database) -> Res {
        Res {
            name: d.name,
            field: d.display_name,
            created_at: d.created_at,
            updated_at: d.updated_at,
            id: String::new(),
        }
    }

    fn collection(c: pb::Collection) -> Res {
        Res {
            name: c.name,
            field: c.description,
            created_at: c.created_at,
            updated_at: c.updated_at,
            id: String::new(),
        }
    }

    fn document(d: pb::Document) -> Res {
        Res {
            name: d.name,
            field: d.value,
            created_at: d.created_at,
            updated_at: d.updated_at,
            id: d.id,
        }
    }

    /// The resource in a Get/Create/Update reply.
    pub fn from_reply(reply: Reply) -> Check<Res> {
        match reply {
            Reply::Database(d) => Ok(Res::database(d)),
            Reply::Collection(c) => Ok(Res::collection(c)),
            Reply::Document(d) => Ok(Res::document(d)),
            other => Err(wrong_reply("a resource", &other)),
        }
    }

    /// The id: the last segment of the name.
    pub fn id(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or_default()
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The items.
    pub items: Vec<Res>,
    /// `next_page_token`.
    pub next_page_token: String,
}

impl Page {
    /// The page in a List reply.
    pub fn from_reply(reply: Reply) -> Check<Page> {
        let (items, next_page_token) = match reply {
            Reply::Databases(r) => (
                r.databases.into_iter().map(Res::database).collect(),
                r.next_page_token,
            ),
            Reply::Collections(r) => (
                r.collections.into_iter().map(Res::collection).collect(),
                r.next_page_token,
            ),
            Reply::Documents(r) => (
                r.documents.into_iter().map(Res::document).collect(),
                r.next_page_token,
            ),
            other => return Err(wrong_reply("a page", &other)),
        };
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// The names of the items.
    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(|r| r.name.clone()).collect()
    }
}

/// Whether a page answered the request for `used` with `used` again: a
/// listing that would never end (the first page has no token to repeat).
pub fn token_repeats(used: &str, next: &str) -> bool {
    !used.is_empty() && used == next
}

fn wrong_reply(what: &str, reply: &Reply) -> Failure {
    Failure::new(what, format!("{reply:?}"))
}

/// CreateDatabase with an id and display name.
pub fn create_database(id: &str, display_name: &str) -> Call {
    Call::CreateDatabase(pb::CreateDatabaseRequest {
        database_id: id.to_owned(),
        database: Some(pb::Database {
            display_name: display_name.to_owned(),
            ..Default::default()
        }),
    })
}

/// CreateCollection with an id and description.
pub fn create_collection(parent: &str, id: &str, description: &str) -> Call {
    Call::CreateCollection(pb::CreateCollectionRequest {
        parent: parent.to_owned(),
        collection_id: id.to_owned(),
        collection: Some(pb::Collection {
            description: description.to_owned(),
            ..Default::default()
        }),
    })
}

/// CreateDocument with an id (as `document_id`) and value.
pub fn create_document(parent: &str, id: &str, value: &str) -> Call {
    Call::CreateDocument(pb::CreateDocumentRequest {
        parent: parent.to_owned(),
        document_id: id.to_owned(),
        document: Some(pb::Document {
            value: value.to_owned(),
            ..Default::default()
        }),
    })
}

/// Begin.
pub fn begin(database_name: &str) -> Call {
    Call::Begin(pb::BeginRequest {
        database_name: database_name.to_owned(),
    })
}

/// Execute.
pub fn execute(database_name: &str, transaction_id: &str, operations: Vec<pb::Operation>) -> Call {
    Call::Execute(pb::ExecuteRequest {
        database_name: database_name.to_owned(),
        transaction_id: transaction_id.to_owned(),
        operations,
    })
}

/// Commit.
pub fn commit(database_name: &str, transaction_id: &str) -> Call {
    Call::Commit(pb::CommitRequest {
        database_name: database_name.to_owned(),
        transaction_id: transaction_id.to_owned(),
    })
}

/// Rollback.
pub fn rollback(database_name: &str, transaction_id: &str) -> Call {
    Call::Rollback(pb::RollbackRequest {
        database_name: database_name.to_owned(),
        transaction_id: transaction_id.to_owned(),
    })
}

/// One transaction operation.
pub fn op(mutation: MutationType, kind: Kind, name: &str, value: &str) -> pb::Operation {
    pb::Operation {
        mutation_type: mutation as i32,
        entity_type: kind.entity() as i32,
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// ListWALEntries with a time window and filters.
pub fn list_wal(
    start_time: Option<Timestamp>,
    end_time: Option<Timestamp>,
    entity: EntityType,
    mutation: MutationType,
    page_size: i32,
    page_token: &str,
) -> Call {
    Call::ListWalEntries(pb::ListWalEntriesRequest {
        page_size,
        page_token: page_token.to_owned(),
        start_time,
        end_time,
        entity_type_filter: entity as i32,
        operation_type_filter: mutation as i32,
    })
}

/// TruncateWAL.
pub fn truncate_wal(before: Option<Timestamp>) -> Call {
    Call::TruncateWal(pb::TruncateWalRequest { before })
}

/// Nanoseconds since the epoch of a timestamp (for comparisons).
pub fn nanos(ts: &Timestamp) -> i128 {
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}
