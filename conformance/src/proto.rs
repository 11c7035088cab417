//! The wire contract, generated from `../proto/` by this crate's `build.rs`.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Package `worker.database.v1`.
pub mod database {
    tonic::include_proto!("worker.database.v1");
}

/// Package `worker.cluster.v1`.
pub mod cluster {
    tonic::include_proto!("worker.cluster.v1");
}

/// Packages of the master node: `master.database.v1` (the same five
/// services, messages and numbers as [`database`], for `--api master`) and
/// `master.cluster.v1`.
pub mod master {
    /// Package `master.database.v1`.
    pub mod database {
        tonic::include_proto!("master.database.v1");
    }

    /// Package `master.cluster.v1`.
    pub mod cluster {
        tonic::include_proto!("master.cluster.v1");
    }
}
