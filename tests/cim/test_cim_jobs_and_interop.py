"""A job is traceable to its VM (Xen_AffectedJobElement, Xen_OwningJobElement), checked against the
job's XenAPI task with the SDK; the broker's DSP1054 indication service, its host, profile and
links in root/interop, as pywbem's WBEMServer finds them."""
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

NS = "root/cimv2"
INTEROP = "root/interop"


def vm_path(uuid):
    return pywbem.CIMInstanceName("Xen_ComputerSystem", keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": uuid},
                                  namespace=NS)


def same(a, b):
    return a.classname.lower() == b.classname.lower() and dict(a.keybindings) == dict(b.keybindings)


def wait_job(cim, job, timeout=20):
    deadline = time.time() + timeout
    while cim.GetInstance(job)["JobState"] not in (7, 8, 10) and time.time() < deadline:
        time.sleep(0.1)


@pytest.fixture
def slow_vm(x):
    rec = cim_env.vm_record("cim-job-links")
    rec["other_config"] = {"sim-shutdown-delay-ms": "2500"}
    ref = x.VM.create(rec)
    x.VM.start(ref, False, False)
    yield ref, x.VM.get_uuid(ref)
    if ref in x.VM.get_all():
        if x.VM.get_power_state(ref) != "Halted":
            x.VM.hard_shutdown(ref)
        x.VM.destroy(ref)


def test_a_job_leads_to_its_vm_and_back(cim, x, slow_vm):
    ref, uuid = slow_vm
    assert not cim.AssociatorNames(vm_path(uuid), AssocClass="CIM_AffectedJobElement"), "no job yet"
    rc, out = cim.InvokeMethod("RequestStateChange", vm_path(uuid), RequestedState=pywbem.Uint16(4))
    assert rc == 4096
    job = out["Job"]
    task_uuid = job.keybindings["InstanceID"].split(":", 1)[1]
    assert x.task.get_other_config(x.task.get_by_uuid(task_uuid))["xencim_vm"] == uuid, "the task records its VM"
    # job -> VM, through either class and their DMTF parents
    for assoc in ("Xen_AffectedJobElement", "CIM_AffectedJobElement", "Xen_OwningJobElement", "CIM_OwningJobElement"):
        far = cim.AssociatorNames(job, AssocClass=assoc)
        assert len(far) == 1 and same(far[0], vm_path(uuid)), assoc
    refs = cim.References(job, ResultClass="CIM_AffectedJobElement", Role="AffectingElement")
    assert len(refs) == 1 and list(refs[0]["ElementEffects"]) == [2]
    assert same(refs[0]["AffectedElement"], vm_path(uuid))
    assert cim.GetInstance(refs[0].path)["ElementEffects"] == [2]
    # VM -> job: the running job, as an instance
    jobs = cim.Associators(vm_path(uuid), AssocClass="CIM_OwningJobElement", ResultClass="CIM_ConcreteJob", Role="OwningElement")
    assert len(jobs) == 1 and jobs[0]["InstanceID"] == job.keybindings["InstanceID"] and jobs[0]["JobState"] == 4
    assert not cim.Associators(vm_path(uuid), AssocClass="CIM_OwningJobElement", Role="OwnedElement")
    owned = cim.EnumerateInstances("Xen_OwningJobElement")
    assert any(same(o["OwnedElement"], job) and same(o["OwningElement"], vm_path(uuid)) for o in owned)
    wait_job(cim, job)
    assert x.VM.get_power_state(ref) == "Halted"
    assert len(cim.AssociatorNames(job, AssocClass="CIM_AffectedJobElement")) == 1, "a finished job still names its VM"
    # once the VM is gone (destroyed through XenAPI), the job names nothing
    x.VM.destroy(ref)
    assert not cim.AssociatorNames(job, AssocClass="CIM_AffectedJobElement")
    assert not any(same(o["OwnedElement"], job) for o in cim.EnumerateInstances("Xen_OwningJobElement"))
    with pytest.raises(pywbem.CIMError) as e:
        cim.GetInstance(refs[0].path)
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_broker_publishes_its_indication_service(srv, cim):
    services = cim.EnumerateInstances("CIM_IndicationService", namespace=INTEROP)
    assert len(services) == 1
    svc = services[0]
    assert svc["FilterCreationEnabled"] is True and svc["DeliveryRetryAttempts"] == 3
    # hosted by the system the object manager names, which exists
    systems = cim.Associators(svc.path, AssocClass="CIM_HostedService", ResultRole="Antecedent")
    assert len(systems) == 1 and systems[0]["Name"] == svc["SystemName"]
    om = cim.EnumerateInstanceNames("CIM_ObjectManager", namespace=INTEROP)[0]
    hosted = cim.AssociatorNames(systems[0].path, AssocClass="CIM_HostedService", Role="Antecedent")
    assert {p.classname for p in hosted} == {"CIM_ObjectManager", "CIM_IndicationService"}
    assert any(same(p, om) for p in hosted)
    # DSP1054: the profile, conformed to by the service
    profiles = cim.Associators(svc.path, AssocClass="CIM_ElementConformsToProfile", ResultClass="CIM_RegisteredProfile")
    assert [(p["RegisteredOrganization"], p["RegisteredName"], p["RegisteredVersion"]) for p in profiles] == [(2, "Indications", "1.2.0")]
    back = cim.AssociatorNames(profiles[0].path, AssocClass="CIM_ElementConformsToProfile")
    assert len(back) == 1 and same(back[0], svc.path)
    # as a DSP1033 client finds it, next to the Xen profiles of the providers
    server = pywbem.WBEMServer(cim)
    found = server.get_selected_profiles(registered_org="DMTF", registered_name="Indications")
    assert len(found) == 1 and found[0]["InstanceID"] == profiles[0]["InstanceID"]
    assert server.get_selected_profiles(registered_org="DMTF", registered_name="System Virtualization")
    central = server.get_central_instances(found[0].path, central_class="CIM_IndicationService")
    assert len(central) == 1 and same(central[0], svc.path)


def test_dsp1042_references_the_brokers_indications_profile(cim):
    sv = [p for p in cim.EnumerateInstances("Xen_RegisteredProfile", namespace=INTEROP) if p["RegisteredName"] == "System Virtualization"][0]
    down = cim.Associators(sv.path, AssocClass="CIM_ReferencedProfile", Role="Dependent", ResultClass="CIM_RegisteredProfile")
    indications = [p for p in down if p["RegisteredName"] == "Indications"]
    assert len(indications) == 1 and indications[0].classname == "CIM_RegisteredProfile", "the broker's, not a Xen copy"
    up = cim.AssociatorNames(indications[0].path, AssocClass="Xen_ReferencedProfile", ResultRole="Dependent")
    assert len(up) == 1 and up[0]["InstanceID"] == sv["InstanceID"]
    links = [r for r in cim.EnumerateInstances("Xen_ReferencedProfile", namespace=INTEROP) if same(r["Antecedent"], indications[0].path)]
    assert len(links) == 1 and same(links[0]["Dependent"], sv.path)
