//! Expected failures: a YAML map from case id to reason.
//!
//! ```yaml
//! txn-begin-returns-id: "reference worker: TransactionService not implemented yet (issue 5)"
//! ```
//!
//! An expected failure that fails is reported as `xfailed` and does not fail
//! the run; one that *passes* fails the run, so the file cannot go stale: the
//! day a feature lands, its entries must be removed.

use std::{collections::BTreeMap, path::Path};

/// Case id -> why it is expected to fail.
pub type XFail = BTreeMap<String, String>;

/// Why an expected-failure file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum XFailError {
    /// Unreadable file.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not a map of strings.
    #[error("{path}: expected a YAML map of case id to reason: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Names a case that does not exist.
    #[error("{path}: unknown case id(s): {ids}")]
    Unknown {
        /// The file.
        path: String,
        /// The ids.
        ids: String,
    },
}

/// Parses an expected-failure file's text.
pub fn parse(text: &str, path: &str) -> Result<XFail, XFailError> {
    if text.trim().is_empty() {
        return Ok(XFail::new());
    }
    let map: Option<XFail> = serde_yaml::from_str(text).map_err(|e| XFailError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(map.unwrap_or_default())
}

/// Reads an expected-failure file and checks that every id is a known case.
pub fn load(path: &Path, known: &[&str]) -> Result<XFail, XFailError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| XFailError::Read {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let map = parse(&text, &display)?;
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|id| !known.contains(id))
        .collect();
    if !unknown.is_empty() {
        return Err(XFailError::Unknown {
            path: display,
            ids: unknown.join(", "),
        });
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference worker's file may hold no entries at all, only its
    /// header comment: that is an empty map, not a parse error.
    #[test]
    fn a_file_of_comments_only_expects_no_failures() {
        let text = "# Expected failures (case id -> reason).\n# none left\n";
        assert_eq!(parse(text, "x.yaml").map(|m| m.len()).ok(), Some(0));
        assert_eq!(parse("", "x.yaml").map(|m| m.len()).ok(), Some(0));
    }

    #[test]
    fn entries_map_case_ids_to_reasons() {
        let map = parse("a-case: \"not yet\"\n", "x.yaml").ok();
        assert_eq!(
            map.and_then(|m| m.get("a-case").cloned()).as_deref(),
            Some("not yet")
        );
    }
}
