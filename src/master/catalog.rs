//! # The catalog: which replica set holds which database
//!
//! Where each database lives is written down in the **placements**
//! ([`super::placements`]): documents of a replica set whose members are
//! the masters themselves, replicated by the same Raft code as a worker's
//! data. Each master keeps a *cache* of them (database → set), filled as it
//! routes and rebuilt each `master.refresh` from the placements and every
//! set's listing, and checked whenever it could be wrong:
//!
//! ```text
//!   route(db) ── cached? ──yes──▶ that set ──answer──▶ NOT_FOUND? ──▶ placement names another set? ──▶ retry there once
//!                  │ no
//!                  ▼
//!               find: the placement of db (one linearizable read)
//!                  ├─ placed on S ──▶ S (cached)
//!                  └─ no placement: GetDatabase on every set at once
//!                       ├─ found on S ──▶ S (placed, cached)
//!                       ├─ nowhere, some set unreachable ──▶ UNAVAILABLE (it may be there)
//!                       └─ nowhere ──▶ place(db): that set answers NOT_FOUND itself
//! ```
//!
//! ## Why the placements are replicated
//!
//! The sets alone could say where a database *is* (ask each one), and
//! masters that only cached their listings would need no log of their own.
//! But a cache miss would cost a round of lookups on every set, two masters
//! could not agree on `least_loaded` placement, and a database could never
//! be *moved*: during a move it is on two sets, and only a record that all
//! masters share can say which one serves it. So the placements are a
//! replicated log the masters agree on, and a master that dies takes
//! nothing with it. Databases that have no placement (made on a set
//! directly, or through a master whose catalog is in memory and was
//! restarted) are still found by asking the sets, and placed then.
//!
//! The cache may be stale (a database moved, or made again elsewhere after
//! a delete through *another* master); a stale entry gets NOT_FOUND from
//! the old set, which makes this master read the placement and retry once
//! on the set it names ([`super::router`]), so the client never sees it.
//!
//! ## Placement
//!
//! - **`hash`** (default): rendezvous hashing. Every set gets the score
//!   `SHA-256(set name, 0, database id)`; the highest score wins. Every
//!   master computes the same set for the same id, the split is even in
//!   expectation, and adding a set moves only new placements.
//! - **`least_loaded`**: the set with the fewest placed databases (ties:
//!   the first name). Before choosing, the master reads every placement,
//!   so creates through different masters of one catalog group still split
//!   exactly (100 creates round-robin through three masters: 50/50); two
//!   creates at the very same moment through two masters may pick the
//!   same set.
//!
//! A CreateDatabase is first sent to the set that already holds the id, if
//! any (which answers ALREADY_EXISTS in its own words); otherwise the
//! placement is recorded first (the first master to place an id wins, so
//! two masters creating the same id at once send both creates to one set,
//! which makes one) and the create goes to that set.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::future::join_all;
use parking_lot::RwLock;
use tonic::{Code, Status, metadata::MetadataMap};

