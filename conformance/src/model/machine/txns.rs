//! The transaction half of the generator: Begin, Execute, Commit and
//! Rollback requests, weighted by what they can do in the current state.
//!
//! Most requests name an open transaction with its own database, and most
//! operations are valid and likely to apply (an update names an existing
//! resource, a create a new child of an existing parent), so that commits
//! succeed often enough to be observed. The rest are there on purpose:
//! operations with one fault each (Execute must refuse them), operations
//! that collide or miss (Commit must fail, naming the index, and change
//! nothing), finished, unknown, empty and other databases' ids (NOT_FOUND
//! or INVALID_ARGUMENT). Requests the spec leaves open are never generated
//! ([`Model::defined`]).

use proptest::prelude::*;

use super::{
    Focus,
    plain::{any_name, collect},
};
use crate::model::{
    state::{CHILD_IDS, DB_IDS, K, LocalName, MALFORMED, Model, Op, valid_id},
    txn::{Tx, TxOp, TxState, Txn, Verb},
};

/// At most this many transactions open at once: enough to interleave two
/// or three, few enough that each is likely to be committed.
const MAX_OPEN: usize = 3;

/// Begin: mostly on an existing database.
fn begin(model: &Model) -> BoxedStrategy<Op> {
    any_name(model, 1).prop_map(|db| Op::Begin { db }).boxed()
}

