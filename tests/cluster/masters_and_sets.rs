//! Nine processes: three masters in front of two replica sets of three.
//!
//! ```text
//!   writers ──▶ masters 7, 8, 9 (catalog: their own Raft group) ──▶ set a: 1, 2, 3
//!                                                                └─▶ set b: 4, 5, 6
//! ```
//!
//! Every link between two nodes, master to master, master to worker and
//! worker to worker, goes through the harness's proxy for that link, so a
//! node can be cut off; the writers reach the masters directly. Four
//! writers write documents into six databases through the masters,
//! changing master when one fails, while the test:
//!
//! 1. kills the master that leads the catalog, and measures how long a
//!    CreateDatabase (a catalog write) takes to succeed through another;
//! 2. kills the leader of set `a`, and measures how long until a write to
//!    one of its databases through a master is acknowledged again;
//! 3. cuts a master off from every other node: a write through it must end
//!    (UNAVAILABLE or DEADLINE_EXCEEDED) inside its deadline while the
//!    other two place and route; once healed, it routes again;
//! 4. moves a database from set `a` to set `b` under the writers.
//!
//! At the end every acknowledged write is read back through a master,
//! exactly once.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    ops::RangeInclusive,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use distgo_db::proto::master::{
    admin::{MoveDatabaseRequest, admin_service_client::AdminServiceClient},
    database::{
        CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database, Document,
        GetDatabaseRequest, ListDocumentsRequest,
        collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient,
    },
};
use parking_lot::Mutex;
use tonic::{Code, Request, transport::Channel};

use crate::harness::{cluster::Cluster, config::WorkerConfig, network::NodeId, process::Port};

const SET_A: RangeInclusive<NodeId> = 1..=3;
const SET_B: RangeInclusive<NodeId> = 4..=6;
const MASTERS: RangeInclusive<NodeId> = 7..=9;
/// How long any one step may wait (an election, a restart, an ack).
const STEP: Duration = Duration::from_secs(20);
/// The deadline of every client call.
const DEADLINE: Duration = Duration::from_secs(5);
const DATABASES: usize = 6;
const WRITERS: usize = 4;

/// The `cluster:` section of node `id` in `group`, reaching the others
/// through `peers` (the links [`Cluster::start`] gives).
fn group_section(
    id: NodeId,
    group: &RangeInclusive<NodeId>,
    peers: &BTreeMap<NodeId, SocketAddr>,
) -> String {
    let mut yaml = format!("cluster:\n  node_id: {id}\n  peers:\n");
    for member in group.clone() {
        yaml.push_str(&format!("    {member}: {}\n", peers[&member]));
    }
    yaml.push_str(&format!(
        "  bootstrap: {}\n  heartbeat: 50ms\n  election_timeout: 300ms..600ms\n",
        id == *group.start()
    ));
    yaml
}

fn configure(id: NodeId, peers: &BTreeMap<NodeId, SocketAddr>) -> WorkerConfig {
    let listed = |group: &RangeInclusive<NodeId>| {
        let members: Vec<String> = group.clone().map(|m| peers[&m].to_string()).collect();
        members.join(", ")
    };
    if MASTERS.contains(&id) {
        WorkerConfig::new(format!("master-{id}"))
            .master()
            .grpc_timeout("4s")
            .section(&group_section(id, &MASTERS, peers))
            .section(&format!(
                "master:\n  sets:\n    a: [{}]\n    b: [{}]\n  placement: least_loaded\n  refresh: 500ms\n",
                listed(&SET_A),
                listed(&SET_B)
            ))
    } else {
        let (set, group) = if SET_A.contains(&id) {
            ("a", SET_A)
        } else {
            ("b", SET_B)
        };
        WorkerConfig::new(format!("{set}-{id}"))
            .grpc_timeout("2s")
            .section(&group_section(id, &group, peers))
    }
}

