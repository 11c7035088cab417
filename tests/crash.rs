//! The crash test: the real `distgo-worker` binary, killed with SIGKILL at
//! random moments while concurrent clients write, restarted on the same
//! files, and checked.
//!
//! Each round:
//!
//! ```text
//!   start worker ──▶ 8 writers: create / update / delete documents, commit
//!        │           transactions of several of those, sometimes drop and
//!        │           re-create their whole collection (a cascade)
//!        │  random 50-400 ms
//!   SIGKILL ──▶ writers see errors; each has at most one request in flight
//!   restart ──▶ for every writer, its collection must be exactly
//!                 the state of its acknowledged operations, or
//!                 that state plus its one in-flight operation
//! ```
//!
//! Writers own disjoint collections, so the acknowledged operations of
//! different writers commute and each writer's model is the whole truth
//! about its collection. A write that was acknowledged and is missing, a
//! value that differs by one byte, a half-applied cascade or transaction:
//! each fails the round. The sync policy changes from round to round: a kill -9 (unlike a
//! power cut) must lose nothing acknowledged under any of them. A small
//! `wal.snapshot_bytes` makes compactions frequent, so kills also land in
//! the middle of snapshots.
//!
//! `CRASH_ROUNDS` (default 20) and `CRASH_SEED` (default: random, printed)
//! reproduce or extend a run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use distgo_db::proto::database::{
    BeginRequest, Collection, CommitRequest, CreateCollectionRequest, CreateDatabaseRequest,
    CreateDocumentRequest, Database, DeleteCollectionRequest, DeleteDocumentRequest, Document,
    EntityType, ExecuteRequest, ListDocumentsRequest, ListWalEntriesRequest, MutationType,
    Operation, UpdateDocumentRequest, collection_service_client::CollectionServiceClient,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
    transaction_service_client::TransactionServiceClient, wal_service_client::WalServiceClient,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::{Code, transport::Channel};

const WRITERS: usize = 8;
const POLICIES: [&str; 3] = ["always", "interval", "never"];

/// A running worker process; killed (and reaped) when dropped.
struct Process {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts the binary on `dir` and waits for its "listening" line.
    fn start(dir: &Path, sync: &str) -> Process {
        Self::start_with(dir, sync, &[])
    }

