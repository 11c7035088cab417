//! `distgo doc list|get|create|update|delete`: one request each.
//!
//! In the table format a single document prints as its value, exactly as
//! stored, so `distgo doc get shop/users/u1 | jq .` works without
//! `--output json`. When the worker picked the id, its name goes to
//! standard error, keeping standard output the value alone.

use prost_types::FieldMask;

use super::{
    Context,
    args::{DocCommand, Format},
    error::CliError,
    input::value_argument,
    paging::page_through,
    path::{Kind, resolve, resolve_create},
    view::Deleted,
};
use crate::proto::database::{
    CreateDocumentRequest, DeleteDocumentRequest, Document, GetDocumentRequest,
    ListDocumentsRequest, UpdateDocumentRequest,
};

/// Runs a `doc` subcommand (import and export live in their own files).
pub async fn run(cx: &mut Context, command: DocCommand) -> Result<(), CliError> {
    let mut client = cx.clients.documents();
    match command {
        DocCommand::List { collection, list } => {
            let parent = resolve(&collection, Kind::Collection)?;
            let mut out = cx.printer.list::<Document>();
            let fetch = async |page_size, page_token| {
                let request = ListDocumentsRequest {
                    parent: parent.clone(),
                    page_size,
                    page_token,
                };
                let page = client.list_documents(request).await?.into_inner();
                Ok((page.documents, page.next_page_token))
            };
            page_through(list.limit, fetch, |d| out.push(d)).await?;
            out.finish()?;
        }
        DocCommand::Get { document } => {
            let name = resolve(&document, Kind::Document)?;
            let found = client.get_document(GetDocumentRequest { name }).await?;
            cx.printer.one(found.get_ref())?;
        }
        DocCommand::Create { document, value } => {
            let (parent, id) = resolve_create(&document, Kind::Document)?;
            let picked = id.is_none();
            let request = CreateDocumentRequest {
                parent,
                document_id: id.unwrap_or_default(),
                document: Some(Document {
                    value: value_argument(&value)?,
                    ..Document::default()
                }),
            };
            let created = client.create_document(request).await?.into_inner();
            if picked && cx.printer.format() == Format::Table {
                eprintln!("created {}", created.name);
            }
            cx.printer.one(&created)?;
        }
        DocCommand::Update { document, value } => {
            let request = UpdateDocumentRequest {
                document: Some(Document {
                    name: resolve(&document, Kind::Document)?,
                    value: value_argument(&value)?,
                    ..Document::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["value".into()],
                }),
            };
            let updated = client.update_document(request).await?;
            cx.printer.one(updated.get_ref())?;
        }
        DocCommand::Delete { document } => {
            let name = resolve(&document, Kind::Document)?;
            let request = DeleteDocumentRequest { name: name.clone() };
            client.delete_document(request).await?;
            cx.printer.one(&Deleted { deleted: name })?;
        }
        DocCommand::Import {
            collection,
            file,
            id_field,
            keep_id_field,
            load,
        } => {
            let ids = super::lines::IdRule::new(id_field, keep_id_field);
            super::import::documents(cx, &collection, &file, ids, load).await?;
        }
        DocCommand::Export {
            collection,
            file,
            id_field,
        } => {
            super::export::documents(cx, &collection, file.as_deref(), id_field).await?;
        }
    }
    Ok(())
}
