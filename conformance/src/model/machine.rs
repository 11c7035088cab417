//! Random sequences of requests, run against the model and the target side
//! by side with `proptest-state-machine`.
//!
//! ```text
//!  Focus (weights) ──► transitions(model) ──► Vec<Op> ──► for each op:
//!                                                          model.step(op)  → Expect
//!                                                          target.send(op) → Outcome
//!                                                          compare (codes, payloads,
//!                                                          timestamps by invariant,
//!                                                          generated ids by shape)
//! ```
//!
//! Every sequence runs in a fresh sub-namespace (`{case ns}{n}-`) and deletes
//! what it made when it passes, so sequences never see each other. When one
//! fails, proptest shrinks it; the smallest failing sequence is printed as a
//! script (the scenario syntax, `!` on requests that must fail) that
//! `distgo-conformance replay` runs again, with the seed that regenerates it.
//!
//! Page tokens and transaction ids are the target's, so an `Op` names them
//! by position ([`Tok::Issued`], [`Tx::Recent`]) and [`Handles`] holds the
//! real ones; the script writes them as the `$tokenN` and `$txnN` variables
//! that `replay` fills in from the target's answers. The transaction
//! requests come from the `txns` submodule.
//!
//! A commit answers only Empty, so its effects are checked when they are
//! read: the next Get or List of each resource it wrote must show the
//! commit's time as `updated_at`, the same for all of them (WAL-5).

use std::{collections::BTreeMap, marker::PhantomData, sync::Mutex};

use proptest::{
    prelude::*,
    test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner},
};
use proptest_state_machine::ReferenceStateMachine;
use prost_types::{FieldMask, Timestamp};
use tonic::Code;

mod txns;

use self::txns::txn_choices;
use super::{
    state::{CHILD_IDS, DB_IDS, Effect, Expect, K, LocalName, MALFORMED, Mask, Model, Op, Tok},
    txn::{Tx, TxOp, TxState, Txn, Verb},
};
use crate::{
    call::{Call, Reply},
    check::{Check, Failure, code_name, describe, violation_fields},
    ctx::Ctx,
    proto::database as pb,
    req::{self, Kind, Page, Res, nanos},
};

/// Which requests a model case favours: weights of (create, get, update,
/// delete, list) for (databases, collections, documents), and of the
/// transaction requests.
pub trait Focus: 'static {
    /// Weights per kind: [db, coll, doc].
    const KINDS: [u32; 3];
    /// Weights per verb: [create, get, update, delete, list].
    const VERBS: [u32; 5];
    /// Weights of [begin, execute, commit, rollback]; none by default, so
    /// the plain cases draw exactly the sequences they drew before.
    const TXNS: [u32; 4] = [0; 4];
}

/// An id that no Begin returns (real ids are random).
const UNKNOWN_TXN: &str = "no-such-transaction";

/// The reference state machine for a focus.
pub struct Machine<F>(PhantomData<F>);

fn kind_of(i: usize) -> K {
    [K::Db, K::Coll, K::Doc][i]
}

fn local_id(depth: usize) -> BoxedStrategy<String> {
    let ids: Vec<String> = if depth == 1 { DB_IDS } else { CHILD_IDS }
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    // Valid ids first, so they are likelier and shrink towards them.
    let valid = ids
        .iter()
        .filter(|i| super::state::valid_id(i, depth))
        .cloned()
        .collect::<Vec<_>>();
    prop_oneof![15 => proptest::sample::select(valid), 1 => proptest::sample::select(ids)].boxed()
}

/// Names of depth `depth`: mostly existing ones, some random, a few malformed.
///
/// "Existing" includes the names that the sequence's transactions write:
/// reading them shows whether a buffered write leaked before Commit, or a
/// failed commit left part of itself behind.
fn any_name(model: &Model, depth: usize) -> BoxedStrategy<LocalName> {
    let mut existing = Vec::new();
    collect(&model.root, &mut Vec::new(), depth, &mut existing);
    existing.extend(
        model
            .txns
            .iter()
            .flat_map(Txn::written)
            .filter(|segs| segs.len() == depth),
    );
    let random = proptest::collection::vec(Just(()), depth)
        .prop_flat_map(move |_| (1..=depth).map(local_id).collect::<Vec<_>>())
        .prop_map(LocalName::Name);
    let malformed = (0..MALFORMED.len()).prop_map(LocalName::Malformed);
    if existing.is_empty() {
        prop_oneof![9 => random, 1 => malformed].boxed()
    } else {
        let existing = proptest::sample::select(existing).prop_map(LocalName::Name);
        prop_oneof![20 => existing, 3 => random, 1 => malformed].boxed()
    }
}

