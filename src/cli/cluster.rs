//! `distgo cluster status`: who leads a replica set, and how far behind
//! each member is.
//!
//! A member of a replica set serves `worker.replication.v1`, whose
//! `Status` call answers with what that member knows: its own state and
//! term, the leader it follows, its log's last, committed and applied
//! indexes, and the members of the set. Only the leader knows how far each
//! follower has replicated (`matched`, `lag`), so ask the leader for those,
//! or any member for the rest:
//!
//! ```text
//! node 2 (follower), term 3, leader 1 at http://127.0.0.1:55061
//! log: last 1204, committed 1204, applied 1204, snapshot 1000
//! NODE  ADDRESS                 VOTER  LEADER  MATCHED  LAG
//! 1     http://127.0.0.1:55061  yes    *       -        -
//! 2     http://127.0.0.1:55062  yes            -        -
//! 3     http://127.0.0.1:55063  yes            -        -
//! ```
//!
//! A standalone worker does not serve the replication service; the command
//! then says so and exits 1 (UNIMPLEMENTED).

use std::io::Write;

use serde::Serialize;
use tabwriter::TabWriter;

use super::{Context, error::CliError, output::Show};
use crate::proto::replication::{StatusRequest, StatusResponse};

/// Runs `cluster status`.
pub async fn status(cx: &mut Context) -> Result<(), CliError> {
    let status = cx
        .clients
        .replication()
        .status(StatusRequest {})
        .await?
        .into_inner();
    cx.printer.one(&ClusterStatus::from(status))
}

/// The result of `cluster status` (its `--output json` form is this, field
/// for field).
#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    /// The member asked.
    pub node_id: u64,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub state: String,
    /// Its current term.
    pub term: u64,
    /// The leader it knows (`null`: none).
    pub leader_id: Option<u64>,
    /// The leader's address, when known.
    pub leader_address: Option<String>,
    /// The index of the last entry in its log.
    pub last_log_index: u64,
    /// The last entry it knows to be committed.
    pub committed_index: u64,
    /// The last entry applied to its store.
    pub applied_index: u64,
    /// The last entry its newest snapshot covers.
    pub snapshot_index: u64,
    /// The set, by node id.
    pub members: Vec<MemberStatus>,
}

/// One member of the set.
#[derive(Debug, Serialize)]
pub struct MemberStatus {
    /// Its node id.
    pub node_id: u64,
    /// Where its peers reach it.
    pub address: String,
    /// A voter (else a learner, which replicates but does not vote).
    pub voter: bool,
    /// Whether it leads.
    pub leader: bool,
    /// The last entry it has (known on the leader only).
    pub matched_index: Option<u64>,
    /// Entries it is behind the leader's log (known on the leader only).
    pub lag: Option<u64>,
}

impl From<StatusResponse> for ClusterStatus {
    fn from(status: StatusResponse) -> Self {
        let leader_id = (status.leader_id != 0).then_some(status.leader_id);
        let knows_progress = status.state == "leader";
        let members = status
            .members
            .into_iter()
            .map(|member| MemberStatus {
                node_id: member.node_id,
                address: member.address,
                voter: member.voter,
                leader: Some(member.node_id) == leader_id,
                matched_index: knows_progress.then_some(member.matched_index),
                lag: knows_progress.then_some(member.lag),
            })
            .collect();
        ClusterStatus {
            node_id: status.node_id,
            state: status.state,
            term: status.term,
            leader_id,
            leader_address: Some(status.leader_address).filter(|a| !a.is_empty()),
            last_log_index: status.last_log_index,
            committed_index: status.committed_index,
            applied_index: status.applied_index,
            snapshot_index: status.snapshot_index,
            members,
        }
    }
}

