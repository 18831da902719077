"""The broker answers sblim wbemcli (gc, ecn, ei, ein, gi, ci, mi, di, ai,
ain, ri, rin, cm). wbemcli 1.6 has no query (eq) command."""
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("wbemcli") is None, reason="wbemcli is not installed (apt-get install sblim-wbemcli)")


def wbemcli(*args, check=True):
    r = subprocess.run(["wbemcli", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr + r.stdout
    return r


def base(broker):
    return f"http://{broker.addr}/root/cimv2"


def test_gc_and_ecn(broker):
    out = wbemcli("gc", f"{base(broker)}:XenTest_Child").stdout
    assert "XenTest_Child" in out and "Level=" in out and "InstanceID=" in out
    out = wbemcli("ecn", f"{base(broker)}:XenTest_Element").stdout
    assert "XenTest_Child" in out


def test_ei_ein_gi(broker):
    out = wbemcli("ei", f"{base(broker)}:XenTest_Child").stdout
    assert 'InstanceID="C0"' in out and "Level=1" in out
    out = wbemcli("ein", f"{base(broker)}:XenTest_Element").stdout.splitlines()
    assert len(out) == 5
    out = wbemcli("gi", f'{base(broker)}:XenTest_Element.InstanceID="E0"').stdout
    assert 'ElementName="element E0"' in out


def test_ci_mi_di(broker):
    p = f'{base(broker)}:XenTest_Stored.Name="cli"'
    wbemcli("ci", p, 'Name="cli",Value=3,Note="from wbemcli"')
    assert "Value=3" in wbemcli("gi", p).stdout
    wbemcli("mi", p, "Value=4")
    assert "Value=4" in wbemcli("gi", p).stdout
    wbemcli("di", p)
    r = wbemcli("gi", p, check=False)
    assert r.returncode != 0 and "CIM_ERR_NOT_FOUND" in (r.stderr + r.stdout)


def test_associations(broker):
    p = f'{base(broker)}:XenTest_Element.InstanceID="E0"'
    out = wbemcli("ain", p).stdout
    assert 'InstanceID="C0"' in out and 'InstanceID="C1"' in out
    out = wbemcli("ai", "-arc", "XenTest_Child", p).stdout
    assert "Level=" in out
    out = wbemcli("rin", p).stdout
    assert out.count("XenTest_Link") == 2
    out = wbemcli("ri", "-ar", "Parent", p).stdout
    assert "XenTest_Link" in out
    assert wbemcli("rin", "-ar", "Child", p).stdout.strip() == ""


def test_cm(broker):
    out = wbemcli("cm", f'{base(broker)}:XenTest_Element.InstanceID="E0"', "Bump.By=5").stdout
    assert "Bump: 0" in out and "NewValue (uint32): 5" in out
