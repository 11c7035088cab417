# distgo-db tasks. `just --list` shows them, one line each: just prints the
# comment line right above a recipe, so each recipe has exactly one, and any
# longer explanation sits above it, separated by a blank line
# (tests/readme.rs checks this).

# Install the contributor tools: just, cargo-insta, cargo-mutants, cargo-fuzz (needs crates.io).
setup:
    cargo install --locked just cargo-insta cargo-mutants cargo-fuzz

# Run a worker (release build) on the embedded default config, or `just run --config PATH`.
run *ARGS:
    cargo run --release --bin distgo-worker -- {{ARGS}}

# Every test of the workspace: unit, integration, conformance (what CI runs).
test:
    cargo test --workspace

# The multi-process cluster tests with the long settings (20 kills, a 5-minute soak, 10,000 missed writes; override by env); CI runs the short defaults.
cluster-test *ARGS:
    CLUSTER_KILLS="${CLUSTER_KILLS:-20}" CLUSTER_SOAK_SECS="${CLUSTER_SOAK_SECS:-300}" CLUSTER_SNAPSHOT_WRITES="${CLUSTER_SNAPSHOT_WRITES:-10000}" cargo test -p distgo-db --test cluster -- --nocapture {{ARGS}}

# `just cluster` runs the three members of fixtures/cluster in the
# foreground, each line prefixed with its member's name; `just cluster
# full` runs nine processes: the two sets of fixtures/cluster/full (a on
# 56001-56003, b on 56011-56013) and the three masters of
# fixtures/master/catalog (55056-55058) that route to them and keep the
# catalog together. Non-interactive bash starts background jobs with
# SIGINT ignored, so Ctrl-C reaches only this script, whose trap stops
# every process with SIGTERM (an orderly drain) and waits for them. A
# process killed by hand leaves the others running; restart it with its
# own file (see src/replication/raft/mod.rs).

