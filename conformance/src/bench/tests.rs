//! The bench's command line as clap parses it: defaults, the combinations
//! that validate() refuses, and how rounds pair runs into ratios.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

use super::{workload::KeyDist, *};

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
        (
            &["--addr", "http://x", "--fresh-baseline"],
            "--spawn-worker",
        ),
        (
            &["--spawn-worker", "w", "--fresh-baseline", "--null"],
            "--null",
        ),
        (
            &["--spawn-worker", "w", "--markdown", "t.md"],
            "--fresh-baseline",
        ),
    ];
    for (args, expected) in cases {
        let err = parse(args).unwrap_err();
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(parse(&["--null", "--workload", "create", "--docs", "0"]).is_ok());
    let fresh = [
        "--spawn-worker",
        "w",
        "--fresh-baseline",
        "--markdown",
        "t.md",
    ];
    assert!(parse(&fresh).is_ok());
}
