"""DefineSystem / DestroySystem through Xen_VirtualSystemManagementService, and
Xen_SystemStateChangeJob driven to its end, checked with the XenAPI SDK."""
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"


@pytest.fixture(scope="module")
def vsms(cim):
    names = cim.EnumerateInstanceNames("Xen_VirtualSystemManagementService")
    assert len(names) == 1, "one service per host"
    return names[0]


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace=NS)


def rasd_path(cls, instance_id):
    return pywbem.CIMInstanceName(cls, keybindings={"InstanceID": instance_id}, namespace=NS)


def vms_named(x, name):
    return [r for r in x.VM.get_all_records().values() if r["name_label"] == name]


def test_service_instance(cim, vsms, x):
    inst = cim.GetInstance(vsms)
    assert inst["Name"] == "Xen Hypervisor"
    assert inst["SystemName"] in [x.host.get_uuid(h) for h in x.host.get_all()]
    assert inst["Started"] is True


def test_define_pv_system_from_mof_text_then_destroy_it(cim, vsms, x):
    vssd = ('instance of Xen_ComputerSystemSettingData { ElementName = "cim-pv"; Description = "from MOF"; '
            'VirtualSystemType = "DMTF:xen:PV"; PV_Args = "console=hvc0"; };')
    rasds = ["instance of Xen_ProcessorSettingData { ResourceType = 3; VirtualQuantity = 4; Reservation = 2; Weight = 256; };",
             'instance of Xen_MemorySettingData { ResourceType = 4; VirtualQuantity = 1; AllocationUnits = "GiB"; };']
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=rasds)
    assert rc == 0
    uuid = out["ResultingSystem"]["Name"]
    vm = x.VM.get_by_uuid(uuid)
    r = x.VM.get_record(vm)
    assert (r["name_label"], r["name_description"], r["is_a_template"]) == ("cim-pv", "from MOF", False)
    assert (r["VCPUs_max"], r["VCPUs_at_startup"], r["VCPUs_params"].get("weight")) == ("4", "2", "256")
    assert r["memory_static_max"] == str(1 << 30)
    assert r["memory_dynamic_min"] == r["memory_static_min"] == str(1 << 30)
    assert (r["PV_bootloader"], r["PV_args"], r["HVM_boot_policy"]) == ("pygrub", "console=hvc0", "")
    assert cim.GetInstance(vm_path(uuid))["EnabledState"] == 3
    cpu = cim.GetInstance(rasd_path("Xen_ProcessorSettingData", f"Xen:{uuid}/Processor"))
    assert (cpu["VirtualQuantity"], cpu["Reservation"], cpu["Weight"], cpu["ResourceType"]) == (4, 2, 256, 3)
    mem = cim.GetInstance(rasd_path("Xen_MemorySettingData", f"Xen:{uuid}/Memory"))
    assert (mem["VirtualQuantity"], mem["AllocationUnits"], mem["ResourceType"]) == (1024, "byte*2^20", 4)
    assert f"Xen:{uuid}/Memory" in [p["InstanceID"] for p in cim.EnumerateInstanceNames("Xen_MemorySettingData")]

    rc, _ = cim.InvokeMethod("DestroySystem", vsms, AffectedSystem=vm_path(uuid))
    assert rc == 0
    assert not vms_named(x, "cim-pv")
    with pytest.raises(pywbem.CIMError) as e:
        cim.GetInstance(vm_path(uuid))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_define_hvm_system_from_embedded_instances(cim, vsms, x):
    vssd = pywbem.CIMInstance("Xen_ComputerSystemSettingData", properties={
        "ElementName": "cim-hvm", "VirtualSystemType": "DMTF:Xen:HVM", "HVM_Boot_Params": ["order=cd"]})
    mem = pywbem.CIMInstance("Xen_MemorySettingData", properties={
        "ResourceType": pywbem.Uint16(4), "VirtualQuantity": pywbem.Uint64(512), "AllocationUnits": "byte*2^20"})
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[mem])
    assert rc == 0
    r = x.VM.get_record(x.VM.get_by_uuid(out["ResultingSystem"]["Name"]))
    assert (r["HVM_boot_policy"], r["HVM_boot_params"]) == ("BIOS order", {"order": "cd"})
    assert r["memory_static_max"] == str(512 << 20)
    assert r["VCPUs_max"] == "1"


