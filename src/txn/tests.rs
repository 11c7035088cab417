//! Transaction lifecycle, bounds and expiry, with a hand-driven clock.

use super::*;
use crate::{clock::ManualClock, config::WalConfig, store::Store};

struct Fixture {
    store: Arc<Store>,
    clock: Arc<ManualClock>,
    txns: Transactions,
}

fn fixture(limits: Limits) -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp::from_nanos(1_000_000_000)));
    let replica = Arc::new(Replica::memory(&WalConfig::default(), clock.clone()));
    let store = replica.store().clone();
    for db in ["a", "b"] {
        let op = Op::CreateDatabase {
            id: Some(db.into()),
            display_name: db.into(),
        };
        tokio_test::block_on(replica.write(op, None)).unwrap();
    }
    let txns = Transactions::new(replica, clock.clone(), limits);
    Fixture { store, clock, txns }
}

fn db(id: &str) -> DatabaseName {
    DatabaseName {
        database: id.into(),
    }
}

fn create_coll(id: &str) -> Op {
    Op::CreateCollection {
        parent: db("a"),
        id: Some(id.into()),
        description: String::new(),
    }
}

fn commit(f: &Fixture, id: &str) -> Result<()> {
    tokio_test::block_on(f.txns.commit(&db("a"), id, None))
}

#[test]
fn nothing_is_visible_before_commit_and_everything_after() {
    let f = fixture(Limits::default());
    let id = f.txns.begin(&db("a")).unwrap();
    f.txns
        .execute(&db("a"), &id, vec![create_coll("c1"), create_coll("c2")])
        .unwrap();
    assert!(f.store.get_collection(&db("a").collection("c1")).is_err());
    let entries_before = f.store.applied().map_or(0, |p| p.index);
    commit(&f, &id).unwrap();
    assert!(f.store.get_collection(&db("a").collection("c2")).is_ok());
    let entries_after = f.store.applied().map_or(0, |p| p.index);
    assert_eq!(
        entries_after,
        entries_before + 1,
        "one log entry per commit"
    );
}

#[test]
fn a_failing_operation_rolls_back_all_and_names_its_index() {
    let f = fixture(Limits::default());
    let state = |store: &Store| {
        let snapshot = store.snapshot();
        (snapshot.tree, snapshot.history)
    };
    let before = state(&f.store);
    let id = f.txns.begin(&db("a")).unwrap();
    let missing = Op::DeleteCollection {
        name: db("a").collection("nope"),
    };
    f.txns
        .execute(
            &db("a"),
            &id,
            vec![create_coll("c1"), missing, create_coll("c2")],
        )
        .unwrap();
    let err = commit(&f, &id).unwrap_err();
    let Error::FailedPrecondition(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("operation 1"), "{message}");
    assert!(
        message.contains("databases/a/collections/nope not found"),
        "{message}"
    );
    assert_eq!(state(&f.store), before);
    // The transaction ended with the failed commit.
    assert!(matches!(commit(&f, &id), Err(Error::NotFound(_))));
}

#[test]
fn finished_unknown_and_other_database_ids_are_not_found() {
    let f = fixture(Limits::default());
    let id = f.txns.begin(&db("a")).unwrap();
    assert!(matches!(
        f.txns.rollback(&db("b"), &id),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        f.txns.execute(&db("a"), "nope", vec![]),
        Err(Error::NotFound(_))
    ));
    f.txns.rollback(&db("a"), &id).unwrap();
    assert!(matches!(commit(&f, &id), Err(Error::NotFound(_))));
    assert!(matches!(
        f.txns.rollback(&db("a"), &id),
        Err(Error::NotFound(_))
    ));
    let done = f.txns.begin(&db("a")).unwrap();
    commit(&f, &done).unwrap();
    assert!(matches!(commit(&f, &done), Err(Error::NotFound(_))));
}

#[test]
fn begin_needs_an_existing_database() {
    let f = fixture(Limits::default());
    assert_eq!(
        f.txns.begin(&db("nope")).unwrap_err(),
        Error::NotFound("databases/nope".into())
    );
}

#[test]
fn transactions_expire_after_the_ttl_and_are_reclaimed() {
    let limits = Limits {
        ttl: Duration::from_secs(60),
        ..Limits::default()
    };
    let f = fixture(limits);
    let old = f.txns.begin(&db("a")).unwrap();
    f.clock.advance(Duration::from_secs(30));
    let young = f.txns.begin(&db("a")).unwrap();
    f.clock.advance(Duration::from_secs(30));
    assert!(matches!(
        f.txns.execute(&db("a"), &old, vec![]),
        Err(Error::NotFound(_))
    ));
    assert_eq!(f.txns.open_count(), 1, "the expired one was reclaimed");
    f.txns
        .execute(&db("a"), &young, vec![create_coll("c")])
        .unwrap();
    commit(&f, &young).unwrap();
    assert_eq!(f.txns.open_count(), 0);
}

#[test]
fn operation_and_open_transaction_bounds() {
    let limits = Limits {
        max_operations: 2,
        max_open: 2,
        ..Limits::default()
    };
    let f = fixture(limits);
    let id = f.txns.begin(&db("a")).unwrap();
    f.txns
        .execute(&db("a"), &id, vec![create_coll("c1")])
        .unwrap();
    let err = f
        .txns
        .execute(&db("a"), &id, vec![create_coll("c2"), create_coll("c3")])
        .unwrap_err();
    assert!(matches!(err, Error::ResourceExhausted(_)), "{err:?}");
    // Still open, with its first operation only.
    f.txns
        .execute(&db("a"), &id, vec![create_coll("c2")])
        .unwrap();
    f.txns.begin(&db("a")).unwrap();
    assert!(matches!(
        f.txns.begin(&db("a")),
        Err(Error::ResourceExhausted(_))
    ));
    commit(&f, &id).unwrap();
    assert!(f.store.get_collection(&db("a").collection("c2")).is_ok());
    f.txns.begin(&db("a")).unwrap();
}

#[test]
fn ids_are_long_random_and_distinct() {
    let f = fixture(Limits::default());
    let a = f.txns.begin(&db("a")).unwrap();
    let b = f.txns.begin(&db("a")).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}