use super::{
    config::Placement,
    forward::{self, Hop},
    moving::SWITCH_POLL,
    placements::Placements,
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

/// database id → the set holding it: replicated in [`Placements`], cached
/// here.
#[derive(Debug)]
pub struct Catalog {
    sets: Arc<Sets>,
    placement: Placement,
    placements: Arc<Placements>,
    cache: RwLock<HashMap<String, String>>,
}

impl Catalog {
    /// An empty cache over `sets` and the replicated `placements`.
    pub fn new(sets: Arc<Sets>, placement: Placement, placements: Arc<Placements>) -> Self {
        Catalog {
            sets,
            placement,
            placements,
            cache: RwLock::default(),
        }
    }

    /// The replicated placements behind the cache.
    pub fn placements(&self) -> &Arc<Placements> {
        &self.placements
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

    /// Brings the cache up to every placement the masters have made, so
    /// that `least_loaded` counts what every master placed, not only this
    /// one (one linearizable read of the placements).
    pub async fn sync_placements(&self) -> Result<(), Status> {
        let placed = self.placements.all().await?;
        self.cache.write().extend(placed);
        Ok(())
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

    /// The set holding `db`: cached, else placed or located, else the one
    /// it would be placed on (which answers NOT_FOUND for it).
    pub async fn route(&self, db: &str, hop: &Hop) -> Result<Arc<ReplicaSet>, Status> {
        if let Some(set) = self.cached(db) {
            return Ok(set);
        }
        match self.find(db, hop).await? {
            Some(set) => Ok(set),
            None => self.place(db).ok_or_else(no_sets),
        }
    }

    /// The set holding `db` by its placement, or, for a database that has
    /// none (made on a set directly, or before the catalog was
    /// replicated), by asking every set; what is found is placed, so the
    /// next lookup is one read.
    pub async fn find(&self, db: &str, hop: &Hop) -> Result<Option<Arc<ReplicaSet>>, Status> {
        if let Some(name) = self.placements.lookup(db).await? {
            let set = self.sets.get(&name).ok_or_else(|| unknown_set(db, &name))?;
            self.insert(db, &name);
            return Ok(Some(set));
        }
        let Some(set) = self.locate(db, hop).await? else {
            return Ok(None);
        };
        if let Err(status) = self.placements.place(db, set.name()).await {
            tracing::warn!(database = db, set = set.name(), %status, "cannot record a located database");
        }
        Ok(Some(set))
    }

    /// [`Catalog::find`], but while the placement says a move is under way,
    /// waits (within the request's deadline) for it to switch.
    pub async fn find_settled(
        &self,
        db: &str,
        hop: &Hop,
    ) -> Result<Option<Arc<ReplicaSet>>, Status> {
        while let Some(target) = self
            .placements
            .placement(db)
            .await?
            .and_then(|p| p.moving_to)
        {
            if hop.remaining() <= SWITCH_POLL {
                return Err(Error::Unavailable(format!(
                    "databases/{db} is being moved to replica set {target}; retry"
                ))
                .into());
            }
            tokio::time::sleep(SWITCH_POLL).await;
        }
        self.find(db, hop).await
    }

    /// Places the new database `db` on `set`, unless another master placed
    /// it first: the set that holds its placement.
    pub async fn record(&self, db: &str, set: &ReplicaSet) -> Result<Arc<ReplicaSet>, Status> {
        let name = self.placements.place(db, set.name()).await?;
        self.insert(db, &name);
        self.sets.get(&name).ok_or_else(|| unknown_set(db, &name))
    }

    /// Marks the placement of `db` deleted (the set deleted it). The cache
    /// keeps the entry: requests for the id still go to that set, which
    /// answers them in its own words.
    pub async fn bury(&self, db: &str) {
        if let Err(status) = self.placements.bury(db).await {
            // The set deleted it: routing by the live placement still
            // reaches that set, which says so.
            tracing::warn!(database = db, %status, "cannot mark the placement of a deleted database");
        }
    }

    /// Makes the placement of `db` live again, on `set` (the database was
    /// made again under a deleted id).
    pub async fn revive(&self, db: &str, set: &ReplicaSet) -> Result<(), Status> {
        let buried = self
            .placements
            .placement(db)
            .await?
            .is_some_and(|p| p.deleted);
        if buried {
            self.placements
                .set(db, &super::placements::Placement::on(set.name()))
                .await?;
        }
        self.insert(db, set.name());
        Ok(())
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
        let placed = self.placements.all().await;
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
        // Placements win over listings: a database being made is placed
        // before its set lists it.
        match placed {
            Ok(placed) => cache.extend(placed),
            Err(status) => tracing::warn!(%status, "catalog refresh: placements not read"),
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

/// UNAVAILABLE: `db` is placed on a set no worker has registered (yet).
fn unknown_set(db: &str, set: &str) -> Status {
    Error::Unavailable(format!(
        "database {db} is placed on replica set {set:?}, which this master does not know yet: \
         configure it in master.sets or let its workers register"
    ))
    .into()
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
    use crate::master::MasterConfig;

    fn two_sets() -> Arc<Sets> {
        Arc::new(Sets::configured(&BTreeMap::from([
            ("a".to_owned(), vec!["h:1".to_owned()]),
            ("b".to_owned(), vec!["h:2".to_owned()]),
        ])))
    }

    /// A catalog of one, in memory: the master's default.
    async fn placements() -> Arc<Placements> {
        let config = MasterConfig::from_yaml("name: m\n").unwrap();
        Arc::new(Placements::open(&config, Default::default()).await.unwrap())
    }

    #[tokio::test]
    async fn hash_placement_is_the_same_everywhere_and_uses_both_sets() {
        let one = Catalog::new(two_sets(), Placement::Hash, placements().await);
        let other = Catalog::new(two_sets(), Placement::Hash, placements().await);
        let mut on_a = 0;
        for i in 0..100 {
            let db = format!("db{i}");
            let here = one.place(&db).unwrap();
            assert_eq!(here.name(), other.place(&db).unwrap().name());
            on_a += usize::from(here.name() == "a");
        }
        assert!((30..=70).contains(&on_a), "{on_a} of 100 on set a");
    }

    #[tokio::test]
    async fn least_loaded_placement_fills_the_emptier_set() {
        let catalog = Catalog::new(two_sets(), Placement::LeastLoaded, placements().await);
        catalog.insert("x", "a");
        assert_eq!(catalog.place("y").unwrap().name(), "b");
        catalog.insert("y", "b");
        assert_eq!(catalog.place("z").unwrap().name(), "a");
    }

    #[tokio::test]
    async fn the_first_placement_of_a_database_wins_and_is_found_again() {
        let placements = placements().await;
        let sets = two_sets();
        let catalog = Catalog::new(sets.clone(), Placement::Hash, placements.clone());
        let a = sets.get("a").unwrap();
        let b = sets.get("b").unwrap();
        assert_eq!(catalog.record("shop", &a).await.unwrap().name(), "a");
        // A second master choosing another set for the same id loses.
        let other = Catalog::new(sets.clone(), Placement::Hash, placements.clone());
        assert_eq!(other.record("shop", &b).await.unwrap().name(), "a");
        assert_eq!(
            placements.lookup("shop").await.unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(placements.lookup("other").await.unwrap(), None);
        catalog.record("other", &b).await.unwrap();
        let all = placements.all().await.unwrap();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [
                ("other".to_owned(), "b".to_owned()),
                ("shop".to_owned(), "a".to_owned())
            ]
        );
        // A deleted database keeps its set, out of the counted placements.
        catalog.bury("shop").await;
        assert_eq!(
            placements.lookup("shop").await.unwrap().as_deref(),
            Some("a")
        );
        assert!(placements.placement("shop").await.unwrap().unwrap().deleted);
        assert_eq!(placements.all().await.unwrap().len(), 1);
        // Made again, it is live again on its set.
        catalog.revive("shop", &a).await.unwrap();
        assert!(!placements.placement("shop").await.unwrap().unwrap().deleted);
        assert_eq!(placements.all().await.unwrap().len(), 2);
        // Burying what was never placed is fine.
        placements.bury("never").await.unwrap();
        assert_eq!(placements.lookup("never").await.unwrap(), None);
    }
}
