//! The transaction rules on small stories: what a commit changes (in
//! order) or, failing, leaves alone; which values each entity type takes;
//! and which requests a deleted database leaves undefined.

use tonic::Code;

use super::*;

fn name(segs: &[&str]) -> LocalName {
    LocalName::Name(segs.iter().map(|s| (*s).to_owned()).collect())
}

fn op(verb: Verb, kind: K, segs: &[&str], value: &str) -> TxOp {
    TxOp {
        verb: Some(verb),
        kind: Some(kind),
        name: name(segs),
        value: value.into(),
    }
}

fn get(kind: K, segs: &[&str]) -> Op {
    Op::Get {
        kind,
        name: name(segs),
    }
}

/// A database `a` with collection `x` holding document `d`.
fn fixture() -> Model {
    let mut m = Model::default();
    for op in [
        Op::Create {
            kind: K::Db,
            parent: name(&[]),
            id: "a".into(),
            body_id: String::new(),
            field: "A".into(),
        },
        Op::Create {
            kind: K::Coll,
            parent: name(&["a"]),
            id: "x".into(),
            body_id: String::new(),
            field: String::new(),
        },
        Op::Create {
            kind: K::Doc,
            parent: name(&["a", "x"]),
            id: "d".into(),
            body_id: String::new(),
            field: "{}".into(),
        },
    ] {
        m.step(&op);
    }
    m
}

#[test]
fn a_commit_is_all_or_nothing_and_names_the_failing_operation() {
    let mut m = fixture();
    let a = name(&["a"]);
    assert_eq!(m.step(&Op::Begin { db: a.clone() }), Expect::Begun);
    let txn = Tx::Recent(0);
    let ops = vec![
        op(Verb::Create, K::Coll, &["a", "y"], "{}"),
        op(Verb::Update, K::Doc, &["a", "x", "d"], "{\"v\":1}"),
    ];
    let execute = |ops| Op::Execute {
        db: a.clone(),
        txn,
        ops,
    };
    assert_eq!(m.step(&execute(ops)), Expect::Empty);
    // Nothing is visible before Commit.
    assert_eq!(
        m.step(&get(K::Coll, &["a", "y"])),
        Expect::Error(Code::NotFound, vec![])
    );
    // A malformed operation is refused at once; the transaction stays open.
    let bad = vec![
        op(Verb::Delete, K::Doc, &["a", "x", "d"], "{}"),
        op(Verb::Create, K::Doc, &["b", "x", "d"], "{}"),
    ];
    assert_eq!(
        m.step(&execute(bad)),
        Expect::Error(
            Code::InvalidArgument,
            vec!["operations[0].value".into(), "operations[1].name".into()]
        )
    );
    // Operation 2 (across Executes) meets an existing document.
    let clash = vec![op(Verb::Create, K::Doc, &["a", "x", "d"], "{}")];
    assert_eq!(m.step(&execute(clash)), Expect::Empty);
    let before = m.root.clone();
    assert_eq!(
        m.step(&Op::Commit { db: a.clone(), txn }),
        Expect::CommitFailed(2)
    );
    assert_eq!(m.root, before);
    assert_eq!(
        m.step(&Op::Rollback { db: a, txn }),
        Expect::Error(Code::NotFound, vec![])
    );
}

#[test]
fn a_commit_applies_in_order_and_reports_what_it_wrote() {
    let mut m = fixture();
    let a = name(&["a"]);
    m.step(&Op::Begin { db: a.clone() });
    let ops = vec![
        op(
            Verb::Create,
            K::Coll,
            &["a", "y"],
            "{\"description\": \"d\"}",
        ),
        op(Verb::Create, K::Doc, &["a", "y", "z"], "{\"n\": 1}"),
        op(Verb::Delete, K::Coll, &["a", "x"], ""),
        op(Verb::Update, K::Db, &["a"], "{\"display_name\": \"B\"}"),
    ];
    let txn = Tx::Recent(0);
    m.step(&Op::Execute {
        db: a.clone(),
        txn,
        ops,
    });
    let Expect::Committed(effects) = m.step(&Op::Commit { db: a, txn }) else {
        panic!("the commit must succeed")
    };
    assert_eq!(effects.len(), 4);
    assert_eq!(
        m.step(&get(K::Doc, &["a", "y", "z"])),
        Expect::Resource(
            vec!["a".into(), "y".into(), "z".into()],
            "{\"n\": 1}".into()
        )
    );
    assert_eq!(
        m.step(&get(K::Db, &["a"])),
        Expect::Resource(vec!["a".into()], "B".into())
    );
    assert!(m.node(&["a".into(), "x".into()]).is_none());
}

#[test]
fn values_follow_the_entity_type() {
    assert_eq!(
        op_field(K::Db, Verb::Create, "{\"display_name\": \"Zoë\"}"),
        Some("Zoë".into())
    );
    assert_eq!(op_field(K::Db, Verb::Create, "{}"), None);
    assert_eq!(op_field(K::Coll, Verb::Update, "{}"), Some(String::new()));
    assert_eq!(
        op_field(K::Coll, Verb::Create, "{\"description\": \"d\", \"x\": 1}"),
        None
    );
    assert_eq!(op_field(K::Doc, Verb::Create, "[]"), None);
    assert_eq!(op_field(K::Doc, Verb::Delete, ""), Some(String::new()));
    assert_eq!(op_field(K::Doc, Verb::Delete, "{}"), None);
}

#[test]
fn a_deleted_database_leaves_its_transactions_undefined() {
    let mut m = fixture();
    let a = name(&["a"]);
    m.step(&Op::Begin { db: a.clone() });
    m.step(&Op::Delete {
        kind: K::Db,
        name: a.clone(),
    });
    let commit = Op::Commit {
        db: a,
        txn: Tx::Recent(0),
    };
    assert!(!m.defined(&commit));
    let elsewhere = Op::Commit {
        db: name(&["b"]),
        txn: Tx::Recent(0),
    };
    assert!(m.defined(&elsewhere));
}