# Start a replica set of fixtures/cluster (127.0.0.1:55061-55063), or with `full` two sets and three masters (release build); Ctrl-C stops all.
cluster what="set":
    #!/usr/bin/env bash
    set -euo pipefail
    case "{{what}}" in
        set) members=(fixtures/cluster/node-1.yaml fixtures/cluster/node-2.yaml fixtures/cluster/node-3.yaml); masters=() ;;
        full) members=(fixtures/cluster/full/*.yaml); masters=(fixtures/master/catalog/*.yaml) ;;
        *) echo "just cluster [set|full]: unknown '{{what}}'" >&2; exit 2 ;;
    esac
    cargo build --release --bin distgo-worker --bin distgo-master
    pids=()
    stop() {
        if [ "${#pids[@]}" -gt 0 ]; then
            kill -TERM "${pids[@]}" 2>/dev/null || true
            wait "${pids[@]}" 2>/dev/null || true
        fi
    }
    trap stop EXIT
    trap 'echo "stopping the cluster"; exit 130' INT TERM
    for config in "${members[@]}"; do
        name=$(basename "$config" .yaml)
        ./target/release/distgo-worker --config "$config" > >(sed -u "s/^/[$name] /") 2>&1 &
        pids+=("$!")
    done
    for config in "${masters[@]}"; do
        name=$(basename "$config" .yaml)
        ./target/release/distgo-master --config "$config" > >(sed -u "s/^/[$name] /") 2>&1 &
        pids+=("$!")
    done
    if [ "{{what}}" = full ]; then
        echo "masters on 127.0.0.1:55056-55058, sets a (56001-56003) and b (56011-56013); data in data/; Ctrl-C stops all nine"
    else
        echo "replica set on 127.0.0.1:55061, :55062, :55063 (data in data/cluster/); Ctrl-C stops it"
    fi
    wait "${pids[@]}" || true

# Check formatting, clippy lints and rustdoc, all warnings as errors (what CI runs).
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# Build the book (crate and module docs) and open it in a browser.
doc:
    cargo doc --workspace --no-deps --open

# Run the conformance suite against any worker: `just conformance http://127.0.0.1:55055 --tags core`.
conformance ADDR *ARGS:
    cargo run --release -p distgo-conformance -- run --addr {{ADDR}} {{ARGS}}

# Load-test a release worker beside the null worker; extra flags go to `distgo-conformance bench`.
bench *ARGS:
    cargo build --release -p distgo-db --bin distgo-worker -p distgo-conformance --bin distgo-conformance
    ./target/release/distgo-conformance bench --null --spawn-worker target/release/distgo-worker {{ARGS}}

# What bench-tables measures, each row its own bench run of 5 rounds
# (null worker and worker alternately, pinned to separate CPUs): Get,
# Create and Update in memory at concurrency 16 and 64 and List pages of
# 100, with 1 KiB values, and the same Get/Create rows with 256-byte
# values. Rows go to testdata/bench/null.md. Then Get and List on a
# worker that 4M documents were created in and deleted from and 2M
# updated (--churn), against a fresh worker measured alternately with it
# (--fresh-baseline, 15 rounds of 2 s: short alternations so the
# machine's drift falls on both), into testdata/bench/churn.md. The
# performance chapter (src/performance.rs) includes both files as they are.

# Regenerate the performance chapter's table (about 25 minutes, release build, idle machine).
bench-tables:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p distgo-db --bin distgo-worker -p distgo-conformance --bin distgo-conformance
    out=testdata/bench/null.md
    rm -f "$out"
    bench() { ./target/release/distgo-conformance bench --null --spawn-worker target/release/distgo-worker --rounds 5 --duration 5s --warmup 1s --markdown "$out" "$@"; }
    for bytes in 1024 256; do
        for c in 16 64; do
            bench --workload get --concurrency "$c" --value-bytes "$bytes" --label GetDocument
            bench --workload create --concurrency "$c" --value-bytes "$bytes" --label "CreateDocument (memory)"
            if [ "$bytes" = 1024 ]; then
                bench --workload update --concurrency "$c" --value-bytes "$bytes" --label "UpdateDocument (memory)"
            fi
        done
    done
    bench --workload list --concurrency 16 --value-bytes 1024 --label "ListDocuments (pages of 100)"
    churned=testdata/bench/churn.md
    rm -f "$churned"
    churn() { ./target/release/distgo-conformance bench --fresh-baseline --spawn-worker target/release/distgo-worker --churn 4000000 --churn-updates 2000000 --rounds 15 --duration 2s --warmup 1s --value-bytes 1024 --markdown "$churned" "$@"; }
    churn --workload get --concurrency 64 --label "GetDocument after churn"
    churn --workload list --concurrency 16 --label "ListDocuments (pages of 100) after churn"
    cat "$out" "$churned"

# Measure cost against data size (10^4..10^6 documents); JSON into testdata/bench/.
bench-scaling *ARGS:
    cargo build --release -p distgo-db --bin distgo-worker -p distgo-conformance --bin distgo-conformance
    ./target/release/distgo-conformance bench --spawn-worker target/release/distgo-worker --scaling 10000,100000,1000000 --recovery --duration 5s --warmup 1s --json testdata/bench/scaling.json {{ARGS}}

# What bench-wal measures, all with a release build: durable CreateDocument
# throughput at 1 and 64 clients, the `never` figure, recovery of 1,000,000
# documents with the snapshot's size, and commits/s of 10-operation
# transactions at 16 clients in memory and with `sync: always`.

# Measure the write-ahead log: group commit, recovery of 10^6 documents, transactions.
bench-wal:
    cargo build --release --example wal_bench
    ./target/release/examples/wal_bench throughput --sync always --clients 1
    ./target/release/examples/wal_bench throughput --sync always --clients 64 --connections 1
    ./target/release/examples/wal_bench throughput --sync never --clients 64 --connections 1
    ./target/release/examples/wal_bench recovery --documents 1000000
    ./target/release/examples/wal_bench throughput --sync memory --clients 16 --connections 1 --txn-ops 10
    ./target/release/examples/wal_bench throughput --sync always --clients 16 --connections 1 --txn-ops 10

# Mutation testing: mutate the worker's store and API, kill mutants with the
# conformance cases (in-process worker). Slow on 2 cores; not part of CI.
# The baseline is skipped because cargo-mutants runs it with the mutated
# package's tests, not `--test-package`; `cargo test -p distgo-conformance
# --test conformance` is the baseline, and it is green.
# Left out, because nothing on the wire can show them (a wire-level suite
# cannot kill their mutants): the log level of a failed request
# (is_server_error) and the resource name in a create's log line
# (requested_name, Named::name), statistics and an accessor used only by
# tests and the bench (Tree::counts, Store::last_lsn), and ForgetConnection,
# whose whole body is the `Ok(Response::new(()))` that cargo-mutants would
# put there.
# `just mutants --list` lists the mutants; to try one file, run cargo mutants
# with the same options and a single `--file src/api/mask.rs`.

# Mutation-test the store and API against the conformance cases (slow; needs cargo-mutants).
mutants *ARGS:
    CARGO_PROFILE_DEV_DEBUG=0 cargo mutants --package distgo-db --test-package distgo-conformance \
        --baseline skip --timeout 180 --build-timeout 900 \
        --file 'src/store/**' --file 'src/api/**' \
        --exclude-re 'is_server_error|requested_name|impl Named|Tree::counts|Store::last_lsn|forget_connection' \
        --cargo-test-arg=--test=conformance {{ARGS}}

# Measure `distgo doc import` and `doc export` of 100,000 1 KiB documents (documents/s); flags go to the import.
bench-cli *ARGS:
    cargo build --release --bin distgo --bin distgo-worker --example cli_bench
    ./target/release/examples/cli_bench {{ARGS}}

# Fuzzing (nightly, the `fuzz/` crate; see src/fuzzing.rs). Targets: names,
# page_token, document_json, config_yaml, wal_entry, segment, snapshot,
# service. New inputs go to fuzz/corpus/TARGET (not committed), read after
# the committed seeds in testdata/fuzz/TARGET; `fuzz-merge` copies the ones
# that add coverage into testdata, for review and commit. A crash leaves
# its input in fuzz/artifacts/TARGET/: minimise it with
# `cargo +nightly fuzz tmin TARGET FILE`, fix, add it to testdata/fuzz/TARGET.

# Fuzz one target for SECONDS (default 60) from its committed corpus: `just fuzz segment 600`.
fuzz TARGET SECONDS="60":
    mkdir -p fuzz/corpus/{{TARGET}}
    cargo +nightly fuzz run {{TARGET}} fuzz/corpus/{{TARGET}} testdata/fuzz/{{TARGET}} -- \
        -max_total_time={{SECONDS}} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    @echo "new inputs are in fuzz/corpus/{{TARGET}}; keep those that add coverage with: just fuzz-merge {{TARGET}}"

# Add the inputs of fuzz/corpus/TARGET that reach new coverage to testdata/fuzz/TARGET.
fuzz-merge TARGET:
    cargo +nightly fuzz run {{TARGET}} testdata/fuzz/{{TARGET}} fuzz/corpus/{{TARGET}} -- -merge=1
