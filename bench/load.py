#!/usr/bin/env python3
"""Load benchmark: prints figures, asserts nothing.

1. BENCH_CLIENTS (default 64) official-SDK clients, each looping over create, start, 3 x
   get_record, get_all_records (every 5th loop), clean_shutdown and destroy for BENCH_SECS
   (default 60) seconds, while BENCH_SLOWLORIS (default 500) connections trickle header bytes at
   the server: calls/s, errors, VM.get_record p50/p99, server RSS before and after.
2. Soak: BENCH_ROUNDS (default 5) rounds of BENCH_SOAK_SECS (default 20) seconds with 32 clients;
   server RSS after each round (flat within 10 % after the first is the goal).

The clients are Python threads on the same two cores as the server, so calls/s says as much
about the SDK's cost as about the server's. Usage, from the repository root:

    cargo build --release --bin xencim          # CARGO_TARGET_DIR is honoured
    .venv/bin/python bench/load.py              # or XENCIM_BIN=/path/to/xencim
"""
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "xenapi"))
import load  # noqa: E402
import xenapi_server  # noqa: E402
from built import xencim_binary  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "64"))
SECS = float(os.environ.get("BENCH_SECS", "60"))
SLOWLORIS = int(os.environ.get("BENCH_SLOWLORIS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SOAK_SECS = float(os.environ.get("BENCH_SOAK_SECS", "20"))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    exe = xencim_binary()
    xenapi_server.xencim_binary = lambda: exe
    d = xenapi_server.new_state_dir()
    sim = dict(guest_shutdown_ms=5, shutdown_timeout_secs=10, metrics_interval_secs=5,
               memory_mib=1 << 20, dom0_memory_mib=1024, cpus=64)
    srv = xenapi_server.Server(d, xenapi_server.write_sim_config(d, **sim) + ["--sessions-per-originator", "2000"]).start()
    try:
        print(f"server {exe}")
        with load.Slowloris(srv.port, SLOWLORIS):
            time.sleep(2)
            r = load.run(srv.url, xenapi_server.PASSWORD, CLIENTS, SECS, pid=srv.proc.pid)
        print(f"{CLIENTS} clients for {SECS:.0f} s with {SLOWLORIS} slowloris connections: {r['calls']} calls, "
              f"{r['rate']:.0f} calls/s, {len(r['errors'])} errors, VM.get_record p50 {r['p50'] * 1000:.1f} ms "
              f"p99 {r['p99'] * 1000:.1f} ms, server RSS {r['rss_before']:.0f} -> {r['rss_after']:.0f} MiB")
        for e in r["errors"][:5]:
            print("  error:", e)
        rss = []
        for i in range(ROUNDS):
            r = load.run(srv.url, xenapi_server.PASSWORD, 32, SOAK_SECS, pid=srv.proc.pid)
            rss.append(r["rss_after"])
            print(f"soak round {i + 1}: {r['calls']} calls, {len(r['errors'])} errors, RSS {r['rss_after']:.0f} MiB")
        if len(rss) > 1:
            print(f"soak: RSS after round 2..{ROUNDS} within {max(rss[1:]) / rss[1] * 100 - 100:+.1f} % of round 2")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
