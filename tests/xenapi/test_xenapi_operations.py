"""Every declared message is implemented or refused on purpose, and allowed_operations never
offers what this server refuses: through the official Python SDK, VMs, VDIs, SRs, VBDs, VIFs,
the host and networks are driven through their states, and at each one every operation each
object offers must name a message in system.listMethods (the implemented set).

The op -> message mapping is written here on its own (xapi's meaning of each operation), not
read from the server, so a server that offered an operation it does not serve fails."""
import os
import re
import shutil
import subprocess
import xmlrpc.client

import pytest
import XenAPI

from datamodel import messages
from test_xenapi_core import vm_record
from xenapi_server import ROOT, xencim_binary

MiB = 1 << 20
GiB = 1 << 30

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                reason="qemu-img missing: apt-get install -y qemu-utils")

# Operations whose message is not `<class>.<op>`: the message that performs them (xapi's
# meaning). None: nothing a client can call does it, so it must never be offered.
OPERATION_MESSAGE = {
    "VM": {"changing_memory_live": "VM.set_memory_target_live", "changing_dynamic_range": "VM.set_memory_dynamic_range",
           "changing_static_range": "VM.set_memory_static_range", "changing_memory_limits": "VM.set_memory_limits",
           "changing_VCPUs": "VM.set_VCPUs_max", "changing_VCPUs_live": "VM.set_VCPUs_number_live",
           "changing_NVRAM": "VM.set_NVRAM",
           "make_into_template": "VM.set_is_a_template", "create_template": None, "export": None,
           "metadata_export": None, "import": None},
    "VDI": {"mirror": "VDI.pool_migrate", "force_unlock": None, "generate_config": None, "blocked": None},
    "SR": {"plug": "PBD.plug", "unplug": "PBD.unplug", "pbd_create": "PBD.create", "pbd_destroy": "PBD.destroy",
           "vdi_mirror": "VDI.pool_migrate"},
    # Starting the VM attaches its VBDs and VIFs.
    "VBD": {"attach": "VM.start", "pause": None, "unpause": None},
    "VIF": {"attach": "VM.start"},
    "host": {"provision": "VM.provision", "vm_start": "VM.start", "vm_resume": "VM.resume", "vm_migrate": "VM.pool_migrate"},
    # xapi's network.attach makes a network available on a host.
    "network": {"attaching": "network.attach"},
}


def message_of(cls, op):
    special = OPERATION_MESSAGE[cls]
    if op in special:
        return special[op]
    if cls == "SR" and op.startswith("vdi_"):
        return "VDI." + op[len("vdi_"):]
    return f"{cls}.{op}"