/// Parents to list: like [`any_name`], but fuller parents are likelier, so
/// listings cross pages.
fn list_parent(model: &Model, depth: usize) -> BoxedStrategy<LocalName> {
    let mut existing = Vec::new();
    collect(&model.root, &mut Vec::new(), depth, &mut existing);
    let weighted: Vec<Vec<String>> = existing
        .iter()
        .flat_map(|segs| {
            let children = model.node(segs).map_or(0, |n| n.children.len());
            std::iter::repeat_n(segs.clone(), children * children + 1)
        })
        .collect();
    if weighted.is_empty() {
        return any_name(model, depth);
    }
    prop_oneof![6 => proptest::sample::select(weighted).prop_map(LocalName::Name), 1 => any_name(model, depth)].boxed()
}

fn collect(
    level: &BTreeMap<String, super::state::Node>,
    path: &mut Vec<String>,
    depth: usize,
    out: &mut Vec<Vec<String>>,
) {
    for (id, node) in level {
        path.push(id.clone());
        if path.len() == depth {
            out.push(path.clone());
        } else {
            collect(&node.children, path, depth, out);
        }
        path.pop();
    }
}

fn field(kind: K) -> BoxedStrategy<String> {
    let (valid, invalid): (Vec<&str>, Vec<String>) = match kind {
        K::Db => (vec!["A", "B", "Zoë"], vec![String::new(), "n".repeat(256)]),
        K::Coll => (vec!["", "d", "e"], vec!["d".repeat(1025)]),
        K::Doc => (
            vec![
                "{}",
                "{\"a\":1}",
                " {\"b\": [true, null]} ",
                "{\"a\":1,\"a\":2}",
            ],
            vec!["[]".into(), "{".into(), String::new()],
        ),
    };
    let valid: Vec<String> = valid.into_iter().map(str::to_owned).collect();
    prop_oneof![15 => proptest::sample::select(valid), 1 => proptest::sample::select(invalid)]
        .boxed()
}

fn mask() -> impl Strategy<Value = Mask> {
    prop_oneof![
        4 => Just(Mask::Absent), 2 => Just(Mask::Field), 1 => Just(Mask::Empty),
        1 => Just(Mask::Star), 1 => Just(Mask::OutputOnly), 1 => Just(Mask::StarAndField),
    ]
}

fn token(model: &Model) -> BoxedStrategy<Tok> {
    let issued = model.tokens.len();
    if issued == 0 {
        prop_oneof![9 => Just(Tok::None), 1 => Just(Tok::Garbage)].boxed()
    } else {
        prop_oneof![5 => Just(Tok::None), 5 => (0..issued).prop_map(Tok::Issued), 1 => Just(Tok::Garbage)].boxed()
    }
}

fn op_for(model: &Model, kind: K, verb: usize) -> BoxedStrategy<Op> {
    let depth = kind.depth();
    match verb {
        0 => {
            let parent = if depth == 1 {
                Just(LocalName::Name(vec![])).boxed()
            } else {
                any_name(model, depth - 1)
            };
            let id = if depth == 1 {
                local_id(1)
            } else {
                prop_oneof![6 => local_id(depth), 1 => Just(String::new())].boxed()
            };
            let body_id = if kind == K::Doc {
                prop_oneof![8 => Just(String::new()), 1 => local_id(depth)].boxed()
            } else {
                Just(String::new()).boxed()
            };
            (parent, id, body_id, field(kind))
                .prop_map(move |(parent, id, body_id, field)| Op::Create {
                    kind,
                    parent,
                    id,
                    body_id,
                    field,
                })
                .boxed()
        }
        1 => any_name(model, depth)
            .prop_map(move |name| Op::Get { kind, name })
            .boxed(),
        2 => (any_name(model, depth), field(kind), mask())
            .prop_map(move |(name, field, mask)| Op::Update {
                kind,
                name,
                field,
                mask,
            })
            .boxed(),
        3 => any_name(model, depth)
            .prop_map(move |name| Op::Delete { kind, name })
            .boxed(),
        _ => {
            let parent = if depth == 1 {
                Just(LocalName::Name(vec![])).boxed()
            } else {
                list_parent(model, depth - 1)
            };
            let size = prop_oneof![1 => Just(0), 8 => 1..4i32, 1 => Just(-1), 1 => Just(1001)];
            let tok = if depth == 1 {
                prop_oneof![9 => Just(Tok::None), 1 => Just(Tok::Garbage)].boxed()
            } else {
                token(model)
            };
            let fresh =
                (parent, size.clone(), tok).prop_map(move |(parent, size, token)| Op::List {
                    kind,
                    parent,
                    size,
                    token,
                });
            // Continuing a listing of this kind: its token with its own parent.
            let continuations: Vec<(usize, LocalName)> = model
                .tokens
                .iter()
                .enumerate()
                .filter(|(_, t)| t.scope.len() + 1 == depth)
                .map(|(k, t)| (k, LocalName::Name(t.scope.clone())))
                .collect();
            if continuations.is_empty() {
                fresh.boxed()
            } else {
                let next = (proptest::sample::select(continuations), 1..4i32).prop_map(
                    move |((k, parent), size)| Op::List {
                        kind,
                        parent,
                        size,
                        token: Tok::Issued(k),
                    },
                );
                prop_oneof![1 => fresh, 1 => next].boxed()
            }
        }
    }
}

