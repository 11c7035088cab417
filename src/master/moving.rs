//! # Moving a database to another replica set, online
//!
//! `master.admin.v1.AdminService/MoveDatabase` moves one database while
//! clients keep reading and writing it. The source set serves it until one
//! moment, the **fence**, after which it cannot take a write; the target
//! serves it from the **switch** of its placement on. Between the two,
//! requests for the database wait inside their deadline, so the pause is
//! as short as the writes that must be replayed after the fence:
//!
//! ```text
//!   1. probe: UpdateDatabase on a           its commit time t0 starts the replay
//!   2. placement {set: a, moving_to: b, since: t0}     masters keep routing to a
//!   3. copy: collections, then documents    into b, in transactions of 500
//!   4. catch up: replay a's WAL since t0    the latest state of each resource
//!      (again, until a round is short)
//!   5. fence: DeleteDatabase on a           a write to a now: "databases/x not found"
//!   6. replay what a took before the fence
//!   7. switch: placement {set: b}           the waiting requests go to b
//! ```
//!
//! **Why replaying is enough.** Every write-ahead log entry carries the
//! resource as it is *after* the change (or nothing, once deleted), and a
//! set's commit times only grow. So whatever the copy read of a document,
//! replaying every entry since t0 in commit order leaves the document as
//! the source had it, and only the last entry of each resource in a round
//! needs applying. A write that the source committed before the fence is
//! in its log and is replayed; a write after it finds no database on the
//! source, and the master that sent it reads the placement, waits while it
//! says `moving_to`, and sends the write to the target once it has
//! switched ([`super::router`]).
//!
//! **What a move changes.** Ids, values, descriptions and display names
//! move as they are; `created_at` and `updated_at` become the target's
//! commit times of the copy and replay. The source's write-ahead log keeps
//! the database's old entries (and the fence's deletes), the target's
//! starts with the copy. An open transaction on the source ends at the
//! fence (its Commit answers NOT_FOUND). The replay reads the source's
//! retained log (`wal.history_bytes`): a move under more writes than it
//! holds between two rounds would miss entries, so such a move is not
//! supported. A mover that dies part-way leaves the placement `moving_to`
//! (requests for the database then wait, and time out UNAVAILABLE, once
//! the source is fenced): MoveDatabase to the same set again starts over
//! while the source still holds the database, and after the fence finishes
//! the move, replaying the source's log from the `since` the placement
//! keeps. One move per database at a time: a master refuses a second
//! MoveDatabase of a database it is moving, and every master refuses one
//! to another set while the placement names a move (FAILED_PRECONDITION).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use futures_util::{StreamExt, stream};
use parking_lot::Mutex;
use tokio::time::Instant;
use tonic::{Code, Request, Response, Status, metadata::MetadataMap};

use super::{
    placements::{Placement, Since},
    router::{Router, database_of},
    sets::ReplicaSet,
};
use crate::{
    error::{Error, Violation},
    proto::{
        database::{self as pb, EntityType, MutationType, wal_entry::Payload},
        master::admin::{
            MoveDatabaseRequest, MoveDatabaseResponse, admin_service_server::AdminService,
        },
    },
};

const GET_DATABASE: &str = "/worker.database.v1.DatabaseService/GetDatabase";
const CREATE_DATABASE: &str = "/worker.database.v1.DatabaseService/CreateDatabase";
const UPDATE_DATABASE: &str = "/worker.database.v1.DatabaseService/UpdateDatabase";
const DELETE_DATABASE: &str = "/worker.database.v1.DatabaseService/DeleteDatabase";
const LIST_COLLECTIONS: &str = "/worker.database.v1.CollectionService/ListCollections";
const CREATE_COLLECTION: &str = "/worker.database.v1.CollectionService/CreateCollection";
const UPDATE_COLLECTION: &str = "/worker.database.v1.CollectionService/UpdateCollection";
const DELETE_COLLECTION: &str = "/worker.database.v1.CollectionService/DeleteCollection";
const LIST_DOCUMENTS: &str = "/worker.database.v1.DocumentService/ListDocuments";
const CREATE_DOCUMENT: &str = "/worker.database.v1.DocumentService/CreateDocument";
const UPDATE_DOCUMENT: &str = "/worker.database.v1.DocumentService/UpdateDocument";
const DELETE_DOCUMENT: &str = "/worker.database.v1.DocumentService/DeleteDocument";
const BEGIN: &str = "/worker.database.v1.TransactionService/Begin";
const EXECUTE: &str = "/worker.database.v1.TransactionService/Execute";
const COMMIT: &str = "/worker.database.v1.TransactionService/Commit";
const LIST_WAL: &str = "/worker.database.v1.WALService/ListWALEntries";

