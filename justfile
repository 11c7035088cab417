# distgo-db tasks. `just --list` shows them.

# Run the worker on the embedded default configuration (or pass --config PATH).
run *ARGS:
    cargo run --release --bin distgo-worker -- {{ARGS}}

# Every test of the workspace: unit, integration, conformance (in-process worker).
test:
    cargo test --workspace

# Formatting, lints (warnings are errors) and documentation warnings.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# Measurements of the write-ahead log (release build): durable CreateDocument
# throughput at 1 and 64 clients, the `never` figure, recovery of 1,000,000
# documents with the snapshot's size, and commits/s of 10-operation
# transactions at 16 clients in memory and with `sync: always`.
bench-wal:
    cargo build --release --example wal_bench
    ./target/release/examples/wal_bench throughput --sync always --clients 1
    ./target/release/examples/wal_bench throughput --sync always --clients 64 --connections 1
    ./target/release/examples/wal_bench throughput --sync never --clients 64 --connections 1
    ./target/release/examples/wal_bench recovery --documents 1000000
    ./target/release/examples/wal_bench throughput --sync memory --clients 16 --connections 1 --txn-ops 10
    ./target/release/examples/wal_bench throughput --sync always --clients 16 --connections 1 --txn-ops 10

# Load-test a release worker beside the null worker (no store) in one run;
# extra flags go to `distgo-conformance bench`, e.g. `just bench --workload create --concurrency 64`.
bench *ARGS:
    cargo build --release -p distgo-db --bin distgo-worker -p distgo-conformance --bin distgo-conformance
    ./target/release/distgo-conformance bench --null --spawn-worker target/release/distgo-worker {{ARGS}}

# Cost vs data size: 10^4, 10^5, 10^6 documents on fresh workers; JSON into testdata/bench/.
bench-scaling *ARGS:
    cargo build --release -p distgo-db --bin distgo-worker -p distgo-conformance --bin distgo-conformance
    ./target/release/distgo-conformance bench --spawn-worker target/release/distgo-worker --scaling 10000,100000,1000000 --recovery --duration 5s --warmup 1s --json testdata/bench/scaling.json {{ARGS}}

# The conformance suite against any worker: `just conformance http://127.0.0.1:55055 --tags core`.
conformance ADDR *ARGS:
    cargo run --release -p distgo-conformance -- run --addr {{ADDR}} {{ARGS}}

# Mutation testing: mutate the worker's store and API, kill mutants with the
# conformance cases (in-process worker). Slow on 2 cores; not part of CI.
# The baseline is skipped because cargo-mutants runs it with the mutated
# package's tests, not `--test-package`; `cargo test -p distgo-conformance
# --test conformance` is the baseline, and it is green.
# Left out, because nothing on the wire can show them (a wire-level suite
# cannot kill their mutants): the log level of a failed request
# (is_server_error), statistics and an accessor used only by tests and the
# bench (Tree::counts, Store::last_lsn), and ForgetConnection, whose whole
# body is the `Ok(Response::new(()))` that cargo-mutants would put there.
# `just mutants --list` lists the mutants; to try one file, run cargo mutants
# with the same options and a single `--file src/api/mask.rs`.
mutants *ARGS:
    CARGO_PROFILE_DEV_DEBUG=0 cargo mutants --package distgo-db --test-package distgo-conformance \
        --baseline skip --timeout 180 --build-timeout 900 \
        --file 'src/store/**' --file 'src/api/**' \
        --exclude-re 'is_server_error|Tree::counts|Store::last_lsn|forget_connection' \
        --cargo-test-arg=--test=conformance {{ARGS}}

# `distgo doc import` and `doc export` of 100,000 documents of 1 KiB through
# one release worker (memory only): documents/s of each. Extra flags go to
# the import, e.g. `just bench-cli 100000 --batch 1000 --parallel 8`.
bench-cli *ARGS:
    cargo build --release --bin distgo --bin distgo-worker --example cli_bench
    ./target/release/examples/cli_bench {{ARGS}}
