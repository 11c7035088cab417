//! The load generator: `distgo-conformance bench`.
//!
//! Like the conformance suite, the bench talks to any worker by address and
//! knows only the wire contract. One run:
//!
//! ```text
//!  --null?  ┌────────────────────┐      ┌─────────────────────┐
//!   yes ──► │ null worker        │ then │ target (--addr, or  │
//!           │ (same RPCs, no     │ ───► │ --spawn-worker PATH)│
//!           │ store; in-process) │      │                     │
//!           └────────────────────┘      └─────────────────────┘
//!   each: create databases/bench-XXXXXXXX, preload --docs,
//!         warm up, measure the closed loop, delete the database
//!   then: table on stdout, target/null ratios, --json FILE
//! ```
//!
//! Measuring a null worker *in the same run* matters: absolute figures on a
//! shared 2-core machine move with everything else running, but the ratio
//! of two back-to-back measurements with the same client says how much of
//! the cost is the worker's own. `--baseline URL` measures a second worker
//! in the null worker's place, to compare two configurations of the same
//! binary (metrics, TLS and tokens on against off): the target may carry
//! `--header` and `--tls-ca`, the baseline is plain. `--fresh-baseline` spawns a second, fresh
//! copy of the `--spawn-worker` binary in the null worker's place: with
//! `--churn` it puts a churned worker beside a fresh one in the same
//! rounds. `--scaling` repeats the measurement over growing data sets
//! ([`scaling`]).
//!
//! Files: `args.rs` (the command line, [`BenchArgs`]), [`workload`] (what
//! is asked), [`dataset`] (what it is asked of), [`churn`] (writes and
//! deletes before measuring), [`load`] (the closed loop), [`null`] (the
//! ceiling), [`spawn`] (a worker process), [`measured`] (a server to
//! measure), [`procfs`] (its memory and CPU time), [`pinning`] (server and
//! client on separate cores), [`report`] (table and JSON), [`markdown`]
//! (the performance chapter's tables), [`scaling`] (cost vs data size);
//! `tests.rs` parses command lines.

mod args;
pub mod churn;
pub mod dataset;
pub mod load;
pub mod markdown;
pub mod measured;
pub mod null;
pub mod pinning;
pub mod procfs;
pub mod report;
pub mod scaling;
pub mod spawn;
pub mod workload;

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::SystemTime,
};

use rand::{SeedableRng, rngs::StdRng};

pub use self::args::{BenchArgs, Settings};
use self::{
    churn::Churn,
    dataset::Dataset,
    measured::MeasuredServer,
    null::{NullWorker, Running},
    procfs::CpuSource,
    report::{BENCH_SCHEMA, BenchReport, Machine, Ratio, RunReport},
    spawn::SpawnedWorker,
    workload::{Call, Workload},
};

/// The label of the `--fresh-baseline` worker in reports and tables.
const FRESH: &str = "fresh";

/// Runs a benchmark (or a scaling run). Exit code 1 if any call failed.
pub async fn run(mut args: BenchArgs) -> anyhow::Result<ExitCode> {
    args.validate().map_err(anyhow::Error::msg)?;
    args.choose_pinning()?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let stop = stop_on_ctrl_c();
    let runs = match &args.scaling {
        Some(sizes) => scaling::run(&args, sizes, seed, &stop).await?,
        None => single(&args, seed, &stop).await?,
    };
    let failed = runs.iter().any(|run| run.error_count() > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A flag that Ctrl-C sets, so runs stop early and still clean up.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: finishing the current run and cleaning up");
            flag.store(true, Ordering::Relaxed);
        }
    });
    stop
}

