"""Xen_ComputerSystem.RequestStateChange for every RequestedState value from every power state:
accepted exactly when Xen_ComputerSystemCapabilities.RequestedStatesSupported (and the VM's
AvailableRequestedStates) list it at that moment, and then the VM ends in the power state of the
reference mapping (xs-cim-model.md §3.1), as the XenAPI SDK sees it; refused with the documented
code and no change otherwise. The advertised set is also checked against the VM's
allowed_operations as the SDK reads them (§3.3, with 2 for unpause and resume)."""
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
STATES = ["Halted", "Running", "Paused", "Suspended"]
# CIM 2.41 values and the xs-cim vendor values; then values that are never accepted:
# 5 No Change and 13 are outside the method's ValueMap, 7 Test and 12 Not Applicable are
# CIM states this implementation does not offer.
REQUESTABLE = [2, 3, 4, 6, 9, 10, 11, 32768, 32769]
NEVER = {5: 5, 7: 1, 12: 1, 13: 5}

# RequestedState -> the power state the VM ends in (xs-cim-model.md §3.1).
RESULT = {2: "Running", 3: "Halted", 4: "Halted", 6: "Suspended", 9: "Paused", 10: "Running", 11: "Running",
          32768: "Halted", 32769: "Running"}
# RequestedState -> the XenAPI operation it calls, by power state.
OPERATION = {
    2: {"Halted": "start", "Paused": "unpause", "Suspended": "resume"},
    3: {"Running": "clean_shutdown", "Paused": "hard_shutdown", "Suspended": "hard_shutdown"},
    6: {"Running": "suspend"}, 9: {"Running": "pause"}, 10: {"Running": "clean_reboot"},
    11: {s: "hard_reboot" for s in STATES}, 32768: {s: "hard_shutdown" for s in STATES},
}
OPERATION[4] = OPERATION[3]
OPERATION[32769] = OPERATION[11]


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid}, namespace=NS)


def caps_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystemCapabilities", keybindings={"InstanceID": f"Xen:{uuid}"}, namespace=NS)


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


def expected_supported(state, allowed):
    return sorted(s for s in REQUESTABLE if OPERATION[s].get(state) in allowed)


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
    supported = sorted(cim.GetInstance(caps_path(uuid))["RequestedStatesSupported"] or [])
    assert supported == expected_supported(state, x.VM.get_allowed_operations(ref)), "advertised = what allowed_operations permit"
    assert sorted(cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"] or []) == supported
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(requested))
    if requested in supported:
        assert rc in (0, 4096), f"{state} -> {requested}: listed but refused with {rc}"
        if rc == 4096:
            assert out["Job"].classname == "Xen_SystemStateChangeJob"
        assert wait_power(x, ref, RESULT[requested]) == RESULT[requested]
        if rc == 0:
            assert cim.GetInstance(vm_path(uuid))["RequestedState"] == requested
    else:
        assert rc == NEVER.get(requested, 4097), f"{state} -> {requested}: not listed, yet answered {rc}"
        assert x.VM.get_power_state(ref) == state, "a refused request changes nothing"


def test_a_blocked_operation_is_neither_advertised_nor_accepted(cim, x):
    ref = x.VM.create(cim_env.vm_record("cim-state-blocked"))
    uuid = x.VM.get_uuid(ref)
    try:
        x.VM.start(ref, False, False)
        x.VM.add_to_blocked_operations(ref, "clean_shutdown", "kept running by the test")
        supported = sorted(cim.GetInstance(caps_path(uuid))["RequestedStatesSupported"])
        assert supported == [6, 9, 10, 11, 32768, 32769], "no clean shutdown: neither 3 nor 4"
        rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
        assert rc == 4097
        assert x.VM.get_power_state(ref) == "Running"
        x.VM.remove_from_blocked_operations(ref, "clean_shutdown")
        assert 4 in cim.GetInstance(caps_path(uuid))["RequestedStatesSupported"]
        rc, _ = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
        assert rc in (0, 4096)
        assert wait_power(x, ref, "Halted") == "Halted"
    finally:
        if x.VM.get_power_state(ref) != "Halted":
            x.VM.hard_shutdown(ref)
        x.VM.destroy(ref)
