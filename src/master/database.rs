//! `master.database.v1.DatabaseService`: the methods that are about
//! databases themselves, the only ones that need more than forwarding.
//!
//! - **CreateDatabase** picks the id when the client sent none (20
//!   characters of `[a-z0-9]`, as a worker would), so that it can place
//!   it, then sends the create to the set that already holds that id if
//!   any (its ALREADY_EXISTS is the answer), else records the placement in
//!   the replicated catalog ([`super::placements`]: the first master to
//!   place an id wins) and sends the create to that set.
//! - **DeleteDatabase** marks the placement deleted once the set has
//!   deleted the database (a failed delete leaves it as it was). The id
//!   keeps its set: a Commit of a transaction begun before the delete is
//!   still answered by the set that holds the transaction, and a database
//!   made again under the id is made there.
//! - **ListDatabases** merges every set's listing ([`super::merge`]).
//! - **GetDatabase** and **UpdateDatabase** are routed like any request.

use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use super::{
    catalog::no_sets,
    config::Placement,
    merge::{self, Order},
    router::{Router, database_of},
    sets::ReplicaSet,
};
use crate::{
    api::{gather::Gather, paging::page_size},
    ids::generate_id,
    names::IdKind,
    proto::master::database::{
        CreateDatabaseRequest, Database, DeleteDatabaseRequest, GetDatabaseRequest,
        ListDatabasesRequest, ListDatabasesResponse, UpdateDatabaseRequest,
        database_service_server::DatabaseService,
    },
};

const LIST: &str = "/worker.database.v1.DatabaseService/ListDatabases";
const GET: &str = "/worker.database.v1.DatabaseService/GetDatabase";
const CREATE: &str = "/worker.database.v1.DatabaseService/CreateDatabase";
const UPDATE: &str = "/worker.database.v1.DatabaseService/UpdateDatabase";
const DELETE: &str = "/worker.database.v1.DatabaseService/DeleteDatabase";

/// The scope of the master's database page tokens.
const SCOPE: &str = "master:databases";

/// The master's DatabaseService.
#[derive(Debug)]
pub struct MasterDatabases {
    router: Router,
    /// With `least_loaded`, creates are placed one at a time, so that each
    /// sees the counts the previous one left.
    placing: Option<Mutex<()>>,
}

impl MasterDatabases {
    /// The service over `router`.
    pub fn new(router: Router, placement: Placement) -> Self {
        let placing = (placement == Placement::LeastLoaded).then(Mutex::default);
        MasterDatabases { router, placing }
    }
}

#[tonic::async_trait]
impl DatabaseService for MasterDatabases {
    async fn list_databases(
        &self,
        request: Request<ListDatabasesRequest>,
    ) -> Result<Response<ListDatabasesResponse>, Status> {
        let hop = self.router.hop(&request, LIST);
        let request = request.into_inner();
        // Both fields are judged here, and reported together (ERR-3).
        let (size, cursor) = (
            page_size(request.page_size),
            merge::read_token(SCOPE, &request.page_token),
        )
            .gather()?;
        let order = ByName {
            router: &self.router,
            hop,
        };
        let sets = self.router.catalog().sets().all();
        let (databases, next_page_token) = merge::page(&order, sets, SCOPE, cursor, size).await?;
        Ok(Response::new(ListDatabasesResponse {
            databases,
            next_page_token,
        }))
    }

    async fn get_database(
        &self,
        request: Request<GetDatabaseRequest>,
    ) -> Result<Response<Database>, Status> {
        let name = request.get_ref().name.clone();
        self.router.unary(&name, GET, request).await
    }

    async fn create_database(
        &self,
        mut request: Request<CreateDatabaseRequest>,
    ) -> Result<Response<Database>, Status> {
        if request.get_ref().database_id.is_empty() {
            request.get_mut().database_id = generate_id(IdKind::Database, &mut rand::rng());
        }
        let name = format!("databases/{}", request.get_ref().database_id);
        let Some(db) = database_of(&name).map(str::to_owned) else {
            // A bad id: any set refuses it in the worker's own words.
            return self.router.unary(&name, CREATE, request).await;
        };
        let _placing = match &self.placing {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let hop = self.router.hop(&request, CREATE);
        let catalog = self.router.catalog();
        // `held`: the id had a placement already (live, or of a deleted
        // database); a new placement is live from the start.
        let (set, held) = match catalog.find(&db, &hop).await? {
            Some(holder) => (holder, true),
            None => {
                if self.placing.is_some() {
                    catalog.sync_placements().await?;
                }
                let chosen = catalog.place(&db).ok_or_else(no_sets)?;
                (catalog.record(&db, &chosen).await?, false)
            }
        };
        let created: Response<Database> = self
            .router
            .send(&set, &hop, CREATE, request.into_inner())
            .await?;
        if held && let Err(status) = catalog.revive(&db, &set).await {
            // Made on its set all the same: routing reaches it there.
            tracing::warn!(database = %db, %status, "cannot mark a placement live again");
            catalog.insert(&db, set.name());
        }
        tracing::info!(database = %db, set = set.name(), "database placed");
        Ok(created)
    }

    async fn update_database(
        &self,
        request: Request<UpdateDatabaseRequest>,
    ) -> Result<Response<Database>, Status> {
        let name = request
            .get_ref()
            .database
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        self.router.unary(&name, UPDATE, request).await
    }

    async fn delete_database(
        &self,
        request: Request<DeleteDatabaseRequest>,
    ) -> Result<Response<()>, Status> {
        let name = request.get_ref().name.clone();
        let deleted = self.router.unary(&name, DELETE, request).await?;
        if let Some(db) = database_of(&name) {
            self.router.catalog().bury(db).await;
        }
        Ok(deleted)
    }
}

/// Databases in name order, as [`merge`] pages them.
struct ByName<'a> {
    router: &'a Router,
    hop: super::forward::Hop,
}

impl Order for ByName<'_> {
    type Item = Database;
    type Mark = String;

    async fn fetch(
        &self,
        set: &ReplicaSet,
        token: &str,
        size: usize,
    ) -> Result<(Vec<Database>, String), Status> {
        let request = ListDatabasesRequest {
            page_size: i32::try_from(size).unwrap_or(i32::MAX),
            page_token: token.to_owned(),
        };
        let page: Response<ListDatabasesResponse> =
            self.router.send(set, &self.hop, LIST, request).await?;
        let page = page.into_inner();
        Ok((page.databases, page.next_page_token))
    }

    fn before(&self, a: &Database, a_set: &str, b: &Database, b_set: &str) -> bool {
        (a.name.as_bytes(), a_set) < (b.name.as_bytes(), b_set)
    }

    fn mark(&self, item: &Database) -> String {
        item.name.clone()
    }

    fn skip(
        &self,
        items: Vec<Database>,
        _own: Option<&String>,
        last: Option<&String>,
    ) -> Vec<Database> {
        match last {
            Some(last) => items
                .into_iter()
                .filter(|d| d.name.as_bytes() > last.as_bytes())
                .collect(),
            None => items,
        }
    }
}
