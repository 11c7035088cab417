//! The one runner: selects cases, runs each in its own namespace, applies
//! expected failures, cleans up, and reports outcomes.
//!
//! ```text
//!   cases ──select (--tags, --skip-tags, --case)──► plan
//!   plan ──► for each case, up to --jobs at once:
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

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rand::Rng;
use tokio::sync::{RwLock, Semaphore};

use crate::{
    case::{Case, Need, Tag},
    check::Failure,
    ctx::{Ctx, Settings},
    req::Kind,
    target::ServerUnderTest,
    xfail::XFail,
};

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed.
    Failed(Failure),
    /// It did not run, for this reason.
    Skipped(String),
    /// It failed, as the expected-failure file said it would.
    XFailed {
        /// The file's reason.
        reason: String,
        /// The failure.
        failure: Failure,
    },
    /// It passed although the expected-failure file said it would fail;
    /// this fails the run.
    XPassed {
        /// The file's reason.
        reason: String,
    },
    /// It failed, but a clause it relies on failed in the same run: the
    /// failure is most likely that clause's, so it is reported as `blocked
    /// by` it, not as a violation of this case's own clause.
    Blocked {
        /// The prerequisite clause that failed.
        by: String,
        /// What this case saw.
        failure: Failure,
    },
}

impl Outcome {
    /// `passed`, `failed`, `skipped`, `xfailed`, `xpassed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::XFailed { .. } => "xfailed",
            Outcome::XPassed { .. } => "xpassed",
            Outcome::Blocked { .. } => "blocked",
        }
    }

    /// Whether the outcome fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::XPassed { .. })
    }
}

/// What happened to one case.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Its clause.
    pub clause: String,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// The clauses it relies on ([`Case::requires`]).
    pub requires: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran.
    pub duration: Duration,
    /// The requests it sent, with outcomes (kept only when it failed).
    pub transcript: Vec<String>,
    /// Databases kept for inspection (it failed).
    pub kept: Vec<String>,
}

/// Which cases to run.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Run only cases with one of these tags (empty: all).
    pub tags: Vec<Tag>,
    /// Never run cases with one of these tags.
    pub skip_tags: Vec<Tag>,
    /// Run only cases whose id matches one of these globs (empty: all).
    pub case_globs: Vec<String>,
}

impl Selection {
    /// The selected cases, in registry order.
    pub fn select(&self, cases: Vec<Case>) -> Result<Vec<Case>, globset::Error> {
        let globs = self.glob_set()?;
        Ok(cases
            .into_iter()
            .filter(|c| self.tags.is_empty() || self.tags.iter().any(|t| c.has(*t)))
            .filter(|c| !self.skip_tags.iter().any(|t| c.has(*t)))
            .filter(|c| self.case_globs.is_empty() || globs.is_match(&c.id))
            .collect())
    }

    fn glob_set(&self) -> Result<GlobSet, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for glob in &self.case_globs {
            builder.add(Glob::new(glob)?);
        }
        builder.build()
    }
}

/// A fresh run prefix: `cf-` and six random characters, then `-`.
pub fn random_prefix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("cf-{tail}-")
}