impl<F: Focus> ReferenceStateMachine for Machine<F> {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        // Grow the tree first: while a level is nearly empty, creating there
        // is likelier, so sequences reach documents and multi-page lists.
        let counts: Vec<usize> = (1..=3)
            .map(|depth| {
                let mut found = Vec::new();
                collect(&state.root, &mut Vec::new(), depth, &mut found);
                found.len()
            })
            .collect();
        let mut choices = Vec::new();
        for (k, kw) in F::KINDS.iter().enumerate() {
            for (v, vw) in F::VERBS.iter().enumerate() {
                let parents_exist = k == 0 || counts[k - 1] > 0;
                let weight = match (v, parents_exist) {
                    (_, false) => (kw * vw).min(1),
                    (0, true)
                        if counts[k]
                            < 3 * counts.get(k.wrapping_sub(1)).copied().unwrap_or(1).max(1) =>
                    {
                        kw * vw * 6
                    }
                    _ => kw * vw,
                };
                if weight > 0 {
                    choices.push((weight, op_for(state, kind_of(k), v)));
                }
            }
        }
        choices.extend(txn_choices::<F>(state));
        proptest::strategy::Union::new_weighted(choices).boxed()
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.step(op);
        state
    }

    /// Checked on generation and again on every shrunk sequence, where
    /// removing a Begin renumbers the transactions after it.
    fn preconditions(state: &Model, op: &Op) -> bool {
        match op {
            Op::List {
                token: Tok::Issued(k),
                ..
            } => *k < state.tokens.len(),
            _ => state.defined(op),
        }
    }
}

/// Runs `F`'s sequences against the target; `cases` sequences of up to
/// `steps` requests.
pub async fn run<F: Focus>(ctx: Ctx, default_cases: u32, steps: usize) -> Check {
    let cases = ctx.settings().cases.unwrap_or(default_cases);
    let seed = ctx.settings().seed;
    let handle = tokio::runtime::Handle::current();
    let worker = ctx.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 4096,
            // Shrinking stops after this long and reports the smallest
            // failing sequence found so far.
            max_shrink_time: 10_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        let counter = std::sync::atomic::AtomicUsize::new(0);
        let last: Mutex<Option<(Failure, Vec<Op>, usize)>> = Mutex::new(None);
        let outcome = runner.run(
            &Machine::<F>::sequential_strategy(1..steps),
            |(mut model, ops, seen)| {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let seq = Seq::new(&worker, n);
                let result = handle.block_on(seq.run(&mut model, &ops, seen.as_deref()));
                handle.block_on(seq.cleanup());
                match result {
                    Ok(()) => Ok(()),
                    Err((failure, at)) => {
                        let message = failure.to_string();
                        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some((failure, ops, at));
                        Err(TestCaseError::fail(message))
                    }
                }
            },
        );
        let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some((_, ops, _)) = &last {
            // Run the minimal sequence once more and keep its data to inspect.
            let seq = Seq::new(&worker, usize::MAX);
            let _ = handle.block_on(seq.run(&mut Model::default(), ops, None));
        }
        (outcome, last)
    })
    .await
    .map_err(|e| Failure::new("the model run completes", e.to_string()))?;
    match result {
        (Ok(()), _) => Ok(()),
        (Err(TestError::Abort(why)), _) => {
            Err(Failure::new("the model run completes", why.to_string()))
        }
        (Err(TestError::Fail(_, _)), None) => Err(Failure::new("a failure record", "none")),
        (Err(TestError::Fail(_, _)), Some((failure, ops, at))) => {
            let script = replay_script(&ops[..=at.min(ops.len().saturating_sub(1))]);
            let note = format!(
                "minimal failing sequence ({} requests; seed {seed}; rerun with --seed {seed}), as a script for `distgo-conformance replay`:\n{script}",
                at + 1
            );
            Err(Failure {
                note: Some(note),
                ..failure
            })
        }
    }
}

