//! Update masks (AIP-134).
//!
//! An update request names the fields to change in a `FieldMask`. Absent,
//! empty or `*` means "replace every mutable field". Anything else must list
//! only mutable fields; an output-only or unknown path is an error and
//! nothing changes, rather than being silently ignored, because a client that
//! sends `created_at` believes it can set it and should learn otherwise.
//!
//! Every resource of distgo-db has exactly one mutable field, so a valid
//! mask always means "replace that field": the mask is checked, then the
//! update proceeds the same way whatever its (valid) content.

use prost_types::FieldMask;

use crate::error::{Violation, quote};

/// Checks `mask` for a resource whose only mutable field is `mutable`.
pub fn check_update_mask(mask: Option<&FieldMask>, mutable: &str) -> Result<(), Violation> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() || paths == ["*"] {
        return Ok(());
    }
    match paths.iter().find(|path| path.as_str() != mutable) {
        None => Ok(()),
        Some(path) if path == "*" => Err(Violation::new(
            "update_mask",
            "\"*\" must be the only path when present",
        )),
        Some(path) => Err(Violation::new(
            "update_mask",
            format!(
                "{} is not a mutable field; only {mutable:?} can be updated",
                quote(path)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn absent_empty_star_and_the_mutable_field_are_accepted() {
        assert!(check_update_mask(None, "value").is_ok());
        for ok in [&[][..], &["*"], &["value"], &["value", "value"]] {
            assert!(
                check_update_mask(Some(&mask(ok)), "value").is_ok(),
                "{ok:?}"
            );
        }
    }

    #[test]
    fn output_only_unknown_and_mixed_paths_are_rejected() {
        for bad in [
            &["name"][..],
            &["created_at"],
            &["updated_at"],
            &["id"],
            &["value", "name"],
            &["*", "value"],
            &["Value"],
            &[""],
        ] {
            let err = check_update_mask(Some(&mask(bad)), "value").unwrap_err();
            assert_eq!(err.field, "update_mask", "{bad:?}");
        }
    }
}
