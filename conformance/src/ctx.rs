//! What a case works with: the target, its own namespace, and a record of
//! what it did.
//!
//! **Isolation.** Every database id a case uses is `{run prefix}{case
//! number}-{local id}`; [`Ctx::db`] builds such names. [`Ctx::send`] refuses
//! (as a harness bug) any request that names a valid database id outside the
//! run's prefix, unless the case itself created that database (a generated
//! id). Every database a case creates is remembered: when the case passes the
//! runner deletes them; when it fails they are kept and their names printed.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering},
};

use crate::{
    call::{Call, Reply},
    check::{Check, Exchange, Failure, describe},
    req::{Kind, Page, Res},
    target::{Clients, ServerUnderTest},
};

/// Checks a scenario transcript against its golden copy: `Ok` or a failure
/// message (a diff).
pub type GoldenHook = Arc<dyn Fn(&str, &str) -> Result<(), String> + Send + Sync>;

/// Run-wide settings every case can read.
#[derive(Clone)]
pub struct Settings {
    /// Seed of the model-based cases.
    pub seed: u64,
    /// Number of generated sequences per model case (None: each case's default).
    pub cases: Option<u32>,
    /// How scenario transcripts are checked.
    pub golden: GoldenHook,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("seed", &self.seed)
            .field("cases", &self.cases)
            .finish_non_exhaustive()
    }
}

/// The context of one case.
#[derive(Clone, Debug)]
pub struct Ctx {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    case: String,
    target: Arc<ServerUnderTest>,
    clients: Mutex<Clients>,
    run_prefix: String,
    ns: String,
    settings: Arc<Settings>,
    log: Mutex<Vec<String>>,
    created: Mutex<BTreeSet<String>>,
    /// Transactions the case began, as (database name, id): cleanup rolls
    /// them back, since an open transaction holds a place in the worker's
    /// bound of open transactions until it expires.
    begun: Mutex<Vec<(String, String)>>,
    /// Clauses the case relied on so far by the steps it took (a listing
    /// with the default page size relies on LIST-2): added to the case's
    /// declared prerequisites when its failure is blamed.
    relied: Mutex<BTreeSet<String>>,
    counter: AtomicUsize,
    /// Clauses the run already knows to fail (the expected-failure file's
    /// cases cite them, or they failed among the run's example cases): the
    /// model-based cases do not count them again, so they search past them.
    known_failures: Arc<BTreeSet<String>>,
    /// The first deviation the case met under each of `known_failures` and
    /// did not judge past: what makes a model case that found nothing new
    /// `blocked` rather than passed.
    met_known: Mutex<BTreeMap<String, Failure>>,
}

/// Whether `id` is a valid database id (1-64 of `[a-z0-9._-]`).
pub fn is_database_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

impl Ctx {
    /// A context for case `case`, whose namespace is `ns` (which starts with
    /// `run_prefix`).
    pub fn new(
        case: &str,
        target: Arc<ServerUnderTest>,
        run_prefix: &str,
        ns: String,
        settings: Arc<Settings>,
    ) -> Self {
        let clients = target.clients();
        Ctx {
            inner: Arc::new(Inner {
                case: case.to_owned(),
                target,
                clients: Mutex::new(clients),
                run_prefix: run_prefix.to_owned(),
                ns,
                settings,
                log: Mutex::new(Vec::new()),
                created: Mutex::new(BTreeSet::new()),
                begun: Mutex::new(Vec::new()),
                relied: Mutex::new(BTreeSet::new()),
                counter: AtomicUsize::new(0),
                known_failures: Arc::default(),
                met_known: Mutex::default(),
            }),
        }
    }

