"""host.disable / host.enable through the official Python SDK: a disabled host keeps its running
guests but starts and resumes no others (HOST_DISABLED), as xapi's maintenance switch does."""
import pytest
import XenAPI

from test_xenapi_lifecycle import new_vm


def failure(e):
    return e.value.details


def test_disabled_host_starts_no_guest_until_enabled(x):
    host = x.host.get_all()[0]
    running, halted, suspended = new_vm(x, "h-run"), new_vm(x, "h-halted"), new_vm(x, "h-susp")
    x.VM.start(running, False, False)
    x.VM.start(suspended, False, False)
    x.VM.suspend(suspended)
    try:
        x.host.disable(host)
        assert x.host.get_enabled(host) is False
        with pytest.raises(XenAPI.Failure) as e:
            x.VM.start(halted, False, False)
        assert failure(e) == ["HOST_DISABLED", host]
        with pytest.raises(XenAPI.Failure) as e:
            x.VM.resume(suspended, False, False)
        assert failure(e) == ["HOST_DISABLED", host]
        assert x.VM.get_power_state(running) == "Running", "guests already running stay"
        assert x.VM.get_power_state(halted) == "Halted" and x.VM.get_power_state(suspended) == "Suspended"
        x.VM.clean_shutdown(running)
    finally:
        x.host.enable(host)
    assert x.host.get_enabled(host) is True
    x.VM.start(halted, False, False)
    x.VM.resume(suspended, False, False)
    assert x.VM.get_power_state(halted) == "Running" and x.VM.get_power_state(suspended) == "Running"
    for vm in (running, halted, suspended):
        if x.VM.get_power_state(vm) != "Halted":
            x.VM.hard_shutdown(vm)
        x.VM.destroy(vm)


def test_enable_and_disable_check_their_host(x):
    with pytest.raises(XenAPI.Failure) as e:
        x.host.disable("OpaqueRef:00000000-0000-0000-0000-000000000000")
    assert failure(e)[0] == "HANDLE_INVALID"
