"""Small-scale load, soak and slowloris runs in the test command (full scale: bench/load.py)."""
import time


import load
from xenapi_server import PASSWORD

SIM = dict(guest_shutdown_ms=5, shutdown_timeout_secs=5, metrics_interval_secs=1,
           memory_mib=262144, dom0_memory_mib=1024, cpus=16)


def test_sixteen_clients_mixing_calls_see_no_error_with_slowloris_connections_open(srv):
    with load.Slowloris(srv.port, 100):
        time.sleep(1)
        r = load.run(srv.url, PASSWORD, clients=16, seconds=8, pid=srv.proc.pid)
    print(f"16 clients, 8 s, 100 slowloris: {r['calls']} calls, {r['rate']:.0f}/s, get_record p50 "
          f"{r['p50'] * 1000:.1f} ms p99 {r['p99'] * 1000:.1f} ms, RSS {r['rss_before']:.0f} -> {r['rss_after']:.0f} MiB")
    assert r["errors"] == []
    assert r["calls"] > 100, "the clients were served"
    assert "panicked" not in open(srv.log_path).read()


def test_memory_stays_flat_across_load_rounds(srv):
    rounds = [load.run(srv.url, PASSWORD, clients=8, seconds=4, pid=srv.proc.pid) for _ in range(4)]
    rss = [r["rss_after"] for r in rounds]
    print("RSS after each round (MiB):", [round(x) for x in rss])
    assert all(r["errors"] == [] for r in rounds)
    # After the first round has warmed the caches and allocator, later rounds stay within 10 %
    # (and a few MiB, for the allocator's granularity).
    assert max(rss[1:]) <= rss[1] * 1.10 + 8, rss