/// The ops as a script: plain ids, `!` on requests the model expects to fail.
pub fn replay_script(ops: &[Op]) -> String {
    let mut model = Model::default();
    // The script names tokens and transactions by the variables `replay`
    // sets as the target answers: `$tokenN`, `$txnN`.
    let mut vars = Handles::default();
    let mut out = String::new();
    for op in ops {
        let expect = model.step(op);
        let bang = if expect.is_error() { "!" } else { "" };
        let call = to_call(op, "", &vars);
        out.push_str(&format!("{bang}{}\n", call.render()));
        if expect == Expect::Begun {
            let k = vars.txns.len();
            vars.txns.push((String::new(), format!("$txn{k}")));
        }
    }
    out
}

/// What the target handed out so far, in order: the page tokens of
/// collection and document listings, and the transactions it began
/// (`database_name`, `transaction_id`).
#[derive(Clone, Debug, Default)]
pub struct Handles {
    /// Page tokens; `Tok::Issued(k)` is `tokens[k]`.
    pub tokens: Vec<String>,
    /// Transactions, as [`Model::txns`].
    pub txns: Vec<(String, String)>,
}

/// One sequence's namespace and observations.
struct Seq<'a> {
    ctx: &'a Ctx,
    /// Database id prefix of this sequence.
    prefix: String,
    /// Tokens and transaction ids the target issued.
    handles: Mutex<Handles>,
    /// Timestamps seen per real name: (created_at, updated_at).
    times: Mutex<BTreeMap<String, (i128, i128)>>,
    /// Resources that a commit wrote and nobody has read since: real name →
    /// (commit number, whether the commit created it).
    pending: Mutex<BTreeMap<String, (usize, bool)>>,
    /// Each successful commit's time, once one of its resources is read.
    commits: Mutex<Vec<Option<i128>>>,
}

/// A comparison that failed, and the clause when it is not the request's.
struct Mismatch {
    expected: String,
    actual: String,
    clause: Option<&'static str>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `Operation` of `op` with database ids prefixed by `prefix`.
fn operation(op: &TxOp, prefix: &str) -> pb::Operation {
    let mutation = op.verb.map_or(pb::MutationType::Unspecified, |v| match v {
        Verb::Create => pb::MutationType::Create,
        Verb::Update => pb::MutationType::Update,
        Verb::Delete => pb::MutationType::Delete,
    });
    let entity = op.kind.map_or(pb::EntityType::Unspecified, |k| match k {
        K::Db => pb::EntityType::Database,
        K::Coll => pb::EntityType::Collection,
        K::Doc => pb::EntityType::Document,
    });
    pb::Operation {
        mutation_type: mutation as i32,
        entity_type: entity as i32,
        name: real_name(&op.name, prefix),
        value: op.value.clone(),
    }
}

/// Builds the request of `op` with database ids prefixed by `prefix`;
/// `handles` are the real tokens and transaction ids issued so far.
pub fn to_call(op: &Op, prefix: &str, handles: &Handles) -> Call {
    let txn_id = |txn: &Tx| match txn {
        Tx::Recent(n) => handles
            .txns
            .len()
            .checked_sub(n + 1)
            .and_then(|k| handles.txns.get(k))
            .map_or_else(|| UNKNOWN_TXN.to_owned(), |(_, id)| id.clone()),
        Tx::Unknown => UNKNOWN_TXN.to_owned(),
        Tx::Empty => String::new(),
    };
    let name = |t: &LocalName| real_name(t, prefix);
    let kind = |k: K| match k {
        K::Db => Kind::Database,
        K::Coll => Kind::Collection,
        K::Doc => Kind::Document,
    };
    match op {
        Op::Create {
            kind: K::Doc,
            parent,
            id,
            body_id,
            field,
        } => Call::CreateDocument(pb::CreateDocumentRequest {
            parent: name(parent),
            document_id: id.clone(),
            document: Some(pb::Document {
                id: body_id.clone(),
                value: field.clone(),
                ..Default::default()
            }),
        }),
        Op::Create {
            kind: K::Db,
            id,
            field,
            ..
        } => Kind::Database.create("", &format!("{prefix}{id}"), field),
        Op::Create {
            kind: k,
            parent,
            id,
            field,
            ..
        } => kind(*k).create(&name(parent), id, field),
        Op::Get { kind: k, name: n } => kind(*k).get(&name(n)),
        Op::Delete { kind: k, name: n } => kind(*k).delete(&name(n)),
        Op::Update {
            kind: k,
            name: n,
            field,
            mask,
        } => {
            let mutable = kind(*k).mutable_field();
            let paths: Option<Vec<&str>> = match mask {
                Mask::Absent => None,
                Mask::Empty => Some(vec![]),
                Mask::Star => Some(vec!["*"]),
                Mask::Field => Some(vec![mutable]),
                Mask::OutputOnly => Some(vec!["created_at"]),
                Mask::StarAndField => Some(vec!["*", mutable]),
            };
            let mut call = kind(*k).update(&name(n), field, None);
            let mask = paths.map(|p| FieldMask {
                paths: p.into_iter().map(str::to_owned).collect(),
            });
            match &mut call {
                Call::UpdateDatabase(r) => r.update_mask = mask,
                Call::UpdateCollection(r) => r.update_mask = mask,
                Call::UpdateDocument(r) => r.update_mask = mask,
                _ => {}
            }
            call
        }
        Op::List {
            kind: k,
            parent,
            size,
            token,
        } => {
            let token = match token {
                Tok::None => String::new(),
                Tok::Garbage => "not-a-token".to_owned(),
                Tok::Issued(i) => handles
                    .tokens
                    .get(*i)
                    .cloned()
                    .unwrap_or_else(|| format!("$token{i}")),
            };
            // The run's databases are read by paging through every database of
            // the worker; pages of 25 keep that cheap on a busy worker.
            let size = if *k == K::Db && (1..=1000).contains(size) {
                25
            } else {
                *size
            };
            kind(*k).list(&name(parent), size, &token)
        }
        Op::Begin { db } => req::begin(&name(db)),
        Op::Execute { db, txn, ops } => req::execute(
            &name(db),
            &txn_id(txn),
            ops.iter().map(|o| operation(o, prefix)).collect(),
        ),
        Op::Commit { db, txn } => req::commit(&name(db), &txn_id(txn)),
        Op::Rollback { db, txn } => req::rollback(&name(db), &txn_id(txn)),
    }
}

/// The real name of a local name: its database id prefixed by `prefix`.
pub fn real_name(local: &LocalName, prefix: &str) -> String {
    match local {
        LocalName::Malformed(i) => MALFORMED[*i].replace("{db}", &format!("{prefix}a")),
        LocalName::Name(segs) => {
            let mut name = String::new();
            for (i, seg) in segs.iter().enumerate() {
                let segment = ["databases", "collections", "documents"][i];
                let id = if i == 0 {
                    format!("{prefix}{seg}")
                } else {
                    seg.clone()
                };
                name.push_str(&format!("{}{segment}/{id}", if i == 0 { "" } else { "/" }));
            }
            name
        }
    }
}

fn local_to_real(segs: &[String], prefix: &str) -> String {
    real_name(&LocalName::Name(segs.to_vec()), prefix)
}

impl<'a> Seq<'a> {
    fn new(ctx: &'a Ctx, n: usize) -> Self {
        Seq {
            ctx,
            prefix: if n == usize::MAX {
                format!("{}min-", ctx.ns())
            } else {
                format!("{}{n}-", ctx.ns())
            },
            handles: Mutex::default(),
            times: Mutex::default(),
            pending: Mutex::default(),
            commits: Mutex::default(),
        }
    }

