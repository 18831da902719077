"""DSP1033/DSP1057 discovery through `xencim serve`: a CIM client starts from the registered
profiles in root/interop and follows associations to every VM (made through the XenAPI SDK and
given a disk and a NIC), its settings (VSSD) and its devices; pywbem and wbemcli both."""
import subprocess

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

INTEROP = "root/interop"
CIMV2 = "root/cimv2"


def storage_sr(x):
    pool = x.pool.get_all()[0]
    sr = x.pool.get_default_SR(pool)
    if sr != "OpaqueRef:NULL":
        return sr
    return next(s for s in x.SR.get_all() if x.SR.get_content_type(s) != "iso")


@pytest.fixture(scope="module")
def vm(x):
    """A running VM with 2 vCPUs, one disk and one NIC:
    (ref, uuid, vbd uuid, vif uuid, MAC, SR uuid, network uuid)."""
    rec = cim_env.vm_record("cim-discovery")
    rec["VCPUs_max"] = "2"
    ref = x.VM.create(rec)
    sr = storage_sr(x)
    vdi = x.VDI.create(dict(SR=sr, virtual_size=str(1 << 30), type="user", sharable=False, read_only=False,
                            other_config={}, name_label="discovery-root", name_description=""))
    vbd = x.VBD.create(dict(VM=ref, VDI=vdi, userdevice="0", bootable=True, mode="RW", type="Disk", empty=False,
                            other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    net = x.network.get_all()[0]
    vif = x.VIF.create(dict(device="0", network=net, VM=ref, MAC="", MTU="1500", other_config={},
                            qos_algorithm_type="", qos_algorithm_params={}))
    x.VM.start(ref, False, False)
    yield ref, x.VM.get_uuid(ref), x.VBD.get_uuid(vbd), x.VIF.get_uuid(vif), x.VIF.get_MAC(vif), x.SR.get_uuid(sr), x.network.get_uuid(net)
    x.VM.hard_shutdown(ref)
    x.VM.destroy(ref)


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace=CIMV2)


def profile(cim, name):
    found = [p for p in cim.EnumerateInstances("CIM_RegisteredProfile", namespace=INTEROP) if p["RegisteredName"] == name]
    assert len(found) == 1, name
    return found[0]


def test_profiles_are_registered_in_interop(cim):
    profiles = {p["RegisteredName"]: p for p in cim.EnumerateInstances("CIM_RegisteredProfile", namespace=INTEROP)}
    expected = {
        "System Virtualization": "1.0.0", "Virtual System Profile": "1.0.0", "Resource Allocation": "1.1.0",
        "Allocation Capabilities": "1.0.0", "Processor Resource Virtualization": "1.0.0",
        "Memory Resource Virtualization": "1.0.0", "Storage Resource Virtualization": "1.0.0",
        "Ethernet Port Resource Virtualization": "1.0.0",
    }
    for name, version in expected.items():
        assert name in profiles, name
        assert profiles[name]["RegisteredVersion"] == version
        assert profiles[name]["RegisteredOrganization"] == 2
        assert profiles[name].classname == "Xen_RegisteredProfile"


def test_dsp1057_walk_from_the_profile_to_vm_settings_and_devices(cim, x, vm):
    _, uuid, vbd_uuid, vif_uuid, mac, _, _ = vm
    vs = profile(cim, "Virtual System Profile")
    # RegisteredProfile -> ElementConformsToProfile -> Xen_ComputerSystem (root/cimv2)
    central = cim.AssociatorNames(vs.path, AssocClass="CIM_ElementConformsToProfile", ResultRole="ManagedElement")
    systems = [p for p in central if p.classname == "Xen_ComputerSystem"]
    assert uuid in [p["Name"] for p in systems]
    expected = sorted(r["uuid"] for r in x.VM.get_all_records().values()
                      if not (r["is_a_template"] or r["is_a_snapshot"] or r["is_control_domain"]))
    assert sorted(p["Name"] for p in systems) == expected, "every VM, nothing else"
    mine = next(p for p in systems if p["Name"] == uuid)
    assert mine.namespace == CIMV2
    refs = cim.References(vs.path, ResultClass="CIM_ElementConformsToProfile", Role="ConformantStandard")
    assert sorted(r["ManagedElement"]["Name"] for r in refs) == expected
    cs = cim.GetInstance(mine)
    assert cs["ElementName"] == "cim-discovery"
    # Associators across namespaces returns the instances themselves, from their own namespace.
    whole = cim.Associators(vs.path, AssocClass="CIM_ElementConformsToProfile", ResultClass="CIM_ComputerSystem")
    mine_whole = [i for i in whole if i.classname == "Xen_ComputerSystem" and i["Name"] == uuid]
    assert len(mine_whole) == 1 and mine_whole[0]["ElementName"] == "cim-discovery"
    assert mine_whole[0].path.namespace == CIMV2
    # Xen_ComputerSystem -> SettingsDefineState -> VSSD
    settings = cim.Associators(mine, AssocClass="CIM_SettingsDefineState", ResultClass="CIM_VirtualSystemSettingData")
    assert [s["InstanceID"] for s in settings] == [f"Xen:{uuid}"]
    assert settings[0]["VirtualSystemIdentifier"] == uuid
    # VSSD -> VirtualSystemSettingDataComponent -> RASDs: processor, memory, the disk and the NIC.
    rasds = cim.Associators(settings[0].path, AssocClass="CIM_VirtualSystemSettingDataComponent", ResultRole="PartComponent")
    by_id = {r["InstanceID"]: r for r in rasds}
    assert sorted(by_id) == sorted([f"Xen:{uuid}/Processor", f"Xen:{uuid}/Memory", f"Xen:{uuid}/{vbd_uuid}", f"Xen:{uuid}/{vif_uuid}"])
    assert by_id[f"Xen:{uuid}/Processor"]["VirtualQuantity"] == 2
    assert (by_id[f"Xen:{uuid}/{vbd_uuid}"]["ResourceType"], by_id[f"Xen:{uuid}/{vbd_uuid}"]["VirtualQuantity"]) == (19, 1 << 30)
    assert by_id[f"Xen:{uuid}/{vif_uuid}"]["Address"] == mac
    up = cim.AssociatorNames(rasds[0].path, AssocClass="CIM_VirtualSystemSettingDataComponent")
    assert [p["InstanceID"] for p in up] == [f"Xen:{uuid}"]
    esd = cim.References(mine, ResultClass="CIM_ElementSettingData")
    assert len(esd) == 1 and esd[0]["IsDefault"] == esd[0]["IsCurrent"] == esd[0]["IsNext"] == 1 and esd[0]["SettingData"]["InstanceID"] == f"Xen:{uuid}"
    # Xen_ComputerSystem -> SystemDevice -> devices
    devices = cim.Associators(mine, AssocClass="CIM_SystemDevice", Role="GroupComponent", ResultRole="PartComponent")
    by_class = {}
    for d in devices:
        by_class.setdefault(d.classname, []).append(d)
        assert d["SystemName"] == uuid
    assert sorted(p["DeviceID"] for p in by_class["Xen_Processor"]) == [f"Xen:{uuid}/VCPU0", f"Xen:{uuid}/VCPU1"]
    assert [m["NumberOfBlocks"] for m in by_class["Xen_Memory"]] == [1 << 30]
    [disk] = by_class["Xen_Disk"]
    assert disk["DeviceID"] == f"Xen:{uuid}/{vbd_uuid}"
    assert disk["NumberOfBlocks"] == 1 << 30 and disk["ElementName"] == "discovery-root"
    [port] = by_class["Xen_NetworkPort"]
    assert port["DeviceID"] == f"Xen:{uuid}/{vif_uuid}"
    assert port["PermanentAddress"] == mac.replace(":", "").upper()
    # ResultClass and Role narrow the answer; a wrong Role gives nothing.
    storage = cim.AssociatorNames(mine, AssocClass="CIM_SystemDevice", ResultClass="CIM_StorageExtent")
    assert sorted(p.classname for p in storage) == ["Xen_Disk", "Xen_Memory"]
    assert cim.AssociatorNames(mine, AssocClass="CIM_SystemDevice", Role="PartComponent") == []
    # And back: device -> VM, VM -> profile (root/interop).
    back = cim.AssociatorNames(disk.path, AssocClass="CIM_SystemDevice")
    assert [(p.classname, p["Name"]) for p in back] == [("Xen_ComputerSystem", uuid)]
    assert cim.GetInstance(disk.path)["DeviceID"] == disk["DeviceID"]
    prof = cim.AssociatorNames(mine, AssocClass="CIM_ElementConformsToProfile")
    assert [(p.namespace, p["InstanceID"]) for p in prof] == [(INTEROP, vs["InstanceID"])]


def test_dsp1042_host_conforms_and_hosts_running_vms(cim, x, vm):
    ref, uuid, *_ = vm
    sv = profile(cim, "System Virtualization")
    hosts = cim.AssociatorNames(sv.path, AssocClass="CIM_ElementConformsToProfile")
    assert sorted(h["Name"] for h in hosts) == sorted(x.host.get_uuid(h) for h in x.host.get_all())
    host_uuid = x.host.get_uuid(x.VM.get_resident_on(ref))
    host = next(h for h in hosts if h["Name"] == host_uuid)
    assert host.classname == "Xen_HostComputerSystem"
    guests = cim.Associators(host, AssocClass="CIM_HostedDependency", ResultClass="CIM_ComputerSystem")
    assert uuid in [g["Name"] for g in guests]
    assert all(g.classname == "Xen_ComputerSystem" for g in guests), "dom0 is not a guest"
    up = cim.AssociatorNames(vm_path(uuid), AssocClass="Xen_HostedComputerSystem", ResultRole="Antecedent")
    assert [p["Name"] for p in up] == [host_uuid]
    refs = cim.ReferenceNames(vm_path(uuid), ResultClass="CIM_HostedDependency", Role="Dependent")
    assert len(refs) == 1 and refs[0]["Antecedent"]["Name"] == host_uuid


def test_halted_vm_is_hosted_and_its_rasds_name_the_pools_it_would_use(cim, x):
    """DSP1042/DSP1057: a defined but inactive VM is hosted too: by the host it would start on
    (its affinity, else the only host or the pool master), which the XenAPI SDK names."""
    ref = x.VM.create(cim_env.vm_record("cim-discovery-halted"))
    uuid = x.VM.get_uuid(ref)
    try:
        assert x.VM.get_power_state(ref) == "Halted" and x.VM.get_resident_on(ref) == "OpaqueRef:NULL"
        hosts = x.host.get_all()
        expected = hosts[0] if len(hosts) == 1 else x.pool.get_master(x.pool.get_all()[0])
        host_uuid = x.host.get_uuid(expected)
        up = cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_HostedDependency", ResultRole="Antecedent")
        assert [(p.classname, p["Name"]) for p in up] == [("Xen_HostComputerSystem", host_uuid)]
        host = pywbem.CIMInstanceName("Xen_HostComputerSystem", keybindings={"CreationClassName": "Xen_HostComputerSystem", "Name": host_uuid},
                                      namespace=CIMV2)
        assert uuid in [p["Name"] for p in cim.AssociatorNames(host, AssocClass="Xen_HostedComputerSystem", ResultClass="Xen_ComputerSystem")]
        assert cim.GetInstance(vm_path(uuid))["Host"] == host_uuid
        # its processor and memory RASDs allocate from that host's pools ...
        for kind, pool in (("Processor", "Xen_ProcessorPool"), ("Memory", "Xen_MemoryPool")):
            rasd = pywbem.CIMInstanceName(f"Xen_{kind}SettingData", keybindings={"InstanceID": f"Xen:{uuid}/{kind}"}, namespace=CIMV2)
            assert cim.GetInstance(rasd)["PoolID"] == host_uuid
            pools = cim.AssociatorNames(rasd, AssocClass="CIM_ResourceAllocationFromPool")
            assert [(p.classname, p["InstanceID"]) for p in pools] == [(pool, f"Xen:{host_uuid}/{pool[4:]}")]
        # ... but its devices are not allocated while it is halted
        assert len(cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_SettingsDefineState")) == 1
        kinds = sorted(p.classname for p in cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_SystemDevice"))
        assert kinds == ["Xen_Memory", "Xen_Processor"]
        memory = cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_SystemDevice", ResultClass="Xen_Memory")[0]
        assert cim.AssociatorNames(memory, AssocClass="CIM_ElementAllocatedFromPool") == []
    finally:
        x.VM.destroy(ref)


def test_pools_of_the_host_and_the_devices_allocated_from_them(cim, x, vm):
    ref, uuid, vbd_uuid, vif_uuid, _, sr_uuid, net_uuid = vm
    srs = sorted(x.SR.get_uuid(s) for s in x.SR.get_all())
    assert sorted(p["PoolID"] for p in cim.EnumerateInstances("Xen_StoragePool")) == srs
    storage = cim.GetInstance(pywbem.CIMInstanceName("Xen_StoragePool", keybindings={"InstanceID": f"Xen:{sr_uuid}"}, namespace=CIMV2))
    assert storage["Primordial"] is True and storage["ResourceType"] in (16, 19)
    host_uuid = x.host.get_uuid(x.VM.get_resident_on(ref))
    host = pywbem.CIMInstanceName("Xen_HostComputerSystem", keybindings={"CreationClassName": "Xen_HostComputerSystem", "Name": host_uuid},
                                  namespace=CIMV2)
    pools = cim.Associators(host, AssocClass="CIM_HostedResourcePool", ResultClass="CIM_ResourcePool")
    ids = {(p.classname, p["PoolID"]) for p in pools}
    assert {("Xen_ProcessorPool", host_uuid), ("Xen_MemoryPool", host_uuid)} <= ids
    assert ("Xen_StoragePool", sr_uuid) in ids, "the host has a PBD for the SR"
    cpu = next(p for p in pools if p.classname == "Xen_ProcessorPool")
    assert cpu["Capacity"] == len(x.host.get_host_CPUs(x.VM.get_resident_on(ref)))
    # device -> pool, following VBD -> VDI -> SR and VIF -> network
    disk = pywbem.CIMInstanceName("Xen_Disk", keybindings={"SystemCreationClassName": "Xen_ComputerSystem", "SystemName": uuid,
                                                           "CreationClassName": "Xen_Disk", "DeviceID": f"Xen:{uuid}/{vbd_uuid}"}, namespace=CIMV2)
    up = cim.Associators(disk, AssocClass="CIM_ElementAllocatedFromPool", ResultRole="Antecedent")
    assert [(p.classname, p["PoolID"]) for p in up] == [("Xen_StoragePool", sr_uuid)]
    port = pywbem.CIMInstanceName("Xen_NetworkPort", keybindings={"SystemCreationClassName": "Xen_ComputerSystem", "SystemName": uuid,
                                                                  "CreationClassName": "Xen_NetworkPort", "DeviceID": f"Xen:{uuid}/{vif_uuid}"},
                                  namespace=CIMV2)
    up = cim.AssociatorNames(port, AssocClass="CIM_ElementAllocatedFromPool")
    assert [p["InstanceID"] for p in up] == [f"Xen:{net_uuid}"]
    # and pool -> devices
    down = cim.AssociatorNames(up[0], AssocClass="CIM_ElementAllocatedFromPool", Role="Antecedent")
    assert f"Xen:{uuid}/{vif_uuid}" in [p["DeviceID"] for p in down]
    down = cim.AssociatorNames(storage.path, AssocClass="CIM_ElementAllocatedFromPool", ResultClass="CIM_LogicalDisk")
    assert f"Xen:{uuid}/{vbd_uuid}" in [p["DeviceID"] for p in down]
    vcpus = cim.AssociatorNames(cpu.path, AssocClass="CIM_ElementAllocatedFromPool")
    assert {f"Xen:{uuid}/VCPU0", f"Xen:{uuid}/VCPU1"} <= {p["DeviceID"] for p in vcpus}
    # The resource profiles name the pools as their central instances, and back.
    central = cim.AssociatorNames(profile(cim, "Storage Resource Virtualization").path, AssocClass="CIM_ElementConformsToProfile")
    assert sorted(p["InstanceID"] for p in central) == sorted(f"Xen:{u}" for u in srs)
    names = {p["InstanceID"] for p in cim.AssociatorNames(storage.path, AssocClass="CIM_ElementConformsToProfile")}
    assert names == {profile(cim, "Resource Allocation")["InstanceID"], profile(cim, "Storage Resource Virtualization")["InstanceID"]}


def wbemcli(srv, op, path, *opts):
    url = f"http://root:{cim_env.PASSWORD}@127.0.0.1:{srv.cim_port}/root/cimv2:{path}"
    r = subprocess.run(["wbemcli", op, *opts, url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_wbemcli_follows_the_same_associations(srv, vm):
    _, uuid, vbd_uuid, vif_uuid, *_ = vm
    cs = f'Xen_ComputerSystem.CreationClassName="Xen_ComputerSystem",Name="{uuid}"'
    out = wbemcli(srv, "ain", cs, "-ac", "Xen_SystemDevice")
    assert f"Xen:{uuid}/{vbd_uuid}" in out and f"Xen:{uuid}/{vif_uuid}" in out and f"Xen:{uuid}/Memory" in out
    out = wbemcli(srv, "ai", cs, "-ac", "Xen_ComputerSystemSettingsDefineState")
    assert f"VirtualSystemIdentifier=\"{uuid}\"" in out
    out = wbemcli(srv, "rin", cs, "-arc", "Xen_SystemDevice")
    assert out.count("Xen_SystemDevice") >= 5, out
    out = wbemcli(srv, "ri", cs, "-arc", "Xen_ComputerSystemElementSettingData")
    assert "IsDefault=1" in out.replace(" ", "") and "IsNext=1" in out.replace(" ", "")



def test_wbemcli_reaches_the_capabilities_setting_data(srv, x):
    h = x.host.get_uuid(x.host.get_all()[0])
    caps = f'Xen_MemoryAllocationCapabilities.InstanceID="Xen:{h}/MemoryAllocationCapabilities"'
    out = wbemcli(srv, "ain", caps, "-ac", "Xen_SettingsDefineCapabilities")
    assert sorted(b for b in ("Minimum", "Maximum", "Increment", "Default") if f"Xen:{h}/Memory{b}" in out) == ["Default", "Increment", "Maximum", "Minimum"], out
    out = wbemcli(srv, "ri", caps, "-arc", "Xen_SettingsDefineCapabilities").replace(" ", "")
    assert out.count("ValueRole=3") == 3 and out.count("ValueRole=0") == 1, out


def test_pool_units_match_their_rasds_and_processor_reserved_counts_running_vcpus(cim, x, vm):
    ref, uuid, vbd_uuid, _, _, sr_uuid, _ = vm
    host = x.VM.get_resident_on(ref)
    h = x.host.get_uuid(host)
    def get(cls, iid):
        return cim.GetInstance(pywbem.CIMInstanceName(cls, keybindings={"InstanceID": iid}, namespace=CIMV2))
    cpu, mem, sr = get("Xen_ProcessorPool", f"Xen:{h}/ProcessorPool"), get("Xen_MemoryPool", f"Xen:{h}/MemoryPool"), get("Xen_StoragePool", f"Xen:{sr_uuid}")
    assert cpu["AllocationUnits"] == get("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor")["AllocationUnits"] == "count"
    assert mem["AllocationUnits"] == get("Xen_MemorySettingData", f"Xen:{uuid}/Memory")["AllocationUnits"] == "byte*2^20"
    assert sr["AllocationUnits"] == get("Xen_DiskSettingData", f"Xen:{uuid}/{vbd_uuid}")["AllocationUnits"] == "byte"
    metrics = x.host_metrics.get_record(x.host.get_metrics(host))
    assert mem["Capacity"] == int(metrics["memory_total"]) >> 20
    # Reserved: the vCPUs the guests resident on the host have now, as the XenAPI SDK counts them
    running = 0
    for r in x.VM.get_all_records().values():
        if r["resident_on"] == host and not r["is_control_domain"]:
            now = int(x.VM_metrics.get_VCPUs_number(r["metrics"])) if r["metrics"] != "OpaqueRef:NULL" else 0
            running += now or int(r["VCPUs_at_startup"])
    assert running >= 1, "the module's VM runs"
    assert cpu["Reserved"] == running
    # a guest started with 2 vCPUs reserves 2 more; halted, it reserves none
    rec = cim_env.vm_record("cim-discovery-reserve")
    rec["VCPUs_max"] = rec["VCPUs_at_startup"] = "2"
    other = x.VM.create(rec)
    try:
        x.VM.start_on(other, host, False, False)
        assert get("Xen_ProcessorPool", f"Xen:{h}/ProcessorPool")["Reserved"] == running + 2
        x.VM.hard_shutdown(other)
        assert get("Xen_ProcessorPool", f"Xen:{h}/ProcessorPool")["Reserved"] == running
    finally:
        x.VM.destroy(other)
