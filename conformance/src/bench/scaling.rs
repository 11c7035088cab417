//! Scaling runs: does a call cost the same with 10^4 and 10^6 documents?
//!
//! For each size N, on a *fresh* worker process (so memory is the data's):
//!
//! ```text
//!  spawn worker ── RSS empty
//!  preload N documents ── RSS loaded        RSS/doc = (loaded - empty) / N
//!  Get     (closed loop, --concurrency)
//!  List    first page            (1 caller: latency of one page)
//!  List    page after 0.9 N      (token found by paging there first)
//!  Create  (closed loop, --concurrency; grows the collection, so last)
//!  kill worker
//!  --recovery: worker with wal.path, preload N, SIGKILL, restart:
//!              time to listening, time to the first Get that finds doc N-1
//! ```
//!
//! A store whose reads are O(log N) and whose pages are range scans keeps
//! Get and Create throughput flat and the deep page as cheap as the first;
//! the JSON and the markdown table make any growth visible.

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::{SeedableRng, rngs::StdRng};
use serde::Serialize;

use super::{
    BenchArgs, MeasuredServer, Settings,
    dataset::{self, Dataset},
    now_rfc3339,
    report::{self, Machine, RunReport},
    spawn::{SpawnSpec, SpawnedWorker},
    workload::{Call, Workload},
};
use crate::proto::database::{self as pb, document_service_client::DocumentServiceClient};

/// The `schema` of a scaling run's JSON.
pub const SCALING_SCHEMA: &str = "distgo-bench-scaling/1";
/// Where the deep List page starts, as a fraction of the documents.
const DEEP: f64 = 0.9;

/// One data-set size.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Preloaded documents.
    pub docs: u64,
    /// Seconds the preload took.
    pub preload_s: f64,
    /// Worker RSS before preloading, bytes.
    pub rss_empty_bytes: Option<u64>,
    /// Worker RSS after preloading, bytes.
    pub rss_loaded_bytes: Option<u64>,
    /// (loaded - empty) / docs.
    pub rss_per_doc_bytes: Option<f64>,
    /// GetDocument closed loop.
    pub get: RunReport,
    /// ListDocuments of the first page, one caller.
    pub list_first: RunReport,
    /// ListDocuments of the page after 90% of the documents, one caller.
    pub list_deep: RunReport,
    /// CreateDocument closed loop.
    pub create: RunReport,
    /// Deep page p50 ÷ first page p50.
    pub deep_over_first_p50: f64,
    /// Restart time with `wal.path`, or why it was not measured.
    pub recovery: Recovery,
}

/// Recovery after a crash, with the worker's durable log.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// Not measured, and why.
    Skipped(String),
    /// Measured.
    Measured {
        /// From spawning the restarted worker to its listening line.
        listening_s: f64,
        /// From spawning to the first Get that found the last document.
        first_read_s: f64,
    },
}

/// The JSON document of a scaling run.
#[derive(Debug, Serialize)]
pub struct ScalingReport {
    /// [`SCALING_SCHEMA`].
    pub schema: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// The options it ran with.
    pub settings: Settings,
    /// One entry per size, smallest first.
    pub steps: Vec<Step>,
}