    /// [`Process::start`] with extra command-line arguments.
    fn start_with(dir: &Path, sync: &str, args: &[&str]) -> Process {
        let config = dir.join("worker.yaml");
        std::fs::write(
            &config,
            format!(
                "name: crash\ngrpc:\n  host: 127.0.0.1\n  port: 0\n\
                 logging:\n  level: info\n  format: json\n  output: stderr\n\
                 wal:\n  path: {}\n  sync: {sync}\n  sync_interval: 20ms\n  snapshot_bytes: 32768\n",
                dir.join("wal").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_distgo-worker"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = mpsc::channel();
        let lines = log.clone();
        // Reads stderr to the end, so the worker never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = listening_address(&line) {
                    let _ = found.send(address);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut process = Process {
            child,
            address: String::new(),
            log,
        };
        match address.recv_timeout(Duration::from_secs(20)) {
            Ok(address) => process.address = address,
            Err(_) => panic!(
                "the worker did not start; its log:\n{}",
                process.log.lock().unwrap().join("\n")
            ),
        }
        process
    }

    async fn connect(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .unwrap()
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The `address` of the `distgo worker listening` JSON log line.
fn listening_address(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "distgo worker listening" {
        return None;
    }
    Some(fields.get("address")?.as_str()?.to_owned())
}

/// What one writer knows about its collection.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    exists: bool,
    docs: BTreeMap<String, String>,
}

/// One operation of a writer.
#[derive(Clone, Debug)]
enum Op {
    CreateCollection,
    DropCollection,
    Create(String, String),
    Update(String, String),
    Delete(String),
    /// Begin, Execute these (creates, updates, deletes), Commit.
    Txn(Vec<Op>),
}

impl Model {
    fn apply(&self, op: &Op) -> Model {
        let mut next = self.clone();
        match op {
            Op::CreateCollection => next.exists = true,
            Op::DropCollection => {
                next.exists = false;
                next.docs.clear();
            }
            Op::Create(id, value) | Op::Update(id, value) => {
                next.docs.insert(id.clone(), value.clone());
            }
            Op::Delete(id) => {
                next.docs.remove(id);
            }
            Op::Txn(ops) => return ops.iter().fold(next, |model, op| model.apply(op)),
        }
        next
    }
}

/// A writer's state between rounds.
#[derive(Clone, Debug)]
struct Writer {
    index: usize,
    model: Model,
    /// Counts operations, so every id and value is new.
    counter: u64,
    /// Acknowledged transactions, to show the test exercised them.
    transactions: usize,
}

impl Writer {
    fn collection(&self) -> String {
        format!("databases/crash/collections/c{}", self.index)
    }

    fn choose(&mut self, rng: &mut StdRng) -> Op {
        self.counter += 1;
        let n = self.counter;
        // Odd spacing: the value must come back byte for byte.
        let value = format!("{{\"w\":{}, \"n\":  {n}}}", self.index);
        if !self.model.exists {
            return Op::CreateCollection;
        }
        let existing: Vec<&String> = self.model.docs.keys().collect();
        let roll = rng.random_range(0..100);
        match roll {
            0..3 if existing.len() > 3 => Op::DropCollection,
            3..15 => self.transaction(&existing, rng),
            0..50 => Op::Create(format!("d{n}"), value),
            50..85 if !existing.is_empty() => {
                let id = existing[rng.random_range(0..existing.len())].clone();
                Op::Update(id, value)
            }
            _ if !existing.is_empty() => {
                Op::Delete(existing[rng.random_range(0..existing.len())].clone())
            }
            _ => Op::Create(format!("d{n}"), value),
        }
    }

    /// A transaction that must commit: two to five new documents, plus
    /// updates and deletes of distinct existing ones.
    fn transaction(&self, existing: &[&String], rng: &mut StdRng) -> Op {
        let n = self.counter;
        let mut ops: Vec<Op> = (0..rng.random_range(2..6))
            .map(|i| {
                let value = format!("{{\"w\":{}, \"txn\": {n}, \"i\": {i}}}", self.index);
                Op::Create(format!("t{n}-{i}"), value)
            })
            .collect();
        if let [first, second, ..] = existing {
            ops.push(Op::Update(
                (*first).clone(),
                format!("{{\"updated_in\": {n}}}"),
            ));
            ops.push(Op::Delete((*second).clone()));
        }
        Op::Txn(ops)
    }

    /// Runs a transaction through Begin, Execute and Commit.
    async fn commit(&self, channel: &Channel, ops: &[Op]) -> Result<(), tonic::Status> {
        let mut transactions = TransactionServiceClient::new(channel.clone());
        let database_name = "databases/crash".to_owned();
        let transaction_id = transactions
            .begin(BeginRequest {
                database_name: database_name.clone(),
            })
            .await?
            .into_inner()
            .transaction_id;
        let doc = |id: &str| format!("{}/documents/{id}", self.collection());
        let operation = |mutation: MutationType, id: &str, value: &str| Operation {
            mutation_type: mutation as i32,
            entity_type: EntityType::Document as i32,
            name: doc(id),
            value: value.to_owned(),
        };
        let operations = ops
            .iter()
            .map(|op| match op {
                Op::Create(id, value) => operation(MutationType::Create, id, value),
                Op::Update(id, value) => operation(MutationType::Update, id, value),
                Op::Delete(id) => operation(MutationType::Delete, id, ""),
                other => panic!("not a transaction operation: {other:?}"),
            })
            .collect();
        transactions
            .execute(ExecuteRequest {
                database_name: database_name.clone(),
                transaction_id: transaction_id.clone(),
                operations,
            })
            .await?;
        transactions
            .commit(CommitRequest {
                database_name,
                transaction_id,
            })
            .await
            .map(drop)
    }

    async fn send(&self, channel: &Channel, op: &Op) -> Result<(), tonic::Status> {
        let parent = self.collection();
        let doc = |id: &str| format!("{parent}/documents/{id}");
        let mut documents = DocumentServiceClient::new(channel.clone());
        let mut collections = CollectionServiceClient::new(channel.clone());
        match op {
            Op::CreateCollection => collections
                .create_collection(CreateCollectionRequest {
                    parent: "databases/crash".into(),
                    collection_id: format!("c{}", self.index),
                    collection: Some(Collection::default()),
                })
                .await
                .map(drop),
            Op::DropCollection => collections
                .delete_collection(DeleteCollectionRequest { name: parent })
                .await
                .map(drop),
            Op::Create(id, value) => documents
                .create_document(CreateDocumentRequest {
                    parent: parent.clone(),
                    document_id: id.clone(),
                    document: Some(Document {
                        value: value.clone(),
                        ..Default::default()
                    }),
                })
                .await
                .map(drop),
            Op::Update(id, value) => documents
                .update_document(UpdateDocumentRequest {
                    document: Some(Document {
                        name: doc(id),
                        value: value.clone(),
                        ..Default::default()
                    }),
                    update_mask: None,
                })
                .await
                .map(drop),
            Op::Delete(id) => documents
                .delete_document(DeleteDocumentRequest { name: doc(id) })
                .await
                .map(drop),
            Op::Txn(ops) => self.commit(channel, ops).await,
        }
    }

    /// Writes until a request fails (the kill); returns the operation whose
    /// outcome is unknown, and how many were acknowledged.
    async fn run(&mut self, channel: Channel, seed: u64) -> (Op, usize) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut acked = 0;
        loop {
            let op = self.choose(&mut rng);
            match self.send(&channel, &op).await {
                Ok(()) => {
                    self.model = self.model.apply(&op);
                    acked += 1;
                    self.transactions += usize::from(matches!(op, Op::Txn(_)));
                }
                Err(_) => return (op, acked),
            }
        }
    }

    /// What the restarted worker holds for this writer's collection.
    async fn observe(&self, channel: &Channel) -> Model {
        let mut documents = DocumentServiceClient::new(channel.clone());
        let mut docs = BTreeMap::new();
        let mut page_token = String::new();
        loop {
            let request = ListDocumentsRequest {
                parent: self.collection(),
                page_size: 1000,
                page_token,
            };
            let page = match documents.list_documents(request).await {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == Code::NotFound => {
                    return Model {
                        exists: false,
                        docs,
                    };
                }
                Err(status) => panic!("listing {}: {status:?}", self.collection()),
            };
            for doc in page.documents {
                let id = doc.name.rsplit('/').next().unwrap().to_owned();
                docs.insert(id, doc.value);
            }
            if page.next_page_token.is_empty() {
                return Model { exists: true, docs };
            }
            page_token = page.next_page_token;
        }
    }
}

async fn create_database(channel: &Channel) {
    DatabaseServiceClient::new(channel.clone())
        .create_database(CreateDatabaseRequest {
            database_id: "crash".into(),
            database: Some(Database {
                display_name: "Crash".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

/// The log must still list cleanly, in commit order, after the restart.
async fn check_wal_listing(channel: &Channel) {
    let mut wal = WalServiceClient::new(channel.clone());
    let mut last = None;
    let mut page_token = String::new();
    loop {
        let page = wal
            .list_wal_entries(ListWalEntriesRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for entry in &page.entries {
            let ts = entry.timestamp.unwrap();
            let time = (ts.seconds, ts.nanos);
            assert!(last.is_none_or(|last| last <= time), "entries out of order");
            last = Some(time);
        }
        if page.next_page_token.is_empty() {
            return;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_when_the_worker_is_killed() {
    let rounds: usize = std::env::var("CRASH_ROUNDS").map_or(20, |r| r.parse().unwrap());
    let seed: u64 =
        std::env::var("CRASH_SEED").map_or_else(|_| rand::rng().random(), |s| s.parse().unwrap());
    println!("crash test: {rounds} rounds, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|index| Writer {
            index,
            model: Model {
                exists: false,
                docs: BTreeMap::new(),
            },
            counter: 0,
            transactions: 0,
        })
        .collect();

    let mut process = Process::start(dir.path(), POLICIES[0]);
    create_database(&process.connect().await).await;
    let mut total_acked = 0;
    for round in 0..rounds {
        let channel = process.connect().await;
        let tasks: Vec<_> = writers
            .iter()
            .map(|writer| {
                let (mut writer, channel, seed) = (writer.clone(), channel.clone(), rng.random());
                tokio::spawn(async move {
                    let (in_flight, acked) = writer.run(channel, seed).await;
                    (writer, in_flight, acked)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        process.kill();
        drop(channel);

        let mut in_flight = Vec::new();
        for (slot, task) in writers.iter_mut().zip(tasks) {
            let (writer, op, acked) = task.await.unwrap();
            *slot = writer;
            in_flight.push(op);
            total_acked += acked;
        }

        let policy = POLICIES[rng.random_range(0..POLICIES.len())];
        process = Process::start(dir.path(), policy);
        let channel = process.connect().await;
        for (writer, op) in writers.iter_mut().zip(&in_flight) {
            let seen = writer.observe(&channel).await;
            let with_op = writer.model.apply(op);
            assert!(
                seen == writer.model || seen == with_op,
                "round {round} (seed {seed}), writer {}: after the restart\n  \
                 seen      {seen:?}\n  acked     {:?}\n  in flight {op:?}",
                writer.index,
                writer.model
            );
            writer.model = seen;
        }
        check_wal_listing(&channel).await;
    }
    let transactions: usize = writers.iter().map(|w| w.transactions).sum();
    println!(
        "crash test: {total_acked} acknowledged writes ({transactions} of them transactions) \
         over {rounds} kills, none lost"
    );
    assert!(total_acked > rounds, "the writers hardly wrote anything");
    assert!(transactions > 0, "no transaction was acknowledged");
}

/// Runs the binary to completion (it must exit by itself) and returns its
/// exit code and standard error.
fn run_to_exit(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_distgo-worker"))
        .arg("--config")
        .arg(dir.join("worker.yaml"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_log_stops_start_up_with_exit_code_3_unless_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let process = Process::start(dir.path(), "always");
    create_database(&process.connect().await).await;
    let writer = Writer {
        index: 0,
        model: Model {
            exists: false,
            docs: BTreeMap::new(),
        },
        counter: 0,
        transactions: 0,
    };
    let channel = process.connect().await;
    for op in [Op::CreateCollection, Op::Create("a".into(), "{}".into())] {
        writer.send(&channel, &op).await.unwrap();
    }
    process.kill();

    // Flip one byte inside the first record (the database's create).
    let segment = dir.path().join("wal").join(format!("{:020}.wal", 1));
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[30] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();

    let (code, stderr) = run_to_exit(dir.path(), &[]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains(&segment.display().to_string()), "{stderr}");
    assert!(stderr.contains("at offset 12"), "{stderr}");
    assert!(stderr.contains("--repair"), "{stderr}");

    // Repair keeps the valid prefix (nothing, here), says what it
    // dropped, and starts; afterwards a normal start works again.
    let repaired = Process::start_with(dir.path(), "always", &["--repair"]);
    let log = repaired.log.lock().unwrap().join("\n");
    assert!(
        log.contains("repair: payload fails its checksum: dropping"),
        "{log}"
    );
    repaired.kill();
    let process = Process::start(dir.path(), "always");
    let seen = writer.observe(&process.connect().await).await;
    assert!(!seen.exists, "the records after the damage were dropped");
}

#[test]
fn an_unusable_log_directory_exits_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    std::fs::write(
        dir.path().join("worker.yaml"),
        format!(
            "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\nwal:\n  path: {}\n",
            file.join("wal").display()
        ),
    )
    .unwrap();
    let (code, stderr) = run_to_exit(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("configuration error: wal.path: cannot use"),
        "{stderr}"
    );
}
