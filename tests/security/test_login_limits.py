"""Password checks are bounded: floods of wrong passwords (XenAPI logins, CIM Basic auth) are
answered, without the server's memory growing, and right passwords still get in.

Each check costs 19 MiB (argon2); before the limits, 200 concurrent wrong logins took the server
from about 100 MB to 3.9 GB of resident memory, and 200 wrong CIM requests to 6.3 GB, never given
back."""
import base64
import http.client
import os
import re
import sys
import threading
import time
import xmlrpc.client

import XenAPI

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "xenapi"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cim"))
from xenapi_server import PASSWORD, Server, free_port, new_state_dir  # noqa: E402
from cim_env import SCHEMA, build_providers, wait_for_port  # noqa: E402

import pytest  # noqa: E402

BURST = 200
# Resident memory the server may gain over a burst: the checks' own blocks are 2 x 19 MiB.
RSS_SLACK_MB = 100
# A burst must be answered within this (the limits answer it in about 5 s).
BURST_DEADLINE = 120
BUSY = "Too many authentication attempts; try again later"
CIM_BODY = ('<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" '
            'PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="EnumerateClassNames"><LOCALNAMESPACEPATH>'
            '<NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH></IMETHODCALL></SIMPLEREQ>'
            '</MESSAGE></CIM>')


@pytest.fixture
def server(monkeypatch):
    build_providers()
    monkeypatch.setenv("RUST_LOG", "info,xencim::cim_auth=debug")
    d = new_state_dir()
    port = free_port()
    args = ["--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", "off"]
    if SCHEMA:
        args += ["--cim-schema", SCHEMA]
    s = Server(d, args).start()
    s.cim_port = port
    wait_for_port(port)
    yield s
    s.stop()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def settled_rss(pid):
    """Resident memory once the server is idle again (the last answers may still be in flight)."""
    time.sleep(1)
    return rss_mb(pid)


def burst(fn, n=BURST):
    """Runs fn(i) on n threads at once; returns the results (an exception counts as a result).
    Every call must return within BURST_DEADLINE."""
    results = [None] * n
    go = threading.Event()

    def run(i):
        go.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported as a result
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    start = time.time()
    go.set()
    for t in threads:
        t.join(timeout=max(0.1, start + BURST_DEADLINE - time.time()))
    assert not any(t.is_alive() for t in threads), f"some requests got no answer within {BURST_DEADLINE} s"
    return results, time.time() - start


def wrong_xenapi_login(srv):
    def login(i):
        s = XenAPI.Session(srv.url)
        try:
            s.xenapi.login_with_password("root", f"wrong-{i}", "2.21", "burst")
        except XenAPI.Failure as f:
            return f.details
        return "logged in"
    return login


