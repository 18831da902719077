"""Fixtures for the CIM end-to-end tests: one `xencim serve` with the broker per test module,
a XenAPI SDK session and a pywbem connection to it."""
import shutil

import pytest

import cim_env


@pytest.fixture(scope="module")
def srv():
    if not cim_env.SCHEMA:
        pytest.skip("CIM_SCHEMA_DIR is not set: the DMTF CIM schema 2.41.0 is needed for this test")
    s = cim_env.start_cim_server()
    yield s
    s.stop()
    shutil.rmtree(s.state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def x(srv, request):
    """The XenAPI SDK's `xenapi` proxy, logged in as root."""
    XenAPI = pytest.importorskip("XenAPI")
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", cim_env.PASSWORD, "2.21", request.module.__name__)
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture(scope="module")
def cim(srv):
    """A pywbem connection to the broker, in root/cimv2."""
    pywbem = pytest.importorskip("pywbem")
    return pywbem.WBEMConnection(srv.cim_url, ("root", cim_env.PASSWORD), default_namespace="root/cimv2", timeout=60)
