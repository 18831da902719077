"""Fixtures for the XenAPI end-to-end tests."""
import pytest

from xenapi_server import PASSWORD, Server, new_state_dir


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
