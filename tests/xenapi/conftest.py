"""Fixtures for the XenAPI end-to-end tests."""
import pytest

import XenAPI

from xenapi_server import FAST, PASSWORD, Server, new_state_dir, write_sim_config


@pytest.fixture
def server():
    s = Server(new_state_dir()).start()
    yield s
    s.stop()


@pytest.fixture
def make_server():
    made = []

    def make(extra_args=(), setup=None):
        d = new_state_dir()
        if setup:
            setup(d)
        s = Server(d, extra_args).start()
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def session(server):
    import XenAPI
    s = XenAPI.Session(server.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", "e2e-tests")
    yield s
    try:
        s.xenapi.session.logout()
    except Exception:
        pass


@pytest.fixture(scope="module")
def srv(request):
    """One server with a fast simulated host, shared by a test module (a module's own `SIM`
    dict of [sim_host] settings replaces FAST)."""
    d = new_state_dir()
    s = Server(d, write_sim_config(d, **getattr(request.module, "SIM", FAST))).start()
    yield s
    s.stop()


@pytest.fixture
def x(srv, request):
    """A logged-in SDK session on `srv` (its `xenapi` proxy)."""
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", request.module.__name__)
    yield s.xenapi
    s.xenapi.session.logout()
