"""The capabilities, the host pool, the profile references, the host devices, CD drives and disk
images through `xencim serve`: each class enumerates and gets by key through pywbem (and
wbemcli), and each association reaches what the XenAPI SDK says it should, on the same server."""
import subprocess

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
INTEROP = "root/interop"


def host_path(uuid):
    return pywbem.CIMInstanceName("Xen_HostComputerSystem", keybindings={"CreationClassName": "Xen_HostComputerSystem", "Name": uuid},
                                  namespace=NS)


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid}, namespace=NS)


def by_id(path_cls, instance_id, ns=NS):
    return pywbem.CIMInstanceName(path_cls, keybindings={"InstanceID": instance_id}, namespace=ns)


def guests(x):
    return sorted(r["uuid"] for r in x.VM.get_all_records().values()
                  if not (r["is_a_template"] or r["is_a_snapshot"] or r["is_control_domain"]))


def gets_back(cim, inst):
    """GetInstance of an enumerated instance's path gives the same instance."""
    got = cim.GetInstance(inst.path)
    assert (got.path.classname, dict(got.path.keybindings)) == (inst.path.classname, dict(inst.path.keybindings))
    assert dict(got.items()) == dict(inst.items()), inst.classname
    return got


@pytest.fixture(scope="module")
def vm(x):
    """A halted VM with a disk on the default SR and an empty CD drive:
    (ref, uuid, disk VBD uuid, CD VBD uuid, VDI uuid, SR uuid)."""
    ref = x.VM.create(cim_env.vm_record("cim-classes"))
    pool = x.pool.get_all()[0]
    sr = x.pool.get_default_SR(pool)
    if sr == "OpaqueRef:NULL":
        sr = next(s for s in x.SR.get_all() if x.SR.get_content_type(s) != "iso")
    vdi = x.VDI.create(dict(SR=sr, virtual_size=str(1 << 30), type="user", sharable=False, read_only=False,
                            other_config={}, name_label="classes-root", name_description="root disk"))
    disk = x.VBD.create(dict(VM=ref, VDI=vdi, userdevice="0", bootable=True, mode="RW", type="Disk", empty=False,
                             other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    cd = x.VBD.create(dict(VM=ref, VDI="OpaqueRef:NULL", userdevice="3", bootable=False, mode="RO", type="CD", empty=True,
                           other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    yield ref, x.VM.get_uuid(ref), x.VBD.get_uuid(disk), x.VBD.get_uuid(cd), x.VDI.get_uuid(vdi), x.SR.get_uuid(sr)
    for v in (disk, cd):
        x.VBD.destroy(v)
    x.VDI.destroy(vdi)
    x.VM.destroy(ref)


def test_vsms_capabilities_one_per_host_with_the_cim_2_41_numbers(cim, x):
    hosts = sorted(x.host.get_uuid(h) for h in x.host.get_all())
    caps = cim.EnumerateInstances("Xen_VirtualSystemManagementCapabilities")
    assert sorted(c["InstanceID"] for c in caps) == [f"Xen:{h}/VirtualSystemManagementCapabilities" for h in hosts]
    c = gets_back(cim, caps[0])
    assert sorted(c["SynchronousMethodsSupported"]) == [2, 3, 5, 6, 7, 10, 32768]
    assert list(c["AsynchronousMethodsSupported"] or []) == []
    assert list(c["IndicationsSupported"]) == [4]
    assert sorted(c["VirtualSystemTypesSupported"]) == ["DMTF:Xen:HVM", "DMTF:Xen:PV"]
    # host -> VSMS capabilities, host -> VSMS (HostedService) -> the same capabilities
    host = host_path(hosts[0])
    [via_host] = cim.AssociatorNames(host, AssocClass="CIM_ElementCapabilities", ResultClass="CIM_VirtualSystemManagementCapabilities")
    assert via_host["InstanceID"] == f"Xen:{hosts[0]}/VirtualSystemManagementCapabilities"
    [service] = cim.AssociatorNames(host, AssocClass="CIM_HostedService", Role="Antecedent")
    assert (service.classname, service["SystemName"]) == ("Xen_VirtualSystemManagementService", hosts[0])
    [via_service] = cim.Associators(service, AssocClass="CIM_ElementCapabilities")
    assert via_service.path["InstanceID"] == f"Xen:{hosts[0]}/VirtualSystemManagementCapabilities"
    back = cim.AssociatorNames(via_host, AssocClass="Xen_ElementCapabilities")
    assert sorted(p.classname for p in back) == ["Xen_HostComputerSystem", "Xen_VirtualSystemManagementService"]
    [ref] = cim.References(service, ResultClass="CIM_HostedService")
    assert ref["Antecedent"]["Name"] == hosts[0]
    assert cim.GetInstance(ref.path)["Dependent"]["Name"] == "Xen Hypervisor"


def test_the_vsms_affects_every_vm(cim, x, vm):
    _, uuid, *_ = vm
    [service] = cim.EnumerateInstanceNames("Xen_VirtualSystemManagementService")
    affected = cim.AssociatorNames(service, AssocClass="CIM_ServiceAffectsElement", ResultRole="AffectedElement")
    assert sorted(p["Name"] for p in affected) == guests(x)
    refs = cim.References(vm_path(uuid), ResultClass="CIM_ServiceAffectsElement")
    assert len(refs) == 1 and list(refs[0]["ElementEffects"]) == [5]


def test_computer_system_capabilities_follow_the_vm(cim, x, vm):
    ref, uuid, *_ = vm
    caps = cim.EnumerateInstances("Xen_ComputerSystemCapabilities")
    # Not Xen:<uuid>, the InstanceID of the VM and of its VSSD.
    assert sorted(c["InstanceID"] for c in caps) == [f"Xen:{u}/ComputerSystemCapabilities" for u in guests(x)]
    [mine] = cim.Associators(vm_path(uuid), AssocClass="CIM_ElementCapabilities", ResultClass="CIM_EnabledLogicalElementCapabilities")
    assert mine.path["InstanceID"] == f"Xen:{uuid}/ComputerSystemCapabilities"
    gets_back(cim, mine)
    # What the class supports, whatever the state; what the VM accepts now is on the VM.
    assert list(mine["RequestedStatesSupported"]) == [2, 3, 4, 6, 9, 10, 11]
    assert list(cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"]) == [2], "a halted VM can only be started"
    assert mine["ElementName"] == "cim-classes"
    x.VM.start(ref, True, False)
    try:
        now = cim.GetInstance(mine.path)
        assert list(now["RequestedStatesSupported"]) == [2, 3, 4, 6, 9, 10, 11]
        assert sorted(cim.GetInstance(vm_path(uuid))["AvailableRequestedStates"]) == [2, 3, 11], "paused"
    finally:
        x.VM.hard_shutdown(ref)
    [back] = cim.AssociatorNames(mine.path, AssocClass="CIM_ElementCapabilities")
    assert back["Name"] == uuid


@pytest.mark.parametrize("pool_class, caps_class, source, resource_type", [
    ("Xen_ProcessorPool", "Xen_ProcessorAllocationCapabilities", "host", 3),
    ("Xen_MemoryPool", "Xen_MemoryAllocationCapabilities", "host", 4),
    ("Xen_StoragePool", "Xen_StorageAllocationCapabilities", "SR", None),
    ("Xen_NetworkConnectionPool", "Xen_NetworkConnectionAllocationCapabilities", "network", 33),
])
def test_each_pool_has_its_allocation_capabilities(cim, x, pool_class, caps_class, source, resource_type):
    uuids = sorted(getattr(x, source).get_uuid(r) for r in getattr(x, source).get_all())
    caps = cim.EnumerateInstances(caps_class)
    assert len(caps) == len(uuids)
    for pool in cim.EnumerateInstances(pool_class):
        [c] = cim.Associators(pool.path, AssocClass="CIM_ElementCapabilities", ResultClass="CIM_AllocationCapabilities")
        assert c.classname == caps_class
        assert c["ResourceType"] == pool["ResourceType"]
        if resource_type is not None:
            assert c["ResourceType"] == resource_type
        assert c["SharingMode"] in (2, 3) and c["RequestTypesSupported"] in (2, 3)
        assert c.path["InstanceID"].startswith(f"Xen:{pool['PoolID']}/")
        gets_back(cim, c)
        [back] = cim.AssociatorNames(c.path, AssocClass="CIM_ElementCapabilities")
        assert back["InstanceID"] == pool["InstanceID"]
        [profile] = cim.AssociatorNames(c.path, AssocClass="CIM_ElementConformsToProfile")
        assert (profile.namespace, profile["InstanceID"]) == (INTEROP, "Xen:DSP1043")
    assert sorted(c["InstanceID"].split("/")[0][len("Xen:"):] for c in caps) == uuids


def test_host_pool_and_its_members(cim, x):
    pools = cim.EnumerateInstances("Xen_HostPool")
    sdk = x.pool.get_all_records()
    assert sorted(p["InstanceID"] for p in pools) == sorted(f"Xen:{r['uuid']}" for r in sdk.values())
    p = gets_back(cim, pools[0])
    rec = next(r for r in sdk.values() if f"Xen:{r['uuid']}" == p["InstanceID"])
    assert p["Master"] == x.host.get_uuid(rec["master"])
    if rec["default_SR"] != "OpaqueRef:NULL":
        assert p["DefaultStoragePoolID"] == x.SR.get_uuid(rec["default_SR"])
    assert p["ElementName"] == rec["name_label"]
    members = cim.AssociatorNames(p.path, AssocClass="CIM_MemberOfCollection", Role="Collection")
    assert sorted(m["Name"] for m in members) == sorted(x.host.get_uuid(h) for h in x.host.get_all())
    up = cim.AssociatorNames(members[0], AssocClass="CIM_MemberOfCollection")
    assert [u["InstanceID"] for u in up] == [p["InstanceID"]]


def test_dsp1042_references_the_component_profiles(cim):
    profiles = {p["RegisteredName"]: p for p in cim.EnumerateInstances("CIM_RegisteredProfile", namespace=INTEROP)}
    sv = profiles["System Virtualization"]
    refs = cim.References(sv.path, ResultClass="CIM_ReferencedProfile", Role="Dependent")
    named = sorted(cim.GetInstance(r["Antecedent"])["RegisteredName"] for r in refs)
    assert named == sorted(n for n in profiles if n != "System Virtualization")
    assert all(r.path.namespace == INTEROP for r in refs)
    vs = profiles["Virtual System Profile"]
    assert [p["InstanceID"] for p in cim.AssociatorNames(vs.path, AssocClass="CIM_ReferencedProfile")] == [sv["InstanceID"]]
    dsp1043 = profiles["Allocation Capabilities"]
    central = cim.AssociatorNames(dsp1043.path, AssocClass="CIM_ElementConformsToProfile")
    kinds = ("Processor", "Memory", "Storage", "NetworkConnection")
    assert sorted(p.classname for p in central) == sorted(
        p.classname for k in kinds for p in cim.EnumerateInstanceNames(f"Xen_{k}AllocationCapabilities"))
    every = cim.EnumerateInstances("Xen_ReferencedProfile", namespace=INTEROP)
    assert len(every) == len(profiles) - 1
    assert cim.GetInstance(every[0].path)["Dependent"]["InstanceID"] == sv["InstanceID"]


def test_host_devices_and_the_pools_they_make(cim, x):
    [h] = x.host.get_all()[:1]
    host_uuid = x.host.get_uuid(h)
    cpus = x.host.get_host_CPUs(h)
    procs = [p for p in cim.EnumerateInstances("Xen_HostProcessor") if p["SystemName"] == host_uuid]
    assert sorted(p["DeviceID"] for p in procs) == sorted(f"Xen:{host_uuid}/{x.host_cpu.get_uuid(c)}" for c in cpus)
    assert procs[0]["CurrentClockSpeed"] == int(x.host_cpu.get_speed(cpus[0]))
    gets_back(cim, procs[0])
    [mem] = [m for m in cim.EnumerateInstances("Xen_HostMemory") if m["SystemName"] == host_uuid]
    assert mem["NumberOfBlocks"] == int(x.host_metrics.get_memory_total(x.host.get_metrics(h)))
    gets_back(cim, mem)
    pifs = {x.PIF.get_uuid(p): x.PIF.get_record(p) for p in x.host.get_PIFs(h)}
    ports = [p for p in cim.EnumerateInstances("Xen_HostNetworkPort") if p["SystemName"] == host_uuid]
    assert sorted(p["DeviceID"] for p in ports) == sorted(f"Xen:{host_uuid}/{u}" for u in pifs)
    for port in ports:
        rec = pifs[port["DeviceID"].rsplit("/", 1)[1]]
        assert port["Name"] == rec["device"]
        assert port["PermanentAddress"] == rec["MAC"].replace(":", "").upper()
    gets_back(cim, ports[0])
    # host -> its devices; each device -> the host
    devices = cim.AssociatorNames(host_path(host_uuid), AssocClass="CIM_SystemDevice", ResultRole="PartComponent")
    assert sorted(d.classname for d in devices) == sorted(["Xen_HostProcessor"] * len(cpus) + ["Xen_HostMemory"] + ["Xen_HostNetworkPort"] * len(pifs))
    assert [p["Name"] for p in cim.AssociatorNames(ports[0].path, AssocClass="CIM_SystemDevice")] == [host_uuid]
    # pool -> its members (ConcreteComponent), and back
    cpu_pool = by_id("Xen_ProcessorPool", f"Xen:{host_uuid}/ProcessorPool")
    members = cim.AssociatorNames(cpu_pool, AssocClass="CIM_ConcreteComponent", Role="GroupComponent")
    assert sorted(m["DeviceID"] for m in members) == sorted(p["DeviceID"] for p in procs)
    net = pifs[ports[0]["DeviceID"].rsplit("/", 1)[1]]["network"]
    [up] = cim.AssociatorNames(ports[0].path, AssocClass="CIM_ConcreteComponent")
    assert up["InstanceID"] == f"Xen:{x.network.get_uuid(net)}"
    assert ports[0]["DeviceID"] in [m["DeviceID"] for m in cim.AssociatorNames(up, AssocClass="CIM_ConcreteComponent")]


def test_cd_drives_and_disk_images_follow_vbd_and_vdi(cim, x, vm):
    _, uuid, disk_vbd, cd_vbd, vdi_uuid, sr_uuid = vm
    drives = [d for d in cim.EnumerateInstances("Xen_DiskDrive") if d["SystemName"] == uuid]
    assert [d["DeviceID"] for d in drives] == [f"Xen:{uuid}/{cd_vbd}"]
    gets_back(cim, drives[0])
    disks = [d["DeviceID"] for d in cim.EnumerateInstances("Xen_Disk") if d["SystemName"] == uuid]
    assert disks == [f"Xen:{uuid}/{disk_vbd}"], "the CD drive is not a Xen_Disk"
    kinds = sorted(p.classname for p in cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_SystemDevice"))
    assert kinds == ["Xen_Disk", "Xen_DiskDrive", "Xen_Memory", "Xen_Processor"]
    # Every VDI is an image in its SR.
    images = cim.EnumerateInstances("Xen_DiskImage")
    assert sorted(i["Name"] for i in images) == sorted(x.VDI.get_uuid(v) for v in x.VDI.get_all())
    path = pywbem.CIMInstanceName("Xen_DiskImage", keybindings={"SystemCreationClassName": "Xen_StoragePool", "SystemName": sr_uuid,
                                                                "CreationClassName": "Xen_DiskImage", "DeviceID": f"Xen:{sr_uuid}/{vdi_uuid}"},
                                  namespace=NS)
    image = cim.GetInstance(path)
    assert (image["NumberOfBlocks"], image["ElementName"], image["Access"]) == (1 << 30, "classes-root", 3)
    # Xen_Disk is based on the image; the storage pool is made of its images.
    disk = pywbem.CIMInstanceName("Xen_Disk", keybindings={"SystemCreationClassName": "Xen_ComputerSystem", "SystemName": uuid,
                                                           "CreationClassName": "Xen_Disk", "DeviceID": f"Xen:{uuid}/{disk_vbd}"}, namespace=NS)
    [under] = cim.AssociatorNames(disk, AssocClass="CIM_BasedOn", Role="Dependent")
    assert under["DeviceID"] == image["DeviceID"]
    assert [d["DeviceID"] for d in cim.AssociatorNames(path, AssocClass="CIM_BasedOn")] == [disk["DeviceID"]]
    storage = by_id("Xen_StoragePool", f"Xen:{sr_uuid}")
    parts = cim.AssociatorNames(storage, AssocClass="CIM_ConcreteComponent", ResultClass="CIM_StorageExtent")
    assert image["DeviceID"] in [p["DeviceID"] for p in parts]
    assert [p["InstanceID"] for p in cim.AssociatorNames(path, AssocClass="CIM_ConcreteComponent")] == [f"Xen:{sr_uuid}"]
    with pytest.raises(pywbem.CIMError) as e:
        cim.GetInstance(pywbem.CIMInstanceName("Xen_DiskImage", keybindings=dict(path.keybindings, SystemName="no-such-sr"), namespace=NS))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_unknown_keys_are_not_found(cim):
    for cls in ("Xen_VirtualSystemManagementCapabilities", "Xen_ComputerSystemCapabilities", "Xen_MemoryAllocationCapabilities", "Xen_HostPool"):
        with pytest.raises(pywbem.CIMError) as e:
            cim.GetInstance(by_id(cls, "Xen:00000000-0000-0000-0000-000000000000"))
        assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND, cls


def test_wbemcli_sees_the_same_classes(srv, x):
    url = f"http://root:{cim_env.PASSWORD}@127.0.0.1:{srv.cim_port}/root/cimv2"
    r = subprocess.run(["wbemcli", "ein", f"{url}:Xen_HostProcessor"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for c in x.host_cpu.get_all():
        assert x.host_cpu.get_uuid(c) in r.stdout
    r = subprocess.run(["wbemcli", "ei", f"{url}:Xen_VirtualSystemManagementCapabilities"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "SynchronousMethodsSupported=2,3,5,6,7,10,32768" in r.stdout.replace(" ", "")
