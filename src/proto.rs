//! The wire contract, generated from `proto/` by `build.rs`.
//!
//! Everything a client sees is defined here: messages, enums and the service
//! traits that [`crate::api`] implements. The generated code is not edited by
//! hand; change the `.proto` files instead, knowing that other
//! implementations speak exactly these bytes: a changed name, number or type
//! and they stop understanding us (`tests/wire.rs` keeps a golden copy).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Package `worker.database.v1`: databases, collections, documents,
/// transactions and the write-ahead log.
pub mod database {
    tonic::include_proto!("worker.database.v1");
}

/// Package `worker.cluster.v1`: what the master node asks of a worker.
pub mod cluster {
    tonic::include_proto!("worker.cluster.v1");
}

/// Package `worker.replication.v1`: distgo-db's own replication protocol
/// (Raft between the members of a replica set, and its administration); not
/// part of the v1 client contract.
pub mod replication {
    tonic::include_proto!("worker.replication.v1");
}

/// Packages of the master node (`distgo-master`): `master.database.v1`
/// repeats the five database services of [`database`] with the same
/// messages and numbers; `master.cluster.v1` is where workers register.
pub mod master {
    /// Package `master.database.v1`.
    pub mod database {
        tonic::include_proto!("master.database.v1");
    }

    /// Package `master.cluster.v1`.
    pub mod cluster {
        tonic::include_proto!("master.cluster.v1");
    }

    /// Package `master.admin.v1`: distgo-db's own administration of the
    /// masters (moving a database between sets); not part of the contract.
    pub mod admin {
        tonic::include_proto!("master.admin.v1");
    }
}

/// The encoded `FileDescriptorSet` of every `.proto` file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/distgo_descriptor.bin"));
