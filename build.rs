//! Compiles the wire contract in `proto/` into Rust.
//!
//! `protox` parses the `.proto` files in pure Rust, so building distgo-db never
//! needs a system `protoc`. The encoded descriptor set is written beside the
//! generated code for the gRPC reflection service.

use std::{env, error::Error, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "worker/database/v1/types.proto",
    "worker/database/v1/database.proto",
    "worker/database/v1/collection.proto",
    "worker/database/v1/document.proto",
    "worker/database/v1/transaction.proto",
    "worker/database/v1/wal.proto",
    "worker/cluster/v1/cluster.proto",
    "master/database/v1/types.proto",
    "master/database/v1/database.proto",
    "master/database/v1/collection.proto",
    "master/database/v1/document.proto",
    "master/database/v1/transaction.proto",
    "master/database/v1/wal.proto",
    "master/cluster/v1/cluster.proto",
    "master/admin/v1/admin.proto",
    "worker/replication/v1/replication.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("distgo_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
