//! `DatabaseService`: create, read, update, delete and list databases.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::{
    api::{
        convert,
        gather::{Gather, missing},
        mask::check_update_mask,
        paging::{decode_token, next_token, page_size},
        request_id::request_id,
        requested_name, respond, respond_named,
    },
    error::Violation,
    fields::check_display_name,
    names::{DatabaseName, IdKind, check_id},
    proto::database::{self as pb, database_service_server::DatabaseService},
    replication::Replica,
    store::Op,
};

/// The page-token scope of `ListDatabases`: there is only one list of databases.
const SCOPE: &str = "databases";

/// Serves `worker.database.v1.DatabaseService` from a [`Replica`].
#[derive(Clone, Debug)]
pub struct DatabaseApi {
    replica: Arc<Replica>,
}

impl DatabaseApi {
    /// The service over `replica`.
    pub fn new(replica: Arc<Replica>) -> Self {
        DatabaseApi { replica }
    }
}

/// An optional id: empty asks the server to generate one.
pub(crate) fn optional_id(
    id: &str,
    kind: IdKind,
    field: &str,
) -> Result<Option<String>, Violation> {
    if id.is_empty() {
        return Ok(None);
    }
    check_id(id, kind, field).map(|()| Some(id.to_owned()))
}

/// A required message field: missing is a violation of `field`.
pub(crate) fn required<T>(message: Option<T>, field: &str) -> Result<T, Violation> {
    message.ok_or_else(|| Violation::new(field, "is required"))
}

#[tonic::async_trait]
impl DatabaseService for DatabaseApi {
    async fn list_databases(
        &self,
        request: Request<pb::ListDatabasesRequest>,
    ) -> Result<Response<pb::ListDatabasesResponse>, Status> {
        let req = request.into_inner();
        respond("ListDatabases", SCOPE, async {
            let (limit, after) = (
                page_size(req.page_size),
                decode_token(&req.page_token, SCOPE),
            )
                .gather()?;
            let page = self.replica.store().list_databases(after.as_deref(), limit);
            let next_page_token = next_token(SCOPE, &page);
            let databases = page
                .items
                .iter()
                .map(|(id, row)| {
                    convert::database(
                        &DatabaseName {
                            database: id.clone(),
                        },
                        row,
                    )
                })
                .collect();
            Ok(pb::ListDatabasesResponse {
                databases,
                next_page_token,
            })
        })
        .await
    }

    async fn get_database(
        &self,
        request: Request<pb::GetDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        let req = request.into_inner();
        respond("GetDatabase", &req.name, async {
            let name = DatabaseName::parse(&req.name, "name")?;
            let row = self.replica.store().get_database(&name)?;
            Ok(convert::database(&name, &row))
        })
        .await
    }

    async fn create_database(
        &self,
        request: Request<pb::CreateDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        let request_id = request_id(request.metadata());
        let pb::CreateDatabaseRequest {
            database,
            database_id,
        } = request.into_inner();
        let requested = || requested_name("", "databases", &database_id);
        respond_named("CreateDatabase", requested, async {
            let request_id = request_id?;
            let display_name = required(database, "database").and_then(|db| {
                check_display_name(&db.display_name, "database.display_name")
                    .map(|()| db.display_name)
            });
            let (id, display_name) = (
                optional_id(&database_id, IdKind::Database, "database_id"),
                display_name,
            )
                .gather()?;
            let record = self
                .replica
                .write(Op::CreateDatabase { id, display_name }, request_id)
                .await?;
            convert::written_database(&record)
        })
        .await
    }

    async fn update_database(
        &self,
        request: Request<pb::UpdateDatabaseRequest>,
    ) -> Result<Response<pb::Database>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        let resource = req
            .database
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        respond("UpdateDatabase", &resource, async {
            let request_id = request_id?;
            let Some(database) = req.database else {
                let mask = check_update_mask(req.update_mask.as_ref(), "display_name");
                return Err(missing("database", [mask]));
            };
            let (name, (), ()) = (
                DatabaseName::parse(&database.name, "database.name"),
                check_display_name(&database.display_name, "database.display_name"),
                check_update_mask(req.update_mask.as_ref(), "display_name"),
            )
                .gather()?;
            let op = Op::UpdateDatabase {
                name,
                display_name: database.display_name,
            };
            let record = self.replica.write(op, request_id).await?;
            convert::written_database(&record)
        })
        .await
    }

    async fn delete_database(
        &self,
        request: Request<pb::DeleteDatabaseRequest>,
    ) -> Result<Response<()>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        respond("DeleteDatabase", &req.name, async {
            let request_id = request_id?;
            let name = DatabaseName::parse(&req.name, "name")?;
            self.replica
                .write(Op::DeleteDatabase { name }, request_id)
                .await?;
            Ok(())
        })
        .await
    }
}
