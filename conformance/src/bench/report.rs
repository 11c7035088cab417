//! Results: a table on stdout and a versioned JSON document.
//!
//! The JSON is meant to be kept (`testdata/bench/`) and compared across
//! commits and implementations, so its shape is versioned by `schema`:
//! a reader checks `schema` before it reads anything else, and a change
//! that renames or removes a field bumps the number. Adding a field does not.
//! Latencies are microseconds, throughputs calls per second.

use std::{collections::BTreeMap, fs, path::Path, time::Duration};

use anyhow::Context;
use serde::Serialize;

use super::{load::Measured, pinning::Pinning, procfs};

/// The `schema` of a single bench run's JSON.
pub const BENCH_SCHEMA: &str = "distgo-bench/1";

/// The machine a report was measured on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs (`nproc`).
    pub cores: usize,
    /// Total memory, GiB (`free -g`).
    pub memory_gib: f64,
    /// The CPU's model name, from `/proc/cpuinfo`.
    pub cpu: String,
    /// How the load generator and the target share the machine.
    pub note: String,
}

impl Machine {
    /// The machine this process runs on, with the CPU split it ran with.
    pub fn this(pinning: Option<&Pinning>) -> Self {
        // Once this process has pinned itself to the client's CPUs it may
        // use only those, so the machine's count is the split's union.
        let usable = std::thread::available_parallelism().map_or(1, usize::from);
        let split = pinning.map_or(0, |p| p.server.0.union(&p.client.0).count());
        let cores = usable.max(split);
        let memory_kib = procfs::read_field("/proc/meminfo", "MemTotal:").unwrap_or(0);
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_default();
        Machine {
            cores,
            memory_gib: (memory_kib as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0,
            cpu,
            note: match pinning {
                Some(split) => {
                    format!("{split}; ratios, not absolute figures, are comparable across machines")
                }
                None => format!(
                    "load generator and target share the same {cores} cores; \
                     ratios, not absolute figures, are comparable across machines"
                ),
            },
        }
    }
}

/// Latency percentiles of one run, microseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest call.
    pub max: f64,
}

/// One target measured with one workload.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// `null`, `target`, or a scaling step's name.
    pub target: String,
    /// Where it was reached.
    pub addr: String,
    /// The workload, as given (`get`, `mixed:90/10`, ...).
    pub workload: String,
    /// Calls in flight.
    pub concurrency: usize,
    /// Successful calls in the measured window.
    pub ok: u64,
    /// Every call made, warmup and failures included (the divisor of
    /// `server_cpu_us_per_call`, and of a profiler's totals).
    pub calls: u64,
    /// Failed calls in the window, by status code.
    pub errors: BTreeMap<String, u64>,
    /// The measured window, seconds.
    pub window_s: f64,
    /// Successful calls per second.
    pub ops_per_s: f64,
    /// Latency of every recorded call.
    pub latency_us: Latency,
    /// The worker's resident memory after the run, if it is a local process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_rss_bytes: Option<u64>,
    /// The server's CPU time (user + system) per call, warmup included,
    /// when its process or threads are known: its own cost, whatever the
    /// load generator costs beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_call: Option<f64>,
}

impl RunReport {
    /// Summarises `measured`.
    pub fn new(
        target: &str,
        addr: &str,
        workload: &str,
        concurrency: usize,
        measured: &Measured,
    ) -> Self {
        let h = &measured.latency;
        let us = |nanos: u64| (nanos as f64 / 1000.0 * 10.0).round() / 10.0;
        let window = measured.window.max(Duration::from_millis(1)).as_secs_f64();
        RunReport {
            target: target.to_owned(),
            addr: addr.to_owned(),
            workload: workload.to_owned(),
            concurrency,
            ok: measured.ok,
            calls: measured.calls,
            errors: measured.errors.clone(),
            window_s: (window * 1000.0).round() / 1000.0,
            ops_per_s: (measured.ok as f64 / window).round(),
            latency_us: Latency {
                mean: (h.mean() / 100.0).round() / 10.0,
                p50: us(h.value_at_quantile(0.50)),
                p90: us(h.value_at_quantile(0.90)),
                p99: us(h.value_at_quantile(0.99)),
                p999: us(h.value_at_quantile(0.999)),
                max: us(h.max()),
            },
            worker_rss_bytes: None,
            server_cpu_us_per_call: None,
        }
    }

