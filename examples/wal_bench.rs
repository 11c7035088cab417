//! Measures the write-ahead log: durable write throughput, recovery time and
//! snapshot size.
//!
//! ```text
//! cargo run --release --example wal_bench -- throughput --sync always --clients 1
//! cargo run --release --example wal_bench -- throughput --sync always --clients 64 --connections 1
//! cargo run --release --example wal_bench -- throughput --sync never --clients 64 --connections 1
//! cargo run --release --example wal_bench -- recovery --documents 1000000
//! cargo run --release --example wal_bench -- throughput --sync memory --clients 16 --connections 1 --txn-ops 10
//! ```
//!
//! (`just bench-wal` runs these four.) The 64 clients share one HTTP/2
//! connection: on a small machine, 64 TCP connections served and driven by
//! the same process cost more CPU than the log, and the benchmark would
//! measure that instead.
//!
//! `throughput` serves a worker in-process on 127.0.0.1 with its log in a
//! fresh directory and has N gRPC clients create
//! small documents back to back for a while; with `sync: always` every
//! acknowledged create has been fsynced, so the ratio between 64 clients
//! and 1 shows how well group commit shares fsyncs.
//!
//! `recovery` writes N small documents through the store (no gRPC, to keep
//! the load phase short), then measures opening the directory twice: from
//! the log as the writes left it (the last automatic snapshot plus the
//! entries after it), and from a single snapshot after a compaction.
//!
//! Logs go to a fresh temporary directory (under `--dir` if given), on the
//! same disk as `/tmp` unless told otherwise.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand};
use distgo_db::{
    Worker,
    clock::SystemClock,
    config::{Config, SyncPolicy, WalConfig},
    names::DatabaseName,
    proto::database::{
        BeginRequest, Collection, CommitRequest, CreateCollectionRequest, CreateDatabaseRequest,
        CreateDocumentRequest, Database, Document, EntityType, ExecuteRequest, MutationType,
        Operation, collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient,
        transaction_service_client::TransactionServiceClient,
    },
    replication::Replica,
    store::Op,
    wal::Recovery,
};