    /// This context with `clauses` known to fail in the run (see
    /// [`Ctx::known_failures`]).
    pub fn with_known_failures(mut self, clauses: Arc<BTreeSet<String>>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.known_failures = clauses;
        }
        self
    }

    /// Clauses the run already knows to fail, which the model-based cases
    /// search past instead of reporting again.
    pub fn known_failures(&self) -> &BTreeSet<String> {
        &self.inner.known_failures
    }

    /// Records that the case met `failure`, under one of
    /// [`Ctx::known_failures`], and did not count it; the first per clause
    /// is kept.
    pub fn met_known(&self, clause: &str, failure: &Failure) {
        lock(&self.inner.met_known)
            .entry(clause.to_owned())
            .or_insert_with(|| failure.clone());
    }

    /// The known clauses the case met, each with the first deviation seen
    /// under it.
    pub fn known_met(&self) -> BTreeMap<String, Failure> {
        lock(&self.inner.met_known).clone()
    }

    /// The case being run.
    pub fn case_id(&self) -> &str {
        &self.inner.case
    }

    /// The run's prefix; every database id of the run starts with it.
    pub fn run_prefix(&self) -> &str {
        &self.inner.run_prefix
    }

    /// This case's namespace: the prefix of its database ids.
    pub fn ns(&self) -> &str {
        &self.inner.ns
    }

    /// The run's settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The target.
    pub fn target(&self) -> &Arc<ServerUnderTest> {
        &self.inner.target
    }

    /// The database id for the local id `local`: `{ns}{local}`.
    pub fn id(&self, local: &str) -> String {
        format!("{}{local}", self.inner.ns)
    }

    /// The database name for the local id `local`.
    pub fn db(&self, local: &str) -> String {
        format!("databases/{}", self.id(local))
    }

    /// A local id not used before in this case: `{stem}{n}`.
    pub fn unique(&self, stem: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("{stem}{n}")
    }

    fn clients(&self) -> Clients {
        lock(&self.inner.clients).clone()
    }

    /// Sends `call`, records it, and returns what came back.
    pub async fn send(&self, call: Call) -> Exchange {
        self.send_via(call, self.clients(), String::new()).await
    }

    /// Sends `call` with its own per-request deadline.
    pub async fn send_with_timeout(&self, call: Call, timeout: std::time::Duration) -> Exchange {
        let clients = self.clients().with_timeout(timeout);
        self.send_via(call, clients, format!(" (deadline {timeout:?})"))
            .await
    }

    /// Sends `call` with the header `name: value` (e.g. `distgo-request-id`).
    pub async fn send_with_header(&self, call: Call, name: &'static str, value: &str) -> Exchange {
        let Some(clients) = self.clients().with_header(name, value) else {
            let status =
                tonic::Status::aborted(format!("harness: {value:?} is not a valid {name}"));
            return Exchange {
                call,
                outcome: Err(status),
            };
        };
        self.send_via(call, clients, format!(" ({name}: {value})"))
            .await
    }

    /// Sends `call` over a connection of its own: for requests (an oversized
    /// message) after which a server may close the connection, which must not
    /// fail other cases' requests in flight.
    pub async fn send_alone(&self, call: Call) -> Exchange {
        match self.inner.target.fresh_clients().await {
            Ok(clients) => {
                self.send_via(call, clients, " (own connection)".into())
                    .await
            }
            Err(e) => Exchange {
                call,
                outcome: Err(tonic::Status::unavailable(e.to_string())),
            },
        }
    }

    /// Sends `call` through `clients` (one member of a deployment, say),
    /// recorded with `note` after it (` (at member 2)`).
    pub async fn send_on(&self, call: Call, clients: &Clients, note: &str) -> Exchange {
        self.send_via(call, clients.clone(), note.to_owned()).await
    }

    async fn send_via(&self, call: Call, clients: Clients, note: String) -> Exchange {
        if let Some(outside) = self.outside_prefix(&call) {
            // Never send it: the isolation guarantee is absolute.
            let status = tonic::Status::aborted(format!(
                "harness refused a request naming database {outside:?} outside the run prefix"
            ));
            return Exchange {
                call,
                outcome: Err(status),
            };
        }
        let outcome = call.send(&clients).await;
        match (&call, &outcome) {
            (Call::CreateDatabase(_), Ok(Reply::Database(db))) => {
                lock(&self.inner.created).insert(db.name.clone());
            }
            (Call::Begin(request), Ok(Reply::Begin(begun))) => {
                let txn = (request.database_name.clone(), begun.transaction_id.clone());
                lock(&self.inner.begun).push(txn);
            }
            _ => {}
        }
        let line = format!("{}{note}\n    -> {}", call.render(), describe(&outcome));
        lock(&self.inner.log).push(line);
        Exchange { call, outcome }
    }

    fn outside_prefix(&self, call: &Call) -> Option<String> {
        let created = lock(&self.inner.created);
        call.database_ids().into_iter().find(|id| {
            is_database_id(id)
                && !id.starts_with(&self.inner.run_prefix)
                && !created.contains(&format!("databases/{id}"))
        })
    }

    /// Sends concurrently; results in the order of `calls`.
    pub async fn send_all(&self, calls: Vec<Call>) -> Vec<Exchange> {
        let mut set = tokio::task::JoinSet::new();
        for (i, call) in calls.into_iter().enumerate() {
            let ctx = self.clone();
            set.spawn(async move { (i, ctx.send(call).await) });
        }
        let mut out: Vec<(usize, Exchange)> = set.join_all().await;
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, e)| e).collect()
    }

    /// The requests sent so far, each with its outcome.
    pub fn transcript(&self) -> Vec<String> {
        lock(&self.inner.log).clone()
    }

    /// The databases this case created (and has not deleted).
    pub fn created(&self) -> Vec<String> {
        lock(&self.inner.created).iter().cloned().collect()
    }

    /// Records that the case relies on `clauses` to reach its assertion (see
    /// [`crate::case::Case::requires`]).
    pub fn relies(&self, clauses: &[&str]) {
        let mut relied = lock(&self.inner.relied);
        relied.extend(clauses.iter().map(|c| (*c).to_owned()));
    }

    /// The clauses the case's steps relied on.
    pub fn relied(&self) -> Vec<String> {
        lock(&self.inner.relied).iter().cloned().collect()
    }

    /// Forgets a database the case deleted itself.
    pub fn forget(&self, name: &str) {
        lock(&self.inner.created).remove(name);
    }

    /// Rolls back every transaction the case began (those already finished
    /// answer NOT_FOUND, which is fine), then deletes every database it
    /// created.
    pub async fn cleanup(&self) {
        let begun = std::mem::take(&mut *lock(&self.inner.begun));
        let mut rollbacks = tokio::task::JoinSet::new();
        for (database, txn) in begun {
            let clients = self.clients();
            rollbacks.spawn(async move {
                let _ = crate::req::rollback(&database, &txn).send(&clients).await;
            });
        }
        rollbacks.join_all().await;
        for name in self.created() {
            let call = Kind::Database.delete(&name);
            let _ = call.send(&self.clients()).await;
            self.forget(&name);
        }
    }

    /// A failure attributed to the last request.
    pub fn fail(&self, expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        let failure = Failure::new(expected, actual);
        match lock(&self.inner.log).last() {
            Some(last) => failure.request(last.lines().next().unwrap_or_default().to_owned()),
            None => failure,
        }
    }

    /// Stops and starts the target again, then reconnects.
    pub async fn restart(&self) -> Check {
        let clients = self
            .inner
            .target
            .restart()
            .await
            .map_err(|e| Failure::new("the target restarts", e))?;
        *lock(&self.inner.clients) = clients;
        Ok(())
    }

    /// Runs `body` as a sub-step whose failures are attributed to `clause`.
    pub async fn clause<T>(&self, clause: &str, body: impl Future<Output = Check<T>>) -> Check<T> {
        body.await.map_err(|f| match f.clause {
            Some(_) => f,
            None => f.clause(clause),
        })
    }

    // ---- the common steps of cases ----

    /// Creates a resource, which must succeed, and returns it.
    pub async fn create(&self, kind: Kind, parent: &str, id: &str, field: &str) -> Check<Res> {
        Res::from_reply(self.send(kind.create(parent, id, field)).await.ok()?)
    }

    /// Gets a resource, which must exist.
    pub async fn get(&self, kind: Kind, name: &str) -> Check<Res> {
        Res::from_reply(self.send(kind.get(name)).await.ok()?)
    }

    /// Creates the ancestors a resource of `kind` needs and returns its
    /// parent's name ("" for databases).
    pub async fn parent_for(&self, kind: Kind) -> Check<String> {
        match kind {
            Kind::Database => Ok(String::new()),
            Kind::Collection => {
                let db = self
                    .create(Kind::Database, "", &self.id(&self.unique("p")), "Parent")
                    .await?;
                Ok(db.name)
            }
            Kind::Document => {
                let db = self
                    .create(Kind::Database, "", &self.id(&self.unique("p")), "Parent")
                    .await?;
                let coll = self.create(Kind::Collection, &db.name, "c", "").await?;
                Ok(coll.name)
            }
        }
    }

    /// The id to create a resource of `kind` with, from a local id:
    /// prefixed for databases, as is for the others.
    pub fn id_for(&self, kind: Kind, local: &str) -> String {
        match kind {
            Kind::Database => self.id(local),
            _ => local.to_owned(),
        }
    }

    /// A new resource of `kind` with a fresh parent: (parent, resource).
    pub async fn fresh(&self, kind: Kind, field: &str) -> Check<(String, Res)> {
        let parent = self.parent_for(kind).await?;
        let id = self.id_for(kind, &self.unique("r"));
        let res = self.create(kind, &parent, &id, field).await?;
        Ok((parent, res))
    }

    /// One page of a listing, which must succeed.
    pub async fn page(&self, kind: Kind, parent: &str, size: i32, token: &str) -> Check<Page> {
        if size == 0 {
            self.relies(&["LIST-2"]);
        }
        Page::from_reply(self.send(kind.list(parent, size, token)).await.ok()?)
    }

    /// Every item of a listing, page by page. For databases only the items of
    /// this run are kept (other clients' databases are not ours to look at).
    pub async fn list_all(&self, kind: Kind, parent: &str, size: i32) -> Check<Vec<Res>> {
        let ours = format!("databases/{}", self.run_prefix());
        let mut items = Vec::new();
        self.page_through(kind, parent, size, |page| {
            items.extend(
                page.items
                    .into_iter()
                    .filter(|r| kind != Kind::Database || r.name.starts_with(&ours)),
            );
            Ok(())
        })
        .await?;
        Ok(items)
    }

    /// Pages through a listing to its end, handing every page to `each`, and
    /// returns how many pages there were. The one paging loop of the suite:
    /// it fails at once on a token that does not move ([`Ctx::advances`])
    /// and past 100,000 pages, so no case can page for ever.
    pub async fn page_through(
        &self,
        kind: Kind,
        parent: &str,
        size: i32,
        mut each: impl FnMut(Page) -> Check,
    ) -> Check<usize> {
        self.relies(&["LIST-3", "LIST-5", "LIST-8"]);
        let mut token = String::new();
        for pages in 1..=100_000 {
            let mut page = self.page(kind, parent, size, &token).await?;
            let next = std::mem::take(&mut page.next_page_token);
            each(page)?;
            if next.is_empty() {
                return Ok(pages);
            }
            self.advances(&token, &next)?;
            token = next;
        }
        Err(self.fail("the listing ends", "more than 100000 pages"))
    }

    /// Fails at once when a page hands back the token it was asked with: a
    /// listing that would never end, reported now rather than when the
    /// case's time runs out.
    pub fn advances(&self, used: &str, next: &str) -> Check {
        if crate::req::token_repeats(used, next) {
            return Err(self
                .fail(
                    "a next_page_token that moves past the page",
                    "the same token as the request's: the listing would never end",
                )
                .clause("LIST-5"));
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