    /// Failed calls, all codes together.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Target against null: how close the worker comes to the transport's ceiling.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratio {
    /// target ops/s ÷ null ops/s (1.0: as fast as doing nothing).
    pub throughput: f64,
    /// target p99 ÷ null p99 (1.0: no extra tail latency).
    pub p99: f64,
    /// target server CPU per call ÷ null's (1.0: the worker's work costs
    /// nothing beyond gRPC's), when both were measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
}

impl Ratio {
    /// `target` relative to `null`.
    pub fn of(target: &RunReport, null: &RunReport) -> Self {
        let div = |a: f64, b: f64| {
            if b > 0.0 {
                (a / b * 1000.0).round() / 1000.0
            } else {
                0.0
            }
        };
        Ratio {
            throughput: div(target.ops_per_s, null.ops_per_s),
            p99: div(target.latency_us.p99, null.latency_us.p99),
            cpu: target
                .server_cpu_us_per_call
                .zip(null.server_cpu_us_per_call)
                .map(|(t, n)| div(t, n)),
        }
    }
}

/// The median throughput ratio and the median p99 ratio of `rounds`
/// (each taken on its own), or `None` for no rounds.
pub fn median_ratio(rounds: &[Ratio]) -> Option<Ratio> {
    let median = |pick: fn(&Ratio) -> f64| median(rounds.iter().map(pick).collect());
    let cpus: Vec<f64> = rounds.iter().filter_map(|r| r.cpu).collect();
    (!rounds.is_empty()).then(|| Ratio {
        throughput: median(|r| r.throughput),
        p99: median(|r| r.p99),
        cpu: (cpus.len() == rounds.len()).then(|| self::median(cpus)),
    })
}

/// The median of `values` (the mean of the middle two for an even count;
/// 0 for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    }
}

/// The JSON document of one `distgo-conformance bench` run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport<S: Serialize> {
    /// [`BENCH_SCHEMA`].
    pub schema: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// The options it ran with.
    pub settings: S,
    /// Each measured target, round after round, null first in each.
    pub runs: Vec<RunReport>,
    /// target/null of each round, when `--null` was given with a target.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Ratio>,
    /// The median of `rounds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<Ratio>,
}