    async fn run(
        &self,
        model: &mut Model,
        ops: &[Op],
        seen: Option<&std::sync::atomic::AtomicUsize>,
    ) -> Result<(), (Failure, usize)> {
        for (i, op) in ops.iter().enumerate() {
            if let Some(seen) = seen {
                seen.store(i + 1, std::sync::atomic::Ordering::SeqCst);
            }
            let expect = model.step(op);
            let clause = clause_of(model, op, &expect);
            self.check(op, &expect, clause).await.map_err(|f| (f, i))?;
        }
        Ok(())
    }

    /// Rolls back the transactions it began (they would otherwise wait for
    /// their expiry on the target) and deletes every database the sequence
    /// may have made (whatever the target did, all of them have an id from
    /// [`DB_IDS`]).
    async fn cleanup(&self) {
        for (db, id) in self.handles().txns {
            let _ = self.ctx.send(req::rollback(&db, &id)).await;
        }
        for id in DB_IDS {
            let id = format!("{}{id}", self.prefix);
            if crate::ctx::is_database_id(&id) {
                let name = format!("databases/{id}");
                let _ = self.ctx.send(Kind::Database.delete(&name)).await;
                self.ctx.forget(&name);
            }
        }
    }

    fn handles(&self) -> Handles {
        lock(&self.handles).clone()
    }

