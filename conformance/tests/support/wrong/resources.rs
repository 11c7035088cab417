//! Databases, collections and documents, as the flaws break them.

use distgo_conformance::proto::database::{
    self as pb, collection_service_server::CollectionService,
    database_service_server::DatabaseService, document_service_server::DocumentService,
};
use tonic::{Code, Request, Response, Status};

use super::{Flaw, R, Wrong, count, offset_of};

impl Wrong {
    /// ListDatabases by offset: the reference worker's whole listing, cut.
    async fn databases_by_offset(
        &self,
        request: pb::ListDatabasesRequest,
    ) -> R<pb::ListDatabasesResponse> {
        let start = match request.page_token.as_str() {
            "" => 0,
            token => offset_of(token).ok_or_else(|| Status::invalid_argument("bad page_token"))?,
        };
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let list = pb::ListDatabasesRequest {
                page_size: 1000,
                page_token: token,
            };
            let page = self.db().list_databases(list).await?.into_inner();
            all.extend(page.databases);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let size = match count(request.page_size) {
            0 => 100,
            n => n,
        };
        let databases: Vec<pb::Database> = all.iter().skip(start).take(size).cloned().collect();
        // The classic offset bug: a full page always promises more.
        let next_page_token = if databases.len() == size {
            format!("off-{}", start + size)
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListDatabasesResponse {
            databases,
            next_page_token,
        }))
    }
}

#[tonic::async_trait]
impl DatabaseService for Wrong {
    async fn list_databases(
        &self,
        r: Request<pb::ListDatabasesRequest>,
    ) -> R<pb::ListDatabasesResponse> {
        let mut request = r.into_inner();
        if self.has(Flaw::PageSizeZeroEmpty) && request.page_size == 0 {
            // Checked as usual (errors are right), then empty.
            self.db().list_databases(request).await?;
            return Ok(Response::new(pb::ListDatabasesResponse::default()));
        }
        if self.has(Flaw::DatabaseOffsetTokens) {
            return self.databases_by_offset(request).await;
        }
        if self.has(Flaw::DatabasePagesOfFifty) && request.page_size == 0 {
            request.page_size = 50;
        }
        if self.has(Flaw::DatabasePagesShort) && request.page_size > 1 {
            request.page_size -= 1;
        }
        let mut page = self.db().list_databases(request).await?.into_inner();
        if self.has(Flaw::FrozenUpdatedAt) {
            page.databases.iter_mut().for_each(super::Resource::freeze);
        }
        Ok(Response::new(page))
    }
    async fn get_database(&self, r: Request<pb::GetDatabaseRequest>) -> R<pb::Database> {
        self.answer(self.db().get_database(r.into_inner()).await)
    }
    async fn create_database(&self, r: Request<pb::CreateDatabaseRequest>) -> R<pb::Database> {
        let mut created = match self.answer(self.db().create_database(self.fwd(r)).await) {
            Err(s)
                if self.has(Flaw::DuplicateDatabaseWrongCode)
                    && s.code() == Code::AlreadyExists =>
            {
                return Err(Status::failed_precondition(s.message().to_owned()));
            }
            other => other?,
        };
        if self.has(Flaw::CreatedDatabaseTimesDiffer) {
            let db = created.get_mut();
            if let Some(t) = db.updated_at.as_mut() {
                t.nanos = if t.nanos < 999_999_999 {
                    t.nanos + 1
                } else {
                    t.nanos - 1
                };
            }
        }
        let ghosts = self
            .graveyard
            .lock()
            .unwrap()
            .remove(&created.get_ref().name);
        for (id, description) in ghosts.unwrap_or_default() {
            let request = pb::CreateCollectionRequest {
                parent: created.get_ref().name.clone(),
                collection_id: id,
                collection: Some(pb::Collection {
                    description,
                    ..Default::default()
                }),
            };
            self.coll().create_collection(request).await?;
        }
        Ok(created)
    }
    async fn update_database(&self, r: Request<pb::UpdateDatabaseRequest>) -> R<pb::Database> {
        self.answer(self.db().update_database(self.fwd(r)).await)
    }
    async fn delete_database(&self, r: Request<pb::DeleteDatabaseRequest>) -> R<()> {
        let name = r.get_ref().name.clone();
        if self.has(Flaw::PartialCascade) {
            let list = pb::ListCollectionsRequest {
                parent: name.clone(),
                page_size: 1000,
                page_token: String::new(),
            };
            if let Ok(page) = self.coll().list_collections(list).await {
                let ghosts = page
                    .into_inner()
                    .collections
                    .into_iter()
                    .map(|c| {
                        (
                            c.name.rsplit('/').next().unwrap_or_default().to_owned(),
                            c.description,
                        )
                    })
                    .collect();
                self.graveyard.lock().unwrap().insert(name, ghosts);
            }
        }
        match self.db().delete_database(self.fwd(r)).await {
            Err(s) if self.has(Flaw::DeleteMissingDatabaseOk) && s.code() == Code::NotFound => {
                Ok(Response::new(()))
            }
            other => other,
        }
    }
}

