//! Linearizable reads confirmed in rounds, many reads to a round.
//!
//! A linearizable read may be served once this member has applied
//! everything that was committed when the read *arrived*. Confirming that
//! (ReadIndex) costs a round of heartbeats to a majority, or on a follower
//! a call to the leader. Doing it once per read would cost a heartbeat
//! round, a message to the Raft engine and its bookkeeping for every Get;
//! but one confirmation serves every read that arrived before it *started*.
//! So reads are batched, as etcd's read loop batches them:
//!
//! ```text
//!   reads  r1 r2   r3 r4 r5        r6
//!          │  │    │  │  │         │
//!   rounds ├──┴─ 1 ─────────┤├──── 2 ────┤├── 3 ──┤
//!          r1 r2 served by 1; r3 r4 r5 arrived while 1 ran, served by 2;
//!          r6 arrived while 2 ran, served by 3
//! ```
//!
//! A read takes the number of the round that will start next (one more
//! than the last started) and waits for that round's outcome. One task
//! runs the rounds, one at a time, whenever some read waits. A read that
//! arrives while a round is running waits for the next round, never for
//! the running one, since that one may have confirmed before the read
//! arrived. With c reads in flight the cost of confirming is shared by up
//! to c reads, and the latency is at most two rounds.
//!
//! Before a round starts, the task running them yields once, so that
//! every read already runnable (a socket read decodes several requests at
//! a time) joins it; what that gained is measured in the parent module's
//! "What it costs".
//!
//! The rounds' outcome (served, or why not) is shared by every read of the
//! round, errors included: a member that lost its leader answers all of
//! them UNAVAILABLE at once.

use std::{future::Future, sync::Arc};

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use crate::error::{Error, Result};

/// The rounds of confirmation and the reads waiting for them.
#[derive(Debug)]
pub struct ReadBatches {
    rounds: Mutex<Rounds>,
    /// Woken when a read waits for a round not yet started.
    wanted: Notify,
    /// The latest finished round and its outcome.
    finished: watch::Sender<Finished>,
}

#[derive(Debug, Default)]
struct Rounds {
    /// The number of the last round started (0: none yet).
    started: u64,
    /// The highest round number a read waits for.
    wanted: u64,
}

#[derive(Clone, Debug)]
struct Finished {
    round: u64,
    outcome: Result<()>,
}

impl Default for ReadBatches {
    fn default() -> Self {
        ReadBatches {
            rounds: Mutex::new(Rounds::default()),
            wanted: Notify::new(),
            finished: watch::Sender::new(Finished {
                round: 0,
                outcome: Ok(()),
            }),
        }
    }
}

impl ReadBatches {
    /// Waits for the outcome of a round that started after this call: Ok
    /// when a read may now be served here.
    pub async fn confirm(&self) -> Result<()> {
        // Subscribed first, so the round this read waits for cannot finish
        // unseen between taking its number and waiting.
        let mut finished = self.finished.subscribe();
        let round = {
            let mut rounds = self.rounds.lock();
            let next = rounds.started + 1;
            rounds.wanted = rounds.wanted.max(next);
            next
        };
        self.wanted.notify_one();
        loop {
            {
                let latest = finished.borrow_and_update();
                if latest.round >= round {
                    return latest.outcome.clone();
                }
            }
            // The sender lives as long as `self`: `changed` cannot fail.
            let _ = finished.changed().await;
        }
    }

