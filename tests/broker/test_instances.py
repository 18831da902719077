"""Instance operations routed to the in-process demo provider and to the
broker's own store, through pywbem."""
import pytest
import pywbem
from pywbem import CIMError, CIMInstance, CIMInstanceName, Uint32, Sint32, Uint16


def iname(i, cls="XenTest_Element"):
    return CIMInstanceName(cls, keybindings={"InstanceID": i}, namespace="root/cimv2")


def test_enumerate_instances_merges_subclass_providers(conn):
    insts = conn.EnumerateInstances("XenTest_Element")
    ids = sorted(i["InstanceID"] for i in insts)
    assert ids == ["C0", "C1", "E0", "E1", "E2"]
    child = next(i for i in insts if i["InstanceID"] == "C1")
    assert child.classname == "XenTest_Child" and child["Level"] == 2
    assert child.path.classname == "XenTest_Child"
    only_children = conn.EnumerateInstances("XenTest_Child")
    assert sorted(i["InstanceID"] for i in only_children) == ["C0", "C1"]


def test_enumerate_instances_options(conn):
    shallow = conn.EnumerateInstances("XenTest_Element", DeepInheritance=False)
    child = next(i for i in shallow if i["InstanceID"] == "C0")
    assert "Level" not in child.properties and "Counter" in child.properties
    pl = conn.EnumerateInstances("XenTest_Element", PropertyList=["ElementName", "counter"])
    for i in pl:
        assert sorted(i.properties) == ["Counter", "ElementName"]
    withorigin = conn.EnumerateInstances("XenTest_Child", IncludeClassOrigin=True)
    assert withorigin[0].properties["Level"].class_origin == "XenTest_Child"
    assert withorigin[0].properties["Counter"].class_origin == "XenTest_Element"
    e0 = next(i for i in conn.EnumerateInstances("XenTest_Element") if i["InstanceID"] == "E0")
    assert e0["Tags"] == ["a", "t0"] and e0["Enabled"] is True
    assert isinstance(e0["Created"], pywbem.CIMDateTime)


def test_enumerate_instance_names(conn):
    names = conn.EnumerateInstanceNames("XenTest_Element")
    assert sorted(n["InstanceID"] for n in names) == ["C0", "C1", "E0", "E1", "E2"]
    assert {n.classname for n in names} == {"XenTest_Element", "XenTest_Child"}


def test_get_instance(conn):
    i = conn.GetInstance(iname("E1"))
    assert i["ElementName"] == "element E1" and i["Counter"] == 1
    pl = conn.GetInstance(iname("E1"), PropertyList=["Counter"])
    assert list(pl.properties) == ["Counter"]
    c = conn.GetInstance(iname("C0", "XenTest_Child"))
    assert c["Level"] == 1
    with pytest.raises(CIMError) as e:
        conn.GetInstance(iname("nope"))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    with pytest.raises(CIMError) as e:
        conn.GetInstance(CIMInstanceName("No_Class", keybindings={"K": "x"}))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_CLASS


def test_modify_instance_through_provider(conn):
    inst = conn.GetInstance(iname("E2"))
    inst["ElementName"] = "renamed"
    inst["Counter"] = Uint32(99)
    conn.ModifyInstance(inst, PropertyList=["ElementName"])
    after = conn.GetInstance(iname("E2"))
    assert after["ElementName"] == "renamed"
    assert after["Counter"] == 2, "PropertyList limits what is modified"
    inst["Counter"] = Uint32(7)
    conn.ModifyInstance(inst)
    assert conn.GetInstance(iname("E2"))["Counter"] == 7


def test_store_create_modify_delete(conn):
    path = CIMInstanceName("XenTest_Stored", keybindings={"Name": "w1"}, namespace="root/cimv2")
    new = CIMInstance("XenTest_Stored", properties={"Name": "w1", "Value": Sint32(5)})
    created = conn.CreateInstance(new)
    assert created.classname == "XenTest_Stored" and created["Name"] == "w1"
    with pytest.raises(CIMError) as e:
        conn.CreateInstance(new)
    assert e.value.status_code == pywbem.CIM_ERR_ALREADY_EXISTS
    got = conn.GetInstance(path)
    assert got["Value"] == 5 and got["Note"] is None
    got["Value"] = Sint32(-9)
    got["Note"] = "changed"
    conn.ModifyInstance(got)
    again = conn.GetInstance(path)
    assert again["Value"] == -9 and again["Note"] == "changed"
    names = [n["Name"] for n in conn.EnumerateInstanceNames("XenTest_Stored")]
    assert "preset" in names and "w1" in names
    conn.DeleteInstance(path)
    with pytest.raises(CIMError) as e:
        conn.GetInstance(path)
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    with pytest.raises(CIMError) as e:
        conn.DeleteInstance(path)
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_create_instance_rejects_bad_input(conn):
    with pytest.raises(CIMError) as e:
        conn.CreateInstance(CIMInstance("XenTest_Stored", properties={"Name": "x", "Bogus": "y"}))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    with pytest.raises(CIMError) as e:
        conn.CreateInstance(CIMInstance("XenTest_Stored", properties={"Name": "x", "Value": "notanumber"}))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    with pytest.raises(CIMError) as e:
        conn.CreateInstance(CIMInstance("XenTest_Stored", properties={"Value": Sint32(1)}))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER


