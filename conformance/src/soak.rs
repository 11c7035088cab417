//! `run --soak DURATION`: the cluster cases again and again until the time
//! is up, stopping at the first round in which a case fails.
//!
//! A replica set's bugs are races: a stale read shows only when a read
//! meets a member that has not caught up, a lost write only when a leader
//! changes at the wrong instant. One run of the cluster cases samples a few
//! hundred operations; a soak keeps sampling, so a rare violation still
//! surfaces, reported like any failure (for CLUSTER-3, with the history the
//! linearizability checker could not order). Each round has its own run
//! prefix (its data is swept when it passes) and the next seed, so the
//! clients' mix of operations changes from round to round.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    case::Case,
    ctx::Settings,
    report::Summary,
    runner::{CaseReport, Runner},
    target::ServerUnderTest,
    xfail::XFail,
};

/// The round that failed.
#[derive(Debug)]
pub struct FailedRound {
    /// Which round (1 is the first).
    pub number: u32,
    /// Its seed (`--seed` reproduces its mix of operations).
    pub seed: u64,
    /// Its run prefix (its data is kept for inspection).
    pub prefix: String,
    /// Its reports, every case's.
    pub reports: Vec<CaseReport>,
    /// How long it took.
    pub wall: Duration,
}

/// How a soak ended.
#[derive(Debug)]
pub struct Soak {
    /// Rounds run, the failed one included.
    pub rounds: u32,
    /// How long it ran.
    pub elapsed: Duration,
    /// The round that failed, if one did.
    pub failed: Option<FailedRound>,
}

/// Runs `cases` round after round until `duration` has passed (a round
/// started is finished) or a round fails; `progress` hears of each round
/// that passed (its number and wall time).
pub async fn soak(
    target: Arc<ServerUnderTest>,
    settings: &Settings,
    xfail: &XFail,
    cases: &[Case],
    jobs: usize,
    duration: Duration,
    mut progress: impl FnMut(u32, Duration),
) -> Soak {
    let started = Instant::now();
    let mut rounds = 0u32;
    while started.elapsed() < duration && rounds < u32::MAX {
        rounds += 1;
        let mut round = settings.clone();
        round.seed = settings.seed.wrapping_add(u64::from(rounds - 1));
        let seed = round.seed;
        let runner = Arc::new(Runner::new(target.clone(), round, xfail.clone()));
        let began = Instant::now();
        let reports = runner.run_all(cases, jobs).await;
        let kept: Vec<String> = reports.iter().flat_map(|r| r.kept.clone()).collect();
        runner.sweep(&kept).await;
        let wall = began.elapsed();
        if !Summary::of(&reports).ok() {
            let failed = FailedRound {
                number: rounds,
                seed,
                prefix: runner.prefix().to_owned(),
                reports,
                wall,
            };
            return Soak {
                rounds,
                elapsed: started.elapsed(),
                failed: Some(failed),
            };
        }
        progress(rounds, wall);
    }
    Soak {
        rounds,
        elapsed: started.elapsed(),
        failed: None,
    }
}
