//! What each gRPC method does to the state: the one table that routing
//! (and, with it, anything that treats writes and reads differently)
//! consults.
//!
//! A replica set member must know, before it runs a request, whether the
//! request changes the state (only the leader can propose it, so a
//! follower forwards it), reads it (linearizable unless the client asks
//! for a local read) or is about this member alone (health, reflection,
//! Raft between members). Transactions count as writes: their buffered
//! operations live on the leader that will commit them.

/// What a method does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Changes the replicated state: runs on the leader.
    Write,
    /// Reads the replicated state: linearizable by default.
    Read,
    /// About this member alone: runs where it arrives.
    Local,
}

/// The kind of the method at `path` (`/package.Service/Method`).
pub fn kind(path: &str) -> Kind {
    let Some((service, method)) = path.trim_start_matches('/').split_once('/') else {
        return Kind::Local;
    };
    let Some(service) = service.strip_prefix("worker.database.v1.") else {
        return Kind::Local;
    };
    match (service, method) {
        ("TransactionService", _) | ("WALService", "TruncateWAL") => Kind::Write,
        ("WALService", "ListWALEntries") => Kind::Read,
        (_, method) if method.starts_with("Create") => Kind::Write,
        (_, method) if method.starts_with("Update") => Kind::Write,
        (_, method) if method.starts_with("Delete") => Kind::Write,
        (_, method) if method.starts_with("Get") || method.starts_with("List") => Kind::Read,
        _ => Kind::Local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_of_the_contract_has_its_kind() {
        let cases = [
            (
                "/worker.database.v1.DatabaseService/ListDatabases",
                Kind::Read,
            ),
            (
                "/worker.database.v1.DatabaseService/GetDatabase",
                Kind::Read,
            ),
            (
                "/worker.database.v1.DatabaseService/CreateDatabase",
                Kind::Write,
            ),
            (
                "/worker.database.v1.CollectionService/UpdateCollection",
                Kind::Write,
            ),
            (
                "/worker.database.v1.DocumentService/DeleteDocument",
                Kind::Write,
            ),
            (
                "/worker.database.v1.DocumentService/GetDocument",
                Kind::Read,
            ),
            ("/worker.database.v1.TransactionService/Begin", Kind::Write),
            (
                "/worker.database.v1.TransactionService/Rollback",
                Kind::Write,
            ),
            ("/worker.database.v1.WALService/ListWALEntries", Kind::Read),
            ("/worker.database.v1.WALService/TruncateWAL", Kind::Write),
            (
                "/worker.cluster.v1.ClusterService/ForgetConnection",
                Kind::Local,
            ),
            (
                "/worker.replication.v1.ReplicationService/AppendEntries",
                Kind::Local,
            ),
            ("/grpc.health.v1.Health/Check", Kind::Local),
            ("/nonsense", Kind::Local),
        ];
        for (path, expected) in cases {
            assert_eq!(kind(path), expected, "{path}");
        }
    }
}
