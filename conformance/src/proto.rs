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
