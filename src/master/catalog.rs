//! # The catalog: which replica set holds which database
//!
//! The master keeps **no catalog of its own on disk**. The truth is in the
//! sets: a database exists on the set whose `ListDatabases` shows it, and
//! nowhere else. The master holds a *cache* of that truth (database →
//! set), rebuilt from every set's listing each `master.refresh`, and
//! checked whenever it could be wrong:
//!
//! ```text
//!   route(db) ── cached? ──yes──▶ that set ──answer──▶ "databases/db not found"? ──▶ locate, retry once
//!                  │ no
//!                  ▼
//!               locate: GetDatabase on every set at once
//!                  ├─ found on S ──▶ S (cached)
//!                  ├─ nowhere, some set unreachable ──▶ UNAVAILABLE (it may be there)
//!                  └─ nowhere ──▶ place(db): that set answers NOT_FOUND itself
//! ```
//!
//! ## Why no catalog of its own
//!
//! A catalog the master owns must survive its restart and be shared by its
//! HA peers: a replicated log of its own (a Raft group of masters). A
//! catalog *derived from the sets* needs neither: the sets are already
//! replicated and durable, so a restarted master knows every placement as
//! soon as it has listed them, and any number of masters are
//! interchangeable: none leads, none needs the others. The price:
//!
//! - a cache miss costs one round of GetDatabase to every set (once per
//!   database per master, then cached);
//! - the cache may be stale (a database deleted through *another* master);
//!   a stale entry answers "not found" from the old set, which makes this
//!   master locate again and retry once, so the client never sees it;
//! - two masters must place a new database on the *same* set, or a
//!   concurrent create of the same id through both could make two. That is
//!   what [`Placement::Hash`] guarantees with no coordination.
//!
//! ## Placement
//!
//! - **`hash`** (default): rendezvous hashing. Every set gets the score
//!   `SHA-256(set name, 0, database id)`; the highest score wins. Every
//!   master computes the same set for the same id, the split is even in
//!   expectation, and adding a set moves only new placements (existing
//!   databases stay where they are and are found by locating).
//! - **`least_loaded`**: the set with the fewest databases in this master's
//!   cache (ties: the first name). Even splits exactly, but two masters can
//!   disagree: safe with one master, or when creates go through one.
//!
//! A CreateDatabase is first sent to the set that already holds the id, if
//! any (which answers ALREADY_EXISTS in its own words), and otherwise to
//! the placed set.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::future::join_all;
use parking_lot::RwLock;
use tonic::{Code, Status, metadata::MetadataMap};

use super::{
    config::Placement,
    forward::{self, Hop},
    sets::{ReplicaSet, Sets},
};
use crate::{
    error::Error,
    proto::{
        master::database::{
            Database, GetDatabaseRequest, ListDatabasesRequest, ListDatabasesResponse,
        },
        replication::{StatusRequest, StatusResponse},
    },
};

const GET_DATABASE: &str = "/worker.database.v1.DatabaseService/GetDatabase";
const LIST_DATABASES: &str = "/worker.database.v1.DatabaseService/ListDatabases";
const STATUS: &str = "/worker.replication.v1.ReplicationService/Status";

/// database id → the set holding it, as last seen.
#[derive(Debug)]
pub struct Catalog {
    sets: Arc<Sets>,
    placement: Placement,
    cache: RwLock<HashMap<String, String>>,
}

impl Catalog {
    /// An empty cache over `sets`.
    pub fn new(sets: Arc<Sets>, placement: Placement) -> Self {
        Catalog {
            sets,
            placement,
            cache: RwLock::default(),
        }
    }

    /// The sets this catalog places on.
    pub fn sets(&self) -> &Arc<Sets> {
        &self.sets
    }

    /// The set holding `db` in the cache, if any.
    pub fn cached(&self, db: &str) -> Option<Arc<ReplicaSet>> {
        let name = self.cache.read().get(db).cloned()?;
        self.sets.get(&name)
    }

    /// Records that `set` holds `db`.
    pub fn insert(&self, db: &str, set: &str) {
        self.cache.write().insert(db.to_owned(), set.to_owned());
    }

    /// Forgets where `db` is (it was deleted, or the entry proved stale).
    pub fn forget(&self, db: &str) {
        self.cache.write().remove(db);
    }

