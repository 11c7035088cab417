//! `master.database.v1.WALService`: the log of the whole cluster.
//!
//! Each replica set has its own log; the master has none. What the master
//! lists is therefore a **merge**, and this is its rule:
//!
//! > ListWALEntries at the master returns the entries of every replica set
//! > that match the filter, ordered by `timestamp` (the commit time), and,
//! > for equal timestamps, by the name of the set they come from; the
//! > entries of one set keep that set's commit order. Paging follows the
//! > contract (page sizes, exactly once, a token refused for another
//! > filter); the token carries, per set, the set's own token and the id of
//! > the last entry of that set already returned. Commit order *across*
//! > sets is only as good as the sets' clocks: two writes to two databases
//! > on two sets have no order to keep, and timestamps order them as well
//! > as the clocks agree. Entries of one transaction share their timestamp
//! > and their set, so they stay together.
//!
//! TruncateWAL at the master truncates every set, with the same `before`
//! (the master fills an unset `before` with *its* now, so every set cuts at
//! the same instant); it succeeds only when every set did.
//!
//! A request with a filter or page size that a worker would refuse is sent
//! whole to one set, so the client gets the worker's exact answer, every
//! field violation included.

use futures_util::future::try_join_all;
use tonic::{Request, Response, Status};

use super::{
    forward::Hop,
    merge::{self, Order},
    router::Router,
    sets::ReplicaSet,
};
use crate::{
    api::paging::page_size,
    error::Error,
    proto::master::database::{
        ListWalEntriesRequest, ListWalEntriesResponse, TruncateWalRequest, WalEntry,
        wal_service_server::WalService,
    },
};

const LIST: &str = "/worker.database.v1.WALService/ListWALEntries";
const TRUNCATE: &str = "/worker.database.v1.WALService/TruncateWAL";

/// The master's WALService.
#[derive(Clone, Debug)]
pub struct MasterWal {
    router: Router,
}

impl MasterWal {
    /// The service over `router`.
    pub fn new(router: Router) -> Self {
        MasterWal { router }
    }
}

#[tonic::async_trait]
impl WalService for MasterWal {
    async fn list_wal_entries(
        &self,
        request: Request<ListWalEntriesRequest>,
    ) -> Result<Response<ListWalEntriesResponse>, Status> {
        let Ok(size) = page_size(request.get_ref().page_size) else {
            // The worker names every bad field at once.
            return self.router.unary("", LIST, request).await;
        };
        let hop = self.router.hop(&request, LIST);
        let request = request.into_inner();
        let scope = scope(&request);
        let order = ByCommitTime {
            router: &self.router,
            hop,
            filter: ListWalEntriesRequest {
                page_token: String::new(),
                ..request.clone()
            },
        };
        let cursor = merge::read_token(&scope, &request.page_token)
            .map_err(|violation| Status::from(Error::from(violation)))?;
        let sets = self.router.catalog().sets().all();
        let (entries, next_page_token) = merge::page(&order, sets, &scope, cursor, size).await?;
        Ok(Response::new(ListWalEntriesResponse {
            entries,
            next_page_token,
        }))
    }

    async fn truncate_wal(
        &self,
        request: Request<TruncateWalRequest>,
    ) -> Result<Response<()>, Status> {
        let hop = self.router.hop(&request, TRUNCATE);
        let mut request = request.into_inner();
        if request.before.is_none() {
            request.before = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
        }
        let sets = self.router.catalog().sets().all();
        let cuts = sets
            .iter()
            .map(|set| self.router.send::<_, ()>(set, &hop, TRUNCATE, request));
        try_join_all(cuts).await?;
        Ok(Response::new(()))
    }
}

/// The token scope: every field of the filter, spelled out.
fn scope(request: &ListWalEntriesRequest) -> String {
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map_or("-".to_owned(), |t| format!("{}.{:09}", t.seconds, t.nanos))
    };
    format!(
        "master:wal:{}:{}:{}:{}",
        time(&request.start_time),
        time(&request.end_time),
        request.entity_type_filter,
        request.operation_type_filter
    )
}

/// WAL entries by commit time, then set name, as [`merge`] pages them.
struct ByCommitTime<'a> {
    router: &'a Router,
    hop: Hop,
    filter: ListWalEntriesRequest,
}

/// The last entry returned from a set: its id and timestamp.
type Mark = (String, i64, i32);

fn time(entry: &WalEntry) -> (i64, i32) {
    entry
        .timestamp
        .as_ref()
        .map_or((0, 0), |t| (t.seconds, t.nanos))
}

impl Order for ByCommitTime<'_> {
    type Item = WalEntry;
    type Mark = Mark;

    async fn fetch(
        &self,
        set: &ReplicaSet,
        token: &str,
        size: usize,
    ) -> Result<(Vec<WalEntry>, String), Status> {
        let request = ListWalEntriesRequest {
            page_size: i32::try_from(size).unwrap_or(i32::MAX),
            page_token: token.to_owned(),
            ..self.filter.clone()
        };
        let page: Response<ListWalEntriesResponse> =
            self.router.send(set, &self.hop, LIST, request).await?;
        let page = page.into_inner();
        Ok((page.entries, page.next_page_token))
    }

    fn before(&self, a: &WalEntry, a_set: &str, b: &WalEntry, b_set: &str) -> bool {
        (time(a), a_set) < (time(b), b_set)
    }

    fn mark(&self, item: &WalEntry) -> Mark {
        let (seconds, nanos) = time(item);
        (item.id.clone(), seconds, nanos)
    }

    /// Skips through the set's last returned entry; if it is gone
    /// (truncated), every entry not later than it is gone with it, so
    /// skipping by time is the same.
    fn skip(
        &self,
        items: Vec<WalEntry>,
        own: Option<&Mark>,
        _last: Option<&Mark>,
    ) -> Vec<WalEntry> {
        let Some((id, seconds, nanos)) = own else {
            return items;
        };
        match items.iter().position(|e| e.id == *id) {
            Some(at) => items.into_iter().skip(at + 1).collect(),
            None => items
                .into_iter()
                .filter(|e| time(e) > (*seconds, *nanos))
                .collect(),
        }
    }
}
