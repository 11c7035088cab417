//! What the master's hop costs: GetDocument and CreateDocument straight to
//! a worker and through a master in front of it, same process, same run.
//!
//! ```text
//! cargo run --release --example master_overhead -- [SECONDS] [CONCURRENCY...]
//! ```
//!
//! A worker (memory only) and a master over it (one set) run in-process
//! on 127.0.0.1; for each concurrency, `c` tasks each loop one request
//! after the other for SECONDS (default 3), first to the worker, then to
//! the master. It prints requests per second and the ratio master/direct.
//! On one machine the client, the master and the worker share the CPUs, so
//! the ratio is a floor: with the master on its own machine its CPU would
//! not be taken from the worker.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use distgo_db::{
    config::Config,
    master::{Master, MasterConfig},
    proto::{database as w, master::database as m},
};
use tonic::transport::{Channel, Endpoint};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(3), |s| s.parse())?;
    let levels: Vec<usize> = args.map(|s| s.parse()).collect::<Result<_, _>>()?;
    let levels = if levels.is_empty() {
        vec![16, 64]
    } else {
        levels
    };
    let duration = Duration::from_secs(seconds);

    let worker_config = Config::from_yaml(
        "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 10s\nlogging:\n  level: error\n",
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let worker = listener.local_addr()?;
    tokio::spawn(distgo_db::Worker::new(worker_config).serve(listener, std::future::pending()));
    let master_config = MasterConfig::from_yaml(&format!(
        "name: m\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 10s\nlogging:\n  level: error\n\
         master:\n  sets:\n    a: [{worker}]\n  refresh: 1m\n"
    ))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let master = listener.local_addr()?;
    tokio::spawn(Master::new(master_config).serve(listener, std::future::pending()));

    let direct = connect(&worker.to_string()).await?;
    let routed = connect(&master.to_string()).await?;
    setup(routed.clone()).await?;

    println!("| operation | c | direct req/s | via master req/s | ratio |");
    println!("|---|---|---|---|---|");
    for &c in &levels {
        for op in [Op::Get, Op::Create] {
            let d = run(op, Target::Direct(direct.clone()), c, duration).await;
            let r = run(op, Target::Master(routed.clone()), c, duration).await;
            println!("| {op:?} | {c} | {d:.0} | {r:.0} | {:.2} |", r / d);
        }
    }
    Ok(())
}

async fn connect(address: &str) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect()
        .await
}

async fn setup(channel: Channel) -> Result<(), tonic::Status> {
    m::database_service_client::DatabaseServiceClient::new(channel.clone())
        .create_database(m::CreateDatabaseRequest {
            database_id: "bench".into(),
            database: Some(m::Database {
                display_name: "bench".into(),
                ..Default::default()
            }),
        })
        .await?;
    m::collection_service_client::CollectionServiceClient::new(channel.clone())
        .create_collection(m::CreateCollectionRequest {
            parent: "databases/bench".into(),
            collection_id: "c".into(),
            collection: Some(Default::default()),
        })
        .await?;
    m::document_service_client::DocumentServiceClient::new(channel)
        .create_document(m::CreateDocumentRequest {
            parent: "databases/bench/collections/c".into(),
            document_id: "hot".into(),
            document: Some(m::Document {
                value: "{\"k\":1}".into(),
                ..Default::default()
            }),
        })
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Create,
}

#[derive(Clone)]
enum Target {
    Direct(Channel),
    Master(Channel),
}

/// Requests per second of `c` tasks doing `op` against `target`.
async fn run(op: Op, target: Target, c: usize, duration: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..c {
        let (stop, done, target) = (stop.clone(), done.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if call(op, &target, task, n).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

async fn call(op: Op, target: &Target, task: usize, n: u64) -> bool {
    let parent = "databases/bench/collections/c".to_owned();
    let value = "{\"k\":1}".to_owned();
    let id = format!("t{task}-{n}-{}", std::process::id());
    match (op, target) {
        (Op::Get, Target::Direct(ch)) => {
            w::document_service_client::DocumentServiceClient::new(ch.clone())
                .get_document(w::GetDocumentRequest {
                    name: format!("{parent}/documents/hot"),
                })
                .await
                .is_ok()
        }
        (Op::Get, Target::Master(ch)) => {
            m::document_service_client::DocumentServiceClient::new(ch.clone())
                .get_document(m::GetDocumentRequest {
                    name: format!("{parent}/documents/hot"),
                })
                .await
                .is_ok()
        }
        (Op::Create, Target::Direct(ch)) => {
            w::document_service_client::DocumentServiceClient::new(ch.clone())
                .create_document(w::CreateDocumentRequest {
                    parent,
                    document_id: format!("d{id}"),
                    document: Some(w::Document {
                        value,
                        ..Default::default()
                    }),
                })
                .await
                .is_ok()
        }
        (Op::Create, Target::Master(ch)) => {
            m::document_service_client::DocumentServiceClient::new(ch.clone())
                .create_document(m::CreateDocumentRequest {
                    parent,
                    document_id: format!("m{id}"),
                    document: Some(m::Document {
                        value,
                        ..Default::default()
                    }),
                })
                .await
                .is_ok()
        }
    }
}
