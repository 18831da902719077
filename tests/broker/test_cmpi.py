"""CMPI provider libraries loaded by the provider manager from SFCB .reg
registrations (cmpi-shim's test provider), driven with pywbem and wbemcli."""
import shutil
import subprocess

import pytest
import pywbem
from pywbem import CIMError, CIMInstance, CIMInstanceName, Uint32


@pytest.fixture
def cc(cmpi_broker):
    return pywbem.WBEMConnection(cmpi_broker.url, creds=("carol", "pw"), default_namespace="root/cimv2", timeout=30)


def el(name):
    return CIMInstanceName("Test_Element", keybindings={"Name": name}, namespace="root/cimv2")


def test_enumerate_and_get(cc):
    insts = cc.EnumerateInstances("Test_Element")
    assert {i["Name"] for i in insts} >= {"a", "b", "c"}
    assert all(isinstance(i["Size"], Uint32) for i in insts)
    names = cc.EnumerateInstanceNames("Test_Element")
    assert {n["Name"] for n in names} >= {"a", "b", "c"}
    a = cc.GetInstance(el("a"), PropertyList=["Size"])
    assert list(a.properties) == ["Size"] and a["Size"] == 1
    with pytest.raises(CIMError) as e:
        cc.GetInstance(el("nope"))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_create_modify_delete(cc):
    p = cc.CreateInstance(CIMInstance("Test_Element", properties={"Name": "new1", "Size": Uint32(7)}))
    assert p["Name"] == "new1"
    i = cc.GetInstance(el("new1"))
    assert i["Size"] == 7
    i["Size"] = Uint32(8)
    cc.ModifyInstance(i)
    assert cc.GetInstance(el("new1"))["Size"] == 8
    cc.DeleteInstance(el("new1"))
    with pytest.raises(CIMError) as e:
        cc.GetInstance(el("new1"))
    assert e.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_associations_through_the_association_mi(cc):
    assert sorted(n["Name"] for n in cc.AssociatorNames(el("a"))) == ["b", "c"]
    assert [n["Name"] for n in cc.AssociatorNames(el("b"), Role="Dependent", ResultRole="Antecedent")] == ["a"]
    assert cc.AssociatorNames(el("b"), Role="Antecedent") == []
    refs = cc.References(el("a"), Role="Antecedent")
    assert len(refs) == 2 and {r["Dependent"]["Name"] for r in refs} == {"b", "c"}
    assert len(cc.ReferenceNames(el("c"))) == 1
    assoc = cc.Associators(el("a"), AssocClass="Test_Link")
    assert sorted(a["Name"] for a in assoc) == ["b", "c"] and all("Size" in a for a in assoc)


def test_methods_and_principal(cc):
    rv, out = cc.InvokeMethod("Echo", el("a"), Text="hi", Count=Uint32(3))
    assert rv == 2 and out["Text"] == "hi" and out["Count"] == 3
    rv, out = cc.InvokeMethod("WhoAmI", el("a"))
    assert out["Principal"] == "carol"
    assert out["Namespace"] == "root/cimv2"
    assert out["Target"]["Name"] == "a"


def test_provider_panic_is_a_cim_error(cc, cmpi_broker):
    for call in (lambda: cc.EnumerateInstances("Test_Crash"),
                 lambda: cc.GetInstance(CIMInstanceName("Test_Crash", keybindings={"Name": "x"})),
                 lambda: cc.InvokeMethod("Go", CIMInstanceName("Test_Crash", keybindings={"Name": "x"}))):
        with pytest.raises(CIMError) as e:
            call()
        assert e.value.status_code == pywbem.CIM_ERR_FAILED
        assert "boom" in e.value.status_description
    assert cmpi_broker.alive()
    assert len(cc.EnumerateInstanceNames("Test_Element")) >= 3


@pytest.mark.skipif(shutil.which("wbemcli") is None, reason="wbemcli is not installed (apt-get install sblim-wbemcli)")
def test_wbemcli_against_cmpi_provider(cmpi_broker):
    base = f"http://carol:pw@{cmpi_broker.addr}/root/cimv2"
    out = subprocess.run(["wbemcli", "ei", f"{base}:Test_Element"], capture_output=True, text=True, check=True).stdout
    assert 'Name="a"' in out
    # (wbemcli 1.6 cannot print reference or NULL output parameters, so WhoAmI is left to pywbem)
    out = subprocess.run(["wbemcli", "cm", f'{base}:Test_Element.Name="a"', 'Echo.Text="x y",Count=4'], capture_output=True, text=True, check=True).stdout
    assert "Echo: 2" in out and "Text (string): x y" in out and "Count (uint32): 4" in out
    r = subprocess.run(["wbemcli", "ei", f"http://carol:wrong@{cmpi_broker.addr}/root/cimv2:Test_Element"], capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid username/password" in (r.stdout + r.stderr)


def test_provider_upcalls_reach_the_broker(cc):
    rv, out = cc.InvokeMethod("Upcall", el("a"))
    assert rv == 2, "the provider enumerated Test_Other (served by the broker's store) through the broker"
    assert sorted(p["Id"] for p in out["Names"]) == ["o1", "o2"]


def test_provider_error_code_passes_through(cc):
    with pytest.raises(CIMError) as e:
        cc.InvokeMethod("Fail", el("a"))
    assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER
    assert "asked to fail" in e.value.status_description
