"""The state directory is private to the server's user, and the generated root password reaches
only the terminal: never the log."""
import os
import pty
import re
import stat
import subprocess
import sys
import threading
import time
import urllib.request

import XenAPI

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "xenapi"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cim"))
from xenapi_server import FAST, PASSWORD, Server, free_port, new_state_dir, write_sim_config, xencim_binary  # noqa: E402
from cim_env import build_providers, wait_for_port  # noqa: E402

GiB = 1 << 30
# Written into the state directory by the test harness, not by the server.
HARNESS_FILES = {"rootpw", "server.log", "xencim.toml"}


def modes(state_dir):
    """path (relative) -> (is_dir, permission bits) of everything under state_dir."""
    out = {}
    for root, dirs, files in os.walk(state_dir):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                continue
            out[os.path.relpath(p, state_dir)] = (stat.S_ISDIR(st.st_mode), stat.S_IMODE(st.st_mode))
    return out


def not_private(state_dir):
    """What in state_dir is not 0700 (directories) or 0600 (files): {path: mode}."""
    wrong = {}
    top = stat.S_IMODE(os.stat(state_dir).st_mode)
    if top != 0o700:
        wrong["."] = oct(top)
    for rel, (is_dir, mode) in modes(state_dir).items():
        if rel in HARNESS_FILES:
            continue
        if mode != (0o700 if is_dir else 0o600):
            wrong[rel] = oct(mode)
    return wrong


def start_with_cim(d, extra=()):
    build_providers()
    port = free_port()
    s = Server(d, write_sim_config(d, **FAST) + ["--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", "off"]
               + list(extra)).start()
    wait_for_port(port)  # the broker's files are written before it listens
    return s


def use_everything(srv):
    """Makes the server write what it writes: the database (and its -wal and -shm), the simulated
    host's domains, a suspend image, a disk image (qemu-img, a child process)."""
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", "private-state")
    x = s.xenapi
    try:
        from test_xenapi_core import vm_record
        vm = x.VM.create(vm_record("private", memory_static_max=str(GiB), memory_dynamic_max=str(GiB),
                                   memory_dynamic_min=str(GiB // 2), memory_static_min=str(GiB // 4),
                                   VCPUs_max="1", VCPUs_at_startup="1", blocked_operations={}))
        x.VM.start(vm, False, False)
        x.VM.suspend(vm)
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        x.VDI.create(dict(SR=sr, virtual_size=str(1 << 20), type="user", sharable=False, read_only=False,
                          other_config={}, name_label="private-disk", name_description=""))
    finally:
        x.session.logout()


def test_everything_the_server_writes_is_private_whatever_the_umask():
    old = os.umask(0o022)  # what a typical login shell has: new files 0644, directories 0755
    try:
        d = new_state_dir()
        srv = start_with_cim(d)
    finally:
        os.umask(old)
    try:
        use_everything(srv)
        found = modes(d)
        for name in ["xapi.db", "xapi.db-wal", "xapi.db-shm", "providers.toml", "cim-provider-password",
                     "sim-domains.json", "xapi-key.pem", "xapi-cert.pem", "xapi.sock", "suspend", "cim"]:
            assert name in found, f"{name} is not in the state directory: {sorted(found)}"
        assert any(r.startswith("sr" + os.sep) and not found[r][0] for r in found), "no disk image was made"
        assert not_private(d) == {}
    finally:
        srv.stop()


def test_an_older_state_directory_is_tightened_at_start():
    d = new_state_dir()
    srv = start_with_cim(d)
    use_everything(srv)
    srv.stop()
    # What an older xencim left: 0755 directories, 0644 files.
    for root, dirs, files in os.walk(d):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
        for n in files:
            p = os.path.join(root, n)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
    os.chmod(d, 0o755)
    assert not_private(d) != {}
    line = r"restricted \d+ entries of the state directory"
    seen = len(open(srv.log_path).read())
    srv.start()
    try:
        assert not_private(d) == {}, "tightened before anything is served"
    finally:
        srv.stop()
    log = open(srv.log_path).read()[seen:]
    assert len(re.findall(line, log)) == 1, "one log line says so"
    seen += len(log)
    srv.start()  # nothing left to tighten: no new line
    srv.stop()
    assert re.findall(line, open(srv.log_path).read()[seen:]) == []


def start_generating(d, **popen):
    """A server that generates root's password (no --root-password-file); waits until it answers."""
    port = free_port()
    old = os.umask(0o022)
    try:
        proc = subprocess.Popen([xencim_binary(), "serve", "--state-dir", d, "--xenapi-listen", f"127.0.0.1:{port}",
                                 "--xenapi-tls-listen", "off", "--cim-listen", "off"], **popen)
    finally:
        os.umask(old)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, "xencim exited early"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("xencim did not start")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode


def test_generated_password_never_reaches_the_log(tmp_path):
    """Log (stderr) and stdout go to files, as under a service manager: the password is in
    neither, at the most verbose log level, while the log says where the password file is."""
    d = str(tmp_path / "state")
    out, err = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")
    env = dict(os.environ, RUST_LOG="trace")
    proc, port = start_generating(d, stdout=out, stderr=err, env=env)
    try:
        pwfile = os.path.join(d, "initial-password")
        pw = open(pwfile).read().strip()
        assert len(pw) >= 16
        s = XenAPI.Session(f"http://127.0.0.1:{port}/")
        s.xenapi.login_with_password("root", pw)
        s.xenapi.session.logout()
    finally:
        assert stop(proc) == 0
        out.close()
        err.close()
    log = (tmp_path / "stderr").read_text()
    assert "XenAPI listening on" in log, "the log was captured"
    assert pw not in log, "the generated password is in the log"
    assert pw not in (tmp_path / "stdout").read_text()
    assert pwfile in log, "the log says where the password is"
    assert not_private(d) == {}, "the directory the server made, and what is in it, are private"


def test_generated_password_is_shown_on_a_terminal(tmp_path):
    """On a terminal the person starting the server sees the password once."""
    d = str(tmp_path / "state")
    master, slave = pty.openpty()
    seen = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc, _ = start_generating(d, stdout=subprocess.DEVNULL, stderr=slave)
    try:
        pw = open(os.path.join(d, "initial-password")).read().strip()
    finally:
        assert stop(proc) == 0
        os.close(slave)
        reader.join(timeout=5)
        os.close(master)
    text = seen.decode(errors="replace")
    assert text.count(pw) == 1, text
    line = next(l for l in text.splitlines() if pw in l)
    assert line.startswith("xencim: first start"), f"printed directly, not as a log record: {line!r}"
