//! The closed loop: C callers, each with one call in flight at a time.
//!
//! ```text
//!   caller 0 ─┐                    ┌─ channel 0 (one HTTP/2 connection)
//!   caller 1 ─┼─ caller i uses ────┤
//!   ...       │  channel i mod K   └─ channel K-1
//!   caller C-1┘
//!
//!   time ──►  | warmup (not recorded) | measured window | stop |
//! ```
//!
//! A *closed* loop sends the next call only when the previous one returned,
//! so the offered load adapts to the server: throughput is what the server
//! (and the shared CPU) can sustain at C calls in flight, and latency is
//! what a caller waits at that load. Every caller keeps its own histogram
//! and error counts (no shared lock on the hot path); they are merged at the
//! end. A call is recorded if it *started* inside the measured window.

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use hdrhistogram::Histogram;
use rand::{SeedableRng, rngs::StdRng};
use tonic::Status;

use super::{
    dataset::{Dataset, json_value},
    measured::Conn,
    workload::{Call, KeyDist, KeySampler, Workload},
};
use crate::{
    check::code_name,
    proto::database::{self as pb, document_service_client::DocumentServiceClient},
};

/// Latencies above this (in nanoseconds) are clamped: one minute.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// How to drive one target.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// The calls.
    pub workload: Workload,
    /// Calls in flight.
    pub concurrency: usize,
    /// Run, but do not record, this long first.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Which preloaded documents Gets and Updates hit.
    pub key_dist: KeyDist,
    /// The Zipf exponent.
    pub zipf_s: f64,
    /// `page_size` of List calls.
    pub page_size: i32,
    /// Seeds the callers' generators (caller i uses seed + i).
    pub seed: u64,
    /// Which repetition this is on the same dataset; part of created ids,
    /// so a later round never creates an id an earlier one did.
    pub round: usize,
}

/// What a run measured.
#[derive(Debug)]
pub struct Measured {
    /// Calls that started in the window and succeeded.
    pub ok: u64,
    /// Latency of every recorded call (successes and failures), nanoseconds.
    pub latency: Histogram<u64>,
    /// Failed calls by status code name (`NOT_FOUND`, ...).
    pub errors: BTreeMap<String, u64>,
    /// The measured window.
    pub window: Duration,
    /// Every call made, warmup and failures included.
    pub calls: u64,
}

