//! `CollectionService`: create, read, update, delete and list collections.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::{
    api::{
        convert,
        database::{optional_id, required},
        gather::{Gather, missing},
        mask::check_update_mask,
        paging::{decode_token, next_token, page_size},
        request_id::request_id,
        requested_name, respond, respond_named,
    },
    fields::check_description,
    names::{CollectionName, DatabaseName, IdKind},
    proto::database::{self as pb, collection_service_server::CollectionService},
    replication::Replica,
    store::Op,
};

/// Serves `worker.database.v1.CollectionService` from a [`Replica`].
#[derive(Clone, Debug)]
pub struct CollectionApi {
    replica: Arc<Replica>,
}

impl CollectionApi {
    /// The service over `replica`.
    pub fn new(replica: Arc<Replica>) -> Self {
        CollectionApi { replica }
    }
}

#[tonic::async_trait]
impl CollectionService for CollectionApi {
    async fn list_collections(
        &self,
        request: Request<pb::ListCollectionsRequest>,
    ) -> Result<Response<pb::ListCollectionsResponse>, Status> {
        let req = request.into_inner();
        respond("ListCollections", &req.parent, async {
            // The parent's name is the token scope: a token from another
            // database's listing is refused.
            let (parent, limit, after) = (
                DatabaseName::parse(&req.parent, "parent"),
                page_size(req.page_size),
                decode_token(&req.page_token, &req.parent),
            )
                .gather()?;
            let page = self
                .replica
                .store()
                .list_collections(&parent, after.as_deref(), limit)?;
            let next_page_token = next_token(&req.parent, &page);
            let collections = page
                .items
                .iter()
                .map(|(id, row)| convert::collection(&parent.collection(id.clone()), row))
                .collect();
            Ok(pb::ListCollectionsResponse {
                collections,
                next_page_token,
            })
        })
        .await
    }

    async fn get_collection(
        &self,
        request: Request<pb::GetCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        let req = request.into_inner();
        respond("GetCollection", &req.name, async {
            let name = CollectionName::parse(&req.name, "name")?;
            let row = self.replica.store().get_collection(&name)?;
            Ok(convert::collection(&name, &row))
        })
        .await
    }

    async fn create_collection(
        &self,
        request: Request<pb::CreateCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        let request_id = request_id(request.metadata());
        let pb::CreateCollectionRequest {
            parent,
            collection_id,
            collection,
        } = request.into_inner();
        let requested = || requested_name(&parent, "collections", &collection_id);
        respond_named("CreateCollection", requested, async {
            let request_id = request_id?;
            let description = required(collection, "collection").and_then(|c| {
                check_description(&c.description, "collection.description").map(|()| c.description)
            });
            let (parent, id, description) = (
                DatabaseName::parse(&parent, "parent"),
                optional_id(&collection_id, IdKind::Child, "collection_id"),
                description,
            )
                .gather()?;
            let op = Op::CreateCollection {
                parent,
                id,
                description,
            };
            let record = self.replica.write(op, request_id).await?;
            convert::written_collection(&record)
        })
        .await
    }

    async fn update_collection(
        &self,
        request: Request<pb::UpdateCollectionRequest>,
    ) -> Result<Response<pb::Collection>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        let resource = req
            .collection
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        respond("UpdateCollection", &resource, async {
            let request_id = request_id?;
            let Some(collection) = req.collection else {
                let mask = check_update_mask(req.update_mask.as_ref(), "description");
                return Err(missing("collection", [mask]));
            };
            let (name, (), ()) = (
                CollectionName::parse(&collection.name, "collection.name"),
                check_description(&collection.description, "collection.description"),
                check_update_mask(req.update_mask.as_ref(), "description"),
            )
                .gather()?;
            let op = Op::UpdateCollection {
                name,
                description: collection.description,
            };
            let record = self.replica.write(op, request_id).await?;
            convert::written_collection(&record)
        })
        .await
    }

    async fn delete_collection(
        &self,
        request: Request<pb::DeleteCollectionRequest>,
    ) -> Result<Response<()>, Status> {
        let request_id = request_id(request.metadata());
        let req = request.into_inner();
        respond("DeleteCollection", &req.name, async {
            let request_id = request_id?;
            let name = CollectionName::parse(&req.name, "name")?;
            self.replica
                .write(Op::DeleteCollection { name }, request_id)
                .await?;
            Ok(())
        })
        .await
    }
}
