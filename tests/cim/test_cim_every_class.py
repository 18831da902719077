"""Every class of registration/*.reg, through `xencim serve`, on a scenario made with the XenAPI
SDK: a running VM with a disk, a CD and a NIC; a halted VM; a template; a snapshot; a finished
state-change job.

The class list is read from the .reg files when the tests are collected, so a class registered
later is covered without touching this file:
* an instance class (neither association nor indication) enumerates in each of its namespaces,
  EnumerateInstanceNames and EnumerateInstances name the same instances, and GetInstance of each
  path gives the same properties;
* an association class does the same, and every reference it holds resolves with GetInstance.
A class with no instance in this scenario fails, unless NO_INSTANCE says why it has none.
"""
import importlib.util
import os
import time

import pytest

import cim_env

pywbem = pytest.importorskip("pywbem")
XenAPI = pytest.importorskip("XenAPI")

REG_DIR = os.path.join(cim_env.ROOT, "registration")

# Classes that legitimately have no instance in this scenario, and why.
NO_INSTANCE = {}

# Properties that move between two reads of an unchanged instance, and why. They must be present in
# both reads; only their values are not compared.
VOLATILE = {
    # follows VM_metrics.last_updated (xs-cim's mapping), which each metrics sample of a running VM
    # rewrites: an EnumerateInstances and a GetInstance a second apart may see two samples
    "Xen_ComputerSystem": {"timeoflaststatechange"},
    # follows host_metrics.last_updated, which each metrics sample rewrites as well
    "Xen_HostComputerSystem": {"timeoflaststatechange"},
    # follows VM_metrics.VCPUs_utilisation, which each metrics sample of a running VM rewrites
    "Xen_Processor": {"loadpercentage"},
}


