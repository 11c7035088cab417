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