def unimplemented_list():
    """name -> reason, from xenapi-core/model/unimplemented.txt."""
    out = {}
    with open(os.path.join(ROOT, "xenapi-core", "model", "unimplemented.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, reason = line.split(None, 1)
                out[name] = reason
    return out


@pytest.fixture(scope="module")
def implemented(srv):
    # system.listMethods answers a bare list (as xapi's does), which the SDK cannot unwrap.
    return set(xmlrpc.client.ServerProxy(srv.url).system.listMethods())


class Offers:
    """Checks every object of every class at a state and remembers what was offered."""

    def __init__(self, x, implemented):
        self.x, self.implemented, self.seen = x, implemented, {c: set() for c in OPERATION_MESSAGE}

    def check(self, where):
        bad = []
        for cls in OPERATION_MESSAGE:
            for ref, rec in getattr(self.x, cls).get_all_records().items():
                for op in rec["allowed_operations"]:
                    self.seen[cls].add(op)
                    m = message_of(cls, op)
                    if m not in self.implemented:
                        bad.append(f"{cls} {rec.get('name_label', ref)}: {op} -> {m}")
        assert bad == [], f"{where}: offered operations whose message is not implemented: {bad}"

    def ops(self, cls, ref):
        return set(getattr(self.x, cls).get_allowed_operations(ref))


def new_vm(x, name):
    return x.VM.create(vm_record(name, memory_static_max=str(GiB), memory_dynamic_max=str(GiB),
                                 memory_dynamic_min=str(GiB // 2), memory_static_min=str(GiB // 4),
                                 VCPUs_max="1", VCPUs_at_startup="1", blocked_operations={}))


def new_vdi(x, sr, name, read_only=False):
    return x.VDI.create(dict(SR=sr, virtual_size=str(16 * MiB), type="user", sharable=False, read_only=read_only,
                             other_config={}, name_label=name, name_description=""))


def new_vbd(x, vm, vdi, type="Disk", mode="RW", empty=False):
    return x.VBD.create(dict(VM=vm, VDI=vdi, userdevice="autodetect", bootable=False, mode=mode, type=type,
                             empty=empty, other_config={}, qos_algorithm_type="", qos_algorithm_params={}))


def test_every_declared_message_is_served_or_refused_with_its_reason(srv, x, implemented):
    listed = unimplemented_list()
    declared = {f"{c}.{m}" for c, m, *_ in messages()} | {"session.login_with_password", "session.slave_local_login_with_password"}
    assert set(listed) <= declared, "the list names only declared messages"
    assert not set(listed) & implemented, "system.listMethods leaves out what is refused"
    assert declared - set(listed) <= implemented, "every other declared message is served"
    assert all(reason.strip() for reason in listed.values())
    # A refused message answers NOT_IMPLEMENTED [its name], as xapi does.
    vm = new_vm(x, "refused")
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.checkpoint(vm, "cp")
    assert e.value.details == ["NOT_IMPLEMENTED", "VM.checkpoint"]
    x.VM.destroy(vm)


def test_api_doc_marks_refused_messages_with_their_reason():
    out = subprocess.run([xencim_binary(), "api-doc"], capture_output=True, text=True, check=True).stdout
    listed = unimplemented_list()
    m = re.search(r"(\d+) of (\d+) declared messages are implemented; (\d+) are refused", out)
    assert m, out[:400]
    assert int(m.group(3)) == len(listed) and int(m.group(1)) + len(listed) == int(m.group(2))
    for name in ("VM.checkpoint", "host.evacuate"):
        cls, msg = name.split(".")
        row = next(line for line in out.splitlines() if line.startswith(f"| {msg} |") and listed[name] in line)
        assert "not implemented" in row
    assert any(line.startswith("| start |") and "not implemented" not in line for line in out.splitlines())


def test_allowed_operations_in_every_state_name_implemented_messages(srv, x, implemented, tmp_path):
    o = Offers(x, implemented)
    host = x.host.get_all()[0]
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    net = x.network.get_by_name_label("Pool-wide network associated with eth0")[0]
    isodir = tmp_path / "isos"
    isodir.mkdir()
    (isodir / "tools.iso").write_bytes(b"\0" * 4096)
    iso_sr = x.SR.create(host, {"location": str(isodir)}, "0", "ISOs", "", "iso", "iso", False, {})
    iso = x.SR.get_VDIs(iso_sr)[0]
    empty_sr = x.SR.create(host, {"location": str(tmp_path / "empty-sr")}, "0", "empty", "", "file", "user", False, {})
    o.check("an ISO SR and an SR without VDIs")

    vm = new_vm(x, "ops")
    disk = new_vdi(x, sr, "ops-disk")
    ro = new_vdi(x, sr, "ops-ro", read_only=True)
    vbd = new_vbd(x, vm, disk)
    ro_vbd = new_vbd(x, vm, ro, mode="RO")
    cd = new_vbd(x, vm, "OpaqueRef:NULL", type="CD", mode="RO", empty=True)
    vif = x.VIF.create(dict(device="0", network=net, VM=vm, MAC="", MTU="1500", other_config={},
                            qos_algorithm_type="", qos_algorithm_params={}))
    o.check("devices of a halted VM")
    assert o.ops("VBD", cd) == {"attach", "insert"} and o.ops("VBD", vbd) == {"attach"}
    assert {"resize", "destroy"} <= o.ops("VDI", disk) and "resize_online" not in o.ops("VDI", disk)
    x.VBD.insert(cd, iso)
    o.check("an ISO in the CD drive")
    assert o.ops("VBD", cd) == {"attach", "eject"}
    assert o.ops("VDI", iso) == {"copy", "forget", "update"}, "read-only ISO SR: nothing that writes"
    snap = x.VDI.snapshot(disk)
    o.check("a VDI snapshot")
    assert "resize" not in o.ops("VDI", snap)

    x.VM.start(vm, False, False)
    o.check("a running VM")
    assert o.ops("VBD", vbd) == {"attach", "unplug", "unplug_force"}
    assert o.ops("VIF", vif) == {"attach", "unplug"}
    assert o.ops("VDI", disk) == {"clone", "resize_online", "snapshot"}, "attached read-write: live operations only"
    assert "copy" in o.ops("VDI", ro), "attached read-only: copy too"
    assert "unplug" in o.ops("SR", sr) and "destroy" not in o.ops("SR", sr)
    x.VBD.unplug(vbd)
    x.VIF.unplug(vif)
    o.check("a VBD and a VIF unplugged from a running VM")
    assert o.ops("VBD", vbd) == {"attach", "plug"} and o.ops("VIF", vif) == {"attach", "plug"}
    assert "resize" in o.ops("VDI", disk)
    x.VBD.plug(vbd)
    x.VIF.plug(vif)
    o.check("plugged again")
    x.VM.pause(vm)
    o.check("a paused VM")
    x.VM.unpause(vm)
    x.VM.suspend(vm)
    o.check("a suspended VM")
    x.VM.resume(vm, False, False)
    vm_snap = x.VM.snapshot(vm, "ops-snap")
    o.check("a VM snapshot of a running VM")
    x.VM.hard_shutdown(vm)
    o.check("halted again")

    template = x.VM.clone(vm, "ops-template")
    x.VM.set_is_a_template(template, True)
    o.check("a template")

    pbd = x.SR.get_PBDs(empty_sr)[0]
    x.PBD.unplug(pbd)
    o.check("an SR with its PBD unplugged")
    assert {"plug", "forget", "destroy", "pbd_destroy"} <= o.ops("SR", empty_sr)
    assert not {"scan", "vdi_create", "unplug"} & o.ops("SR", empty_sr)
    x.PBD.plug(pbd)
    o.check("plugged again")
    assert {"scan", "vdi_create", "unplug"} <= o.ops("SR", empty_sr)

    x.host.disable(host)
    o.check("a disabled host")
    assert "vm_start" not in o.ops("host", host), "a disabled host starts no guests (HOST_DISABLED)"
    x.host.enable(host)
    o.check("an enabled host")
    assert {"vm_start", "enable"} <= o.ops("host", host)

    # The walk saw the operations it was meant to: the check above was not vacuous.
    expect = {"VM": {"start", "clean_shutdown", "pause", "resume", "clone"}, "VDI": {"clone", "resize", "resize_online", "copy"},
              "SR": {"plug", "unplug", "vdi_create", "scan"}, "VBD": {"plug", "unplug", "insert", "eject", "attach"},
              "VIF": {"plug", "unplug"}, "host": {"vm_start", "enable"}}
    for cls, ops in expect.items():
        assert ops <= o.seen[cls], f"{cls}: {ops - o.seen[cls]} never offered"

    for v in (template, vm_snap):
        x.VM.destroy(v)
    for d in (cd, ro_vbd, vbd):
        x.VBD.destroy(d)
    x.VIF.destroy(vif)
    x.VM.destroy(vm)
    for v in (snap, disk, ro):
        x.VDI.destroy(v)
    for s in (iso_sr, empty_sr):
        x.PBD.unplug(x.SR.get_PBDs(s)[0])
        x.SR.forget(s)
