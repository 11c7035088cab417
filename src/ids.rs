//! Generated ids.
//!
//! When a client creates a resource with an empty id, the server picks 20
//! random characters from the id alphabet (lower case only for databases).
//! The characters come from the command's ChaCha8 stream
//! ([`crate::store::Command`]): unpredictable, because the proposer seeds it
//! from the OS, and reproducible, because every replica that applies the
//! command draws the same ones.
//!
//! The drawing is written out here (rejection sampling on `next_u32`)
//! rather than left to `rand::Rng::random_range`, whose algorithm `rand` may
//! change between versions: the ids a log entry produces are part of the
//! log's format.

use rand_chacha::rand_core::RngCore;

use crate::names::IdKind;

/// Length of a generated id.
pub const GENERATED_ID_LEN: usize = 20;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._-";
const MIXED: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

/// A fresh id of `kind`, uniformly drawn from its alphabet.
pub fn generate_id(kind: IdKind, rng: &mut impl RngCore) -> String {
    let alphabet = match kind {
        IdKind::Database => LOWER,
        IdKind::Child => MIXED,
    };
    (0..GENERATED_ID_LEN)
        .map(|_| char::from(alphabet[uniform_below(alphabet.len() as u32, rng) as usize]))
        .collect()
}

/// A uniform number below `bound` (> 0): draws are rejected from the top
/// of the `u32` range that `bound` does not divide evenly, so no residue is
/// more likely than another.
fn uniform_below(bound: u32, rng: &mut impl RngCore) -> u32 {
    let zone = u32::MAX - (u32::MAX % bound + 1) % bound;
    loop {
        let draw = rng.next_u32();
        if draw <= zone {
            return draw % bound;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::{ChaCha8Rng as StdRng, rand_core::SeedableRng};

    use super::*;
    use crate::names::check_id;

    #[test]
    fn generated_ids_are_valid_ids_of_their_kind() {
        let mut rng = StdRng::seed_from_u64(7);
        for kind in [IdKind::Database, IdKind::Child] {
            for _ in 0..200 {
                let id = generate_id(kind, &mut rng);
                assert_eq!(id.len(), GENERATED_ID_LEN);
                assert_eq!(check_id(&id, kind, "id"), Ok(()), "{id}");
            }
        }
    }

    #[test]
    fn generated_ids_differ() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = generate_id(IdKind::Child, &mut rng);
        let b = generate_id(IdKind::Child, &mut rng);
        assert_ne!(a, b);
    }

    #[test]
    fn every_letter_of_the_alphabet_is_drawn_about_equally() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 38];
        for _ in 0..38_000 {
            counts[uniform_below(38, &mut rng) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1200).contains(&n)),
            "{counts:?}"
        );
    }
}
