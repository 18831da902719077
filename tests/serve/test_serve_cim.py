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
    port = free_port()
    s = Server(d, ["--cim-listen", f"127.0.0.1:{port}", "--cim-schema", SCHEMA]).start()
    s.cim_port = port
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
