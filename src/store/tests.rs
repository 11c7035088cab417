//! Store tests: the lessons of the state machine, one per test.
//!
//! The store is driven here the way the replication layer drives it: each
//! test builds commands (a proposed time, a seed, an action) and applies
//! them at increasing log positions.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    thread,
};

use parking_lot::Mutex;
use rand_chacha::{
    ChaCha8Rng,
    rand_core::{RngCore, SeedableRng},
};

use super::*;

/// A store with a hand-driven clock and seeded commands.
struct Machine {
    store: Store,
    /// The next index, held while applying so entries apply in order.
    next: Mutex<u64>,
    /// The time the next command is proposed at, in nanoseconds.
    now: AtomicI64,
    seeds: Mutex<ChaCha8Rng>,
}

impl Machine {
    fn new() -> Self {
        Machine {
            store: Store::new(64 << 20),
            next: Mutex::new(1),
            now: AtomicI64::new(1_000),
            seeds: Mutex::new(ChaCha8Rng::seed_from_u64(42)),
        }
    }

    fn command(&self, action: Action) -> Command {
        let mut seed = [0u8; 16];
        self.seeds.lock().fill_bytes(&mut seed);
        let now = Timestamp::from_nanos(self.now.load(Ordering::SeqCst));
        Command::new(now, seed, action)
    }

    fn apply(&self, command: &Command) -> Outcome {
        let mut next = self.next.lock();
        let outcome = self.store.apply(LogPosition::solo(*next), command);
        *next += 1;
        outcome
    }

    fn commit(&self, ops: &[Op]) -> Result<Arc<Record>, Failed> {
        match self.apply(&self.command(Action::Write(ops.to_vec())))? {
            Applied::Record(record) => Ok(record),
            other => panic!("a write applied as {other:?}"),
        }
    }

    fn set_time(&self, nanos: i64) {
        self.now.store(nanos, Ordering::SeqCst);
    }

