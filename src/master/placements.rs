//! # Placements: the catalog's replicated truth
//!
//! Which replica set holds which database is written down once, in a
//! replica set of its own whose members are **the masters**. That set runs
//! the worker's own code: the same log, the same store as state machine,
//! the same openraft integration ([`crate::replication`]). The catalog is
//! one more distgo database on it:
//!
//! ```text
//!   database  catalog
//!   collection  placements
//!   document  {database id}  =  {"set": "a"}
//! ```
//!
//! So the masters need no second Raft integration and no state machine of
//! their own: a placement is created, read and deleted like any document,
//! and everything the replica set promises a document (nothing acknowledged
//! lost when one member dies, linearizable reads, snapshots, catch-up)
//! holds for placements. Each master answers `worker.database.v1` for it on
//! its own port, which is also how one master sends a catalog write to the
//! master that leads the group.
//!
//! ```text
//!   master 2 (follower)                     master 1 (leads the catalog)
//!   place(db, "a") ─ CreateDocument ───────▶ propose ─▶ log on a majority of masters
//!   lookup(db)     ─ ReadIndex (leader) ──▶ applied here? ─▶ read its own store
//! ```
//!
//! Without `cluster:` in the master's configuration the catalog is a set of
//! one: in memory, or on disk at `wal.path`. With it, the masters named in
//! `cluster.peers` form the group (`cluster.bootstrap` on one of them).
//!
//! The first placement of a database wins: placing is a CreateDocument
//! with the database id as document id, so two masters placing the same
//! new database at once get one answer, ALREADY_EXISTS for the second,
//! which then reads the winner's choice. A deleted database's placement
//! stays, marked `"deleted": true`: requests for the id keep reaching the
//! set that answers them (left out: these marks are never collected, one
//! small document per deleted id).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tonic::{Code, Request, Status, metadata::MetadataMap};

use super::{
    CATALOG_HEADER,
    config::MasterConfig,
    forward::{self, Hop},
    sets::{ReplicaSet, Sets},
};
use crate::{
    api::{collection::CollectionApi, database::DatabaseApi, document::DocumentApi},
    clock::SystemClock,
    proto::database::{
        self as pb, collection_service_server::CollectionService,
        database_service_server::DatabaseService, document_service_server::DocumentService,
    },
    replication::{Replica, raft::PeerCredentials},
    server::outbound::Outbound,
    wal::{OpenError, Recovery},
};

/// The catalog's database on the masters' replica set.
pub const CATALOG_DATABASE: &str = "catalog";
/// Its collection of placements, one document per database.
pub const PLACEMENTS: &str = "placements";

const CREATE_DOCUMENT: &str = "/worker.database.v1.DocumentService/CreateDocument";
const UPDATE_DOCUMENT: &str = "/worker.database.v1.DocumentService/UpdateDocument";
const CREATE_DATABASE: &str = "/worker.database.v1.DatabaseService/CreateDatabase";
const CREATE_COLLECTION: &str = "/worker.database.v1.CollectionService/CreateCollection";

/// How long to wait between tries while the group has no leader.
const ELECTION_PAUSE: Duration = Duration::from_millis(50);

/// A placement document's value: `{"set": "a"}`, or, while the database
/// is being moved, `{"set": "a", "moving_to": "b", "since": {...}}`
/// ([`super::moving`]).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The set that serves the database.
    pub set: String,
    /// The set it is being copied to, during a move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<String>,
    /// During a move: the source's commit time the replay starts from, so
    /// that a move interrupted after its fence can be finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
    /// The database was deleted. Its id keeps the set, so that requests
    /// for it (a Commit of a transaction begun before the delete, say) go
    /// on reaching the set that answers them, and a database made again
    /// under the id is made there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A commit time, as `{"seconds": S, "nanos": N}`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub struct Since {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Placement {
    /// Settled on `set`.
    pub fn on(set: &str) -> Self {
        Placement {
            set: set.to_owned(),
            moving_to: None,
            since: None,
            deleted: false,
        }
    }
}

/// The masters' replicated catalog of placements.
#[derive(Debug)]
pub struct Placements {
    replica: Arc<Replica>,
    databases: DatabaseApi,
    collections: CollectionApi,
    documents: DocumentApi,
    /// The other masters, reached when this one does not lead the group.
    peers: Sets,
    group: Arc<ReplicaSet>,
    timeout: Duration,
}