#[tonic::async_trait]
impl CollectionService for Wrong {
    async fn list_collections(
        &self,
        r: Request<pb::ListCollectionsRequest>,
    ) -> R<pb::ListCollectionsResponse> {
        if self.has(Flaw::PageSizeZeroEmpty) && r.get_ref().page_size == 0 {
            self.coll().list_collections(r.into_inner()).await?;
            return Ok(Response::new(pb::ListCollectionsResponse::default()));
        }
        let mut page = self
            .coll()
            .list_collections(r.into_inner())
            .await?
            .into_inner();
        if self.has(Flaw::FrozenUpdatedAt) {
            page.collections
                .iter_mut()
                .for_each(super::Resource::freeze);
        }
        Ok(Response::new(page))
    }
    async fn get_collection(&self, r: Request<pb::GetCollectionRequest>) -> R<pb::Collection> {
        let result = self.coll().get_collection(r.into_inner()).await;
        match result {
            Err(s) if self.has(Flaw::WrongCode) && s.code() == Code::NotFound => {
                Err(Status::failed_precondition(s.message().to_owned()))
            }
            other => self.answer(other),
        }
    }
    async fn create_collection(
        &self,
        r: Request<pb::CreateCollectionRequest>,
    ) -> R<pb::Collection> {
        self.answer(self.coll().create_collection(self.fwd(r)).await)
    }
    async fn update_collection(
        &self,
        r: Request<pb::UpdateCollectionRequest>,
    ) -> R<pb::Collection> {
        self.answer(self.coll().update_collection(self.fwd(r)).await)
    }
    async fn delete_collection(&self, r: Request<pb::DeleteCollectionRequest>) -> R<()> {
        self.coll().delete_collection(self.fwd(r)).await
    }
}

#[tonic::async_trait]
impl DocumentService for Wrong {
    async fn list_documents(
        &self,
        r: Request<pb::ListDocumentsRequest>,
    ) -> R<pb::ListDocumentsResponse> {
        let request = r.into_inner();
        if self.has(Flaw::PageSizeZeroEmpty) && request.page_size == 0 {
            self.doc().list_documents(request).await?;
            return Ok(Response::new(pb::ListDocumentsResponse::default()));
        }
        let mut page = self
            .doc()
            .list_documents(request.clone())
            .await?
            .into_inner();
        if self.has(Flaw::PageOverlap)
            && !page.next_page_token.is_empty()
            && page.documents.len() >= 2
        {
            // The token of a page one shorter: the next page starts with the
            // last item of this one again.
            let shorter = pb::ListDocumentsRequest {
                page_size: page.documents.len() as i32 - 1,
                ..request
            };
            page.next_page_token = self
                .doc()
                .list_documents(shorter)
                .await?
                .into_inner()
                .next_page_token;
        }
        if self.has(Flaw::FrozenUpdatedAt) {
            page.documents.iter_mut().for_each(super::Resource::freeze);
        }
        Ok(Response::new(page))
    }
    async fn get_document(&self, r: Request<pb::GetDocumentRequest>) -> R<pb::Document> {
        if let (true, Some(replica)) = (self.has(Flaw::StaleFollowerReads), &self.replica) {
            return replica.read(&r.get_ref().name).map(Response::new);
        }
        self.answer(self.doc().get_document(r.into_inner()).await)
    }
    async fn create_document(&self, r: Request<pb::CreateDocumentRequest>) -> R<pb::Document> {
        let mut r = self.fwd(r);
        if let Some(d) = r.get_mut().document.as_mut() {
            d.value = self.mangle(std::mem::take(&mut d.value));
        }
        let created = self.answer(self.doc().create_document(r).await);
        if let Ok(doc) = &created {
            self.replicate(&doc.get_ref().name, Some(doc.get_ref()));
        }
        created
    }
    async fn update_document(&self, r: Request<pb::UpdateDocumentRequest>) -> R<pb::Document> {
        let mut r = self.fwd(r);
        if let Some(d) = r.get_mut().document.as_mut() {
            d.value = self.mangle(std::mem::take(&mut d.value));
        }
        let not_json = r
            .get_ref()
            .document
            .as_ref()
            .is_some_and(|d| serde_json::from_str::<serde_json::Value>(&d.value).is_err());
        let fake =
            self.has(Flaw::LostUpdate) || (self.has(Flaw::UpdateAcceptsMalformed) && not_json);
        if fake {
            // Answer as if stored, store nothing.
            let doc = r.into_inner().document.unwrap_or_default();
            let get = pb::GetDocumentRequest {
                name: doc.name.clone(),
            };
            let mut stored = self.doc().get_document(get).await?.into_inner();
            stored.value = doc.value;
            return self.answer(Ok(Response::new(stored)));
        }
        let updated = self.answer(self.doc().update_document(r).await);
        if let Ok(doc) = &updated {
            self.replicate(&doc.get_ref().name, Some(doc.get_ref()));
        }
        updated
    }
    async fn delete_document(&self, r: Request<pb::DeleteDocumentRequest>) -> R<()> {
        let name = r.get_ref().name.clone();
        let deleted = self.doc().delete_document(self.fwd(r)).await;
        if deleted.is_ok() {
            self.replicate(&name, None);
        }
        deleted
    }
}
