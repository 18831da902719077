"""Memory accounting and NVRAM messages through the official Python SDK, against xapi's figures:
host.compute_free_memory / compute_memory_overhead, VM.compute_memory_overhead /
maximise_memory (xapi's Memory model, worked by hand below), VM.add_to_NVRAM /
remove_from_NVRAM (halted VMs only), VM.get_cooperative and host.get_management_interface,
with their errors: bad refs, wrong power state, and roles below the message's."""
import pytest
import XenAPI

from test_xenapi_core import vm_record
from xenapi_server import FAST, PASSWORD, Server, add_users, new_state_dir, write_sim_config

MiB = 1 << 20
GiB = 1 << 30
NULL_HOST = "OpaqueRef:00000000-0000-0000-0000-000000000000"
USERS = {"reader": "read-only", "operator": "vm-operator"}


@pytest.fixture(scope="module")
def srv():
    # The shared fast simulated host (16 GiB, 1 GiB for dom0), with two users below root.
    d = new_state_dir()
    add_users(d, USERS)
    s = Server(d, write_sim_config(d, **FAST)).start()
    yield s
    s.stop()


def login(srv, user, password):
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password(user, password, "2.21", "memory-nvram-tests")
    return s


@pytest.fixture
def x(srv):
    s = login(srv, "root", PASSWORD)
    yield s.xenapi
    s.xenapi.session.logout()


@pytest.fixture
def as_user(srv):
    made = []

    def make(user):
        s = login(srv, user, f"{user}-secret")
        made.append(s)
        return s.xenapi
    yield make
    for s in made:
        s.xenapi.session.logout()


