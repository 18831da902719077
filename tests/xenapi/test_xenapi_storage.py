"""Storage and networking through the official Python SDK: SRs whose VDIs are real qemu-img
images, VBDs and VIFs plugged into running VMs, disks following VM clone/copy/snapshot/revert/
provision, the error cases, SR.scan adoption and restart persistence."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import XenAPI

from test_xenapi_core import vm_record
from xenapi_server import FAST, PASSWORD, Server, new_state_dir, write_sim_config

MiB = 1 << 20
GiB = 1 << 30

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                reason="qemu-img missing: apt-get install -y qemu-utils")


def failure(e):
    return e.value.details


def qemu_info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def sr_dir(x, sr):
    pbd = x.SR.get_PBDs(sr)[0]
    return x.PBD.get_device_config(pbd)["location"]


def vdi_path(x, vdi):
    return os.path.join(sr_dir(x, x.VDI.get_SR(vdi)), x.VDI.get_location(vdi))


def new_vm(x, name="st"):
    return x.VM.create(vm_record(name, memory_static_max=str(GiB), memory_dynamic_max=str(GiB),
                                 memory_dynamic_min=str(GiB // 2), memory_static_min=str(GiB // 4),
                                 VCPUs_max="1", VCPUs_at_startup="1", blocked_operations={}))


def new_vdi(x, sr, size, name="disk", **over):
    rec = dict(SR=sr, virtual_size=str(size), type="user", sharable=False, read_only=False,
               other_config={}, name_label=name, name_description="")
    rec.update(over)
    return x.VDI.create(rec)


def new_vbd(x, vm, vdi, userdevice="autodetect", type="Disk", mode="RW", empty=False):
    return x.VBD.create(dict(VM=vm, VDI=vdi, userdevice=userdevice, bootable=False, mode=mode, type=type,
                             empty=empty, other_config={}, qos_algorithm_type="", qos_algorithm_params={}))


def new_vif(x, vm, net, device="0", mac=""):
    return x.VIF.create(dict(device=device, network=net, VM=vm, MAC=mac, MTU="1500", other_config={},
                             qos_algorithm_type="", qos_algorithm_params={}))


def new_file_sr(x, name="extra"):
    d = os.path.join(new_state_dir(), "sr")
    host = x.host.get_all()[0]
    return x.SR.create(host, {"location": d}, "0", name, "", "file", "user", False, {}), d


def eth0_network(x):
    return x.network.get_by_name_label("Pool-wide network associated with eth0")[0]


def test_first_start_has_a_local_sr_and_nics(x, srv):
    pool = x.pool.get_all()[0]
    sr = x.pool.get_default_SR(pool)
    rec = x.SR.get_record(sr)
    assert rec["name_label"] == "Local storage" and rec["type"] == "file"
    d = sr_dir(x, sr)
    assert d.startswith(srv.state_dir) and os.path.isdir(d)
    st = os.statvfs(d)
    assert int(rec["physical_size"]) == st.f_blocks * st.f_frsize
    assert x.PBD.get_currently_attached(rec["PBDs"][0])
    pifs = {x.PIF.get_device(p): p for p in x.PIF.get_all()}
    assert {"eth0", "eth1"} <= set(pifs)
    assert x.network.get_bridge(x.PIF.get_network(pifs["eth0"])) == "xenbr0"
    assert x.network.get_bridge(x.PIF.get_network(pifs["eth1"])) == "xenbr1"
    assert x.PIF.get_physical(pifs["eth0"]) and x.PIF.get_management(pifs["eth0"])
    assert "file" in x.SR.get_supported_types() and "iso" in x.SR.get_supported_types()
    x.PIF.unplug(pifs["eth1"])
    assert not x.PIF.get_currently_attached(pifs["eth1"])
    x.PIF.plug(pifs["eth1"])
    assert x.PIF.get_currently_attached(pifs["eth1"])
    with pytest.raises(XenAPI.Failure) as e:
        x.PIF.unplug(pifs["eth0"])
    assert failure(e) == ["PIF_IS_MANAGEMENT_INTERFACE", pifs["eth0"]]
    net = x.network.create(dict(name_label="internal", other_config={}))
    assert x.network.get_bridge(net).startswith("xapi") and x.network.get_PIFs(net) == []
    vlan = x.pool.create_VLAN("eth1", net, "7")[0]
    assert x.PIF.get_VLAN(vlan) == "7" and not x.PIF.get_physical(vlan) and x.network.get_PIFs(net) == [vlan]
    with pytest.raises(XenAPI.Failure) as e:
        x.network.destroy(net)
    assert failure(e) == ["NETWORK_CONTAINS_PIF", vlan]
    x.PIF.destroy(vlan)
    x.network.destroy(net)


def test_end_to_end_disks_nics_snapshot_clone_copy(x):
    sr, d = new_file_sr(x)
    vdi = new_vdi(x, sr, GiB, "system disk")
    path = vdi_path(x, vdi)
    info = qemu_info(path)
    assert info["format"] == "qcow2" and info["virtual-size"] == GiB
    assert x.VDI.get_virtual_size(vdi) == str(GiB)
    assert int(x.VDI.get_physical_utilisation(vdi)) == os.stat(path).st_blocks * 512
    assert vdi in x.SR.get_VDIs(sr)
    assert int(x.SR.get_virtual_allocation(sr)) == GiB
    raw = new_vdi(x, sr, 3 * MiB + 1, "raw disk", sm_config={"format": "raw"})
    assert qemu_info(vdi_path(x, raw))["format"] == "raw"
    assert x.VDI.get_virtual_size(raw) == str(3 * MiB + 512)  # rounded up to a sector

    vm = new_vm(x, "e2e-storage")
    vbd = new_vbd(x, vm, vdi)
    assert x.VBD.get_userdevice(vbd) == "0" and x.VDI.get_VBDs(vdi) == [vbd]
    assert "0" not in x.VM.get_allowed_VBD_devices(vm)
    net = eth0_network(x)
    vif = new_vif(x, vm, net)
    mac = x.VIF.get_MAC(vif)
    assert int(mac[:2], 16) & 2 and not int(mac[:2], 16) & 1 and x.VIF.get_MAC_autogenerated(vif)
    assert "0" not in x.VM.get_allowed_VIF_devices(vm) and vif in x.network.get_VIFs(net)
    assert not x.VBD.get_currently_attached(vbd)

    assert x.VBD.get_record(vbd)["metrics"] in x.VBD_metrics.get_all()
    assert x.VIF.get_record(vif)["metrics"] in x.VIF_metrics.get_all()
    x.VM.start(vm, False, False)
    assert x.VBD.get_currently_attached(vbd) and x.VBD.get_device(vbd) == "xvda"
    assert x.VIF.get_currently_attached(vif)
    with pytest.raises(XenAPI.Failure) as e:
        x.VDI.destroy(vdi)
    assert failure(e) == ["VDI_IN_USE", vdi, "destroy"]

    # hot-plug a second disk and a NIC
    vbd2 = new_vbd(x, vm, raw)
    assert x.VBD.get_userdevice(vbd2) == "1" and not x.VBD.get_currently_attached(vbd2)
    x.VBD.plug(vbd2)
    assert x.VBD.get_currently_attached(vbd2) and x.VBD.get_device(vbd2) == "xvdb"
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.plug(vbd2)
    assert failure(e) == ["DEVICE_ALREADY_ATTACHED", vbd2]
    vif2 = new_vif(x, vm, net, device="1")
    x.VIF.plug(vif2)
    assert x.VIF.get_currently_attached(vif2) and x.VIF.get_MAC(vif2) != mac
    x.VBD.unplug(vbd2)
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.unplug(vbd2)
    assert failure(e) == ["DEVICE_ALREADY_DETACHED", vbd2]
    x.VBD.plug(vbd2)

    snap = x.VM.snapshot(vm, "snap")
    snap_vdis = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(snap) if x.VBD.get_type(b) == "Disk"]
    assert len(snap_vdis) == 2 and not set(snap_vdis) & {vdi, raw}
    for sv in snap_vdis:
        assert x.VDI.get_is_a_snapshot(sv) and x.VDI.get_snapshot_of(sv) in (vdi, raw)
        assert os.path.exists(vdi_path(x, sv))
    assert x.VDI.get_snapshots(vdi)[0] in snap_vdis
    assert qemu_info(vdi_path(x, vdi))["virtual-size"] == GiB  # the source still reads whole

    x.VM.hard_shutdown(vm)
    assert not x.VBD.get_currently_attached(vbd) and not x.VIF.get_currently_attached(vif)
    clone = x.VM.clone(vm, "clone")
    clone_vdis = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(clone)]
    assert len(clone_vdis) == 2 and not set(clone_vdis) & {vdi, raw}
    assert sorted(x.VDI.get_virtual_size(v) for v in clone_vdis) == sorted([str(GiB), str(3 * MiB + 512)])
    assert {x.VIF.get_MAC(v) for v in x.VM.get_VIFs(clone)}.isdisjoint({mac, x.VIF.get_MAC(vif2)})

    other, other_dir = new_file_sr(x, "copy target")
    task = x.Async.VM.copy(vm, "copied", other)
    while x.task.get_status(task) == "pending":
        time.sleep(0.02)
    assert x.task.get_status(task) == "success", x.task.get_error_info(task)
    assert float(x.task.get_progress(task)) == 1.0
    copy = x.task.get_result(task)[len("<value>"):-len("</value>")]
    x.task.destroy(task)
    copy_vdis = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(copy)]
    assert {x.VDI.get_SR(v) for v in copy_vdis} == {other}
    for v in copy_vdis:
        p = vdi_path(x, v)
        assert p.startswith(other_dir) and "backing-filename" not in qemu_info(p)

    for v in (snap, clone, copy, vm):
        x.VM.destroy(v)
    # VM.destroy leaves the disks; their VBDs are gone
    assert x.VDI.get_VBDs(vdi) == [] and os.path.exists(vdi_path(x, vdi))
    for v in x.SR.get_VDIs(sr) + x.SR.get_VDIs(other):
        x.VDI.destroy(v)
    assert x.SR.get_VDIs(sr) == [] and not [f for f in os.listdir(d) if not f.startswith(".tmp")]
    for s in (sr, other):
        with pytest.raises(XenAPI.Failure) as e:
            x.SR.destroy(s)
        assert failure(e) == ["SR_HAS_PBD", s]
        x.PBD.unplug(x.SR.get_PBDs(s)[0])
        x.SR.destroy(s)
    assert not os.path.exists(d) and not os.path.exists(other_dir)


def test_vdi_copy_is_a_task_with_real_progress_and_resize(x):
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    vdi = new_vdi(x, sr, 768 * MiB, "big", sm_config={"format": "raw"})
    chunk = bytes(range(256)) * 4096
    with open(vdi_path(x, vdi), "r+b") as f:  # what a guest would have written
        for _ in range(768):
            f.write(chunk)
    other, _ = new_file_sr(x, "vdi copy target")
    task = x.Async.VDI.copy(vdi, other, "OpaqueRef:NULL", "OpaqueRef:NULL")
    seen = set()
    while x.task.get_status(task) == "pending":
        seen.add(float(x.task.get_progress(task)))
        time.sleep(0.005)
    assert x.task.get_status(task) == "success", x.task.get_error_info(task)
    assert any(0 < p < 1 for p in seen), seen
    new = x.task.get_result(task)[len("<value>"):-len("</value>")]
    assert x.VDI.get_SR(new) == other and x.VDI.get_virtual_size(new) == str(768 * MiB)
    with open(vdi_path(x, new), "rb") as f:
        assert f.read(len(chunk)) == chunk
    # a copy can be cancelled: no VDI, no half-written file left behind
    before = set(x.SR.get_VDIs(other))
    task = x.Async.VDI.copy(vdi, other, "OpaqueRef:NULL", "OpaqueRef:NULL")
    while "cancel" not in x.task.get_allowed_operations(task) and x.task.get_status(task) == "pending":
        time.sleep(0.002)
    x.task.cancel(task)
    while x.task.get_status(task) in ("pending", "cancelling"):
        time.sleep(0.01)
    assert x.task.get_status(task) == "cancelled" and x.task.get_error_info(task) == ["TASK_CANCELLED", task]
    assert set(x.SR.get_VDIs(other)) == before
    assert not [f for f in os.listdir(sr_dir(x, other)) if f.startswith(".tmp-")]
    x.VDI.resize(new, str(GiB))
    assert qemu_info(vdi_path(x, new))["virtual-size"] == GiB and x.VDI.get_virtual_size(new) == str(GiB)
    with pytest.raises(XenAPI.Failure) as e:
        x.VDI.resize(new, str(MiB))
    assert failure(e) == ["VDI_TOO_SMALL", new, str(GiB)]
    x.VDI.destroy(vdi)
    x.VDI.destroy(new)


def test_error_cases(x, tmp_path):
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    host = x.host.get_all()[0]
    with pytest.raises(XenAPI.Failure) as e:
        new_vdi(x, sr, 1 << 60)
    assert failure(e)[0] == "SR_FULL" and failure(e)[1] == str(1 << 60)
    with pytest.raises(XenAPI.Failure) as e:
        x.SR.create(host, {}, "0", "nfs", "", "nfs", "", False, {})
    assert failure(e) == ["SR_UNKNOWN_DRIVER", "nfs"]

    vm_a, vm_b = new_vm(x, "rw-a"), new_vm(x, "rw-b")
    shared = new_vdi(x, sr, 16 * MiB, "shared")
    new_vbd(x, vm_a, shared)
    with pytest.raises(XenAPI.Failure) as e:
        new_vbd(x, vm_a, shared, userdevice="0")
    assert failure(e)[0] == "VM_DUPLICATE_VBD_DEVICE" and failure(e)[1] == vm_a and failure(e)[3] == "0"
    with pytest.raises(XenAPI.Failure) as e:
        new_vbd(x, vm_a, shared, userdevice="99")
    assert failure(e) == ["INVALID_DEVICE", "99"]
    new_vbd(x, vm_b, shared)
    x.VM.start(vm_a, False, False)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(vm_b, False, False)
    assert failure(e) == ["VDI_IN_USE", shared, "start"]
    assert x.VM.get_power_state(vm_b) == "Halted"
    net = eth0_network(x)
    new_vif(x, vm_a, net, device="2")
    with pytest.raises(XenAPI.Failure) as e:
        new_vif(x, vm_a, net, device="2")
    assert failure(e)[0] == "VM_DUPLICATE_VIF_DEVICE" and failure(e)[3] == "2"
    with pytest.raises(XenAPI.Failure) as e:
        new_vif(x, vm_a, net, device="3", mac="not-a-mac")
    assert failure(e) == ["MAC_INVALID", "not-a-mac"]
    given = new_vif(x, vm_a, net, device="3", mac="02:00:00:AA:BB:CC")
    assert x.VIF.get_MAC(given) == "02:00:00:aa:bb:cc" and not x.VIF.get_MAC_autogenerated(given)
    with pytest.raises(XenAPI.Failure) as e:
        x.network.destroy(net)
    assert failure(e)[0] == "NETWORK_CONTAINS_VIF"
    x.VM.hard_shutdown(vm_a)
    disk_vbd = x.VM.get_VBDs(vm_a)[0]
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.eject(disk_vbd)
    assert failure(e) == ["VBD_NOT_REMOVABLE_MEDIA", disk_vbd]
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.plug(disk_vbd)
    assert failure(e) == ["VM_BAD_POWER_STATE", vm_a, "running", "halted"]

    # start checks: a detached SR, then a missing image
    own, own_dir = new_file_sr(x, "detachable")
    disk = new_vdi(x, own, 8 * MiB)
    vm_c = new_vm(x, "start-checks")
    new_vbd(x, vm_c, disk)
    pbd = x.SR.get_PBDs(own)[0]
    x.PBD.unplug(pbd)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(vm_c, False, False)
    assert failure(e) == ["SR_NOT_ATTACHED", own]
    with pytest.raises(XenAPI.Failure) as e:
        new_vdi(x, own, MiB)
    assert failure(e) == ["SR_NOT_ATTACHED", own]
    x.PBD.plug(pbd)
    os.remove(vdi_path(x, disk))
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(vm_c, False, False)
    assert failure(e) == ["VDI_MISSING", own, disk]
    x.SR.scan(own)  # the VDI is still used by a VBD: kept, marked missing
    assert x.VDI.get_missing(disk)

    # networking errors
    with pytest.raises(XenAPI.Failure) as e:
        x.pool.create_VLAN("eth1", x.network.create(dict(name_label="bad vlan", other_config={})), "5000")
    assert failure(e) == ["VLAN_TAG_INVALID", "5000"]
    eth1 = [p for p in x.PIF.get_all() if x.PIF.get_device(p) == "eth1" and x.PIF.get_physical(p)][0]
    with pytest.raises(XenAPI.Failure) as e:
        x.PIF.destroy(eth1)
    assert failure(e) == ["PIF_IS_PHYSICAL", eth1]
    for v in (vm_a, vm_b, vm_c):
        x.VM.destroy(v)


def test_iso_sr_and_cd_drives(x, tmp_path):
    isodir = tmp_path / "isos"
    isodir.mkdir()
    (isodir / "debian.iso").write_bytes(b"\0" * 4096)
    (isodir / "notes.txt").write_text("not an iso")
    host = x.host.get_all()[0]
    iso = x.SR.create(host, {"location": str(isodir)}, "0", "ISOs", "", "iso", "iso", False, {})
    vdis = x.SR.get_VDIs(iso)
    assert [x.VDI.get_location(v) for v in vdis] == ["debian.iso"]
    deb = vdis[0]
    assert x.VDI.get_type(deb) == "user" and x.VDI.get_read_only(deb) and x.VDI.get_virtual_size(deb) == "4096"
    with pytest.raises(XenAPI.Failure) as e:
        new_vdi(x, iso, MiB)
    assert failure(e) == ["SR_OPERATION_NOT_SUPPORTED", iso]
    (isodir / "ubuntu.iso").write_bytes(b"\1" * 8192)
    x.SR.scan(iso)
    assert len(x.SR.get_VDIs(iso)) == 2

    vm = new_vm(x, "cd")
    cd = new_vbd(x, vm, "OpaqueRef:NULL", type="CD", mode="RO", empty=True)
    assert x.VBD.get_empty(cd) and x.VBD.get_VDI(cd) == "OpaqueRef:NULL"
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.eject(cd)
    assert failure(e) == ["VBD_IS_EMPTY", cd]
    x.VBD.insert(cd, deb)
    assert x.VBD.get_VDI(cd) == deb and not x.VBD.get_empty(cd)
    with pytest.raises(XenAPI.Failure) as e:
        x.VBD.insert(cd, deb)
    assert failure(e) == ["VBD_NOT_EMPTY", cd]
    with pytest.raises(XenAPI.Failure) as e:
        new_vbd(x, vm, deb, mode="RW", type="CD")
    assert failure(e) == ["VDI_READONLY", deb]
    x.VM.start(vm, False, False)
    assert x.VBD.get_currently_attached(cd)
    x.VBD.eject(cd)
    assert x.VBD.get_empty(cd)
    x.VM.hard_shutdown(vm)
    x.VM.destroy(vm)
    x.PBD.unplug(x.SR.get_PBDs(iso)[0])
    x.SR.forget(iso)
    assert (isodir / "debian.iso").exists()


def test_provision_template_with_disks(x):
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    tmpl = x.VM.get_by_name_label("Debian Bookworm 12")[0]
    vm = x.VM.clone(tmpl, "provisioned")
    x.VM.add_to_other_config(vm, "disks", '<provision><disk device="0" size="%d" sr="%s" bootable="true" type="system"/>'
                             '<disk device="1" size="%d" sr="" bootable="false" type="user"/></provision>'
                             % (64 * MiB, x.SR.get_uuid(sr), 32 * MiB))
    x.VM.provision(vm)
    vbds = sorted(x.VM.get_VBDs(vm), key=lambda b: x.VBD.get_userdevice(b))
    assert [x.VBD.get_userdevice(b) for b in vbds] == ["0", "1"]
    assert x.VBD.get_bootable(vbds[0]) and not x.VBD.get_bootable(vbds[1])
    vdis = [x.VBD.get_VDI(b) for b in vbds]
    assert [qemu_info(vdi_path(x, v))["virtual-size"] for v in vdis] == [64 * MiB, 32 * MiB]
    assert x.VDI.get_type(vdis[0]) == "system"
    assert "disks" not in x.VM.get_other_config(vm)
    x.VM.set_is_a_template(vm, False)
    x.VM.start(vm, False, False)
    snap = x.VM.snapshot(vm, "before")
    x.VM.revert(snap)
    new_vdis = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(vm)]
    assert set(new_vdis).isdisjoint(vdis) and len(new_vdis) == 2
    for v in vdis:  # the replaced disks went
        with pytest.raises(XenAPI.Failure):
            x.VDI.get_uuid(v)
    x.VM.destroy(snap)
    x.VM.destroy(vm)


def test_restart_persistence_and_scan_adopts_hand_made_images():
    d = new_state_dir()
    srv = Server(d, write_sim_config(d, **FAST)).start()
    try:
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD, "2.21", "storage-tests")
        x = s.xenapi
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        vm = new_vm(x, "persisted")
        vdi = new_vdi(x, sr, 32 * MiB, "kept")
        vbd = new_vbd(x, vm, vdi)
        net = x.network.create(dict(name_label="vlan net", other_config={}))
        vlan = x.pool.create_VLAN("eth1", net, "42")[0]
        vif = new_vif(x, vm, net)
        mac = x.VIF.get_MAC(vif)
        x.VM.start(vm, False, False)
        before = {c: x.__getattr__(c).get_all_records() for c in ("SR", "VDI", "VBD", "PBD", "network", "PIF", "VIF")}
        srv.restart()
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD, "2.21", "storage-tests")
        x = s.xenapi
        after = {c: x.__getattr__(c).get_all_records() for c in before}
        for c in before:
            assert set(after[c]) == set(before[c]), c
        assert x.VBD.get_currently_attached(vbd) and x.VIF.get_MAC(vif) == mac
        assert x.PIF.get_VLAN(vlan) == "42" and x.PIF.get_network(vlan) == net
        with pytest.raises(XenAPI.Failure) as e:
            x.pool.create_VLAN("eth1", net, "42")
        assert failure(e)[0] in ("PIF_VLAN_EXISTS", "NETWORK_ALREADY_CONNECTED")
        assert len([s for s in x.SR.get_all() if x.SR.get_type(s) == "file"]) == 1  # not made twice
        # a hand-made image is adopted by SR.scan, under the uuid its name carries
        u = str(uuid.uuid4())
        path = os.path.join(sr_dir(x, sr), u + ".qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, str(48 * MiB)], check=True)
        x.SR.scan(sr)
        adopted = x.VDI.get_by_uuid(u)
        assert x.VDI.get_virtual_size(adopted) == str(48 * MiB) and x.VDI.get_SR(adopted) == sr
        assert int(x.SR.get_physical_utilisation(sr)) > 0
        srv.restart()
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD, "2.21", "storage-tests")
        assert s.xenapi.VDI.get_by_uuid(u) == adopted
    finally:
        srv.stop()


def test_forget_then_introduce_brings_the_vdis_back(x):
    sr, d = new_file_sr(x, "to forget")
    vdi = new_vdi(x, sr, 8 * MiB, "survivor")
    vdi_uuid, sr_uuid = x.VDI.get_uuid(vdi), x.SR.get_uuid(sr)
    with pytest.raises(XenAPI.Failure) as e:
        x.SR.forget(sr)
    assert failure(e) == ["SR_HAS_PBD", sr]
    x.PBD.unplug(x.SR.get_PBDs(sr)[0])
    x.SR.forget(sr)
    with pytest.raises(XenAPI.Failure) as e:
        x.VDI.get_uuid(vdi)
    assert failure(e)[0] == "HANDLE_INVALID"
    assert os.listdir(d)  # the images stay
    sr2 = x.SR.introduce(sr_uuid, "back", "", "file", "user", False, {})
    with pytest.raises(XenAPI.Failure) as e:
        x.SR.scan(sr2)
    assert failure(e) == ["SR_HAS_NO_PBDS", sr2]
    pbd = x.PBD.create(dict(host=x.host.get_all()[0], SR=sr2, device_config={"location": d}))
    assert x.SR.get_PBDs(sr2) == [pbd] and not x.PBD.get_currently_attached(pbd)
    x.PBD.plug(pbd)
    x.SR.scan(sr2)
    back = x.VDI.get_by_uuid(vdi_uuid)
    assert x.VDI.get_SR(back) == sr2 and x.VDI.get_virtual_size(back) == str(8 * MiB)
    x.VDI.destroy(back)
    x.PBD.unplug(pbd)
    x.SR.destroy(sr2)


def test_a_crash_that_halts_the_vm_detaches_its_devices(x):
    vm = new_vm(x, "crashing")
    x.VM.set_actions_after_crash(vm, "destroy")
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    vbd = new_vbd(x, vm, new_vdi(x, sr, 1 << 20))
    vif = new_vif(x, vm, eth0_network(x))
    x.VM.start(vm, False, False)
    assert x.VBD.get_currently_attached(vbd) and x.VIF.get_currently_attached(vif)
    x.VM.send_sysrq(vm, "c")
    assert x.VM.get_power_state(vm) == "Halted"
    assert not x.VBD.get_currently_attached(vbd) and not x.VIF.get_currently_attached(vif)


def test_resize_online_needs_an_attached_vdi(x):
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    vdi = new_vdi(x, sr, 1 << 20, name="growing")
    with pytest.raises(XenAPI.Failure) as e:
        x.VDI.resize_online(vdi, str(2 << 20))
    assert failure(e)[0] == "OPERATION_NOT_ALLOWED"
    vm = new_vm(x, "grower")
    new_vbd(x, vm, vdi)
    x.VM.start(vm, False, False)
    x.VDI.resize_online(vdi, str(2 << 20))
    assert x.VDI.get_virtual_size(vdi) == str(2 << 20)
    assert qemu_info(vdi_path(x, vdi))["virtual-size"] == 2 << 20
    x.VM.hard_shutdown(vm)