    async fn check(&self, op: &Op, expect: &Expect, clause: &'static str) -> Check {
        let handles = self.handles();
        let call = to_call(op, &self.prefix, &handles);
        let script = to_call(op, "", &handles).render();
        let fail = |expected: String, actual: String| {
            Failure::new(expected, actual)
                .clause(clause)
                .request(script.clone())
        };
        if let (Op::List { kind: K::Db, .. }, Expect::AllDatabases(want)) = (op, expect) {
            return self
                .check_all_databases(&call, want)
                .await
                .map_err(|f| Failure {
                    clause: Some(clause.into()),
                    request: Some(script.clone()),
                    ..f
                });
        }
        let exchange = self.ctx.send(call).await;
        match (expect, &exchange.outcome) {
            (Expect::Error(code, fields), Err(status)) => {
                let got = violation_fields(status);
                let mut got_sorted = got.clone();
                got_sorted.sort();
                if status.code() != *code
                    || (*code == Code::InvalidArgument && &got_sorted != fields)
                {
                    return Err(fail(
                        expected_error(*code, fields),
                        describe(&exchange.outcome),
                    ));
                }
                Ok(())
            }
            (Expect::CommitFailed(index), Err(status)) => {
                if status.code() != Code::FailedPrecondition
                    || !names_operation(status.message(), *index)
                {
                    return Err(fail(expected_text(expect), describe(&exchange.outcome)));
                }
                Ok(())
            }
            (Expect::Error(..) | Expect::CommitFailed(_), Ok(_)) => {
                Err(fail(expected_text(expect), describe(&exchange.outcome)))
            }
            (_, Err(_)) => Err(fail("OK".into(), describe(&exchange.outcome))),
            (Expect::Empty, Ok(_)) => {
                if let Op::Delete {
                    name: LocalName::Name(segs),
                    ..
                } = op
                {
                    self.forget(&local_to_real(segs, &self.prefix));
                }
                Ok(())
            }
            (Expect::Begun, Ok(reply)) => {
                let id = match reply {
                    Reply::Begin(r) => r.transaction_id.clone(),
                    _ => String::new(),
                };
                let mut handles = lock(&self.handles);
                if id.is_empty() || handles.txns.iter().any(|(_, seen)| seen == &id) {
                    return Err(fail(
                        "a non-empty transaction id that no Begin returned before".into(),
                        describe(&exchange.outcome),
                    ));
                }
                if let Op::Begin { db } = op {
                    handles.txns.push((real_name(db, &self.prefix), id));
                }
                Ok(())
            }
            (Expect::Committed(effects), Ok(_)) => {
                self.committed(effects);
                Ok(())
            }
            (Expect::Resource(segs, field), Ok(reply)) => {
                let res = Res::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let name = local_to_real(segs, &self.prefix);
                self.check_res(
                    &res,
                    &name,
                    field,
                    matches!(op, Op::Update { .. }),
                    matches!(op, Op::Create { .. }),
                )
                .map_err(|m| {
                    let clause = m.clause.unwrap_or(clause);
                    fail(m.expected, m.actual).clause(clause)
                })
            }
            (Expect::Generated(parent, field), Ok(reply)) => {
                let res = Res::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let parent_name = local_to_real(parent, &self.prefix);
                let id = res
                    .name
                    .strip_prefix(&format!("{parent_name}/"))
                    .and_then(|r| r.split_once('/'))
                    .map(|(_, id)| id.to_owned())
                    .unwrap_or_default();
                let shape = id.len() == 20 && super::state::valid_id(&id, 2);
                if !shape || &res.field != field {
                    return Err(fail(
                        format!(
                            "a generated name {parent_name}/.../<20 id characters> with {field:?}"
                        ),
                        format!("{} with {:?}", res.name, res.field),
                    )
                    .clause("NAME-5"));
                }
                // Forget it again, so the model's state stays the target's.
                let kind = if parent.len() == 1 {
                    Kind::Collection
                } else {
                    Kind::Document
                };
                self.ctx
                    .send(kind.delete(&res.name))
                    .await
                    .ok()
                    .map_err(|f| fail(f.expected, f.actual))?;
                Ok(())
            }
            (Expect::Page(items, more), Ok(reply)) => {
                let page =
                    Page::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let want: Vec<(String, String)> = items
                    .iter()
                    .map(|(s, f)| (local_to_real(s, &self.prefix), f.clone()))
                    .collect();
                let got: Vec<(String, String)> = page
                    .items
                    .iter()
                    .map(|r| (r.name.clone(), r.field.clone()))
                    .collect();
                if want != got || *more == page.next_page_token.is_empty() {
                    return Err(fail(
                        format!(
                            "items {want:?}, {}",
                            if *more {
                                "a next_page_token"
                            } else {
                                "no next_page_token"
                            }
                        ),
                        format!("items {got:?}, next_page_token {:?}", page.next_page_token),
                    ));
                }
                for item in &page.items {
                    self.check_times(item, false, false).map_err(|m| {
                        fail(m.expected, m.actual).clause(m.clause.unwrap_or("FIELD-6"))
                    })?;
                }
                if *more {
                    lock(&self.handles).tokens.push(page.next_page_token);
                }
                Ok(())
            }
            (Expect::AllDatabases(_), Ok(_)) => Ok(()),
        }
    }

