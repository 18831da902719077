#!/usr/bin/env python3
"""Storage benchmark: prints figures, asserts nothing.

1. VM.clone of a VM with 4 disks (qcow2, each with data written into it): the median time of
   BENCH_CLONES (default 10) clones. Disks are cloned copy-on-write, so the time should not
   grow with the size of the disks.
2. VDI.copy throughput against `cp` of the same image file on the same filesystem: a raw VDI of
   BENCH_COPY_MIB (default 1024) MiB filled with non-zero data is copied with Async.VDI.copy
   (qemu-img convert under the hood, task progress followed) and with `cp` (alone, and followed
   by an fsync, since qemu-img flushes the copy); best of BENCH_COPY_ROUNDS (default 2) rounds,
   MiB/s and the ratios are printed. The page cache makes these figures noisy.

Runs a release `xencim serve` on 127.0.0.1 ephemeral ports with a temporary state directory
(removed afterwards). Usage, from the repository root:

    cargo build --release --bin xencim          # CARGO_TARGET_DIR is honoured
    .venv/bin/python bench/storage.py           # or XENCIM_BIN=/path/to/xencim
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import XenAPI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20
PASSWORD = "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(state):
    binary = os.environ.get("XENCIM_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "xencim")
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: cargo build --release --bin xencim (or set XENCIM_BIN)")
    pw = os.path.join(state, "rootpw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    port = free_port()
    log = open(os.path.join(state, "server.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--state-dir", state, "--xenapi-listen", f"127.0.0.1:{port}",
                             "--xenapi-tls-listen", f"127.0.0.1:{free_port()}", "--root-password-file", pw,
                             "--cim-listen", "off"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("xencim did not start")


def vm_record(name):
    g = 1 << 30
    return {"name_label": name, "name_description": "", "user_version": "1", "is_a_template": False,
            "affinity": "OpaqueRef:NULL", "memory_static_max": str(g), "memory_dynamic_max": str(g),
            "memory_dynamic_min": str(g), "memory_static_min": str(g), "VCPUs_params": {}, "VCPUs_max": "1",
            "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "destroy", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "",
            "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {},
            "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": ""}


def vdi_path(x, vdi):
    sr = x.VDI.get_SR(vdi)
    return os.path.join(x.PBD.get_device_config(x.SR.get_PBDs(sr)[0])["location"], x.VDI.get_location(vdi))


def main():
    clones = int(os.environ.get("BENCH_CLONES", "10"))
    copy_mib = int(os.environ.get("BENCH_COPY_MIB", "1024"))
    state = tempfile.mkdtemp(prefix="xencim-bench-storage-")
    proc, url = start_server(state)
    try:
        s = XenAPI.Session(url)
        s.xenapi.login_with_password("root", PASSWORD, "2.21", "bench-storage")
        x = s.xenapi
        sr = x.pool.get_default_SR(x.pool.get_all()[0])

        # 1. VM.clone of a VM with 4 disks
        vm = x.VM.create(vm_record("bench-4-disks"))
        for i in range(4):
            vdi = x.VDI.create({"SR": sr, "virtual_size": str(4 << 30), "type": "system", "sharable": False,
                                "read_only": False, "other_config": {}, "name_label": f"disk {i}"})
            x.VBD.create({"VM": vm, "VDI": vdi, "userdevice": str(i), "bootable": i == 0, "mode": "RW", "type": "Disk",
                          "empty": False, "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
            # 64 MiB of data in each disk, written as a guest would (through qemu-io-free means:
            # qemu-img convert from a raw file into the image).
            raw = os.path.join(state, "fill.raw")
            with open(raw, "wb") as f:
                f.write(os.urandom(MiB) * 64)
            subprocess.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", raw, vdi_path(x, vdi)], check=True)
            os.remove(raw)
        times = []
        made = []
        for i in range(clones):
            t = time.perf_counter()
            made.append(x.VM.clone(vm, f"clone {i}"))
            times.append(time.perf_counter() - t)
        print(f"VM.clone of a VM with 4 disks (4 GiB each, 64 MiB written): median {statistics.median(times) * 1000:.1f} ms, "
              f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over {clones} clones")
        for c in made:
            vdis = [x.VBD.get_VDI(b) for b in x.VM.get_VBDs(c)]
            x.VM.destroy(c)
            for v in vdis:
                x.VDI.destroy(v)

        # 2. VDI.copy vs cp
        src = x.VDI.create({"SR": sr, "virtual_size": str(copy_mib * MiB), "type": "user", "sharable": False,
                            "read_only": False, "other_config": {}, "sm_config": {"format": "raw"}, "name_label": "copy source"})
        path = vdi_path(x, src)
        block = bytes(range(1, 256)) * (MiB // 255 + 1)
        with open(path, "r+b") as f:
            for _ in range(copy_mib):
                f.write(block[:MiB])
            f.flush()
            os.fsync(f.fileno())
        rounds = int(os.environ.get("BENCH_COPY_ROUNDS", "2"))
        dst = os.path.join(os.path.dirname(path), "cp-copy.raw")
        api_best = sync_best = cp_best = cp_sync_best = float("inf")
        for _ in range(rounds):
            os.sync()
            t = time.perf_counter()
            task = x.Async.VDI.copy(src, sr, "OpaqueRef:NULL", "OpaqueRef:NULL")
            progress = set()
            while x.task.get_status(task) == "pending":
                progress.add(round(float(x.task.get_progress(task)), 2))
                time.sleep(0.01)
            api_best = min(api_best, time.perf_counter() - t)
            assert x.task.get_status(task) == "success", x.task.get_error_info(task)
            copy = x.task.get_result(task)[len("<value>"):-len("</value>")]
            x.task.destroy(task)
            x.VDI.destroy(copy)
            os.sync()
            t = time.perf_counter()
            x.VDI.destroy(x.VDI.copy(src, sr, "OpaqueRef:NULL", "OpaqueRef:NULL"))
            sync_best = min(sync_best, time.perf_counter() - t)
            os.sync()
            t = time.perf_counter()
            subprocess.run(["cp", path, dst], check=True)
            cp_best = min(cp_best, time.perf_counter() - t)
            fd = os.open(dst, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            cp_sync_best = min(cp_sync_best, time.perf_counter() - t)
            os.remove(dst)
        api_rate, cp_rate, cp_sync_rate = copy_mib / api_best, copy_mib / cp_best, copy_mib / cp_sync_best
        print(f"VDI.copy of {copy_mib} MiB (raw, same SR, best of {rounds}): {api_best:.2f} s = {api_rate:.0f} MiB/s "
              f"({len(progress)} distinct task progress values seen in the last run)")
        print(f"VDI.copy without a task (no progress commits):  {sync_best:.2f} s = {copy_mib / sync_best:.0f} MiB/s (timing includes VDI.destroy)")
        print(f"cp of the same file, same filesystem:          {cp_best:.2f} s = {cp_rate:.0f} MiB/s")
        print(f"cp + fsync (durable, as VDI.copy is):          {cp_sync_best:.2f} s = {cp_sync_rate:.0f} MiB/s")
        print(f"ratio VDI.copy / cp: {api_rate / cp_rate:.2f};  VDI.copy / (cp + fsync): {api_rate / cp_sync_rate:.2f}")
        x.VDI.destroy(src)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
