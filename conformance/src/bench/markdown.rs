//! `--markdown FILE`: one row per bench run, appended to a table that the
//! performance chapter includes as it is.
//!
//! A table of figures in a document goes stale the day the code changes
//! unless regenerating it is one command. `just bench-tables` runs the
//! bench once per row with `--markdown testdata/bench/null.md`; the first
//! run writes the header (date, machine, pinning, settings) and every run
//! appends its row, so the file is the whole table and
//! `src/performance.rs` includes it verbatim:
//!
//! ```text
//! | workload | value | conc | worker ops/s | null ops/s | ops worker/null | p99 worker/null | CPU µs/call worker | null | CPU worker/null |
//! ```
//!
//! Every figure is the median over `--rounds` (null and worker measured
//! alternately in each round).

use std::{fs, io::Write, path::Path};

use anyhow::Context;

use super::report::{Machine, Ratio, RunReport, median};

/// The table's column header and its alignment row, comparing the worker
/// with `reference` (`null`, or `fresh` for a fresh worker beside a
/// churned one).
fn header(reference: &str) -> String {
    format!(
        "| workload | value bytes | concurrency | worker ops/s | {reference} ops/s | \
throughput worker/{reference} | p99 worker/{reference} | CPU µs/call worker | CPU µs/call {reference} | CPU worker/{reference} |\n\
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
}

/// What a row is made of.
pub struct Row<'a> {
    /// The workload's name as the table shows it (`CreateDocument`, ...).
    pub workload: &'a str,
    /// `--value-bytes`.
    pub value_bytes: usize,
    /// `--concurrency`.
    pub concurrency: usize,
    /// Every run, the reference first in each round.
    pub runs: &'a [RunReport],
    /// The label of the runs the worker is compared with (`null`, `fresh`).
    pub reference: &'a str,
    /// The median ratios.
    pub ratio: Option<&'a Ratio>,
}

/// The paragraph above the table: when, where, how.
pub fn preamble(machine: &Machine, started_at: &str, settings: &str) -> String {
    format!(
        "Measured {started_at} on {} cores ({}), {} GiB; {}. {settings}\n\n",
        machine.cores, machine.cpu, machine.memory_gib, machine.note
    )
}

/// One row of the table.
pub fn row(row: &Row<'_>) -> String {
    let side =
        |name: &str| -> Vec<&RunReport> { row.runs.iter().filter(|r| r.target == name).collect() };
    let (worker, null) = (side("target"), side(row.reference));
    let ops = |runs: &[&RunReport]| median(runs.iter().map(|r| r.ops_per_s).collect());
    let cpu = |runs: &[&RunReport]| {
        let values: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.server_cpu_us_per_call)
            .collect();
        (!values.is_empty()).then(|| median(values))
    };
    let number = |n: f64| group_thousands(n.round() as u64);
    let micros = |n: Option<f64>| n.map_or("-".to_owned(), |n| format!("{n:.1}"));
    let ratio = |n: Option<f64>| n.map_or("-".to_owned(), |n| format!("{n:.2}"));
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        row.workload,
        row.value_bytes,
        row.concurrency,
        number(ops(&worker)),
        number(ops(&null)),
        ratio(row.ratio.map(|r| r.throughput)),
        ratio(row.ratio.map(|r| r.p99)),
        micros(cpu(&worker)),
        micros(cpu(&null)),
        ratio(row.ratio.and_then(|r| r.cpu)),
    )
}

/// Appends `row` to the table in `path`, writing `preamble` and the header
/// (against `reference`) first when the file is new or empty.
pub fn append(path: &Path, preamble: &str, reference: &str, row: &str) -> anyhow::Result<()> {
    let fresh = fs::metadata(path).map_or(true, |m| m.len() == 0);
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if fresh {
        file.write_all(preamble.as_bytes())?;
        file.write_all(header(reference).as_bytes())?;
    }
    file.write_all(row.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `1234567` as `1,234,567`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hdrhistogram::Histogram;

    use super::*;
    use crate::bench::load::Measured;

    fn run(target: &str, ops: u64, cpu: f64) -> RunReport {
        let mut latency = Histogram::new(3).unwrap();
        latency.record(1000).unwrap();
        let measured = Measured {
            ok: ops,
            latency,
            errors: Default::default(),
            window: Duration::from_secs(1),
            calls: ops,
        };
        let mut report = RunReport::new(target, "a", "create", 16, &measured);
        report.server_cpu_us_per_call = Some(cpu);
        report
    }

    #[test]
    fn a_row_shows_medians_and_ratios() {
        let runs = [
            run("null", 40_000, 20.0),
            run("target", 36_000, 24.0),
            run("null", 42_000, 21.0),
            run("target", 37_000, 25.0),
            run("null", 41_000, 22.0),
            run("target", 38_000, 26.0),
        ];
        let ratio = Ratio {
            throughput: 0.9,
            p99: 1.1,
            cpu: Some(1.19),
        };
        let text = row(&Row {
            workload: "CreateDocument",
            value_bytes: 1024,
            concurrency: 16,
            runs: &runs,
            reference: "null",
            ratio: Some(&ratio),
        });
        assert_eq!(
            text,
            "| CreateDocument | 1024 | 16 | 37,000 | 41,000 | 0.90 | 1.10 | 25.0 | 21.0 | 1.19 |\n"
        );
    }

    #[test]
    fn the_header_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.md");
        append(&path, "Measured now.\n\n", "fresh", "| a |\n").unwrap();
        append(&path, "Measured now.\n\n", "fresh", "| b |\n").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("Measured now.").count(), 1);
        assert_eq!(text.matches("| workload |").count(), 1);
        assert!(
            text.contains("| fresh ops/s | throughput worker/fresh |"),
            "{text}"
        );
        assert!(text.ends_with("| a |\n| b |\n"), "{text}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