/// The null worker (if asked), then the target, for each round; prints and
/// saves the report.
async fn single(
    args: &BenchArgs,
    seed: u64,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<RunReport>> {
    let started_at = now_rfc3339();
    let mut rng = StdRng::seed_from_u64(seed);
    let null = match args.null {
        true => {
            let cpus = args.pinning.as_ref().map(|p| p.server.clone());
            let worker = NullWorker::new(args.value_bytes);
            Some(Running::start(worker, args.null_threads(), cpus)?)
        }
        false => None,
    };
    let spawned = match &args.spawn_worker {
        Some(binary) => Some(SpawnedWorker::start(&args.spawn_spec(binary.clone()))?),
        None => None,
    };
    let fresh = match (&args.spawn_worker, args.fresh_baseline) {
        (Some(binary), true) => Some(SpawnedWorker::start(&args.spawn_spec(binary.clone()))?),
        _ => None,
    };
    let mut targets = Vec::new();
    if let Some(null) = &null {
        let cpu = Some(CpuSource::Threads(null::THREAD_NAME));
        let addr = format!("http://{}", null.addr);
        targets.push(MeasuredServer::connect("null", &addr, args.connections, cpu).await?);
    }
    if let Some(fresh) = &fresh {
        let (addr, cpu) = (fresh.url(), Some(fresh.cpu()));
        targets.push(MeasuredServer::connect(FRESH, &addr, args.connections, cpu).await?);
    }
    if let Some(addr) = &args.baseline {
        targets.push(MeasuredServer::connect("baseline", addr, args.connections, None).await?);
    }
    if let Some(addr) = spawned
        .as_ref()
        .map(SpawnedWorker::url)
        .or(args.addr.clone())
    {
        let cpu = spawned.as_ref().map(SpawnedWorker::cpu);
        let access = measured::Access {
            tls_ca: args.tls_ca.clone(),
            headers: args.headers.clone(),
            api: args.api,
        };
        let target =
            MeasuredServer::connect_with("target", &addr, args.connections, cpu, &access).await?;
        targets.push(target);
    }
    let mut datasets = Vec::new();
    let outcome = async {
        let docs = if args.workload.reads_preloaded() {
            args.docs
        } else {
            0
        };
        for target in &targets {
            let dataset = Dataset::new(&mut rng, docs, args.value_bytes);
            dataset::create(&target.channels[0], &dataset).await?;
            datasets.push(dataset);
            if let Some(dataset) = datasets.last_mut() {
                fill(target, args, dataset).await?;
            }
            if target.label == "target" {
                let churn = Churn {
                    creates: args.churn,
                    updates: args.churn_updates,
                };
                churn
                    .run(target, &mut rng, args.value_bytes, args.preload_concurrency)
                    .await?;
            }
        }
        rounds(&targets, &datasets, args, seed, stop).await
    }
    .await;
    for (target, dataset) in targets.iter().zip(&datasets) {
        if let Err(err) = dataset::delete(&target.channels[0], dataset).await {
            eprintln!("{}: {err:#}", target.label);
        }
    }
    drop(targets);
    // Joining the null worker's thread blocks; keep it off the runtime.
    tokio::task::spawn_blocking(move || drop(null)).await?;
    let mut runs = outcome?;
    if let (Some(spawned), Some(last)) = (&spawned, runs.last_mut()) {
        last.worker_rss_bytes = spawned.rss_bytes();
    }
    print!("{}", report::table(&runs));
    let compared = args.null || args.baseline.is_some() || args.fresh_baseline;
    let ratios = ratios(&runs, compared);
    let reference = runs.first().map_or("null", |run| run.target.as_str());
    let ratio = report::median_ratio(&ratios);
    if let Some(ratio) = &ratio {
        let cpu = ratio
            .cpu
            .map_or(String::new(), |cpu| format!(", CPU per call {cpu:.3}"));
        println!(
            "target/{reference}: throughput {:.3}, p99 {:.3}{cpu}{}",
            ratio.throughput,
            ratio.p99,
            if ratios.len() > 1 {
                format!(" (median of {} rounds)", ratios.len())
            } else {
                String::new()
            }
        );
    }
    let machine = Machine::this(args.pinning.as_ref());
    if let Some(path) = &args.markdown {
        let workload = args.workload.to_string();
        let row = markdown::row(&markdown::Row {
            workload: args.label.as_deref().unwrap_or(&workload),
            value_bytes: args.value_bytes,
            concurrency: args.concurrency,
            runs: &runs,
            reference,
            ratio: ratio.as_ref(),
        });
        let settings = format!(
            "{} documents preloaded, {} connections, {} rounds of {:?} after {:?} of warm-up.",
            args.docs, args.connections, args.rounds, args.duration, args.warmup
        );
        markdown::append(
            path,
            &markdown::preamble(&machine, &started_at, &settings),
            reference,
            &row,
        )?;
    }
    if let Some(path) = &args.json {
        let report = BenchReport {
            schema: BENCH_SCHEMA,
            started_at,
            machine,
            settings: Settings::of(args, seed),
            runs: runs.clone(),
            rounds: ratios,
            ratio,
        };
        report::write_json(path, &report)?;
    }
    Ok(runs)
}

/// Preloads the documents of `dataset`, and finds the deep page token if
/// the workload lists from there.
async fn fill(
    target: &MeasuredServer,
    args: &BenchArgs,
    dataset: &mut Dataset,
) -> anyhow::Result<()> {
    let shared = Arc::new(dataset.clone());
    dataset::preload(
        &target.channels,
        &shared,
        args.preload_concurrency,
        &target.label,
    )
    .await?;
    if args.workload == Workload::Only(Call::List) && args.list_depth > 0.0 {
        dataset.list_token =
            dataset::deep_token(&target.channels[0], dataset, args.list_depth).await?;
    }
    Ok(())
}

/// Each round measures every target in turn (null first).
async fn rounds(
    targets: &[MeasuredServer],
    datasets: &[Dataset],
    args: &BenchArgs,
    seed: u64,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<RunReport>> {
    let mut plan = args.plan(args.workload, args.concurrency, seed);
    let name = args.workload.to_string();
    let mut runs = Vec::new();
    for round in 0..args.rounds {
        plan.round = round;
        for (target, dataset) in targets.iter().zip(datasets) {
            runs.push(
                target
                    .measure(&name, &Arc::new(dataset.clone()), &plan, stop)
                    .await?,
            );
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(runs)
}

/// target/reference (the null worker or the baseline) of each round, when
/// both were measured.
fn ratios(runs: &[RunReport], with_null: bool) -> Vec<Ratio> {
    if !with_null {
        return Vec::new();
    }
    runs.chunks_exact(2)
        .map(|pair| Ratio::of(&pair[1], &pair[0]))
        .collect()
}

/// The current time, RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests;