/// Whether `prefix` has the shape of a run prefix (`cf-xxxxxx-`), so that
/// `cleanup --prefix` can never be pointed at someone else's data by a typo.
pub fn is_run_prefix(prefix: &str) -> bool {
    prefix.len() == 10
        && prefix.starts_with("cf-")
        && prefix.ends_with('-')
        && prefix[3..9]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Runs cases against one target.
pub struct Runner {
    target: Arc<ServerUnderTest>,
    prefix: String,
    settings: Arc<Settings>,
    xfail: XFail,
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

    /// Runs one case and cleans up after it.
    pub async fn run_case(&self, case: &Case) -> CaseReport {
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
        );
        match self.execute(case, &ctx).await {
            Ok(()) => ctx.cleanup().await,
            Err(mut failure) => {
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
    pub async fn run_all(self: &Arc<Self>, cases: &[Case], jobs: usize) -> Vec<CaseReport> {
        let total = cases.len();
        let semaphore = Arc::new(Semaphore::new(jobs.max(1)));
        let done = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for (index, case) in cases.iter().cloned().enumerate() {
            let (runner, semaphore, done) = (self.clone(), semaphore.clone(), done.clone());
            set.spawn(async move {
                let _permit = semaphore.acquire_owned().await.ok();
                let report = runner.run_case(&case).await;
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
        let mut reports: Vec<(usize, CaseReport)> = set.join_all().await;
        reports.sort_by_key(|(i, _)| *i);
        let mut reports: Vec<CaseReport> = reports.into_iter().map(|(_, r)| r).collect();
        blame(&mut reports);
        reports
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

/// Blames failures on their root cause: a failed case that relies on a
/// clause that failed in this run becomes [`Outcome::Blocked`] by it.
///
/// A clause *failed* when a case failed (or xfailed) blaming it (its own
/// clause, or the one a model case names) without a failed prerequisite of
/// its own. The
/// two passes keep one level of dependency: a case blocked by LIST-2 does
/// not in turn make its own clause count as failed, so what it relies on
/// is never itself blamed on a symptom.
pub fn blame(reports: &mut [CaseReport]) {
    use std::collections::BTreeSet;
    let failure = |r: &CaseReport| match &r.outcome {
        Outcome::Failed(f) | Outcome::XFailed { failure: f, .. } => Some(f.clone()),
        _ => None,
    };
    let blamed = |r: &CaseReport, f: &Failure| f.clause.clone().unwrap_or_else(|| r.clause.clone());
    let raw: BTreeSet<String> = reports
        .iter()
        .filter_map(|r| failure(r).map(|f| blamed(r, &f)))
        .collect();
    let mut failed = BTreeSet::new();
    for r in reports.iter() {
        let Some(f) = failure(r) else { continue };
        if r.requires.iter().any(|c| *c != r.clause && raw.contains(c)) {
            continue;
        }
        failed.insert(blamed(r, &f));
    }
    for r in reports.iter_mut() {
        let Outcome::Failed(f) = &r.outcome else {
            continue;
        };
        let own = blamed(r, f);
        let by = r
            .requires
            .iter()
            .find(|c| **c != own && **c != r.clause && failed.contains(*c));
        if let Some(by) = by {
            r.outcome = Outcome::Blocked {
                by: by.clone(),
                failure: f.clone(),
            };
        }
    }
}

/// The names of every database whose id starts with `prefix`.
pub async fn list_prefixed(
    target: &ServerUnderTest,
    prefix: &str,
) -> Result<Vec<String>, tonic::Status> {
    let clients = target.clients();
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let reply = Kind::Database.list("", 1000, &token).send(&clients).await?;
        let crate::call::Reply::Databases(page) = reply else {
            return Ok(names);
        };
        let wanted = format!("databases/{prefix}");
        names.extend(
            page.databases
                .into_iter()
                .map(|d| d.name)
                .filter(|n| n.starts_with(&wanted)),
        );
        if page.next_page_token.is_empty() {
            return Ok(names);
        }
        if crate::req::token_repeats(&token, &page.next_page_token) {
            // A worker that hands back the token it was given would keep
            // this sweep going for ever.
            return Err(tonic::Status::internal(
                "ListDatabases answered with the page token it was asked with; the sweep stopped",
            ));
        }
        token = page.next_page_token;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_prefixes_have_their_shape() {
        for _ in 0..50 {
            let p = random_prefix();
            assert!(is_run_prefix(&p), "{p}");
            assert!(crate::ctx::is_database_id(&p), "{p}");
        }
        for bad in [
            "",
            "c",
            "cf-",
            "cf-abc-",
            "cf-ABCDEF-",
            "cf-abcdefg",
            "xx-abcdef-",
        ] {
            assert!(!is_run_prefix(bad), "{bad}");
        }
    }
}
