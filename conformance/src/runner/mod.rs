//! The one runner: selects cases, runs each in its own namespace, applies
//! expected failures, cleans up, and reports outcomes.
//!
//! ```text
//!   cases ──select (--tags, --skip-tags, --case)──► plan
//!   plan ──► the example cases, then the model cases (knowing the clauses
//!            the examples failed), each batch up to --jobs at once:
//!              skip?      (needs restart / exclusive the target lacks)
//!              run        (own namespace `{prefix}{n}-`, deadline, panics caught)
//!              cleanup    (passed: delete its databases; failed: keep + list them)
//!              xfail      (failed as expected: xfailed; passed: xpassed = failure)
//!   end ──► sweep: delete whatever is left under the run prefix by passed cases
//! ```
//!
//! `cargo test` (libtest-mimic) calls [`Runner::run_case`] once per trial;
//! the binary calls [`Runner::run_all`]. Cases that restart the target take
//! an exclusive lock, so no other case is in flight while the worker is down.
//!
//! Beside this file: `outcome.rs` (how a case ended, and [`blame`] on a
//! failed prerequisite), `known.rs` (the clauses the model cases search
//! past, and the outcome of one that finds nothing beyond them),
//! `selection.rs` (which cases run), `prefix.rs` (the run prefix every
//! database id starts with).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{RwLock, Semaphore};

use crate::{
    case::{Case, Need},
    check::Failure,
    ctx::{Ctx, Settings},
    req::Kind,
    target::ServerUnderTest,
    xfail::XFail,
};

mod known;
mod outcome;
mod prefix;
mod selection;

use self::known::Known;

pub use self::{
    outcome::{CaseReport, Outcome, blame},
    prefix::{is_run_prefix, list_prefixed, random_prefix},
    selection::Selection,
};

/// Runs cases against one target.
pub struct Runner {
    target: Arc<ServerUnderTest>,
    prefix: String,
    settings: Arc<Settings>,
    xfail: XFail,
    /// The clauses the expected-failure file's cases cite: known to every
    /// case from the start ([`Runner::run_all`] adds the examples' failures
    /// for the model cases).
    expected: Known,
    case_timeout: Duration,
    counter: AtomicUsize,
    restart_lock: RwLock<()>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner with a fresh random prefix.
    pub fn new(target: Arc<ServerUnderTest>, settings: Settings, xfail: XFail) -> Self {
        Runner {
            target,
            prefix: random_prefix(),
            settings: Arc::new(settings),
            expected: Known::expected(&xfail),
            xfail,
            case_timeout: Duration::from_secs(120),
            counter: AtomicUsize::new(0),
            restart_lock: RwLock::new(()),
        }
    }