def registrations():
    spec = importlib.util.spec_from_file_location("gen_pegasus_mof", os.path.join(REG_DIR, "gen-pegasus-mof.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen.read_regs(REG_DIR)


REGS = registrations()
INSTANCE_CLASSES = [(r["class"], ns) for r in REGS if not {"association", "indication"} & set(r["types"]) for ns in r["namespaces"]]
ASSOCIATION_CLASSES = [(r["class"], ns) for r in REGS if "association" in r["types"] for ns in r["namespaces"]]


def ids(pairs):
    return [f"{c}@{ns}" for c, ns in pairs]


def storage_sr(x):
    return next(s for s, r in x.SR.get_all_records().items() if r["content_type"] != "iso")


def wait_job(cim, job, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cim.GetInstance(job)["JobState"] in (7, 8, 10):
            return
        time.sleep(0.1)
    raise AssertionError(f"{job} did not end")


@pytest.fixture(scope="module")
def scenario(x, cim):
    """Made once per module; the server goes away with the module, so nothing is cleaned up."""
    running = x.VM.create(cim_env.vm_record("every-running"))
    vdi = x.VDI.create(dict(SR=storage_sr(x), virtual_size=str(1 << 30), type="user", sharable=False, read_only=False,
                            other_config={}, name_label="every-root", name_description=""))
    vbd = dict(VM=running, VDI=vdi, userdevice="0", bootable=True, mode="RW", type="Disk", empty=False,
               other_config={}, qos_algorithm_type="", qos_algorithm_params={})
    x.VBD.create(vbd)
    x.VBD.create({**vbd, "VDI": "OpaqueRef:NULL", "userdevice": "3", "bootable": False, "mode": "RO", "type": "CD", "empty": True})
    x.VIF.create(dict(device="0", network=x.network.get_all()[0], VM=running, MAC="", MTU="1500", other_config={},
                      qos_algorithm_type="", qos_algorithm_params={}))
    x.VM.start(running, False, False)
    x.VM.create(cim_env.vm_record("every-halted"))
    template = cim_env.vm_record("every-template")
    template["is_a_template"] = True
    x.VM.create(template)
    x.VM.snapshot(running, "every-snapshot")
    # A state-change job: a guest that takes its time to shut down makes RequestStateChange
    # answer 4096 and a Xen_SystemStateChangeJob (it outlasts the provider's 1 s SYNC_GRACE);
    # it is left to finish so that its state is stable.
    slow = cim_env.vm_record("every-slow")
    slow["other_config"] = {"sim-shutdown-delay-ms": "2500"}
    slow = x.VM.create(slow)
    x.VM.start(slow, False, False)
    path = pywbem.CIMInstanceName("Xen_ComputerSystem", namespace="root/cimv2",
                                  keybindings={"CreationClassName": "Xen_ComputerSystem", "Name": x.VM.get_uuid(slow)})
    # 4 (Shut Down) is the clean shutdown that waits for the guest; 3 would be immediate
    rc, out = cim.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(4))
    assert rc == 4096
    wait_job(cim, out["Job"])
    return running


def key(path):
    """A path as a comparable value: class, namespace and keys, references included."""
    def value(v):
        return key(v) if isinstance(v, pywbem.CIMInstanceName) else v
    return (path.classname.lower(), (path.namespace or "").lower(),
            tuple(sorted((k.lower(), value(v)) for k, v in path.keybindings.items())))


def properties(inst):
    """The properties to compare: a volatile one only says it is there."""
    volatile = VOLATILE.get(inst.classname, set())
    return {k.lower(): ("<volatile>" if k.lower() in volatile else p.value) for k, p in inst.properties.items()}


def enumerate_and_get(cim, cls, ns):
    """Checks that both enumerations agree and that each instance gets back equal; returns them."""
    names = cim.EnumerateInstanceNames(cls, namespace=ns)
    insts = cim.EnumerateInstances(cls, namespace=ns)
    for p in names:
        p.namespace = p.namespace or ns
    for i in insts:
        i.path.namespace = i.path.namespace or ns
    assert sorted(map(key, names)) == sorted(key(i.path) for i in insts), \
        f"{cls} in {ns}: EnumerateInstanceNames and EnumerateInstances disagree"
    assert len({key(p) for p in names}) == len(names), f"{cls} in {ns}: the same path twice"
    if cls in NO_INSTANCE:
        assert not names, f"{cls} has instances now: take it out of NO_INSTANCE ({NO_INSTANCE[cls]})"
    else:
        assert names, f"{cls} in {ns}: no instance in the scenario (if that is right, add it to NO_INSTANCE with the reason)"
    for inst in insts:
        got = cim.GetInstance(inst.path)
        assert key(got.path if got.path.namespace else inst.path) == key(inst.path)
        assert properties(got) == properties(inst), f"{inst.path}: GetInstance differs from EnumerateInstances"
    return insts


def test_every_registered_class_is_covered():
    assert INSTANCE_CLASSES and ASSOCIATION_CLASSES
    registered = {r["class"] for r in REGS}
    assert set(NO_INSTANCE) <= registered, f"NO_INSTANCE names unregistered classes: {set(NO_INSTANCE) - registered}"


@pytest.mark.parametrize("cls, ns", INSTANCE_CLASSES, ids=ids(INSTANCE_CLASSES))
def test_instance_class_enumerates_and_gets(cim, scenario, cls, ns):
    enumerate_and_get(cim, cls, ns)


@pytest.mark.parametrize("cls, ns", ASSOCIATION_CLASSES, ids=ids(ASSOCIATION_CLASSES))
def test_association_references_resolve(cim, scenario, cls, ns):
    resolved = set()
    for assoc in enumerate_and_get(cim, cls, ns):
        refs = [(name, p.value) for name, p in assoc.properties.items() if p.type == "reference"]
        assert len(refs) >= 2, f"{assoc.path}: an association with {len(refs)} references"
        for name, ref in refs:
            assert ref is not None, f"{assoc.path}: {name} is NULL"
            ref = ref.copy()
            ref.namespace = ref.namespace or ns
            if key(ref) in resolved:
                continue
            got = cim.GetInstance(ref)
            assert got.classname.lower() == ref.classname.lower(), f"{assoc.path}: {name} resolves to a {got.classname}"
            resolved.add(key(ref))
