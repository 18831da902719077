#!/usr/bin/env python3
"""CIM benchmark: the embedded broker and the Xen providers against the XenAPI they serve;
prints figures, asserts no target.

    .venv/bin/python bench/cim_enumerate.py

Starts `xencim serve` (XENCIM_BIN, else the release build in CARGO_TARGET_DIR, else the debug
one; the provider library is found beside it) with its CIM-XML listener, creates BENCH_VMS
(default 1,000) VMs through the official XenAPI SDK, half of them running, then takes the median
of BENCH_RUNS (default 5) runs of
* EnumerateInstances Xen_ComputerSystem through pywbem, against VM.get_all_records through the
  SDK on the same server: the ratio of the two (target <= 2); both also without the client's
  parsing (the same request over raw HTTP), which is the servers' share;
* EnumerateInstanceNames Xen_ComputerSystem;
and times once the DSP1057 walk: RegisteredProfile "Virtual System Profile" in root/interop
-> ElementConformsToProfile -> every VM -> SettingsDefineState -> its VSSD ->
VirtualSystemSettingDataComponent -> its RASDs, and VM -> SystemDevice -> its devices.
"""
import http.client
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "cim"))
sys.path.insert(0, os.path.join(ROOT, "tests", "xenapi"))
import cim_env  # noqa: E402
import xenapi_server  # noqa: E402
from built import xencim_binary  # noqa: E402

import pywbem  # noqa: E402
import XenAPI  # noqa: E402

