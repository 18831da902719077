"""The VSSD family: every VM record gives exactly one settings instance, of the class of its kind
(Xen_ComputerSystemSettingData for guest VMs, Xen_ComputerSystemTemplate, Xen_ComputerSystemSnapshot),
as a template and a snapshot made through the official XenAPI SDK show; DefineSystem accepts a
Xen_ComputerSystemTemplate reference as ReferenceConfiguration."""
import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
CLASSES = ("Xen_ComputerSystemSettingData", "Xen_ComputerSystemTemplate", "Xen_ComputerSystemSnapshot")


def path(cls, uuid):
    return pywbem.CIMInstanceName(cls, keybindings={"InstanceID": f"Xen:{uuid}"}, namespace=NS)


def ids(cim, cls):
    return {p["InstanceID"] for p in cim.EnumerateInstanceNames(cls)}


def classes_of(cim, uuid):
    """The VSSD classes that enumerate the VM record `uuid`, and those that get it by key."""
    listed = [c for c in CLASSES if f"Xen:{uuid}" in ids(cim, c)]
    got = []
    for c in CLASSES:
        try:
            cim.GetInstance(path(c, uuid))
            got.append(c)
        except pywbem.CIMError as e:
            assert e.status_code == pywbem.CIM_ERR_NOT_FOUND, (c, e)
    return listed, got


@pytest.fixture(scope="module")
def made(x):
    """A guest VM, a template cloned from it and marked as a template, and a snapshot of the VM."""
    vm = x.VM.create(cim_env.vm_record("vssd-vm"))
    tmpl = x.VM.clone(vm, "vssd-template")
    x.VM.set_is_a_template(tmpl, True)
    snap = x.VM.snapshot(vm, "vssd-snap")
    yield {"vm": vm, "template": tmpl, "snapshot": snap}
    for r in (snap, tmpl, vm):
        x.VM.destroy(r)


def test_each_record_is_in_the_class_of_its_kind_only(x, cim, made):
    expect = {"vm": "Xen_ComputerSystemSettingData", "template": "Xen_ComputerSystemTemplate", "snapshot": "Xen_ComputerSystemSnapshot"}
    for kind, cls in expect.items():
        uuid = x.VM.get_uuid(made[kind])
        assert classes_of(cim, uuid) == ([cls], [cls]), kind
    # Every VM record the SDK sees is in exactly one VSSD class, but the control domain.
    records = x.VM.get_all_records().values()
    listed = {c: ids(cim, c) for c in CLASSES}
    for r in records:
        n = sum(f"Xen:{r['uuid']}" in listed[c] for c in CLASSES)
        assert n == (0 if r["is_control_domain"] else 1), r["name_label"]
    # The deep enumeration of the DMTF parent reaches all three providers.
    deep = {p.classname for p in cim.EnumerateInstanceNames("CIM_VirtualSystemSettingData")}
    assert set(CLASSES) <= deep


def test_template_and_snapshot_properties(x, cim, made):
    t_uuid, s_uuid, v_uuid = (x.VM.get_uuid(made[k]) for k in ("template", "snapshot", "vm"))
    t = cim.GetInstance(path("Xen_ComputerSystemTemplate", t_uuid))
    assert (t["InstanceID"], t["ElementName"], t["VirtualSystemIdentifier"]) == (f"Xen:{t_uuid}", "vssd-template", t_uuid)
    assert t["Caption"] == "Template for a Xen virtual machine"
    assert t["VirtualSystemType"] == "DMTF:Xen:PV" and t["PV_Bootloader"] == "pygrub"
    s = cim.GetInstance(path("Xen_ComputerSystemSnapshot", s_uuid))
    assert (s["ElementName"], s["VirtualSystemIdentifier"]) == ("vssd-snap", s_uuid)
    assert s["Caption"] == "Settings for a Snapshot of a Xen virtual machine"
    assert s["SnapshotOf"] == f'root/cimv2:Xen_ComputerSystem.CreationClassName="Xen_ComputerSystem",Name="{v_uuid}"'
    taken = x.VM.get_snapshot_time(made["snapshot"])
    assert s["SnapshotTime"].datetime.strftime("%Y%m%dT%H:%M:%S") == taken.value[:17].replace("-", "")
    # Enumeration and GetInstance agree.
    assert [i for i in cim.EnumerateInstances("Xen_ComputerSystemSnapshot") if i["InstanceID"] == f"Xen:{s_uuid}"] == [s]
    assert [i for i in cim.EnumerateInstances("Xen_ComputerSystemTemplate") if i["InstanceID"] == f"Xen:{t_uuid}"] == [t]


def test_a_vm_turned_into_a_template_changes_class(x, cim):
    vm = x.VM.create(cim_env.vm_record("vssd-turned"))
    uuid = x.VM.get_uuid(vm)
    assert classes_of(cim, uuid) == (["Xen_ComputerSystemSettingData"], ["Xen_ComputerSystemSettingData"])
    x.VM.set_is_a_template(vm, True)
    assert classes_of(cim, uuid) == (["Xen_ComputerSystemTemplate"], ["Xen_ComputerSystemTemplate"])
    names = {p["Name"] for p in cim.EnumerateInstanceNames("Xen_ComputerSystem")}
    assert uuid not in names, "a template is not a virtual system"
    x.VM.destroy(vm)
    assert classes_of(cim, uuid) == ([], [])


def test_define_system_from_a_template_reference(x, cim, made):
    vsms = cim.EnumerateInstanceNames("Xen_VirtualSystemManagementService")[0]
    t_uuid = x.VM.get_uuid(made["template"])
    ref = [p for p in cim.EnumerateInstanceNames("Xen_ComputerSystemTemplate") if p["InstanceID"] == f"Xen:{t_uuid}"][0]
    vssd = 'instance of Xen_ComputerSystemSettingData { ElementName = "vssd-from-template"; };'
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=[], ReferenceConfiguration=ref)
    assert rc == 0
    new = x.VM.get_by_uuid(out["ResultingSystem"]["Name"])
    r = x.VM.get_record(new)
    assert (r["name_label"], r["is_a_template"], r["is_a_snapshot"]) == ("vssd-from-template", False, False)
    assert r["memory_static_max"] == x.VM.get_memory_static_max(made["template"]), "kept from the template"
    assert classes_of(cim, r["uuid"]) == (["Xen_ComputerSystemSettingData"], ["Xen_ComputerSystemSettingData"])
    assert x.VM.get_is_a_template(made["template"]), "the template stays a template"
    x.VM.destroy(new)
