//! What a long import or export tells the user while it runs and at its end.
//!
//! While it runs: a progress bar on standard error (bytes read of a file, with
//! documents/s and an ETA; a spinner for standard input), drawn only when
//! standard error is a terminal, so logs and CI output stay clean. Every bad
//! line is reported as it is met, `line N: why`, above the bar. At the end:
//! a [`Summary`] on standard output, in the chosen format.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Serialize, Serializer};
use tonic::Status;

use super::{error::render_status, output::Show};

/// The counts and the stop flag of one run, shared by its reader and its
/// senders.
#[derive(Debug)]
pub struct Tally {
    imported: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
    strict: bool,
    started: Instant,
    bar: ProgressBar,
}

impl Tally {
    /// A run reading `len` bytes (if known); `strict` stops it at the first
    /// bad line or refused document.
    pub fn new(len: Option<u64>, strict: bool, what: &'static str) -> Arc<Self> {
        Arc::new(Tally {
            imported: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            strict,
            started: Instant::now(),
            bar: bar(len, what),
        })
    }

    /// `n` more lines were read, of `bytes` bytes.
    pub fn read(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// `n` more documents made it.
    pub fn done(&self, n: u64) {
        let total = self.imported.fetch_add(n, Ordering::Relaxed) + n;
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{total} documents, {rate:.0}/s"));
    }

    /// Line `line` could not be read as a document; returns whether the
    /// reader must stop there (`--strict`). The lines before it are still
    /// sent, so a strict run stores exactly the lines before the first bad one.
    pub fn bad_line(&self, line: u64, why: &str) -> bool {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.say(&format!("line {line}: {why}"));
        self.strict
    }

    /// The worker refused the document (or collection) of line `line`;
    /// with `--strict`, no further batch is sent.
    pub fn refused(&self, line: u64, status: &Status) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.say(&format!("line {line}: {}", render_status(status)));
        if self.strict {
            self.stop();
        }
    }

    /// Prints a message above the bar.
    pub fn say(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    /// Stops the run: no more lines are read or sent.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the run was stopped.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Clears the bar and returns the counts.
    pub fn finish(&self) -> Summary {
        self.bar.finish_and_clear();
        Summary {
            imported: self.imported.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            seconds: self.started.elapsed(),
        }
    }
}

/// A bar by bytes for a file, a spinner for a stream; hidden off a terminal.
fn bar(len: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::new(len),
            "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {prefix} {msg}, ETA {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {elapsed_precise} {prefix} {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// What an import did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Documents stored.
    pub imported: u64,
    /// Lines that were not documents (bad JSON, no id ...).
    pub skipped: u64,
    /// Documents the worker refused.
    pub failed: u64,
    /// How long it took.
    pub seconds: Duration,
}

#[derive(Serialize)]
struct SummaryView {
    imported: u64,
    skipped: u64,
    failed: u64,
    seconds: f64,
}

impl Show for Summary {
    const COLUMNS: &'static [&'static str] = &["IMPORTED", "SKIPPED", "FAILED", "SECONDS"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.imported.to_string(),
            self.skipped.to_string(),
            self.failed.to_string(),
            format!("{:.2}", self.seconds.as_secs_f64()),
        ]
    }

    fn alone(&self) -> Option<String> {
        Some(format!(
            "imported {}, skipped {}, failed {} in {:.2} s",
            self.imported,
            self.skipped,
            self.failed,
            self.seconds.as_secs_f64()
        ))
    }

    fn view<S: Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        SummaryView {
            imported: self.imported,
            skipped: self.skipped,
            failed: self.failed,
            seconds: (self.seconds.as_secs_f64() * 1000.0).round() / 1000.0,
        }
        .serialize(serializer)
    }
}
