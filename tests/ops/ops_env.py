"""Helpers for the operator-experience tests: run `xencim` and read what it prints."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "xenapi"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cim"))
from xenapi_server import PASSWORD, ROOT, free_port, new_state_dir, xencim_binary  # noqa: E402,F401

SCHEMA = os.environ.get("CIM_SCHEMA_DIR")
READY = "ready:"  # the last start-up line: every listener is bound


def xencim(*args, check=False, **kw):
    return subprocess.run([xencim_binary(), *args], capture_output=True, text=True, timeout=60, check=check, **kw)


class Started:
    """A `xencim serve` whose output (stdout and stderr together) is kept in a file."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_ready(self, timeout=120):
        """Waits for the readiness line; returns the output up to and including it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.output()
            if any(READY in line for line in out.splitlines()):
                return out
            if self.proc.poll() is not None:
                raise RuntimeError(f"xencim exited ({self.proc.returncode}):\n{out}")
            time.sleep(0.1)
        raise RuntimeError("xencim did not report ready:\n" + self.output())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