/// The member of `group` that says it leads, waiting at most [`STEP`].
async fn leader_of(cluster: &Cluster, group: &RangeInclusive<NodeId>) -> NodeId {
    let started = Instant::now();
    while started.elapsed() < STEP {
        for id in group.clone() {
            if let Ok(status) = cluster.status(id).await
                && status.state == "leader"
            {
                return id;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader in {group:?} within {STEP:?}");
}

async fn channel(address: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy()
}

fn request<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(DEADLINE);
    request
}

/// Creates database `db` (with collection `c`) through `master`, until it
/// is acknowledged or [`STEP`] passes; returns how long that took.
async fn create_database(master: SocketAddr, db: &str) -> Duration {
    let started = Instant::now();
    let ch = channel(master).await;
    loop {
        let made = DatabaseServiceClient::new(ch.clone())
            .create_database(request(CreateDatabaseRequest {
                database_id: db.into(),
                database: Some(Database {
                    display_name: db.into(),
                    ..Database::default()
                }),
            }))
            .await;
        match made {
            Ok(_) => break,
            Err(status) if status.code() == Code::AlreadyExists => break,
            Err(status) => {
                assert!(started.elapsed() < STEP, "create {db}: {status:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let took = started.elapsed();
    loop {
        let made = CollectionServiceClient::new(ch.clone())
            .create_collection(request(CreateCollectionRequest {
                parent: format!("databases/{db}"),
                collection_id: "c".into(),
                collection: Some(Default::default()),
            }))
            .await;
        match made {
            Ok(_) => return took,
            Err(status) if status.code() == Code::AlreadyExists => return took,
            Err(status) => {
                assert!(started.elapsed() < STEP, "collection of {db}: {status:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// What the writers saw.
#[derive(Debug, Default)]
struct Acked {
    /// (database, document id) of every acknowledged write.
    writes: BTreeSet<(String, String)>,
    /// Answers that were not acknowledgements, by code.
    errors: BTreeMap<String, usize>,
}

/// Writes `w{writer}-{n}` into the databases in turn, through the masters
/// starting with `masters[writer % 3]`, until `stop`. A write without an
/// answer is sent again, with the same request id, to the next master;
/// ALREADY_EXISTS then means an earlier try landed.
async fn writer(
    writer: usize,
    masters: Vec<SocketAddr>,
    databases: Vec<String>,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) {
    let mut clients = Vec::new();
    for master in &masters {
        clients.push(DocumentServiceClient::new(channel(*master).await));
    }
    let mut current = writer % masters.len();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let db = &databases[n % databases.len()];
        let id = format!("w{writer}-{n:05}");
        let request_id = format!("writer-{writer}-{n}");
        let started = Instant::now();
        loop {
            let mut call = request(CreateDocumentRequest {
                parent: format!("databases/{db}/collections/c"),
                document_id: id.clone(),
                document: Some(Document {
                    value: format!("{{\"n\":{n}}}"),
                    ..Document::default()
                }),
            });
            call.metadata_mut()
                .insert("distgo-request-id", request_id.parse().unwrap());
            match clients[current].create_document(call).await {
                Ok(_) => break,
                Err(status) if status.code() == Code::AlreadyExists => break,
                Err(status) => {
                    let code = format!("{:?}", status.code());
                    *acked.lock().errors.entry(code).or_default() += 1;
                    // UNAVAILABLE and DEADLINE_EXCEEDED from a master, or
                    // this client's connection to a master breaking (a
                    // status with a local source): the outcome is unknown.
                    let local = std::error::Error::source(&status).is_some();
                    assert!(
                        local
                            || matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
                        "write {id} to {db}: {status:?}"
                    );
                    assert!(
                        started.elapsed() < STEP * 2,
                        "write {id} never acknowledged"
                    );
                    current = (current + 1) % clients.len();
                }
            }
        }
        acked.lock().writes.insert((db.clone(), id));
        n += 1;
    }
}

/// Every document of `db`, read through `master`.
async fn documents(master: SocketAddr, db: &str) -> Vec<String> {
    let mut client = DocumentServiceClient::new(channel(master).await);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_documents(request(ListDocumentsRequest {
                parent: format!("databases/{db}/collections/c"),
                page_size: 1000,
                page_token,
            }))
            .await
            .unwrap()
            .into_inner();
        all.extend(
            page.documents
                .into_iter()
                .map(|d| d.name.rsplit('/').next().unwrap().to_owned()),
        );
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// The set that holds `db`, asked of each set's members directly.
async fn holder(cluster: &Cluster, db: &str) -> &'static str {
    for (set, id) in [("a", *SET_A.start()), ("b", *SET_B.start())] {
        let mut databases =
            distgo_db::proto::database::database_service_client::DatabaseServiceClient::new(
                channel(cluster.worker(id).address()).await,
            );
        let asked = databases
            .get_database(request(distgo_db::proto::database::GetDatabaseRequest {
                name: format!("databases/{db}"),
            }))
            .await;
        if asked.is_ok() {
            return set;
        }
    }
    panic!("no set holds {db}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_masters_and_two_sets_survive_kills_a_partition_and_a_move() {
    let mut cluster = Cluster::start(9, configure).await.unwrap();
    for group in [SET_A, SET_B, MASTERS] {
        leader_of(&cluster, &group).await;
    }
    let masters: Vec<SocketAddr> = MASTERS.map(|id| cluster.worker(id).address()).collect();
    let databases: Vec<String> = (0..DATABASES).map(|n| format!("nine-{n}")).collect();
    for (n, db) in databases.iter().enumerate() {
        create_database(masters[n % masters.len()], db).await;
    }
    let mut on: BTreeMap<&str, usize> = BTreeMap::new();
    for db in &databases {
        *on.entry(holder(&cluster, db).await).or_default() += 1;
    }
    println!("{DATABASES} databases through three masters: {on:?}");
    assert_eq!(on.len(), 2, "least_loaded used one set only: {on:?}");

    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                w,
                masters.clone(),
                databases.clone(),
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. The catalog's leader dies: a placement needs the other two.
    let victim = leader_of(&cluster, &MASTERS).await;
    cluster.kill(victim);
    let index = usize::try_from(victim - *MASTERS.start()).unwrap();
    let other = masters[(index + 1) % masters.len()];
    let placed = create_database(other, "after-catalog-kill").await;
    println!(
        "catalog leader (node {victim}) killed: CreateDatabase through another master after {placed:?}"
    );
    cluster.restart(victim, Port::Same).await.unwrap();
    cluster
        .wait_for_status(victim, STEP, |s| s.leader_id != 0)
        .await
        .unwrap();

    // 2. Set a's leader dies: its databases' writes wait for an election.
    let mut on_a_db = None;
    for db in &databases {
        if holder(&cluster, db).await == "a" {
            on_a_db = Some(db.clone());
            break;
        }
    }
    let on_a_db = on_a_db.expect("a database on set a");
    let victim = leader_of(&cluster, &SET_A).await;
    let killed = Instant::now();
    cluster.kill(victim);
    let probe = masters[0];
    let mut probes = DocumentServiceClient::new(channel(probe).await);
    loop {
        let written = probes
            .create_document(request(CreateDocumentRequest {
                parent: format!("databases/{on_a_db}/collections/c"),
                document_id: String::new(),
                document: Some(Document {
                    value: "{\"probe\":true}".into(),
                    ..Document::default()
                }),
            }))
            .await;
        match written {
            Ok(created) => {
                let id = created
                    .into_inner()
                    .name
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned();
                acked.lock().writes.insert((on_a_db.clone(), id));
                break;
            }
            Err(status) => {
                assert!(killed.elapsed() < STEP, "set a never recovered: {status:?}");
            }
        }
    }
    println!(
        "set a's leader (node {victim}) killed: next write through a master after {:?}",
        killed.elapsed()
    );
    cluster.restart(victim, Port::Same).await.unwrap();

    // 3. A master cut off from every other node.
    let catalog_leader = leader_of(&cluster, &MASTERS).await;
    let cut = MASTERS.clone().find(|id| *id != catalog_leader).unwrap();
    cluster.network.partition(cut);
    let through_cut = channel(cluster.worker(cut).address()).await;
    let started = Instant::now();
    let answer = DatabaseServiceClient::new(through_cut.clone())
        .create_database(request(CreateDatabaseRequest {
            database_id: "through-the-cut-master".into(),
            database: Some(Database {
                display_name: "cut".into(),
                ..Database::default()
            }),
        }))
        .await;
    let refused_after = started.elapsed();
    let status = answer.expect_err("a master cut off from the catalog placed a database");
    assert!(
        matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{status:?}"
    );
    assert!(
        refused_after <= DEADLINE + Duration::from_secs(1),
        "{refused_after:?}"
    );
    let majority = cluster.worker(catalog_leader).address();
    let placed = create_database(majority, "while-one-master-is-cut").await;
    println!(
        "master {cut} cut off: it refused a CreateDatabase ({:?}) after {refused_after:?}; \
         the others placed one in {placed:?}",
        status.code()
    );
    cluster.network.heal();
    let healed = Instant::now();
    loop {
        let routed = DatabaseServiceClient::new(through_cut.clone())
            .get_database(request(GetDatabaseRequest {
                name: "databases/while-one-master-is-cut".into(),
            }))
            .await;
        match routed {
            Ok(_) => break,
            Err(status) => assert!(healed.elapsed() < STEP, "healed master: {status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "healed master {cut} routes again after {:?}",
        healed.elapsed()
    );

    // 4. Move a database from set a to set b under the writers.
    let moved = AdminServiceClient::new(channel(masters[1]).await)
        .move_database(request(MoveDatabaseRequest {
            name: format!("databases/{on_a_db}"),
            to_set: "b".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    println!("moved {on_a_db} under {WRITERS} writers: {moved:?}");
    assert_eq!(holder(&cluster, &on_a_db).await, "b");

    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock());
    let mut read = BTreeSet::new();
    for db in &databases {
        for id in documents(masters[2], db).await {
            assert!(read.insert((db.clone(), id.clone())), "{db}/{id} twice");
        }
    }
    let lost: Vec<_> = acked.writes.difference(&read).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    assert_eq!(read.len(), acked.writes.len(), "writes nobody acknowledged");
    println!(
        "{} acknowledged writes, all read back once; retried answers: {:?}",
        acked.writes.len(),
        acked.errors
    );
}
