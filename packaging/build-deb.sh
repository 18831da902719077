#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed with `cargo install` when missing).
#   bash packaging/build-deb.sh [--profile release|dev] [--no-build] [--output DIR]
#   bash packaging/build-deb.sh --install-only     (only install cargo-deb when missing)
# Release by default. The tests pass `--profile dev --no-build` to package the debug build that
# the test run has already made (same files, larger binaries) rather than build everything again.
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
build=1
output=""
install_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --install-only) install_only=1; shift ;;
        --profile) profile="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --output) output="$2"; shift 2 ;;
        *) echo "usage: $0 [--profile release|dev] [--no-build] [--output DIR]" >&2; exit 2 ;;
    esac
done
target="${CARGO_TARGET_DIR:-target}"
case "$profile" in
    dev) outdir="$target/debug" ;;
    *) outdir="$target/$profile" ;;
esac
output="${output:-$target/debian}"

if ! cargo deb --version >/dev/null 2>&1; then
    echo "== installing cargo-deb (cargo install cargo-deb --locked)" >&2
    # Pinned: newer releases may refuse the dev profile the tests package.
    cargo install cargo-deb --locked --version 3.8.0 >&2
fi
[ "$install_only" = 1 ] && exit 0

if [ "$build" = 1 ]; then
    # Both packages in one build: the provider library lands at the top of the profile
    # directory (built only as xencim's dependency it would be under deps/ alone).
    cargo build --profile "$profile" -p xencim -p xen-cim-providers >&2
fi
for f in xencim libxen_cim_providers.so; do
    [ -f "$outdir/$f" ] || { echo "$outdir/$f is missing" >&2; exit 1; }
done

# Manual pages and completions, generated from the CLI definition of the binary packaged.
gen=packaging/generated
rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions"
"$outdir/xencim" man --dir "$gen/man" >/dev/null
gzip -9n "$gen"/man/*.1
"$outdir/xencim" completions bash > "$gen/completions/xencim"
"$outdir/xencim" completions zsh > "$gen/completions/_xencim"
"$outdir/xencim" completions fish > "$gen/completions/xencim.fish"

mkdir -p "$output"
# --fast: the dev profile's binaries are large; xz at its default level costs minutes for them.
fast=()
[ "$profile" = dev ] && fast=(--fast)
cargo deb --no-build --profile "$profile" "${fast[@]}" --output "$output" >&2
ls -t "$output"/xencim_*.deb | head -1
