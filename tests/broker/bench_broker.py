#!/usr/bin/env python3
"""Broker benchmark; prints figures.

  python tests/broker/bench_broker.py

* EnumerateInstances of 1,000 and 10,000 instances from the in-process demo
  provider through pywbem (classic and pull), wall time and bytes received;
* time to compile the DMTF schema (needs CIM_SCHEMA_DIR).

Binaries: XENCIM_BROKER_BIN / XENCIM_MOF_BENCH_BIN when set, else built with
`cargo build --release` into CARGO_TARGET_DIR (default <repo>/target).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broker_harness import REPO, Broker, small_args  # noqa: E402

import pywbem  # noqa: E402


def binaries():
    b = os.environ.get("XENCIM_BROKER_BIN")
    m = os.environ.get("XENCIM_MOF_BENCH_BIN")
    if b and m:
        return Path(b), Path(m)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "xencim-broker", "--bins"], cwd=REPO, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    return Path(b or target / "release" / "xencim-broker"), Path(m or target / "release" / "mof-bench")


def bench_enumerate(broker_bin, n, runs=3):
    b = Broker(broker_bin, [*small_args(), "--no-auth"], env={"XENCIM_DEMO_COUNT": str(n)})
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=300)
        best = None
        for _ in range(runs):
            t = time.perf_counter()
            insts = conn.EnumerateInstances("XenTest_Element", DeepInheritance=False)
            dt = time.perf_counter() - t
            assert len(insts) == n + 2, len(insts)
            best = dt if best is None else min(best, dt)
        size = conn.last_reply_len
        t = time.perf_counter()
        pulled = sum(1 for _ in conn.IterEnumerateInstances("XenTest_Element", MaxObjectCount=1000))
        pull_dt = time.perf_counter() - t
        assert pulled == n + 2
        # the same request without pywbem's parsing: broker time plus transfer
        import http.client
        body = ('<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0">'
                '<SIMPLEREQ><IMETHODCALL NAME="EnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/>'
                '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="XenTest_Element"/></IPARAMVALUE>'
                '</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>')
        hc = http.client.HTTPConnection("127.0.0.1", b.port, timeout=300)
        raw = None
        for _ in range(runs):
            t = time.perf_counter()
            hc.request("POST", "/cimom", body=body, headers={"CIMOperation": "MethodCall", "CIMMethod": "EnumerateInstances", "CIMObject": "root/cimv2"})
            data = hc.getresponse().read()
            dt = time.perf_counter() - t
            raw = dt if raw is None else min(raw, dt)
        assert data.count(b"<VALUE.NAMEDINSTANCE>") == n + 2
        print(f"EnumerateInstances {n + 2:>6} instances: best of {runs} {best:.3f} s wall, "
              f"{size} bytes ({size / (n + 2):.0f} B/instance), {(n + 2) / best:,.0f} instances/s; "
              f"pull (1000 per request) {pull_dt:.3f} s; raw HTTP without client parsing {raw:.3f} s")
    finally:
        b.stop()


def main():
    broker_bin, mof_bench = binaries()
    for n in (1000, 10000):
        bench_enumerate(broker_bin, n)
    if os.environ.get("CIM_SCHEMA_DIR"):
        out = subprocess.run([str(mof_bench)], capture_output=True, text=True, check=True).stdout
        print("DMTF schema compile:", out.strip().splitlines()[-1], "|", out.strip().splitlines()[0])
    else:
        print("DMTF schema compile: skipped, CIM_SCHEMA_DIR is not set")


if __name__ == "__main__":
    main()
