//! Compiles the wire contract in `../proto/` into a client (and a server
//! skeleton, for the null worker and the deliberately wrong servers), and
//! embeds the snapshot scenarios with their golden transcripts.
//!
//! The suite generates its own code rather than reusing the worker's, so it
//! depends on the contract only, never on the reference worker's internals.

use std::{error::Error, fmt::Write, fs, path::Path};

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
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let descriptors = protox::compile(PROTOS, ["../proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    embed_scenarios()?;
    Ok(())
}

/// Writes `$OUT_DIR/scenarios.rs`: one `Scenario` per
/// `../fixtures/scenarios/NAME.txt`, with `../testdata/scenarios/NAME.snap`
/// when it exists, so the binary can check transcripts without the source tree.
fn embed_scenarios() -> Result<(), Box<dyn Error>> {
    let scripts = Path::new("../fixtures/scenarios");
    let golden = Path::new("../testdata/scenarios");
    println!("cargo:rerun-if-changed={}", scripts.display());
    println!("cargo:rerun-if-changed={}", golden.display());
    let mut names: Vec<String> = fs::read_dir(scripts)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".txt").map(str::to_owned))
        .collect();
    names.sort();
    let mut out =
        String::from("/// The scenarios, in name order.\npub static SCENARIOS: &[Scenario] = &[\n");
    for name in names {
        let script = fs::canonicalize(scripts.join(format!("{name}.txt")))?;
        let snap = golden.join(format!("{name}.snap"));
        println!("cargo:rerun-if-changed={}", snap.display());
        let golden = match fs::canonicalize(&snap) {
            Ok(path) => format!("Some(include_str!({:?}))", path.display().to_string()),
            Err(_) => "None".to_owned(),
        };
        writeln!(
            out,
            "    Scenario {{ name: {name:?}, script: include_str!({:?}), golden: {golden} }},",
            script.display().to_string()
        )?;
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&std::env::var("OUT_DIR")?).join("scenarios.rs"),
        out,
    )?;
    Ok(())
}