def test_associators_and_references(conn):
    e0 = iname("E0")
    assoc = conn.Associators(e0)
    assert sorted(a["InstanceID"] for a in assoc) == ["C0", "C1"]
    assert all(a.path.classname == "XenTest_Child" for a in assoc)
    assert sorted(n["InstanceID"] for n in conn.AssociatorNames(e0, AssocClass="XenTest_Link", Role="Parent", ResultRole="Child")) == ["C0", "C1"]
    assert conn.AssociatorNames(e0, Role="Child") == []
    assert conn.AssociatorNames(e0, ResultClass="XenTest_Stored") == []
    c0 = iname("C0", "XenTest_Child")
    back = conn.Associators(c0, ResultClass="XenTest_Element", PropertyList=["InstanceID"])
    assert [b["InstanceID"] for b in back] == ["E0"] and list(back[0].properties) == ["InstanceID"]
    refs = conn.References(e0)
    assert len(refs) == 2 and all(r.classname == "XenTest_Link" for r in refs)
    assert refs[0]["Parent"]["InstanceID"] == "E0"
    rn = conn.ReferenceNames(c0, Role="Child")
    assert len(rn) == 1 and rn[0]["Child"]["InstanceID"] == "C0"
    assert conn.ReferenceNames(c0, Role="Parent") == []
    assert conn.References(e0, ResultClass="XenTest_Link", Role="Parent") != []
    with pytest.raises(CIMError) as e:
        conn.Associators(e0, AssocClass="No_Such")
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER


def test_class_level_associators(conn):
    names = conn.AssociatorNames("XenTest_Element")
    assert sorted(n.classname for n in names) == ["XenTest_Element"]
    refs = conn.ReferenceNames("XenTest_Child")
    assert [r.classname for r in refs] == ["XenTest_Link"]


def test_invoke_method(conn, broker):
    rv, out = conn.InvokeMethod("Bump", iname("E1"), By=Uint32(10))
    assert rv == 0 and out["NewValue"] == 11
    assert conn.GetInstance(iname("E1"))["Counter"] == 11
    rv, out = conn.InvokeMethod("Echo", "XenTest_Element", Text="hello <&>")
    assert rv == "hello <&>"
    with pytest.raises(CIMError) as e:
        conn.InvokeMethod("NoSuchMethod", iname("E1"))
    assert e.value.status_code == pywbem.CIM_ERR_METHOD_NOT_FOUND
    with pytest.raises(CIMError) as e:
        conn.InvokeMethod("Bump", iname("E1"), By="ten")
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    with pytest.raises(CIMError) as e:
        conn.InvokeMethod("Bump", iname("E1"), Nope=Uint32(1))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    with pytest.raises(CIMError) as e:
        conn.InvokeMethod("Crash", iname("E1"))
    assert e.value.status_code == pywbem.CIM_ERR_FAILED
    assert "panic" in e.value.status_description
    assert broker.alive()
    assert conn.GetInstance(iname("E0"))["InstanceID"] == "E0"


def test_exec_query(conn):
    rows = conn.ExecQuery("WQL", "SELECT InstanceID, Counter FROM XenTest_Element WHERE Counter >= 1 AND NOT InstanceID = 'C1'")
    ids = sorted(r["InstanceID"] for r in rows)
    assert "C1" not in ids and "E0" not in ids and "E1" in ids
    assert all(sorted(r.properties) == ["Counter", "InstanceID"] for r in rows)
    rows = conn.ExecQuery("WQL", "select * from XenTest_Child where Level = 2 or ElementName = 'nothing'")
    assert [r["InstanceID"] for r in rows] == ["C1"]
    with pytest.raises(CIMError) as e:
        conn.ExecQuery("WQL", "SELECT * FROM")
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_QUERY
    with pytest.raises(CIMError) as e:
        conn.ExecQuery("SQL92", "SELECT * FROM XenTest_Element")
    assert e.value.status_code == pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED


