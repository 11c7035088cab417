//! Store tests: the lessons of the state machine, one per test.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use super::*;
use crate::clock::ManualClock;

fn store() -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_nanos(1_000)));
    (Store::with_seed(clock.clone(), Wal::memory(), 42), clock)
}

fn db(id: &str) -> DatabaseName {
    DatabaseName {
        database: id.into(),
    }
}

fn create_db(id: &str) -> Op {
    Op::CreateDatabase {
        id: Some(id.into()),
        display_name: id.to_uppercase(),
    }
}

fn create_coll(database: &str, id: &str) -> Op {
    Op::CreateCollection {
        parent: db(database),
        id: Some(id.into()),
        description: String::new(),
    }
}

fn create_doc(database: &str, collection: &str, id: &str, value: &str) -> Op {
    Op::CreateDocument {
        parent: db(database).collection(collection),
        id: Some(id.into()),
        value: value.into(),
    }
}

fn write(store: &Store, op: Op) -> Result<Arc<Record>> {
    tokio_test::block_on(store.write(op))
}

#[test]
fn a_write_is_one_record_with_the_row_after_it() {
    let (store, _) = store();
    let record = write(&store, create_db("a")).unwrap();
    assert_eq!(record.lsn, 1);
    assert_eq!(record.entries.len(), 1);
    let Change::Database(name, Some(row)) = &record.entries[0].change else {
        panic!("{record:?}");
    };
    assert_eq!((name, row.display_name.as_str()), (&db("a"), "A"));
    assert_eq!(row.created_at, row.updated_at);
    assert_eq!(store.get_database(&db("a")).unwrap(), *row);
}

#[test]
fn create_refuses_a_taken_name_and_leaves_the_resource_alone() {
    let (store, _) = store();
    write(&store, create_db("a")).unwrap();
    let again = Op::CreateDatabase {
        id: Some("a".into()),
        display_name: "other".into(),
    };
    assert_eq!(
        write(&store, again).unwrap_err(),
        Error::AlreadyExists("databases/a".into())
    );
    assert_eq!(store.get_database(&db("a")).unwrap().display_name, "A");
    assert_eq!(store.last_lsn(), 1, "a failed write appends no record");
}

#[test]
fn children_need_their_parent() {
    let (store, _) = store();
    assert_eq!(
        write(&store, create_coll("nope", "c")).unwrap_err(),
        Error::NotFound("databases/nope".into())
    );
    write(&store, create_db("a")).unwrap();
    assert_eq!(
        write(&store, create_doc("a", "c", "d", "{}")).unwrap_err(),
        Error::NotFound("databases/a/collections/c".into())
    );
}

#[test]
fn timestamps_never_go_backwards_even_when_the_clock_does() {
    let (store, clock) = store();
    write(&store, create_db("a")).unwrap();
    clock.set(Timestamp::from_nanos(10));
    let update = Op::UpdateDatabase {
        name: db("a"),
        display_name: "B".into(),
    };
    write(&store, update).unwrap();
    let row = store.get_database(&db("a")).unwrap();
    assert_eq!(row.created_at, Timestamp::from_nanos(1_000));
    assert!(row.updated_at > row.created_at, "{row:?}");
}

#[test]
fn generated_ids_are_valid_and_distinct() {
    let (store, _) = store();
    let mut names = BTreeSet::new();
    for _ in 0..50 {
        let op = Op::CreateDatabase {
            id: None,
            display_name: "x".into(),
        };
        let record = write(&store, op).unwrap();
        let name = record.entries[0].change.name();
        crate::names::DatabaseName::parse(&name, "name").unwrap();
        names.insert(name);
    }
    assert_eq!(names.len(), 50);
}

