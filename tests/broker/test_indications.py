"""Indication subscriptions in root/interop, filter activation on the CMPI
test provider, delivery to a pywbem WBEMListener, durability across a
broker restart, and removal."""
import socket
import threading
import time

import pytest
import pywbem
from pywbem import CIMInstance, CIMInstanceName, CIMError

from broker_harness import TESTDATA, Broker

SYS = {"SystemCreationClassName": "CIM_ComputerSystem", "SystemName": "localhost"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def listener():
    port = free_port()
    lst = pywbem.WBEMListener("127.0.0.1", http_port=port)
    got = []
    cond = threading.Condition()

    def cb(indication, host):
        with cond:
            got.append(indication)
            cond.notify_all()

    lst.add_callback(cb)
    lst.start()

    def wait(n, timeout=10):
        with cond:
            cond.wait_for(lambda: len(got) >= n, timeout)
        return list(got)

    yield port, got, wait
    lst.stop()


def start(broker_bin, provider_lib_dir, state_dir, auth=("--no-auth",)):
    return Broker(broker_bin, [*auth, 
        "--mof", str(TESTDATA / "qualifiers.mof"), "--mof", str(TESTDATA / "cmpitest.mof"), "--mof", str(TESTDATA / "interop.mof"),
        "--providers-dir", str(TESTDATA / "cmpitest.reg"), "--provider-lib-dir", str(provider_lib_dir),
        "--state-dir", str(state_dir),
    ])


def fire(conn):
    rv, _ = conn.InvokeMethod("Fire", CIMInstanceName("Test_Element", keybindings={"Name": "a"}, namespace="root/cimv2"))
    assert rv is True


def subscribe(conn, port, query="SELECT * FROM Test_Indication"):
    f = conn.CreateInstance(CIMInstance("CIM_IndicationFilter", properties={
        **SYS, "CreationClassName": "CIM_IndicationFilter", "Name": "f1",
        "Query": query, "QueryLanguage": "WQL", "SourceNamespace": "root/cimv2"}), namespace="root/interop")
    h = conn.CreateInstance(CIMInstance("CIM_ListenerDestinationCIMXML", properties={
        **SYS, "CreationClassName": "CIM_ListenerDestinationCIMXML", "Name": "h1",
        "Destination": f"http://127.0.0.1:{port}"}), namespace="root/interop")
    s = conn.CreateInstance(CIMInstance("CIM_IndicationSubscription", properties={"Filter": f, "Handler": h}), namespace="root/interop")
    return f, h, s


def test_subscribe_deliver_restart_unsubscribe(broker_bin, provider_lib_dir, tmp_path, listener):
    port, got, wait = listener
    b = start(broker_bin, provider_lib_dir, tmp_path)
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        f, h, s = subscribe(conn, port)
        fire(conn)
        ind = wait(1)
        assert len(ind) == 1, "indication delivered to the listener"
        assert ind[0].classname == "Test_Indication" and ind[0]["Message"] == "fired"
        assert "SELECT * FROM Test_Indication" in ind[0]["Filters"], "the filter was activated on the provider"
    finally:
        b.stop()
    assert (tmp_path / "subscriptions.mof").is_file()

    # the subscription survives a restart and is active again
    b = start(broker_bin, provider_lib_dir, tmp_path)
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        subs = conn.EnumerateInstances("CIM_IndicationSubscription", namespace="root/interop")
        assert len(subs) == 1
        assert subs[0]["Filter"]["Name"] == "f1" and subs[0]["Handler"]["Name"] == "h1"
        assert conn.GetInstance(f)["Query"] == "SELECT * FROM Test_Indication"
        fire(conn)
        assert len(wait(2)) == 2
        # removing the subscription deactivates the filter and stops delivery
        conn.DeleteInstance(subs[0].path)
        fire(conn)
        time.sleep(1.5)
        assert len(got) == 2
    finally:
        b.stop()


def test_filter_condition_and_bad_subscriptions(broker_bin, provider_lib_dir, tmp_path, listener):
    port, got, wait = listener
    b = start(broker_bin, provider_lib_dir, tmp_path)
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        subscribe(conn, port, query="SELECT * FROM Test_Indication WHERE Message = 'other'")
        fire(conn)
        time.sleep(1.5)
        assert got == [], "the WHERE clause did not match"
        with pytest.raises(CIMError) as e:
            conn.CreateInstance(CIMInstance("CIM_IndicationFilter", properties={
                **SYS, "CreationClassName": "CIM_IndicationFilter", "Name": "bad",
                "Query": "SELEKT nothing", "QueryLanguage": "WQL"}), namespace="root/interop")
        assert e.value.status_code == pywbem.CIM_ERR_INVALID_QUERY
        missing = CIMInstanceName("CIM_IndicationFilter", keybindings={**SYS, "CreationClassName": "CIM_IndicationFilter", "Name": "none"}, namespace="root/interop")
        handler = conn.EnumerateInstanceNames("CIM_ListenerDestinationCIMXML", namespace="root/interop")[0]
        with pytest.raises(CIMError) as e:
            conn.CreateInstance(CIMInstance("CIM_IndicationSubscription", properties={"Filter": missing, "Handler": handler}), namespace="root/interop")
        assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    finally:
        b.stop()


def test_indication_from_a_provider_thread(broker_bin, provider_lib_dir, tmp_path, listener):
    port, got, wait = listener
    b = start(broker_bin, provider_lib_dir, tmp_path)
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        subscribe(conn, port)
        rv, _ = conn.InvokeMethod("FireFromThread", CIMInstanceName("Test_Element", keybindings={"Name": "a"}, namespace="root/cimv2"))
        assert rv is True
        ind = wait(1)
        assert [i["Message"] for i in ind] == ["from thread"]
    finally:
        b.stop()


def test_provider_refuses_a_subscriber(broker_bin, provider_lib_dir, tmp_path, listener):
    port, got, wait = listener
    b = start(broker_bin, provider_lib_dir, tmp_path, auth=("--auth", "mallory:pw"))
    try:
        conn = pywbem.WBEMConnection(b.url, creds=("mallory", "pw"), default_namespace="root/cimv2", timeout=30)
        with pytest.raises(CIMError) as e:
            subscribe(conn, port)
        assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
        assert conn.EnumerateInstances("CIM_IndicationSubscription", namespace="root/interop") == []
    finally:
        b.stop()


def test_delivery_is_retried_until_the_listener_is_up(broker_bin, provider_lib_dir, tmp_path):
    port = free_port()
    b = start(broker_bin, provider_lib_dir, tmp_path)
    lst = None
    try:
        conn = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        subscribe(conn, port)
        fire(conn)  # nobody listens yet: the first attempts fail
        time.sleep(0.6)
        got = []
        done = threading.Event()
        lst = pywbem.WBEMListener("127.0.0.1", http_port=port)
        lst.add_callback(lambda ind, host: (got.append(ind), done.set()))
        lst.start()
        assert done.wait(10), "a later attempt reached the listener"
        assert got[0]["Message"] == "fired"
    finally:
        if lst:
            lst.stop()
        b.stop()