    fn advance(&self, nanos: i64) {
        self.now.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl std::ops::Deref for Machine {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

fn store() -> (Machine, ()) {
    (Machine::new(), ())
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

fn write(machine: &Machine, op: Op) -> Result<Arc<Record>> {
    machine.commit(&[op]).map_err(|failed| failed.error)
}

fn entries_applied(store: &Store) -> u64 {
    store.applied().map_or(0, |p| p.index)
}

#[test]
fn a_write_is_one_record_with_the_row_after_it() {
    let (store, _) = store();
    let record = write(&store, create_db("a")).unwrap();
    assert_eq!(record.seq, 1);
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
    assert_eq!(store.history_size().0, 1, "a failed write yields no record");
    assert_eq!(entries_applied(&store), 2, "but it was an entry of the log");
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
    let (store, ()) = store();
    write(&store, create_db("a")).unwrap();
    // A proposer whose clock is behind (a new leader, a clock step).
    store.set_time(10);
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
    let failed = store.commit(&batch).unwrap_err();
    assert_eq!(failed.index, 2);
    assert!(matches!(failed.error, Error::AlreadyExists(_)));
    let after = store.snapshot();
    assert_eq!((after.tree, after.history), (before.tree, before.history));
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
    let record = store.commit(&batch).unwrap();
    assert_eq!(record.entries.len(), 3);
    let stamps: BTreeSet<_> = record.entries.iter().map(|_| record.timestamp).collect();
    assert_eq!(stamps.len(), 1, "one commit time for the whole batch");
    assert!(store.get_collection(&db("a").collection("c")).is_ok());
}

/// The property replication rests on: two stores that apply the same
/// commands in the same order hold the same state and gave the same
/// answers, generated ids, entry UUIDs and failures included.
#[test]
fn the_same_commands_give_the_same_state_and_outcomes() {
    let (leader, ()) = store();
    let ops = [
        create_db("a"),
        create_coll("a", "c"),
        Op::CreateDocument {
            parent: db("a").collection("c"),
            id: None,
            value: r#"{"n": 1}"#.into(),
        },
        create_doc("a", "c", "d2", r#"{"n": 2}"#),
        create_doc("a", "c", "d2", r#"{"again": true}"#),
        Op::UpdateDocument {
            name: db("a").collection("c").document("d2"),
            value: r#"{"n": 3}"#.into(),
        },
        Op::DeleteCollection {
            name: db("a").collection("c"),
        },
        create_coll("a", "c"),
    ];
    let mut log = Vec::new();
    let mut answers = Vec::new();
    for op in ops {
        leader.advance(1_000_000);
        let command = leader.command(Action::Write(vec![op]));
        answers.push(leader.apply(&command));
        log.push(command);
    }
    assert!(answers.iter().any(Result::is_err), "one command must fail");
    let replica = Machine::new();
    let replayed: Vec<Outcome> = log.iter().map(|c| replica.apply(c)).collect();
    assert_eq!(replayed, answers);
    assert_eq!(replica.snapshot(), leader.snapshot());
}

#[test]
fn a_trim_command_forgets_history_before_its_time_but_not_state() {
    let (store, ()) = store();
    write(&store, create_db("a")).unwrap();
    store.advance(1_000);
    let kept = write(&store, create_coll("a", "c")).unwrap();
    let trim = store.command(Action::TrimHistory {
        before: kept.timestamp,
    });
    assert_eq!(store.apply(&trim), Ok(Applied::Trimmed { records: 1 }));
    let page = store.list_history(&Filter::default(), None, 10);
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].record.seq, kept.seq);
    assert!(store.get_database(&db("a")).is_ok(), "the state stays");
}

#[test]
fn a_snapshot_installs_into_an_empty_store_and_round_trips_as_bytes() {
    let (store, ()) = store();
    write(&store, create_db("a")).unwrap();
    write(&store, create_coll("a", "c")).unwrap();
    write(&store, create_doc("a", "c", "d", r#"{"k": "ü"}"#)).unwrap();
    let snapshot = store.snapshot();
    let copy = Store::new(64 << 20);
    copy.install(snapshot.clone());
    assert_eq!(copy.snapshot(), snapshot);
    assert_eq!(entries_applied(&copy), 3);
    let bytes = snapshot.to_bytes();
    assert_eq!(Snapshot::decode(&bytes, 64 << 20), Ok(snapshot));
}

#[test]
fn every_damaged_snapshot_byte_is_caught() {
    let (store, ()) = store();
    write(&store, create_db("a")).unwrap();
    write(&store, create_doc("a", "c", "d", "{}")).unwrap_err();
    let bytes = store.snapshot().to_bytes();
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x41;
        assert!(Snapshot::decode(&damaged, 1 << 20).is_err(), "flip at {i}");
    }
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

/// A retried command (the same request id) is answered with the first
/// outcome and applies nothing, even when the first outcome was an error,
/// and a snapshot carries what is remembered.
#[test]
fn a_repeated_request_id_returns_the_first_outcome_and_applies_nothing() {
    let (store, ()) = store();
    write(&store, create_db("a")).unwrap();
    let with_id = |op: Op, id: &str| {
        let mut command = store.command(Action::Write(vec![op]));
        command.request_id = Some(id.into());
        command
    };
    let create = with_id(create_coll("a", "c"), "r1");
    let first = store.apply(&create);
    let records = store.history_size().0;
    store.advance(1_000);
    // The retry is a new command (new time and seed) with the same id.
    let retry = with_id(create_coll("a", "c"), "r1");
    assert_eq!(store.apply(&retry), first);
    assert_eq!(store.history_size().0, records, "no second record");
    let failing = with_id(create_coll("a", "c"), "r2");
    let refused = store.apply(&failing);
    assert!(matches!(&refused, Err(f) if matches!(f.error, Error::AlreadyExists(_))));
    assert_eq!(store.apply(&with_id(create_db("b"), "r2")), refused);
    assert!(
        store.get_database(&db("b")).is_err(),
        "nothing of the retry applied"
    );
    let copy = Store::new(64 << 20);
    copy.install(store.snapshot());
    assert_eq!(copy.remembered_requests(), 2);
    let bytes = store.snapshot().to_bytes();
    assert_eq!(
        Snapshot::decode(&bytes, 64 << 20).unwrap(),
        store.snapshot()
    );
}
