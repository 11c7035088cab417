//! What the load generator asks for: the mix of calls and the keys they hit.
//!
//! A *workload* names the calls; a *key distribution* names which preloaded
//! document a Get or an Update touches.
//!
//! | `--workload` | each call |
//! |---|---|
//! | `get`        | GetDocument of a preloaded document |
//! | `create`     | CreateDocument with a fresh id |
//! | `update`     | UpdateDocument of a preloaded document (same value size) |
//! | `list`       | ListDocuments of one page (first page, or `--list-depth`) |
//! | `mixed:R/W`  | GetDocument R% of the time, UpdateDocument W% |
//!
//! Mixed writes are updates, not creates, so the collection keeps its size
//! and a long mixed run measures the same data set from start to end.
//!
//! **Keys.** `uniform` draws every document with the same probability.
//! `zipf` draws document ranked `k` with probability proportional to
//! `1 / k^s` (YCSB's skew, s = 0.99 by default): a few hot documents take
//! most of the traffic, which is what caches and lock contention notice.
//! Ranks are scattered over the key space by a fixed permutation, so the
//! hot documents are not neighbours in name order.

use std::{fmt, str::FromStr};

use rand::{Rng, RngCore};
use rand_distr::{Distribution, Zipf};

/// One kind of call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// GetDocument.
    Get,
    /// CreateDocument.
    Create,
    /// UpdateDocument.
    Update,
    /// ListDocuments.
    List,
}

/// The calls a run makes (`--workload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Only one kind of call.
    Only(Call),
    /// Gets `read_percent`% of the time, updates otherwise.
    Mixed {
        /// 0-100.
        read_percent: u8,
    },
}

impl Workload {
    /// Picks the next call.
    pub fn pick(self, rng: &mut impl RngCore) -> Call {
        match self {
            Workload::Only(call) => call,
            Workload::Mixed { read_percent } => {
                if rng.random_range(0..100u8) < read_percent {
                    Call::Get
                } else {
                    Call::Update
                }
            }
        }
    }

    /// Whether calls need preloaded documents to hit.
    pub fn reads_preloaded(self) -> bool {
        !matches!(self, Workload::Only(Call::Create))
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let only = |call| Ok(Workload::Only(call));
        match text {
            "get" => only(Call::Get),
            "create" => only(Call::Create),
            "update" => only(Call::Update),
            "list" => only(Call::List),
            _ => match text.strip_prefix("mixed:") {
                Some(split) => parse_mix(split),
                None => Err(format!(
                    "unknown workload {text:?}: expected get, create, update, list or mixed:R/W"
                )),
            },
        }
    }
}

/// `R/W` with R + W = 100, both percentages.
fn parse_mix(split: &str) -> Result<Workload, String> {
    let bad = || format!("mixed:{split}: expected mixed:R/W with R + W = 100, e.g. mixed:90/10");
    let (read, write) = split.split_once('/').ok_or_else(bad)?;
    let read: u8 = read.parse().map_err(|_| bad())?;
    let write: u8 = write.parse().map_err(|_| bad())?;
    if u16::from(read) + u16::from(write) != 100 {
        return Err(bad());
    }
    Ok(Workload::Mixed { read_percent: read })
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Only(Call::Get) => f.write_str("get"),
            Workload::Only(Call::Create) => f.write_str("create"),
            Workload::Only(Call::Update) => f.write_str("update"),
            Workload::Only(Call::List) => f.write_str("list"),
            Workload::Mixed { read_percent } => {
                write!(f, "mixed:{read_percent}/{}", 100 - read_percent)
            }
        }
    }
}

/// How keys are drawn (`--key-dist`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDist {
    /// Every document equally likely.
    Uniform,
    /// A few hot documents (Zipf, exponent `--zipf-s`).
    Zipf,
}

/// Draws indexes of preloaded documents, `0..n`.
#[derive(Clone, Debug)]
pub enum KeySampler {
    /// Nothing to draw from (no preloaded documents).
    Empty,
    /// Uniform over `0..n`.
    Uniform(u64),
    /// Zipf ranks, scattered over the key space by a fixed permutation.
    Zipf(Zipf<f64>, u64),
}

impl KeySampler {
    /// A sampler over `n` documents. Fails only for a bad exponent.
    pub fn new(dist: KeyDist, n: u64, exponent: f64) -> Result<Self, String> {
        if n == 0 {
            return Ok(KeySampler::Empty);
        }
        match dist {
            KeyDist::Uniform => Ok(KeySampler::Uniform(n)),
            KeyDist::Zipf => {
                // `as f64` is exact for any document count we could preload.
                let zipf = Zipf::new(n as f64, exponent)
                    .map_err(|err| format!("--zipf-s {exponent}: {err}"))?;
                Ok(KeySampler::Zipf(zipf, n))
            }
        }
    }

    /// The next document index, or `None` if there are no documents.
    pub fn sample(&self, rng: &mut impl RngCore) -> Option<u64> {
        match self {
            KeySampler::Empty => None,
            KeySampler::Uniform(n) => Some(rng.random_range(0..*n)),
            KeySampler::Zipf(zipf, n) => {
                // Samples are whole numbers in 1..=n; `as u64` cannot truncate.
                let rank = zipf.sample(rng) as u64;
                Some(scatter(rank.saturating_sub(1).min(n - 1), *n))
            }
        }
    }
}