def test_define_from_template(cim, vsms, x):
    rec = cim_env.vm_record("cim-template")
    rec["is_a_template"] = True
    tmpl = x.VM.create(rec)
    ref = pywbem.CIMInstanceName("Xen_ComputerSystemSettingData", keybindings={"InstanceID": "Xen:" + x.VM.get_uuid(tmpl)}, namespace=NS)
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-from-template"; };'
    rasd = "instance of CIM_ResourceAllocationSettingData { ResourceType = 3; VirtualQuantity = 2; };"
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[rasd], ReferenceConfiguration=ref)
    assert rc == 0
    r = x.VM.get_record(x.VM.get_by_uuid(out["ResultingSystem"]["Name"]))
    assert (r["name_label"], r["is_a_template"], r["VCPUs_max"]) == ("cim-from-template", False, "2")
    assert r["memory_static_max"] == str(1 << 30), "kept from the template"
    assert x.VM.get_is_a_template(tmpl)


@pytest.mark.parametrize("rasd, words", [
    ("instance of CIM_ResourceAllocationSettingData { ResourceType = 10000; };", "ResourceType 10000"),
    ("instance of Xen_ProcessorSettingData { VirtualQuantity = 0; };", "VCPUs"),
    ('instance of Xen_MemorySettingData { VirtualQuantity = 1; AllocationUnits = "byte"; };', "at least"),
    ("instance of Xen_MemorySettingData { VirtualQuantity = ; };", "embedded instance"),
])
def test_bad_input_is_refused_and_nothing_is_left(cim, vsms, x, rasd, words):
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-bad"; VirtualSystemType = "DMTF:Xen:PV"; };'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[rasd])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    assert words in e.value.status_description
    assert not vms_named(x, "cim-bad")


def test_missing_vssd_is_refused(cim, vsms):
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, ResourceSettings=["instance of Xen_ProcessorSettingData { VirtualQuantity = 1; };"])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER


def wait_job(cim, job, states, timeout=20):
    deadline = time.time() + timeout
    while True:
        inst = cim.GetInstance(job)
        if inst["JobState"] in states or time.time() > deadline:
            return inst
        time.sleep(0.1)


def slow_vm(x, name, **other_config):
    rec = cim_env.vm_record(name)
    rec["other_config"] = other_config
    vm = x.VM.create(rec)
    x.VM.start(vm, False, False)
    return vm, x.VM.get_uuid(vm)


def test_long_shutdown_runs_as_a_job_to_completion(cim, x):
    vm, uuid = slow_vm(x, "cim-slow", **{"sim-shutdown-delay-ms": "2500"})
    # 4 Shut Down: the clean shutdown the guest takes its time over (3 would stop it at once).
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
    assert rc == 4096
    job = out["Job"]
    assert job.classname == "Xen_SystemStateChangeJob"
    running = cim.GetInstance(job)
    assert running["JobState"] == 4
    assert job in cim.EnumerateInstanceNames("Xen_SystemStateChangeJob")
    done = wait_job(cim, job, (7, 8, 10))
    assert done["JobState"] == 7
    assert done["PercentComplete"] == 100
    assert done["ErrorCode"] == 0
    assert x.VM.get_power_state(vm) == "Halted"
    rc, out = cim.InvokeMethod("GetError", job)
    assert rc == 0 and out["Error"] is None


def test_kill_job_cancels_the_task(cim, x):
    vm, uuid = slow_vm(x, "cim-stubborn", **{"sim-ignore-shutdown": "true"})
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
    assert rc == 4096
    job = out["Job"]
    rc, _ = cim.InvokeMethod("KillJob", job, DeleteOnKill=False)
    assert rc == 0
    killed = wait_job(cim, job, (7, 8, 10))
    assert killed["JobState"] == 8
    rc, out = cim.InvokeMethod("GetError", job)
    assert rc == 0
    assert out["Error"] is not None
    assert x.VM.get_power_state(vm) == "Running"


def disk_sr(x):
    return [r["uuid"] for r in x.SR.get_all_records().values() if r["content_type"] != "iso"][0]