def test_pull_operations(conn):
    r = conn.OpenEnumerateInstances("XenTest_Element", MaxObjectCount=2)
    assert len(r.instances) == 2 and not r.eos and r.context is not None
    got = [i["InstanceID"] for i in r.instances]
    r2 = conn.PullInstancesWithPath(r.context, MaxObjectCount=2)
    got += [i["InstanceID"] for i in r2.instances]
    assert not r2.eos
    conn.CloseEnumeration(r2.context)
    with pytest.raises(CIMError) as e:
        conn.PullInstancesWithPath(r2.context, MaxObjectCount=2)
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT
    everything = list(conn.IterEnumerateInstances("XenTest_Element", MaxObjectCount=2))
    assert sorted(i["InstanceID"] for i in everything) == ["C0", "C1", "E0", "E1", "E2"]
    assert all(i.path.namespace == "root/cimv2" for i in everything)
    paths = list(conn.IterEnumerateInstancePaths("XenTest_Child", MaxObjectCount=1))
    assert sorted(p["InstanceID"] for p in paths) == ["C0", "C1"]
    r = conn.OpenEnumerateInstances("XenTest_Element", MaxObjectCount=100, PropertyList=["Counter"])
    assert r.eos and len(r.instances) == 5 and all(list(i.properties) == ["Counter"] for i in r.instances)


def test_authentication(auth_broker):
    good = pywbem.WBEMConnection(auth_broker.url, creds=("alice", "s3cret"), default_namespace="root/cimv2")
    assert len(good.EnumerateInstanceNames("XenTest_Element")) == 5
    bad = pywbem.WBEMConnection(auth_broker.url, creds=("alice", "wrong"), default_namespace="root/cimv2")
    with pytest.raises(pywbem.AuthError):
        bad.EnumerateInstanceNames("XenTest_Element")
    anon = pywbem.WBEMConnection(auth_broker.url, default_namespace="root/cimv2")
    with pytest.raises(pywbem.AuthError):
        anon.EnumerateInstanceNames("XenTest_Element")


def test_embedded_instance_round_trip(conn):
    inner = CIMInstance("XenTest_Stored", properties={"Name": "inner", "Value": Sint32(1)})
    conn.CreateInstance(CIMInstance("XenTest_Stored", properties={"Name": "outer", "Embedded": inner}))
    path = CIMInstanceName("XenTest_Stored", keybindings={"Name": "outer"}, namespace="root/cimv2")
    got = conn.GetInstance(path)
    assert isinstance(got["Embedded"], CIMInstance)
    assert got["Embedded"].classname == "XenTest_Stored" and got["Embedded"]["Value"] == 1
    conn.DeleteInstance(path)


def test_pull_associations_and_queries(conn):
    e0 = iname("E0")
    r = conn.OpenAssociatorInstances(e0, AssocClass="XenTest_Link", MaxObjectCount=1, PropertyList=["Level"])
    got = [i["Level"] for i in r.instances]
    assert not r.eos
    r2 = conn.PullInstancesWithPath(r.context, MaxObjectCount=10)
    got += [i["Level"] for i in r2.instances]
    assert r2.eos and sorted(got) == [1, 2]
    paths = conn.OpenAssociatorInstancePaths(e0, ResultRole="Child", MaxObjectCount=10)
    assert paths.eos and sorted(p["InstanceID"] for p in paths.paths) == ["C0", "C1"]
    refs = conn.OpenReferenceInstances(e0, Role="Parent", MaxObjectCount=10)
    assert refs.eos and len(refs.instances) == 2 and all(i.classname == "XenTest_Link" for i in refs.instances)
    rp = conn.OpenReferenceInstancePaths(iname("C1", "XenTest_Child"), MaxObjectCount=0)
    assert not rp.eos and rp.paths == []
    rp2 = conn.PullInstancePaths(rp.context, MaxObjectCount=5)
    assert rp2.eos and len(rp2.paths) == 1
    q = conn.OpenQueryInstances("WQL", "SELECT InstanceID FROM XenTest_Child WHERE Level > 1", MaxObjectCount=0)
    assert not q.eos
    q2 = conn.PullInstances(q.context, MaxObjectCount=10)
    assert q2.eos and [i["InstanceID"] for i in q2.instances] == ["C1"]
    with pytest.raises(CIMError) as e:
        conn.PullInstancesWithPath(conn.OpenQueryInstances("WQL", "SELECT * FROM XenTest_Element", MaxObjectCount=0).context, MaxObjectCount=1)
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_ENUMERATION_CONTEXT
    origin = conn.OpenEnumerateInstances("XenTest_Child", IncludeClassOrigin=True, MaxObjectCount=5)
    assert origin.instances[0].properties["Level"].class_origin == "XenTest_Child"
    it = list(conn.IterAssociatorInstances(e0, MaxObjectCount=1))
    assert sorted(i["InstanceID"] for i in it) == ["C0", "C1"]
