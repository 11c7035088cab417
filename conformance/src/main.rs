//! `distgo-conformance`: validate or measure any distgo-db worker by address.
//!
//! Exit codes: 0 when nothing failed and at least one case ran, 1 when a
//! case failed (or none ran), 2 for a usage or connection error.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))] // unit tests assert by unwrapping
use std::{
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use distgo_conformance::{
    api::Api,
    case::Tag,
    cases,
    ctx::{Ctx, Settings},
    report::{self, Rerun, Summary},
    runner::{self, Runner, Selection},
    scenario, spec,
    target::{Connection, ServerUnderTest, TxnLimits, parse_header},
    xfail,
};

/// mimalloc, as in the worker. The null worker runs in this process and
/// must pay what a worker pays for its buffers, not glibc's price; and the
/// load generator must not slow down once `bench --churn` has allocated and
/// freed millions of values: with glibc it did, and the null worker in the
/// same heap with it (Get +26%, List pages +35% CPU per call afterwards).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The distgo-db conformance suite and load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the conformance cases against a worker.
    Run(RunArgs),
    /// Print the catalogue: every case with its clause and tags.
    List,
    /// Delete the databases a run left behind (its prefix, e.g. cf-k2x9a1-).
    Cleanup(CleanupArgs),
    /// Run a script (a scenario, or a model failure's replay) and print its transcript.
    Replay(ReplayArgs),
    /// Measure a worker under load, beside a null worker that does no work.
    Bench(distgo_conformance::bench::BenchArgs),
}

/// How to reach the worker.
#[derive(Debug, Args)]
struct TargetArgs {
    /// The worker, e.g. `http://127.0.0.1:55055` (or `https://...`); repeat it
    /// to name the members of one replicated deployment (the first is the
    /// primary every case uses; the cluster cases use all of them).
    #[arg(
        long = "addr",
        value_name = "ADDR",
        env = "DISTGO_ADDR",
        required = true,
        num_args = 1
    )]
    addrs: Vec<String>,
    /// PEM file of the CA that signed the worker's TLS certificate.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Metadata sent with every request, e.g. `authorization=Bearer x` (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// Deadline of each request.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// The API the address serves: `worker.database.v1` or a master's `master.database.v1`.
    #[arg(long, value_enum, default_value_t = Api::Worker)]
    api: Api,
}

impl TargetArgs {
    /// The primary's address (clap requires at least one).
    fn primary(&self) -> &str {
        self.addrs.first().map(String::as_str).unwrap_or_default()
    }

    /// The addresses as they were given: `--addr A --addr B`.
    fn addr_flags(&self) -> String {
        let flags: Vec<String> = self.addrs.iter().map(|a| format!("--addr {a}")).collect();
        flags.join(" ")
    }

