"""Xen_ComputerSystem.RequestStateChange for every RequestedState value from every power state:
accepted exactly when the VM's AvailableRequestedStates list it at that moment (the vendor
values 32768/32769 aside: accepted when XenAPI allows the operation, listed nowhere), and then
the VM ends in the power state of the reference mapping (cim-virtualization.md §4.2: 3 Disabled
is a hard shutdown, 4 Shut Down a clean one), as the XenAPI SDK sees it; refused with the
documented code and no change otherwise. AvailableRequestedStates ⊆
Xen_ComputerSystemCapabilities.RequestedStatesSupported, which is the fixed set
{2,3,4,6,9,10,11}. The advertised set is also checked against the VM's allowed_operations as the
SDK reads them (xs-cim-model.md §3.3, with 2 for unpause and resume). RequestedState is the last
request while the VM is in the state asked for, else 0 (Unknown); the host's state capabilities
list what its RequestStateChange supports."""
import subprocess
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
STATES = ["Halted", "Running", "Paused", "Suspended"]
# CIM 2.41 values (the ValueMap of AvailableRequestedStates / RequestedStatesSupported) and the
# xs-cim vendor values; then values that are never accepted: 5 No Change and 13 are outside the
# method's ValueMap, 7 Test and 12 Not Applicable are CIM states this implementation does not
# offer.
SUPPORTED = [2, 3, 4, 6, 9, 10, 11]
VENDOR = [32768, 32769]
REQUESTABLE = SUPPORTED + VENDOR
NEVER = {5: 5, 7: 1, 12: 1, 13: 5}

# RequestedState -> the power state the VM ends in.
RESULT = {2: "Running", 3: "Halted", 4: "Halted", 6: "Suspended", 9: "Paused", 10: "Running", 11: "Running",
          32768: "Halted", 32769: "Running"}
# RequestedState -> the XenAPI operation it calls, by power state. 3 (Disabled) stops at once;
# 4 (Shut Down) is orderly, which only a running guest can do.
OPERATION = {
    2: {"Halted": "start", "Paused": "unpause", "Suspended": "resume"},
    3: {"Running": "hard_shutdown", "Paused": "hard_shutdown", "Suspended": "hard_shutdown"},
    4: {"Running": "clean_shutdown"},
    6: {"Running": "suspend"}, 9: {"Running": "pause"}, 10: {"Running": "clean_reboot"},
    11: {s: "hard_reboot" for s in STATES}, 32768: {s: "hard_shutdown" for s in STATES},
}
OPERATION[32769] = OPERATION[11]


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid}, namespace=NS)


def caps_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystemCapabilities", keybindings={"InstanceID": f"Xen:{uuid}/ComputerSystemCapabilities"}, namespace=NS)


def wait_power(x, vm, want, timeout=20):
    deadline = time.time() + timeout
    while True:
        state = x.VM.get_power_state(vm)
        if state == want or time.time() > deadline:
            return state
        time.sleep(0.05)


def bring_to(x, vm, want):
    """Drives the VM into power state `want` through the SDK."""
    state = x.VM.get_power_state(vm)
    if state == want:
        return
    if want == "Halted":
        x.VM.hard_shutdown(vm)
        return
    if state == "Halted":
        x.VM.start(vm, False, False)
    elif state == "Paused":
        x.VM.unpause(vm)
    elif state == "Suspended":
        x.VM.resume(vm, False, False)
    if want == "Paused":
        x.VM.pause(vm)
    elif want == "Suspended":
        x.VM.suspend(vm)
    assert x.VM.get_power_state(vm) == want


def accepted(requested, state, allowed):
    """True when the reference mapping has an operation for it that XenAPI allows now."""
    return OPERATION.get(requested, {}).get(state) in allowed


def expected_available(state, allowed):
    return sorted(s for s in SUPPORTED if accepted(s, state, allowed))


