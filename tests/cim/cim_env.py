"""A `xencim serve` with the embedded CIM broker and the Xen providers, for the CIM tests.

The XenAPI side is the server of tests/xenapi/xenapi_server.py; this adds the CIM-XML listener,
the DMTF schema and the provider library (`cargo build -p xen-cim-providers --lib`, into the same
target directory as the binary; skipped with XENCIM_SKIP_BUILD).
"""
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "xenapi"))
from xenapi_server import PASSWORD, ROOT, Server, free_port, new_state_dir, write_sim_config  # noqa: E402,F401

SCHEMA = os.environ.get("CIM_SCHEMA_DIR")
FAST_SIM = dict(guest_shutdown_ms=50, shutdown_timeout_secs=10.0, metrics_interval_secs=0.5)


def build_providers():
    if not os.environ.get("XENCIM_SKIP_BUILD"):
        subprocess.run(["cargo", "build", "--quiet", "-p", "xen-cim-providers", "--lib"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    lib = os.path.join(target, "debug", "libxen_cim_providers.so")
    if not os.path.exists(lib):
        raise RuntimeError(f"{lib} is missing: build it with cargo build -p xen-cim-providers")
    return lib


def wait_for_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def start_cim_server(setup=None):
    """Starts the server; returns it with `.cim_port` and `.cim_url` set. Caller stops it.
    `setup(state_dir)` runs before the server starts (to add users, say)."""
    build_providers()
    d = new_state_dir()
    if setup:
        setup(d)
    port = free_port()
    s = Server(d, write_sim_config(d, **FAST_SIM) + ["--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", "off",
                                                     "--cim-schema", SCHEMA]).start()
    s.cim_port = port
    s.cim_url = f"http://127.0.0.1:{port}"
    wait_for_port(port)
    return s


def vm_record(name):
    gib = 1 << 30
    return {
        "name_label": name, "name_description": "made by the CIM tests", "user_version": "1",
        "is_a_template": False, "affinity": "OpaqueRef:NULL",
        "memory_static_max": str(gib), "memory_dynamic_max": str(gib),
        "memory_dynamic_min": str(gib // 2), "memory_static_min": str(gib // 4),
        "VCPUs_params": {}, "VCPUs_max": "1", "VCPUs_at_startup": "1",
        "actions_after_shutdown": "destroy", "actions_after_reboot": "restart", "actions_after_crash": "preserve",
        "PV_bootloader": "pygrub", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "",
        "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "",
        "other_config": {}, "recommendations": "",
    }