    /// Runs rounds of `confirm_once` while reads wait for them, until
    /// `stop` completes. One round at a time: a round's number is taken
    /// before it starts, and its outcome published when it ends. Once
    /// stopped, every read, waiting or still to come, is refused.
    pub async fn serve<F, Fut>(self: Arc<Self>, confirm_once: F, stop: impl Future<Output = ()>)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        self.run_rounds(confirm_once, stop).await;
        self.finished.send_replace(Finished {
            round: u64::MAX,
            outcome: Err(Error::Unavailable(
                "this member stopped confirming reads (it is shutting down)".into(),
            )),
        });
    }

    async fn run_rounds<F, Fut>(&self, confirm_once: F, stop: impl Future<Output = ()>)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        tokio::pin!(stop);
        loop {
            // The read that woke this task is usually one of several made
            // runnable together (one socket read decodes many requests), and
            // the task it wakes runs next (tokio's LIFO slot), before the
            // others. One yield lets every read already runnable take this
            // round's number, rather than wait a whole round for the next.
            // With nothing else runnable it returns at once.
            tokio::task::yield_now().await;
            let round = {
                let mut rounds = self.rounds.lock();
                (rounds.wanted > rounds.started).then(|| {
                    rounds.started += 1;
                    rounds.started
                })
            };
            let Some(round) = round else {
                tokio::select! {
                    () = self.wanted.notified() => continue,
                    () = &mut stop => return,
                }
            };
            let outcome = tokio::select! {
                outcome = confirm_once() => outcome,
                () = &mut stop => return,
            };
            self.finished.send_replace(Finished { round, outcome });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU64, Ordering},
        time::Duration,
    };

    use super::*;

    /// A confirmation that counts the rounds started and records, in each
    /// read, how many had started when it arrived: a read must be served by
    /// a round that started after it.
    #[tokio::test]
    async fn every_read_is_served_by_a_round_that_started_after_it() {
        let batches = Arc::new(ReadBatches::default());
        let started = Arc::new(AtomicU64::new(0));
        let served_by = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(batches.clone().serve(
            {
                let started = started.clone();
                move || {
                    let started = started.clone();
                    async move {
                        started.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Ok(())
                    }
                }
            },
            async {
                let _ = stop_rx.await;
            },
        ));
        let mut reads = Vec::new();
        for i in 0..200u64 {
            let (batches, started, served_by) =
                (batches.clone(), started.clone(), served_by.clone());
            reads.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(i * 50)).await;
                let before = started.load(Ordering::SeqCst);
                batches.confirm().await.map(|()| {
                    let after = started.load(Ordering::SeqCst);
                    served_by.lock().push((before, after));
                })
            }));
        }
        for read in reads {
            assert_eq!(read.await.ok(), Some(Ok(())));
        }
        let _ = stop_tx.send(());
        let _ = server.await;
        let served = served_by.lock();
        assert_eq!(served.len(), 200);
        for (before, after) in served.iter() {
            assert!(after > before, "a read served by a round started before it");
        }
        let rounds = started.load(Ordering::SeqCst);
        assert!(
            rounds < 200,
            "{rounds} rounds for 200 reads: reads were not batched"
        );
    }

    /// Reads made runnable together, as the requests of one socket read
    /// are, share one round: the round does not start with only the read
    /// that woke it. One worker thread, so the order of the run queue (and
    /// its LIFO slot) is what the server sees.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn reads_made_runnable_together_share_one_round() {
        let batches = Arc::new(ReadBatches::default());
        let rounds = Arc::new(AtomicU64::new(0));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(batches.clone().serve(
            {
                let rounds = rounds.clone();
                move || {
                    rounds.fetch_add(1, Ordering::SeqCst);
                    async { Ok(()) }
                }
            },
            async {
                let _ = stop_rx.await;
            },
        ));
        // Let the server reach its wait for a read.
        tokio::time::sleep(Duration::from_millis(20)).await;
        // One task on the worker makes four reads runnable at once.
        let reads = tokio::spawn({
            let batches = batches.clone();
            async move {
                let reads: Vec<_> = (0..4)
                    .map(|_| {
                        let batches = batches.clone();
                        tokio::spawn(async move { batches.confirm().await })
                    })
                    .collect();
                let mut served = 0;
                for read in reads {
                    if matches!(read.await, Ok(Ok(()))) {
                        served += 1;
                    }
                }
                served
            }
        });
        assert_eq!(reads.await.ok(), Some(4));
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            1,
            "four reads runnable together took more than one round"
        );
        let _ = stop_tx.send(());
        let _ = server.await;
    }

    #[tokio::test]
    async fn a_round_that_fails_fails_every_read_waiting_for_it() {
        let batches = Arc::new(ReadBatches::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(batches.clone().serve(
            || async { Err(Error::Unavailable("no leader".into())) },
            async {
                let _ = stop_rx.await;
            },
        ));
        let (a, b) = tokio::join!(batches.confirm(), batches.confirm());
        assert_eq!(a, Err(Error::Unavailable("no leader".into())));
        assert_eq!(b, a);
        let _ = stop_tx.send(());
        let _ = server.await;
    }

    #[tokio::test]
    async fn a_read_after_the_server_stopped_is_unavailable() {
        let batches = Arc::new(ReadBatches::default());
        let server = tokio::spawn(batches.clone().serve(|| async { Ok(()) }, async {}));
        let _ = server.await;
        let refused = tokio::time::timeout(Duration::from_secs(5), batches.confirm()).await;
        assert!(
            matches!(refused, Ok(Err(Error::Unavailable(_)))),
            "a read after the stop: {refused:?}"
        );
    }
}
