//! The dashboard and the alerts, checked against a real Prometheus.
//!
//! A Grafana panel whose query names a metric that does not exist shows
//! "No data" forever, and an alert on such a metric never fires: both fail
//! silently. So this test does what an operator's setup does, with real
//! processes:
//!
//! 1. start `distgo-worker` as a one-member replica set with `wal.path`
//!    and `metrics.port: 0` (so request, store, log, transaction and
//!    replication metrics all exist), reading both ports from its log;
//! 2. drive traffic: creates, gets (found and not), updates, lists,
//!    deletes, committed and rolled-back transactions, enough writes for
//!    snapshots;
//! 3. start Debian's `prometheus` scraping the worker every second and
//!    loading `fixtures/prometheus/alerts.yml`;
//! 4. ask Prometheus's HTTP API for **every query of
//!    `fixtures/grafana/distgo.json`** and **every alert expression**, and
//!    require a non-empty result for each.
//!
//! Grafana's variables are replaced as Grafana would: `$instance` by
//! `.+` (All), `$__rate_interval` by `1m`. Data means at least one series
//! with a number (a quantile of an empty histogram is NaN, which Grafana
//! draws as nothing). An alert expression is normally
//! empty (its condition is false on a healthy worker), so the rule is:
//! **an alert's `expr` ends in one threshold comparison (`> 0.05`,
//! `== 0`), and the expression before it must return data.** Rules are
//! also required to evaluate without error (`health: ok`).
//!
//! Without a `prometheus` binary the test says so loudly and passes, unless
//! `CI` is set (`.ci/run` installs it), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

#[path = "prometheus/harness.rs"]
mod harness;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use distgo_db::proto::database::{self as pb};
use harness::{Prometheus, Worker};
use tonic::transport::Channel;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The binary, or `None` after saying why it is missing (a failure in CI).
fn tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = harness::find(name) {
        return Some(path);
    }
    let why = format!(
        "`{name}` is not on PATH: install Debian's package with `apt-get install -y prometheus` \
         (.ci/run does)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("\n*** SKIPPED: {why} ***\n");
    None
}

#[test]
fn promtool_accepts_the_configuration_and_the_alert_rules() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    for (what, file) in [
        ("config", "fixtures/prometheus/prometheus.yml"),
        ("rules", "fixtures/prometheus/alerts.yml"),
    ] {
        let out = Command::new(&promtool)
            .args(["check", what])
            .arg(fixture(file))
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool check {what} {file}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `expr` of the dashboard, with Grafana's variables filled in, and
/// the query of its `$instance` variable.
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture("fixtures/grafana/distgo.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queries = Vec::new();
    fn walk(value: &serde_json::Value, title: &str, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                let title = map.get("title").and_then(|t| t.as_str()).unwrap_or(title);
                if let Some(expr) = map.get("expr").and_then(|e| e.as_str()) {
                    let expr = expr
                        .replace("$__rate_interval", "1m")
                        .replace("$instance", ".+");
                    out.push((format!("panel {title:?}"), expr));
                }
                for child in map.values() {
                    walk(child, title, out);
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| walk(item, title, out));
            }
            _ => {}
        }
    }
    walk(&dashboard["panels"], "", &mut queries);
    let variable = dashboard["templating"]["list"]
        .as_array()
        .and_then(|list| list.iter().find(|v| v["name"] == "instance"))
        .and_then(|v| v["definition"].as_str())
        .unwrap_or_default();
    let metric = variable
        .strip_prefix("label_values(")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or(variable);
    queries.push(("variable $instance".into(), metric.to_owned()));
    queries
}

