"""Helpers for the embedded broker's end-to-end tests (named apart from
conftest so that `import` finds this module, not another directory's conftest).

The broker binary is taken from XENCIM_BROKER_BIN when set; otherwise it is
<target>/debug/xencim-broker, built first with `cargo build -p xencim-broker
--bin xencim-broker` unless XENCIM_SKIP_BUILD is set (tests/run-all.sh builds
the workspace beforehand). <target> is CARGO_TARGET_DIR when set, else
<repo>/target. cmpi-shim's test provider is found the same way
(XENCIM_PROVIDER_LIB_DIR, else <target>/debug/examples).

The DMTF schema is found through CIM_SCHEMA_DIR (the directory holding
cim_schema_2.41.0.mof); tests that need it are skipped, saying so, when the
variable is absent.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKER_DIR = REPO / "broker"
TESTDATA = BROKER_DIR / "testdata"
SCHEMA_FILE = "cim_schema_2.41.0.mof"


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def cargo_build(*args):
    """Builds with cargo unless XENCIM_SKIP_BUILD is set."""
    if os.environ.get("XENCIM_SKIP_BUILD"):
        return
    subprocess.run(["cargo", "build", "--quiet", *args], cwd=REPO, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": str(target_dir())})


def broker_binary():
    explicit = os.environ.get("XENCIM_BROKER_BIN")
    if explicit:
        return Path(explicit)
    cargo_build("-p", "xencim-broker", "--bin", "xencim-broker")
    path = target_dir() / "debug" / "xencim-broker"
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it with `cargo build -p xencim-broker`")
    return path


def provider_library_dir():
    explicit = os.environ.get("XENCIM_PROVIDER_LIB_DIR")
    if explicit:
        return Path(explicit)
    cargo_build("-p", "cmpi-shim", "--example", "test_provider")
    d = target_dir() / "debug" / "examples"
    if not (d / "libtest_provider.so").is_file():
        pytest.fail(f"{d}/libtest_provider.so does not exist: build it with `cargo build -p cmpi-shim --example test_provider`")
    return d


def schema_dir():
    d = os.environ.get("CIM_SCHEMA_DIR")
    if not d:
        return None
    return Path(d)


def require_schema():
    d = schema_dir()
    if d is None:
        pytest.skip("CIM_SCHEMA_DIR is not set: the DMTF CIM Schema 2.41.0 is needed for this test")
    if not (d / SCHEMA_FILE).is_file():
        pytest.fail(f"CIM_SCHEMA_DIR={d} does not hold {SCHEMA_FILE}")
    return d


class Broker:
    """A running broker process on an ephemeral loopback port."""

    def __init__(self, bin_path, args, env=None):
        self.proc = subprocess.Popen(
            [str(bin_path), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError(f"broker did not start: {line!r} {err}")
        self.addr = line.split()[-1]
        self.url = f"http://{self.addr}"
        self.port = int(self.addr.rsplit(":", 1)[1])

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def small_args():
    return ["--mof", str(TESTDATA / "qualifiers.mof"), "--mof", str(TESTDATA / "xentest.mof"), "--demo-provider"]