/// Drives `dataset` on `channels` according to `plan`, showing progress
/// under `label`. `stop` ends the run early (Ctrl-C).
pub async fn run(
    label: &str,
    channels: &[Conn],
    dataset: &Arc<Dataset>,
    plan: &LoadPlan,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Measured> {
    let sampler =
        KeySampler::new(plan.key_dist, dataset.docs, plan.zipf_s).map_err(anyhow::Error::msg)?;
    let progress = Progress::start(format!("{label} {}", plan.workload), None);
    let begin = Instant::now();
    let window = (begin + plan.warmup, begin + plan.warmup + plan.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..plan.concurrency.max(1) {
        let caller = Caller {
            client: DocumentServiceClient::new(channels[task % channels.len()].clone()),
            dataset: dataset.clone(),
            sampler: sampler.clone(),
            rng: StdRng::seed_from_u64(plan.seed.wrapping_add(task as u64)),
            value: json_value(dataset.value_bytes, task as u64),
            page_size: plan.page_size,
            id_prefix: created_id_prefix(plan.round, task),
            created: 0,
        };
        let (workload, progress, stop) = (plan.workload, progress.clone(), stop.clone());
        tasks.spawn(caller.run(workload, window, progress, stop));
    }
    let mut merged = Measured {
        ok: 0,
        latency: new_histogram(),
        errors: BTreeMap::new(),
        window: plan.duration,
        calls: 0,
    };
    while let Some(joined) = tasks.join_next().await {
        let part = joined.context("a load task panicked")?;
        merged.ok += part.ok;
        merged.calls += part.calls;
        merged
            .latency
            .add(&part.latency)
            .context("merging histograms")?;
        for (code, n) in part.errors {
            *merged.errors.entry(code).or_default() += n;
        }
    }
    progress.finish();
    // A run stopped early measured a shorter window.
    merged.window = begin
        .elapsed()
        .saturating_sub(plan.warmup)
        .min(plan.duration);
    Ok(merged)
}

fn new_histogram() -> Histogram<u64> {
    // Three significant digits from 1 ns to a minute.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("constant bounds are valid")
}

/// One caller: a client on one channel and its own random generator.
struct Caller {
    client: DocumentServiceClient<Conn>,
    dataset: Arc<Dataset>,
    sampler: KeySampler,
    rng: StdRng,
    value: String,
    page_size: i32,
    /// `n{round}-{caller}-`: created ids sort after every preloaded `d...` id.
    id_prefix: String,
    created: u64,
}

impl Caller {
    async fn run(
        mut self,
        workload: Workload,
        (from, until): (Instant, Instant),
        progress: Arc<Progress>,
        stop: Arc<AtomicBool>,
    ) -> Measured {
        let mut measured = Measured {
            ok: 0,
            latency: new_histogram(),
            errors: BTreeMap::new(),
            window: until - from,
            calls: 0,
        };
        loop {
            let started = Instant::now();
            if started >= until || stop.load(Ordering::Relaxed) {
                return measured;
            }
            let call = workload.pick(&mut self.rng);
            let outcome = self.call(call).await;
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            measured.calls += 1;
            match &outcome {
                Ok(()) => progress.record_ok(),
                Err(_) => progress.record_error(),
            }
            if started < from {
                continue;
            }
            measured
                .latency
                .saturating_record(nanos.clamp(1, MAX_LATENCY_NS));
            match outcome {
                Ok(()) => measured.ok += 1,
                Err(status) => {
                    *measured
                        .errors
                        .entry(code_name(status.code()).into())
                        .or_default() += 1
                }
            }
        }
    }

    async fn call(&mut self, call: Call) -> Result<(), Status> {
        match call {
            Call::Get => {
                let name = self.preloaded_name()?;
                let request = pb::GetDocumentRequest { name };
                self.client.get_document(request).await.map(drop)
            }
            Call::Create => {
                self.created += 1;
                let request = pb::CreateDocumentRequest {
                    parent: self.dataset.collection.clone(),
                    document_id: format!("{}{}", self.id_prefix, self.created),
                    document: Some(self.document(String::new())),
                };
                self.client.create_document(request).await.map(drop)
            }
            Call::Update => {
                let name = self.preloaded_name()?;
                let request = pb::UpdateDocumentRequest {
                    document: Some(self.document(name)),
                    update_mask: None,
                };
                self.client.update_document(request).await.map(drop)
            }
            Call::List => {
                let request = pb::ListDocumentsRequest {
                    parent: self.dataset.collection.clone(),
                    page_size: self.page_size,
                    page_token: self.dataset.list_token.clone(),
                };
                self.client.list_documents(request).await.map(drop)
            }
        }
    }

    fn preloaded_name(&mut self) -> Result<String, Status> {
        let index = self.sampler.sample(&mut self.rng).ok_or_else(|| {
            Status::failed_precondition("this workload needs preloaded documents (--docs)")
        })?;
        Ok(self.dataset.preloaded_name(index))
    }

    fn document(&self, name: String) -> pb::Document {
        pb::Document {
            name,
            value: self.value.clone(),
            ..Default::default()
        }
    }
}

/// The prefix of ids that caller `task` creates in `round`: rounds never
/// repeat an id, and `n` sorts after every preloaded `d...` id.
fn created_id_prefix(round: usize, task: usize) -> String {
    format!("n{round}-{task}-")
}

/// Counters shared by the callers, and the task that prints them on stderr
/// once a second: `label  12s  48210 ops/s  errors 0  [ 41% ]`.
#[derive(Debug)]
pub struct Progress {
    ok: AtomicU64,
    errors: AtomicU64,
    done: AtomicBool,
}

impl Progress {
    /// Starts printing; `total` (if known) shows a percentage.
    pub fn start(label: String, total: Option<u64>) -> Arc<Self> {
        let progress = Arc::new(Progress {
            ok: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            done: AtomicBool::new(false),
        });
        let shared = progress.clone();
        tokio::spawn(async move {
            let begin = Instant::now();
            let (mut last, mut ticker) = (0, tokio::time::interval(Duration::from_secs(1)));
            ticker.tick().await;
            let terminal = std::io::stderr().is_terminal();
            loop {
                ticker.tick().await;
                if shared.done.load(Ordering::Relaxed) {
                    return;
                }
                let now = shared.ok.load(Ordering::Relaxed);
                let errors = shared.errors.load(Ordering::Relaxed);
                let percent = total.map_or(String::new(), |t| {
                    format!("  [{:>3}%]", now * 100 / t.max(1))
                });
                let line = format!(
                    "{label}  {:>4}s  {:>8} ops/s  errors {errors}{percent}",
                    begin.elapsed().as_secs(),
                    now - last
                );
                last = now;
                let mut err = std::io::stderr().lock();
                let _ = if terminal {
                    write!(err, "\r{line}\x1b[K")
                } else {
                    writeln!(err, "{line}")
                };
            }
        });
        progress
    }

    /// One successful call.
    pub fn record_ok(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    /// One failed call.
    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops printing and ends the progress line.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_ids_never_repeat_across_rounds_and_callers() {
        let ids: std::collections::HashSet<String> = (0..3)
            .flat_map(|round| (0..12).map(move |task| created_id_prefix(round, task)))
            .flat_map(|prefix| (1..=12).map(move |n| format!("{prefix}{n}")))
            .collect();
        assert_eq!(ids.len(), 3 * 12 * 12);
        assert!(ids.iter().all(|id| id.as_str() > "d999999999"));
    }
}
