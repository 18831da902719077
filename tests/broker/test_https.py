"""HTTPS (rustls) with a throw-away self-signed certificate made by openssl."""
import shutil
import subprocess

import pytest
import pywbem

from broker_harness import Broker, small_args

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (needed to make a test certificate)")


@pytest.fixture(scope="module")
def tls_broker(broker_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ], check=True, capture_output=True)
    b = Broker(broker_bin, [*small_args(), "--auth", "dave:pw", "--tls-cert", str(d / "cert.pem"), "--tls-key", str(d / "key.pem")])
    b.cert = d / "cert.pem"
    yield b
    b.stop()


def test_https_with_verified_certificate(tls_broker, monkeypatch):
    # requests lets these variables override the ca_certs pywbem passes on
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    conn = pywbem.WBEMConnection(f"https://{tls_broker.addr}", creds=("dave", "pw"), default_namespace="root/cimv2",
                                 ca_certs=str(tls_broker.cert))
    assert len(conn.EnumerateInstanceNames("XenTest_Element")) == 5
    bad = pywbem.WBEMConnection(f"https://{tls_broker.addr}", creds=("dave", "nope"), default_namespace="root/cimv2",
                                ca_certs=str(tls_broker.cert))
    with pytest.raises(pywbem.AuthError):
        bad.EnumerateInstanceNames("XenTest_Element")


def test_plain_http_to_the_tls_port_fails(tls_broker):
    conn = pywbem.WBEMConnection(f"http://{tls_broker.addr}", creds=("dave", "pw"), default_namespace="root/cimv2", timeout=5)
    with pytest.raises(pywbem.Error):
        conn.EnumerateInstanceNames("XenTest_Element")
    assert tls_broker.alive()


@pytest.mark.skipif(shutil.which("wbemcli") is None, reason="wbemcli is not installed")
def test_wbemcli_over_https(tls_broker):
    out = subprocess.run(["wbemcli", "-noverify", "ein", f"https://dave:pw@{tls_broker.addr}/root/cimv2:XenTest_Child"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert 'InstanceID="C0"' in out.stdout