def test_define_with_disk_cd_and_nic(cim, vsms, x):
    net = x.network.get_uuid(x.network.get_all()[0])
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-devices"; VirtualSystemType = "DMTF:Xen:HVM"; };'
    rasds = [
        f'instance of Xen_DiskSettingData {{ ResourceType = 19; PoolID = "{disk_sr(x)}"; VirtualQuantity = 2; '
        f'AllocationUnits = "GiB"; ElementName = "cim-devices-root"; Bootable = true; }};',
        "instance of CIM_ResourceAllocationSettingData { ResourceType = 16; };",
        f'instance of Xen_NetworkPortSettingData {{ ResourceType = 33; PoolID = "{net}"; Address = "02:00:00:00:00:07"; }};',
    ]
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=rasds)
    assert rc == 0
    uuid = out["ResultingSystem"]["Name"]
    vm = x.VM.get_by_uuid(uuid)
    vbds = [x.VBD.get_record(v) for v in x.VM.get_VBDs(vm)]
    disk = [v for v in vbds if v["type"] == "Disk"][0]
    cd = [v for v in vbds if v["type"] == "CD"][0]
    assert (disk["bootable"], disk["mode"]) == (True, "RW")
    vdi = x.VDI.get_record(disk["VDI"])
    assert (vdi["name_label"], vdi["virtual_size"]) == ("cim-devices-root", str(2 << 30))
    assert (cd["empty"], cd["mode"]) == (True, "RO")
    vifs = [x.VIF.get_record(v) for v in x.VM.get_VIFs(vm)]
    assert [(v["MAC"], x.network.get_uuid(v["network"])) for v in vifs] == [("02:00:00:00:00:07", net)]

    rc, _ = cim.InvokeMethod("DestroySystem", vsms, AffectedSystem=vm_path(uuid))
    assert rc == 0
    assert not [r for r in x.VDI.get_all_records().values() if r["name_label"] == "cim-devices-root"], "its own disk goes too"


def test_xenapi_failure_leaves_nothing_behind(cim, vsms, x):
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-half"; VirtualSystemType = "DMTF:Xen:PV"; };'
    rasds = [
        f'instance of Xen_DiskSettingData {{ PoolID = "{disk_sr(x)}"; VirtualQuantity = 1048576; ElementName = "cim-half-disk"; }};',
        'instance of Xen_NetworkPortSettingData { PoolID = "00000000-0000-0000-0000-00000000dead"; };',
    ]
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=rasds)
    assert e.value.status_code == pywbem.CIM_ERR_FAILED
    assert "XenError:" in e.value.status_description
    assert not vms_named(x, "cim-half")
    assert not [r for r in x.VDI.get_all_records().values() if r["name_label"] == "cim-half-disk"]


def test_a_failed_define_from_a_template_removes_the_clone_and_its_disks(cim, vsms, x):
    rec = cim_env.vm_record("cim-disk-template")
    rec["is_a_template"] = True
    tmpl = x.VM.create(rec)
    sr = x.SR.get_by_uuid(disk_sr(x))
    vdi = x.VDI.create(dict(name_label="cim-template-disk", name_description="", SR=sr, virtual_size=str(1 << 20),
                            type="user", sharable=False, read_only=False, other_config={}, xenstore_data={}, sm_config={}, tags=[]))
    x.VBD.create(dict(VM=tmpl, VDI=vdi, userdevice="0", bootable=True, mode="RW", type="Disk", empty=False,
                      other_config={}, qos_algorithm_type="", qos_algorithm_params={}))
    vdis_before = set(x.VDI.get_all())
    ref = pywbem.CIMInstanceName("Xen_ComputerSystemTemplate", keybindings={"InstanceID": "Xen:" + x.VM.get_uuid(tmpl)}, namespace=NS)
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-half-clone"; };'
    nic = 'instance of Xen_NetworkPortSettingData { PoolID = "00000000-0000-0000-0000-00000000dead"; };'
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[nic], ReferenceConfiguration=ref)
    assert e.value.status_code == pywbem.CIM_ERR_FAILED
    assert not vms_named(x, "cim-half-clone")
    assert set(x.VDI.get_all()) == vdis_before, "the clone's copy of the template disk went too"
    assert x.VDI.get_name_label(vdi) == "cim-template-disk", "the template's own disk stays"


