"""Disk and NIC RASDs, and the VSMS methods that change a VM's resources and settings
(AddResourceSettings, ModifyResourceSettings, RemoveResourceSettings, ModifySystemSettings,
CopySystem), through the embedded broker with pywbem (and wbemcli), while the XenAPI SDK makes
the VMs and checks the records before and after: each method changes exactly what it says, and
bad input is refused with a defined error and changes nothing."""
import copy
import subprocess

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
GIB = 1 << 30
MIB = 1 << 20


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace=NS)


def vssd_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystemSettingData", keybindings={"InstanceID": f"Xen:{uuid}"}, namespace=NS)


def rasd_path(cls, instance_id):
    return pywbem.CIMInstanceName(cls, keybindings={"InstanceID": instance_id}, namespace=NS)


@pytest.fixture(scope="module")
def vsms(cim):
    [name] = cim.EnumerateInstanceNames("Xen_VirtualSystemManagementService")
    return name


@pytest.fixture(scope="module")
def sr(x):
    return next(r["uuid"] for r in x.SR.get_all_records().values() if r["content_type"] != "iso")


@pytest.fixture(scope="module")
def net(x):
    return x.network.get_uuid(x.network.get_all()[0])


def make_vm(x, name, sr_uuid=None, disk=True, cd=False, nic=True, template=False, vcpus="2"):
    """A halted VM (or template) made through the SDK; returns (ref, uuid)."""
    rec = cim_env.vm_record(name)
    rec["VCPUs_max"] = vcpus
    rec["VCPUs_at_startup"] = vcpus
    rec["is_a_template"] = template
    ref = x.VM.create(rec)
    if disk:
        sr_ref = x.SR.get_by_uuid(sr_uuid)
        vdi = x.VDI.create(dict(SR=sr_ref, virtual_size=str(GIB), type="user", sharable=False, read_only=False,
                                other_config={}, name_label=f"{name}-root", name_description="root disk"))
        x.VBD.create(dict(VM=ref, VDI=vdi, userdevice="0", bootable=True, mode="RW", type="Disk", empty=False,
                          other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    if cd:
        x.VBD.create(dict(VM=ref, VDI="OpaqueRef:NULL", userdevice="3", bootable=False, mode="RO", type="CD", empty=True,
                          other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    if nic:
        x.VIF.create(dict(device="0", network=x.network.get_all()[0], VM=ref, MAC="", MTU="1500", other_config={},
                          qos_algorithm_type="", qos_algorithm_params={}))
    return ref, x.VM.get_uuid(ref)


VOLATILE = {"allowed_operations", "current_operations", "metrics", "guest_metrics", "domid", "VCPUs_utilisation"}


def state(x, vm):
    """Everything a resource method could change about a VM: its record, its VBDs and VIFs, and
    every VDI of the host."""
    rec = {k: v for k, v in x.VM.get_record(vm).items() if k not in VOLATILE}
    vbds = sorted((x.VBD.get_record(b) for b in x.VM.get_VBDs(vm)), key=lambda r: r["uuid"])
    vifs = sorted((x.VIF.get_record(f) for f in x.VM.get_VIFs(vm)), key=lambda r: r["uuid"])
    for r in vbds + vifs:
        for k in ("allowed_operations", "current_operations", "metrics"):
            r.pop(k, None)
    vdis = sorted((r["uuid"], r["name_label"], r["virtual_size"]) for r in x.VDI.get_all_records().values())
    return rec, vbds, vifs, vdis


def changed_fields(before, after):
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def detached(inst):
    """An instance got from the broker, as an embedded instance to send back."""
    i = copy.deepcopy(inst)
    i.path = None
    return i


# ---------------------------------------------------------------------------------------------
# The RASD instances


def test_disk_and_nic_rasds_of_vms_and_templates(cim, x, sr, net):
    ref, uuid = make_vm(x, "res-rasds", sr, cd=True)
    _, tpl_uuid = make_vm(x, "res-rasds-template", sr, nic=False, template=True)
    vbds = {x.VBD.get_type(b): x.VBD.get_record(b) for b in x.VM.get_VBDs(ref)}
    [vif] = [x.VIF.get_record(f) for f in x.VM.get_VIFs(ref)]
    disk_ids = {p["InstanceID"] for p in cim.EnumerateInstanceNames("Xen_DiskSettingData")}
    assert {f"Xen:{uuid}/{vbds['Disk']['uuid']}", f"Xen:{uuid}/{vbds['CD']['uuid']}"} <= disk_ids
    assert any(i.startswith(f"Xen:{tpl_uuid}/") for i in disk_ids), "templates have RASDs too"
    disk = cim.GetInstance(rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{vbds['Disk']['uuid']}"))
    vdi = x.VDI.get_record(vbds["Disk"]["VDI"])
    assert (disk["ResourceType"], disk["PoolID"], disk["HostExtentName"]) == (19, sr, vdi["uuid"])
    assert (disk["VirtualQuantity"], disk["AllocationUnits"], disk["Access"], disk["Bootable"]) == (GIB, "byte", 3, True)
    assert (disk["ElementName"], disk["AddressOnParent"]) == ("res-rasds-root", "0")
    assert f"DeviceID=\"Xen:{sr}/{vdi['uuid']}\"" in disk["HostResource"][0]
    cd = cim.GetInstance(rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{vbds['CD']['uuid']}"))
    assert (cd["ResourceType"], cd["Access"], cd.get("PoolID")) == (16, 1, None)
    port = cim.GetInstance(rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/{vif['uuid']}"))
    assert (port["ResourceType"], port["Address"], port["PoolID"], port["AddressOnParent"]) == (33, vif["MAC"], net, "0")
    assert port.path in cim.EnumerateInstanceNames("Xen_NetworkPortSettingData")
    for bad in [f"Xen:{uuid}/{vif['uuid']}", f"Xen:{tpl_uuid}/{vbds['Disk']['uuid']}", "Xen:nothing"]:
        with pytest.raises(pywbem.CIMError) as e:
            cim.GetInstance(rasd_path("Xen_DiskSettingData", bad))
        assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND, bad


def test_wbemcli_enumerates_the_rasds(srv, x, sr):
    _, uuid = make_vm(x, "res-wbemcli", sr)
    url = f"http://root:{cim_env.PASSWORD}@127.0.0.1:{srv.cim_port}/root/cimv2:Xen_DiskSettingData"
    r = subprocess.run(["wbemcli", "ein", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"Xen:{uuid}/" in r.stdout


def test_vssd_component_reaches_every_rasd_and_devices_their_settings(cim, x, sr, net):
    ref, uuid = make_vm(x, "res-assoc", sr)
    [vbd] = x.VM.get_VBDs(ref)
    [vif] = x.VM.get_VIFs(ref)
    vbd_uuid, vif_uuid = x.VBD.get_uuid(vbd), x.VIF.get_uuid(vif)
    parts = cim.AssociatorNames(vssd_path(uuid), AssocClass="CIM_VirtualSystemSettingDataComponent", ResultRole="PartComponent")
    assert sorted((p.classname, p["InstanceID"]) for p in parts) == sorted([
        ("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor"), ("Xen_MemorySettingData", f"Xen:{uuid}/Memory"),
        ("Xen_DiskSettingData", f"Xen:{uuid}/{vbd_uuid}"), ("Xen_NetworkPortSettingData", f"Xen:{uuid}/{vif_uuid}")])
    disk = cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_SystemDevice", ResultClass="Xen_Disk")[0]
    settings = cim.AssociatorNames(disk, AssocClass="CIM_SettingsDefineState")
    assert [(p.classname, p["InstanceID"]) for p in settings] == [("Xen_DiskSettingData", f"Xen:{uuid}/{vbd_uuid}")]
    esd = cim.References(disk, ResultClass="CIM_ElementSettingData")
    assert len(esd) == 1 and esd[0]["IsDefault"] == esd[0]["IsNext"] == 1
    vcpus = cim.AssociatorNames(rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor"), AssocClass="CIM_SettingsDefineState")
    assert sorted(p["DeviceID"] for p in vcpus) == [f"Xen:{uuid}/VCPU0", f"Xen:{uuid}/VCPU1"]
    pools = cim.AssociatorNames(rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/{vif_uuid}"), AssocClass="CIM_ResourceAllocationFromPool")
    assert [(p.classname, p["InstanceID"]) for p in pools] == [("Xen_NetworkConnectionPool", f"Xen:{net}")]
    pool = pywbem.CIMInstanceName("Xen_StoragePool", keybindings={"InstanceID": f"Xen:{sr}"}, namespace=NS)
    down = cim.AssociatorNames(pool, AssocClass="CIM_ResourceAllocationFromPool", ResultClass="CIM_StorageAllocationSettingData")
    assert f"Xen:{uuid}/{vbd_uuid}" in [p["InstanceID"] for p in down]


def test_a_rasd_got_changed_and_sent_back_defines_a_vm(cim, vsms, x, sr, net):
    ref, uuid = make_vm(x, "res-roundtrip-source", sr)
    [disk] = [i for i in cim.EnumerateInstances("Xen_DiskSettingData") if i["InstanceID"].startswith(f"Xen:{uuid}/")]
    [port] = [i for i in cim.EnumerateInstances("Xen_NetworkPortSettingData") if i["InstanceID"].startswith(f"Xen:{uuid}/")]
    new_disk = detached(disk)
    new_disk["ElementName"] = "res-roundtrip-disk"
    del new_disk.properties["HostExtentName"]
    del new_disk.properties["HostResource"]
    new_port = detached(port)
    new_port["Address"] = "02:00:00:00:aa:01"
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "res-roundtrip"; VirtualSystemType = "DMTF:Xen:PV"; };'
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[new_disk, new_port])
    assert rc == 0
    vm = x.VM.get_by_uuid(out["ResultingSystem"]["Name"])
    [vbd] = [x.VBD.get_record(b) for b in x.VM.get_VBDs(vm)]
    vdi = x.VDI.get_record(vbd["VDI"])
    assert (vdi["name_label"], vdi["virtual_size"], x.SR.get_uuid(vdi["SR"])) == ("res-roundtrip-disk", str(GIB), sr)
    [vif] = [x.VIF.get_record(f) for f in x.VM.get_VIFs(vm)]
    assert (vif["MAC"], x.network.get_uuid(vif["network"])) == ("02:00:00:00:aa:01", net)


# ---------------------------------------------------------------------------------------------
# AddResourceSettings


def test_add_disk_cd_and_nic_to_a_halted_vm(cim, vsms, x, sr, net):
    ref, uuid = make_vm(x, "res-add", sr)
    before = state(x, ref)
    rasds = [
        f'instance of Xen_DiskSettingData {{ ResourceType = 19; PoolID = "{sr}"; VirtualQuantity = 2; AllocationUnits = "GiB"; '
        f'ElementName = "res-add-data"; AddressOnParent = "1"; }};',
        "instance of CIM_ResourceAllocationSettingData { ResourceType = 16; };",
        f'instance of Xen_NetworkPortSettingData {{ ResourceType = 33; PoolID = "{net}"; Address = "02-00-00-00-BB-01"; }};',
    ]
    rc, out = cim.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path(uuid), ResourceSettings=rasds)
    assert rc == 0
    after = state(x, ref)
    assert changed_fields(before[0], after[0]) == ["VBDs", "VIFs"]
    new_vbds = [b for b in after[1] if b["uuid"] not in {o["uuid"] for o in before[1]}]
    disk = next(b for b in new_vbds if b["type"] == "Disk")
    cd = next(b for b in new_vbds if b["type"] == "CD")
    assert (disk["userdevice"], disk["mode"], cd["empty"], len(new_vbds)) == ("1", "RW", True, 2)
    vdi = x.VDI.get_record(disk["VDI"])
    assert (vdi["name_label"], vdi["virtual_size"], x.SR.get_uuid(vdi["SR"])) == ("res-add-data", str(2 * GIB), sr)
    [new_vif] = [f for f in after[2] if f["uuid"] not in {o["uuid"] for o in before[2]}]
    assert new_vif["MAC"] == "02:00:00:00:bb:01"
    assert len(after[3]) == len(before[3]) + 1, "one new VDI"
    resulting = out["ResultingResourceSettings"]
    assert sorted(p["InstanceID"] for p in resulting) == sorted(f"Xen:{uuid}/{r['uuid']}" for r in new_vbds + [new_vif])
    for p in resulting:
        assert cim.GetInstance(p)["InstanceID"] == p["InstanceID"]


def test_add_nic_to_a_running_vm_plugs_it(cim, vsms, x, sr, net):
    ref, uuid = make_vm(x, "res-add-live", sr, nic=False)
    x.VM.start(ref, False, False)
    rc, out = cim.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path(uuid),
                               ResourceSettings=[f'instance of Xen_NetworkPortSettingData {{ PoolID = "{net}"; }};'])
    assert rc == 0
    [vif] = x.VM.get_VIFs(ref)
    assert x.VIF.get_currently_attached(vif) is True
    assert out["ResultingResourceSettings"][0]["InstanceID"] == f"Xen:{uuid}/{x.VIF.get_uuid(vif)}"
    x.VM.hard_shutdown(ref)


# ---------------------------------------------------------------------------------------------
# ModifyResourceSettings


def test_modify_processor_and_memory_of_a_halted_vm(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-modify-cpu", sr)
    before = state(x, ref)
    cpu = detached(cim.GetInstance(rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor")))
    cpu["VirtualQuantity"] = pywbem.Uint64(4)
    cpu["Reservation"] = pywbem.Uint64(3)
    cpu["Weight"] = pywbem.Uint32(512)
    mem = detached(cim.GetInstance(rasd_path("Xen_MemorySettingData", f"Xen:{uuid}/Memory")))
    mem["Limit"] = pywbem.Uint64(768)
    rc, out = cim.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=[cpu, mem])
    assert rc == 0
    r = x.VM.get_record(ref)
    assert (r["VCPUs_max"], r["VCPUs_at_startup"], r["VCPUs_params"]) == ("4", "3", {"weight": "512"})
    assert (r["memory_dynamic_max"], r["memory_static_max"]) == (str(768 * MIB), str(GIB))
    assert changed_fields(before[0], state(x, ref)[0]) == ["VCPUs_at_startup", "VCPUs_max", "VCPUs_params", "memory_dynamic_max"]
    assert sorted(p["InstanceID"] for p in out["ResultingResourceSettings"]) == [f"Xen:{uuid}/Memory", f"Xen:{uuid}/Processor"]
    assert cim.GetInstance(rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor"))["VirtualQuantity"] == 4
    # Sent back unchanged: nothing changes.
    again = detached(cim.GetInstance(rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor")))
    snapshot = state(x, ref)
    assert cim.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=[again])[0] == 0
    assert state(x, ref) == snapshot


def test_modify_vcpus_of_a_running_vm_live(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-modify-live", sr, vcpus="4")
    x.VM.start(ref, False, False)
    rc, _ = cim.InvokeMethod("ModifyResourceSettings", vsms,
                             ResourceSettings=[f'instance of Xen_ProcessorSettingData {{ InstanceID = "Xen:{uuid}/Processor"; Reservation = 2; }};'])
    assert rc == 0
    assert x.VM.get_power_state(ref) == "Running"
    assert x.VM_metrics.get_VCPUs_number(x.VM.get_metrics(ref)) == "2"
    x.VM.hard_shutdown(ref)


def test_a_xenapi_refusal_undoes_the_earlier_changes(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-modify-undo", sr)
    x.VM.start(ref, False, False)
    before = state(x, ref)
    rasds = [f'instance of Xen_MemorySettingData {{ InstanceID = "Xen:{uuid}/Memory"; Reservation = 768; }};',
             f'instance of Xen_ProcessorSettingData {{ InstanceID = "Xen:{uuid}/Processor"; VirtualQuantity = 8; }};']
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=rasds)
    assert e.value.status_code == pywbem.CIM_ERR_FAILED
    assert "XenError:" in e.value.status_description
    assert x.VM.get_memory_dynamic_min(ref) == before[0]["memory_dynamic_min"], "the memory change was undone"
    assert state(x, ref)[0] == before[0]
    x.VM.hard_shutdown(ref)


def test_modify_disk_cd_and_nic(cim, vsms, x, sr, net):
    ref, uuid = make_vm(x, "res-modify-dev", sr, cd=True)
    vbds = {x.VBD.get_type(b): b for b in x.VM.get_VBDs(ref)}
    [vif] = x.VM.get_VIFs(ref)
    other_net = x.network.create(dict(name_label="res-other-net", name_description="", MTU="1500", other_config={}))
    iso_sr = [s for s in x.SR.get_all() if x.SR.get_content_type(s) == "iso"]
    disk = detached(cim.GetInstance(rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{x.VBD.get_uuid(vbds['Disk'])}")))
    disk["Bootable"] = False
    disk["ElementName"] = "res-renamed"
    disk["VirtualQuantity"] = pywbem.Uint64(2 * GIB)
    port = detached(cim.GetInstance(rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/{x.VIF.get_uuid(vif)}")))
    port["PoolID"] = x.network.get_uuid(other_net)
    rasds = [disk, port]
    iso = None
    if iso_sr:
        iso = x.VDI.create(dict(SR=iso_sr[0], virtual_size=str(MIB), type="user", sharable=True, read_only=True,
                                other_config={}, name_label="res.iso", name_description=""))
        rasds.append(f'instance of Xen_DiskSettingData {{ InstanceID = "Xen:{uuid}/{x.VBD.get_uuid(vbds["CD"])}"; '
                     f'ResourceType = 16; HostExtentName = "{x.VDI.get_uuid(iso)}"; }};')
    vbd_before = x.VBD.get_record(vbds["Disk"])
    rc, _ = cim.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=rasds)
    assert rc == 0
    vbd_after = x.VBD.get_record(vbds["Disk"])
    assert changed_fields(vbd_before, vbd_after) == ["bootable"]
    vdi = x.VDI.get_record(vbd_after["VDI"])
    assert (vdi["name_label"], vdi["name_description"], vdi["virtual_size"]) == ("res-renamed", "root disk", str(2 * GIB))
    assert x.VIF.get_network(vif) == other_net
    if iso:
        assert (x.VBD.get_VDI(vbds["CD"]), x.VBD.get_empty(vbds["CD"])) == (iso, False)


# ---------------------------------------------------------------------------------------------
# RemoveResourceSettings


def test_remove_disk_and_nic(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-remove", sr, cd=True)
    vbds = {x.VBD.get_type(b): b for b in x.VM.get_VBDs(ref)}
    vdi_uuid = x.VDI.get_uuid(x.VBD.get_VDI(vbds["Disk"]))
    [vif] = x.VM.get_VIFs(ref)
    before = state(x, ref)
    targets = [rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{x.VBD.get_uuid(vbds['Disk'])}"),
               rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/{x.VIF.get_uuid(vif)}")]
    rc, _ = cim.InvokeMethod("RemoveResourceSettings", vsms, ResourceSettings=targets)
    assert rc == 0
    after = state(x, ref)
    assert changed_fields(before[0], after[0]) == ["VBDs", "VIFs"]
    assert [b["type"] for b in after[1]] == ["CD"] and after[2] == []
    assert vdi_uuid not in [v[0] for v in after[3]], "its own disk goes, as with DestroySystem"
    assert len(after[3]) == len(before[3]) - 1
    for p in targets:
        with pytest.raises(pywbem.CIMError) as e:
            cim.GetInstance(p)
        assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_remove_from_a_running_vm_unplugs_first(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-remove-live", sr)
    x.VM.start(ref, False, False)
    [vif] = x.VM.get_VIFs(ref)
    assert x.VIF.get_currently_attached(vif)
    rc, _ = cim.InvokeMethod("RemoveResourceSettings", vsms,
                             ResourceSettings=[rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/{x.VIF.get_uuid(vif)}")])
    assert rc == 0
    assert x.VM.get_VIFs(ref) == [] and x.VM.get_power_state(ref) == "Running"
    x.VM.hard_shutdown(ref)


# ---------------------------------------------------------------------------------------------
# ModifySystemSettings and CopySystem


def test_modify_system_settings_changes_exactly_what_is_written(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-system", sr)
    x.VM.set_other_config(ref, {"keep": "me"})
    before = state(x, ref)[0]
    vssd = detached(cim.GetInstance(vssd_path(uuid)))
    vssd["ElementName"] = "res-system-renamed"
    vssd["Description"] = "changed by CIM"
    vssd["Other_Config"] = ["owner=cim"]
    vssd["PV_Args"] = "console=hvc0"
    rc, _ = cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vssd)
    assert rc == 0
    after = state(x, ref)[0]
    assert changed_fields(before, after) == ["PV_args", "name_description", "name_label", "other_config"]
    assert after["other_config"] == {"keep": "me", "owner": "cim"}, "merged"
    assert after["name_label"] == "res-system-renamed"
    rc, _ = cim.InvokeMethod("ModifySystemSettings", vsms,
                             SystemSettings=f'instance of Xen_ComputerSystemSettingData {{ InstanceID = "Xen:{uuid}"; AutomaticStartupAction = 2; }};')
    assert rc == 0
    assert changed_fields(after, state(x, ref)[0]) == ["actions_after_reboot"]


def test_vssd_shows_the_automatic_actions_and_affinity_and_takes_them_back_wrapped(cim, vsms, x, sr):
    """The VSSD outputs Automatic{Shutdown,Startup,Recovery}Action and HostAffinity as the
    XenAPI record has them; the instance pywbem got from Associators, serialised with its path
    (VALUE.INSTANCEWITHPATH, as tocimxmlstr gives it), is taken by ModifySystemSettings."""
    ref, uuid = make_vm(x, "res-actions", sr, disk=False, nic=False)
    host = x.host.get_all()[0]
    [vssd] = cim.Associators(vm_path(uuid), AssocClass="CIM_SettingsDefineState", ResultClass="Xen_ComputerSystemSettingData")
    rec = x.VM.get_record(ref)
    assert (rec["actions_after_shutdown"], rec["actions_after_reboot"], rec["actions_after_crash"]) == ("destroy", "restart", "preserve")
    assert (vssd["AutomaticShutdownAction"], vssd["AutomaticStartupAction"], vssd["AutomaticRecoveryAction"]) == (2, 3, 2)
    assert vssd["HostAffinity"] == ""
    before = state(x, ref)[0]
    text = pywbem.tocimxmlstr(vssd)
    assert text.startswith("<VALUE.INSTANCEWITHPATH>"), text[:60]
    rc, _ = cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=text)
    assert rc == 0 and changed_fields(before, state(x, ref)[0]) == [], "sent back as shown, nothing changes"
    vssd["AutomaticStartupAction"] = pywbem.Uint16(2)
    vssd["HostAffinity"] = x.host.get_uuid(host)
    rc, _ = cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=pywbem.tocimxmlstr(vssd))
    assert rc == 0
    assert changed_fields(before, state(x, ref)[0]) == ["actions_after_reboot", "affinity"]
    assert (x.VM.get_actions_after_reboot(ref), x.VM.get_affinity(ref)) == ("destroy", host)
    again = cim.GetInstance(vssd_path(uuid))
    assert (again["AutomaticStartupAction"], again["HostAffinity"]) == (2, x.host.get_uuid(host))
    # a VALUE.NAMEDINSTANCE works as well
    vssd["AutomaticStartupAction"] = pywbem.Uint16(3)
    vssd.path.host = None
    vssd.path.namespace = None
    text = pywbem.tocimxmlstr(vssd)
    assert text.startswith("<VALUE.NAMEDINSTANCE>"), text[:60]
    rc, _ = cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=text)
    assert rc == 0 and x.VM.get_actions_after_reboot(ref) == "restart"
    x.VM.destroy(ref)


def test_copy_system_clones_and_copies(cim, vsms, x, sr, net):
    ref, uuid = make_vm(x, "res-copy-source", sr)
    before = state(x, ref)
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "res-copy"; Description = "a copy"; };'
    cpu = "instance of Xen_ProcessorSettingData { VirtualQuantity = 3; };"
    rc, out = cim.InvokeMethod("CopySystem", vsms, SourceSystem=vm_path(uuid), SystemSettings=vssd, ResourceSettings=[cpu])
    assert rc == 0
    new = x.VM.get_by_uuid(out["ResultingSystem"]["Name"])
    r = x.VM.get_record(new)
    assert (r["name_label"], r["name_description"], r["VCPUs_max"], r["is_a_template"]) == ("res-copy", "a copy", "3", False)
    [vbd] = x.VM.get_VBDs(new)
    assert x.VBD.get_VDI(vbd) != before[1][0]["VDI"], "a disk of its own"
    assert len(x.VM.get_VIFs(new)) == 1
    after = state(x, ref)
    assert changed_fields(before[0], after[0]) == ["children"], "the source is unchanged but for XenAPI's own bookkeeping"
    assert after[1:3] == before[1:3]
    pool = pywbem.CIMInstanceName("Xen_StoragePool", keybindings={"InstanceID": f"Xen:{sr}"}, namespace=NS)
    rc, out = cim.InvokeMethod("CopySystem", vsms, SourceSystem=vssd_path(uuid), StoragePool=pool,
                               SystemSettings='instance of Xen_ComputerSystemSettingData { ElementName = "res-full-copy"; };')
    assert rc == 0
    full = x.VM.get_by_uuid(out["ResultingSystem"]["Name"])
    [vbd] = x.VM.get_VBDs(full)
    assert x.SR.get_uuid(x.VDI.get_SR(x.VBD.get_VDI(vbd))) == sr
    assert cim.GetInstance(vm_path(out["ResultingSystem"]["Name"]))["ElementName"] == "res-full-copy"


# ---------------------------------------------------------------------------------------------
# Bad input: a defined error, and nothing changed


@pytest.fixture(scope="module")
def victim(x, sr):
    """A halted VM the bad-input tests try to change, and another VM with a disk."""
    ref, uuid = make_vm(x, "res-victim", sr, cd=True)
    other_ref, other_uuid = make_vm(x, "res-other", sr)
    return ref, uuid, other_uuid, x.VBD.get_uuid(x.VM.get_VBDs(other_ref)[0])


BAD_ADD = [
    ("instance of CIM_ResourceAllocationSettingData {{ ResourceType = 10000; }};", "ResourceType 10000"),
    ('instance of Xen_DiskSettingData {{ PoolID = "00000000-0000-0000-0000-00000000dead"; VirtualQuantity = 1024; }};', "is not the uuid of an SR"),
    ('instance of Xen_DiskSettingData {{ PoolID = "{sr}"; VirtualQuantity = 0; }};', "impossible"),
    ('instance of Xen_DiskSettingData {{ PoolID = "{sr}"; VirtualQuantity = 99999999999; AllocationUnits = "GiB"; }};', "impossible"),
    ('instance of Xen_NetworkPortSettingData {{ PoolID = "{net}"; Address = "02:00:00:00:00"; }};', "not a MAC address"),
    ('instance of Xen_NetworkPortSettingData {{ PoolID = "{net}"; Address = "01:00:5e:00:00:01"; }};', "multicast"),
    ('instance of Xen_NetworkPortSettingData {{ PoolID = "00000000-0000-0000-0000-00000000dead"; }};', "is not the uuid of a network"),
    ("instance of Xen_ProcessorSettingData {{ VirtualQuantity = 2; }};", "exactly one processor"),
    ('instance of Xen_DiskSettingData {{ InstanceID = "Xen:{other}/{other_vbd}"; HostExtentName = "x"; }};', "names an existing device"),
]


@pytest.mark.parametrize("rasd, words", BAD_ADD)
def test_bad_add_is_refused_and_changes_nothing(cim, vsms, x, sr, net, victim, rasd, words):
    ref, uuid, other, other_vbd = victim
    before = state(x, ref)
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path(uuid),
                         ResourceSettings=[rasd.format(sr=sr, net=net, other=other, other_vbd=other_vbd)])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    assert words in e.value.status_description
    assert state(x, ref) == before


def test_define_system_checks_the_mac_too(cim, vsms, x, net):
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "res-bad-mac"; VirtualSystemType = "DMTF:Xen:PV"; };'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd,
                         ResourceSettings=[f'instance of Xen_NetworkPortSettingData {{ PoolID = "{net}"; Address = "zz:00:00:00:00:01"; }};'])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER and "not a MAC address" in e.value.status_description
    assert not [r for r in x.VM.get_all_records().values() if r["name_label"] == "res-bad-mac"]


def test_add_without_or_with_an_unknown_configuration(cim, vsms, x, net, victim):
    ref = victim[0]
    before = state(x, ref)
    nic = f'instance of Xen_NetworkPortSettingData {{ PoolID = "{net}"; }};'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("AddResourceSettings", vsms, ResourceSettings=[nic])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER and "AffectedConfiguration" in e.value.status_description
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("AddResourceSettings", vsms, AffectedConfiguration=vssd_path("00000000-0000-0000-0000-000000000000"), ResourceSettings=[nic])
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    assert state(x, ref) == before


BAD_MODIFY = [
    ('instance of Xen_MemorySettingData {{ InstanceID = "Xen:{vm}/Memory"; Limit = 999999; }};', pywbem.CIM_ERR_INVALID_PARAMETER, "MEMORY_CONSTRAINT_VIOLATION"),
    ('instance of Xen_ProcessorSettingData {{ InstanceID = "Xen:{vm}/Processor"; VirtualQuantity = 1000; }};', pywbem.CIM_ERR_INVALID_PARAMETER, "VCPUs"),
    ('instance of Xen_DiskSettingData {{ InstanceID = "Xen:{vm}/{other_vbd}"; Bootable = false; }};', pywbem.CIM_ERR_INVALID_PARAMETER, "belongs to VM"),
    ('instance of Xen_DiskSettingData {{ InstanceID = "Xen:{vm}/00000000-0000-0000-0000-000000000000"; }};', pywbem.CIM_ERR_NOT_FOUND, "no Xen_DiskSettingData"),
    ("instance of Xen_ProcessorSettingData {{ VirtualQuantity = 2; }};", pywbem.CIM_ERR_INVALID_PARAMETER, "without InstanceID"),
    ('instance of CIM_ResourceAllocationSettingData {{ InstanceID = "Xen:{vm}/x"; ResourceType = 10000; }};', pywbem.CIM_ERR_INVALID_PARAMETER, "ResourceType 10000"),
]


@pytest.mark.parametrize("rasd, code, words", BAD_MODIFY)
def test_bad_modify_is_refused_and_changes_nothing(cim, vsms, x, victim, rasd, code, words):
    ref, uuid, other, other_vbd = victim
    before = state(x, ref)
    # The first RASD is valid: it must not be applied either.
    good = f'instance of Xen_ProcessorSettingData {{ InstanceID = "Xen:{uuid}/Processor"; Weight = 999; }};'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("ModifyResourceSettings", vsms, ResourceSettings=[good, rasd.format(vm=uuid, other_vbd=other_vbd)])
    assert e.value.status_code == code
    assert words in e.value.status_description
    assert state(x, ref) == before


def test_bad_remove_and_system_settings_change_nothing(cim, vsms, x, victim):
    ref, uuid, other, other_vbd = victim
    before = state(x, ref)
    for targets, code in [
        ([rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor")], pywbem.CIM_ERR_INVALID_PARAMETER),
        ([rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{other_vbd}")], pywbem.CIM_ERR_INVALID_PARAMETER),
        ([rasd_path("Xen_DiskSettingData", f"Xen:{uuid}/{x.VBD.get_uuid(x.VM.get_VBDs(ref)[0])}"),
          rasd_path("Xen_NetworkPortSettingData", f"Xen:{uuid}/nothing")], pywbem.CIM_ERR_NOT_FOUND),
    ]:
        with pytest.raises(pywbem.CIMError) as e:
            cim.InvokeMethod("RemoveResourceSettings", vsms, ResourceSettings=targets)
        assert e.value.status_code == code, targets
    for vssd, code in [
        (f'instance of Xen_ComputerSystemSettingData {{ InstanceID = "Xen:{uuid}"; ElementName = "x"; VirtualSystemType = "DMTF:Xen:HVM"; }};', pywbem.CIM_ERR_INVALID_PARAMETER),
        (f'instance of Xen_ComputerSystemSettingData {{ InstanceID = "Xen:{uuid}"; HostAffinity = "no-such-host"; }};', pywbem.CIM_ERR_INVALID_PARAMETER),
        ('instance of Xen_ComputerSystemSettingData { ElementName = "x"; };', pywbem.CIM_ERR_INVALID_PARAMETER),
        ('instance of Xen_ComputerSystemSettingData { InstanceID = "Xen:00000000-0000-0000-0000-000000000000"; ElementName = "x"; };', pywbem.CIM_ERR_NOT_FOUND),
    ]:
        with pytest.raises(pywbem.CIMError) as e:
            cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vssd)
        assert e.value.status_code == code, vssd
    with pytest.raises(pywbem.CIMError) as e:
        no_sr = pywbem.CIMInstanceName("Xen_StoragePool", keybindings={"InstanceID": "Xen:no-such-sr"}, namespace=NS)
        cim.InvokeMethod("CopySystem", vsms, SourceSystem=vm_path(uuid), StoragePool=no_sr,
                         SystemSettings='instance of Xen_ComputerSystemSettingData { ElementName = "res-bad-copy"; };')
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER and "no-such-sr" in e.value.status_description
    assert not [r for r in x.VM.get_all_records().values() if r["name_label"] == "res-bad-copy"]
    assert state(x, ref) == before


def test_a_failed_copy_leaves_nothing_behind(cim, vsms, x, sr):
    ref, uuid = make_vm(x, "res-copy-fail-source", sr)
    vdis_before = sorted(r["uuid"] for r in x.VDI.get_all_records().values())
    # The clone has a disk at userdevice 0 already: XenAPI refuses a second one there, after the
    # clone and the new VDI were made.
    clash = f'instance of Xen_DiskSettingData {{ PoolID = "{sr}"; VirtualQuantity = 1; AllocationUnits = "MiB"; AddressOnParent = "0"; }};'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("CopySystem", vsms, SourceSystem=vm_path(uuid), ResourceSettings=[clash],
                         SystemSettings='instance of Xen_ComputerSystemSettingData { ElementName = "res-copy-fail"; };')
    assert e.value.status_code == pywbem.CIM_ERR_FAILED
    assert "XenError:" in e.value.status_description
    assert not [r for r in x.VM.get_all_records().values() if r["name_label"] == "res-copy-fail"]
    assert sorted(r["uuid"] for r in x.VDI.get_all_records().values()) == vdis_before, "the clone's disk and the new one are gone"
