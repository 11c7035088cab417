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
//! `--header` and `--tls-ca`, the baseline is plain. `--scaling` repeats the measurement over
//! growing data sets ([`scaling`]).
//!
//! Files: [`workload`] (what is asked), [`dataset`] (what it is asked of),
//! [`churn`] (writes and deletes before measuring),
//! [`load`] (the closed loop), [`null`] (the ceiling), [`spawn`] (a worker
//! process), [`measured`] (a server to measure), [`procfs`] (its memory and
//! CPU time), [`pinning`] (server and client on separate cores),
//! [`report`] (table and JSON), [`markdown`] (the performance chapter's
//! tables), [`scaling`] (cost vs data size).

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
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use rand::{SeedableRng, rngs::StdRng};
use serde::Serialize;

use self::{
    churn::Churn,
    dataset::{Dataset, MAX_VALUE_BYTES, MIN_VALUE_BYTES},
    load::LoadPlan,
    measured::MeasuredServer,
    null::{NullWorker, Running},
    pinning::{CpuList, Pinning},
    procfs::CpuSource,
    report::{BENCH_SCHEMA, BenchReport, Machine, Ratio, RunReport},
    spawn::{SpawnSpec, SpawnedWorker},
    workload::{Call, KeyDist, Workload},
};

/// Options of `distgo-conformance bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// The worker to measure, e.g. `http://127.0.0.1:55055`.
    #[arg(long, env = "DISTGO_ADDR")]
    pub addr: Option<String>,
    /// Start this worker binary on 127.0.0.1:0 and measure it (instead of --addr).
    #[arg(long, value_name = "PATH")]
    pub spawn_worker: Option<PathBuf>,
    /// Also measure a null worker (no store) first, and report target/null.
    #[arg(long)]
    pub null: bool,
    /// Measure this worker too, alternately with the target, and report
    /// target/baseline (instead of --null).
    #[arg(long, value_name = "URL")]
    pub baseline: Option<String>,
    /// Metadata sent with every call to the target: `authorization=Bearer TOKEN`.
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// The CA of the target's TLS certificate (for an https:// --addr).
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// Measure null and target alternately this many times; the report's
    /// ratio is the median of the rounds' ratios (steadier on a busy machine).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// get | create | update | list | mixed:R/W (R% gets, W% updates).
    #[arg(long, default_value = "get")]
    pub workload: Workload,
    /// Calls in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// The measured window: 10s, 500ms, 1m ...
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Load before the measured window, not recorded.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Documents preloaded before measuring (not needed by `create`).
    #[arg(long, default_value_t = 10_000)]
    pub docs: u64,
    /// Bytes of every document value (a JSON object), 8-4096.
    #[arg(long, default_value_t = 256)]
    pub value_bytes: usize,
    /// Which preloaded documents Gets and Updates hit.
    #[arg(long, value_enum, default_value_t = KeyDist::Uniform)]
    pub key_dist: KeyDist,
    /// The exponent of --key-dist zipf.
    #[arg(long, default_value_t = 0.99)]
    pub zipf_s: f64,
    /// page_size of List calls.
    #[arg(long, default_value_t = 100)]
    pub page_size: i32,
    /// Where List calls start, as a fraction of the preloaded documents (0: first page).
    #[arg(long, default_value_t = 0.0)]
    pub list_depth: f64,
    /// Calls in flight while preloading.
    #[arg(long, default_value_t = 64)]
    pub preload_concurrency: usize,
    /// Seeds keys, mixes and the database prefix (random if absent).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also append one row (medians over the rounds) to the markdown table
    /// in this file, writing its header first if the file is new.
    #[arg(long, value_name = "FILE", requires = "null")]
    pub markdown: Option<PathBuf>,
    /// The workload's name in the --markdown row (default: --workload).
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,
    /// Scaling run: for each size (e.g. 10000,100000,1000000) start a fresh
    /// --spawn-worker, preload, and measure Get, Create, List and memory.
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub scaling: Option<Vec<u64>>,
    /// Scaling run: also time recovery with `wal.path` (skipped, with a note,
    /// when the worker does not accept `wal.path`).
    #[arg(long)]
    pub recovery: bool,
    /// CPUs for the server measured (spawned worker, null worker); default:
    /// the lower half of the CPUs this process may use.
    #[arg(long, value_name = "LIST")]
    pub server_cpus: Option<CpuList>,
    /// CPUs for this load generator; default: the upper half.
    #[arg(long, value_name = "LIST")]
    pub client_cpus: Option<CpuList>,
    /// Do not pin server and client to separate CPUs.
    #[arg(long, conflicts_with_all = ["server_cpus", "client_cpus"])]
    pub no_pin: bool,
    /// Before measuring, create and delete this many documents in
    /// throwaway databases (the target only, not the null worker or the baseline).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub churn: u64,
    /// With --churn: this many updates of the churned documents as well.
    #[arg(long, default_value_t = 0, value_name = "M", requires = "churn")]
    pub churn_updates: u64,
    /// The split chosen at start ([`BenchArgs::choose_pinning`]).
    #[arg(skip)]
    pub pinning: Option<Pinning>,
}

