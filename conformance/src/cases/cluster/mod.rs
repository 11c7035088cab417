//! Clusters (CLUSTER): several members of one replicated deployment behave
//! as one copy of the data.
//!
//! A replica set is correct only if a client cannot tell which member it
//! talks to. Each case opens a client per member named with `--addr`
//! ([`Members`]) and spreads its requests over them:
//!
//! | clause | file | what it asks of the members |
//! |---|---|---|
//! | CLUSTER-1 | `visible.rs` | a write acknowledged by one is read back through every one, at once |
//! | CLUSTER-2 | `sessions.rs` | read-your-writes and monotonic reads while a client hops between them |
//! | CLUSTER-3 | `history.rs` | concurrent clients' history is linearizable ([`crate::linearizability`]) |
//! | CLUSTER-4 | `retries.rs` | a retry through another member with the same `distgo-request-id` applies once |
//!
//! With one address the deployment has one member, which the cases reach
//! over two connections: every case still passes through its cross-member
//! steps, and a single correct worker passes them all.

mod history;
mod retries;
mod sessions;
mod visible;

use crate::{
    call::Call,
    case::{Case, Tag},
    check::{Check, Exchange, Failure},
    ctx::Ctx,
    target::Clients,
};

/// The tags of the cluster cases.
const TAGS: &[Tag] = &[Tag::Cluster];

/// Cases about clusters.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "cluster-write-visible-through-every-member",
            "CLUSTER-1",
            TAGS,
            visible::write_visible_through_every_member,
        ),
        Case::new(
            "cluster-read-your-writes-and-monotonic-reads",
            "CLUSTER-2",
            TAGS,
            sessions::read_your_writes_and_monotonic_reads,
        ),
        Case::new(
            "cluster-concurrent-history-is-linearizable",
            "CLUSTER-3",
            &[Tag::Cluster, Tag::Concurrency],
            history::concurrent_history_is_linearizable,
        ),
        Case::new(
            "cluster-retry-through-another-member-applies-once",
            "CLUSTER-4",
            TAGS,
            retries::retry_through_another_member_applies_once,
        ),
    ]
}

/// A client per member of the deployment, in `--addr` order (the primary
/// first); at least two, so that a deployment of one is reached over two
/// connections.
#[derive(Clone, Debug)]
pub(crate) struct Members {
    clients: Vec<Clients>,
    addrs: Vec<String>,
}

impl Members {
    /// Connects to every member of the target.
    pub(crate) async fn connect(ctx: &Ctx) -> Check<Members> {
        let unreachable = |e: crate::target::TargetError| {
            Failure::new("a connection to every member", e.to_string())
        };
        let target = ctx.target();
        let mut addrs = target.members();
        let mut clients = target.member_clients().await.map_err(unreachable)?;
        if clients.len() == 1 {
            clients.push(target.fresh_clients().await.map_err(unreachable)?);
            addrs.push(target.addr());
        }
        Ok(Members { clients, addrs })
    }

    /// How many members (connections) there are.
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    /// The clients of member `i` (counted modulo [`Members::len`]).
    pub(crate) fn at(&self, i: usize) -> &Clients {
        &self.clients[i % self.clients.len()]
    }

    /// Who member `i` is, for messages: `member 1 (http://...)`.
    pub(crate) fn who(&self, i: usize) -> String {
        let i = i % self.addrs.len();
        format!("member {i} ({})", self.addrs[i])
    }

    /// Sends `call` through member `i`, recorded with the member's name.
    pub(crate) async fn send(&self, ctx: &Ctx, i: usize, call: Call) -> Exchange {
        let note = format!(" (at {})", self.who(i));
        ctx.send_on(call, self.at(i), &note).await
    }
}
