//! The command line of `distgo-conformance bench` ([`BenchArgs`]), the
//! combinations clap cannot check, and what a report records of it
//! ([`Settings`]).

use std::{path::PathBuf, time::Duration};

use serde::Serialize;

use super::{
    dataset::{MAX_VALUE_BYTES, MIN_VALUE_BYTES},
    load::LoadPlan,
    pinning::{self, CpuList, Pinning},
    spawn::SpawnSpec,
    workload::{KeyDist, Workload},
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
    /// Start a second, fresh copy of --spawn-worker and measure it
    /// alternately with the target, reporting target/fresh (instead of
    /// --null). With --churn this compares a churned worker with a fresh
    /// one in the same rounds, so whatever the machine does meanwhile
    /// falls on both sides.
    #[arg(long, requires = "spawn_worker", conflicts_with_all = ["null", "baseline", "scaling"])]
    pub fresh_baseline: bool,
    /// Metadata sent with every call to the target: `authorization=Bearer TOKEN`.
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// The CA of the target's TLS certificate (for an https:// --addr).
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// The package the --addr target serves: `worker`, or `master` for a
    /// distgo-master (the --baseline is always spoken to as a worker, so a
    /// master can be measured against the set leader behind it).
    #[arg(long, value_enum, default_value_t)]
    pub api: crate::api::Api,
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
    /// in this file, writing its header first if the file is new (with
    /// --null or --fresh-baseline: the row compares the target with it).
    #[arg(long, value_name = "FILE")]
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
        if self.markdown.is_some() && !self.null && !self.fresh_baseline {
            return Err("--markdown needs --null or --fresh-baseline to compare with".into());
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

    pub(super) fn spawn_spec(&self, binary: PathBuf) -> SpawnSpec {
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
    pub(super) fn null_threads(&self) -> usize {
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
    fresh_baseline: bool,
    /// Where server and client ran (`None`: not pinned).
    pinning: Option<String>,
}

impl Settings {
    pub(super) fn of(args: &BenchArgs, seed: u64) -> Self {
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
            fresh_baseline: args.fresh_baseline,
            pinning: args.pinning.as_ref().map(ToString::to_string),
        }
    }
}
