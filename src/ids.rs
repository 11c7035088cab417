//! Generated ids.
//!
//! When a client creates a resource with an empty id, the server picks 20
//! random characters from the id alphabet (lower case only for databases).
//! The generator is the store's seeded-from-the-OS ChaCha RNG, so generated
//! ids are unpredictable in production and reproducible in tests that seed it.

use rand::RngCore;

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
        .map(|_| {
            let index = rand::Rng::random_range(rng, 0..alphabet.len());
            char::from(alphabet[index])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

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
}
