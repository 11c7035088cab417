//! Which cases run: `--tags`, `--skip-tags` and `--case` globs, applied to
//! the registry in its order.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::case::{Case, Tag};

/// Which cases to run.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Run only cases with one of these tags (empty: all).
    pub tags: Vec<Tag>,
    /// Never run cases with one of these tags.
    pub skip_tags: Vec<Tag>,
    /// Run only cases whose id matches one of these globs (empty: all).
    pub case_globs: Vec<String>,
}

impl Selection {
    /// The selected cases, in registry order.
    pub fn select(&self, cases: Vec<Case>) -> Result<Vec<Case>, globset::Error> {
        let globs = self.glob_set()?;
        Ok(cases
            .into_iter()
            .filter(|c| self.tags.is_empty() || self.tags.iter().any(|t| c.has(*t)))
            .filter(|c| !self.skip_tags.iter().any(|t| c.has(*t)))
            .filter(|c| self.case_globs.is_empty() || globs.is_match(&c.id))
            .collect())
    }

    fn glob_set(&self) -> Result<GlobSet, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for glob in &self.case_globs {
            builder.add(Glob::new(glob)?);
        }
        builder.build()
    }
}
