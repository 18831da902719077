#!/bin/sh
# Runs every benchmark of the project (each xenapi-core/benches/*.rs), in release mode, and prints
# their figures. A failing benchmark does not stop the others; the exit status says if any failed.
# Usage: bench/run.sh            (from anywhere; CARGO_TARGET_DIR is honoured)
set -u
cd "$(dirname "$0")/.."
status=0
for f in xenapi-core/benches/*.rs; do
    b=$(basename "$f" .rs)
    echo "== xenapi-core: $b"
    cargo bench --quiet -p xenapi-core --bench "$b" || { echo "!! $b failed"; status=1; }
    echo
done
echo "== storage (VM.clone of 4 disks, VDI.copy vs cp)"
cargo build --quiet --release --bin xencim && \
    XENCIM_BIN="${CARGO_TARGET_DIR:-target}/release/xencim" .venv/bin/python bench/storage.py || { echo "!! storage failed"; status=1; }
echo
echo "== CIM providers (EnumerateInstances Xen_ComputerSystem vs VM.get_all_records, DSP1057 walk; 1,000 VMs)"
cargo build --quiet --release -p xencim -p xen-cim-providers && \
    XENCIM_BIN="${CARGO_TARGET_DIR:-target}/release/xencim" .venv/bin/python bench/cim_enumerate.py || { echo "!! cim_enumerate failed"; status=1; }
echo
echo "== load (64 SDK clients with 500 slowloris connections; soak rounds)"
cargo build --quiet --release --bin xencim && \
    XENCIM_BIN="${CARGO_TARGET_DIR:-target}/release/xencim" .venv/bin/python bench/load.py || { echo "!! load failed"; status=1; }
echo
echo "== fuzz (every parser, 10 s each: executions per second)"
cargo run --quiet --release -p xencim-fuzz -- all --seconds 80 || { echo "!! fuzz failed"; status=1; }
echo
echo "== broker (EnumerateInstances through pywbem, DMTF schema compile)"
.venv/bin/python tests/broker/bench_broker.py || { echo "!! broker failed"; status=1; }
exit $status