/// The `(database_name, transaction)` of an Execute, Commit or Rollback:
/// mostly an open transaction with its own database (the more operations it
/// holds, the likelier); sometimes a finished one, one named with another
/// database, an unknown or an empty id.
fn txn_ref(model: &Model) -> BoxedStrategy<(LocalName, Tx)> {
    let own = |state: fn(TxState) -> bool| -> Vec<(LocalName, Tx)> {
        model
            .txns
            .iter()
            .enumerate()
            .filter(|(_, t)| state(t.state))
            .flat_map(|(k, t)| {
                let back = model.txns.len() - 1 - k;
                let entry = (LocalName::Name(vec![t.db.clone()]), Tx::Recent(back));
                std::iter::repeat_n(entry, 1 + 2 * t.ops.len())
            })
            .collect()
    };
    let open = own(|s| s == TxState::Open);
    let finished = own(|s| matches!(s, TxState::Committed | TxState::RolledBack));
    let mut choices = vec![
        (1, (any_name(model, 1), Just(Tx::Unknown)).boxed()),
        (1, (any_name(model, 1), Just(Tx::Empty)).boxed()),
    ];
    if !open.is_empty() {
        choices.push((16, proptest::sample::select(open).boxed()));
    }
    if !finished.is_empty() {
        choices.push((3, proptest::sample::select(finished).boxed()));
    }
    if !model.txns.is_empty() {
        let any = (any_name(model, 1), 0..model.txns.len()).prop_map(|(db, n)| (db, Tx::Recent(n)));
        choices.push((2, any.boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// Execute: one or two operations inside the request's [home](Model::home)
/// database; none when it has no home (see [`Model::defined`]).
fn execute(model: &Model) -> BoxedStrategy<Op> {
    let model = model.clone();
    txn_ref(&model)
        .prop_flat_map(move |(db, txn)| {
            let ops = match model.home(&db, txn) {
                Some(home) => prop_oneof![
                    1 => Just(Vec::new()),
                    8 => proptest::collection::vec(tx_op(&model, &home), 1..=2),
                ]
                .boxed(),
                None => Just(Vec::new()).boxed(),
            };
            (Just(db), Just(txn), ops)
        })
        .prop_map(|(db, txn, ops)| Op::Execute { db, txn, ops })
        .boxed()
}

/// What is wrong with a generated operation: at most one thing, because
/// with an enum unspecified the spec does not say whether the other fields
/// are still judged (see [`TxOp`]'s check in the model).
#[derive(Clone, Debug)]
enum Fault {
    None,
    NoVerb,
    NoKind,
    Value,
    /// A name in another database.
    Foreign(String),
    /// A name of the parent (or, for a database, the child) entity type.
    Depth,
    Malformed(usize),
}

impl Fault {
    fn apply(self, op: TxOp, bad_value: String) -> TxOp {
        let segs = match &op.name {
            LocalName::Name(segs) => segs.clone(),
            LocalName::Malformed(_) => Vec::new(),
        };
        let name = |segs: Vec<String>| LocalName::Name(segs);
        match self {
            Fault::None => op,
            Fault::NoVerb => TxOp { verb: None, ..op },
            Fault::NoKind => TxOp { kind: None, ..op },
            Fault::Value => TxOp {
                value: bad_value,
                ..op
            },
            Fault::Foreign(db) => TxOp {
                name: name([vec![db], segs[1.min(segs.len())..].to_vec()].concat()),
                ..op
            },
            Fault::Depth if segs.len() > 1 => TxOp {
                name: name(segs[..segs.len() - 1].to_vec()),
                ..op
            },
            Fault::Depth => TxOp {
                name: name([segs, vec!["x".to_owned()]].concat()),
                ..op
            },
            Fault::Malformed(i) => TxOp {
                name: LocalName::Malformed(i),
                ..op
            },
        }
    }
}

/// The valid ids at `depth`.
fn valid_ids(depth: usize) -> Vec<String> {
    if depth == 1 { DB_IDS } else { CHILD_IDS }
        .iter()
        .filter(|id| valid_id(id, depth))
        .map(|id| (*id).to_owned())
        .collect()
}

/// The names of depth `depth` inside database `db`: existing ones, and with
/// `buffered` also those that open transactions write.
fn inside(model: &Model, db: &str, depth: usize, buffered: bool) -> Vec<Vec<String>> {
    let mut names = Vec::new();
    collect(&model.root, &mut Vec::new(), depth, &mut names);
    if buffered {
        let open = model.txns.iter().filter(|t| t.state == TxState::Open);
        names.extend(open.flat_map(Txn::written));
    }
    names.retain(|segs| segs.len() == depth && segs[0] == db);
    names
}

/// Names of depth `depth` inside database `db`, all valid, likely to make
/// the operation succeed: a create mostly names a new child of an existing
/// parent (or of one that a transaction creates), an update or delete
/// mostly an existing resource. The rest are buffered or random names,
/// which collide or miss, so that some commits fail.
fn op_name(model: &Model, db: &str, depth: usize, verb: Verb) -> BoxedStrategy<LocalName> {
    let inside = |depth: usize, buffered: bool| inside(model, db, depth, buffered);
    let select =
        |names: Vec<Vec<String>>| proptest::sample::select(names).prop_map(LocalName::Name);
    let random = (2..=depth)
        .map(|d| proptest::sample::select(valid_ids(d)))
        .collect::<Vec<_>>()
        .prop_map({
            let db = db.to_owned();
            move |ids| LocalName::Name([vec![db.clone()], ids].concat())
        });
    let mut choices = vec![(1, random.boxed())];
    let (existing, buffered) = (inside(depth, false), inside(depth, true));
    let create = verb == Verb::Create;
    if !existing.is_empty() {
        choices.push((if create { 1 } else { 8 }, select(existing).boxed()));
    }
    if !buffered.is_empty() {
        choices.push((2, select(buffered).boxed()));
    }
    let parents = if depth > 1 {
        inside(depth - 1, true)
    } else {
        Vec::new()
    };
    if create && !parents.is_empty() {
        let child = (
            proptest::sample::select(parents),
            proptest::sample::select(valid_ids(depth)),
        )
            .prop_map(|(parent, id)| LocalName::Name([parent, vec![id]].concat()));
        choices.push((8, child.boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// Valid and invalid `Operation.value`s for an entity type and mutation.
fn op_values(kind: K, verb: Verb) -> (Vec<String>, Vec<String>) {
    let object = |key: &str, value: &str| {
        format!(
            "{{\"{key}\": {}}}",
            serde_json::to_string(value).unwrap_or_default()
        )
    };
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match (kind, verb) {
        (_, Verb::Delete) => (strings(&[""]), strings(&["{}"])),
        (K::Doc, _) => (
            strings(&["{}", "{\"a\":1}", " {\"b\": [true, null]} "]),
            strings(&["[]", "{", ""]),
        ),
        (K::Db, _) => (
            ["A", "B", "Zoë"]
                .iter()
                .map(|n| object("display_name", n))
                .collect(),
            vec![
                object("display_name", ""),
                "{}".into(),
                "{\"display_name\": \"A\", \"colour\": \"red\"}".into(),
                "\"A\"".into(),
                "[\"A\"]".into(),
            ],
        ),
        (K::Coll, _) => (
            vec![
                "{}".into(),
                object("description", "d"),
                object("description", "e"),
            ],
            // `[]`: serde would read a struct from a sequence, a bug this
            // model found in the reference worker.
            vec![
                object("description", &"d".repeat(1025)),
                "{\"colour\": \"red\"}".into(),
                "\"d\"".into(),
                "[]".into(),
            ],
        ),
    }
}

/// One operation inside `db`: mostly valid, or with exactly one [`Fault`].
/// Documents and creates are likelier, and updates and deletes where there
/// is something to update or delete; a database create meets its own
/// database (ALREADY_EXISTS) unless the transaction deleted it before.
fn tx_op(model: &Model, db: &str) -> BoxedStrategy<TxOp> {
    let mut combos = Vec::new();
    for (kind, kw) in [(K::Db, 1), (K::Coll, 3), (K::Doc, 5)] {
        let depth = kind.depth();
        let verbs = if kind == K::Db { [1, 3, 1] } else { [4, 3, 2] };
        for (verb, vw) in [Verb::Create, Verb::Update, Verb::Delete]
            .into_iter()
            .zip(verbs)
        {
            let targets = match verb {
                Verb::Create if depth == 1 => 1,
                Verb::Create => inside(model, db, depth - 1, true).len(),
                _ => inside(model, db, depth, true).len(),
            };
            let weight = if targets == 0 { 1 } else { kw * vw };
            let (good, bad) = op_values(kind, verb);
            let combo = (
                op_name(model, db, kind.depth(), verb),
                proptest::sample::select(good),
                proptest::sample::select(bad),
            )
                .prop_map(move |(name, value, bad)| {
                    let op = TxOp {
                        verb: Some(verb),
                        kind: Some(kind),
                        name,
                        value,
                    };
                    (op, bad)
                });
            combos.push((weight, combo.boxed()));
        }
    }
    let others: Vec<String> = valid_ids(1).into_iter().filter(|id| id != db).collect();
    let fault = prop_oneof![
        40 => Just(Fault::None),
        1 => Just(Fault::NoVerb),
        1 => Just(Fault::NoKind),
        2 => Just(Fault::Value),
        1 => proptest::sample::select(others).prop_map(Fault::Foreign),
        1 => Just(Fault::Depth),
        1 => (0..MALFORMED.len()).prop_map(Fault::Malformed),
    ];
    (proptest::strategy::Union::new_weighted(combos), fault)
        .prop_map(|((op, bad), fault)| fault.apply(op, bad))
        .boxed()
}

/// The transaction requests of a focus, weighted by what they can do now:
/// Begin less the more are open, never once [`MAX_OPEN`] are, and rarely
/// without a database; Execute rarely without an open transaction, Commit and
/// Rollback rarely while no open one holds operations (so that most
/// commits have something to apply).
pub(super) fn txn_choices<F: Focus>(model: &Model) -> Vec<(u32, BoxedStrategy<Op>)> {
    let open: Vec<&Txn> = model
        .txns
        .iter()
        .filter(|t| t.state == TxState::Open)
        .collect();
    let loaded = open.iter().any(|t| !t.ops.is_empty());
    let [b, e, c, r] = F::TXNS;
    let rare = |w: u32, unless: bool| if unless { w } else { w.min(1) };
    let mut choices = Vec::new();
    if b > 0 && open.len() < MAX_OPEN {
        let b = (b / (1 + open.len() as u32)).max(1);
        choices.push((rare(b, !model.root.is_empty()), begin(model)));
    }
    if e > 0 {
        choices.push((rare(e, !open.is_empty()), execute(model)));
    }
    let end = |commit: bool| {
        txn_ref(model)
            .prop_map(move |(db, txn)| {
                if commit {
                    Op::Commit { db, txn }
                } else {
                    Op::Rollback { db, txn }
                }
            })
            .boxed()
    };
    if c > 0 {
        choices.push((rare(c, loaded), end(true)));
    }
    if r > 0 {
        choices.push((rare(r, loaded), end(false)));
    }
    choices
}

#[cfg(test)]
mod tests {
    use proptest::{
        strategy::ValueTree,
        test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
    };
    use proptest_state_machine::ReferenceStateMachine;
    use tonic::Code;

    use super::*;
    use crate::model::{TXN_SEQUENCES, TXN_STEPS, Transactions, machine::Machine, state::Expect};

    /// What a run of `model-transactions` of the default size exercises,
    /// counted on the model alone (seed 0x5eed, as `cargo test` uses).
    #[derive(Debug, Default)]
    struct Seen {
        begun: usize,
        buffered: usize,
        refused_ops: usize,
        commits: usize,
        failed_commits: usize,
        failed_late: usize,
        rollbacks: usize,
        ended_not_found: usize,
        unknown_not_found: usize,
        reads_of_buffered: usize,
        reads_after_failed: usize,
    }

    #[test]
    fn the_transaction_focus_is_not_vacuous() {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&0x5eed_u64.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let strategy = Machine::<Transactions>::sequential_strategy(1..TXN_STEPS);
        let mut seen = Seen::default();
        for _ in 0..TXN_SEQUENCES {
            let Ok(tree) = strategy.new_tree(&mut runner) else {
                panic!("no sequence")
            };
            let (mut model, ops, _) = tree.current();
            let mut failed: Vec<Vec<String>> = Vec::new();
            for op in &ops {
                let buffered: Vec<Vec<String>> = model
                    .txns
                    .iter()
                    .filter(|t| t.state == TxState::Open)
                    .flat_map(Txn::written)
                    .collect();
                let before = model.clone();
                let expect = model.step(op);
                let read = match op {
                    Op::Get {
                        name: LocalName::Name(segs),
                        ..
                    } => Some(segs.clone()),
                    _ => None,
                };
                if let Some(segs) = read {
                    seen.reads_of_buffered += buffered.contains(&segs) as usize;
                    seen.reads_after_failed += failed.contains(&segs) as usize;
                }
                match (op, &expect) {
                    (Op::Begin { .. }, Expect::Begun) => seen.begun += 1,
                    (Op::Execute { ops, .. }, Expect::Empty) if !ops.is_empty() => {
                        seen.buffered += 1
                    }
                    (Op::Execute { .. }, Expect::Error(Code::InvalidArgument, f))
                        if f.iter().any(|f| f.starts_with("operations[")) =>
                    {
                        seen.refused_ops += 1
                    }
                    (Op::Commit { .. }, Expect::Committed(e)) if !e.is_empty() => seen.commits += 1,
                    (Op::Commit { txn, .. }, Expect::CommitFailed(i)) => {
                        seen.failed_commits += 1;
                        seen.failed_late += (*i > 0) as usize;
                        failed.extend(before.txn(*txn).into_iter().flat_map(Txn::written));
                    }
                    (Op::Rollback { .. }, Expect::Empty) => seen.rollbacks += 1,
                    (_, Expect::Error(Code::NotFound, _)) => match op {
                        Op::Execute { txn, .. }
                        | Op::Commit { txn, .. }
                        | Op::Rollback { txn, .. } => {
                            if matches!(txn, Tx::Recent(_)) {
                                seen.ended_not_found += 1
                            } else {
                                seen.unknown_not_found += 1
                            }
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        eprintln!("{seen:#?}");
        let at_least = |n: usize, min: usize, what: &str| {
            assert!(n >= min, "only {n} {what} (want {min}): {seen:?}")
        };
        at_least(seen.begun, 20, "begins");
        at_least(seen.buffered, 20, "executes");
        at_least(seen.refused_ops, 5, "refused operations");
        at_least(seen.commits, 5, "commits that wrote");
        at_least(seen.failed_commits, 5, "failed commits");
        at_least(seen.failed_late, 3, "failed commits after a good operation");
        at_least(seen.rollbacks, 3, "rollbacks");
        at_least(seen.ended_not_found, 5, "requests on finished transactions");
        at_least(
            seen.unknown_not_found,
            5,
            "requests on unknown transactions",
        );
        at_least(seen.reads_of_buffered, 5, "reads of buffered names");
        at_least(seen.reads_after_failed, 3, "reads after a failed commit");
    }
}