def new_vm(x, name, **over):
    fields = dict(memory_static_max=str(GiB), memory_dynamic_max=str(GiB), memory_dynamic_min=str(GiB),
                  memory_static_min=str(GiB // 4), blocked_operations={}, VCPUs_max="2", VCPUs_at_startup="2",
                  HVM_shadow_multiplier=1.0)
    fields.update(over)
    return x.VM.create(vm_record(name, **fields))


def hvm(x, name, **over):
    return new_vm(x, name, HVM_boot_policy="BIOS order", domain_type="hvm", **over)


def details(e):
    return e.value.details


def cleanup(x, *vms):
    for vm in vms:
        if x.VM.get_power_state(vm) != "Halted":
            x.VM.hard_shutdown(vm)
        x.VM.destroy(vm)


def test_host_free_memory_is_what_vm_start_admits(x):
    host = x.host.get_all()[0]
    assert int(x.host.compute_memory_overhead(host)) == int(x.host.get_record(host)["memory_overhead"]) == 0
    free = int(x.host.compute_free_memory(host))
    # Nothing runs yet: all but dom0's memory (host_metrics.memory_free is removed from the API).
    assert free == 15 * GiB
    assert int(x.host_metrics.get_memory_total(x.host.get_metrics(host))) == 16 * GiB
    small = hvm(x, "mem-small")
    x.VM.start(small, False, False)
    free = int(x.host.compute_free_memory(host))
    assert free == 14 * GiB, "a running guest takes its dynamic maximum"
    # One MiB more than is free is refused with xapi's error and the figure answered above ...
    big = str(free + MiB)
    too_big = hvm(x, "mem-too-big", memory_static_max=big, memory_dynamic_max=big, memory_dynamic_min=big)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(too_big, False, False)
    assert details(e) == ["HOST_NOT_ENOUGH_FREE_MEMORY", big, str(free)]
    # ... and exactly what is free starts, leaving nothing.
    exact = str(free)
    fits = hvm(x, "mem-fits", memory_static_max=exact, memory_dynamic_max=exact, memory_dynamic_min=exact)
    x.VM.start(fits, False, False)
    assert int(x.host.compute_free_memory(host)) == 0
    cleanup(x, small, too_big, fits)
    assert int(x.host.compute_free_memory(host)) == 15 * GiB


def test_host_memory_messages_check_their_host(x):
    for call in (x.host.compute_free_memory, x.host.compute_memory_overhead, x.host.get_management_interface):
        with pytest.raises(XenAPI.Failure) as e:
            call(NULL_HOST)
        assert details(e) == ["HANDLE_INVALID", "host", NULL_HOST]


def test_vm_memory_overhead_is_xapis_model(x):
    # HVM, 1 GiB, 2 vCPUs, multiplier 1: extra 1 + 1 MiB, shadow ceil((256*2 + 2*1024) pages
    # / 256) = 10 MiB, Xen's 38 pages per vCPU round up to 1 MiB: 13 MiB.
    a = hvm(x, "ovh-hvm")
    assert int(x.VM.compute_memory_overhead(a)) == 13 * MiB
    # PV, 4 GiB, 4 vCPUs, multiplier 1.5: no internal extra; shadow ceil((1024 + 8192) / 256)
    # = 36 MiB * 1.5 = 54 MiB; 1 + 54 + 1 = 56 MiB.
    b = new_vm(x, "ovh-pv", domain_type="pv", memory_static_max=str(4 * GiB), memory_dynamic_max=str(4 * GiB),
               VCPUs_max="4", HVM_shadow_multiplier=1.5)
    assert int(x.VM.compute_memory_overhead(b)) == 56 * MiB
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.compute_memory_overhead(NULL_HOST)
    assert details(e) == ["HANDLE_INVALID", "VM", NULL_HOST]
    cleanup(x, a, b)


def test_maximise_memory(x):
    vm = hvm(x, "maxmem")
    # Largest s (MiB) with s + 2 + ceil((512 + 2s) / 256) + 1 <= 4096: s = 4059.
    assert int(x.VM.maximise_memory(vm, str(4 * GiB), False)) == 4059 * MiB
    # approximate costs 64 vCPUs: s + 2 + ceil((16384 + 2s) / 256) + 10 <= 4096: s = 3988.
    assert int(x.VM.maximise_memory(vm, str(4 * GiB), True)) == 3988 * MiB
    assert int(x.VM.maximise_memory(vm, "0", False)) == 0
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.maximise_memory(vm, "-1", False)
    assert details(e) == ["INVALID_VALUE", "total", "-1"]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.maximise_memory(NULL_HOST, str(GiB), False)
    assert details(e) == ["HANDLE_INVALID", "VM", NULL_HOST]
    cleanup(x, vm)


def test_nvram_map_ops(x):
    vm = hvm(x, "nvram")
    uuid = x.VM.get_uuid(vm)
    x.VM.add_to_NVRAM(vm, "EFI-variables", "dmFyc3RvcmU=")
    x.VM.add_to_NVRAM(vm, "EFI-mode", "setup")
    assert x.VM.get_NVRAM(vm) == {"EFI-variables": "dmFyc3RvcmU=", "EFI-mode": "setup"}
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.add_to_NVRAM(vm, "EFI-mode", "user")
    assert details(e) == ["MAP_DUPLICATE_KEY", "VM", "NVRAM", uuid, "EFI-mode"]
    x.VM.remove_from_NVRAM(vm, "EFI-mode")
    x.VM.remove_from_NVRAM(vm, "not-there")  # as xapi's database: nothing to remove, no error
    assert x.VM.get_NVRAM(vm) == {"EFI-variables": "dmFyc3RvcmU="}
    x.VM.set_NVRAM(vm, {"EFI-variables": "dmFyc3RvcmU=", "EFI-secureboot": "0"})
    x.VM.remove_from_NVRAM(vm, "EFI-secureboot")
    assert x.VM.get_NVRAM(vm) == {"EFI-variables": "dmFyc3RvcmU="}
    assert "changing_NVRAM" in x.VM.get_allowed_operations(vm)
    # The guest's varstore owns NVRAM while it runs: halted only (xapi's changing_NVRAM).
    x.VM.start(vm, False, False)
    assert "changing_NVRAM" not in x.VM.get_allowed_operations(vm)
    for call, args in ((x.VM.add_to_NVRAM, ("k", "v")), (x.VM.remove_from_NVRAM, ("EFI-variables",)),
                       (x.VM.set_NVRAM, ({},))):
        with pytest.raises(XenAPI.Failure) as e:
            call(vm, *args)
        assert details(e) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert x.VM.get_NVRAM(vm) == {"EFI-variables": "dmFyc3RvcmU="}
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.add_to_NVRAM(NULL_HOST, "k", "v")
    assert details(e) == ["HANDLE_INVALID", "VM", NULL_HOST]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.remove_from_NVRAM(NULL_HOST, "k")
    assert details(e) == ["HANDLE_INVALID", "VM", NULL_HOST]
    cleanup(x, vm)


def test_cooperative_and_management_interface(x):
    vm = hvm(x, "coop")
    assert x.VM.get_cooperative(vm) is True
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.get_cooperative(NULL_HOST)
    assert details(e) == ["HANDLE_INVALID", "VM", NULL_HOST]
    host = x.host.get_all()[0]
    management = [r for r, p in x.PIF.get_all_records().items() if p["management"] and p["host"] == host]
    assert len(management) == 1
    assert x.host.get_management_interface(host) == management[0]
    cleanup(x, vm)


def test_roles(x, as_user):
    vm = hvm(x, "roles")
    host = x.host.get_all()[0]
    reader, operator = as_user("reader"), as_user("operator")
    # Read-only messages answer every role.
    assert int(reader.host.compute_free_memory(host)) == int(x.host.compute_free_memory(host))
    assert int(reader.host.compute_memory_overhead(host)) == 0
    assert int(reader.VM.compute_memory_overhead(vm)) == 13 * MiB
    assert int(reader.VM.maximise_memory(vm, str(4 * GiB), False)) == 4059 * MiB
    assert reader.VM.get_cooperative(vm) is True
    # NVRAM needs vm-admin; the management interface pool-operator.
    for who in (reader, operator):
        with pytest.raises(XenAPI.Failure) as e:
            who.VM.add_to_NVRAM(vm, "k", "v")
        assert details(e)[:2] == ["RBAC_PERMISSION_DENIED", "vm.add_to_nvram"]
        with pytest.raises(XenAPI.Failure) as e:
            who.VM.remove_from_NVRAM(vm, "k")
        assert details(e)[:2] == ["RBAC_PERMISSION_DENIED", "vm.remove_from_nvram"]
        with pytest.raises(XenAPI.Failure) as e:
            who.host.get_management_interface(host)
        assert details(e)[:2] == ["RBAC_PERMISSION_DENIED", "host.get_management_interface"]
    assert x.VM.get_NVRAM(vm) == {}
    cleanup(x, vm)