/// Documents per copy transaction (the workers' default
/// `transactions.max_operations`).
const BATCH: usize = 500;
/// Replayed writes applied at once (different resources; one resource's
/// entries are already reduced to its latest state).
const PARALLEL: usize = 16;
/// Catch-up rounds before the fence: stop early once a round replays
/// fewer entries than [`SHORT_ROUND`].
const MAX_ROUNDS: usize = 10;
const SHORT_ROUND: usize = 200;

/// `master.admin.v1.AdminService`.
#[derive(Clone, Debug)]
pub struct MasterAdmin {
    router: Router,
    /// The databases this master is moving now: one move per database.
    moving: Arc<Mutex<BTreeSet<String>>>,
}

impl MasterAdmin {
    /// The service over `router`.
    pub fn new(router: Router) -> Self {
        MasterAdmin {
            router,
            moving: Arc::default(),
        }
    }
}

/// Marks a database as being moved by this master, until dropped.
struct Moving {
    moving: Arc<Mutex<BTreeSet<String>>>,
    db: String,
}

impl Moving {
    /// `None` when this master is moving `db` already.
    fn start(moving: &Arc<Mutex<BTreeSet<String>>>, db: &str) -> Option<Moving> {
        moving.lock().insert(db.to_owned()).then(|| Moving {
            moving: moving.clone(),
            db: db.to_owned(),
        })
    }
}

impl Drop for Moving {
    fn drop(&mut self) {
        self.moving.lock().remove(&self.db);
    }
}

#[tonic::async_trait]
impl AdminService for MasterAdmin {
    async fn move_database(
        &self,
        request: Request<MoveDatabaseRequest>,
    ) -> Result<Response<MoveDatabaseResponse>, Status> {
        let metadata = request.metadata().clone();
        let request = request.into_inner();
        let db = database_of(&request.name).ok_or_else(|| {
            invalid(
                "name",
                format!("{:?} is not databases/{{database}}", request.name),
            )
        })?;
        let catalog = self.router.catalog();
        let to = catalog
            .sets()
            .get(&request.to_set)
            .ok_or_else(|| invalid("to_set", format!("no replica set {:?}", request.to_set)))?;
        let _moving = Moving::start(&self.moving, db).ok_or_else(|| {
            Status::from(Error::FailedPrecondition(format!(
                "databases/{db} is being moved already"
            )))
        })?;
        let mover = Mover {
            router: &self.router,
            metadata,
            db: db.to_owned(),
        };
        let moved = mover.run(&to).await?;
        tracing::info!(
            database = db,
            from = %moved.from_set,
            to = %moved.to_set,
            documents = moved.copied_documents,
            replayed = moved.replayed_entries,
            pause = ?moved.write_pause,
            "database moved"
        );
        Ok(Response::new(moved))
    }
}

/// The answer: `copied` is (collections, documents).
fn report(
    from: &ReplicaSet,
    to: &ReplicaSet,
    copied: (usize, usize),
    replayed: usize,
    pause: Duration,
) -> MoveDatabaseResponse {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    MoveDatabaseResponse {
        from_set: from.name().to_owned(),
        to_set: to.name().to_owned(),
        copied_collections: count(copied.0),
        copied_documents: count(copied.1),
        replayed_entries: count(replayed),
        write_pause: prost_types::Duration::try_from(pause).ok(),
    }
}

fn invalid(field: &str, description: String) -> Status {
    Error::InvalidArgument(vec![Violation::new(field, description)]).into()
}

/// One move in progress.
struct Mover<'a> {
    router: &'a Router,
    /// The operator's call: its token is passed on, as for any request.
    metadata: MetadataMap,
    db: String,
}

/// What one replay round did.
#[derive(Default)]
struct Round {
    /// Entries of the database applied.
    replayed: usize,
    /// Where the next round starts: just after the last entry listed.
    next: Option<prost_types::Timestamp>,
}

