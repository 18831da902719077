"""The CIM principal's XenAPI role decides what it may do through the providers: the embedded
broker authenticates CIM clients against the XenAPI users and passes the user's role to the
providers (CMPIRole), which hold every XenAPI call of a CIM method to what that role may call.
Checked with pywbem and wbemcli, while the XenAPI SDK (as root) watches the same server."""
import shutil
import subprocess
import time

import pytest

import cim_env
import xenapi_server

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
USERS = {"reader": "read-only", "operator": "vm-operator"}


def add_users(state_dir):
    xenapi_server.add_users(state_dir, USERS)


@pytest.fixture(scope="module")
def srv():
    if not cim_env.SCHEMA:
        pytest.skip("CIM_SCHEMA_DIR is not set: the DMTF CIM schema 2.41.0 is needed for this test")
    s = cim_env.start_cim_server(setup=add_users)
    yield s
    s.stop()
    shutil.rmtree(s.state_dir, ignore_errors=True)


def conn(srv, user):
    password = cim_env.PASSWORD if user == "root" else f"{user}-secret"
    return pywbem.WBEMConnection(srv.cim_url, (user, password), default_namespace=NS, timeout=60)


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace=NS)


@pytest.fixture
def halted_vm(x):
    ref = x.VM.create(cim_env.vm_record("access-test"))
    yield x.VM.get_uuid(ref)
    if x.VM.get_power_state(ref) != "Halted":
        x.VM.hard_shutdown(ref)
    x.VM.destroy(ref)


def test_read_only_user_reads_everything_but_changes_nothing(srv, x, halted_vm):
    ro = conn(srv, "reader")
    names = [p["Name"] for p in ro.EnumerateInstanceNames("Xen_ComputerSystem")]
    assert halted_vm in names
    assert ro.GetInstance(vm_path(halted_vm))["EnabledState"] == 3
    with pytest.raises(pywbem.CIMError) as e:
        ro.InvokeMethod("RequestStateChange", vm_path(halted_vm), RequestedState=pywbem.Uint16(2))
    assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
    assert "RBAC_PERMISSION_DENIED" in e.value.status_description and "read-only" in e.value.status_description
    assert x.VM.get_power_state(x.VM.get_by_uuid(halted_vm)) == "Halted", "nothing was sent to XenAPI"

    vsms = ro.EnumerateInstanceNames("Xen_VirtualSystemManagementService")[0]
    before = len(x.VM.get_all())
    vssd = pywbem.CIMInstance("Xen_ComputerSystemSettingData", properties={
        "ElementName": "should-not-exist", "VirtualSystemType": "DMTF:Xen:PV"})
    with pytest.raises(pywbem.CIMError) as e:
        ro.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd.tomof(), ResourceSettings=[])
    assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
    assert len(x.VM.get_all()) == before and not x.VM.get_by_name_label("should-not-exist")

    with pytest.raises(pywbem.CIMError) as e:
        ro.InvokeMethod("DestroySystem", vsms, AffectedSystem=vm_path(halted_vm))
    assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
    assert x.VM.get_by_uuid(halted_vm)


def test_vm_operator_may_start_and_stop_but_not_destroy(srv, x, halted_vm):
    op = conn(srv, "operator")
    rc = op.InvokeMethod("RequestStateChange", vm_path(halted_vm), RequestedState=pywbem.Uint16(2))[0]
    assert rc in (0, 4096)
    ref = x.VM.get_by_uuid(halted_vm)
    assert wait_for(lambda: x.VM.get_power_state(ref) == "Running")
    vsms = op.EnumerateInstanceNames("Xen_VirtualSystemManagementService")[0]
    with pytest.raises(pywbem.CIMError) as e:
        op.InvokeMethod("DestroySystem", vsms, AffectedSystem=vm_path(halted_vm))
    assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
    assert "vm-operator" in e.value.status_description
    assert x.VM.get_power_state(ref) == "Running", "the hard shutdown DestroySystem starts with was refused too"


def test_wbemcli_as_read_only_user_is_denied_the_method(srv, x, halted_vm):
    url = f"http://reader:reader-secret@127.0.0.1:{srv.cim_port}/root/cimv2:Xen_ComputerSystem." \
          f"CreationClassName=\"Xen_ComputerSystem\",Name=\"{halted_vm}\""
    out = subprocess.run(["wbemcli", "-noverify", "cm", url, "RequestStateChange.RequestedState=2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "CIM_ERR_ACCESS_DENIED" in out.stdout + out.stderr
    assert x.VM.get_power_state(x.VM.get_by_uuid(halted_vm)) == "Halted"


def test_only_pool_operators_may_take_the_host_into_maintenance(srv, x):
    host_ref = x.host.get_all()[0]
    path = pywbem.CIMInstanceName("Xen_HostComputerSystem", namespace=NS, keybindings={
        "CreationClassName": "Xen_HostComputerSystem", "Name": x.host.get_uuid(host_ref)})
    with pytest.raises(pywbem.CIMError) as e:
        conn(srv, "operator").InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(6))
    assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED and "pool-operator" in e.value.status_description
    assert x.host.get_enabled(host_ref) is True


def deaf_running_vm(x, name):
    rec = cim_env.vm_record(name)
    rec["other_config"] = {"sim-ignore-shutdown": "true"}
    ref = x.VM.create(rec)
    x.VM.start(ref, False, False)
    return ref


def test_a_job_is_killed_only_by_whoever_started_it_or_a_pool_operator(srv, x):
    """KillJob cancels the XenAPI task behind the job: the task ownership rule of the XenAPI
    server holds through CIM too, although every job's task belongs to the providers' account."""
    refs = [deaf_running_vm(x, "job-owner-root"), deaf_running_vm(x, "job-owner-operator")]
    try:
        root_uuid, op_uuid = (x.VM.get_uuid(r) for r in refs)
        rc, out = conn(srv, "root").InvokeMethod("RequestStateChange", vm_path(root_uuid), RequestedState=pywbem.Uint16(4))
        assert rc == 4096, "the guest ignores the request: the clean shutdown runs on as a job"
        roots_job = out["Job"]
        for user in ("reader", "operator"):
            with pytest.raises(pywbem.CIMError) as e:
                conn(srv, user).InvokeMethod("KillJob", roots_job, DeleteOnKill=True)
            assert e.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
            assert "task.destroy/any" in e.value.status_description
        shutdowns = [t for t, rec in x.task.get_all_records().items()
                     if rec["status"] == "pending" and rec["name_label"] == "Async.VM.clean_shutdown"]
        assert len(shutdowns) == 1, "root's shutdown still runs"
        # The operator's own job is its to kill.
        op = conn(srv, "operator")
        rc, out = op.InvokeMethod("RequestStateChange", vm_path(op_uuid), RequestedState=pywbem.Uint16(4))
        assert rc == 4096
        assert op.InvokeMethod("KillJob", out["Job"], DeleteOnKill=False)[0] == 0
        # Root (pool-admin) may kill anybody's.
        assert conn(srv, "root").InvokeMethod("KillJob", roots_job, DeleteOnKill=False)[0] == 0
        assert wait_for(lambda: x.task.get_status(shutdowns[0]) == "cancelled")
    finally:
        for ref in refs:
            x.VM.hard_shutdown(ref)
            x.VM.destroy(ref)