#[test]
fn deleting_a_database_lists_every_child_before_its_parent() {
    let (store, _) = store();
    write(&store, create_db("a")).unwrap();
    write(&store, create_coll("a", "c1")).unwrap();
    write(&store, create_coll("a", "c2")).unwrap();
    write(&store, create_doc("a", "c1", "d1", "{}")).unwrap();
    write(&store, create_doc("a", "c1", "d2", "{}")).unwrap();
    let record = write(&store, Op::DeleteDatabase { name: db("a") }).unwrap();
    let names: Vec<String> = record.entries.iter().map(|e| e.change.name()).collect();
    assert_eq!(
        names,
        [
            "databases/a/collections/c1/documents/d1",
            "databases/a/collections/c1/documents/d2",
            "databases/a/collections/c1",
            "databases/a/collections/c2",
            "databases/a",
        ]
    );
    assert!(
        record
            .entries
            .iter()
            .all(|e| e.mutation == Mutation::Delete)
    );
    // Re-created, it starts empty.
    write(&store, create_db("a")).unwrap();
    assert!(
        store
            .list_collections(&db("a"), None, 10)
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn a_failing_batch_leaves_nothing_behind() {
    let (store, _) = store();
    write(&store, create_db("a")).unwrap();
    let before = store.snapshot();
    let batch = [
        create_coll("a", "c"),
        create_doc("a", "c", "d", "{}"),
        create_doc("a", "c", "d", "{}"), // the same id again: fails
    ];
    let failed = tokio_test::block_on(store.commit(&batch)).unwrap_err();
    assert_eq!(failed.index, 2);
    assert!(matches!(failed.error, Error::AlreadyExists(_)));
    assert_eq!(store.snapshot(), before);
}

#[test]
fn a_batch_may_use_what_it_created_and_delete_it_again() {
    let (store, _) = store();
    write(&store, create_db("a")).unwrap();
    let batch = [
        create_coll("a", "c"),
        create_doc("a", "c", "d", "{}"),
        Op::DeleteDocument {
            name: db("a").collection("c").document("d"),
        },
    ];
    let record = tokio_test::block_on(store.commit(&batch)).unwrap().unwrap();
    assert_eq!(record.entries.len(), 3);
    let stamps: BTreeSet<_> = record.entries.iter().map(|_| record.timestamp).collect();
    assert_eq!(stamps.len(), 1, "one commit time for the whole batch");
    assert!(store.get_collection(&db("a").collection("c")).is_ok());
}

#[test]
fn replaying_the_records_rebuilds_the_same_state() {
    let (store, clock) = store();
    let mut records = Vec::new();
    let ops = [
        create_db("a"),
        create_coll("a", "c"),
        create_doc("a", "c", "d1", r#"{"n": 1}"#),
        create_doc("a", "c", "d2", r#"{"n": 2}"#),
        Op::UpdateDocument {
            name: db("a").collection("c").document("d1"),
            value: r#"{"n": 3}"#.into(),
        },
        Op::DeleteCollection {
            name: db("a").collection("c"),
        },
        create_coll("a", "c"),
    ];
    for op in ops {
        clock.advance(Duration::from_millis(1));
        records.push(write(&store, op).unwrap());
    }
    let replica = Store::new(Arc::new(ManualClock::new(Timestamp::MIN)), Wal::memory());
    for record in &records {
        replica.replay(record).unwrap();
        replica.replay(record).unwrap(); // a second time is a no-op
    }
    assert_eq!(replica.snapshot(), store.snapshot());
}

#[test]
fn a_snapshot_installs_into_an_empty_store() {
    let (store, _) = store();
    write(&store, create_db("a")).unwrap();
    write(&store, create_coll("a", "c")).unwrap();
    let copy = Store::new(Arc::new(ManualClock::new(Timestamp::MIN)), Wal::memory());
    copy.install(store.snapshot());
    assert_eq!(copy.snapshot(), store.snapshot());
    assert_eq!(copy.last_lsn(), 2);
}

/// Readers hammer the tree while a database with many documents is deleted:
/// each reader sees the whole tree or none of it, never a part.
#[test]
fn cascade_delete_is_atomic_for_concurrent_readers() {
    let (store, _) = store();
    let store = Arc::new(store);
    for round in 0..20 {
        write(&store, create_db("a")).unwrap();
        for c in 0..4 {
            write(&store, create_coll("a", &format!("c{c}"))).unwrap();
            for d in 0..25 {
                write(
                    &store,
                    create_doc("a", &format!("c{c}"), &format!("d{d}"), "{}"),
                )
                .unwrap();
            }
        }
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, done) = (store.clone(), done.clone());
                thread::spawn(move || {
                    let mut observations = 0;
                    while !done.load(Ordering::SeqCst) || observations == 0 {
                        let snapshot = store.snapshot();
                        let (dbs, colls, docs) = snapshot.tree.counts();
                        assert!(
                            (dbs, colls, docs) == (1, 4, 100) || (dbs, colls, docs) == (0, 0, 0),
                            "round {round}: saw a half-deleted tree: {dbs} {colls} {docs}"
                        );
                        observations += 1;
                    }
                })
            })
            .collect();
        write(&store, Op::DeleteDatabase { name: db("a") }).unwrap();
        done.store(true, Ordering::SeqCst);
        for reader in readers {
            reader.join().unwrap();
        }
    }
}

/// Pages through a collection while other threads insert and delete: items
/// present throughout are seen exactly once, and nothing is ever seen twice.
#[test]
fn paging_under_concurrent_inserts_and_deletes() {
    let (store, _) = store();
    let store = Arc::new(store);
    write(&store, create_db("a")).unwrap();
    write(&store, create_coll("a", "c")).unwrap();
    let stable: BTreeSet<String> = (0..300).map(|i| format!("s{i:04}")).collect();
    for id in &stable {
        write(&store, create_doc("a", "c", id, "{}")).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let churn = {
        let (store, done) = (store.clone(), done.clone());
        thread::spawn(move || {
            let mut i = 0;
            while !done.load(Ordering::SeqCst) {
                let id = format!("t{:04}", i % 500);
                let name = db("a").collection("c").document(id.clone());
                if write(&store, create_doc("a", "c", &id, "{}")).is_err() {
                    write(&store, Op::DeleteDocument { name }).unwrap();
                }
                i += 7;
            }
        })
    };
    let parent = db("a").collection("c");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.list_documents(&parent, after.as_deref(), 7).unwrap();
        seen.extend(page.items.iter().map(|(id, _)| id.clone()));
        pages += 1;
        if !page.more {
            break;
        }
        after = page.items.last().map(|(id, _)| id.clone());
        thread::yield_now();
    }
    done.store(true, Ordering::SeqCst);
    churn.join().unwrap();
    assert!(pages > 2);
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an item was returned twice");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "pages out of order");
    assert!(stable.is_subset(&unique), "a stable item was missed");
}
