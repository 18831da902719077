"""The Debian package, installed as an operator would: `dpkg -i` (as root; otherwise the package
is extracted with `dpkg -x` into a temporary root and run from there, which the test says), the
installed binary started with the installed config as the packaged system user, driven with the
official SDK, wbemcli and `xencim status`, then purged so that the machine is left as it was.

Packaging reuses the test run's debug build (`--profile dev --no-build` under
XENCIM_SKIP_BUILD): the package holds the same files a release build would, with bigger binaries.
"""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import XenAPI

from ops_env import READY, ROOT, SCHEMA, Started, free_port
from cim_env import vm_record

UNIT = "usr/lib/systemd/system/xencim.service"


def sh(*argv, **kw):
    kw.setdefault("timeout", 900)
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is not available: not a Debian system")
    out = tmp_path_factory.mktemp("deb")
    args = ["bash", os.path.join(ROOT, "packaging", "build-deb.sh"), "--profile", "dev", "--output", str(out)]
    if os.environ.get("XENCIM_SKIP_BUILD"):
        args.append("--no-build")
    t = time.time()
    r = sh(*args, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    path = r.stdout.strip().splitlines()[-1]
    print(f"\npackage {path} built in {time.time() - t:.0f}s", file=sys.stderr)
    return path


def test_package_contents(deb):
    listing = sh("dpkg-deb", "-c", deb, check=True).stdout
    for f in ["./usr/bin/xencim", "./usr/lib/xencim/libxen_cim_providers.so", "./usr/share/xencim/mof/Xen.mof",
              "./usr/share/xencim/mof/base/CIM_Base.mof", "./usr/share/xencim/registration/Xen_ComputerSystem.reg",
              "./etc/xencim/xencim.toml", "./" + UNIT, "./usr/share/man/man1/xencim.1.gz",
              "./usr/share/man/man1/xencim-serve.1.gz", "./usr/share/bash-completion/completions/xencim",
              "./usr/share/doc/xencim/operations.md"]:
        assert f in listing, f"{f} is not in the package"
    control = sh("dpkg-deb", "-I", deb, check=True).stdout
    assert "postinst" in control and "postrm" in control
    # An edited config survives upgrades: dpkg asks instead of overwriting it.
    assert sh("dpkg-deb", "-I", deb, "conffiles", check=True).stdout.split() == ["/etc/xencim/xencim.toml"]


class Installed:
    """Where the package's files are: / after dpkg -i, or a temporary root after dpkg -x."""

    def __init__(self, root):
        self.root = root

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))


@pytest.fixture(scope="module")
def installed(deb):
    # XENCIM_DEB_EXTRACT=1 takes the dpkg -x path even as root (to test that path).
    can_install = (os.geteuid() == 0 and not os.environ.get("XENCIM_DEB_EXTRACT")
                   and sh("dpkg", "-s", "xencim").returncode != 0 and not os.path.exists("/var/lib/xencim"))
    if not can_install:
        root = tempfile.mkdtemp(prefix="xencim-deb-root-")
        print(f"\nnot installing with dpkg -i (not root, xencim already installed, or XENCIM_DEB_EXTRACT): "
              f"dpkg -x into {root}",
              file=sys.stderr)
        sh("dpkg", "-x", deb, root, check=True)
        yield Installed(root)
        shutil.rmtree(root, ignore_errors=True)
        return
    had_user = user_exists("xencim")
    r = sh("dpkg", "-i", deb)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        yield Installed("/")
    finally:
        r = sh("dpkg", "--purge", "xencim")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists("/usr/bin/xencim") and not os.path.exists("/var/lib/xencim")
        assert not os.path.exists("/etc/xencim/xencim.toml")
        if not had_user:
            # Debian keeps system users on purge; the test removes the one it caused.
            sh("userdel", "xencim")


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_postinst_made_the_user_and_a_private_state_directory(installed):
    if installed.root != "/":
        pytest.skip("dpkg -x runs no maintainer script")
    st = os.stat("/var/lib/xencim")
    assert oct(st.st_mode & 0o777) == "0o700"
    assert pwd.getpwuid(st.st_uid).pw_name == "xencim"


def test_unit_verifies(installed):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed: the unit is not verified")
    if installed.root != "/":
        pytest.skip("the unit names /usr/bin/xencim, which dpkg -x did not install")
    r = sh("systemd-analyze", "verify", "/" + UNIT)
    # Lines about other units on this machine are not ours to judge.
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "xencim" in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def test_installed_server_serves_the_sdk_wbemcli_and_status(installed):
    binary = installed.path("/usr/bin/xencim")
    config = installed.path("/etc/xencim/xencim.toml")
    port, tls_port, cim_port = free_port(), free_port(), free_port()
    argv = [binary, "serve", "--config", config,
            "--xenapi-listen", f"127.0.0.1:{port}", "--xenapi-tls-listen", f"127.0.0.1:{tls_port}",
            "--cim-listen", f"127.0.0.1:{cim_port}", "--cim-tls-listen", "off"]
    if installed.root == "/":
        state = "/var/lib/xencim"  # the packaged state directory, as the service has it
        # As the service runs: the packaged system user (setpriv execs, so the pid is xencim's).
        argv = ["setpriv", "--reuid=xencim", "--regid=xencim", "--init-groups"] + argv
        readable = SCHEMA and sh("setpriv", "--reuid=xencim", "--regid=xencim", "--init-groups",
                                 "test", "-r", SCHEMA).returncode == 0
    else:
        state = tempfile.mkdtemp(prefix="xencim-deb-state-")
        argv += ["--state-dir", state,
                 "--cim-mof-dir", installed.path("/usr/share/xencim/mof"),
                 "--cim-registration-dir", installed.path("/usr/share/xencim/registration"),
                 "--cim-provider-lib-dir", installed.path("/usr/lib/xencim")]
        readable = bool(SCHEMA)
    if readable:
        argv += ["--cim-schema", SCHEMA]
    fd, log = tempfile.mkstemp(prefix="xencim-deb-serve-", suffix=".log")
    os.close(fd)
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    s = Started(argv, log, env=env)
    try:
        out = s.wait_ready()
        assert "initial-password" in out
        assert "/usr/lib/xencim/libxen_cim_providers.so" in out or installed.root != "/"
        password = open(os.path.join(state, "initial-password")).read().strip()
        x = XenAPI.Session(f"http://127.0.0.1:{port}/")
        x.xenapi.login_with_password("root", password, "2.21", "package-test")
        try:
            vm = x.xenapi.VM.create(vm_record("from-the-package"))
            assert x.xenapi.VM.get_power_state(vm) == "Halted"
            uuid = x.xenapi.VM.get_uuid(vm)
        finally:
            x.xenapi.session.logout()
        r = sh("wbemcli", "-nl", "ei", f"http://root:{password}@127.0.0.1:{cim_port}/root/cimv2:Xen_ComputerSystem",
               timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert uuid in r.stdout and "from-the-package" in r.stdout
        status_args = [binary, "status"]
        if installed.root != "/":
            status_args += ["--state-dir", state]
        # Installed: no option at all, the state directory comes from /etc/xencim/xencim.toml.
        r = sh(*status_args, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "VMs:       1 (Halted 1)" in r.stdout, r.stdout
        assert f"cim:http://127.0.0.1:{cim_port}/cimom" in r.stdout
    finally:
        rc = s.stop()
        out = s.output()
        os.unlink(log)
        if installed.root != "/":
            shutil.rmtree(state, ignore_errors=True)
    assert rc == 0, out