impl ClusterStatus {
    /// The first line: who this is and whom it follows.
    fn headline(&self) -> String {
        let leader = match (self.leader_id, &self.leader_address) {
            (Some(id), Some(address)) => format!("leader {id} at {address}"),
            (Some(id), None) => format!("leader {id}"),
            (None, _) => "no leader known".to_owned(),
        };
        format!(
            "node {} ({}), term {}, {leader}",
            self.node_id, self.state, self.term
        )
    }

    fn members_table(&self) -> String {
        let dash = |n: Option<u64>| n.map_or("-".to_owned(), |n| n.to_string());
        let mut table = TabWriter::new(Vec::new()).padding(2);
        let _ = writeln!(table, "NODE\tADDRESS\tVOTER\tLEADER\tMATCHED\tLAG");
        for member in &self.members {
            let _ = writeln!(
                table,
                "{}\t{}\t{}\t{}\t{}\t{}",
                member.node_id,
                member.address,
                if member.voter { "yes" } else { "no" },
                if member.leader { "*" } else { "" },
                dash(member.matched_index),
                dash(member.lag)
            );
        }
        let bytes = table.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }
}

impl Show for ClusterStatus {
    const COLUMNS: &'static [&'static str] = &["NODE", "STATE", "TERM", "LEADER"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.node_id.to_string(),
            self.state.clone(),
            self.term.to_string(),
            self.leader_id.map_or("-".into(), |id| id.to_string()),
        ]
    }

    fn alone(&self) -> Option<String> {
        Some(format!(
            "{}\nlog: last {}, committed {}, applied {}, snapshot {}\n{}",
            self.headline(),
            self.last_log_index,
            self.committed_index,
            self.applied_index,
            self.snapshot_index,
            self.members_table()
        ))
    }

    fn view<S: serde::Serializer>(&self, _raw: bool, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::replication::Member;

    fn status(state: &str) -> StatusResponse {
        StatusResponse {
            node_id: 2,
            state: state.into(),
            term: 3,
            leader_id: 1,
            leader_address: "http://127.0.0.1:55061".into(),
            members: vec![
                Member {
                    node_id: 1,
                    address: "http://127.0.0.1:55061".into(),
                    voter: true,
                    matched_index: 9,
                    lag: 0,
                },
                Member {
                    node_id: 4,
                    address: "http://127.0.0.1:55064".into(),
                    voter: false,
                    matched_index: 5,
                    lag: 4,
                },
            ],
            last_log_index: 9,
            committed_index: 9,
            applied_index: 8,
            snapshot_index: 0,
            purged_index: 0,
        }
    }

    #[test]
    fn a_follower_shows_its_leader_and_no_progress_it_cannot_know() {
        let text = ClusterStatus::from(status("follower")).alone().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "node 2 (follower), term 3, leader 1 at http://127.0.0.1:55061"
        );
        assert_eq!(lines[1], "log: last 9, committed 9, applied 8, snapshot 0");
        assert!(lines[2].starts_with("NODE  ADDRESS"), "{}", lines[2]);
        let leader: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            leader,
            ["1", "http://127.0.0.1:55061", "yes", "*", "-", "-"]
        );
        let learner: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(learner, ["4", "http://127.0.0.1:55064", "no", "-", "-"]);
    }

    #[test]
    fn the_leader_shows_each_members_lag() {
        let shown = ClusterStatus::from(status("leader"));
        assert_eq!(shown.members[1].lag, Some(4));
        assert_eq!(shown.members[1].matched_index, Some(5));
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["leader_id"], 1);
        assert_eq!(json["members"][0]["leader"], true);
    }

    #[test]
    fn no_leader_is_said_in_words_and_null_in_json() {
        let mut lost = status("candidate");
        lost.leader_id = 0;
        lost.leader_address.clear();
        let shown = ClusterStatus::from(lost);
        assert!(
            shown.headline().ends_with("no leader known"),
            "{}",
            shown.headline()
        );
        assert_eq!(
            serde_json::to_value(&shown).unwrap()["leader_id"],
            serde_json::Value::Null
        );
        assert!(shown.members.iter().all(|m| !m.leader));
    }
}
