"""Load for the XenAPI server through the official SDK: N clients each running a mix of calls
(create, start, get_record, get_all_records, clean_shutdown, destroy) for a while, optionally with
slowloris connections trickling header bytes at the server meanwhile. Used small by
tests/xenapi/test_xenapi_load.py and at full scale by bench/load.py."""
import socket
import threading
import time

import XenAPI

from test_xenapi_core import vm_record

GiB = 1 << 30


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Slowloris:
    """`count` connections that send a request header one byte at a time, never finishing it."""

    def __init__(self, port, count):
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        socks = []
        for _ in range(self.count):
            try:
                socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            except OSError:
                pass
        line = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
        i = 0
        while not self.stop.is_set():
            for s in list(socks):
                try:
                    s.send(line[i % len(line):i % len(line) + 1])
                except OSError:
                    socks.remove(s)  # closed by the server: open another, as an attacker would
                    try:
                        socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                    except OSError:
                        pass
            i += 1
            self.stop.wait(0.5)
        for s in socks:
            s.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


def client_loop(url, password, deadline, stats, lock, name):
    s = XenAPI.Session(url)
    try:
        s.xenapi.login_with_password("root", password, "2.21", "load")
    except Exception as e:  # noqa: BLE001 - every failure is counted
        with lock:
            stats["errors"].append(f"login: {e!r}")
        return
    x = s.xenapi
    fields = dict(memory_static_max=str(GiB // 4), memory_dynamic_max=str(GiB // 4),
                  memory_dynamic_min=str(GiB // 8), memory_static_min=str(GiB // 16), VCPUs_max="1",
                  VCPUs_at_startup="1", blocked_operations={})
    n = 0
    while time.monotonic() < deadline:
        try:
            vm = x.VM.create(vm_record(f"{name}-{n}", **fields))
            x.VM.start(vm, False, False)
            lat = []
            for _ in range(3):
                t = time.monotonic()
                x.VM.get_record(vm)
                lat.append(time.monotonic() - t)
            if n % 5 == 0:
                x.VM.get_all_records()
            x.VM.clean_shutdown(vm)
            x.VM.destroy(vm)
            with lock:
                stats["calls"] += 9 + (1 if n % 5 == 0 else 0)
                stats["get_record"].extend(lat)
        except Exception as e:  # noqa: BLE001 - every failure is counted
            with lock:
                stats["errors"].append(repr(e))
        n += 1
    try:
        x.session.logout()
    except Exception:  # noqa: BLE001
        pass


def run(url, password, clients, seconds, pid=None):
    """Runs the mix; returns calls, errors, calls/s, get_record p50/p99 (s) and RSS (MiB)."""
    stats = {"calls": 0, "errors": [], "get_record": []}
    lock = threading.Lock()
    rss_before = rss_mib(pid) if pid else 0.0
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(url, password, deadline, stats, lock, f"load{i}"))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    elapsed = time.monotonic() - t0
    return {
        "clients": clients,
        "calls": stats["calls"],
        "errors": stats["errors"],
        "rate": stats["calls"] / elapsed,
        "p50": percentile(stats["get_record"], 50),
        "p99": percentile(stats["get_record"], 99),
        "rss_before": rss_before,
        "rss_after": rss_mib(pid) if pid else 0.0,
    }
