"""`xencim serve` runs the XenAPI and the embedded CIM broker together; the broker authenticates
CIM clients against the XenAPI's users."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "xenapi"))
from xenapi_server import PASSWORD, Server, free_port, new_state_dir, xencim_binary  # noqa: E402

SCHEMA = os.environ.get("CIM_SCHEMA_DIR")


@pytest.fixture(scope="module")
def both():
    if not SCHEMA:
        pytest.skip("CIM_SCHEMA_DIR is not set: the DMTF CIM schema 2.41.0 is needed for this test")
    d = new_state_dir()
    pw = os.path.join(d, "readerpw")
    with open(pw, "w") as f:
        f.write("reader-pw\n")
    subprocess.run([xencim_binary(), "user", "add", "--state-dir", d, "--name", "reader", "--role", "read-only",
                    "--password-file", pw], check=True, capture_output=True)
    port, tls_port = free_port(), free_port()
    s = Server(d, ["--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", f"127.0.0.1:{tls_port}",
                   "--cim-schema", SCHEMA]).start()
    s.cim_port, s.cim_tls_port = port, tls_port
    wait_for_port(port)
    yield s
    s.stop()


def wait_for_port(port, timeout=30):
    import socket
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def wbemcli(*args):
    return subprocess.run(["wbemcli", *args], capture_output=True, text=True, timeout=60)


def test_broker_answers_with_xenapi_credentials(both):
    r = wbemcli("gc", "-nl", f"http://root:{PASSWORD}@127.0.0.1:{both.cim_port}/root/cimv2:CIM_ComputerSystem")
    assert r.returncode == 0, r.stderr
    assert "CIM_ComputerSystem" in r.stdout
    r = wbemcli("ecn", f"http://reader:reader-pw@127.0.0.1:{both.cim_port}/root/interop")
    assert r.returncode == 0, r.stderr


def test_https_with_the_xenapi_certificate(both, monkeypatch):
    import pywbem
    # requests lets these variables override the CA pywbem passes it (psf/requests#3829).
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    wait_for_port(both.cim_tls_port)
    cert_file = os.path.join(both.state_dir, "xapi-cert.pem")
    # Verified against the certificate `xencim serve` made for the XenAPI on first start.
    conn = pywbem.WBEMConnection(f"https://127.0.0.1:{both.cim_tls_port}", ("root", PASSWORD),
                                 default_namespace="root/cimv2", ca_certs=cert_file)
    assert "CIM_ComputerSystem" in conn.EnumerateClassNames(DeepInheritance=True)
    cert = open(cert_file).read()
    import ssl
    served = ssl.get_server_certificate(("127.0.0.1", both.cim_tls_port))
    assert served.strip() == cert.strip()


def test_wrong_password_is_refused(both):
    import pywbem
    conn = pywbem.WBEMConnection(f"http://127.0.0.1:{both.cim_port}", ("root", "wrong"), default_namespace="root/cimv2")
    with pytest.raises(pywbem.Error) as e:
        conn.EnumerateClassNames()
    assert "401" in str(e.value)
    conn = pywbem.WBEMConnection(f"http://127.0.0.1:{both.cim_port}", ("nobody", PASSWORD), default_namespace="root/cimv2")
    with pytest.raises(pywbem.Error):
        conn.EnumerateClassNames()


def test_provider_service_account_and_config(both):
    cfg = open(os.path.join(both.state_dir, "providers.toml")).read()
    assert f'endpoint = "unix:{both.socket}"' in cfg
    pwfile = os.path.join(both.state_dir, "cim-provider-password")
    assert oct(os.stat(pwfile).st_mode & 0o777) == "0o600"
    import XenAPI
    s = XenAPI.Session(both.url)
    s.xenapi.login_with_password("xencim-cim", open(pwfile).read().strip())
    s.xenapi.session.logout()


def test_default_serve_without_the_dmtf_schema_serves_the_xen_classes():
    """The README's first command: no DMTF schema on the machine, the project's base classes
    stand in, and a VM made through XenAPI is seen and driven through CIM."""
    import XenAPI
    from test_xenapi_core import vm_record  # noqa: E402
    port = free_port()
    s = Server(new_state_dir(), ["--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", "off"]).start()
    try:
        wait_for_port(port)
        x = XenAPI.Session(s.url)
        x.xenapi.login_with_password("root", PASSWORD)
        vm = x.xenapi.VM.create(vm_record("seen-by-cim", memory_static_max=str(1 << 30), memory_dynamic_max=str(1 << 30),
                                          memory_dynamic_min=str(1 << 29), memory_static_min=str(1 << 28),
                                          blocked_operations={}))
        x.xenapi.VM.start(vm, False, False)
        uuid = x.xenapi.VM.get_uuid(vm)
        base = f"http://root:{PASSWORD}@127.0.0.1:{port}/root/cimv2"
        r = wbemcli("ei", base + ":Xen_ComputerSystem")
        assert r.returncode == 0, r.stderr
        line = [l for l in r.stdout.splitlines() if uuid in l]
        assert len(line) == 1 and "EnabledState=2," in line[0] and 'ElementName="seen-by-cim"' in line[0]
        r = wbemcli("cm", base + f':Xen_ComputerSystem.CreationClassName="Xen_ComputerSystem",Name="{uuid}"',
                    "RequestStateChange.RequestedState=4")
        assert r.returncode == 0 and "RequestStateChange: 0" in r.stdout, (r.stdout, r.stderr)
        assert x.xenapi.VM.get_power_state(vm) == "Halted"
    finally:
        s.stop()
