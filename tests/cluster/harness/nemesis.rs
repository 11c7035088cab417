//! The nemesis: a seeded schedule of faults played against a [`Cluster`]
//! while clients run.
//!
//! A soak test is a load, a checker, and an adversary; this is the
//! adversary (the name is Jepsen's). Each strike picks a fault, holds it
//! for a while, and repairs it, so the set always returns to health
//! between strikes, and every fault is one the set is supposed to survive
//! (one member at a time, a majority always intact):
//!
//! | [`Fault`] | injected | repaired |
//! |---|---|---|
//! | `Kill(n)` | SIGKILL | restart on the same port and files |
//! | `Pause(n)` | SIGSTOP | SIGCONT |
//! | `Partition(n)` | every link to and from `n` drops | heal |
//! | `Delay(a, b)` | link `a → b` delayed 20-100 ms | heal |
//!
//! The choices come from one seed, and every strike is logged with its
//! time since the run's start (the same start as the history's, when the
//! caller passes it), so a failed check can be read against what the
//! nemesis did at that moment, and replayed.

use std::{
    fmt,
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{HarnessError, cluster::Cluster, network::NodeId, process::Port};

/// One fault of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Crash the member; it restarts when repaired.
    Kill(NodeId),
    /// Freeze the member.
    Pause(NodeId),
    /// Cut the member off from the others, both ways.
    Partition(NodeId),
    /// Slow down one direction of one link.
    Delay(NodeId, NodeId, Duration),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(n) => write!(f, "kill {n}"),
            Fault::Pause(n) => write!(f, "pause {n}"),
            Fault::Partition(n) => write!(f, "partition {n}"),
            Fault::Delay(a, b, d) => write!(f, "delay {a}→{b} {d:?}"),
        }
    }
}

/// A fault as it happened: when, what, and for how long.
#[derive(Clone, Debug)]
pub struct Strike {
    /// When it was injected, since the run's start.
    pub at: Duration,
    /// What.
    pub fault: Fault,
    /// How long it was held before the repair.
    pub held: Duration,
}

/// The seeded adversary.
#[derive(Debug)]
pub struct Nemesis {
    rng: StdRng,
    /// How long a fault is held, in milliseconds (a range).
    pub hold_ms: std::ops::Range<u64>,
    /// The quiet time after each repair, in milliseconds (a range).
    pub rest_ms: std::ops::Range<u64>,
}

impl Nemesis {
    /// A nemesis drawing from `seed`: faults held 100-600 ms, 100-400 ms
    /// of quiet between them.
    pub fn new(seed: u64) -> Nemesis {
        Nemesis {
            rng: StdRng::seed_from_u64(seed),
            hold_ms: 100..600,
            rest_ms: 100..400,
        }
    }

    /// Picks a fault among the members `ids`.
    pub fn pick(&mut self, ids: &[NodeId]) -> Fault {
        let node = ids[self.rng.random_range(0..ids.len())];
        match self.rng.random_range(0..4) {
            0 => Fault::Kill(node),
            1 => Fault::Pause(node),
            2 => Fault::Partition(node),
            _ => {
                let others: Vec<NodeId> = ids.iter().copied().filter(|&id| id != node).collect();
                if others.is_empty() {
                    return Fault::Pause(node);
                }
                let to = others[self.rng.random_range(0..others.len())];
                let delay = Duration::from_millis(self.rng.random_range(20..100));
                Fault::Delay(node, to, delay)
            }
        }
    }

    /// Injects `fault`, holds it for `hold`, repairs it.
    pub async fn strike(
        cluster: &mut Cluster,
        fault: &Fault,
        hold: Duration,
    ) -> Result<(), HarnessError> {
        match *fault {
            Fault::Kill(node) => {
                cluster.kill(node);
                tokio::time::sleep(hold).await;
                cluster.restart(node, Port::Same).await
            }
            Fault::Pause(node) => {
                cluster.worker_mut(node).pause().await?;
                tokio::time::sleep(hold).await;
                cluster.worker_mut(node).resume().await
            }
            Fault::Partition(node) => {
                cluster.network.partition(node);
                tokio::time::sleep(hold).await;
                cluster.network.heal();
                Ok(())
            }
            Fault::Delay(from, to, delay) => {
                cluster.network.delay(from, to, delay);
                tokio::time::sleep(hold).await;
                cluster.network.heal();
                Ok(())
            }
        }
    }

    /// Strikes again and again until `duration` has passed since `start`
    /// (a strike in progress is finished and repaired first). Returns what
    /// it did, and prints each strike as it goes.
    pub async fn run(
        &mut self,
        cluster: &mut Cluster,
        start: Instant,
        duration: Duration,
    ) -> Result<Vec<Strike>, HarnessError> {
        let ids = cluster.ids();
        let mut strikes = Vec::new();
        // A bound on the count too: even a clock that misbehaves ends it.
        let most = duration.as_millis() as usize / self.rest_ms.start.max(1) as usize + 1;
        while start.elapsed() < duration && strikes.len() < most {
            let fault = self.pick(&ids);
            let hold = Duration::from_millis(self.rng.random_range(self.hold_ms.clone()));
            let at = start.elapsed();
            eprintln!("nemesis {:>8.3}s: {fault} for {hold:?}", at.as_secs_f64());
            Self::strike(cluster, &fault, hold).await?;
            strikes.push(Strike {
                at,
                fault,
                held: hold,
            });
            let rest = self.rng.random_range(self.rest_ms.clone());
            tokio::time::sleep(Duration::from_millis(rest)).await;
        }
        Ok(strikes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed, the same schedule: a failed soak can be replayed.
    #[test]
    fn a_seed_fixes_the_schedule() {
        let ids = [1, 2, 3];
        let schedule = |seed| {
            let mut nemesis = Nemesis::new(seed);
            (0..20).map(|_| nemesis.pick(&ids)).collect::<Vec<_>>()
        };
        assert_eq!(schedule(42), schedule(42));
        assert_ne!(schedule(42), schedule(43));
        let kinds: std::collections::BTreeSet<_> = schedule(42)
            .iter()
            .map(|fault| fault.to_string().split(' ').next().map(str::to_owned))
            .collect();
        assert_eq!(kinds.len(), 4, "every kind of fault is drawn: {kinds:?}");
    }
}
