"""Idle connections cannot lock clients out: 1,500 connections that send nothing, open to the XenAPI
port and to the CIM port at once, leave both serving (the oldest idle connection is closed to make
room when a listener's budget is full; the CIM providers reach the XenAPI over the Unix socket,
which has a budget of its own)."""
import resource
import socket
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

IDLE_PER_PORT = 1500
# `srv`: the module's CIM server (tests/cim/conftest.py).


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def test_idle_connections_on_both_ports_do_not_stop_service(srv):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * IDLE_PER_PORT + 1000), hard))
    sdk = XenAPI.Session(srv.url)
    sdk.xenapi.login_with_password("root", cim_env.PASSWORD)
    cim = pywbem.WBEMConnection(srv.cim_url, ("root", cim_env.PASSWORD), default_namespace="root/cimv2", timeout=30)
    xenapi_call = lambda: sdk.xenapi.VM.get_all_records()  # noqa: E731
    cim_call = lambda: cim.EnumerateInstanceNames("Xen_ComputerSystem")  # noqa: E731
    # What a request costs here on an idle server (the CIM one checks the password each time).
    base_x, base_c = min(timed(xenapi_call) for _ in range(3)), min(timed(cim_call) for _ in range(3))
    idle = []
    try:
        for port in (srv.port, srv.cim_port):
            for _ in range(IDLE_PER_PORT):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)  # let both servers accept (and evict) what they can
        with_idle_x, with_idle_c = timed(xenapi_call), timed(cim_call)
        assert with_idle_x < base_x + 1.0, f"XenAPI call took {with_idle_x:.2f}s with idle connections open ({base_x:.2f}s without)"
        assert with_idle_c < base_c + 1.0, f"CIM call took {with_idle_c:.2f}s with idle connections open ({base_c:.2f}s without)"
        # Still true after a second wave of idle connections on the XenAPI port.
        for _ in range(IDLE_PER_PORT):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        assert timed(xenapi_call) < base_x + 1.0
        assert timed(cim_call) < base_c + 1.0
    finally:
        for s in idle:
            s.close()
        sdk.xenapi.session.logout()
    assert "panicked" not in open(srv.log_path).read()