    /// The run prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The target.
    pub fn target(&self) -> &Arc<ServerUnderTest> {
        &self.target
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Why `case` cannot run on this target, if it cannot.
    pub fn skip_reason(&self, case: &Case) -> Option<String> {
        case.needs.iter().find_map(|need| match need {
            Need::Restart if !self.target.can_restart() => Some(
                "the target cannot restart (only an in-process worker started by the harness can)"
                    .to_owned(),
            ),
            Need::Exclusive if !self.target.is_exclusive() => Some(
                "acts on the whole worker (TruncateWAL); pass --exclusive when nobody else uses it"
                    .to_owned(),
            ),
            Need::TxnTtl => txn_ttl_skip(self.target.txn_limits().ttl),
            Need::TxnMaxOperations if self.target.txn_limits().max_operations.is_none() => Some(
                "needs the target's transactions.max_operations; pass --txn-max-operations N"
                    .to_owned(),
            ),
            Need::TxnMaxOpen => txn_max_open_skip(self.target.txn_limits().max_open),
            _ => None,
        })
    }

    /// Runs one case and cleans up after it; a model case knows the
    /// clauses the xfail file expects to fail.
    pub async fn run_case(&self, case: &Case) -> CaseReport {
        self.run_knowing(case, &self.expected).await
    }

    /// [`Runner::run_case`], with `known` the clauses known to fail.
    async fn run_knowing(&self, case: &Case, known: &Known) -> CaseReport {
        let started = Instant::now();
        let mut report = CaseReport {
            id: case.id.clone(),
            clause: case.clause.clone(),
            tags: case.tags.clone(),
            requires: case.requires.clone(),
            outcome: Outcome::Passed,
            duration: Duration::ZERO,
            transcript: Vec::new(),
            kept: Vec::new(),
        };
        if let Some(reason) = self.skip_reason(case) {
            report.outcome = Outcome::Skipped(reason);
            return report;
        }
        // Cases that restart the target or act on the whole worker (TruncateWAL)
        // run alone; the others share. The context is made under the lock,
        // since a restart changes the clients.
        let alone = case.needs.contains(&Need::Restart) || case.needs.contains(&Need::Exclusive);
        let (_exclusive, _shared) = if alone {
            (Some(self.restart_lock.write().await), None)
        } else {
            (None, Some(self.restart_lock.read().await))
        };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let ns = format!("{}{n}-", self.prefix);
        let ctx = Ctx::new(
            &case.id,
            self.target.clone(),
            &self.prefix,
            ns,
            self.settings.clone(),
        )
        .with_known_failures(known.all.clone());
        match self.execute(case, &ctx).await {
            Ok(()) => {
                ctx.cleanup().await;
                if let Some(blocked) = known.blocked(&ctx.known_met()) {
                    report.outcome = blocked;
                }
            }
            Err(mut failure) => {
                failure = known.searched_past(failure, &ctx.known_met());
                if failure.request.is_none() {
                    // A payload check: the request is the last one sent.
                    failure.request = ctx.fail("", "").request;
                }
                report.outcome = Outcome::Failed(failure);
                for clause in ctx.relied() {
                    if !report.requires.contains(&clause) {
                        report.requires.push(clause);
                    }
                }
                report.transcript = ctx.transcript();
                report.kept = ctx.created();
            }
        }
        report.outcome = self.apply_xfail(&case.id, report.outcome);
        if matches!(report.outcome, Outcome::XFailed { .. }) {
            // A known deviation: nothing new to inspect.
            ctx.cleanup().await;
            report.kept.clear();
        }
        report.duration = started.elapsed();
        report
    }

    async fn execute(&self, case: &Case, ctx: &Ctx) -> Result<(), Failure> {
        let task = tokio::spawn((case.run)(ctx.clone()));
        match tokio::time::timeout(self.case_timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(Failure::new(
                "the case runs to its end",
                panic_message(join),
            )),
            Err(_) => Err(ctx.fail(
                format!("the case finishes within {:?}", self.case_timeout),
                "it did not (a request hung?)",
            )),
        }
    }

    fn apply_xfail(&self, id: &str, outcome: Outcome) -> Outcome {
        match (self.xfail.get(id), outcome) {
            (Some(reason), Outcome::Failed(failure)) => Outcome::XFailed {
                reason: reason.clone(),
                failure,
            },
            (Some(reason), Outcome::Passed) => Outcome::XPassed {
                reason: reason.clone(),
            },
            (_, outcome) => outcome,
        }
    }

    /// Runs `cases`, `jobs` at a time, printing progress on stderr; the
    /// reports come back in registry order.
    ///
    /// The example cases run first, then the model-based cases, which know
    /// the clauses the examples failed (and those the xfail file expects):
    /// they search past those and go on to find other deviations, instead
    /// of shrinking again to what the examples already showed.
    pub async fn run_all(self: &Arc<Self>, cases: &[Case], jobs: usize) -> Vec<CaseReport> {
        let progress = Progress {
            total: cases.len(),
            done: Arc::new(AtomicUsize::new(0)),
        };
        let (models, examples): (Vec<_>, Vec<_>) = cases
            .iter()
            .cloned()
            .enumerate()
            .partition(|(_, case)| case.is_model_based());
        let mut reports = self
            .run_batch(examples, jobs, &self.expected, &progress)
            .await;
        let failed = outcome::failed_clauses(reports.iter().map(|(_, r)| r));
        let known = self.expected.and_failed(failed);
        reports.extend(self.run_batch(models, jobs, &known, &progress).await);
        reports.sort_by_key(|(i, _)| *i);
        let mut reports: Vec<CaseReport> = reports.into_iter().map(|(_, r)| r).collect();
        blame(&mut reports);
        reports
    }

    /// Runs `cases` (each with its index in the plan) knowing `known`,
    /// `jobs` at a time.
    async fn run_batch(
        self: &Arc<Self>,
        cases: Vec<(usize, Case)>,
        jobs: usize,
        known: &Known,
        progress: &Progress,
    ) -> Vec<(usize, CaseReport)> {
        let semaphore = Arc::new(Semaphore::new(jobs.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (index, case) in cases {
            let (runner, semaphore, known) = (self.clone(), semaphore.clone(), known.clone());
            let (total, done) = (progress.total, progress.done.clone());
            set.spawn(async move {
                let _permit = semaphore.acquire_owned().await.ok();
                let report = runner.run_knowing(&case, &known).await;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!(
                    "[{n:>4}/{total}] {:<8} {} ({} ms)",
                    report.outcome.label().to_uppercase(),
                    report.id,
                    report.duration.as_millis()
                );
                (index, report)
            });
        }
        set.join_all().await
    }

    /// Deletes every database under the run prefix except `keep`; returns
    /// the names deleted.
    pub async fn sweep(&self, keep: &[String]) -> Vec<String> {
        let leftovers = match list_prefixed(&self.target, &self.prefix).await {
            Ok(names) => names,
            Err(_) => return Vec::new(),
        };
        let mut deleted = Vec::new();
        for name in leftovers.into_iter().filter(|n| !keep.contains(n)) {
            let call = Kind::Database.delete(&name);
            if call.send(&self.target.clients()).await.is_ok() {
                deleted.push(name);
            }
        }
        deleted
    }
}

/// How many cases a run has, and how many have finished: the `[n/total]`
/// of the progress lines, across both batches.
struct Progress {
    total: usize,
    done: Arc<AtomicUsize>,
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return format!("the case was cancelled: {join}");
    }
    let payload = join.into_panic();
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".to_owned());
    format!("the case panicked: {text}")
}

/// The longest `transactions.ttl` the expiry case waits for.
pub const MAX_TTL_WAITED: Duration = Duration::from_secs(10);

/// The most transactions the max-open case opens.
pub const MAX_OPEN_OPENED: u32 = 20_000;

fn txn_ttl_skip(ttl: Option<Duration>) -> Option<String> {
    match ttl {
        None => Some("needs the target's transactions.ttl; pass --txn-ttl D".to_owned()),
        Some(ttl) if ttl > MAX_TTL_WAITED => Some(format!(
            "the target's transactions.ttl of {ttl:?} is longer than the {MAX_TTL_WAITED:?} this case waits; configure a shorter one to check expiry"
        )),
        Some(_) => None,
    }
}

fn txn_max_open_skip(max_open: Option<u32>) -> Option<String> {
    match max_open {
        None => Some(
            "needs the target's transactions.max_open (pass --txn-max-open N) and --exclusive"
                .to_owned(),
        ),
        Some(n) if n > MAX_OPEN_OPENED => Some(format!(
            "the target's transactions.max_open of {n} is more than the {MAX_OPEN_OPENED} transactions this case opens"
        )),
        Some(_) => None,
    }
}
