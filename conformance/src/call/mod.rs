//! Every RPC of the contract as a value: [`Call`] (a request) and [`Reply`]
//! (its successful response).
//!
//! Cases, scenarios and the model all talk to the target through `Call`s,
//! which buys three things at once:
//!
//! - **one line per request**: a `Call` renders as a script line
//!   ([`script`]) and parses back, so a failure report shows the request in
//!   the same syntax a scenario uses, and a shrunk model sequence prints as a
//!   script you can replay;
//! - **one place that sends**: [`Call::send`] adds the run's headers and
//!   deadline to every request;
//! - **isolation by construction**: [`Call::map_database_ids`] rewrites every
//!   database id a request mentions, which is how scenario scripts written
//!   with plain ids (`databases/shop`) run inside the run's prefix.

mod fields;
mod reply;
pub mod script;

use tonic::Status;

pub use self::reply::{Reply, wal_payload};
use self::script::{Fields, SyntaxError};
use crate::{proto::database as pb, target::Clients};

/// What a call returned: a reply or a status.
pub type Outcome = Result<Reply, Status>;

/// One request to one RPC of the contract.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Call {
    ListDatabases(pb::ListDatabasesRequest),
    GetDatabase(pb::GetDatabaseRequest),
    CreateDatabase(pb::CreateDatabaseRequest),
    UpdateDatabase(pb::UpdateDatabaseRequest),
    DeleteDatabase(pb::DeleteDatabaseRequest),
    ListCollections(pb::ListCollectionsRequest),
    GetCollection(pb::GetCollectionRequest),
    CreateCollection(pb::CreateCollectionRequest),
    UpdateCollection(pb::UpdateCollectionRequest),
    DeleteCollection(pb::DeleteCollectionRequest),
    ListDocuments(pb::ListDocumentsRequest),
    GetDocument(pb::GetDocumentRequest),
    CreateDocument(pb::CreateDocumentRequest),
    UpdateDocument(pb::UpdateDocumentRequest),
    DeleteDocument(pb::DeleteDocumentRequest),
    Begin(pb::BeginRequest),
    Execute(pb::ExecuteRequest),
    Commit(pb::CommitRequest),
    Rollback(pb::RollbackRequest),
    ListWalEntries(pb::ListWalEntriesRequest),
    TruncateWal(pb::TruncateWalRequest),
}

/// Where a database id sits in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSite {
    /// A bare id (`database_id`).
    Id,
    /// The first segment of a name (`databases/{id}/...`).
    Name,
}