/// A fixed permutation of `0..n`: `rank * P mod n` for a prime `P` that does
/// not divide `n`, so rank 0, 1, 2 ... land far apart in name order.
fn scatter(rank: u64, n: u64) -> u64 {
    const PRIMES: [u64; 2] = [2_654_435_761, 2_246_822_519];
    let prime = if n.is_multiple_of(PRIMES[0]) {
        PRIMES[1]
    } else {
        PRIMES[0]
    };
    let product = u128::from(rank) * u128::from(prime) % u128::from(n);
    // Less than n, which is a u64.
    u64::try_from(product).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn workloads_parse_and_print_back() {
        for text in [
            "get",
            "create",
            "update",
            "list",
            "mixed:90/10",
            "mixed:0/100",
        ] {
            let workload: Workload = text.parse().unwrap();
            assert_eq!(workload.to_string(), text);
        }
        assert_eq!(
            "mixed:75/25".parse::<Workload>(),
            Ok(Workload::Mixed { read_percent: 75 })
        );
    }

    #[test]
    fn bad_workloads_are_refused_with_the_expected_form() {
        for text in [
            "",
            "gets",
            "mixed",
            "mixed:",
            "mixed:90",
            "mixed:90/20",
            "mixed:a/b",
        ] {
            let err = text.parse::<Workload>().unwrap_err();
            assert!(err.contains("mixed:"), "{text}: {err}");
        }
    }

    #[test]
    fn a_mix_reads_about_its_read_percentage() {
        let mix = Workload::Mixed { read_percent: 80 };
        let mut rng = StdRng::seed_from_u64(7);
        let reads = (0..10_000)
            .filter(|_| mix.pick(&mut rng) == Call::Get)
            .count();
        assert!((7_600..8_400).contains(&reads), "{reads} reads of 10000");
        let all_reads = Workload::Mixed { read_percent: 100 };
        assert!((0..1000).all(|_| all_reads.pick(&mut rng) == Call::Get));
        let no_reads = Workload::Mixed { read_percent: 0 };
        assert!((0..1000).all(|_| no_reads.pick(&mut rng) == Call::Update));
    }

    #[test]
    fn only_create_runs_without_preloaded_documents() {
        assert!(!Workload::Only(Call::Create).reads_preloaded());
        assert!(Workload::Only(Call::List).reads_preloaded());
        assert!(Workload::Mixed { read_percent: 50 }.reads_preloaded());
    }

    /// How often each of `n` keys is drawn in `draws` samples.
    fn key_counts(dist: KeyDist, n: u64, draws: u32, seed: u64) -> Vec<u32> {
        let sampler = KeySampler::new(dist, n, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0u32; usize::try_from(n).unwrap()];
        for _ in 0..draws {
            counts[usize::try_from(sampler.sample(&mut rng).unwrap()).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn uniform_keys_cover_the_range_evenly() {
        let counts = key_counts(KeyDist::Uniform, 10, 20_000, 1);
        assert!(
            counts.iter().all(|&c| (1_700..2_300).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn zipf_keys_are_skewed_like_one_over_k() {
        let draws = 100_000;
        let mut sorted = key_counts(KeyDist::Zipf, 1000, draws, 2);
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        // With s = 1 over 1000 keys, rank 1 has p = 1/H(1000) ~ 13.4% and
        // rank 2 half of that; the top 10 ranks hold ~39% of all draws.
        let top = f64::from(sorted[0]) / f64::from(draws);
        assert!((0.12..0.15).contains(&top), "top key share {top}");
        let ratio = f64::from(sorted[0]) / f64::from(sorted[1]);
        assert!((1.7..2.3).contains(&ratio), "rank 1 / rank 2 = {ratio}");
        let top10: u32 = sorted[..10].iter().sum();
        let share = f64::from(top10) / f64::from(draws);
        assert!((0.36..0.42).contains(&share), "top 10 share {share}");
    }

    #[test]
    fn zipf_hot_keys_are_scattered_over_the_key_space() {
        let counts = key_counts(KeyDist::Zipf, 1000, 50_000, 3);
        let mut by_count: Vec<usize> = (0..1000).collect();
        by_count.sort_unstable_by_key(|&i| std::cmp::Reverse(counts[i]));
        let hottest: Vec<usize> = by_count[..3].to_vec();
        assert!(
            hottest.windows(2).all(|w| w[0].abs_diff(w[1]) > 1),
            "hot keys are neighbours: {hottest:?}"
        );
    }

    #[test]
    fn scatter_is_a_permutation() {
        for n in [1, 2, 7, 100, 1000, 2_654_435_761 * 2] {
            let sample = n.min(5000);
            let seen: HashSet<u64> = (0..sample).map(|r| scatter(r, n)).collect();
            assert_eq!(seen.len() as u64, sample, "n = {n}");
            assert!(seen.iter().all(|&i| i < n));
        }
    }

    #[test]
    fn no_documents_means_no_keys_and_bad_exponents_are_refused() {
        let sampler = KeySampler::new(KeyDist::Zipf, 0, 0.99).unwrap();
        assert_eq!(sampler.sample(&mut StdRng::seed_from_u64(0)), None);
        assert!(KeySampler::new(KeyDist::Zipf, 10, -1.0).is_err());
    }
}
