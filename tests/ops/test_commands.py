"""`xencim --version`, `serve --check-config`, `status`, completions and manual pages."""
import os
import shutil
import subprocess
import tomllib

import pytest
import XenAPI

from ops_env import PASSWORD, xencim
from xenapi_server import Server, new_state_dir
from cim_env import vm_record


def test_version_names_the_api_version():
    r = xencim("--version", check=True)
    assert r.stdout.startswith("xencim 0.1.0 ")
    assert "(XenAPI 2.21)" in r.stdout


def test_check_config_prints_the_effective_settings_and_reads_back(tmp_path):
    cfg = tmp_path / "xencim.toml"
    cfg.write_text('state_dir = "/srv/xencim"\nxenapi_listen = "127.0.0.1:18080"\ncim_listen = "off"\n'
                   '[sim_host]\ncpus = 2\n')
    r = xencim("serve", "--config", str(cfg), "--max-connections", "7", "--check-config")
    assert r.returncode == 0, r.stderr
    effective = tomllib.loads(r.stdout)
    assert effective["state_dir"] == "/srv/xencim"
    assert effective["xenapi_listen"] == "127.0.0.1:18080"
    assert effective["max_connections"] == 7  # the command line wins over the file
    assert effective["tls_cert"] == "/srv/xencim/xapi-cert.pem"  # defaults follow state_dir
    assert effective["sim_host"]["cpus"] == 2 and effective["sim_host"]["memory_mib"] == 32768
    assert not os.path.exists("/srv/xencim"), "--check-config must not create the state directory"
    # What it prints is a config file giving the same settings.
    again = tmp_path / "effective.toml"
    again.write_text(r.stdout)
    r2 = xencim("serve", "--config", str(again), "--check-config")
    assert r2.returncode == 0, r2.stderr
    assert tomllib.loads(r2.stdout) == effective


def test_check_config_never_prints_the_root_password(tmp_path):
    pw = tmp_path / "rootpw"
    pw.write_text("Sup3r-Secret-Root\n")
    r = xencim("serve", "--state-dir", str(tmp_path), "--root-password-file", str(pw), "--cim-listen", "off",
               "--check-config")
    assert r.returncode == 0, r.stderr
    assert "Sup3r-Secret-Root" not in r.stdout + r.stderr
    assert tomllib.loads(r.stdout)["root_password_file"] == str(pw)


def test_check_config_rejects_an_unknown_key_by_name(tmp_path):
    cfg = tmp_path / "xencim.toml"
    cfg.write_text('state_dir = "/tmp/x"\nxenapi_lisen = "127.0.0.1:1"\n')
    r = xencim("serve", "--config", str(cfg), "--check-config")
    assert r.returncode != 0
    assert "xenapi_lisen" in r.stderr
    assert str(cfg) in r.stderr
    assert "Traceback" not in r.stderr and "panicked" not in r.stderr


@pytest.mark.parametrize("text,named", [
    ('xenapi_tls_listen = "everywhere"\n', "xenapi_tls_listen"),
    ('backend = "qemu"\n', "unknown backend qemu"),
    ('cim_mof_dir = "/nonexistent/mof"\n', "cim_mof_dir"),
    ('cim_schema = "/nonexistent/schema"\n', "cim_schema"),
    ('[sim_host]\ncpuz = 4\n', "cpuz"),
])
def test_check_config_rejects_bad_values(tmp_path, text, named):
    cfg = tmp_path / "xencim.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\n' + text)
    r = xencim("serve", "--config", str(cfg), "--check-config")
    assert r.returncode != 0
    assert named in r.stderr, r.stderr


@pytest.fixture(scope="module")
def running():
    d = new_state_dir()
    s = Server(d).start()
    yield s
    s.stop()


def test_status_answers_over_the_unix_socket(running):
    x = XenAPI.Session(running.url)
    x.xenapi.login_with_password("root", PASSWORD, "2.21", "ops-tests")
    try:
        a = x.xenapi.VM.create(vm_record("status-a"))
        x.xenapi.VM.create(vm_record("status-b"))
        x.xenapi.VM.start(a, False, False)
        r = xencim("status", "--state-dir", running.state_dir, "--password-file", running.pwfile)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert f"endpoint:  unix:{running.socket}" in out
        assert "VMs:       2 (Halted 1, Running 1)" in out
        assert "hosts:     1" in out
        assert "XenAPI 2.21" in out and " up " in out
        listeners = next(line for line in out.splitlines() if line.startswith("listeners:"))
        assert running.url in listeners and running.tls_url in listeners and running.socket in listeners
        # This SDK session and the status command's own.
        sessions = next(line for line in out.splitlines() if line.startswith("sessions:"))
        assert int(sessions.split()[1]) >= 2
    finally:
        x.xenapi.session.logout()


def test_status_with_a_wrong_password_says_so(running, tmp_path):
    wrong = tmp_path / "pw"
    wrong.write_text("not-the-password\n")
    r = xencim("status", "--state-dir", running.state_dir, "--password-file", str(wrong))
    assert r.returncode != 0
    assert "SESSION_AUTHENTICATION_FAILED" in r.stderr
    assert "panicked" not in r.stderr


def test_status_without_a_server_says_so(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    r = xencim("status", "--state-dir", str(tmp_path), "--password-file", str(pw))
    assert r.returncode != 0
    assert "is xencim serve running?" in r.stderr


def test_bash_completion_is_generated_and_parses(tmp_path):
    r = xencim("completions", "bash", check=True)
    assert "complete -F" in r.stdout and "--check-config" in r.stdout
    script = tmp_path / "xencim.bash"
    script.write_text(r.stdout)
    subprocess.run(["bash", "-n", str(script)], check=True)
    for shell in ("zsh", "fish"):
        assert "check-config" in xencim("completions", shell, check=True).stdout


def test_man_pages_are_generated(tmp_path):
    page = xencim("man", check=True).stdout
    assert page.startswith(".ie") or ".TH xencim" in page
    assert ".TH xencim 1" in page
    r = xencim("man", "--dir", str(tmp_path), check=True)
    names = sorted(os.listdir(tmp_path))
    assert {"xencim.1", "xencim-serve.1", "xencim-status.1", "xencim-user.1"} <= set(names), names
    serve = (tmp_path / "xencim-serve.1").read_text()
    assert "check\\-config" in serve
    if shutil.which("groff"):
        subprocess.run(["groff", "-man", "-Tutf8", str(tmp_path / "xencim-serve.1")], check=True, capture_output=True)
