//! Everything a node holds, read through its API, so members can be
//! compared.
//!
//! "The members' states are equal" is the end of most replication tests:
//! after the faults stop and the set catches up, every member must hold
//! the same databases, collections and documents, with the same values and
//! the same timestamps (the leader fixes commit times, so replicas that
//! applied the same log agree to the nanosecond). [`read_state`] pages
//! through the three List calls and returns one map, resource name →
//! [`Resource`]; [`diff`] says how two of them differ, in a few lines a
//! failure message can show.
//!
//! In a replica set a read goes to the leader by default. To see what one
//! member *itself* holds, read with `local: true`, which sends the
//! `distgo-read: local` header (a standalone worker ignores it).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    hash::{DefaultHasher, Hash, Hasher},
};

use distgo_db::proto::database::{
    ListCollectionsRequest, ListDatabasesRequest, ListDocumentsRequest,
};
use tonic::Status;

use super::client::Clients;

/// The most pages one List may take, so a misbehaving paging token cannot
/// loop forever.
const MAX_PAGES: usize = 100_000;
const PAGE_SIZE: i32 = 1000;

/// What the API shows of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    /// A database's display name, a collection's description, a
    /// document's JSON value.
    pub content: String,
    /// `created_at` as (seconds, nanoseconds).
    pub created_at: Option<(i64, i32)>,
    /// `updated_at` as (seconds, nanoseconds).
    pub updated_at: Option<(i64, i32)>,
}

/// Every resource of a node, by name.
pub type State = BTreeMap<String, Resource>;

/// Reads every database, collection and document of the node; with
/// `local`, its own state rather than the leader's.
pub async fn read_state(clients: &Clients, local: bool) -> Result<State, Status> {
    let mut state = State::new();
    let databases = page_through(async |page_token| {
        let mut client = clients.databases.clone();
        let page = clients
            .call(client.list_databases(clients.read_request(
                local,
                ListDatabasesRequest {
                    page_size: PAGE_SIZE,
                    page_token,
                },
            )))
            .await?;
        Ok((page.databases, page.next_page_token))
    })
    .await?;
    let mut collections = Vec::new();
    for db in databases {
        let found = page_through(async |page_token| {
            let mut client = clients.collections.clone();
            let page = clients
                .call(client.list_collections(clients.read_request(
                    local,
                    ListCollectionsRequest {
                        parent: db.name.clone(),
                        page_size: PAGE_SIZE,
                        page_token,
                    },
                )))
                .await?;
            Ok((page.collections, page.next_page_token))
        })
        .await?;
        collections.extend(found);
        state.insert(
            db.name,
            resource(db.display_name, db.created_at, db.updated_at),
        );
    }
    for c in collections {
        let documents = page_through(async |page_token| {
            let mut client = clients.documents.clone();
            let page = clients
                .call(client.list_documents(clients.read_request(
                    local,
                    ListDocumentsRequest {
                        parent: c.name.clone(),
                        page_size: PAGE_SIZE,
                        page_token,
                    },
                )))
                .await?;
            Ok((page.documents, page.next_page_token))
        })
        .await?;
        for d in documents {
            state.insert(d.name, resource(d.value, d.created_at, d.updated_at));
        }
        state.insert(c.name, resource(c.description, c.created_at, c.updated_at));
    }
    Ok(state)
}

/// Every item of a paged List: `fetch` takes a page token and returns a
/// page and the next token (empty: the last page).
async fn page_through<T>(
    mut fetch: impl AsyncFnMut(String) -> Result<(Vec<T>, String), Status>,
) -> Result<Vec<T>, Status> {
    let mut items = Vec::new();
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        let (page, next) = fetch(token).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
    Err(Status::internal(format!(
        "more than {MAX_PAGES} pages: is the page token stuck?"
    )))
}

fn resource(
    content: String,
    created: Option<prost_types::Timestamp>,
    updated: Option<prost_types::Timestamp>,
) -> Resource {
    let pair = |t: prost_types::Timestamp| (t.seconds, t.nanos);
    Resource {
        content,
        created_at: created.map(pair),
        updated_at: updated.map(pair),
    }
}

/// A short fingerprint of a state, for a progress line ("digest 3f2a…").
/// Equal states give equal digests within one build of the harness.
pub fn digest(state: &State) -> u64 {
    let mut hasher = DefaultHasher::new();
    state.hash(&mut hasher);
    hasher.finish()
}

/// How `b` differs from `a`: at most `limit` lines, one per resource that
/// is missing, extra or different; empty when they are equal.
pub fn diff(a: &State, b: &State, limit: usize) -> String {
    let mut lines = Vec::new();
    for (name, resource) in a {
        match b.get(name) {
            None => lines.push(format!("- {name} (only in the first)")),
            Some(other) if other != resource => {
                lines.push(format!("~ {name}: {resource:?} vs {other:?}"));
            }
            Some(_) => {}
        }
    }
    for name in b.keys().filter(|name| !a.contains_key(*name)) {
        lines.push(format!("+ {name} (only in the second)"));
    }
    let mut text = String::new();
    for line in lines.iter().take(limit) {
        let _ = writeln!(text, "{line}");
    }
    if lines.len() > limit {
        let _ = writeln!(text, "... and {} more", lines.len() - limit);
    }
    text
}