    /// Databases per set in the cache, for `least_loaded` and reports.
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut counts: HashMap<String, usize> =
            self.sets.names().into_iter().map(|n| (n, 0)).collect();
        for set in self.cache.read().values() {
            *counts.entry(set.clone()).or_default() += 1;
        }
        counts
    }

    /// The set a new database `db` goes to; `None` when no set is known.
    pub fn place(&self, db: &str) -> Option<Arc<ReplicaSet>> {
        let names = self.sets.names();
        let chosen = match self.placement {
            Placement::Hash => names.into_iter().max_by_key(|set| score(set, db)),
            Placement::LeastLoaded => {
                let counts = self.counts();
                names
                    .into_iter()
                    .min_by_key(|set| (counts.get(set).copied().unwrap_or(0), set.clone()))
            }
        }?;
        self.sets.get(&chosen)
    }

    /// The set holding `db`: cached, else located, else the one it would be
    /// placed on (which answers NOT_FOUND for it).
    pub async fn route(&self, db: &str, hop: &Hop) -> Result<Arc<ReplicaSet>, Status> {
        if let Some(set) = self.cached(db) {
            return Ok(set);
        }
        match self.locate(db, hop).await? {
            Some(set) => Ok(set),
            None => self.place(db).ok_or_else(no_sets),
        }
    }

    /// Asks every set whether it holds `db`, at once.
    pub async fn locate(&self, db: &str, hop: &Hop) -> Result<Option<Arc<ReplicaSet>>, Status> {
        let sets = self.sets.all();
        let name = format!("databases/{db}");
        let asks = sets.iter().map(|set| {
            let request = GetDatabaseRequest { name: name.clone() };
            forward::unary::<_, Database>(&self.sets, set, hop, GET_DATABASE, request)
        });
        let answers = join_all(asks).await;
        let mut failure = None;
        for (set, answer) in sets.iter().zip(answers) {
            match answer {
                Ok(_) => {
                    self.insert(db, set.name());
                    return Ok(Some(set.clone()));
                }
                Err(status) if status.code() == Code::NotFound => {}
                Err(status) => failure = Some(status),
            }
        }
        match failure {
            Some(status) => Err(status),
            None => Ok(None),
        }
    }

    /// Re-reads every set: its databases (replacing the cache) and, for a
    /// replica set, its leader and members. A set that does not answer
    /// keeps its cached entries.
    pub async fn refresh(&self, timeout: Duration) {
        let hop = Hop::new(&MetadataMap::new(), timeout, false);
        let sets = self.sets.all();
        let listings = join_all(sets.iter().map(|set| self.refresh_set(set, &hop))).await;
        let mut cache = self.cache.write();
        for (set, listing) in sets.iter().zip(listings) {
            match listing {
                Ok(databases) => {
                    cache.retain(|_, holder| holder != set.name());
                    for db in databases {
                        cache.insert(db, set.name().to_owned());
                    }
                }
                Err(status) => {
                    tracing::warn!(set = set.name(), %status, "catalog refresh: set did not answer");
                }
            }
        }
    }

    async fn refresh_set(&self, set: &ReplicaSet, hop: &Hop) -> Result<Vec<String>, Status> {
        match forward::unary::<_, StatusResponse>(&self.sets, set, hop, STATUS, StatusRequest {})
            .await
        {
            Ok(status) => {
                let leader = (!status.leader_address.is_empty()).then_some(status.leader_address);
                set.set_leader(leader);
                set.set_learned(status.members.into_iter().map(|m| m.address).collect());
            }
            // A standalone worker has no replication service: a set of one.
            Err(status) if status.code() == Code::Unimplemented => {}
            Err(status) => tracing::debug!(set = set.name(), %status, "catalog refresh: no status"),
        }
        let mut databases = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListDatabasesRequest {
                page_size: 1000,
                page_token,
            };
            let page: ListDatabasesResponse =
                forward::unary(&self.sets, set, hop, LIST_DATABASES, request).await?;
            databases.extend(
                page.databases
                    .into_iter()
                    .filter_map(|d| d.name.strip_prefix("databases/").map(str::to_owned)),
            );
            if page.next_page_token.is_empty() {
                return Ok(databases);
            }
            page_token = page.next_page_token;
        }
    }
}

/// The rendezvous score of `set` for database `db`.
fn score(set: &str, db: &str) -> [u8; 8] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(set.as_bytes());
    context.update(&[0]);
    context.update(db.as_bytes());
    let digest = context.finish();
    let mut first = [0; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    first
}

/// UNAVAILABLE: a master that knows no set cannot serve data.
pub fn no_sets() -> Status {
    Error::Unavailable(
        "this master knows no replica set yet: configure master.sets or let workers register"
            .into(),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn two_sets() -> Arc<Sets> {
        Arc::new(Sets::configured(&BTreeMap::from([
            ("a".to_owned(), vec!["h:1".to_owned()]),
            ("b".to_owned(), vec!["h:2".to_owned()]),
        ])))
    }

    #[test]
    fn hash_placement_is_the_same_everywhere_and_uses_both_sets() {
        let one = Catalog::new(two_sets(), Placement::Hash);
        let other = Catalog::new(two_sets(), Placement::Hash);
        let mut on_a = 0;
        for i in 0..100 {
            let db = format!("db{i}");
            let here = one.place(&db).unwrap();
            assert_eq!(here.name(), other.place(&db).unwrap().name());
            on_a += usize::from(here.name() == "a");
        }
        assert!((30..=70).contains(&on_a), "{on_a} of 100 on set a");
    }

    #[test]
    fn least_loaded_placement_fills_the_emptier_set() {
        let catalog = Catalog::new(two_sets(), Placement::LeastLoaded);
        catalog.insert("x", "a");
        assert_eq!(catalog.place("y").unwrap().name(), "b");
        catalog.insert("y", "b");
        assert_eq!(catalog.place("z").unwrap().name(), "a");
    }
}
