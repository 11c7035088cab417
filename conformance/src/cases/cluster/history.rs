//! CLUSTER-3: concurrent clients spread over the members produce a
//! linearizable history.
//!
//! The strongest thing a client can observe of a replica set: several
//! clients, each talking to its own member, create, update, delete and read
//! a few documents at once, and every answer must be one a single copy of
//! the data could have given at some instant between the request and its
//! answer. The suite records each operation's invocation and answer on one
//! clock and hands the history to [`crate::linearizability::check`]. On a
//! violation the failure prints the checker's verdict and the history of the
//! document it could not order.
//!
//! The mix of operations is a fixed function of the run's seed, so a failure
//! is reproduced with `--seed`; an answer that may or may not have been
//! applied (UNAVAILABLE, DEADLINE_EXCEEDED, ...) is recorded as unknown.

use std::time::{Duration, Instant};

use tonic::Code;

use super::Members;
use crate::{
    call::Reply,
    check::{Check, Failure, describe},
    ctx::Ctx,
    linearizability::{self, Action, Limits, Operation, Outcome},
    req::{Kind, Res},
};

/// Concurrent clients; client `c` talks to member `c`.
const CLIENTS: usize = 4;

/// Operations per client.
const OPERATIONS: usize = 40;

/// Documents the clients share.
const DOCUMENTS: usize = 2;

/// The longest the clients may take.
const BOUND: Duration = Duration::from_secs(60);

/// What the checker may spend.
const LIMITS: Limits = Limits {
    steps: 2_000_000,
    time: Duration::from_secs(20),
};

pub(super) async fn concurrent_history_is_linearizable(ctx: Ctx) -> Check {
    let members = Members::connect(&ctx).await?;
    let parent = ctx.parent_for(Kind::Document).await?;
    let start = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS.max(members.len()) {
        let (ctx, members, parent) = (ctx.clone(), members.clone(), parent.clone());
        clients.spawn(async move { run_client(&ctx, &members, &parent, client, start).await });
    }
    let joined = tokio::time::timeout(BOUND, clients.join_all())
        .await
        .map_err(|_| {
            Failure::new(
                format!("the clients finish within {BOUND:?}"),
                "they did not",
            )
        })?;
    let mut history = Vec::new();
    for ops in joined {
        history.extend(ops?);
    }
    judge(&history)
}

/// One client's operations, one at a time, through member `client`.
async fn run_client(
    ctx: &Ctx,
    members: &Members,
    parent: &str,
    client: usize,
    start: Instant,
) -> Check<Vec<Operation>> {
    let mut choice = Choice::new(ctx.settings().seed, client);
    let mut ops = Vec::with_capacity(OPERATIONS);
    for i in 0..OPERATIONS {
        let id = format!("k{}", choice.below(DOCUMENTS as u64));
        let name = Kind::Document.name(parent, &id);
        let value = format!("{{\"client\": {client}, \"op\": {i}}}");
        let (action, call) = match choice.below(20) {
            0..=7 => (Action::Get, Kind::Document.get(&name)),
            8..=13 => (
                Action::Update(value.clone()),
                Kind::Document.update(&name, &value, None),
            ),
            14..=16 => (
                Action::Create(value.clone()),
                Kind::Document.create(parent, &id, &value),
            ),
            _ => (Action::Delete, Kind::Document.delete(&name)),
        };
        let invoke = start.elapsed();
        let exchange = members.send(ctx, client, call).await;
        let complete = start.elapsed();
        let outcome = outcome_of(&action, exchange.outcome.clone())
            .map_err(|f| f.request(exchange.call.render()))?;
        ops.push(Operation::new(
            client, name, action, invoke, complete, outcome,
        ));
    }
    Ok(ops)
}

/// The checker's outcome of an answer; a definite error the contract does
/// not allow here fails the case.
fn outcome_of(action: &Action, answer: Result<Reply, tonic::Status>) -> Check<Outcome> {
    match answer {
        Ok(_) if *action == Action::Delete => Ok(Outcome::Ok(None)),
        Ok(reply) => Ok(Outcome::Ok(Some(Res::from_reply(reply)?.field))),
        Err(s) if s.code() == Code::NotFound => Ok(Outcome::NotFound),
        Err(s) if s.code() == Code::AlreadyExists => Ok(Outcome::AlreadyExists),
        Err(s)
            if matches!(
                s.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted
            ) =>
        {
            Ok(Outcome::Unknown)
        }
        Err(s) => Err(Failure::new(
            "OK, NOT_FOUND, ALREADY_EXISTS, or an answer of unknown outcome",
            describe(&Err(s)),
        )),
    }
}

/// Fails unless the checker finds an order for every document.
fn judge(history: &[Operation]) -> Check {
    let report = linearizability::check(history, LIMITS);
    if report.is_linearizable() {
        return Ok(());
    }
    let mut note = report.to_string();
    for document in &report.documents {
        if document.verdict == linearizability::Verdict::Linearizable {
            continue;
        }
        note.push_str(&format!("\nthe history of {}:\n", document.key));
        let mut ops: Vec<&Operation> = history.iter().filter(|o| o.key == document.key).collect();
        ops.sort_by_key(|o| o.invoke);
        for op in ops {
            note.push_str(&format!("  {op}\n"));
        }
    }
    let actual = if report.is_violation() {
        "a history no single copy could produce"
    } else {
        "the checker gave up (fewer operations would decide)"
    };
    let what = format!("the {} operations of the clients, below", history.len());
    Err(Failure::new("a linearizable history", actual)
        .request(what)
        .note(note))
}

/// A small deterministic generator (xorshift64*): the operations of a
/// client are a function of the seed and the client.
struct Choice(u64);

impl Choice {
    fn new(seed: u64, client: usize) -> Choice {
        let mixed = seed ^ (client as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Choice(mixed | 1)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}