/// Every alert's expression without its final threshold comparison.
fn alert_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture("fixtures/prometheus/alerts.yml")).unwrap();
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let threshold = regex::Regex::new(r"(?s)^(.*?)\s*(==|!=|>=|<=|>|<)\s*-?[0-9.]+\s*$").unwrap();
    let mut queries = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let expr = rule["expr"].as_str().unwrap().trim();
            let inner = threshold
                .captures(expr)
                .unwrap_or_else(|| panic!("alert {name}: expr must end in `> N` or `== N`"))[1]
                .to_owned();
            queries.push((format!("alert {name}"), inner));
        }
    }
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_alert_finds_data_in_a_real_prometheus() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let queries: Vec<_> = dashboard_queries()
        .into_iter()
        .chain(alert_queries())
        .collect();
    assert!(queries.len() >= 20, "only {} queries", queries.len());
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker::start(dir.path());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", worker.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    setup(&channel).await;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(traffic(channel.clone(), stop.clone()));

    let rules = fixture("fixtures/prometheus/alerts.yml");
    let prometheus = Prometheus::start(&binary, dir.path(), worker.metrics, &rules);
    let results = tokio::task::spawn_blocking(move || {
        let outcome = until_all_answer(&prometheus, &queries);
        (outcome, prometheus.rule_health(), prometheus.process.log())
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let calls = traffic.await.unwrap();
    let ((passed, failed), health, prometheus_log) = results;

    println!("traffic: {calls} loops of calls");
    for (what, expr, series) in &passed {
        println!("ok   {what}: {series} series: {expr}");
    }
    for (what, expr, why) in &failed {
        println!("FAIL {what}: {why}: {expr}");
    }
    assert!(
        failed.is_empty(),
        "{} of {} queries found no data (see above); worker log:\n{}\nprometheus log:\n{prometheus_log}",
        failed.len(),
        passed.len() + failed.len(),
        worker.process.log()
    );
    let unhealthy: Vec<_> = health.iter().filter(|(_, h)| h != "ok").collect();
    assert!(health.len() >= 6, "rules loaded: {health:?}");
    assert!(
        unhealthy.is_empty(),
        "rules that fail to evaluate: {unhealthy:?}"
    );
}

type Passed = Vec<(String, String, usize)>;
type Failed = Vec<(String, String, String)>;

/// Asks every query until each has answered with data once, for at most
/// 90 s (a rate needs two scrapes; snapshots need enough writes).
fn until_all_answer(prometheus: &Prometheus, queries: &[(String, String)]) -> (Passed, Failed) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut passed = Vec::new();
    let mut waiting: Vec<(String, String, String)> = queries
        .iter()
        .map(|(what, expr)| (what.clone(), expr.clone(), "not asked".into()))
        .collect();
    // Let a few scrapes of real traffic land before the first round.
    std::thread::sleep(Duration::from_secs(5));
    while !waiting.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for (what, expr, _) in waiting {
            match prometheus.query(&expr) {
                Ok(result) if result.iter().any(finite) => passed.push((what, expr, result.len())),
                Ok(result) if result.is_empty() => still.push((what, expr, "empty result".into())),
                Ok(_) => still.push((what, expr, "only NaN (no observations yet)".into())),
                Err(why) => still.push((what, expr, why)),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    (passed, waiting)
}

/// Whether a series of an instant query has a number for a value: a
/// quantile of a histogram nothing was observed in is NaN, which a panel
/// draws as nothing, so it does not count as data.
fn finite(series: &serde_json::Value) -> bool {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(f64::is_finite)
}

const DB: &str = "databases/shop";
const COLLECTION: &str = "databases/shop/collections/carts";

/// The database and collection the traffic uses; retried while the member
/// elects itself.
async fn setup(channel: &Channel) {
    let mut databases = pb::database_service_client::DatabaseServiceClient::new(channel.clone());
    let mut collections =
        pb::collection_service_client::CollectionServiceClient::new(channel.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let created = databases
            .create_database(pb::CreateDatabaseRequest {
                database_id: "shop".into(),
                database: Some(pb::Database {
                    display_name: "Shop".into(),
                    ..Default::default()
                }),
            })
            .await;
        match created {
            Ok(_) => break,
            Err(status) if Instant::now() < deadline => {
                eprintln!("waiting for a leader: {}", status.message());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("cannot create the database: {status:?}"),
        }
    }
    collections
        .create_collection(pb::CreateCollectionRequest {
            parent: DB.into(),
            collection_id: "carts".into(),
            collection: Some(pb::Collection::default()),
        })
        .await
        .unwrap();
}

/// Calls of every kind until `stop` (at most 100 000 loops or 3 minutes);
/// returns how many loops ran. Failures other than the expected NOT_FOUND
/// are counted by the worker and shown by the dashboard, not asserted here.
async fn traffic(channel: Channel, stop: Arc<AtomicBool>) -> u64 {
    let mut documents = pb::document_service_client::DocumentServiceClient::new(channel.clone());
    let mut transactions = pb::transaction_service_client::TransactionServiceClient::new(channel);
    let began = Instant::now();
    let mut loops = 0u64;
    while !stop.load(Ordering::Relaxed)
        && loops < 100_000
        && began.elapsed() < Duration::from_secs(180)
    {
        let id = format!("d{loops}");
        let name = format!("{COLLECTION}/documents/{id}");
        let value = format!(r#"{{"n":{loops}}}"#);
        let _ = documents
            .create_document(pb::CreateDocumentRequest {
                parent: COLLECTION.into(),
                document_id: id.clone(),
                document: Some(pb::Document {
                    value: value.clone(),
                    ..Default::default()
                }),
            })
            .await;
        let _ = documents
            .get_document(pb::GetDocumentRequest { name: name.clone() })
            .await;
        let _ = documents
            .get_document(pb::GetDocumentRequest {
                name: format!("{COLLECTION}/documents/missing"),
            })
            .await;
        let _ = documents
            .update_document(pb::UpdateDocumentRequest {
                document: Some(pb::Document {
                    name: name.clone(),
                    value: r#"{"updated":true}"#.into(),
                    ..Default::default()
                }),
                update_mask: None,
            })
            .await;
        if loops.is_multiple_of(5) {
            let _ = documents
                .list_documents(pb::ListDocumentsRequest {
                    parent: COLLECTION.into(),
                    page_size: 10,
                    ..Default::default()
                })
                .await;
            let _ = documents
                .delete_document(pb::DeleteDocumentRequest { name })
                .await;
            transaction(&mut transactions, loops, loops.is_multiple_of(10)).await;
        }
        loops += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loops
}

/// Begins a transaction that creates one document, then commits it (or
/// rolls it back).
async fn transaction(
    client: &mut pb::transaction_service_client::TransactionServiceClient<Channel>,
    n: u64,
    commit: bool,
) {
    let Ok(begun) = client
        .begin(pb::BeginRequest {
            database_name: DB.into(),
        })
        .await
    else {
        return;
    };
    let transaction_id = begun.into_inner().transaction_id;
    let _ = client
        .execute(pb::ExecuteRequest {
            database_name: DB.into(),
            transaction_id: transaction_id.clone(),
            operations: vec![pb::Operation {
                mutation_type: pb::MutationType::Create as i32,
                entity_type: pb::EntityType::Document as i32,
                name: format!("{COLLECTION}/documents/t{n}"),
                value: r#"{"txn":true}"#.into(),
            }],
        })
        .await;
    if commit {
        let _ = client
            .commit(pb::CommitRequest {
                database_name: DB.into(),
                transaction_id,
            })
            .await;
    } else {
        let _ = client
            .rollback(pb::RollbackRequest {
                database_name: DB.into(),
                transaction_id,
            })
            .await;
    }
}
