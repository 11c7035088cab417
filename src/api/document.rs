//! `DocumentService`: create, read, update, delete and list documents.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::{
    api::{
        convert,
        database::optional_id,
        gather::{Gather, missing},
        mask::check_update_mask,
        paging::{decode_token, next_token, page_size},
        request_id::request_id,
        requested_name, respond, respond_named,
    },
    error::{Violation, quote},
    fields::check_value,
    names::{CollectionName, DocumentName, IdKind},
    proto::database::{self as pb, document_service_server::DocumentService},
    replication::Replica,
    store::Op,
};

/// Serves `worker.database.v1.DocumentService` from a [`Replica`].
#[derive(Clone, Debug)]
pub struct DocumentApi {
    replica: Arc<Replica>,
}

impl DocumentApi {
    /// The service over `replica`.
    pub fn new(replica: Arc<Replica>) -> Self {
        DocumentApi { replica }
    }
}

/// The id a CreateDocument asks for: `document_id` wins, `document.id` is the
/// fallback, both empty lets the server pick, and two different ids are an
/// error rather than a guess.
fn requested_id(document_id: &str, body_id: &str) -> Result<Option<String>, Violation> {
    match (document_id.is_empty(), body_id.is_empty()) {
        (false, false) if document_id != body_id => Err(Violation::new(
            "document.id",
            format!(
                "{} differs from document_id {}",
                quote(body_id),
                quote(document_id)
            ),
        )),
        (false, _) => optional_id(document_id, IdKind::Child, "document_id"),
        (true, _) => optional_id(body_id, IdKind::Child, "document.id"),
    }
}

#[tonic::async_trait]
impl DocumentService for DocumentApi {
    async fn list_documents(
        &self,
        request: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        let req = request.into_inner();
        respond("ListDocuments", &req.parent, async {
            let (parent, limit, after) = (
                CollectionName::parse(&req.parent, "parent"),
                page_size(req.page_size),
                decode_token(&req.page_token, &req.parent),
            )
                .gather()?;
            let page = self
                .replica
                .store()
                .list_documents(&parent, after.as_deref(), limit)?;
            let next_page_token = next_token(&req.parent, &page);
            let documents = page
                .items
                .iter()
                .map(|(id, row)| convert::document(&parent.document(id.clone()), row))
                .collect();
            Ok(pb::ListDocumentsResponse {
                documents,
                next_page_token,
            })
        })
        .await
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let req = request.into_inner();
        respond("GetDocument", &req.name, async {
            let name = DocumentName::parse(&req.name, "name")?;
            let row = self.replica.store().get_document(&name)?;
            Ok(convert::document(&name, &row))
        })
        .await
    }

    async fn create_document(
        &self,
        request: Request<pb::CreateDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let request_id = request_id(request.metadata());
        let pb::CreateDocumentRequest {
            parent,
            document_id,
            mut document,
        } = request.into_inner();
        // The id in the body, taken out (not copied) so that the error
        // path can still name what was asked for.
        let body_id = document
            .as_mut()
            .map(|d| std::mem::take(&mut d.id))
            .unwrap_or_default();
        let requested = || {
            let id = if document_id.is_empty() {
                &body_id
            } else {
                &document_id
            };
            requested_name(&parent, "documents", id)
        };
        respond_named("CreateDocument", requested, async {
            let request_id = request_id?;
            let Some(document) = document else {
                return Err(missing(
                    "document",
                    [
                        CollectionName::parse(&parent, "parent").map(drop),
                        requested_id(&document_id, "").map(drop),
                    ],
                ));
            };
            let (parent, id, ()) = (
                CollectionName::parse(&parent, "parent"),
                requested_id(&document_id, &body_id),
                check_value(&document.value, "document.value"),
            )
                .gather()?;
            let op = Op::CreateDocument {
                parent,
                id,
                value: document.value,
            };
            let record = self.replica.write(op, request_id).await?;
            convert::written_document(&record)
        })
        .await
    }

    async fn update_document(
        &self,
        request: Request<pb::UpdateDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let request_id = request_id(request.metadata());
        let pb::UpdateDocumentRequest {
            mut document,
            update_mask,
        } = request.into_inner();
        // The name, taken out (not copied) so that the error path can
        // still name the document.
        let sent_name = document
            .as_mut()
            .map(|d| std::mem::take(&mut d.name))
            .unwrap_or_default();
        respond_named("UpdateDocument", || sent_name.clone(), async {
            let request_id = request_id?;
            let Some(document) = document else {
                let mask = check_update_mask(update_mask.as_ref(), "value");
                return Err(missing("document", [mask]));
            };
            let (name, (), ()) = (
                DocumentName::parse(&sent_name, "document.name"),
                check_value(&document.value, "document.value"),
                check_update_mask(update_mask.as_ref(), "value"),
            )
                .gather()?;
            let op = Op::UpdateDocument {
                name,
                value: document.value,
            };
            let record = self.replica.write(op, request_id).await?;
            convert::written_document(&record)
        })
        .await
    }

    async fn delete_document(
        &self,
        request: Request<pb::DeleteDocumentRequest>,
    ) -> Result<Response<()>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        respond("DeleteDocument", &req.name, async {
            let request_id = request_id?;
            let name = DocumentName::parse(&req.name, "name")?;
            self.replica
                .write(Op::DeleteDocument { name }, request_id)
                .await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_id_wins_and_conflicting_ids_are_refused() {
        assert_eq!(requested_id("a", ""), Ok(Some("a".into())));
        assert_eq!(requested_id("", "b"), Ok(Some("b".into())));
        assert_eq!(requested_id("a", "a"), Ok(Some("a".into())));
        assert_eq!(requested_id("", ""), Ok(None));
        assert_eq!(requested_id("a", "b").unwrap_err().field, "document.id");
        assert_eq!(requested_id("bad id", "").unwrap_err().field, "document_id");
        assert_eq!(requested_id("", "bad/id").unwrap_err().field, "document.id");
    }
}
