"""A XenAPI client (the official Python SDK) and CIM clients (pywbem, wbemcli) see and drive the
same VMs through `xencim serve`: the embedded broker loads libxen_cim_providers.so from the SFCB
registrations in registration/ and the MOF in mof/."""
import subprocess
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")


def by_name(instances, uuid):
    found = [i for i in instances if i["Name"] == uuid]
    return found[0] if found else None


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace="root/cimv2")


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def test_running_vm_made_through_xenapi_is_enabled_in_cim(x, cim):
    vm = x.VM.create(cim_env.vm_record("cim-web"))
    x.VM.start(vm, False, False)
    uuid = x.VM.get_uuid(vm)
    inst = by_name(cim.EnumerateInstances("Xen_ComputerSystem"), uuid)
    assert inst is not None
    assert inst["EnabledState"] == 2
    assert inst["ElementName"] == "cim-web"
    assert inst["InstanceID"] == f"Xen:{uuid}"
    dom0 = [r["uuid"] for r in x.VM.get_all_records().values() if r["is_control_domain"]]
    assert dom0
    names = [p["Name"] for p in cim.EnumerateInstanceNames("Xen_ComputerSystem")]
    assert uuid in names
    assert not set(dom0) & set(names), "the control domain is not a virtual system"


def test_request_state_change_through_cim_halts_the_vm_for_xenapi(x, cim):
    vm = x.VM.create(cim_env.vm_record("cim-stop"))
    x.VM.start(vm, False, False)
    uuid = x.VM.get_uuid(vm)
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(3))
    assert rc == 0
    assert x.VM.get_power_state(vm) == "Halted"
    inst = cim.GetInstance(vm_path(uuid))
    assert inst["EnabledState"] == 3
    assert inst["RequestedState"] == 3
    rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(3))
    assert rc == 4097, "already halted"
    rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(2))
    assert rc == 0
    assert x.VM.get_power_state(vm) == "Running"


def test_xenapi_changes_reach_cim(x, cim):
    vm = x.VM.create(cim_env.vm_record("cim-pause"))
    uuid = x.VM.get_uuid(vm)
    x.VM.start(vm, True, False)
    assert wait_for(lambda: cim.GetInstance(vm_path(uuid))["EnabledState"] == 9)
    x.VM.hard_shutdown(vm)
    assert wait_for(lambda: cim.GetInstance(vm_path(uuid))["EnabledState"] == 3)
    x.VM.destroy(vm)

    def gone():
        try:
            cim.GetInstance(vm_path(uuid))
            return False
        except pywbem.CIMError as e:
            return e.status_code == pywbem.CIM_ERR_NOT_FOUND
    assert wait_for(gone)


def test_unknown_name_is_not_found(cim):
    with pytest.raises(pywbem.CIMError) as e:
        cim.GetInstance(vm_path("00000000-0000-0000-0000-000000000000"))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_host_and_settings(x, cim):
    hosts = cim.EnumerateInstances("Xen_HostComputerSystem")
    assert sorted(h["Name"] for h in hosts) == sorted(x.host.get_uuid(h) for h in x.host.get_all())
    vm = x.VM.create(cim_env.vm_record("cim-vssd"))
    uuid = x.VM.get_uuid(vm)
    p = pywbem.CIMInstanceName("Xen_ComputerSystemSettingData", keybindings={"InstanceID": f"Xen:{uuid}"}, namespace="root/cimv2")
    s = cim.GetInstance(p)
    assert s["VirtualSystemIdentifier"] == uuid
    assert s["VirtualSystemType"] == "DMTF:Xen:PV"
    assert s["ElementName"] == "cim-vssd"
    # A deep enumeration of the DMTF parent reaches both providers.
    classes = {p.classname for p in cim.EnumerateInstanceNames("CIM_ComputerSystem")}
    assert {"Xen_ComputerSystem", "Xen_HostComputerSystem"} <= classes
    x.VM.destroy(vm)


def test_wbemcli_lists_the_same_vms(srv, x):
    vm = x.VM.create(cim_env.vm_record("cim-wbemcli"))
    uuid = x.VM.get_uuid(vm)
    r = subprocess.run(["wbemcli", "ein", f"http://root:{cim_env.PASSWORD}@127.0.0.1:{srv.cim_port}/root/cimv2:Xen_ComputerSystem"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f'Name="{uuid}"' in r.stdout
    x.VM.destroy(vm)


def test_host_maintenance_through_request_state_change(x, cim):
    """RequestStateChange(6 Offline) on Xen_HostComputerSystem disables the host for XenAPI (no
    new guest starts) and 2 enables it again; 3 (Disabled) is not maintenance and is refused;
    RequestedState follows host.enabled; AvailableRequestedStates is what it accepts."""
    host_ref = x.host.get_all()[0]
    path = pywbem.CIMInstanceName("Xen_HostComputerSystem", namespace="root/cimv2", keybindings={
        "CreationClassName": "Xen_HostComputerSystem", "Name": x.host.get_uuid(host_ref)})
    h = cim.GetInstance(path)
    assert (h["EnabledState"], h["RequestedState"], list(h["AvailableRequestedStates"])) == (2, 2, [6])
    assert cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(2))[0] == 4097, "already enabled"
    assert cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(10))[0] == 1, "no host reboot"
    assert cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(3))[0] == 1, "no Disabled"
    assert x.host.get_enabled(host_ref) is True
    vm = x.VM.create(cim_env.vm_record("cim-maint"))
    try:
        assert cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(6))[0] == 0
        assert x.host.get_enabled(host_ref) is False
        h = cim.GetInstance(path)
        assert (h["EnabledState"], h["RequestedState"], list(h["AvailableRequestedStates"])) == (6, 6, [2])
        with pytest.raises(XenAPI.Failure) as e:
            x.VM.start(vm, False, False)
        assert e.value.details[0] == "HOST_DISABLED"
    finally:
        rc = cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(2))[0]
    assert rc == 0 and x.host.get_enabled(host_ref) is True
    h = cim.GetInstance(path)
    assert (h["EnabledState"], h["RequestedState"]) == (2, 2)
    # Disabled and enabled again through XenAPI: RequestedState follows, whoever asked.
    x.host.disable(host_ref)
    try:
        deadline = time.time() + 20
        while cim.GetInstance(path)["RequestedState"] != 6 and time.time() < deadline:
            time.sleep(0.05)
        assert cim.GetInstance(path)["RequestedState"] == 6
    finally:
        x.host.enable(host_ref)
    x.VM.destroy(vm)