@pytest.fixture(scope="module")
def vm(x):
    ref = x.VM.create(cim_env.vm_record("cim-state-changes"))
    yield ref, x.VM.get_uuid(ref)
    if x.VM.get_power_state(ref) != "Halted":
        x.VM.hard_shutdown(ref)
    x.VM.destroy(ref)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("requested", REQUESTABLE + sorted(NEVER))
def test_request_state_change_is_accepted_exactly_when_advertised(cim, x, vm, state, requested):
    ref, uuid = vm
    bring_to(x, ref, state)
    allowed = x.VM.get_allowed_operations(ref)
    supported = sorted(cim.GetInstance(caps_path(uuid))["RequestedStatesSupported"])
    assert supported == SUPPORTED, "the capabilities list what the class supports, whatever the state"
    available = sorted(cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"])
    assert available == expected_available(state, allowed), "advertised now = what allowed_operations permit"
    assert set(available) <= set(supported)
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(requested))
    if requested in available or (requested in VENDOR and accepted(requested, state, allowed)):
        assert rc in (0, 4096), f"{state} -> {requested}: accepted by the mapping but refused with {rc}"
        if rc == 4096:
            assert out["Job"].classname == "Xen_SystemStateChangeJob"
        assert wait_power(x, ref, RESULT[requested]) == RESULT[requested]
        assert cim.GetInstance(vm_path(uuid))["RequestedState"] == requested, "the VM is where it was asked to be"
    else:
        assert rc == NEVER.get(requested, 4097), f"{state} -> {requested}: not listed, yet answered {rc}"
        assert x.VM.get_power_state(ref) == state, "a refused request changes nothing"


def test_disabled_stops_at_once_and_shut_down_asks_the_guest(cim, x):
    """3 (Disabled) is VM.hard_shutdown: immediate even for a guest that ignores shutdown
    requests; 4 (Shut Down) is VM.clean_shutdown, which such a guest never completes."""
    rec = cim_env.vm_record("cim-state-deaf")
    rec["other_config"] = {"sim-ignore-shutdown": "true"}
    ref = x.VM.create(rec)
    uuid = x.VM.get_uuid(ref)
    try:
        x.VM.start(ref, False, False)
        rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
        assert rc == 4096, "the guest does not answer: the clean shutdown runs on as a job"
        assert x.VM.get_power_state(ref) == "Running"
        assert cim.GetInstance(vm_path(uuid))["RequestedState"] == 4, "requested, under way"
        assert cim.InvokeMethod("KillJob", out["Job"], DeleteOnKill=True)[0] == 0
        deadline = time.time() + 20
        while cim.GetInstance(vm_path(uuid))["RequestedState"] != 0 and time.time() < deadline:
            time.sleep(0.2)
        assert cim.GetInstance(vm_path(uuid))["RequestedState"] == 0, "a cancelled request no longer stands"
        rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(3))
        assert rc == 0, "a hard shutdown does not wait for the guest"
        assert x.VM.get_power_state(ref) == "Halted"
        assert cim.GetInstance(vm_path(uuid))["RequestedState"] == 3
    finally:
        if x.VM.get_power_state(ref) != "Halted":
            x.VM.hard_shutdown(ref)
        x.VM.destroy(ref)


def test_requested_state_is_forgotten_when_xenapi_moves_the_vm_away(cim, x):
    ref = x.VM.create(cim_env.vm_record("cim-state-stale"))
    uuid = x.VM.get_uuid(ref)
    try:
        assert cim.GetInstance(vm_path(uuid))["RequestedState"] == 0, "nothing requested: Unknown, not 5"
        x.VM.start(ref, False, False)
        assert cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(9))[0] == 0
        vm = cim.GetInstance(vm_path(uuid))
        assert (vm["EnabledState"], vm["RequestedState"]) == (9, 9)
        x.VM.unpause(ref)
        assert wait_property(cim, uuid, "EnabledState", 2)["RequestedState"] == 0, "unpaused through XenAPI"
        x.VM.pause(ref)
        vm = wait_property(cim, uuid, "EnabledState", 9)
        assert vm["RequestedState"] == 0, "paused again, but not by the request that was forgotten"
    finally:
        if x.VM.get_power_state(ref) != "Halted":
            x.VM.hard_shutdown(ref)
        x.VM.destroy(ref)