/// Measures every size in `sizes`; prints a markdown table, writes `--json`.
pub async fn run(
    args: &BenchArgs,
    sizes: &[u64],
    seed: u64,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<RunReport>> {
    let binary = args
        .spawn_worker
        .clone()
        .context("--scaling needs --spawn-worker")?;
    let spec = args.spawn_spec(binary);
    let started_at = now_rfc3339();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut steps = Vec::new();
    for &docs in sizes {
        let step = measure_size(args, &spec, docs, seed, &mut rng, stop).await?;
        eprintln!(
            "{}",
            markdown(std::slice::from_ref(&step), args.value_bytes)
        );
        steps.push(step);
    }
    println!("{}", markdown(&steps, args.value_bytes));
    let runs = steps
        .iter()
        .flat_map(|s| [&s.get, &s.list_first, &s.list_deep, &s.create])
        .cloned()
        .collect();
    if let Some(path) = &args.json {
        let report = ScalingReport {
            schema: SCALING_SCHEMA,
            started_at,
            machine: Machine::this(args.pinning.as_ref()),
            settings: Settings::of(args, seed),
            steps,
        };
        report::write_json(path, &report)?;
    }
    Ok(runs)
}

async fn measure_size(
    args: &BenchArgs,
    spec: &SpawnSpec,
    docs: u64,
    seed: u64,
    rng: &mut StdRng,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Step> {
    let label = format!("{docs} docs");
    let worker = SpawnedWorker::start(spec)?;
    let target =
        MeasuredServer::connect(&label, &worker.url(), args.connections, Some(worker.cpu()))
            .await?;
    let rss_empty_bytes = worker.rss_bytes();
    let mut dataset = Dataset::new(rng, docs, args.value_bytes);
    dataset::create(&target.channels[0], &dataset).await?;
    let began = Instant::now();
    dataset::preload(
        &target.channels,
        &Arc::new(dataset.clone()),
        args.preload_concurrency,
        &label,
    )
    .await?;
    let preload_s = began.elapsed().as_secs_f64();
    let rss_loaded_bytes = worker.rss_bytes();

    let phase = async |name: &str, workload, concurrency, dataset: &Dataset| {
        let plan = args.plan(workload, concurrency, seed);
        target
            .measure(name, &Arc::new(dataset.clone()), &plan, stop)
            .await
    };
    let get = phase("get", Workload::Only(Call::Get), args.concurrency, &dataset).await?;
    let list_first = phase("list-first", Workload::Only(Call::List), 1, &dataset).await?;
    dataset.list_token = dataset::deep_token(&target.channels[0], &dataset, DEEP).await?;
    let list_deep = phase("list-deep", Workload::Only(Call::List), 1, &dataset).await?;
    let create = phase(
        "create",
        Workload::Only(Call::Create),
        args.concurrency,
        &dataset,
    )
    .await?;
    drop(target);
    worker.kill();

    let recovery = if args.recovery {
        recovery(args, spec, docs, rng).await?
    } else {
        Recovery::Skipped("not asked (--recovery)".into())
    };
    Ok(Step {
        docs,
        preload_s: (preload_s * 10.0).round() / 10.0,
        rss_empty_bytes,
        rss_loaded_bytes,
        rss_per_doc_bytes: per_doc(rss_empty_bytes, rss_loaded_bytes, docs),
        deep_over_first_p50: ratio(list_deep.latency_us.p50, list_first.latency_us.p50),
        get,
        list_first,
        list_deep,
        create,
        recovery,
    })
}

fn per_doc(empty: Option<u64>, loaded: Option<u64>, docs: u64) -> Option<f64> {
    let grown = loaded?.saturating_sub(empty?);
    (docs > 0).then(|| (grown as f64 / docs as f64).round())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        (a / b * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Preloads `docs` into a worker with `wal.path`, kills it, and times the
/// restart. A worker that refuses `wal.path` is skipped with its reason.
async fn recovery(
    args: &BenchArgs,
    spec: &SpawnSpec,
    docs: u64,
    rng: &mut StdRng,
) -> anyhow::Result<Recovery> {
    let dir = tempfile::tempdir()?;
    let spec = SpawnSpec {
        wal_path: Some(dir.path().join("wal")),
        ..spec.clone()
    };
    let worker = match SpawnedWorker::start(&spec) {
        Ok(worker) => worker,
        Err(err) => {
            let reason = format!("{err:#}");
            let last = reason
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            return Ok(Recovery::Skipped(format!(
                "worker refused wal.path: {last}"
            )));
        }
    };
    let channels = MeasuredServer::connect("recovery", &worker.url(), args.connections, None)
        .await?
        .channels;
    let dataset = Dataset::new(rng, docs, args.value_bytes);
    dataset::create(&channels[0], &dataset).await?;
    dataset::preload(
        &channels,
        &Arc::new(dataset.clone()),
        args.preload_concurrency,
        "recovery",
    )
    .await?;
    drop(channels);
    worker.kill();

    let began = Instant::now();
    let restarted = SpawnedWorker::start(&spec)?;
    let listening_s = restarted.startup.as_secs_f64();
    let mut client = DocumentServiceClient::connect(restarted.url()).await?;
    let last = pb::GetDocumentRequest {
        name: dataset.preloaded_name(docs.saturating_sub(1)),
    };
    let deadline = began + Duration::from_secs(120);
    while client.get_document(last.clone()).await.is_err() {
        if Instant::now() > deadline {
            return Ok(Recovery::Skipped(format!(
                "{} was not readable 120 s after the restart",
                last.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Recovery::Measured {
        listening_s,
        first_read_s: began.elapsed().as_secs_f64(),
    })
}

/// `text` cut to at most `max` characters, marked with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The steps as a markdown table (README-ready).
pub fn markdown(steps: &[Step], value_bytes: usize) -> String {
    let mut out = format!(
        "| docs | Get ops/s | Create ops/s | List first p50 µs | List deep p50 µs | deep/first | RSS MiB | RSS/doc B (target ≤ {}) | recovery |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        value_bytes + 300
    );
    for s in steps {
        let mib = s
            .rss_loaded_bytes
            .map_or("?".into(), |b| format!("{:.0}", b as f64 / 1048576.0));
        let per_doc = s
            .rss_per_doc_bytes
            .map_or("?".into(), |b| format!("{b:.0}"));
        let recovery = match &s.recovery {
            Recovery::Skipped(why) => format!("skipped: {}", shorten(why, 60)),
            Recovery::Measured {
                listening_s,
                first_read_s,
            } => {
                format!("{listening_s:.2} s to listen, {first_read_s:.2} s to first read")
            }
        };
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {mib} | {per_doc} | {recovery} |\n",
            s.docs,
            s.get.ops_per_s,
            s.create.ops_per_s,
            s.list_first.latency_us.p50,
            s.list_deep.latency_us.p50,
            s.deep_over_first_p50
        ));
    }
    if let (Some(first), Some(last)) = (steps.first(), steps.last())
        && steps.len() > 1
    {
        out.push_str(&format!(
            "\n{} vs {} docs: Get {:.2}x, Create {:.2}x\n",
            last.docs,
            first.docs,
            ratio(last.get.ops_per_s, first.get.ops_per_s),
            ratio(last.create.ops_per_s, first.create.ops_per_s)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hdrhistogram::Histogram;

    use super::*;
    use crate::bench::load::Measured;

    fn run(name: &str, ops: u64, p50_us: u64) -> RunReport {
        let mut latency = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        latency.record(p50_us * 1000).unwrap();
        let measured = Measured {
            ok: ops,
            latency,
            errors: BTreeMap::new(),
            window: Duration::from_secs(1),
            calls: ops,
        };
        RunReport::new("x", "a", name, 16, &measured)
    }

    fn step(docs: u64, get: u64, recovery: Recovery) -> Step {
        Step {
            docs,
            preload_s: 1.0,
            rss_empty_bytes: Some(10 << 20),
            rss_loaded_bytes: Some((10 << 20) + docs * 500),
            rss_per_doc_bytes: per_doc(Some(10 << 20), Some((10 << 20) + docs * 500), docs),
            get: run("get", get, 100),
            list_first: run("list-first", 100, 200),
            list_deep: run("list-deep", 100, 300),
            create: run("create", 5000, 100),
            deep_over_first_p50: 1.5,
            recovery,
        }
    }

    #[test]
    fn long_reasons_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("no wal", 60), "no wal");
        assert_eq!(shorten("ééééé", 3), "ééé…");
    }

    #[test]
    fn rss_per_doc_is_growth_over_documents() {
        assert_eq!(per_doc(Some(1000), Some(11_000), 10), Some(1000.0));
        assert_eq!(per_doc(None, Some(11_000), 10), None);
        assert_eq!(per_doc(Some(1000), Some(500), 10), Some(0.0));
        assert_eq!(per_doc(Some(1000), Some(2000), 0), None);
    }

    #[test]
    fn the_markdown_table_has_a_row_per_size_and_the_largest_vs_smallest_line() {
        let steps = [
            step(10_000, 40_000, Recovery::Skipped("no wal".into())),
            step(
                1_000_000,
                30_000,
                Recovery::Measured {
                    listening_s: 1.5,
                    first_read_s: 1.6,
                },
            ),
        ];
        let table = markdown(&steps, 256);
        assert!(table.contains("≤ 556"), "{table}");
        assert!(
            table.contains(
                "| 10000 | 40000 | 5000 | 200 | 300 | 1.50 | 15 | 500 | skipped: no wal |"
            ),
            "{table}"
        );
        assert!(
            table.contains("1.50 s to listen, 1.60 s to first read"),
            "{table}"
        );
        assert!(
            table.contains("1000000 vs 10000 docs: Get 0.75x, Create 1.00x"),
            "{table}"
        );
    }

    #[test]
    fn the_json_has_a_schema_and_a_tagged_recovery() {
        let skipped = serde_json::to_value(step(10, 1, Recovery::Skipped("why".into()))).unwrap();
        assert_eq!(skipped["recovery"], serde_json::json!({"skipped": "why"}));
        let measured = serde_json::to_value(step(
            10,
            1,
            Recovery::Measured {
                listening_s: 1.0,
                first_read_s: 2.0,
            },
        ))
        .unwrap();
        assert_eq!(measured["recovery"]["measured"]["first_read_s"], 2.0);
        for key in [
            "docs",
            "preload_s",
            "rss_per_doc_bytes",
            "get",
            "create",
            "list_first",
            "list_deep",
            "deep_over_first_p50",
        ] {
            assert!(measured.get(key).is_some(), "missing {key}");
        }
        assert_eq!(SCALING_SCHEMA, "distgo-bench-scaling/1");
    }
}