impl Mover<'_> {
    async fn run(&self, to: &ReplicaSet) -> Result<MoveDatabaseResponse, Status> {
        let catalog = self.router.catalog();
        let hop = self.router.hop_for(&self.metadata, GET_DATABASE);
        let from = catalog
            .find(&self.db, &hop)
            .await?
            .ok_or_else(|| Status::from(Error::NotFound(format!("databases/{}", self.db))))?;
        if from.name() == to.name() {
            return Err(Error::FailedPrecondition(format!(
                "databases/{} is on replica set {} already",
                self.db,
                to.name()
            ))
            .into());
        }
        let placements = catalog.placements();
        let placement = placements.placement(&self.db).await?;
        if let Some(elsewhere) = placement
            .as_ref()
            .and_then(|p| p.moving_to.as_deref())
            .filter(|target| *target != to.name())
        {
            return Err(Error::FailedPrecondition(format!(
                "databases/{} is being moved to replica set {elsewhere}; move it there again to finish that move",
                self.db
            ))
            .into());
        }
        let interrupted = placement.filter(|p| p.moving_to.as_deref() == Some(to.name()));

        // 2. The probe's commit time: every later write has a later one.
        let source = match self
            .call::<_, pb::Database>(
                &from,
                GET_DATABASE,
                pb::GetDatabaseRequest { name: self.name() },
            )
            .await
        {
            Ok(source) => source,
            // A move to this set was interrupted after its fence: the
            // target has the copy, the source's log the rest.
            Err(status) if status.code() == Code::NotFound => {
                let Some(since) = interrupted.and_then(|p| p.since) else {
                    return Err(status);
                };
                let since = prost_types::Timestamp {
                    seconds: since.seconds,
                    nanos: since.nanos,
                };
                let fenced = Instant::now();
                let replayed = self.finish(&from, to, Some(since)).await?;
                return Ok(report(&from, to, (0, 0), replayed, fenced.elapsed()));
            }
            Err(status) => return Err(status),
        };
        let probed: pb::Database = self
            .call(
                &from,
                UPDATE_DATABASE,
                pb::UpdateDatabaseRequest {
                    database: Some(source.clone()),
                    update_mask: Some(mask("display_name")),
                },
            )
            .await?;
        let since = probed.updated_at;
        placements
            .set(
                &self.db,
                &Placement {
                    set: from.name().to_owned(),
                    moving_to: Some(to.name().to_owned()),
                    since: since.map(|t| Since {
                        seconds: t.seconds,
                        nanos: t.nanos,
                    }),
                    deleted: false,
                },
            )
            .await?;

        // 3. The copy.
        self.make_target(to, &source, interrupted.is_some()).await?;
        let copied = self.copy(&from, to).await?;

        // 4. Catch up until a round is short.
        let mut replayed = 0;
        let mut next = since;
        for _ in 0..MAX_ROUNDS {
            let round = self.replay(&from, to, next, false).await?;
            replayed += round.replayed;
            next = round.next.or(next);
            if round.replayed < SHORT_ROUND {
                break;
            }
        }

        // 5-7. Fence, last replay, switch.
        let fenced = Instant::now();
        let _: () = self
            .call(
                &from,
                DELETE_DATABASE,
                pb::DeleteDatabaseRequest { name: self.name() },
            )
            .await?;
        replayed += self.finish(&from, to, next).await?;
        Ok(report(&from, to, copied, replayed, fenced.elapsed()))
    }

    /// After the fence: replays what the source took before it, and
    /// switches the placement to the target. Returns the entries replayed.
    async fn finish(
        &self,
        from: &ReplicaSet,
        to: &ReplicaSet,
        since: Option<prost_types::Timestamp>,
    ) -> Result<usize, Status> {
        let replayed = self.replay(from, to, since, true).await?.replayed;
        let catalog = self.router.catalog();
        catalog
            .placements()
            .set(&self.db, &Placement::on(to.name()))
            .await?;
        catalog.insert(&self.db, to.name());
        Ok(replayed)
    }
    /// Creates the database on the target; a copy left by an earlier,
    /// interrupted move to the same set is deleted first.
    async fn make_target(
        &self,
        to: &ReplicaSet,
        source: &pb::Database,
        resumed: bool,
    ) -> Result<(), Status> {
        let create = pb::CreateDatabaseRequest {
            database_id: self.db.clone(),
            database: Some(pb::Database {
                display_name: source.display_name.clone(),
                ..pb::Database::default()
            }),
        };
        match self
            .call::<_, pb::Database>(to, CREATE_DATABASE, create.clone())
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::AlreadyExists && resumed => {
                let _: () = self
                    .call(
                        to,
                        DELETE_DATABASE,
                        pb::DeleteDatabaseRequest { name: self.name() },
                    )
                    .await?;
                self.call::<_, pb::Database>(to, CREATE_DATABASE, create)
                    .await
                    .map(drop)
            }
            Err(status) if status.code() == Code::AlreadyExists => {
                Err(Error::FailedPrecondition(format!(
                    "replica set {} already holds a database {}",
                    to.name(),
                    self.db
                ))
                .into())
            }
            Err(status) => Err(status),
        }
    }

    /// Copies every collection and document: the source as it is while the
    /// copy reads it (the replay mends what changed meanwhile).
    async fn copy(&self, from: &ReplicaSet, to: &ReplicaSet) -> Result<(usize, usize), Status> {
        let mut collections = 0;
        let mut documents = 0;
        let mut page_token = String::new();
        loop {
            let page: pb::ListCollectionsResponse = self
                .call(
                    from,
                    LIST_COLLECTIONS,
                    pb::ListCollectionsRequest {
                        parent: self.name(),
                        page_size: 1000,
                        page_token,
                    },
                )
                .await?;
            for collection in page.collections {
                self.put_collection(to, &collection).await?;
                documents += self.copy_documents(from, to, &collection.name).await?;
                collections += 1;
            }
            if page.next_page_token.is_empty() {
                return Ok((collections, documents));
            }
            page_token = page.next_page_token;
        }
    }

    async fn copy_documents(
        &self,
        from: &ReplicaSet,
        to: &ReplicaSet,
        collection: &str,
    ) -> Result<usize, Status> {
        let mut copied = 0;
        let mut page_token = String::new();
        loop {
            let page: pb::ListDocumentsResponse = self
                .call(
                    from,
                    LIST_DOCUMENTS,
                    pb::ListDocumentsRequest {
                        parent: collection.to_owned(),
                        page_size: i32::try_from(BATCH).unwrap_or(i32::MAX),
                        page_token,
                    },
                )
                .await?;
            copied += page.documents.len();
            self.create_documents(to, page.documents).await?;
            if page.next_page_token.is_empty() {
                return Ok(copied);
            }
            page_token = page.next_page_token;
        }
    }

    /// Creates `documents` on the target in one transaction; if that fails
    /// (a leader change, say), one at a time, each made to hold its value
    /// whether or not the transaction had landed.
    async fn create_documents(
        &self,
        to: &ReplicaSet,
        documents: Vec<pb::Document>,
    ) -> Result<(), Status> {
        if documents.is_empty() {
            return Ok(());
        }
        let operations = documents
            .iter()
            .map(|d| pb::Operation {
                mutation_type: MutationType::Create.into(),
                entity_type: EntityType::Document.into(),
                name: d.name.clone(),
                value: d.value.clone(),
            })
            .collect();
        match self.transaction(to, operations).await {
            Ok(()) => Ok(()),
            Err(status) => {
                tracing::debug!(%status, "copy transaction failed; copying one at a time");
                let states = documents
                    .into_iter()
                    .map(|d| (d.name, Some(d.value)))
                    .collect();
                self.put_documents(to, states).await
            }
        }
    }

    async fn transaction(
        &self,
        to: &ReplicaSet,
        operations: Vec<pb::Operation>,
    ) -> Result<(), Status> {
        let begun: pb::BeginResponse = self
            .call(
                to,
                BEGIN,
                pb::BeginRequest {
                    database_name: self.name(),
                },
            )
            .await?;
        let _: () = self
            .call(
                to,
                EXECUTE,
                pb::ExecuteRequest {
                    database_name: self.name(),
                    transaction_id: begun.transaction_id.clone(),
                    operations,
                },
            )
            .await?;
        self.call(
            to,
            COMMIT,
            pb::CommitRequest {
                database_name: self.name(),
                transaction_id: begun.transaction_id,
            },
        )
        .await
    }

    /// Replays the source's log entries of this database from `since`: the
    /// latest state of each resource they touch. With `fenced`, the listing
    /// ends at the fence (the database's own delete), whose cascade of
    /// deletes is not replayed.
    async fn replay(
        &self,
        from: &ReplicaSet,
        to: &ReplicaSet,
        since: Option<prost_types::Timestamp>,
        fenced: bool,
    ) -> Result<Round, Status> {
        let mut entries = Vec::new();
        let mut round = Round::default();
        let mut fence = None;
        let mut page_token = String::new();
        'pages: loop {
            let page: pb::ListWalEntriesResponse = self
                .call(
                    from,
                    LIST_WAL,
                    pb::ListWalEntriesRequest {
                        page_size: 1000,
                        page_token,
                        start_time: since,
                        ..pb::ListWalEntriesRequest::default()
                    },
                )
                .await?;
            for entry in page.entries {
                round.next = entry.timestamp.map(just_after);
                if !of_database(&entry, &self.db) {
                    continue;
                }
                if fenced && is_database_delete(&entry) {
                    fence = entry.timestamp;
                    break 'pages;
                }
                entries.push(entry);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        // The fence's own cascade (every document and collection deleted
        // with the database) shares its commit time: it is not replayed.
        if let Some(fence) = fence {
            entries.retain(|entry| entry.timestamp.as_ref() != Some(&fence));
        }
        let mut latest = Latest::default();
        for entry in entries {
            latest.take(&self.db, entry);
            round.replayed += 1;
        }
        self.apply(to, latest).await?;
        Ok(round)
    }

    /// Applies one round's latest states: collections deleted during the
    /// round first (with the documents they had), then the collections that
    /// exist (the documents need them), the documents, and the database's
    /// own fields.
    async fn apply(&self, to: &ReplicaSet, latest: Latest) -> Result<(), Status> {
        for name in &latest.dropped {
            let deleted = self
                .call::<_, ()>(
                    to,
                    DELETE_COLLECTION,
                    pb::DeleteCollectionRequest { name: name.clone() },
                )
                .await;
            gone_is_fine(deleted)?;
        }
        for collection in latest.collections.values().flatten() {
            self.put_collection(to, collection).await?;
        }
        self.put_documents(to, latest.documents).await?;
        if let Some(database) = latest.database {
            let _: pb::Database = self
                .call(
                    to,
                    UPDATE_DATABASE,
                    pb::UpdateDatabaseRequest {
                        database: Some(database),
                        update_mask: Some(mask("display_name")),
                    },
                )
                .await?;
        }
        Ok(())
    }

    async fn put_collection(
        &self,
        to: &ReplicaSet,
        collection: &pb::Collection,
    ) -> Result<(), Status> {
        let Some(id) = collection.name.rsplit('/').next() else {
            return Ok(());
        };
        let create = pb::CreateCollectionRequest {
            parent: self.name(),
            collection_id: id.to_owned(),
            collection: Some(pb::Collection {
                description: collection.description.clone(),
                ..pb::Collection::default()
            }),
        };
        match self
            .call::<_, pb::Collection>(to, CREATE_COLLECTION, create)
            .await
        {
            Err(status) if status.code() == Code::AlreadyExists => {
                let update = pb::UpdateCollectionRequest {
                    collection: Some(collection.clone()),
                    update_mask: Some(mask("description")),
                };
                self.call::<_, pb::Collection>(to, UPDATE_COLLECTION, update)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        }
    }

    /// Makes each document hold its state (`None`: deleted), many at once.
    async fn put_documents(
        &self,
        to: &ReplicaSet,
        states: BTreeMap<String, Option<String>>,
    ) -> Result<(), Status> {
        let results: Vec<Result<(), Status>> = stream::iter(states)
            .map(|(name, value)| self.put_document(to, name, value))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn put_document(
        &self,
        to: &ReplicaSet,
        name: String,
        value: Option<String>,
    ) -> Result<(), Status> {
        let Some(value) = value else {
            let deleted = self
                .call::<_, ()>(to, DELETE_DOCUMENT, pb::DeleteDocumentRequest { name })
                .await;
            return gone_is_fine(deleted);
        };
        let update = pb::UpdateDocumentRequest {
            document: Some(pb::Document {
                name: name.clone(),
                value: value.clone(),
                ..pb::Document::default()
            }),
            update_mask: Some(mask("value")),
        };
        match self
            .call::<_, pb::Document>(to, UPDATE_DOCUMENT, update)
            .await
        {
            Err(status) if status.code() == Code::NotFound => {
                let (parent, id) = name.rsplit_once("/documents/").unwrap_or((&name, ""));
                let create = pb::CreateDocumentRequest {
                    parent: parent.to_owned(),
                    document_id: id.to_owned(),
                    document: Some(pb::Document {
                        value,
                        ..pb::Document::default()
                    }),
                };
                self.call::<_, pb::Document>(to, CREATE_DOCUMENT, create)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        }
    }

    fn name(&self) -> String {
        format!("databases/{}", self.db)
    }

    /// One call to a set, with its own deadline (`grpc.timeout`).
    async fn call<Req, Resp>(
        &self,
        set: &ReplicaSet,
        path: &'static str,
        message: Req,
    ) -> Result<Resp, Status>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let hop = self.router.hop_for(&self.metadata, path);
        self.router
            .send::<Req, Resp>(set, &hop, path, message)
            .await
            .map(Response::into_inner)
    }
}

/// One round's latest state of each resource of the database.
#[derive(Default)]
struct Latest {
    database: Option<pb::Database>,
    /// `None`: deleted.
    collections: BTreeMap<String, Option<pb::Collection>>,
    /// Collections deleted during the round (some may exist again).
    dropped: BTreeSet<String>,
    /// `None`: deleted.
    documents: BTreeMap<String, Option<String>>,
}

impl Latest {
    /// Keeps `entry` (one of database `db`'s) as the latest state of its
    /// resource.
    fn take(&mut self, db: &str, entry: pb::WalEntry) {
        let deleted = entry.operation_type == i32::from(MutationType::Delete);
        match entry.payload {
            Some(Payload::DatabasePayload(p)) => {
                self.database = serde_json::from_slice::<DatabaseData>(&p.data)
                    .ok()
                    .map(|d| pb::Database {
                        name: format!("databases/{db}"),
                        display_name: d.display_name,
                        ..pb::Database::default()
                    });
            }
            Some(Payload::CollectionPayload(p)) => {
                let name = format!("databases/{db}/collections/{}", p.collection_id);
                if deleted {
                    // Its documents went with it.
                    let prefix = format!("{name}/documents/");
                    self.documents.retain(|doc, _| !doc.starts_with(&prefix));
                    self.dropped.insert(name.clone());
                }
                let state = serde_json::from_slice::<CollectionData>(&p.data)
                    .ok()
                    .filter(|_| !deleted)
                    .map(|c| pb::Collection {
                        name: name.clone(),
                        description: c.description,
                        ..pb::Collection::default()
                    });
                self.collections.insert(name, state);
            }
            Some(Payload::DocumentPayload(p)) => {
                let name = format!(
                    "databases/{db}/collections/{}/documents/{}",
                    p.collection_id, p.document_id
                );
                let value = serde_json::from_slice::<DocumentData>(&p.data)
                    .ok()
                    .filter(|_| !deleted)
                    .map(|d| d.value);
                self.documents.insert(name, value);
            }
            None => {}
        }
    }
}

/// Whether `entry` changed database `db` or something in it.
fn of_database(entry: &pb::WalEntry, db: &str) -> bool {
    match &entry.payload {
        Some(Payload::DatabasePayload(p)) => p.database_id == db,
        Some(Payload::CollectionPayload(p)) => p.database_id == db,
        Some(Payload::DocumentPayload(p)) => p.database_id == db,
        None => false,
    }
}

/// Whether `entry` (of the moved database) deletes the database itself.
fn is_database_delete(entry: &pb::WalEntry) -> bool {
    entry.operation_type == i32::from(MutationType::Delete)
        && matches!(entry.payload, Some(Payload::DatabasePayload(_)))
}

/// The fields of an entry's `data` that a replay needs.
#[derive(serde::Deserialize)]
struct DatabaseData {
    display_name: String,
}

#[derive(serde::Deserialize)]
struct CollectionData {
    #[serde(default)]
    description: String,
}

#[derive(serde::Deserialize)]
struct DocumentData {
    value: String,
}

fn mask(path: &str) -> prost_types::FieldMask {
    prost_types::FieldMask {
        paths: vec![path.to_owned()],
    }
}

/// One nanosecond after `t`: where the next listing starts (commit times
/// of one set are strictly increasing).
fn just_after(t: prost_types::Timestamp) -> prost_types::Timestamp {
    if t.nanos >= 999_999_999 {
        prost_types::Timestamp {
            seconds: t.seconds + 1,
            nanos: 0,
        }
    } else {
        prost_types::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos + 1,
        }
    }
}

fn gone_is_fine(result: Result<(), Status>) -> Result<(), Status> {
    match result {
        Err(status) if status.code() == Code::NotFound => Ok(()),
        other => other,
    }
}

/// How often a request waiting for a move to switch reads the placement
/// again (it waits at most until its deadline, then UNAVAILABLE).
pub const SWITCH_POLL: Duration = Duration::from_millis(10);