#[derive(Parser)]
struct Args {
    /// Where the temporary log directories go.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// CreateDocument calls per second over gRPC.
    Throughput {
        /// always | interval | never, or memory for no log at all
        #[arg(long, default_value = "always")]
        sync: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// HTTP/2 connections the clients share (0: one per client).
        #[arg(long, default_value_t = 0)]
        connections: usize,
        /// How long to measure.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Commit transactions of this many document creates instead of
        /// single CreateDocument calls (0: no transactions).
        #[arg(long, default_value_t = 0)]
        txn_ops: usize,
    },
    /// Time to recover a log of N documents, and the snapshot's size.
    Recovery {
        /// Documents to write.
        #[arg(long, default_value_t = 1_000_000)]
        documents: usize,
    },
    /// Writes N documents into the log directory PATH and stops.
    Load {
        /// The log directory.
        path: PathBuf,
        /// Documents to write.
        #[arg(long, default_value_t = 1_000_000)]
        documents: usize,
    },
    /// Times the recovery of the log directory PATH.
    Open {
        /// The log directory.
        path: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let parent = args.dir.unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(parent)?;
    match args.command {
        Bench::Throughput {
            sync,
            clients,
            connections,
            seconds,
            txn_ops,
        } => {
            let connections = if connections == 0 {
                clients
            } else {
                connections
            };
            let duration = Duration::from_secs(seconds);
            let load = Load {
                clients,
                connections,
                duration,
                txn_ops,
            };
            throughput(dir.path(), &sync, load).await
        }
        Bench::Recovery { documents } => recovery(dir.path(), documents).await,
        Bench::Load { path, documents } => {
            let (replica, _) = Replica::open_standalone(
                &wal_config(&path),
                Arc::new(SystemClock),
                Recovery::Strict,
            )?;
            let replica = Arc::new(replica);
            load(&replica, documents).await?;
            replica.close_standalone();
            Ok(())
        }
        Bench::Open { path } => {
            let started = Instant::now();
            let (_replica, report) = Replica::open_standalone(
                &wal_config(&path),
                Arc::new(SystemClock),
                Recovery::Strict,
            )?;
            println!(
                "recovered in {:.2} s: {report:?}",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// The shape of a throughput run.
struct Load {
    clients: usize,
    connections: usize,
    duration: Duration,
    /// Creates per transaction; 0 for plain CreateDocument calls.
    txn_ops: usize,
}

async fn throughput(dir: &Path, sync: &str, load: Load) -> Result<(), Box<dyn std::error::Error>> {
    let Load {
        clients,
        connections,
        duration,
        txn_ops,
    } = load;
    let mut yaml = "name: bench\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 30s\n".to_owned();
    if sync != "memory" {
        yaml += &format!("wal:\n  path: {}\n  sync: {sync}\n", dir.display());
    }
    let config = Config::from_yaml(&yaml)?;
    // Shows the writer's entries/writes/fsyncs when the log closes.
    distgo_db::logging::init(&Config::from_yaml("name: b\nlogging:\n  output: stderr\n")?.logging)?;
    let worker = Worker::open(config, Recovery::Strict).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(worker.serve(listener, async {
        let _ = stopped.await;
    }));

    let channel = tonic::transport::Endpoint::from_shared(address.clone())?
        .connect()
        .await?;
    setup(channel).await?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut channels = Vec::new();
    for _ in 0..connections.clamp(1, clients) {
        let endpoint = tonic::transport::Endpoint::from_shared(address.clone())?;
        channels.push(endpoint.connect().await?);
    }
    let mut tasks = Vec::new();
    for client in 0..clients {
        let channel = channels[client % channels.len()].clone();
        if txn_ops == 0 {
            tasks.push(tokio::spawn(create_until(channel, client, deadline)));
        } else {
            tasks.push(tokio::spawn(commit_until(
                channel, client, txn_ops, deadline,
            )));
        }
    }
    let mut done = 0u64;
    for task in tasks {
        done += task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let what = if txn_ops == 0 {
        "CreateDocument".to_owned()
    } else {
        format!("commits of {txn_ops}-operation transactions")
    };
    println!(
        "sync={sync} clients={clients} connections={}: {done} {what} in {elapsed:.1} s = {:.0} per second \
         (mean latency {:.2} ms)",
        channels.len(),
        done as f64 / elapsed,
        elapsed * 1000.0 * clients as f64 / done.max(1) as f64
    );
    let _ = stop.send(());
    server.await??;
    Ok(())
}

async fn setup(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
    DatabaseServiceClient::new(channel.clone())
        .create_database(CreateDatabaseRequest {
            database_id: "bench".into(),
            database: Some(Database {
                display_name: "Bench".into(),
                ..Default::default()
            }),
        })
        .await?;
    CollectionServiceClient::new(channel)
        .create_collection(CreateCollectionRequest {
            parent: "databases/bench".into(),
            collection_id: "docs".into(),
            collection: Some(Collection::default()),
        })
        .await?;
    Ok(())
}

/// Creates documents one after the other until `deadline`; returns how many.
async fn create_until(
    channel: tonic::transport::Channel,
    client: usize,
    deadline: Instant,
) -> Result<u64, tonic::Status> {
    let mut documents = DocumentServiceClient::new(channel);
    let mut done = 0u64;
    while Instant::now() < deadline {
        documents
            .create_document(CreateDocumentRequest {
                parent: "databases/bench/collections/docs".into(),
                document_id: format!("c{client}-{done}"),
                document: Some(Document {
                    value: format!("{{\"client\": {client}, \"n\": {done}}}"),
                    ..Default::default()
                }),
            })
            .await?;
        done += 1;
    }
    Ok(done)
}

/// Commits transactions of `ops` creates (Begin, one Execute, Commit) until
/// `deadline`; returns how many committed.
async fn commit_until(
    channel: tonic::transport::Channel,
    client: usize,
    ops: usize,
    deadline: Instant,
) -> Result<u64, tonic::Status> {
    let mut transactions = TransactionServiceClient::new(channel);
    let database_name = "databases/bench".to_owned();
    let mut done = 0u64;
    while Instant::now() < deadline {
        let transaction_id = transactions
            .begin(BeginRequest {
                database_name: database_name.clone(),
            })
            .await?
            .into_inner()
            .transaction_id;
        let operations = (0..ops)
            .map(|i| Operation {
                mutation_type: MutationType::Create as i32,
                entity_type: EntityType::Document as i32,
                name: format!("databases/bench/collections/docs/documents/t{client}-{done}-{i}"),
                value: format!("{{\"client\": {client}, \"n\": {done}, \"i\": {i}}}"),
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
                database_name: database_name.clone(),
                transaction_id,
            })
            .await?;
        done += 1;
    }
    Ok(done)
}

/// The default log configuration on `dir`, without fsyncs (the load phase
/// measures nothing about them).
fn wal_config(dir: &Path) -> WalConfig {
    WalConfig {
        path: Some(dir.to_owned()),
        sync: SyncPolicy::Never,
        ..WalConfig::default()
    }
}

async fn recovery(dir: &Path, documents: usize) -> Result<(), Box<dyn std::error::Error>> {
    let config = wal_config(dir);
    let clock = Arc::new(SystemClock);
    let (replica, _) = Replica::open_standalone(&config, clock.clone(), Recovery::Strict)?;
    let replica = Arc::new(replica);
    let started = Instant::now();
    load(&replica, documents).await?;
    println!(
        "wrote {documents} documents in {:.1} s (sync: never, 64 writers, in-process)",
        started.elapsed().as_secs_f64()
    );
    replica.close_standalone();
    drop(replica);
    println!("log as written: {}", describe(dir)?);

    let started = Instant::now();
    let (replica, report) = Replica::open_standalone(&config, clock.clone(), Recovery::Strict)?;
    println!(
        "recovery from the log: {:.2} s (snapshot at entry {:?}, {} entries applied, {} segments)",
        started.elapsed().as_secs_f64(),
        report.snapshot_index,
        report.entries,
        report.segments
    );
    let started = Instant::now();
    replica.compact_now()?;
    println!(
        "snapshot of everything: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    replica.close_standalone();
    drop(replica);
    println!("after compaction: {}", describe(dir)?);

    let started = Instant::now();
    let (replica, report) = Replica::open_standalone(&config, clock, Recovery::Strict)?;
    let elapsed = started.elapsed().as_secs_f64();
    let (_, _, docs) = replica.store().counts();
    println!(
        "recovery from the snapshot: {elapsed:.2} s ({docs} documents, {} entries applied)",
        report.entries
    );
    Ok(())
}

/// Writes `documents` small documents with 64 concurrent writers.
async fn load(store: &Arc<Replica>, documents: usize) -> Result<(), Box<dyn std::error::Error>> {
    let db = DatabaseName {
        database: "bench".into(),
    };
    store
        .write(
            Op::CreateDatabase {
                id: Some("bench".into()),
                display_name: "Bench".into(),
            },
            None,
        )
        .await?;
    store
        .write(
            Op::CreateCollection {
                parent: db.clone(),
                id: Some("docs".into()),
                description: String::new(),
            },
            None,
        )
        .await?;
    let writers = 64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let parent = db.collection("docs");
        tasks.push(tokio::spawn(async move {
            for n in (w..documents).step_by(writers) {
                let op = Op::CreateDocument {
                    parent: parent.clone(),
                    id: Some(format!("doc-{n:07}")),
                    value: format!("{{\"n\": {n}, \"tag\": \"small\"}}"),
                };
                store.write(op, None).await?;
            }
            Ok::<_, distgo_db::error::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Sizes of the files in the log directory.
fn describe(dir: &Path) -> std::io::Result<String> {
    let mut parts = Vec::new();
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let size = entry.metadata()?.len();
        total += size;
        parts.push(format!(
            "{} {:.1} MiB",
            entry.file_name().to_string_lossy(),
            size as f64 / (1 << 20) as f64
        ));
    }
    parts.sort();
    Ok(format!(
        "{:.1} MiB in [{}]",
        total as f64 / (1 << 20) as f64,
        parts.join(", ")
    ))
}