impl Call {
    /// The RPC's name, as in the proto (`CreateDatabase`).
    pub fn method(&self) -> &'static str {
        match self {
            Call::ListDatabases(_) => "ListDatabases",
            Call::GetDatabase(_) => "GetDatabase",
            Call::CreateDatabase(_) => "CreateDatabase",
            Call::UpdateDatabase(_) => "UpdateDatabase",
            Call::DeleteDatabase(_) => "DeleteDatabase",
            Call::ListCollections(_) => "ListCollections",
            Call::GetCollection(_) => "GetCollection",
            Call::CreateCollection(_) => "CreateCollection",
            Call::UpdateCollection(_) => "UpdateCollection",
            Call::DeleteCollection(_) => "DeleteCollection",
            Call::ListDocuments(_) => "ListDocuments",
            Call::GetDocument(_) => "GetDocument",
            Call::CreateDocument(_) => "CreateDocument",
            Call::UpdateDocument(_) => "UpdateDocument",
            Call::DeleteDocument(_) => "DeleteDocument",
            Call::Begin(_) => "Begin",
            Call::Execute(_) => "Execute",
            Call::Commit(_) => "Commit",
            Call::Rollback(_) => "Rollback",
            Call::ListWalEntries(_) => "ListWALEntries",
            Call::TruncateWal(_) => "TruncateWAL",
        }
    }

    /// Reads a script line (`Method key=value ...`).
    pub fn parse(line: &str) -> Result<Call, SyntaxError> {
        let (method, mut args) = script::split_line(line)?;
        let call = fields::build(&method, &mut args)?;
        args.finish()?;
        Ok(call)
    }

    /// Writes the call as a script line that [`Call::parse`] reads back.
    pub fn render(&self) -> String {
        let mut out = Fields::default();
        fields::write(self, &mut out);
        if out.is_empty() {
            self.method().to_owned()
        } else {
            format!("{} {out}", self.method())
        }
    }

    /// Rewrites every database id the request mentions, in `database_id`
    /// fields and in the first segment of every name.
    pub fn map_database_ids(&mut self, map: &mut dyn FnMut(IdSite, &str) -> String) {
        fields::visit_names(self, &mut |site, value: &mut String| match site {
            IdSite::Id => *value = map(IdSite::Id, value),
            IdSite::Name => {
                if let Some(rest) = value.strip_prefix("databases/") {
                    let (id, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    *value = format!("databases/{}{tail}", map(IdSite::Name, id));
                }
            }
        });
    }

    /// Every database id the request mentions.
    pub fn database_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        self.clone().map_database_ids(&mut |_, id| {
            ids.push(id.to_owned());
            id.to_owned()
        });
        ids
    }

    /// Sends the call to the target.
    pub async fn send(&self, clients: &Clients) -> Outcome {
        use Reply as R;
        let c = clients;
        match self.clone() {
            Call::ListDatabases(r) => c
                .database()
                .list_databases(c.wrap(r))
                .await
                .map(|r| R::Databases(r.into_inner())),
            Call::GetDatabase(r) => c
                .database()
                .get_database(c.wrap(r))
                .await
                .map(|r| R::Database(r.into_inner())),
            Call::CreateDatabase(r) => c
                .database()
                .create_database(c.wrap(r))
                .await
                .map(|r| R::Database(r.into_inner())),
            Call::UpdateDatabase(r) => c
                .database()
                .update_database(c.wrap(r))
                .await
                .map(|r| R::Database(r.into_inner())),
            Call::DeleteDatabase(r) => c
                .database()
                .delete_database(c.wrap(r))
                .await
                .map(|_| R::Empty),
            Call::ListCollections(r) => c
                .collection()
                .list_collections(c.wrap(r))
                .await
                .map(|r| R::Collections(r.into_inner())),
            Call::GetCollection(r) => c
                .collection()
                .get_collection(c.wrap(r))
                .await
                .map(|r| R::Collection(r.into_inner())),
            Call::CreateCollection(r) => c
                .collection()
                .create_collection(c.wrap(r))
                .await
                .map(|r| R::Collection(r.into_inner())),
            Call::UpdateCollection(r) => c
                .collection()
                .update_collection(c.wrap(r))
                .await
                .map(|r| R::Collection(r.into_inner())),
            Call::DeleteCollection(r) => c
                .collection()
                .delete_collection(c.wrap(r))
                .await
                .map(|_| R::Empty),
            Call::ListDocuments(r) => c
                .document()
                .list_documents(c.wrap(r))
                .await
                .map(|r| R::Documents(r.into_inner())),
            Call::GetDocument(r) => c
                .document()
                .get_document(c.wrap(r))
                .await
                .map(|r| R::Document(r.into_inner())),
            Call::CreateDocument(r) => c
                .document()
                .create_document(c.wrap(r))
                .await
                .map(|r| R::Document(r.into_inner())),
            Call::UpdateDocument(r) => c
                .document()
                .update_document(c.wrap(r))
                .await
                .map(|r| R::Document(r.into_inner())),
            Call::DeleteDocument(r) => c
                .document()
                .delete_document(c.wrap(r))
                .await
                .map(|_| R::Empty),
            Call::Begin(r) => c
                .transaction()
                .begin(c.wrap(r))
                .await
                .map(|r| R::Begin(r.into_inner())),
            Call::Execute(r) => c.transaction().execute(c.wrap(r)).await.map(|_| R::Empty),
            Call::Commit(r) => c.transaction().commit(c.wrap(r)).await.map(|_| R::Empty),
            Call::Rollback(r) => c.transaction().rollback(c.wrap(r)).await.map(|_| R::Empty),
            Call::ListWalEntries(r) => c
                .wal()
                .list_wal_entries(c.wrap(r))
                .await
                .map(|r| R::WalEntries(r.into_inner())),
            Call::TruncateWal(r) => c.wal().truncate_wal(c.wrap(r)).await.map(|_| R::Empty),
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_round_trips() {
        let lines = [
            "ListDatabases page_size=2 page_token=abc",
            "CreateDatabase database_id=shop database.display_name=\"My shop\"",
            "CreateDatabase database_id=shop database={}",
            "CreateDatabase database_id=shop",
            "UpdateDatabase database.name=databases/shop database.display_name=x update_mask=display_name,name",
            "UpdateDatabase database.name=databases/shop update_mask=\"\"",
            "CreateDocument parent=databases/s/collections/c document_id=d document.id=e document.value={\"a\": [1, \"}\"]}",
            "Execute database_name=databases/s transaction_id=t operations[0].mutation_type=MUTATION_TYPE_CREATE operations[0].entity_type=ENTITY_TYPE_DOCUMENT operations[0].name=databases/s/collections/c/documents/d operations[0].value={} operations[1]={}",
            "ListWALEntries start_time=1700000000.000000001 end_time=-5.000000000 entity_type_filter=ENTITY_TYPE_DATABASE operation_type_filter=7",
            "TruncateWAL before={}",
            "TruncateWAL",
            "CreateDatabase database_id=x database.display_name=a database.created_at=12.000000000",
        ];
        for line in lines {
            let call = Call::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(call.render(), line);
        }
    }

    #[test]
    fn database_ids_are_rewritten_everywhere() {
        let mut call = Call::parse(
            "Execute database_name=databases/s transaction_id=t operations[0].name=databases/s/collections/c",
        )
        .unwrap();
        call.map_database_ids(&mut |_, id| format!("p-{id}"));
        assert_eq!(
            call.render(),
            "Execute database_name=databases/p-s transaction_id=t operations[0].name=databases/p-s/collections/c"
        );
        let mut call = Call::parse("CreateDatabase database_id=shop").unwrap();
        call.map_database_ids(&mut |_, id| format!("p-{id}"));
        assert_eq!(call.database_ids(), ["p-shop"]);
    }

    #[test]
    fn typos_are_errors() {
        assert!(Call::parse("GetDatabase nme=databases/x").is_err());
        assert!(Call::parse("Frobnicate").is_err());
    }
}
