//! `distgo db list|get|create|update|delete|move`: one request each.

use prost_types::FieldMask;

use super::{
    Context,
    args::DbCommand,
    error::CliError,
    paging::page_through,
    path::{Kind, last_id, resolve},
    view::{Deleted, Moved},
};
use crate::proto::{
    database::{
        CreateDatabaseRequest, Database, DeleteDatabaseRequest, GetDatabaseRequest,
        ListDatabasesRequest, UpdateDatabaseRequest,
    },
    master::admin::MoveDatabaseRequest,
};

/// Runs a `db` subcommand (export and import live in [`super::dump`]).
pub async fn run(cx: &mut Context, command: DbCommand) -> Result<(), CliError> {
    let mut client = cx.clients.databases();
    match command {
        DbCommand::List(list) => {
            let mut out = cx.printer.list::<Database>();
            let fetch = async |page_size, page_token| {
                let request = ListDatabasesRequest {
                    page_size,
                    page_token,
                };
                let page = client.list_databases(request).await?.into_inner();
                Ok((page.databases, page.next_page_token))
            };
            page_through(list.limit, fetch, |db| out.push(db)).await?;
            out.finish()?;
        }
        DbCommand::Get { database } => {
            let name = resolve(&database, Kind::Database)?;
            let db = client.get_database(GetDatabaseRequest { name }).await?;
            cx.printer.one(db.get_ref())?;
        }
        DbCommand::Create {
            database,
            display_name,
        } => {
            let id = match &database {
                Some(path) => last_id(&resolve(path, Kind::Database)?).to_owned(),
                None => String::new(),
            };
            let display_name = match display_name {
                Some(name) => name,
                None if !id.is_empty() => id.clone(),
                None => return Err(CliError::usage("give a DATABASE id or --display-name")),
            };
            let request = CreateDatabaseRequest {
                database_id: id,
                database: Some(Database {
                    display_name,
                    ..Database::default()
                }),
            };
            let db = client.create_database(request).await?;
            cx.printer.one(db.get_ref())?;
        }
        DbCommand::Update {
            database,
            display_name,
        } => {
            let request = UpdateDatabaseRequest {
                database: Some(Database {
                    name: resolve(&database, Kind::Database)?,
                    display_name,
                    ..Database::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["display_name".into()],
                }),
            };
            let db = client.update_database(request).await?;
            cx.printer.one(db.get_ref())?;
        }
        DbCommand::Delete { database } => {
            let name = resolve(&database, Kind::Database)?;
            let request = DeleteDatabaseRequest { name: name.clone() };
            client.delete_database(request).await?;
            cx.printer.one(&Deleted { deleted: name })?;
        }
        DbCommand::Export { database, file } => {
            super::dump::export(cx, &database, file.as_deref()).await?;
        }
        DbCommand::Import { file, rename, load } => {
            super::dump::import(cx, &file, rename.as_deref(), load).await?;
        }
        DbCommand::Move { database, to } => {
            let request = MoveDatabaseRequest {
                name: resolve(&database, Kind::Database)?,
                to_set: to,
            };
            let moved = cx.clients.admin().move_database(request).await?;
            cx.printer.one(&Moved::from(moved.into_inner()))?;
        }
    }
    Ok(())
}
