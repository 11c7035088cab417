//! A case: one named, tagged check of one clause.
//!
//! Cases are plain values in a registry ([`crate::cases::all`]), so one runner
//! executes the same list for the binary and for `cargo test`, and the
//! catalogue (`distgo-conformance list`) is generated from it.

use std::{fmt, future::Future, pin::Pin, str::FromStr, sync::Arc};

use crate::{check::Check, ctx::Ctx, req::Kind};

/// The future a case returns.
pub type CaseFuture = Pin<Box<dyn Future<Output = Check> + Send>>;

/// A case's body.
pub type CaseFn = Arc<dyn Fn(Ctx) -> CaseFuture + Send + Sync>;

/// What a case is about; used to select cases (`--tags`, `--skip-tags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    /// Databases, collections, documents, names, fields, lists, errors.
    Core,
    /// TransactionService.
    Transactions,
    /// WALService.
    Wal,
    /// Several requests in flight at once.
    Concurrency,
    /// Needs a target that can restart.
    Restart,
    /// Several members of one replicated deployment behave as one copy
    /// (`--addr` repeated; one address is a deployment of one).
    Cluster,
}

impl Tag {
    /// Every tag.
    pub const ALL: [Tag; 6] = [
        Tag::Core,
        Tag::Transactions,
        Tag::Wal,
        Tag::Concurrency,
        Tag::Restart,
        Tag::Cluster,
    ];

    /// The tag's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Core => "core",
            Tag::Transactions => "transactions",
            Tag::Wal => "wal",
            Tag::Concurrency => "concurrency",
            Tag::Restart => "restart",
            Tag::Cluster => "cluster",
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tag::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown tag {s:?} (tags: core, transactions, wal, concurrency, restart, cluster)"
                )
            })
    }
}

/// The clauses a case relies on when it reads a whole listing with the
/// default page size ([`Ctx::list_all`](crate::ctx::Ctx::list_all) with size 0).
pub const LISTING: &[&str] = &["LIST-2", "LIST-3", "LIST-5", "LIST-8"];

/// A capability a case needs from the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Stop and start the worker on the same data.
    Restart,
    /// Act on the whole worker (e.g. TruncateWAL): only with `--exclusive`.
    Exclusive,
    /// The target's `transactions.ttl`, short enough to wait for (`--txn-ttl`).
    TxnTtl,
    /// The target's `transactions.max_operations` (`--txn-max-operations`).
    TxnMaxOperations,
    /// The target's `transactions.max_open` (`--txn-max-open`).
    TxnMaxOpen,
}

/// One case of the suite.
#[derive(Clone)]
pub struct Case {
    /// Unique, kebab-case: `doc-create-verbatim-value`.
    pub id: String,
    /// The SPEC clause it checks: `DOC-CREATE-3`.
    pub clause: String,
    /// Selection tags.
    pub tags: Vec<Tag>,
    /// Capabilities it needs.
    pub needs: Vec<Need>,
    /// The clauses it relies on to reach its own assertion (its
    /// prerequisites): when one of them fails in the same run, this case's
    /// failure is reported as `blocked by` it, not as a failure of its own
    /// clause ([`crate::runner::blame`]).
    pub requires: Vec<String>,
    /// Its body.
    pub run: CaseFn,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("clause", &self.clause)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// A case from an async closure.
    pub fn new<F, Fut>(
        id: impl Into<String>,
        clause: impl Into<String>,
        tags: &[Tag],
        body: F,
    ) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Check> + Send + 'static,
    {
        let mut needs = Vec::new();
        if tags.contains(&Tag::Restart) {
            needs.push(Need::Restart);
        }
        Case {
            id: id.into(),
            clause: clause.into(),
            tags: tags.to_vec(),
            needs,
            requires: Vec::new(),
            run: Arc::new(move |ctx| Box::pin(body(ctx))),
        }
    }

    /// One case per kind: `{db,coll,doc}-{name}`, each citing `clause`.
    pub fn each<F, Fut>(
        kinds: &[Kind],
        name: &str,
        clause: &str,
        tags: &[Tag],
        body: F,
    ) -> Vec<Case>
    where
        F: Fn(Ctx, Kind) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = Check> + Send + 'static,
    {
        kinds
            .iter()
            .map(|&kind| {
                let id = format!("{}-{name}", kind.short());
                Case::new(id, clause.to_owned(), tags, move |ctx| body(ctx, kind))
            })
            .collect()
    }

    /// Adds a needed capability.
    pub fn needs(mut self, need: Need) -> Self {
        self.needs.push(need);
        self
    }

    /// Declares clauses the case relies on (its [`Case::requires`] field).
    pub fn relies_on(mut self, clauses: &[&str]) -> Self {
        self.requires
            .extend(clauses.iter().map(|c| (*c).to_owned()));
        self
    }

    /// Whether the case is model-based ([`crate::model::cases`], ids
    /// `model-*`): it checks a whole area, not one clause, so the runner
    /// runs it after the example cases and hands it the clauses they
    /// found failing ([`crate::runner::Runner::run_all`]).
    pub fn is_model_based(&self) -> bool {
        self.id.starts_with("model-")
    }

    /// Whether the case has `tag`.
    pub fn has(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }

    /// The tags as `core,concurrency`.
    pub fn tag_list(&self) -> String {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.as_str()).collect();
        tags.join(",")
    }
}
