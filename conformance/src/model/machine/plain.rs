//! The plain half of the generator: Create, Get, Update, Delete and List
//! requests in local terms, drawn from what the model holds.
//!
//! Names are mostly existing ones, so that requests succeed and build a
//! tree deep enough to page through; a share of ids, names, fields, masks,
//! page sizes and tokens is invalid on purpose. Valid choices come first in
//! every list so proptest shrinks towards them.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::model::{
    state::{self, CHILD_IDS, DB_IDS, K, LocalName, MALFORMED, Mask, Model, Op, Tok},
    txn::Txn,
};

pub(super) fn kind_of(i: usize) -> K {
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
        .filter(|i| state::valid_id(i, depth))
        .cloned()
        .collect::<Vec<_>>();
    prop_oneof![15 => proptest::sample::select(valid), 1 => proptest::sample::select(ids)].boxed()
}

/// Names of depth `depth`: mostly existing ones, some random, a few malformed.
///
/// "Existing" includes the names that the sequence's transactions write:
/// reading them shows whether a buffered write leaked before Commit, or a
/// failed commit left part of itself behind.
pub(super) fn any_name(model: &Model, depth: usize) -> BoxedStrategy<LocalName> {
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

pub(super) fn collect(
    level: &BTreeMap<String, state::Node>,
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

pub(super) fn op_for(model: &Model, kind: K, verb: usize) -> BoxedStrategy<Op> {
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
