//! Compiles the wire contract in `../proto/` into a client (and a server
//! skeleton, for the null worker and the deliberately wrong servers).
//!
//! The suite generates its own code rather than reusing the worker's, so it
//! depends on the contract only, never on the reference worker's internals.

use std::error::Error;

const PROTOS: &[&str] = &[
    "worker/database/v1/types.proto",
    "worker/database/v1/database.proto",
    "worker/database/v1/collection.proto",
    "worker/database/v1/document.proto",
    "worker/database/v1/transaction.proto",
    "worker/database/v1/wal.proto",
    "worker/cluster/v1/cluster.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let descriptors = protox::compile(PROTOS, ["../proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