impl Placements {
    /// Opens this master's member of the catalog group: recovers its log
    /// from `wal.path` (or starts in memory) and, with `cluster:`, joins
    /// the group. `credentials` are what it presents to the other masters.
    pub async fn open(
        config: &MasterConfig,
        credentials: PeerCredentials,
    ) -> Result<Self, OpenError> {
        let member = config.catalog_member();
        let (replica, _report) = Replica::open(
            &member,
            Arc::new(SystemClock),
            Recovery::Strict,
            credentials.clone(),
        )
        .await?;
        let addresses: Vec<String> = config
            .cluster
            .as_ref()
            .map(|c| c.peers.values().cloned().collect())
            .unwrap_or_default();
        let peers = Sets::configured(&BTreeMap::from([("catalog".to_owned(), addresses)]));
        peers.use_outbound(Outbound::default().or_token(credentials.token.as_deref()));
        let group = peers
            .get("catalog")
            .ok_or_else(|| OpenError::Start("the catalog group has no members".into()))?;
        let replica = Arc::new(replica);
        Ok(Placements {
            databases: DatabaseApi::new(replica.clone()),
            collections: CollectionApi::new(replica.clone()),
            documents: DocumentApi::new(replica.clone()),
            replica,
            peers,
            group,
            timeout: config.grpc.timeout,
        })
    }

    /// This master's member of the group, served on its port.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// The set `db` was placed on, if it was.
    pub async fn lookup(&self, db: &str) -> Result<Option<String>, Status> {
        Ok(self.placement(db).await?.map(|p| p.set))
    }

    /// The placement of `db`, move included, if it has one.
    pub async fn placement(&self, db: &str) -> Result<Option<Placement>, Status> {
        let name = document_name(db);
        let deadline = Instant::now() + self.timeout;
        loop {
            let read = async {
                self.replica.linearize().await.map_err(Status::from)?;
                let request = Request::new(pb::GetDocumentRequest { name: name.clone() });
                self.documents.get_document(request).await
            };
            match read.await {
                Ok(document) => return Ok(Some(placement_of(&document.into_inner())?)),
                Err(status) if status.code() == Code::NotFound => return Ok(None),
                Err(status) => pause_or_fail(status, deadline).await?,
            }
        }
    }