def test_job_request_state_change_terminates_it(cim, x):
    vm, uuid = slow_vm(x, "cim-stubborn-2", **{"sim-ignore-shutdown": "true"})
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
    assert rc == 4096
    job = out["Job"]
    rc, _ = cim.InvokeMethod("RequestStateChange", job, RequestedState=pywbem.Uint16(3))
    assert rc == 1, "Suspend is not supported"
    rc, _ = cim.InvokeMethod("RequestStateChange", job, RequestedState=pywbem.Uint16(4))
    assert rc == 0
    assert wait_job(cim, job, (7, 8, 10))["JobState"] == 8
    rc, _ = cim.InvokeMethod("RequestStateChange", job, RequestedState=pywbem.Uint16(5))
    assert rc == 4097, "already ended"


def settings_defined_by(cim, caps):
    """{(ValueRole, ValueRange): setting data instance} of an allocation capabilities (DSP1043)."""
    out = {}
    for link in cim.References(caps, ResultClass="CIM_SettingsDefineCapabilities"):
        assert link.classname == "Xen_SettingsDefineCapabilities" and link["PropertyPolicy"] == 0
        out[(link["ValueRole"], link["ValueRange"])] = cim.GetInstance(link["PartComponent"])
    return out


def test_allocation_capabilities_say_what_define_system_accepts(cim, vsms, x):
    """DSP1043: each allocation capabilities defines four RASDs told apart by ValueRole /
    ValueRange (Default point, Minimums, Maximums, Increments), in the units of the pool and of
    the VM RASDs; DefineSystem accepts the bounds they give and refuses one step below."""
    host = x.host.get_all()[0]
    h = x.host.get_uuid(host)
    mib = 1 << 20
    total = int(x.host_metrics.get_memory_total(x.host.get_metrics(host)))
    caps = pywbem.CIMInstanceName("Xen_MemoryAllocationCapabilities", keybindings={"InstanceID": f"Xen:{h}/MemoryAllocationCapabilities"}, namespace=NS)
    mem = settings_defined_by(cim, caps)
    assert {k: v["VirtualQuantity"] for k, v in mem.items()} == {(3, 1): 16, (3, 2): total // mib, (3, 3): 1, (0, 0): 256}
    assert {v["InstanceID"] for v in mem.values()} == {f"Xen:{h}/Memory{b}" for b in ("Minimum", "Maximum", "Increment", "Default")}
    pool = cim.GetInstance(pywbem.CIMInstanceName("Xen_MemoryPool", keybindings={"InstanceID": f"Xen:{h}/MemoryPool"}, namespace=NS))
    assert all(v["AllocationUnits"] == pool["AllocationUnits"] == "byte*2^20" and v["PoolID"] == pool["PoolID"] for v in mem.values())
    assert pool["Capacity"] == total // mib
    cpu_caps = pywbem.CIMInstanceName("Xen_ProcessorAllocationCapabilities", keybindings={"InstanceID": f"Xen:{h}/ProcessorAllocationCapabilities"}, namespace=NS)
    cpu = settings_defined_by(cim, cpu_caps)
    assert {k: v["VirtualQuantity"] for k, v in cpu.items()} == {(3, 1): 1, (3, 2): 64, (3, 3): 1, (0, 0): 1}
    # every allocation capabilities has its four, and they name its pool
    for c in cim.EnumerateInstanceNames("CIM_AllocationCapabilities"):
        settings = cim.Associators(c, AssocClass="CIM_SettingsDefineCapabilities", ResultClass="CIM_ResourceAllocationSettingData")
        [p] = cim.Associators(c, AssocClass="CIM_ElementCapabilities", ResultClass="CIM_ResourcePool")
        assert len(settings) == 4 and {s["PoolID"] for s in settings} == {p["PoolID"]}, c
        assert {s["AllocationUnits"] for s in settings} == {p["AllocationUnits"]}, c
    # DefineSystem takes the least memory and the most vCPUs the capabilities give ...
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "cim-caps-bounds"; VirtualSystemType = "DMTF:Xen:PV"; };'
    least, most = mem[(3, 1)], cpu[(3, 2)]
    least.path = most.path = None
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[least, most])
    assert rc == 0
    vm = x.VM.get_by_uuid(out["ResultingSystem"]["Name"])
    assert (x.VM.get_memory_static_max(vm), x.VM.get_VCPUs_max(vm)) == (str(16 * mib), "64")
    x.VM.destroy(vm)
    # ... and refuses one increment less memory
    least["VirtualQuantity"] = pywbem.Uint64(16 - mem[(3, 3)]["VirtualQuantity"])
    with pytest.raises(pywbem.CIMError) as e:
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[least])
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    assert not vms_named(x, "cim-caps-bounds")