    /// Forgets what it knows of `name` and everything below it: deleted.
    fn forget(&self, name: &str) {
        let below = format!("{name}/");
        let gone = |k: &String| k == name || k.starts_with(&below);
        lock(&self.times).retain(|k, _| !gone(k));
        lock(&self.pending).retain(|k, _| !gone(k));
    }

    /// Records what a successful commit wrote, so that the next reads of
    /// those resources check their timestamps against the commit's.
    fn committed(&self, effects: &[(Vec<String>, Effect)]) {
        let number = {
            let mut commits = lock(&self.commits);
            commits.push(None);
            commits.len() - 1
        };
        for (segs, effect) in effects {
            let name = local_to_real(segs, &self.prefix);
            match effect {
                Effect::Deleted => self.forget(&name),
                Effect::Created => {
                    lock(&self.times).remove(&name);
                    lock(&self.pending).insert(name, (number, true));
                }
                Effect::Updated => {
                    let mut pending = lock(&self.pending);
                    let created = pending.get(&name) == Some(&(number, true));
                    pending.insert(name, (number, created));
                }
            }
        }
    }

    async fn check_all_databases(&self, first: &Call, want: &[(Vec<String>, String)]) -> Check {
        let Call::ListDatabases(request) = first else {
            return Ok(());
        };
        let mut got = Vec::new();
        let ours = format!("databases/{}", self.prefix);
        self.ctx
            .page_through(Kind::Database, "", request.page_size, |page| {
                got.extend(
                    page.items
                        .into_iter()
                        .filter(|r| r.name.starts_with(&ours))
                        .map(|r| (r.name, r.field)),
                );
                Ok(())
            })
            .await?;
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(s, f)| (local_to_real(s, &self.prefix), f.clone()))
            .collect();
        crate::check::eq("the sequence's databases, paged through", &want, &got)
    }

    fn check_res(
        &self,
        res: &Res,
        name: &str,
        field: &str,
        update: bool,
        create: bool,
    ) -> Result<(), Mismatch> {
        if res.name != name || res.field != field || !res.id.is_empty() {
            return Err(Mismatch {
                expected: format!("{name} with {field:?} (and an empty id)"),
                actual: format!("{} with {:?} (id {:?})", res.name, res.field, res.id),
                clause: None,
            });
        }
        self.check_times(res, update, create)
    }

    /// FIELD-6: created_at fixed, updated_at = created_at at create, never
    /// decreasing, never before created_at. And WAL-5 as a reader sees it:
    /// every resource that one commit wrote has the commit's time as
    /// updated_at (and as created_at too, if the commit created it).
    fn check_times(&self, res: &Res, update: bool, create: bool) -> Result<(), Mismatch> {
        let t = |ts: &Option<Timestamp>| ts.as_ref().map(nanos);
        let (Some(created), Some(updated)) = (t(&res.created_at), t(&res.updated_at)) else {
            return Err(Mismatch {
                expected: "created_at and updated_at set".into(),
                actual: format!(
                    "{} / {}",
                    crate::report::time::rfc3339(res.created_at.as_ref()),
                    crate::report::time::rfc3339(res.updated_at.as_ref())
                ),
                clause: None,
            });
        };
        // Written by a commit since last seen: read like an update's answer.
        let pending = lock(&self.pending).remove(&res.name);
        let mut times = lock(&self.times);
        let ok = match (times.get(&res.name), create, update || pending.is_some()) {
            (_, true, _) => created == updated,
            (Some((c, u)), _, true) => created == *c && updated >= *u && updated >= created,
            (Some((c, u)), _, false) => created == *c && updated == *u,
            (None, _, _) => updated >= created,
        };
        if !ok {
            return Err(Mismatch {
                expected: "timestamps: created_at fixed, updated_at = created_at at create, never decreasing"
                    .into(),
                actual: format!(
                    "created_at {created}, updated_at {updated}, before {:?}",
                    times.get(&res.name)
                ),
                clause: None,
            });
        }
        times.insert(res.name.clone(), (created, updated));
        drop(times);
        match pending {
            // A plain update since the commit: its time is no longer visible.
            Some((number, by_create)) if !update && !create => {
                self.check_commit_time(res, number, by_create, created, updated)
            }
            _ => Ok(()),
        }
    }

    fn check_commit_time(
        &self,
        res: &Res,
        number: usize,
        by_create: bool,
        created: i128,
        updated: i128,
    ) -> Result<(), Mismatch> {
        let mut commits = lock(&self.commits);
        let Some(slot) = commits.get_mut(number) else {
            return Ok(());
        };
        let at = *slot.get_or_insert(updated);
        if updated != at || (by_create && created != updated) {
            return Err(Mismatch {
                expected: format!(
                    "{} written by commit {number} at {at}: updated_at {at}{}",
                    res.name,
                    if by_create { " = created_at" } else { "" }
                ),
                actual: format!("created_at {created}, updated_at {updated}"),
                clause: Some("WAL-5"),
            });
        }
        Ok(())
    }
}