    async fn connect(&self) -> anyhow::Result<ServerUnderTest> {
        let headers = self
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<Vec<_>, _>>()?;
        let connection = Connection {
            addr: self.primary().to_owned(),
            tls_ca: self.tls_ca.clone(),
            headers,
            timeout: self.timeout,
            api: self.api,
        };
        let others = self.addrs.iter().skip(1).cloned().collect();
        Ok(ServerUnderTest::connect(connection)
            .await?
            .with_members(others))
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Run only cases with one of these tags (core, transactions, wal, concurrency, restart, cluster).
    #[arg(long, value_delimiter = ',')]
    tags: Vec<Tag>,
    /// Never run cases with these tags.
    #[arg(long, value_delimiter = ',')]
    skip_tags: Vec<Tag>,
    /// Run only cases whose id matches this glob (repeatable), e.g. `doc-*`.
    #[arg(long = "case", value_name = "GLOB")]
    cases_glob: Vec<String>,
    /// Expected failures: a YAML map of case id to reason.
    #[arg(long, value_name = "FILE")]
    xfail: Option<PathBuf>,
    /// Write a JSON report (schema distgo-conformance/report/v1).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Seed of the model-based cases (random when absent; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Generated sequences per model-based case (default: sized for a 60 s run).
    #[arg(long)]
    cases: Option<u32>,
    /// Cases run at once.
    #[arg(long, default_value_t = 6)]
    jobs: usize,
    /// Nobody else uses the worker: allow cases that act on all of it (TruncateWAL).
    #[arg(long)]
    exclusive: bool,
    /// The target's `transactions.ttl`: check that transactions expire (at most 10s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    txn_ttl: Option<Duration>,
    /// The target's `transactions.max_operations`: check the bound.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    txn_max_operations: Option<u32>,
    /// Re-run the cluster cases until this much time has passed, stopping at
    /// the first failure (printed with its history), e.g. `10m`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    soak: Option<Duration>,
    /// The target's `transactions.max_open`: check the bound (needs --exclusive).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    txn_max_open: Option<u32>,
}

#[derive(Debug, Args)]
struct CleanupArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The run prefix printed by `run` (shape `cf-xxxxxx-`).
    #[arg(long)]
    prefix: String,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The script file.
    script: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(args).await,
        Command::List => {
            print!("{}", spec::catalogue(&cases::all()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Cleanup(args) => cleanup(args).await,
        Command::Replay(args) => replay(args).await,
        Command::Bench(args) => distgo_conformance::bench::run(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("distgo-conformance: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn settings(seed: Option<u64>, cases: Option<u32>) -> Settings {
    Settings {
        seed: seed.unwrap_or_else(rand::random),
        cases,
        golden: Arc::new(scenario::embedded_golden),
    }
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let xfail = match &args.xfail {
        Some(path) => xfail::load(path, &ids)?,
        None => Default::default(),
    };
    let selection = Selection {
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        case_globs: args.cases_glob.clone(),
    };
    let selected = selection.select(all).context("--case")?;
    if selected.is_empty() {
        bail!("no case matches the selection");
    }
    let limits = TxnLimits {
        ttl: args.txn_ttl,
        max_operations: args.txn_max_operations,
        max_open: args.txn_max_open,
    };
    let target = args
        .target
        .connect()
        .await?
        .with_exclusive(args.exclusive)
        .with_txn_limits(limits);
    let settings = settings(args.seed, args.cases);
    if let Some(duration) = args.soak {
        let cluster: Vec<_> = selected
            .into_iter()
            .filter(|c| c.has(Tag::Cluster))
            .collect();
        return soak(
            &args,
            Arc::new(target),
            settings,
            &xfail,
            &cluster,
            duration,
        )
        .await;
    }
    let seed = settings.seed;
    let runner = Arc::new(Runner::new(Arc::new(target), settings, xfail));
    eprintln!(
        "distgo-conformance: {} cases against {}, run prefix {}, seed {seed}",
        selected.len(),
        args.target.addrs.join(" "),
        runner.prefix()
    );
    let started = Instant::now();
    let reports = runner.run_all(&selected, args.jobs).await;
    let kept: Vec<String> = reports.iter().flat_map(|r| r.kept.clone()).collect();
    let swept = runner.sweep(&kept).await;
    let wall = started.elapsed();
    let rerun = Rerun(format!(
        "distgo-conformance run {} --seed {seed} --case {{case}}",
        args.target.addr_flags()
    ));
    print!("{}", report::text(&reports, &rerun, runner.prefix(), wall));
    if !swept.is_empty() {
        eprintln!("swept {} leftover database(s) of passed cases", swept.len());
    }
    if !kept.is_empty() {
        eprintln!(
            "kept for inspection: {}\nremove with: distgo-conformance cleanup --addr {} --prefix {}",
            kept.join(" "),
            args.target.primary(),
            runner.prefix()
        );
    }
    if let Some(path) = &args.json {
        let json = report::to_json(&reports, args.target.primary(), runner.prefix(), seed, wall);
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        let xml = report::to_junit(&reports, &rerun, wall).map_err(anyhow::Error::msg)?;
        std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if Summary::of(&reports).ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `run --soak`: the selected cluster cases, round after round.
async fn soak(
    args: &RunArgs,
    target: Arc<ServerUnderTest>,
    settings: Settings,
    xfail: &xfail::XFail,
    cases: &[distgo_conformance::case::Case],
    duration: Duration,
) -> anyhow::Result<ExitCode> {
    if cases.is_empty() {
        bail!("--soak re-runs the cluster cases, and the selection has none");
    }
    eprintln!(
        "distgo-conformance: soaking {} cluster cases against {} for {}, first seed {}",
        cases.len(),
        args.target.addrs.join(" "),
        humantime::format_duration(duration),
        settings.seed
    );
    let progress = |round: u32, wall: Duration| {
        eprintln!("soak: round {round} passed in {wall:.1?}");
    };
    let ended = distgo_conformance::soak::soak(
        target, &settings, xfail, cases, args.jobs, duration, progress,
    )
    .await;
    let Some(failed) = ended.failed else {
        println!(
            "soak: {} rounds of {} cluster cases in {:.1?}, no violation",
            ended.rounds,
            cases.len(),
            ended.elapsed
        );
        return Ok(ExitCode::SUCCESS);
    };
    let rerun = Rerun(format!(
        "distgo-conformance run {} --seed {} --case {{case}}",
        args.target.addr_flags(),
        failed.seed
    ));
    print!(
        "{}",
        report::text(&failed.reports, &rerun, &failed.prefix, failed.wall)
    );
    println!(
        "soak: round {} failed after {:.1?} (seed {}; earlier rounds passed)",
        failed.number, ended.elapsed, failed.seed
    );
    eprintln!(
        "remove its data with: distgo-conformance cleanup --addr {} --prefix {}",
        args.target.primary(),
        failed.prefix
    );
    Ok(ExitCode::FAILURE)
}

async fn cleanup(args: CleanupArgs) -> anyhow::Result<ExitCode> {
    if !runner::is_run_prefix(&args.prefix) {
        bail!(
            "{:?} is not a run prefix (cf- then six of [a-z0-9] then -): refusing to delete",
            args.prefix
        );
    }
    let target = args.target.connect().await?;
    let names = runner::list_prefixed(&target, &args.prefix).await?;
    let mut failed = 0;
    for name in &names {
        let call = distgo_conformance::req::Kind::Database.delete(name);
        match call.send(&target.clients()).await {
            Ok(_) => println!("deleted {name}"),
            Err(status) => {
                failed += 1;
                println!("could not delete {name}: {}", status.message());
            }
        }
    }
    println!("{} deleted, {failed} failed", names.len() - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let script = std::fs::read_to_string(&args.script)
        .with_context(|| format!("reading {}", args.script.display()))?;
    let target = Arc::new(args.target.connect().await?);
    let prefix = runner::random_prefix();
    let ctx = Ctx::new(
        "replay",
        target,
        &prefix,
        format!("{prefix}0-"),
        Arc::new(settings(None, None)),
    );
    let result = scenario::run(&ctx, &script).await;
    ctx.cleanup().await;
    match result {
        Ok(transcript) => {
            print!("{transcript}");
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            println!("{failure}");
            for line in ctx.transcript() {
                println!("  {line}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
