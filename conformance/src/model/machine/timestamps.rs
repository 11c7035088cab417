//! Timestamps as the reads of a sequence see them: FIELD-6 on every
//! resource, and WAL-5 on the resources a commit wrote (the next read of
//! each shows the commit's time, the same for all of them).

use prost_types::Timestamp;

use super::{
    compare::Mismatch,
    sequence::{Seq, lock},
};
use crate::req::{Res, nanos};

impl Seq<'_> {
    /// FIELD-6: created_at fixed, updated_at = created_at at create, never
    /// decreasing, never before created_at. And WAL-5 as a reader sees it:
    /// every resource that one commit wrote has the commit's time as
    /// updated_at (and as created_at too, if the commit created it).
    pub(super) fn check_times(
        &self,
        res: &Res,
        update: bool,
        create: bool,
    ) -> Result<(), Mismatch> {
        let t = |ts: &Option<Timestamp>| ts.as_ref().map(nanos);
        let (Some(created), Some(updated)) = (t(&res.created_at), t(&res.updated_at)) else {
            return Err(Mismatch {
                expected: "created_at and updated_at set".into(),
                actual: format!(
                    "{} / {}",
                    crate::report::time::rfc3339(res.created_at.as_ref()),
                    crate::report::time::rfc3339(res.updated_at.as_ref())
                ),
                clause: None,
                timing: true,
            });
        };
        // Written by a commit since last seen: read like an update's answer.
        let pending = lock(&self.pending).remove(&res.name);
        let mut times = lock(&self.times);
        let ok = match (times.get(&res.name), create, update || pending.is_some()) {
            (_, true, _) => created == updated,
            (Some((c, u)), _, true) => created == *c && updated >= *u && updated >= created,
            (Some((c, u)), _, false) => created == *c && updated == *u,
            (None, _, _) => updated >= created,
        };
        if !ok {
            return Err(Mismatch {
                expected: "timestamps: created_at fixed, updated_at = created_at at create, never decreasing"
                    .into(),
                actual: format!(
                    "created_at {created}, updated_at {updated}, before {:?}",
                    times.get(&res.name)
                ),
                clause: None,
                timing: true,
            });
        }
        times.insert(res.name.clone(), (created, updated));
        drop(times);
        match pending {
            // A plain update since the commit: its time is no longer visible.
            Some((number, by_create)) if !update && !create => {
                self.check_commit_time(res, number, by_create, created, updated)
            }
            _ => Ok(()),
        }
    }

    fn check_commit_time(
        &self,
        res: &Res,
        number: usize,
        by_create: bool,
        created: i128,
        updated: i128,
    ) -> Result<(), Mismatch> {
        let mut commits = lock(&self.commits);
        let Some(slot) = commits.get_mut(number) else {
            return Ok(());
        };
        let at = *slot.get_or_insert(updated);
        if updated != at || (by_create && created != updated) {
            return Err(Mismatch {
                expected: format!(
                    "{} written by commit {number} at {at}: updated_at {at}{}",
                    res.name,
                    if by_create { " = created_at" } else { "" }
                ),
                actual: format!("created_at {created}, updated_at {updated}"),
                clause: Some("WAL-5"),
                timing: true,
            });
        }
        Ok(())
    }
}