    /// Every placement of a database that exists: database id → set, in
    /// id order.
    pub async fn all(&self) -> Result<BTreeMap<String, String>, Status> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.list_all().await {
                Ok(all) => return Ok(all),
                Err(status) if status.code() == Code::NotFound => return Ok(BTreeMap::new()),
                Err(status) => pause_or_fail(status, deadline).await?,
            }
        }
    }

    async fn list_all(&self) -> Result<BTreeMap<String, String>, Status> {
        self.replica.linearize().await.map_err(Status::from)?;
        let mut all = BTreeMap::new();
        let mut page_token = String::new();
        loop {
            let request = Request::new(pb::ListDocumentsRequest {
                parent: format!("databases/{CATALOG_DATABASE}/collections/{PLACEMENTS}"),
                page_size: 1000,
                page_token,
            });
            let page = self.documents.list_documents(request).await?.into_inner();
            for document in page.documents {
                if let Some(db) = document.name.rsplit('/').next() {
                    let placement = placement_of(&document)?;
                    if !placement.deleted {
                        all.insert(db.to_owned(), placement.set);
                    }
                }
            }
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Places `db` on `set` unless it is placed already, and returns the
    /// set that holds its placement now: `set`, or the earlier choice.
    pub async fn place(&self, db: &str, set: &str) -> Result<String, Status> {
        let value = value_of(&Placement::on(set))?;
        let create = pb::CreateDocumentRequest {
            parent: format!("databases/{CATALOG_DATABASE}/collections/{PLACEMENTS}"),
            document_id: db.to_owned(),
            document: Some(pb::Document {
                value,
                ..pb::Document::default()
            }),
        };
        let mut created = self.create_placement(create.clone()).await;
        if created.as_ref().is_err_and(|s| s.code() == Code::NotFound) {
            // The first placement ever: the catalog's database and
            // collection are made on demand, by whichever master needs them.
            self.make_catalog().await?;
            created = self.create_placement(create).await;
        }
        match created {
            Ok(()) => Ok(set.to_owned()),
            Err(status) if status.code() == Code::AlreadyExists => {
                self.lookup(db).await?.ok_or_else(|| {
                    Status::unavailable(format!("the placement of {db} changed while it was made"))
                })
            }
            Err(status) => Err(status),
        }
    }

    async fn create_placement(&self, request: pb::CreateDocumentRequest) -> Result<(), Status> {
        self.write::<_, pb::Document, _, _>(CREATE_DOCUMENT, request, |r| async {
            self.documents
                .create_document(Request::new(r))
                .await
                .map(drop)
        })
        .await
    }

    async fn make_catalog(&self) -> Result<(), Status> {
        let database = pb::CreateDatabaseRequest {
            database_id: CATALOG_DATABASE.to_owned(),
            database: Some(pb::Database {
                display_name: "Catalog of the masters".to_owned(),
                ..pb::Database::default()
            }),
        };
        let made = self
            .write::<_, pb::Database, _, _>(CREATE_DATABASE, database, |r| async {
                self.databases
                    .create_database(Request::new(r))
                    .await
                    .map(drop)
            })
            .await;
        exists_is_fine(made)?;
        let collection = pb::CreateCollectionRequest {
            parent: format!("databases/{CATALOG_DATABASE}"),
            collection_id: PLACEMENTS.to_owned(),
            collection: Some(pb::Collection {
                description: "database id -> the replica set that holds it".to_owned(),
                ..pb::Collection::default()
            }),
        };
        let made = self
            .write::<_, pb::Collection, _, _>(CREATE_COLLECTION, collection, |r| async {
                self.collections
                    .create_collection(Request::new(r))
                    .await
                    .map(drop)
            })
            .await;
        exists_is_fine(made)
    }

    /// Replaces the placement of `db` (a move begins or ends).
    pub async fn set(&self, db: &str, placement: &Placement) -> Result<(), Status> {
        let request = pb::UpdateDocumentRequest {
            document: Some(pb::Document {
                name: document_name(db),
                value: value_of(placement)?,
                ..pb::Document::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["value".to_owned()],
            }),
        };
        self.write::<_, pb::Document, _, _>(UPDATE_DOCUMENT, request, |r| async {
            self.documents
                .update_document(Request::new(r))
                .await
                .map(drop)
        })
        .await
    }

    /// Marks the placement of `db` deleted (the set deleted the database);
    /// no placement is fine.
    pub async fn bury(&self, db: &str) -> Result<(), Status> {
        let Some(placement) = self.placement(db).await? else {
            return Ok(());
        };
        let buried = Placement {
            deleted: true,
            ..placement
        };
        match self.set(db, &buried).await {
            Err(status) if status.code() == Code::NotFound => Ok(()),
            other => other,
        }
    }

    /// Runs a write here when this master leads the group, else sends it
    /// to the group (which forwards it to its leader), until it is made or
    /// `grpc.timeout` has passed.
    async fn write<Req, Resp, Local, Fut>(
        &self,
        path: &'static str,
        request: Req,
        local: Local,
    ) -> Result<(), Status>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
        Local: Fn(Req) -> Fut,
        Fut: std::future::Future<Output = Result<(), Status>>,
    {
        let deadline = Instant::now() + self.timeout;
        // One request id for every try, so that a write the group made
        // before its answer was lost is not made twice.
        let hop = Hop::new(&MetadataMap::new(), self.timeout, true).with(CATALOG_HEADER);
        loop {
            let outcome = if self.replica.leads() || self.group.targets().is_empty() {
                local(request.clone()).await
            } else {
                forward::unary::<Req, Resp>(&self.peers, &self.group, &hop, path, request.clone())
                    .await
                    .map(drop)
            };
            match outcome {
                Err(status) => pause_or_fail(status, deadline).await?,
                done => return done,
            }
        }
    }
}

/// The name of the placement document of `db`.
fn document_name(db: &str) -> String {
    format!("databases/{CATALOG_DATABASE}/collections/{PLACEMENTS}/documents/{db}")
}

/// The placement a document holds.
fn placement_of(document: &pb::Document) -> Result<Placement, Status> {
    serde_json::from_str::<Placement>(&document.value).map_err(|err| {
        Status::internal(format!(
            "the placement {} is not {{\"set\": NAME}}: {err}",
            document.name
        ))
    })
}

fn value_of(placement: &Placement) -> Result<String, Status> {
    serde_json::to_string(placement).map_err(|err| Status::internal(err.to_string()))
}

/// UNAVAILABLE (no leader yet, or it changed) waits a moment and tries
/// again until `deadline`; any other answer is final.
async fn pause_or_fail(status: Status, deadline: Instant) -> Result<(), Status> {
    if status.code() != Code::Unavailable || Instant::now() + ELECTION_PAUSE >= deadline {
        return Err(status);
    }
    tokio::time::sleep(ELECTION_PAUSE).await;
    Ok(())
}

fn exists_is_fine(made: Result<(), Status>) -> Result<(), Status> {
    match made {
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        other => other,
    }
}