def raw_login(port, password, source="127.0.0.1"):
    """session.login_with_password over XML-RPC from a chosen loopback source address."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        c.request("POST", "/", xmlrpc.client.dumps(("root", password, "2.21", "limits"), "session.login_with_password"),
                  {"Content-Type": "text/xml"})
        r = c.getresponse()
        assert r.status == 200
        return xmlrpc.client.loads(r.read())[0][0]
    finally:
        c.close()


def cim_request(port, user, password, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        c.request("POST", "/cimom", CIM_BODY, {
            "Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
            "CIMMethod": "EnumerateClassNames", "CIMObject": "root/cimv2", "Authorization": "Basic " + auth})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_wrong_xenapi_logins_are_answered_and_memory_stays_bounded(server):
    pid = server.proc.pid
    before = settled_rss(pid)
    results, took = burst(wrong_xenapi_login(server))
    after = settled_rss(pid)
    print(f"\n{BURST} wrong XenAPI logins: {took:.1f} s; RSS {before:.0f} MB -> {after:.0f} MB")
    assert server.proc.poll() is None
    for r in results:
        assert isinstance(r, list) and r[0] == "SESSION_AUTHENTICATION_FAILED" and r[1] == "root", r
        assert r[2] in ("Authentication failure", BUSY), r
    assert sum(r[2] == BUSY for r in results) > BURST // 2, "the flood from one client was mostly refused"
    assert after - before < RSS_SLACK_MB, f"RSS grew from {before:.0f} MB to {after:.0f} MB"


def test_right_password_gets_in_during_and_after_a_flood(server):
    flood_done = threading.Event()
    results = {}

    def flood():
        results["flood"] = burst(wrong_xenapi_login(server))
        flood_done.set()
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(1)  # the flood is under way
    assert not flood_done.is_set()
    # Another client (a different loopback address) is not held up by the flood's client.
    r = raw_login(server.port, PASSWORD, source="127.0.0.2")
    assert r["Status"] == "Success", r
    t.join(timeout=BURST_DEADLINE)
    assert flood_done.is_set()
    # The flooding address itself gets in with the right password once its flood is over (after
    # its failure delay, at most a few seconds), which clears its record.
    s = XenAPI.Session(server.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", "limits")
    s.xenapi.session.logout()
    r = raw_login(server.port, "wrong")
    assert r["ErrorDescription"] == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"], r


def test_wrong_cim_passwords_are_answered_401_and_memory_stays_bounded(server):
    pid = server.proc.pid
    before = settled_rss(pid)
    results, took = burst(lambda i: cim_request(server.cim_port, "root", f"wrong-{i}"))
    after = settled_rss(pid)
    print(f"\n{BURST} wrong CIM Basic-auth requests: {took:.1f} s; RSS {before:.0f} MB -> {after:.0f} MB")
    assert server.proc.poll() is None
    assert all(isinstance(r, tuple) and r[0] == 401 for r in results), [r for r in results if not (isinstance(r, tuple) and r[0] == 401)][:3]
    assert after - before < RSS_SLACK_MB, f"RSS grew from {before:.0f} MB to {after:.0f} MB"
    # The right password still works afterwards (from the same address, after its delay).
    status, body = cim_request(server.cim_port, "root", PASSWORD)
    assert status == 200 and b"<CIM" in body, (status, body[:200])


def checks_logged(srv):
    with open(srv.log_path) as f:
        return len(re.findall(r"CIM: checking a password", f.read()))


def test_cim_checks_a_password_once_not_per_request(server):
    """CIM clients send credentials with every request: a checked password is remembered (as a
    keyed digest) and not checked again; a wrong one is checked every time."""
    for _ in range(5):
        status, body = cim_request(server.cim_port, "root", PASSWORD)
        assert status == 200 and b"<CIM" in body
    assert checks_logged(server) == 1
    assert cim_request(server.cim_port, "root", "wrong")[0] == 401
    assert cim_request(server.cim_port, "root", "wrong")[0] == 401
    assert checks_logged(server) == 3
    status, _ = cim_request(server.cim_port, "root", PASSWORD)
    assert status == 200
    assert checks_logged(server) == 3, "a wrong password for the user did not evict its checked one"


def test_change_password_goes_through_the_same_checks(server):
    """session.change_password checks the old password like a login and hashes the new one on
    the checks' memory blocks."""
    assert cim_request(server.cim_port, "root", PASSWORD)[0] == 200  # now remembered by the broker
    s = XenAPI.Session(server.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", "limits")
    try:
        with pytest.raises(XenAPI.Failure) as e:
            s.xenapi.session.change_password("not-the-old-one", "next-password")
        assert e.value.details == ["SESSION_AUTHENTICATION_FAILED", "root", "Old password is wrong"]
        s.xenapi.session.change_password(PASSWORD, "next-password")
    finally:
        s.xenapi.session.logout()
    assert raw_login(server.port, PASSWORD)["Status"] == "Failure"
    s = XenAPI.Session(server.url)
    s.xenapi.login_with_password("root", "next-password", "2.21", "limits")
    s.xenapi.session.logout()
    # The CIM side sees the change at once (its remembered check is dropped).
    assert cim_request(server.cim_port, "root", PASSWORD)[0] == 401
    assert cim_request(server.cim_port, "root", "next-password")[0] == 200