impl BenchArgs {
    /// Checks combinations clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_VALUE_BYTES..=MAX_VALUE_BYTES).contains(&self.value_bytes) {
            return Err(format!(
                "--value-bytes must be {MIN_VALUE_BYTES}-{MAX_VALUE_BYTES}, got {}",
                self.value_bytes
            ));
        }
        if [
            self.concurrency,
            self.connections,
            self.preload_concurrency,
            self.rounds,
        ]
        .contains(&0)
        {
            return Err("--concurrency, --connections, --preload-concurrency and --rounds must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.list_depth) {
            return Err(format!(
                "--list-depth must be 0.0-1.0, got {}",
                self.list_depth
            ));
        }
        if self.duration.is_zero() {
            return Err("--duration must be more than 0".into());
        }
        if self.scaling.is_some() {
            if self.spawn_worker.is_none() {
                return Err(
                    "--scaling needs --spawn-worker PATH (it reads the worker's memory)".into(),
                );
            }
        } else if self.workload.reads_preloaded() && self.docs == 0 {
            return Err(format!(
                "--workload {} needs --docs of at least 1",
                self.workload
            ));
        } else if self.addr.is_none() && self.spawn_worker.is_none() && !self.null {
            return Err("give --addr URL (or DISTGO_ADDR), --spawn-worker PATH, or --null".into());
        }
        if self.addr.is_some() && self.spawn_worker.is_some() {
            return Err("give either --addr or --spawn-worker, not both".into());
        }
        if self.baseline.is_some() && (self.null || self.scaling.is_some()) {
            return Err("--baseline replaces --null, and does not go with --scaling".into());
        }
        Ok(())
    }

    /// The closed-loop settings for `workload` at `concurrency`.
    pub fn plan(&self, workload: Workload, concurrency: usize, seed: u64) -> LoadPlan {
        LoadPlan {
            workload,
            concurrency,
            warmup: self.warmup,
            duration: self.duration,
            key_dist: self.key_dist,
            zipf_s: self.zipf_s,
            page_size: self.page_size,
            seed,
            round: 0,
        }
    }

    fn spawn_spec(&self, binary: PathBuf) -> SpawnSpec {
        SpawnSpec {
            binary,
            wal_path: None,
            startup_timeout: Duration::from_secs(300),
            cpus: self.pinning.as_ref().map(|p| p.server.clone()),
        }
    }

    /// Decides where server and client run (nothing with `--no-pin`, or on
    /// one CPU), pins this process's threads to the client's CPUs, and
    /// records the split for the spawned and null workers.
    pub fn choose_pinning(&mut self) -> anyhow::Result<()> {
        if self.no_pin {
            return Ok(());
        }
        let allowed = pinning::allowed()?;
        self.pinning =
            Pinning::choose(&allowed, self.server_cpus.clone(), self.client_cpus.clone())
                .map_err(anyhow::Error::msg)?;
        if let Some(split) = &self.pinning {
            pinning::pin_process(std::process::id(), &split.client)?;
            eprintln!("pinned: {split}");
        }
        Ok(())
    }

    /// The null worker's runtime threads: one per server CPU.
    fn null_threads(&self) -> usize {
        match &self.pinning {
            Some(split) => split.server.0.len(),
            None => std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The settings a report records, as given on the command line.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// `--addr`, or the `--spawn-worker` binary.
    target: Option<String>,
    workload: String,
    concurrency: usize,
    connections: usize,
    duration_s: f64,
    warmup_s: f64,
    docs: u64,
    value_bytes: usize,
    key_dist: KeyDist,
    zipf_s: f64,
    page_size: i32,
    list_depth: f64,
    seed: u64,
    churn: u64,
    churn_updates: u64,
    /// Where server and client ran (`None`: not pinned).
    pinning: Option<String>,
}

impl Settings {
    fn of(args: &BenchArgs, seed: u64) -> Self {
        let binary = args
            .spawn_worker
            .as_ref()
            .map(|path| path.display().to_string());
        Settings {
            target: args.addr.clone().or(binary),
            workload: args.workload.to_string(),
            concurrency: args.concurrency,
            connections: args.connections,
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            docs: args.docs,
            value_bytes: args.value_bytes,
            key_dist: args.key_dist,
            zipf_s: args.zipf_s,
            page_size: args.page_size,
            list_depth: args.list_depth,
            seed,
            churn: args.churn,
            churn_updates: args.churn_updates,
            pinning: args.pinning.as_ref().map(ToString::to_string),
        }
    }
}

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
    let mut targets = Vec::new();
    if let Some(null) = &null {
        let cpu = Some(CpuSource::Threads(null::THREAD_NAME));
        let addr = format!("http://{}", null.addr);
        targets.push(MeasuredServer::connect("null", &addr, args.connections, cpu).await?);
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
    let compared = args.null || args.baseline.is_some();
    let ratios = ratios(&runs, compared);
    let ratio = report::median_ratio(&ratios);
    if let Some(ratio) = &ratio {
        let cpu = ratio
            .cpu
            .map_or(String::new(), |cpu| format!(", CPU per call {cpu:.3}"));
        println!(
            "target/{}: throughput {:.3}, p99 {:.3}{cpu}{}",
            if args.null { "null" } else { "baseline" },
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
            ratio: ratio.as_ref(),
        });
        let settings = format!(
            "{} documents preloaded, {} connections, {} rounds of {:?} after {:?} of warm-up.",
            args.docs, args.connections, args.rounds, args.duration, args.warmup
        );
        markdown::append(
            path,
            &markdown::preamble(&machine, &started_at, &settings),
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
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    /// Parses `args` as the command line alone would: the `env` fallback of
    /// `--addr` is switched off, so a `DISTGO_ADDR` exported for the
    /// conformance cases (`DISTGO_ADDR=... cargo test -p distgo-conformance`)
    /// cannot change what these tests see.
    fn parse(args: &[&str]) -> Result<BenchArgs, String> {
        use clap::{CommandFactory, FromArgMatches};

        let argv = std::iter::once("bench").chain(args.iter().copied());
        let command = Cli::command().mut_arg("addr", |arg| arg.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(argv)
            .map_err(|e| e.to_string())?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        cli.bench.validate()?;
        Ok(cli.bench)
    }

    #[test]
    fn defaults_measure_gets_at_concurrency_16_over_4_connections() {
        let args = parse(&["--addr", "http://127.0.0.1:1"]).unwrap();
        assert_eq!(args.workload, Workload::Only(Call::Get));
        assert_eq!((args.concurrency, args.connections), (16, 4));
        assert_eq!(
            (args.duration, args.warmup),
            (Duration::from_secs(10), Duration::from_secs(2))
        );
        assert_eq!(
            (args.docs, args.value_bytes, args.key_dist),
            (10_000, 256, KeyDist::Uniform)
        );
        assert!(!args.null);
    }

    #[test]
    fn every_option_parses() {
        let args = parse(&[
            "--null",
            "--workload",
            "mixed:90/10",
            "--concurrency",
            "64",
            "--connections",
            "2",
            "--duration",
            "1500ms",
            "--warmup",
            "0s",
            "--docs",
            "5",
            "--value-bytes",
            "4096",
            "--key-dist",
            "zipf",
            "--zipf-s",
            "1.2",
            "--page-size",
            "10",
            "--list-depth",
            "0.9",
            "--seed",
            "7",
            "--json",
            "out.json",
            "--server-cpus",
            "0",
            "--client-cpus",
            "1-2",
            "--churn",
            "4000000",
            "--churn-updates",
            "2000000",
        ])
        .unwrap();
        assert_eq!(args.server_cpus, Some("0".parse().unwrap()));
        assert_eq!(args.client_cpus.map(|c| c.to_string()), Some("1,2".into()));
        assert_eq!((args.churn, args.churn_updates), (4_000_000, 2_000_000));
        assert_eq!(args.workload, Workload::Mixed { read_percent: 90 });
        assert_eq!((args.concurrency, args.connections), (64, 2));
        assert_eq!(
            (args.duration, args.warmup),
            (Duration::from_millis(1500), Duration::ZERO)
        );
        assert_eq!(
            (args.key_dist, args.zipf_s, args.seed),
            (KeyDist::Zipf, 1.2, Some(7))
        );
        assert_eq!(args.json, Some(PathBuf::from("out.json")));
        let scaling = parse(&[
            "--spawn-worker",
            "w",
            "--scaling",
            "10000,100000",
            "--recovery",
        ])
        .unwrap();
        assert_eq!(scaling.scaling, Some(vec![10_000, 100_000]));
    }

    #[test]
    fn each_round_pairs_a_null_run_with_the_target_run_after_it() {
        use std::collections::BTreeMap;

        use hdrhistogram::Histogram;

        let run = |ops| {
            let mut latency = Histogram::new(3).unwrap();
            latency.record(1000).unwrap();
            let measured = load::Measured {
                ok: ops,
                latency,
                errors: BTreeMap::new(),
                window: Duration::from_secs(1),
                calls: ops,
            };
            RunReport::new("x", "a", "get", 1, &measured)
        };
        let runs = [run(100), run(80), run(200), run(100)];
        let throughputs: Vec<f64> = ratios(&runs, true).iter().map(|r| r.throughput).collect();
        assert_eq!(throughputs, [0.8, 0.5]);
        assert!(ratios(&runs, false).is_empty(), "no null run, no ratio");
    }

    #[test]
    fn inconsistent_options_are_refused_with_a_reason() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "--addr"),
            (&["--null", "--value-bytes", "4097"], "--value-bytes"),
            (&["--null", "--value-bytes", "7"], "--value-bytes"),
            (&["--null", "--concurrency", "0"], "at least 1"),
            (&["--null", "--rounds", "0"], "at least 1"),
            (&["--null", "--list-depth", "1.5"], "--list-depth"),
            (&["--null", "--docs", "0"], "--docs"),
            (&["--null", "--duration", "0s"], "--duration"),
            (&["--scaling", "10"], "--spawn-worker"),
            (&["--addr", "http://x", "--spawn-worker", "w"], "not both"),
            (&["--null", "--workload", "mixed:50/60"], "mixed:"),
            (&["--null", "--key-dist", "pareto"], "pareto"),
            (&["--null", "--duration", "10"], "10"),
            (&["--null", "--no-pin", "--server-cpus", "0"], "--no-pin"),
            (&["--null", "--server-cpus", "a"], "CPU list"),
            (&["--null", "--churn-updates", "5"], "--churn"),
        ];
        for (args, expected) in cases {
            let err = parse(args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
        assert!(parse(&["--null", "--workload", "create", "--docs", "0"]).is_ok());
    }
}