/// Whether `message` names operation `index` (`operation 2`, or
/// `operations[2]` as violations spell it), and not `operation 21`.
fn names_operation(message: &str, index: usize) -> bool {
    let message = message.to_lowercase();
    [format!("operation {index}"), format!("operations[{index}]")]
        .iter()
        .any(|needle| {
            message.match_indices(needle.as_str()).any(|(at, _)| {
                !message[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
}

/// The answer the model expects, in words.
fn expected_text(expect: &Expect) -> String {
    match expect {
        Expect::Error(code, fields) => expected_error(*code, fields),
        Expect::CommitFailed(index) => {
            format!("FAILED_PRECONDITION with a message naming operation {index}")
        }
        _ => "OK".into(),
    }
}

fn expected_error(code: Code, fields: &[String]) -> String {
    if fields.is_empty() {
        code_name(code).to_owned()
    } else {
        format!("{} violations=[{}]", code_name(code), fields.join(", "))
    }
}

/// The clause a transaction request checks, judged on the model after it.
fn txn_clause(model: &Model, op: &Op, expect: &Expect) -> &'static str {
    let (db, txn) = match op {
        Op::Execute { db, txn, .. } | Op::Commit { db, txn } | Op::Rollback { db, txn } => {
            (db, *txn)
        }
        _ if expect.is_error() => return "TXN-BEGIN-2",
        _ => return "TXN-BEGIN-1",
    };
    // Finished in its own database, or unknown there.
    let ended = model
        .txn(txn)
        .filter(|t| *db == LocalName::Name(vec![t.db.clone()]))
        .map(|t| t.state);
    match (op, expect) {
        (_, Expect::Error(Code::NotFound, _)) => match ended {
            Some(TxState::Committed) => "TXN-COMMIT-3",
            Some(TxState::RolledBack) => "TXN-ROLLBACK-1",
            _ => "TXN-UNKNOWN-1",
        },
        (Op::Execute { .. }, Expect::Error(_, fields))
            if fields.iter().any(|f| f.starts_with("operations[")) =>
        {
            "TXN-EXEC-2"
        }
        (_, Expect::Error(..)) => "ERR-3",
        (Op::Execute { .. }, _) => "TXN-EXEC-2",
        (_, Expect::CommitFailed(_)) => "TXN-COMMIT-2",
        (Op::Commit { .. }, _) => "TXN-COMMIT-1",
        _ => "TXN-ROLLBACK-1",
    }
}

/// The clause a comparison checks; `model` is the state after the request.
fn clause_of(model: &Model, op: &Op, expect: &Expect) -> &'static str {
    let family = |k: &K| match k {
        K::Db => 0,
        K::Coll => 1,
        K::Doc => 2,
    };
    let pick = |k: &K, c: [&'static str; 3]| c[family(k)];
    match (op, expect) {
        (Op::Begin { .. } | Op::Execute { .. } | Op::Commit { .. } | Op::Rollback { .. }, _) => {
            txn_clause(model, op, expect)
        }
        (_, Expect::Error(Code::InvalidArgument, _)) => "ERR-3",
        (Op::Create { kind, .. }, Expect::Error(Code::AlreadyExists, _)) => {
            pick(kind, ["DB-CREATE-2", "COLL-CREATE-2", "DOC-CREATE-5"])
        }
        (Op::Create { kind, .. }, _) => {
            pick(kind, ["DB-CREATE-1", "COLL-CREATE-1", "DOC-CREATE-1"])
        }
        (Op::Get { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-GET-2", "COLL-GET-2", "DOC-GET-2"])
        }
        (Op::Get { kind, .. }, _) => pick(kind, ["DB-GET-1", "COLL-GET-1", "DOC-GET-1"]),
        (Op::Update { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-UPDATE-2", "COLL-UPDATE-2", "DOC-UPDATE-2"])
        }
        (Op::Update { kind, .. }, _) => {
            pick(kind, ["DB-UPDATE-1", "COLL-UPDATE-1", "DOC-UPDATE-1"])
        }
        (Op::Delete { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-DELETE-2", "COLL-DELETE-2", "DOC-DELETE-2"])
        }
        (Op::Delete { kind, .. }, _) => {
            pick(kind, ["DB-DELETE-1", "COLL-DELETE-1", "DOC-DELETE-1"])
        }
        (Op::List { .. }, Expect::Error(..)) => "LIST-10",
        (Op::List { size: 0, .. }, _) => "LIST-2",
        (
            Op::List {
                token: Tok::Issued(_),
                ..
            },
            _,
        ) => "LIST-5",
        (Op::List { .. }, _) => "LIST-3",
    }
}
