"""The xencim binary a benchmark runs: $XENCIM_BIN, else the release build, else the debug one
(under $CARGO_TARGET_DIR or ./target). Benchmarks that serve CIM also need the provider library
beside it."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def xencim_binary(with_providers=False):
    if os.environ.get("XENCIM_BIN"):
        return os.environ["XENCIM_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        exe = os.path.join(target, profile, "xencim")
        providers = os.path.join(target, profile, "libxen_cim_providers.so")
        if os.path.exists(exe) and (not with_providers or os.path.exists(providers)):
            return exe
    if with_providers:
        sys.exit(f"no xencim with libxen_cim_providers.so in {target}/release or debug: "
                 "cargo build --release -p xencim -p xen-cim-providers")
    sys.exit(f"no xencim in {target}/release or debug: cargo build --release --bin xencim")
