//! Routing by database: the one function every data method goes through.
//!
//! A request names its database somewhere (`name`, `parent`,
//! `database_name`, `document.name` ...); the service passes that string
//! here, and the router
//!
//! 1. reads the database id from it (`databases/{db}/...`). A string that
//!    has none goes to *any* set: every worker validates names the same
//!    way, so the client gets exactly the INVALID_ARGUMENT (with all its
//!    field violations) that a worker gives;
//! 2. finds the set ([`Catalog::route`]) and forwards ([`forward::unary`]);
//! 3. if the set answers NOT_FOUND, the answer may come from the wrong set
//!    (a stale cache entry, or the source of a move that has fenced it):
//!    the master reads the database's placement and, if it names another
//!    set (or a move that has fenced this one: then it waits, within the
//!    deadline, for the move to switch), retries there once. A database
//!    with no placement is looked for on every set, but only when the set
//!    said the database itself is missing. A NOT_FOUND that stands costs
//!    one placement read.

use std::{sync::Arc, time::Duration};

use tonic::{Code, Request, Response, Status, metadata::MetadataMap};

use super::{
    catalog::{Catalog, no_sets},
    forward::{self, Hop},
    sets::ReplicaSet,
};
use crate::{
    names::{IdKind, check_id},
    proto::master::database::{Database, GetDatabaseRequest},
    server::methods::{self, Kind},
};

const GET_DATABASE: &str = "/worker.database.v1.DatabaseService/GetDatabase";

/// Forwards requests to the set of their database.
#[derive(Clone, Debug)]
pub struct Router {
    catalog: Arc<Catalog>,
    timeout: Duration,
}

impl Router {
    /// A router over `catalog`, bounding each request by `timeout`.
    pub fn new(catalog: Arc<Catalog>, timeout: Duration) -> Self {
        Router { catalog, timeout }
    }

    /// The catalog routed by.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The hop of a request to the worker method `path`.
    pub fn hop<T>(&self, request: &Request<T>, path: &str) -> Hop {
        self.hop_for(request.metadata(), path)
    }

    /// The hop of a call to the worker method `path` made on behalf of a
    /// request that carried `metadata` (its token, its request id).
    pub fn hop_for(&self, metadata: &MetadataMap, path: &str) -> Hop {
        Hop::new(metadata, self.timeout, methods::kind(path) == Kind::Write)
    }

    /// Forwards `request` to the worker method `path` on the set holding the
    /// database that `resource` names.
    pub async fn unary<Req, Resp>(
        &self,
        resource: &str,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let hop = self.hop(&request, path);
        let message = request.into_inner();
        let Some(db) = database_of(resource) else {
            let set = self.any_set()?;
            return self.send(&set, &hop, path, message).await;
        };
        let set = self.catalog.route(db, &hop).await?;
        let answer = self.send(&set, &hop, path, message.clone()).await;
        match answer {
            Err(status) if status.code() == Code::NotFound => {
                match self.elsewhere(db, &set, &hop, &status).await? {
                    Some(other) => self.send(&other, &hop, path, message).await,
                    None => Err(status),
                }
            }
            answer => answer,
        }
    }

    /// After `set` answered NOT_FOUND for something in `db`: the set that
    /// holds `db` instead, if the answer came from the wrong one (a stale
    /// cache, or a move that fenced the source); `None` if it stands.
    async fn elsewhere(
        &self,
        db: &str,
        set: &ReplicaSet,
        hop: &Hop,
        status: &Status,
    ) -> Result<Option<Arc<ReplicaSet>>, Status> {
        // A master that cannot read the catalog (cut off from the other
        // masters) lets the set's answer stand rather than turn a
        // NOT_FOUND into UNAVAILABLE.
        let Ok(placement) = self.catalog.placements().placement(db).await else {
            return Ok(None);
        };
        let found = match placement {
            // Moving away from the set that answered: the answer stands
            // until the source is fenced; then wait for the switch.
            Some(p) if p.moving_to.is_some() && p.set == set.name() => {
                if self.holds(set, db, hop).await {
                    return Ok(None);
                }
                self.catalog.find_settled(db, hop).await?
            }
            Some(p) if p.moving_to.is_some() || p.set != set.name() => {
                self.catalog.find_settled(db, hop).await?
            }
            Some(_) => return Ok(None),
            // Not placed: only a missing database can mean another set.
            None if says_database_missing(status, db) => {
                self.catalog.forget(db);
                self.catalog.find(db, hop).await?
            }
            None => return Ok(None),
        };
        Ok(found.filter(|other| other.name() != set.name()))
    }

    /// Whether `set` holds database `db` (an unreachable set is taken to:
    /// its first answer then stands).
    async fn holds(&self, set: &ReplicaSet, db: &str, hop: &Hop) -> bool {
        let request = GetDatabaseRequest {
            name: format!("databases/{db}"),
        };
        let answer: Result<Response<Database>, Status> =
            self.send(set, hop, GET_DATABASE, request).await;
        !matches!(answer, Err(status) if status.code() == Code::NotFound)
    }

    /// Sends to one set, wrapping the answer for tonic.
    pub async fn send<Req, Resp>(
        &self,
        set: &ReplicaSet,
        hop: &Hop,
        path: &'static str,
        message: Req,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let started = std::time::Instant::now();
        let answer = forward::unary(self.catalog.sets(), set, hop, path, message).await;
        tracing::debug!(
            method = path,
            set = set.name(),
            status = ?answer.as_ref().err().map(Status::code),
            elapsed = ?started.elapsed(),
            "routed"
        );
        answer.map(Response::new)
    }

    /// The first set: for requests that name no valid database.
    pub fn any_set(&self) -> Result<Arc<ReplicaSet>, Status> {
        self.catalog
            .sets()
            .all()
            .into_iter()
            .next()
            .ok_or_else(no_sets)
    }
}

/// The database id in a resource name, if the name starts with a valid one.
pub fn database_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("databases/")?;
    let id = rest.split('/').next()?;
    check_id(id, IdKind::Database, "name").ok().map(|()| id)
}

/// Whether a worker's answer says that database `db` itself is missing
/// (`databases/db not found`), not a collection or document inside it.
fn says_database_missing(status: &Status, db: &str) -> bool {
    status.code() == Code::NotFound && status.message() == format!("databases/{db} not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_read_from_any_name_below_it() {
        assert_eq!(database_of("databases/shop"), Some("shop"));
        assert_eq!(
            database_of("databases/shop/collections/c/documents/d"),
            Some("shop")
        );
        assert_eq!(database_of("databases/Shop"), None);
        assert_eq!(database_of("collections/c"), None);
        assert_eq!(database_of(""), None);
    }
}
