"""registration/: the OpenPegasus registration MOF is what gen-pegasus-mof.py makes of the .reg
files, and install.sh stages the library, MOF and registrations for SFCB and Pegasus into a
temporary prefix (neither broker is installed here: the tools are reported, not run)."""
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REG = os.path.join(ROOT, "registration")
INSTALL = os.path.join(REG, "install.sh")


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_pegasus_mof", os.path.join(REG, "gen-pegasus-mof.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = load_generator()
REGS = gen.read_regs()


def mof_classes():
    """{class: (file, superclass)} for every class defined in mof/Xen_*.mof."""
    out = {}
    mof = os.path.join(ROOT, "mof")
    for f in sorted(os.listdir(mof)):
        if f.endswith(".mof"):
            text = open(os.path.join(mof, f)).read()
            for m in re.finditer(r"^\s*class\s+(\w+)\s*(?::\s*(\w+))?", text, re.M):
                out[m.group(1)] = (f, m.group(2))
    return out


def test_pegasus_mof_is_regenerated_from_the_reg_files():
    current = open(gen.OUTPUT).read()
    assert current == gen.generate(), "registration/pegasus/Xen_Registration.mof is stale: run registration/gen-pegasus-mof.py"
    r = subprocess.run([os.path.join(REG, "gen-pegasus-mof.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_new_reg_file_changes_the_pegasus_mof(tmp_path):
    for f in os.listdir(REG):
        if f.endswith(".reg"):
            shutil.copy(os.path.join(REG, f), tmp_path)
    (tmp_path / "Xen_Later.reg").write_text("[Xen_Later]\n provider: Xen_Later\n location: xen_cim_providers\n"
                                            " type: instance association # later\n namespace: root/interop root/cimv2\n")
    text = gen.render(gen.read_regs(str(tmp_path)), "0.1.0")
    assert text != open(gen.OUTPUT).read()
    block = text[text.index('CapabilityID = "Xen_Later"'):]
    block = block[:block.index("\n};")]
    assert 'Namespaces = {"root/interop", "root/cimv2"};' in block
    assert "ProviderType = {2, 3};" in block


def test_every_registration_has_its_pegasus_capabilities():
    text = open(gen.OUTPUT).read()
    assert text.count("instance of PG_ProviderModule") == 1
    assert re.search(r'Location = "xen_cim_providers";', text) and 'InterfaceType = "CMPI";' in text
    assert 'InterfaceVersion = "2.0.0";' in text
    caps = re.findall(r"instance of PG_ProviderCapabilities\n\{(.*?)\n\};", text, re.S)
    assert len(caps) == len(REGS)
    numbers = {"instance": 2, "association": 3, "indication": 4, "method": 5}
    for r, cap in zip(REGS, caps):
        assert f'ClassName = "{r["class"]}";' in cap
        assert f'ProviderName = "{r["provider"]}";' in cap
        assert "Namespaces = {" + ", ".join(f'"{n}"' for n in r["namespaces"]) + "};" in cap
        types = sorted({numbers[t] for t in r["types"]})
        assert "ProviderType = {" + ", ".join(map(str, types)) + "};" in cap
        assert f'instance of PG_Provider\n{{\n    ProviderModuleName = "xen_cim_providers";\n    Name = "{r["provider"]}";' in text


def test_generator_reads_reg_files_like_the_broker():
    regs = gen.parse_reg("# c\n[A]\n provider: P # x\n location: l\n type: Instance method\n\n[B]\n provider: Q\n location: l\n"
                         " type: association\n", "t.reg")
    assert [(r["class"], r["types"], r["namespaces"]) for r in regs] == [
        ("A", ["instance", "method"], ["root/cimv2"]), ("B", ["association"], ["root/cimv2"])]
    with pytest.raises(gen.RegError, match=r"t.reg:1: \[A\] has no location:"):
        gen.parse_reg("[A]\n provider: P\n type: instance\n", "t.reg")
    with pytest.raises(gen.RegError, match="unknown provider type bogus"):
        gen.parse_reg("[A]\n type: bogus\n", "t.reg")


@pytest.fixture
def fake_lib(tmp_path):
    lib = tmp_path / "build" / "libxen_cim_providers.so"
    lib.parent.mkdir()
    lib.write_bytes(b"\x7fELF not really, but copied byte for byte")
    return lib


def install(*args):
    env = {k: v for k, v in os.environ.items()}
    env["PATH"] = "/usr/bin:/bin"  # no broker tools in a test, even where one is installed
    return subprocess.run([INSTALL, *args], capture_output=True, text=True, env=env, timeout=60)


def check_namespace_mof(path, namespace):
    """The staged MOF of a namespace: the classes that belong there, each after its Xen parent."""
    text = open(path).read()
    defined = re.findall(r"^\s*class\s+(\w+)\s*(?::\s*(\w+))?", text, re.M)
    names = [c for c, _ in defined]
    for i, (cls, parent) in enumerate(defined):
        if parent and parent.startswith("Xen_"):
            assert parent in names[:i], f"{cls} comes before its parent {parent} in {path}"
    assert "#pragma" not in text
    mine = {r["class"] for r in REGS if namespace in r["namespaces"]}
    assert mine <= set(names), f"registered in {namespace} but not staged: {mine - set(names)}"
    if namespace == "root/cimv2":
        assert set(names) == set(mof_classes()), "every class of mof/ in root/cimv2"
    return names


def test_install_sfcb_into_a_prefix(tmp_path, fake_lib):
    prefix = tmp_path / "usr"
    r = install("--broker", "sfcb", "--prefix", str(prefix), "--lib", str(fake_lib))
    assert r.returncode == 0, r.stderr
    assert (prefix / "lib/cmpi/libxen_cim_providers.so").read_bytes() == fake_lib.read_bytes()
    stage = prefix / "var/lib/sfcb/stage"
    staged = sorted(os.listdir(stage / "regs"))
    assert staged == sorted(f for f in os.listdir(REG) if f.endswith(".reg"))
    classes = {r["class"] for r in gen.read_regs(str(stage / "regs"))}
    assert classes == {r["class"] for r in REGS}
    namespaces = {n for r in REGS for n in r["namespaces"]}
    assert sorted(os.listdir(stage / "mofs/root")) == sorted(n.split("/")[1] for n in namespaces)
    for ns in namespaces:
        check_namespace_mof(stage / "mofs" / ns / "xencim.mof", ns)
    interop = check_namespace_mof(stage / "mofs/root/interop/xencim.mof", "root/interop")
    assert "Xen_ComputerSystem" not in interop
    assert f"sfcbrepos -f -s {stage} -r {prefix}/var/lib/sfcb/registration" in r.stdout
    assert "sfcbrepos is not installed here" in r.stdout


def test_install_pegasus_into_a_prefix(tmp_path, fake_lib):
    prefix = tmp_path / "opt"
    r = install("--broker", "pegasus", "--prefix", str(prefix), "--lib", str(fake_lib))
    assert r.returncode == 0, r.stderr
    assert (prefix / "lib/Pegasus/providers/libxen_cim_providers.so").read_bytes() == fake_lib.read_bytes()
    share = prefix / "share/xencim/pegasus"
    assert (share / "Xen_Registration.mof").read_text() == open(gen.OUTPUT).read()
    for ns in {n for r in REGS for n in r["namespaces"]}:
        f = share / f"xencim-{ns.replace('/', '_')}.mof"
        check_namespace_mof(f, ns)
        assert f"cimmof -uc -aEV -n {ns} {f}" in r.stdout
    assert f"cimmof -n root/PG_InterOp {share}/Xen_Registration.mof" in r.stdout
    assert "cimmof is not installed here" in r.stdout
    r = install("--broker", "pegasus", "--prefix", str(tmp_path / "other"), "--lib", str(fake_lib), "--pegasus-interop", "root/interop")
    assert r.returncode == 0 and "cimmof -n root/interop " in r.stdout


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path, fake_lib):
    for broker, tool in (("sfcb", "+ sfcbrepos -f"), ("pegasus", "+ cimmof -n root/PG_InterOp")):
        prefix = tmp_path / broker
        r = install("--broker", broker, "--prefix", str(prefix), "--lib", str(fake_lib), "--dry-run")
        assert r.returncode == 0, r.stderr
        assert not prefix.exists()
        assert "dry run" in r.stdout and tool in r.stdout
        assert f"+ cp {fake_lib} {prefix}/lib/" in r.stdout
        assert "Xen_ComputerSystem.reg" in r.stdout if broker == "sfcb" else "Xen_Registration.mof" in r.stdout


@pytest.mark.parametrize("args, words", [
    ([], "--broker sfcb|pegasus is required"),
    (["--broker", "openwbem"], "unknown broker 'openwbem'"),
    (["--broker"], "--broker needs a value"),
    (["--broker", "sfcb", "--frobnicate"], "unknown argument: --frobnicate"),
    (["--broker", "sfcb", "--lib", "/nonexistent/libx.so"], "--lib /nonexistent/libx.so: no such file"),
])
def test_bad_arguments_are_refused(args, words):
    r = install(*args)  # each is refused before anything is written
    assert r.returncode == 2
    assert words in r.stderr
