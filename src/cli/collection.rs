//! `distgo collection list|get|create|update|delete`: one request each.

use prost_types::FieldMask;

use super::{
    Context,
    args::CollectionCommand,
    error::CliError,
    paging::page_through,
    path::{Kind, resolve, resolve_create},
    view::Deleted,
};
use crate::proto::database::{
    Collection, CreateCollectionRequest, DeleteCollectionRequest, GetCollectionRequest,
    ListCollectionsRequest, UpdateCollectionRequest,
};

/// Runs a `collection` subcommand.
pub async fn run(cx: &mut Context, command: CollectionCommand) -> Result<(), CliError> {
    let mut client = cx.clients.collections();
    match command {
        CollectionCommand::List { database, list } => {
            let parent = resolve(&database, Kind::Database)?;
            let mut out = cx.printer.list::<Collection>();
            let fetch = async |page_size, page_token| {
                let request = ListCollectionsRequest {
                    parent: parent.clone(),
                    page_size,
                    page_token,
                };
                let page = client.list_collections(request).await?.into_inner();
                Ok((page.collections, page.next_page_token))
            };
            page_through(list.limit, fetch, |c| out.push(c)).await?;
            out.finish()?;
        }
        CollectionCommand::Get { collection } => {
            let name = resolve(&collection, Kind::Collection)?;
            let found = client.get_collection(GetCollectionRequest { name }).await?;
            cx.printer.one(found.get_ref())?;
        }
        CollectionCommand::Create {
            collection,
            description,
        } => {
            let (parent, id) = resolve_create(&collection, Kind::Collection)?;
            let request = CreateCollectionRequest {
                parent,
                collection_id: id.unwrap_or_default(),
                collection: Some(Collection {
                    description,
                    ..Collection::default()
                }),
            };
            let created = client.create_collection(request).await?;
            cx.printer.one(created.get_ref())?;
        }
        CollectionCommand::Update {
            collection,
            description,
        } => {
            let request = UpdateCollectionRequest {
                collection: Some(Collection {
                    name: resolve(&collection, Kind::Collection)?,
                    description,
                    ..Collection::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["description".into()],
                }),
            };
            let updated = client.update_collection(request).await?;
            cx.printer.one(updated.get_ref())?;
        }
        CollectionCommand::Delete { collection } => {
            let name = resolve(&collection, Kind::Collection)?;
            let request = DeleteCollectionRequest { name: name.clone() };
            client.delete_collection(request).await?;
            cx.printer.one(&Deleted { deleted: name })?;
        }
    }
    Ok(())
}