VMS = int(os.environ.get("BENCH_VMS", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
CREATORS = 4
MIB = 1 << 20


def schema_args():
    schema = os.environ.get("CIM_SCHEMA_DIR")
    shared = os.path.join(os.path.dirname(ROOT), "shared", "cim-schema", "2.41.0")
    if not schema and os.path.isdir(shared):
        schema = shared
    return ["--cim-schema", schema] if schema else []


def start(exe):
    xenapi_server.xencim_binary = lambda: exe
    d = xenapi_server.new_state_dir()
    port = xenapi_server.free_port()
    # A host big enough for VMS/2 running guests; metrics rarely, so that they do not disturb
    # the figures.
    sim = dict(cpus=64, memory_mib=VMS * 128 + 4096, dom0_memory_mib=1024, metrics_interval_secs=60.0, guest_shutdown_ms=20)
    s = xenapi_server.Server(d, xenapi_server.write_sim_config(d, **sim) + [
        "--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", "off"] + schema_args()).start()
    s.cim_port = port
    s.cim_url = f"http://127.0.0.1:{port}"
    cim_env.wait_for_port(port)
    return s


def login(url):
    s = XenAPI.Session(url)
    s.xenapi.login_with_password("root", cim_env.PASSWORD, "2.21", "cim-bench")
    return s


def populate(url):
    """VMS VMs of 128 MiB, every other one started, from CREATORS sessions at once."""
    def work(first):
        s = login(url)
        x = s.xenapi
        for i in range(first, VMS, CREATORS):
            rec = cim_env.vm_record(f"bench-{i:05d}")
            rec.update(memory_static_max=str(128 * MIB), memory_dynamic_max=str(128 * MIB),
                       memory_dynamic_min=str(128 * MIB), memory_static_min=str(64 * MIB))
            vm = x.VM.create(rec)
            if i % 2 == 0:
                x.VM.start(vm, False, False)
        s.xenapi.session.logout()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(CREATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def median_of(fn):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def medians_with_cpu(fn, pid):
    """Medians of (wall, server CPU, client CPU) seconds: on a busy machine the CPU times say
    more than the wall time, which includes waiting for a core."""
    walls, server, client = [], [], []
    for _ in range(RUNS):
        t, s, c = time.perf_counter(), cpu_seconds(pid), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        server.append(cpu_seconds(pid) - s)
        client.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(server), statistics.median(client)


def raw_post(port, path, body, headers):
    """The time of one request without the client's parsing: the server's work and the transfer."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    def once():
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        assert r.status == 200, (r.status, data[:200])
        return data
    once()
    t = median_of(once)
    size = len(once())
    c.close()
    return t, size


def cim_raw(srv):
    import base64
    body = ('<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0">'
            '<SIMPLEREQ><IMETHODCALL NAME="EnumerateInstances"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/>'
            '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Xen_ComputerSystem"/></IPARAMVALUE>'
            '</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>')
    auth = base64.b64encode(f"root:{cim_env.PASSWORD}".encode()).decode()
    return raw_post(srv.cim_port, "/cimom", body, {
        "CIMOperation": "MethodCall", "CIMMethod": "EnumerateInstances", "CIMObject": "root/cimv2",
        "Content-Type": "application/xml; charset=utf-8", "Authorization": f"Basic {auth}"})


def xenapi_raw(srv, session_ref):
    body = ("<?xml version='1.0'?><methodCall><methodName>VM.get_all_records</methodName><params>"
            f"<param><value><string>{session_ref}</string></value></param></params></methodCall>")
    return raw_post(srv.port, "/", body, {"Content-Type": "text/xml"})


def cpu_seconds(pid):
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def walk(cim):
    """The DSP1057 walk; returns (VMs, VSSDs, RASDs, devices) reached."""
    profiles = [p for p in cim.EnumerateInstances("CIM_RegisteredProfile", namespace="root/interop")
                if p["RegisteredName"] == "Virtual System Profile"]
    assert len(profiles) == 1
    central = cim.AssociatorNames(profiles[0].path, AssocClass="CIM_ElementConformsToProfile", ResultRole="ManagedElement")
    vms = [p for p in central if p.classname == "Xen_ComputerSystem"]
    vssds = rasds = devices = 0
    for vm in vms:
        for vssd in cim.Associators(vm, AssocClass="CIM_SettingsDefineState", ResultClass="CIM_VirtualSystemSettingData"):
            vssds += 1
            rasds += len(cim.Associators(vssd.path, AssocClass="CIM_VirtualSystemSettingDataComponent",
                                         ResultClass="CIM_ResourceAllocationSettingData"))
        devices += len(cim.Associators(vm, AssocClass="CIM_SystemDevice", ResultRole="PartComponent"))
    return len(vms), vssds, rasds, devices


def main():
    exe = xencim_binary(with_providers=True)
    print(f"xencim: {exe}; {VMS} VMs ({VMS // 2 + VMS % 2} running), median of {RUNS} runs")
    srv = start(exe)
    try:
        t = time.perf_counter()
        populate(srv.url)
        print(f"created {VMS} VMs through the SDK in {time.perf_counter() - t:.1f} s")
        cim = pywbem.WBEMConnection(srv.cim_url, ("root", cim_env.PASSWORD), default_namespace="root/cimv2", timeout=600)
        deadline = time.time() + 60
        while len(cim.EnumerateInstanceNames("Xen_ComputerSystem")) != VMS:
            assert time.time() < deadline, "the providers' cache did not catch up with the VMs"
            time.sleep(0.2)
        session = login(srv.url)
        x = session.xenapi

        def cim_enum():
            assert len(cim.EnumerateInstances("Xen_ComputerSystem")) == VMS
        pid = srv.proc.pid
        cim_t, cim_srv, cim_cli = medians_with_cpu(cim_enum, pid)
        sdk_t, sdk_srv, sdk_cli = medians_with_cpu(lambda: x.VM.get_all_records(), pid)
        names_t, names_srv, names_cli = medians_with_cpu(lambda: cim.EnumerateInstanceNames("Xen_ComputerSystem"), pid)
        cim_raw_t, cim_size = cim_raw(srv)
        sdk_raw_t, sdk_size = xenapi_raw(srv, session._session)
        def ms(v):
            return f"{v * 1000:7.1f} ms"
        print(f"{'':46} {'wall':>10} {'server CPU':>11} {'client CPU':>11} {'raw HTTP':>10} {'answer':>8}")
        print(f"{'EnumerateInstances Xen_ComputerSystem (pywbem)':46} {ms(cim_t):>10} {ms(cim_srv):>11} {ms(cim_cli):>11} "
              f"{ms(cim_raw_t):>10} {cim_size / 1e6:6.1f} MB")
        print(f"{'VM.get_all_records (XenAPI SDK)':46} {ms(sdk_t):>10} {ms(sdk_srv):>11} {ms(sdk_cli):>11} "
              f"{ms(sdk_raw_t):>10} {sdk_size / 1e6:6.1f} MB")
        print(f"{'EnumerateInstanceNames Xen_ComputerSystem':46} {ms(names_t):>10} {ms(names_srv):>11} {ms(names_cli):>11}")
        print(f"ratio CIM / XenAPI: {cim_t / sdk_t:.2f} x wall with the clients' parsing (target <= 2); "
              f"{(cim_srv + cim_cli) / (sdk_srv + sdk_cli):.2f} x in CPU (server + client); "
              f"servers alone {cim_srv / sdk_srv:.2f} x in CPU, {cim_raw_t / sdk_raw_t:.2f} x raw HTTP")

        t, cpu = time.perf_counter(), cpu_seconds(srv.proc.pid)
        n_vms, n_vssds, n_rasds, n_devices = walk(cim)
        dt, cpu = time.perf_counter() - t, cpu_seconds(srv.proc.pid) - cpu
        print(f"DSP1057 walk: {n_vms} VMs, {n_vssds} VSSDs, {n_rasds} RASDs, {n_devices} devices in {dt:.1f} s "
              f"({dt / max(n_vms, 1) * 1000:.1f} ms per VM, {3 * n_vms + 2} requests; "
              f"server CPU {cpu:.1f} s, {cpu / max(n_vms, 1) * 1000:.1f} ms per VM)")
        if n_rasds == 0:
            print("  (no RASD reached: no provider serves CIM_VirtualSystemSettingDataComponent in this build)")
        session.xenapi.session.logout()
    finally:
        srv.stop()
        import shutil
        shutil.rmtree(srv.state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
