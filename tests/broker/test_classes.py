"""Class operations through pywbem: GetClass (and its options),
EnumerateClasses, EnumerateClassNames, EnumerateQualifiers, GetQualifier,
checked against the DMTF 2.41.0 MOF text."""
import random
import re

import pytest
import pywbem
from pywbem import CIMError

from broker_harness import require_schema


def scan_mof_class(path):
    """Independent line scan of one DMTF class file: name, superclass,
    property and method names (members sit at an indent of three spaces)."""
    name = sup = None
    props, methods = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if name is None:
            m = re.match(r"class (\w+)\s*(?::\s*(\w+))?\s*\{", line)
            if m:
                name, sup = m.group(1), m.group(2)
            continue
        if line.startswith("   ") and not line.startswith("    "):
            body = line.strip()
            words = body.split()
            if len(words) >= 2 and ("(" in words[1] or body.endswith("(")):
                methods.append(words[1].split("(")[0])
            elif body.endswith(";") and len(words) >= 2:
                n = words[2] if words[1] == "REF" else words[1]
                props.append(n.rstrip(";").split("[")[0])
    return name, sup, props, methods


def test_get_class_matches_mof_text_for_a_sample(sconn):
    d = require_schema()
    files = sorted(p for p in d.glob("*/CIM_*.mof"))
    assert len(files) > 1300
    rng = random.Random(241)
    sample = rng.sample(files, 40) + [d / "System" / "CIM_ComputerSystem.mof", d / "Core" / "CIM_ManagedElement.mof"]
    for f in sample:
        name, sup, props, methods = scan_mof_class(f)
        c = sconn.GetClass(name, LocalOnly=True, IncludeQualifiers=True)
        assert c.classname == name
        assert c.superclass == sup, name
        assert sorted(c.properties) == sorted(props), name
        assert sorted(c.methods) == sorted(methods), name
        full = sconn.GetClass(name, LocalOnly=False)
        if sup:
            parent = sconn.GetClass(sup, LocalOnly=False)
            assert set(parent.properties) <= set(full.properties), name


def test_get_class_computer_system_details(sconn):
    require_schema()
    c = sconn.GetClass("CIM_ComputerSystem", LocalOnly=False, IncludeQualifiers=True, IncludeClassOrigin=True)
    assert c.superclass == "CIM_System"
    assert c.qualifiers["Version"].value == "2.36.0"
    assert c.qualifiers["UMLPackagePath"].value == "CIM::System::SystemElements"
    name = c.properties["Name"]
    assert name.class_origin == "CIM_System" and name.propagated
    assert name.qualifiers["Key"].value is True
    ded = c.properties["Dedicated"]
    assert ded.type == "uint16" and ded.is_array
    assert ded.qualifiers["ArrayType"].value == "Indexed"
    assert "Not Dedicated" in ded.qualifiers["Values"].value
    nf = c.properties["NameFormat"]
    assert nf.class_origin == "CIM_ComputerSystem" and not nf.propagated
    assert nf.qualifiers["Override"].value == "NameFormat"
    sps = c.methods["SetPowerState"]
    assert sps.return_type == "uint32"
    assert [p for p in sps.parameters] == ["PowerState", "Time"]
    assert sps.parameters["Time"].type == "datetime"
    assert "RequestStateChange" in c.methods  # inherited from CIM_EnabledLogicalElement
    assoc = sconn.GetClass("CIM_SystemDevice", LocalOnly=False)
    pc = assoc.properties["PartComponent"]
    assert pc.type == "reference" and pc.reference_class == "CIM_LogicalDevice"


def test_get_class_options(sconn):
    require_schema()
    local = sconn.GetClass("CIM_ComputerSystem")  # LocalOnly defaults to true
    assert "Name" not in local.properties and "NameFormat" in local.properties
    noq = sconn.GetClass("CIM_ComputerSystem", IncludeQualifiers=False)
    assert not noq.qualifiers and not noq.properties["NameFormat"].qualifiers
    noorigin = sconn.GetClass("CIM_ComputerSystem", LocalOnly=False)
    assert noorigin.properties["Name"].class_origin is None
    pl = sconn.GetClass("CIM_ComputerSystem", LocalOnly=False, PropertyList=["Name", "dedicated"])
    assert sorted(pl.properties) == ["Dedicated", "Name"]
    empty = sconn.GetClass("CIM_ComputerSystem", LocalOnly=False, PropertyList=[])
    assert not empty.properties


def test_enumerate_class_names(sconn):
    require_schema()
    top = sconn.EnumerateClassNames()
    assert "CIM_ManagedElement" in top and "CIM_ComputerSystem" not in top
    shallow = sconn.EnumerateClassNames(ClassName="CIM_System")
    assert "CIM_ComputerSystem" in shallow and "CIM_VirtualComputerSystem" not in shallow
    deep = sconn.EnumerateClassNames(ClassName="CIM_System", DeepInheritance=True)
    assert "CIM_VirtualComputerSystem" in deep and set(shallow) < set(deep)
    everything = sconn.EnumerateClassNames(DeepInheritance=True)
    assert len(everything) == 1438 + 4  # the DMTF classes plus the four test classes
    interop = sconn.EnumerateClassNames(namespace="root/interop", DeepInheritance=True)
    assert "CIM_RegisteredProfile" in interop


def test_enumerate_classes(sconn):
    require_schema()
    cls = sconn.EnumerateClasses(ClassName="CIM_ComputerSystem", DeepInheritance=True, LocalOnly=False, IncludeQualifiers=False)
    names = {c.classname for c in cls}
    assert {"CIM_UnitaryComputerSystem", "CIM_VirtualComputerSystem"} <= names
    for c in cls:
        assert "Name" in c.properties
        assert not c.qualifiers


def test_qualifiers(sconn):
    require_schema()
    qs = sconn.EnumerateQualifiers()
    assert len(qs) == 70
    key = sconn.GetQualifier("Key")
    assert key.type == "boolean" and key.value is False
    assert key.overridable is False and key.tosubclass is True
    assert set(key.scopes) >= {"PROPERTY", "REFERENCE"} and key.scopes["PROPERTY"]
    vm = sconn.GetQualifier("ValueMap")
    assert vm.is_array and vm.type == "string"
    with pytest.raises(CIMError) as e:
        sconn.GetQualifier("NoSuchQualifier")
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_class_errors(conn):
    with pytest.raises(CIMError) as e:
        conn.GetClass("No_Such_Class")
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    with pytest.raises(CIMError) as e:
        conn.EnumerateClassNames(ClassName="No_Such_Class")
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_CLASS
    with pytest.raises(CIMError) as e:
        conn.GetClass("XenTest_Element", namespace="root/nowhere")
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_NAMESPACE
    with pytest.raises(CIMError) as e:
        conn.CreateClass(pywbem.CIMClass("X_New"))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_SUPPORTED


def test_small_repository_classes(conn):
    names = conn.EnumerateClassNames(DeepInheritance=True)
    assert sorted(names) == ["XenTest_Child", "XenTest_Element", "XenTest_Link", "XenTest_Stored"]
    c = conn.GetClass("XenTest_Child", LocalOnly=False, IncludeClassOrigin=True)
    assert c.properties["Counter"].value == 0
    assert c.properties["Level"].class_origin == "XenTest_Child"
    assert c.methods["Bump"].parameters["NewValue"].qualifiers["Out"].value is True


def test_wbem_server_discovery(sconn):
    require_schema()
    server = pywbem.WBEMServer(sconn)
    assert server.interop_ns == "root/interop"
    assert {"root/cimv2", "root/interop"} <= set(server.namespaces)
    assert server.brand == "xencim"
