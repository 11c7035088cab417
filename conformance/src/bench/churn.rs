//! Churn before measuring: `--churn N [--churn-updates M]`.
//!
//! A worker that has been written to for a while must answer as fast as a
//! fresh one: structures emptied by deletes should shrink, not keep their
//! high-water mark, and an allocator fragmented by millions of writes
//! should not make every later call dearer. To see that, the bench can
//! first push the target through N creates (in throwaway databases of at
//! most [`CHUNK`] documents each, deleted again with one cascade delete
//! each) and M updates spread over them, and only then measure. With
//! `--fresh-baseline` a second, fresh worker is measured alternately with
//! the churned one: CPU per call churned/fresh is the figure that shows
//! degradation (throughput hides it while the client is the bottleneck).
//! Comparing with a run of another sitting does not work on a shared
//! machine: the null worker, which never churns, measured 25 and then
//! 30 µs per Get minutes apart, and 51 µs on another day.
//!
//! ```text
//!   repeat until N created:                      then measure as usual
//!     CreateDatabase bench-XXXX (+ collection)
//!     create ≤ CHUNK documents, update them M·chunk/N times
//!     DeleteDatabase bench-XXXX
//! ```

use std::{sync::Arc, time::Instant};

use rand::RngCore;

use super::{
    dataset::{self, Dataset, Write},
    measured::MeasuredServer,
};

/// Documents per throwaway database: bounds the worker's peak memory
/// during churn (1 KiB values: about 0.5 GiB at a time).
pub const CHUNK: u64 = 500_000;

/// What churn to do before measuring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Churn {
    /// Documents created and deleted again.
    pub creates: u64,
    /// Updates of those documents before their database goes.
    pub updates: u64,
}

impl Churn {
    /// The documents and updates of each chunk: `creates` split into
    /// chunks of at most [`CHUNK`], updates shared out in proportion.
    pub fn chunks(&self) -> Vec<(u64, u64)> {
        let mut chunks = Vec::new();
        let (mut docs_left, mut updates_left) = (self.creates, self.updates);
        while docs_left > 0 {
            let docs = docs_left.min(CHUNK);
            let updates = if docs == docs_left {
                updates_left
            } else {
                // docs/creates of the updates, in u128 so it cannot overflow.
                let share = u128::from(self.updates) * u128::from(docs) / u128::from(self.creates);
                u64::try_from(share)
                    .unwrap_or(updates_left)
                    .min(updates_left)
            };
            chunks.push((docs, updates));
            docs_left -= docs;
            updates_left -= updates;
        }
        chunks
    }

    /// Runs the churn against `target` with `in_flight` calls at a time.
    pub async fn run(
        &self,
        target: &MeasuredServer,
        rng: &mut impl RngCore,
        value_bytes: usize,
        in_flight: usize,
    ) -> anyhow::Result<()> {
        if self.creates == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let label = format!("{} churn", target.label);
        for (docs, updates) in self.chunks() {
            let scratch = Arc::new(Dataset::new(rng, docs, value_bytes));
            dataset::create(&target.channels[0], &scratch).await?;
            let written = async {
                dataset::write_each(&target.channels, &scratch, in_flight, &label, Write::Create)
                    .await?;
                let update = Write::Update { calls: updates };
                dataset::write_each(&target.channels, &scratch, in_flight, &label, update).await
            }
            .await;
            let deleted = dataset::delete(&target.channels[0], &scratch).await;
            written?;
            deleted?;
        }
        eprintln!(
            "{label}: {} documents created and deleted, {} updates, in {:.1?}",
            self.creates,
            self.updates,
            started.elapsed()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_is_split_into_chunks_that_add_up() {
        let churn = Churn {
            creates: 4_000_000 + 1,
            updates: 2_000_000,
        };
        let chunks = churn.chunks();
        assert_eq!(chunks.len(), 9);
        assert!(chunks.iter().all(|&(docs, _)| docs <= CHUNK && docs > 0));
        assert_eq!(chunks.iter().map(|c| c.0).sum::<u64>(), churn.creates);
        assert_eq!(chunks.iter().map(|c| c.1).sum::<u64>(), churn.updates);
        assert_eq!(chunks[0], (CHUNK, 249_999));
    }

    #[test]
    fn no_creates_means_no_chunks() {
        assert!(Churn::default().chunks().is_empty());
        assert_eq!(
            Churn {
                creates: 10,
                updates: 3
            }
            .chunks(),
            [(10, 3)]
        );
    }
}
