//! Every method the worker serves, what it does to the state and who may
//! call it: the one table that routing and auth consult.
//!
//! A replica set member must know, before it runs a request, whether the
//! request changes the state (only the leader can propose it, so a
//! follower forwards it), reads it (linearizable unless the client asks
//! for a local read) or is about this member alone (health, reflection,
//! Raft between members). Transactions count as writes: their buffered
//! operations live on the leader that will commit them.
//!
//! With auth on ([`super::auth`]), the same table gives each method the
//! role a token needs: `ro` for reads, `rw` for writes, `admin` for the
//! calls that manage a worker or a set (TruncateWAL, ForgetConnection, and
//! the replication protocol, between members and from operators). A test
//! checks that the table names every method of every `worker.*` service in
//! the descriptor set, so a new RPC cannot be added without its kind and
//! its role.

use super::auth::Role;

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

/// One method of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    /// `/package.Service/Method`.
    pub path: &'static str,
    /// What it does to the state.
    pub kind: Kind,
    /// The role a token needs to call it.
    pub role: Role,
}

const fn m(path: &'static str, kind: Kind, role: Role) -> Method {
    Method { path, kind, role }
}

/// Every `worker.*` method the worker serves.
pub const METHODS: &[Method] = &[
    m(
        "/worker.database.v1.DatabaseService/ListDatabases",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.DatabaseService/GetDatabase",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.DatabaseService/CreateDatabase",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.DatabaseService/UpdateDatabase",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.DatabaseService/DeleteDatabase",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.CollectionService/ListCollections",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.CollectionService/GetCollection",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.CollectionService/CreateCollection",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.CollectionService/UpdateCollection",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.CollectionService/DeleteCollection",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.DocumentService/ListDocuments",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.DocumentService/GetDocument",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.DocumentService/CreateDocument",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.DocumentService/UpdateDocument",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.DocumentService/DeleteDocument",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.TransactionService/Begin",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.TransactionService/Execute",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.TransactionService/Commit",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.TransactionService/Rollback",
        Kind::Write,
        Role::Write,
    ),
    m(
        "/worker.database.v1.WALService/ListWALEntries",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/worker.database.v1.WALService/TruncateWAL",
        Kind::Write,
        Role::Admin,
    ),
    m(
        "/worker.cluster.v1.ClusterService/ForgetConnection",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/Vote",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/PreVote",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/AppendEntries",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/StreamAppend",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/InstallSnapshot",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/TransferLeader",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/ReadIndex",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/Initialize",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/AddLearner",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/ChangeMembership",
        Kind::Local,
        Role::Admin,
    ),
    m(
        "/worker.replication.v1.ReplicationService/Status",
        Kind::Local,
        Role::Read,
    ),
];

/// The methods of `master.cluster.v1`, which only the master serves:
/// registering is an operator's (or a worker's admin token's) business.
pub const MASTER_METHODS: &[Method] = &[
    m(
        "/master.cluster.v1.ClusterService/Register",
        Kind::Write,
        Role::Admin,
    ),
    m(
        "/master.cluster.v1.ClusterService/ListWorkers",
        Kind::Read,
        Role::Read,
    ),
    m(
        "/master.cluster.v1.ClusterService/Unregister",
        Kind::Write,
        Role::Admin,
    ),
    m(
        "/master.admin.v1.AdminService/MoveDatabase",
        Kind::Write,
        Role::Admin,
    ),
];

/// The method at `path`, if the worker or the master serves it. A
/// `master.database.v1` method is its `worker.database.v1` twin: the
/// master forwards it there, so it has the same kind and role.
pub fn lookup(path: &str) -> Option<&'static Method> {
    if let Some(rest) = path.strip_prefix("/master.database.v1.") {
        return METHODS
            .iter()
            .find(|method| method.path.strip_prefix("/worker.database.v1.") == Some(rest));
    }
    METHODS
        .iter()
        .chain(MASTER_METHODS)
        .find(|method| method.path == path)
}

/// The kind of the method at `path`; anything not in the table (health,
/// reflection) is about this member alone.
pub fn kind(path: &str) -> Kind {
    lookup(path).map_or(Kind::Local, |method| method.kind)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn the_table_names_exactly_the_methods_the_worker_serves() {
        let set =
            prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut served: Vec<String> = Vec::new();
        for file in set
            .file
            .iter()
            .filter(|f| f.package().starts_with("worker."))
        {
            for service in &file.service {
                for method in &service.method {
                    served.push(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        let mut table: Vec<String> = METHODS.iter().map(|m| m.path.to_owned()).collect();
        served.sort();
        table.sort();
        assert_eq!(table, served);
    }

    #[test]
    fn reads_writes_and_member_calls_are_told_apart() {
        let cases = [
            (
                "/worker.database.v1.DatabaseService/ListDatabases",
                Kind::Read,
            ),
            (
                "/worker.database.v1.DocumentService/GetDocument",
                Kind::Read,
            ),
            (
                "/worker.database.v1.CollectionService/UpdateCollection",
                Kind::Write,
            ),
            ("/worker.database.v1.TransactionService/Begin", Kind::Write),
            ("/worker.database.v1.WALService/ListWALEntries", Kind::Read),
            ("/worker.database.v1.WALService/TruncateWAL", Kind::Write),
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
