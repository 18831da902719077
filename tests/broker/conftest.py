"""Fixtures for the embedded broker's end-to-end tests (helpers: broker_harness.py)."""
import pytest

from broker_harness import TESTDATA, Broker, broker_binary, provider_library_dir, require_schema, small_args


@pytest.fixture(scope="session")
def broker_bin():
    return broker_binary()


@pytest.fixture(scope="session")
def broker(broker_bin):
    """Test classes only (no DMTF schema), demo provider, no authentication."""
    b = Broker(broker_bin, [*small_args(), "--no-auth", "--max-body", "200000"])
    yield b
    b.stop()


@pytest.fixture(scope="session")
def schema_broker(broker_bin):
    """The whole DMTF schema plus the test classes on top of it."""
    d = require_schema()
    b = Broker(broker_bin, ["--schema", str(d), "--mof", str(TESTDATA / "xentest.mof"), "--demo-provider", "--no-auth"])
    yield b
    b.stop()


@pytest.fixture(scope="session")
def auth_broker(broker_bin):
    b = Broker(broker_bin, [*small_args(), "--auth", "alice:s3cret"])
    yield b
    b.stop()


@pytest.fixture
def conn(broker):
    import pywbem
    return pywbem.WBEMConnection(broker.url, default_namespace="root/cimv2", timeout=30)


@pytest.fixture
def sconn(schema_broker):
    import pywbem
    return pywbem.WBEMConnection(schema_broker.url, default_namespace="root/cimv2", timeout=60)


@pytest.fixture(scope="session")
def provider_lib_dir():
    """Directory holding cmpi-shim's test provider, libtest_provider.so."""
    return provider_library_dir()


@pytest.fixture(scope="session")
def cmpi_broker(broker_bin, provider_lib_dir):
    """cmpi-shim's test provider library loaded from an SFCB .reg file, with authentication."""
    b = Broker(broker_bin, [
        "--mof", str(TESTDATA / "qualifiers.mof"), "--mof", str(TESTDATA / "cmpitest.mof"),
        "--providers-dir", str(TESTDATA / "cmpitest.reg"), "--provider-lib-dir", str(provider_lib_dir),
        "--auth", "carol:pw",
    ])
    yield b
    b.stop()