def wait_property(cim, uuid, prop, want, timeout=20):
    deadline = time.time() + timeout
    while True:
        vm = cim.GetInstance(vm_path(uuid))
        if vm[prop] == want or time.time() > deadline:
            return vm
        time.sleep(0.05)


def test_host_state_capabilities_list_what_its_request_state_change_supports(cim, x, srv):
    host_ref = x.host.get_all()[0]
    host_uuid = x.host.get_uuid(host_ref)
    path = pywbem.CIMInstanceName("Xen_HostComputerSystem", namespace=NS, keybindings={
        "CreationClassName": "Xen_HostComputerSystem", "Name": host_uuid})
    [caps] = cim.Associators(path, AssocClass="CIM_ElementCapabilities", ResultClass="Xen_HostComputerSystemCapabilities")
    assert caps.path["InstanceID"] == f"Xen:{host_uuid}/HostComputerSystemCapabilities"
    assert sorted(caps["RequestedStatesSupported"]) == [2, 6]
    assert caps["ElementNameEditSupported"] is False
    [back] = cim.AssociatorNames(caps.path, AssocClass="CIM_ElementCapabilities")
    assert (back.classname, back["Name"]) == ("Xen_HostComputerSystem", host_uuid)
    # The VSMS capabilities stay linked to the host (DSP1042) and to the VSMS.
    classes = sorted(p.classname for p in cim.AssociatorNames(path, AssocClass="CIM_ElementCapabilities"))
    assert classes == ["Xen_HostComputerSystemCapabilities", "Xen_VirtualSystemManagementCapabilities"]
    host = cim.GetInstance(path)
    assert set(host["AvailableRequestedStates"]) <= set(caps["RequestedStatesSupported"])
    for requested in range(0, 14):
        if requested in host["AvailableRequestedStates"]:
            continue  # accepted: test_host_maintenance_through_request_state_change drives it
        rc, _ = cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(requested))
        assert rc != 0, f"{requested} is not available, yet accepted"
    assert x.host.get_enabled(host_ref) is True, "nothing was changed"
    url = f"http://root:{cim_env.PASSWORD}@127.0.0.1:{srv.cim_port}/root/cimv2:Xen_HostComputerSystemCapabilities"
    r = subprocess.run(["wbemcli", "ei", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f'InstanceID="Xen:{host_uuid}/HostComputerSystemCapabilities"' in r.stdout and "RequestedStatesSupported=2,6" in r.stdout.replace(" ", "")


def test_a_blocked_operation_is_neither_advertised_nor_accepted(cim, x):
    ref = x.VM.create(cim_env.vm_record("cim-state-blocked"))
    uuid = x.VM.get_uuid(ref)
    try:
        x.VM.start(ref, False, False)
        x.VM.add_to_blocked_operations(ref, "clean_shutdown", "kept running by the test")
        available = sorted(cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"])
        assert available == [3, 6, 9, 10, 11], "no clean shutdown: no 4"
        assert sorted(cim.GetInstance(caps_path(uuid))["RequestedStatesSupported"]) == SUPPORTED, "still supported by the class"
        rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
        assert rc == 4097
        assert x.VM.get_power_state(ref) == "Running"
        x.VM.remove_from_blocked_operations(ref, "clean_shutdown")
        assert 4 in cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"]
        rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
        assert rc in (0, 4096)
        assert wait_power(x, ref, "Halted") == "Halted"
    finally:
        if x.VM.get_power_state(ref) != "Halted":
            x.VM.hard_shutdown(ref)
        x.VM.destroy(ref)