/// Writes `report` as pretty JSON to `path`, creating parent folders.
pub fn write_json(path: &Path, report: &impl Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The runs as an aligned text table, one line per run.
pub fn table(runs: &[RunReport]) -> String {
    let mut out = format!(
        "{:<10} {:<12} {:>5} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}  errors\n",
        "target",
        "workload",
        "conc",
        "ops/s",
        "p50 us",
        "p90 us",
        "p99 us",
        "p99.9 us",
        "max us",
        "cpu us/call"
    );
    for run in runs {
        let l = &run.latency_us;
        let errors = if run.errors.is_empty() {
            "0".to_owned()
        } else {
            run.errors
                .iter()
                .map(|(c, n)| format!("{c}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        out.push_str(&format!(
            "{:<10} {:<12} {:>5} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>11}  {errors}\n",
            run.target,
            run.workload,
            run.concurrency,
            run.ops_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            run.server_cpu_us_per_call.map_or("-".into(), |us| format!("{us:.1}")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::bench::pinning::CpuList;
    use hdrhistogram::Histogram;

    use super::*;

    fn measured(latencies_us: &[u64], ok: u64, errors: &[(&str, u64)], secs: u64) -> Measured {
        let mut latency = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for us in latencies_us {
            latency.record(us * 1000).unwrap();
        }
        Measured {
            ok,
            latency,
            errors: errors.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
            window: Duration::from_secs(secs),
            calls: ok,
        }
    }

    #[test]
    fn a_run_report_has_throughput_and_percentiles() {
        let latencies: Vec<u64> = (1..=1000).collect();
        let run = RunReport::new(
            "target",
            "http://x",
            "get",
            16,
            &measured(&latencies, 2000, &[("NOT_FOUND", 3)], 2),
        );
        assert_eq!(run.ops_per_s, 1000.0);
        assert!(
            (run.latency_us.p50 - 500.0).abs() <= 1.0,
            "{:?}",
            run.latency_us
        );
        assert!(
            (run.latency_us.p99 - 990.0).abs() <= 1.0,
            "{:?}",
            run.latency_us
        );
        assert!(
            (run.latency_us.max - 1000.0).abs() <= 1.0,
            "{:?}",
            run.latency_us
        );
        assert_eq!(run.error_count(), 3);
    }

    #[test]
    fn the_ratio_is_target_over_null() {
        let null = RunReport::new("null", "a", "get", 16, &measured(&[100], 10_000, &[], 1));
        let target = RunReport::new("target", "b", "get", 16, &measured(&[150], 8_000, &[], 1));
        assert_eq!(
            Ratio::of(&target, &null),
            Ratio {
                throughput: 0.8,
                p99: 1.5,
                cpu: None,
            }
        );
        let (mut null, mut target) = (null, target);
        null.server_cpu_us_per_call = Some(20.0);
        target.server_cpu_us_per_call = Some(25.0);
        assert_eq!(Ratio::of(&target, &null).cpu, Some(1.25));
    }

    #[test]
    fn the_json_schema_has_the_documented_fields() {
        let run = RunReport::new("null", "a", "get", 16, &measured(&[100], 10, &[], 1));
        let report = BenchReport {
            schema: BENCH_SCHEMA,
            started_at: "2026-01-01T00:00:00Z".into(),
            machine: Machine::this(None),
            settings: serde_json::json!({"workload": "get"}),
            runs: vec![run.clone(), run],
            rounds: vec![Ratio {
                throughput: 1.0,
                p99: 1.0,
                cpu: Some(1.0),
            }],
            ratio: Some(Ratio {
                throughput: 1.0,
                p99: 1.0,
                cpu: Some(1.0),
            }),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["schema"], "distgo-bench/1");
        for key in [
            "started_at",
            "machine",
            "settings",
            "runs",
            "rounds",
            "ratio",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        for key in ["cores", "memory_gib", "cpu", "note"] {
            assert!(json["machine"].get(key).is_some(), "missing machine.{key}");
        }
        let run = &json["runs"][0];
        for key in [
            "target",
            "addr",
            "workload",
            "concurrency",
            "ok",
            "calls",
            "errors",
            "window_s",
            "ops_per_s",
            "latency_us",
        ] {
            assert!(run.get(key).is_some(), "missing runs[].{key}");
        }
        for key in ["mean", "p50", "p90", "p99", "p999", "max"] {
            assert!(
                run["latency_us"].get(key).is_some(),
                "missing latency_us.{key}"
            );
        }
        assert!(run.get("worker_rss_bytes").is_none(), "absent when unknown");
        assert!(
            run.get("server_cpu_us_per_call").is_none(),
            "absent when unknown"
        );
        assert_eq!(json["ratio"]["throughput"], 1.0);
    }

    #[test]
    fn the_median_ratio_takes_each_ratio_on_its_own() {
        let r = |throughput, p99| Ratio {
            throughput,
            p99,
            cpu: Some(p99),
        };
        assert_eq!(median_ratio(&[]), None);
        assert_eq!(median_ratio(&[r(0.5, 2.0)]), Some(r(0.5, 2.0)));
        assert_eq!(
            median_ratio(&[r(0.9, 1.0), r(0.5, 3.0), r(0.7, 2.0)]),
            Some(r(0.7, 2.0))
        );
        assert_eq!(median_ratio(&[r(0.9, 1.0), r(0.5, 3.0)]), Some(r(0.7, 2.0)));
        let mut unknown = r(0.9, 1.0);
        unknown.cpu = None;
        assert_eq!(median_ratio(&[unknown, r(0.5, 3.0)]).unwrap().cpu, None);
    }

    #[test]
    fn a_pinned_machine_counts_both_sides_of_the_split() {
        // This process may already be pinned to the client's half, so the
        // count must come from the split, not from what it may still use.
        let list = |cpus: &[usize]| CpuList(cpus.iter().copied().collect());
        let pinning = Pinning {
            server: list(&[0, 1]),
            client: list(&[2, 3, 4]),
        };
        assert!(Machine::this(Some(&pinning)).cores >= 5);
    }

    #[test]
    fn the_machine_is_described() {
        let machine = Machine::this(None);
        assert!(
            machine.cores >= 1 && machine.memory_gib > 0.0,
            "{machine:?}"
        );
    }

    #[test]
    fn the_table_lists_every_run_and_its_errors() {
        let ok = RunReport::new("null", "a", "get", 16, &measured(&[100], 10, &[], 1));
        let bad = RunReport::new(
            "target",
            "b",
            "get",
            16,
            &measured(&[100], 10, &[("UNAVAILABLE", 2)], 1),
        );
        let text = table(&[ok, bad]);
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains("UNAVAILABLE=2"), "{text}");
    }
}
