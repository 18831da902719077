#!/usr/bin/env bash
# Runs every test of the project on a Debian/Ubuntu machine with Rust: installs what the tests
# need (apt packages, a Python venv with the official XenAPI SDK and pywbem), then the cargo tests
# of the whole workspace, then the end-to-end tests against real servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

# dpkg-dev and systemd: the Debian package test (cargo-deb reads library dependencies with
# dpkg-shlibdeps; the unit is checked with systemd-analyze verify).
apt_packages=(curl python3-venv gcc openssl sblim-wbemcli qemu-utils valgrind libxen-dev libclang-dev dpkg-dev systemd)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing apt packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/pip ]; then
    # (also when an interrupted earlier run left a venv without pip)
    echo "== creating .venv"
    rm -rf .venv
    python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt

if [ -z "${CIM_SCHEMA_DIR:-}" ] && [ -f ../shared/cim-schema/2.41.0/cim_schema_2.41.0.mof ]; then
    CIM_SCHEMA_DIR="$(cd ../shared/cim-schema/2.41.0 && pwd)"
fi
if [ -n "${CIM_SCHEMA_DIR:-}" ]; then
    export CIM_SCHEMA_DIR
    echo "== DMTF CIM schema: $CIM_SCHEMA_DIR"
else
    echo "== CIM_SCHEMA_DIR is not set and ../shared/cim-schema is absent: tests that need the DMTF schema will say so and skip"
fi

# The Debian package test packages the debug build with cargo-deb (a few minutes to install once).
echo "== cargo-deb"
bash packaging/build-deb.sh --install-only

# The generated XenAPI code is formatted with rustfmt; xenapi-codegen's staleness test runs it.
if ! command -v rustfmt >/dev/null 2>&1; then
    echo "== installing rustfmt"
    rustup component add rustfmt
fi

echo "== cargo build"
cargo build --workspace --all-targets
echo "== cargo test"
cargo test --workspace
# The libxl backend: its unit tests and translation tests (the rest of xenapi-core ran above).
echo "== cargo build and test with the xen feature (libxl backend, no hypervisor needed)"
cargo build -p xencim --features xen
cargo test -p xenapi-core --features xen --lib --test xen_translation --test xen_records
cargo test -p xencim --features xen --test xen_backend
echo "== end-to-end tests"
XENCIM_SKIP_BUILD=1 .venv/bin/python -m pytest -q tests
