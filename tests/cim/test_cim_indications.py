"""Lifecycle indications of the VMs: a pywbem WBEMListener subscribed through pywbem's
WBEMSubscriptionManager to the broker of `xencim serve` receives Xen_ComputerSystemCreation,
Modification (with PreviousInstance) and Deletion indications, carrying the full
Xen_ComputerSystem, for changes made through the official XenAPI SDK; the filters' WHERE clauses
(conditions on the embedded instances) are honoured; nothing arrives once the subscription is gone."""
import threading
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

# How long a test waits for an indication, and how long it listens to be sure none comes.
DEADLINE = 10
QUIET = 1.5


class Listener:
    """A WBEMListener on an ephemeral loopback port, and the subscriptions sending to it."""

    def __init__(self, sm, server_id, name):
        self.port = cim_env.free_port()
        self.got = []
        self.cond = threading.Condition()
        self.lst = pywbem.WBEMListener("127.0.0.1", http_port=self.port)
        self.lst.add_callback(self._receive)
        self.lst.start()
        self.sm, self.server_id, self.name = sm, server_id, name
        self.dest = sm.add_destination(server_id, f"http://127.0.0.1:{self.port}", owned=True, destination_id=name)
        self.subscriptions = []

    def _receive(self, indication, host):
        with self.cond:
            self.got.append(indication)
            self.cond.notify_all()

    def subscribe(self, query):
        f = self.sm.add_filter(self.server_id, "root/cimv2", query, query_language="WQL", owned=True,
                               filter_id=f"{self.name}{len(self.subscriptions)}")
        self.subscriptions += self.sm.add_subscriptions(self.server_id, f.path, [self.dest.path], owned=True)

    def unsubscribe(self):
        self.sm.remove_subscriptions(self.server_id, [s.path for s in self.subscriptions])
        self.subscriptions = []

    def of(self, uuid, classname=None):
        """The indications received about the VM `uuid` (of `classname`), in arrival order."""
        with self.cond:
            return [i for i in self.got if i["SourceInstance"]["Name"] == uuid and (classname is None or i.classname == classname)]

    def wait(self, pred, timeout=DEADLINE):
        """Waits until some received indication satisfies `pred`; returns it (None on timeout)."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                found = [i for i in self.got if pred(i)]
                if found or time.time() >= deadline:
                    return found[0] if found else None
                self.cond.wait(max(0.0, deadline - time.time()))

    def quiet(self, uuid, period=QUIET, timeout=DEADLINE):
        """Waits until `period` passes without an indication about `uuid`; true if it did."""
        deadline = time.time() + timeout
        n, since = len(self.of(uuid)), time.time()
        while time.time() < deadline:
            time.sleep(0.1)
            m = len(self.of(uuid))
            if m != n:
                n, since = m, time.time()
            elif time.time() - since >= period:
                return True
        return False


@pytest.fixture
def listen(cim):
    """Makes listeners subscribed to the broker; removes every subscription afterwards."""
    sm = pywbem.WBEMSubscriptionManager(subscription_manager_id="xencimtest")
    server_id = sm.add_server(pywbem.WBEMServer(cim))
    made = []

    def make(*queries):
        lst = Listener(sm, server_id, f"l{len(made)}")
        for q in queries:
            lst.subscribe(q)
        made.append(lst)
        return lst

    yield make
    sm.remove_server(server_id)
    for lst in made:
        lst.lst.stop()


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace="root/cimv2")


def src(i, prop):
    return i["SourceInstance"][prop]


def prev(i, prop):
    return i["PreviousInstance"][prop]


def test_creation_modification_deletion_carry_full_instances(x, cim, listen):
    every = listen("SELECT * FROM Xen_ComputerSystemCreation", "SELECT * FROM Xen_ComputerSystemDeletion",
                   "SELECT * FROM Xen_ComputerSystemModification")
    states = listen("SELECT * FROM Xen_ComputerSystemModification WHERE SourceInstance.EnabledState <> PreviousInstance.EnabledState")

    vm = x.VM.create(cim_env.vm_record("ind-web"))
    uuid = x.VM.get_uuid(vm)
    created = every.wait(lambda i: i.classname == "Xen_ComputerSystemCreation" and src(i, "Name") == uuid)
    assert created is not None, "a creation indication for the new VM"
    # The embedded instance is the whole Xen_ComputerSystem the instance provider serves.
    now = cim.GetInstance(vm_path(uuid))
    source = created["SourceInstance"]
    assert source.classname == "Xen_ComputerSystem"
    for name, value in now.items():
        if name != "TimeOfLastStateChange":
            assert source[name] == value, name
    assert src(created, "EnabledState") == 3 and src(created, "ElementName") == "ind-web"
    assert created["SourceInstanceModelPath"] == f'root/cimv2:Xen_ComputerSystem.CreationClassName="Xen_ComputerSystem",Name="{uuid}"'
    assert created["SourceInstanceHost"] == x.host.get_hostname(x.host.get_all()[0])
    assert isinstance(created["IndicationTime"], pywbem.CIMDateTime)
    assert created["IndicationIdentifier"]
    assert "PreviousInstance" not in created

    x.VM.set_name_label(vm, "ind-web-2")
    renamed = every.wait(lambda i: i.classname == "Xen_ComputerSystemModification" and src(i, "Name") == uuid
                         and src(i, "ElementName") == "ind-web-2")
    assert renamed is not None
    assert prev(renamed, "ElementName") == "ind-web" and prev(renamed, "Name") == uuid
    assert renamed["PreviousInstance"].classname == "Xen_ComputerSystem"

    x.VM.start(vm, False, False)
    started = states.wait(lambda i: src(i, "Name") == uuid and src(i, "EnabledState") == 2)
    assert started is not None and prev(started, "EnabledState") == 3
    assert src(started, "ElementName") == "ind-web-2"

    # A running VM's metrics are sampled every 0.5 s (TimeOfLastStateChange follows them); no
    # property a client sees changes, so nothing is raised.
    assert every.quiet(uuid), "the start settles"
    metrics = x.VM.get_metrics(vm)
    sampled, n = x.VM_metrics.get_last_updated(metrics), len(every.of(uuid))
    time.sleep(QUIET)
    assert x.VM_metrics.get_last_updated(metrics) != sampled, "the host took new samples meanwhile"
    assert len(every.of(uuid)) == n, [i.tomof() for i in every.of(uuid)[n:]]

    x.VM.hard_shutdown(vm)
    stopped = states.wait(lambda i: src(i, "Name") == uuid and src(i, "EnabledState") == 3)
    assert stopped is not None and prev(stopped, "EnabledState") == 2

    x.VM.destroy(vm)
    deleted = every.wait(lambda i: i.classname == "Xen_ComputerSystemDeletion" and src(i, "Name") == uuid)
    assert deleted is not None
    assert src(deleted, "ElementName") == "ind-web-2" and src(deleted, "EnabledState") == 3, "the last instance known"
    assert every.quiet(uuid)

    assert len(every.of(uuid, "Xen_ComputerSystemCreation")) == 1
    assert len(every.of(uuid, "Xen_ComputerSystemDeletion")) == 1
    names = [(prev(i, "ElementName"), src(i, "ElementName")) for i in every.of(uuid, "Xen_ComputerSystemModification")
             if prev(i, "ElementName") != src(i, "ElementName")]
    assert names == [("ind-web", "ind-web-2")], "exactly one modification for the rename"
    # The state filter let through the two state changes only (not the rename, not the
    # changes of AvailableRequestedStates while the operations ran).
    assert [(prev(i, "EnabledState"), src(i, "EnabledState")) for i in states.of(uuid)] == [(3, 2), (2, 3)]
    assert {i.classname for i in states.of(uuid)} == {"Xen_ComputerSystemModification"}


def test_cim_parent_class_isa_filter_and_unsubscribe(x, cim, listen):
    lst = listen("SELECT * FROM CIM_InstCreation WHERE SourceInstance ISA Xen_ComputerSystem AND SourceInstance.ElementName = 'ind-isa'",
                 "SELECT * FROM CIM_InstDeletion")
    other = x.VM.create(cim_env.vm_record("ind-other"))
    vm = x.VM.create(cim_env.vm_record("ind-isa"))
    uuid, other_uuid = x.VM.get_uuid(vm), x.VM.get_uuid(other)
    assert lst.wait(lambda i: src(i, "Name") == uuid) is not None
    assert lst.of(uuid, "Xen_ComputerSystemCreation"), "selected through the CIM parent class"

    # A snapshot is not a virtual system: it raises no creation (it is Xen_ComputerSystemSnapshot).
    snap = x.VM.snapshot(vm, "ind-isa")
    snap_uuid = x.VM.get_uuid(snap)
    x.VM.destroy(other)
    assert lst.wait(lambda i: src(i, "Name") == other_uuid) is not None, "the deletion of the other VM"
    assert lst.of(other_uuid) and all(i.classname == "Xen_ComputerSystemDeletion" for i in lst.of(other_uuid)), \
        "the other VM's creation did not match the WHERE clause"
    assert lst.of(snap_uuid) == []

    lst.unsubscribe()
    n = len(lst.got)
    later = x.VM.create(cim_env.vm_record("ind-isa"))
    x.VM.destroy(later)
    x.VM.destroy(vm)
    x.VM.destroy(snap)
    time.sleep(QUIET)
    assert lst.got[n:] == [], "nothing after the subscription is deleted"


def test_saved_subscription_is_active_after_a_restart(srv, cim, listen):
    """The broker keeps subscriptions in its state directory; when `xencim serve` starts again,
    it activates them on the providers before any client asks for anything."""
    lst = listen("SELECT * FROM Xen_ComputerSystemCreation WHERE SourceInstance.ElementName = 'ind-restart'")
    srv.restart()
    cim_env.wait_for_port(srv.cim_port)
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", cim_env.PASSWORD, "2.21", "ind-restart")
    try:
        vm = s.xenapi.VM.create(cim_env.vm_record("ind-restart"))
        uuid = s.xenapi.VM.get_uuid(vm)
        created = lst.wait(lambda i: src(i, "Name") == uuid)
        assert created is not None and created.classname == "Xen_ComputerSystemCreation"
        s.xenapi.VM.destroy(vm)
    finally:
        s.xenapi.session.logout()
