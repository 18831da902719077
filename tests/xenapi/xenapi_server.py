"""A real `xencim serve` on ephemeral loopback ports with a private state directory."""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSWORD = "e2e-root-password"


def xencim_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "debug", "xencim")
    if not os.environ.get("XENCIM_SKIP_BUILD"):
        subprocess.run(["cargo", "build", "--quiet", "--bin", "xencim"], cwd=ROOT, check=True)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One xencim serve process; can be stopped and started again on the same state."""

    def __init__(self, state_dir, extra_args=()):
        self.state_dir = state_dir
        self.port = free_port()
        self.tls_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.tls_url = f"https://127.0.0.1:{self.tls_port}/"
        self.socket = os.path.join(state_dir, "xapi.sock")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(state_dir, "server.log")
        pwfile = os.path.join(state_dir, "rootpw")
        if not os.path.exists(pwfile):
            with open(pwfile, "w") as f:
                f.write(PASSWORD + "\n")
        self.pwfile = pwfile

    def start(self):
        args = [xencim_binary(), "serve", "--state-dir", self.state_dir,
                "--xenapi-listen", f"127.0.0.1:{self.port}",
                "--xenapi-tls-listen", f"127.0.0.1:{self.tls_port}",
                "--root-password-file", self.pwfile] + self.extra_args
        if "--cim-listen" not in self.extra_args:
            args += ["--cim-listen", "off"]  # these tests are about the XenAPI
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xencim exited early:\n" + open(self.log_path).read())
            try:
                urllib.request.urlopen(self.url, timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("xencim did not start:\n" + open(self.log_path).read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()


# A simulated host whose guests answer quickly, for the lifecycle and storage tests.
FAST = dict(guest_shutdown_ms=20, shutdown_timeout_secs=1.5, metrics_interval_secs=0.3,
            memory_mib=16384, dom0_memory_mib=1024, cpus=4)


def write_sim_config(state_dir, **sim_host):
    """A config file with a [sim_host] table; returns the --config arguments."""
    path = os.path.join(state_dir, "xencim.toml")
    with open(path, "w") as f:
        f.write("[sim_host]\n")
        for k, v in sim_host.items():
            f.write(f"{k} = {v!r}\n" if not isinstance(v, str) else f'{k} = "{v}"\n')
    return ["--config", path]


def add_users(state_dir, users):
    """Adds local users (`{name: role}`) with `xencim user add` before the server starts; each
    one's password is "<name>-secret"."""
    for name, role in users.items():
        pw = os.path.join(state_dir, f"{name}-pw")
        with open(pw, "w") as f:
            f.write(f"{name}-secret\n")
        subprocess.run([xencim_binary(), "user", "add", "--state-dir", state_dir, "--name", name, "--role", role,
                        "--password-file", pw], check=True, capture_output=True)


def new_state_dir():
    # No underscores: the SDK's Unix-socket transport spells '/' as '_' in the host name.
    d = os.path.join("/tmp", "xencim-e2e-" + uuid.uuid4().hex)
    os.makedirs(d)
    return d
