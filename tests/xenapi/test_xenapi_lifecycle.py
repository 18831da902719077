"""VM lifecycle on the simulated host, tasks and events, through the official Python SDK."""
import glob
import json
import os
import signal
import threading
import time

import pytest
import XenAPI

from test_xenapi_core import vm_record
from xenapi_server import FAST, PASSWORD, Server, new_state_dir, write_sim_config

GiB = 1 << 30


def new_vm(x, name="lc", **over):
    fields = dict(memory_static_max=str(GiB), memory_dynamic_max=str(GiB),
                  memory_dynamic_min=str(GiB // 2), memory_static_min=str(GiB // 4), blocked_operations={})
    fields.update(over)
    return x.VM.create(vm_record(name, **fields))


def failure(e):
    return e.value.details


def put_in_state(x, vm, state):
    if state in ("Running", "Paused", "Suspended"):
        x.VM.start(vm, state == "Paused", False)
    if state == "Suspended":
        x.VM.suspend(vm)
    assert x.VM.get_power_state(vm) == state


CALLS = {
    "start": lambda x, vm: x.VM.start(vm, False, False),
    "pause": lambda x, vm: x.VM.pause(vm),
    "unpause": lambda x, vm: x.VM.unpause(vm),
    "clean_shutdown": lambda x, vm: x.VM.clean_shutdown(vm),
    "hard_shutdown": lambda x, vm: x.VM.hard_shutdown(vm),
    "shutdown": lambda x, vm: x.VM.shutdown(vm),
    "clean_reboot": lambda x, vm: x.VM.clean_reboot(vm),
    "hard_reboot": lambda x, vm: x.VM.hard_reboot(vm),
    "suspend": lambda x, vm: x.VM.suspend(vm),
    "resume": lambda x, vm: x.VM.resume(vm, False, False),
    "set_VCPUs_number_live": lambda x, vm: x.VM.set_VCPUs_number_live(vm, "2"),
    "set_VCPUs_max": lambda x, vm: x.VM.set_VCPUs_max(vm, "4"),
    "set_memory_dynamic_range": lambda x, vm: x.VM.set_memory_dynamic_range(vm, str(GiB // 2), str(GiB // 2)),
    "set_memory_limits": lambda x, vm: x.VM.set_memory_limits(vm, str(GiB // 4), str(GiB), str(GiB // 2), str(GiB)),
    "clone": lambda x, vm: x.VM.clone(vm, "a clone"),
    "snapshot": lambda x, vm: x.VM.snapshot(vm, "a snapshot"),
    "destroy": lambda x, vm: x.VM.destroy(vm),
}
# message -> (states where it succeeds, state after success or None when unchanged/removed)
TABLE = {
    "start": ({"Halted"}, "Running"),
    "pause": ({"Running"}, "Paused"),
    "unpause": ({"Paused"}, "Running"),
    "clean_shutdown": ({"Running"}, "Halted"),
    "hard_shutdown": ({"Running", "Paused", "Suspended"}, "Halted"),
    "shutdown": ({"Running", "Paused", "Suspended"}, "Halted"),
    "clean_reboot": ({"Running"}, "Running"),
    "hard_reboot": ({"Running", "Paused"}, "Running"),
    "suspend": ({"Running"}, "Suspended"),
    "resume": ({"Suspended"}, "Running"),
    "set_VCPUs_number_live": ({"Running"}, None),
    "set_VCPUs_max": ({"Halted"}, None),
    "set_memory_dynamic_range": ({"Halted", "Running"}, None),
    "set_memory_limits": ({"Halted"}, None),
    "clone": ({"Halted"}, None),
    "snapshot": ({"Halted", "Paused", "Running", "Suspended"}, None),
    "destroy": ({"Halted", "Suspended"}, None),
}
STATES = ["Halted", "Paused", "Running", "Suspended"]


@pytest.mark.parametrize("message", sorted(TABLE))
def test_message_by_power_state_through_the_wire(x, message):
    ok_states, after = TABLE[message]
    for state in STATES:
        vm = new_vm(x, f"{message}-{state}", VCPUs_max="2", VCPUs_at_startup="1")
        put_in_state(x, vm, state)
        if state in ok_states:
            CALLS[message](x, vm)
            if after:
                assert x.VM.get_power_state(vm) == after, (message, state)
        else:
            with pytest.raises(XenAPI.Failure) as e:
                CALLS[message](x, vm)
            d = failure(e)
            assert d[0] == "VM_BAD_POWER_STATE", (message, state, d)
            assert d[1] == vm and d[3] == state.lower()
            assert x.VM.get_power_state(vm) == state
        if message != "destroy" or state not in ok_states:
            x.VM.hard_shutdown(vm) if x.VM.get_power_state(vm) != "Halted" else None
            x.VM.destroy(vm)


def test_running_vm_has_domain_residence_and_metrics(x):
    host = x.pool.get_master(x.pool.get_all()[0])
    hm = x.host.get_metrics(host)
    free_before = int(x.host_metrics.get_record(hm)["memory_free"])
    vm = new_vm(x, VCPUs_max="2", VCPUs_at_startup="2")
    assert "start" in x.VM.get_allowed_operations(vm)
    x.VM.start(vm, False, False)
    rec = x.VM.get_record(vm)
    assert rec["power_state"] == "Running" and int(rec["domid"]) > 0 and rec["resident_on"] == host
    assert vm in x.host.get_resident_VMs(host)
    assert "clean_shutdown" in rec["allowed_operations"] and "start" not in rec["allowed_operations"]
    m = x.VM_metrics.get_record(rec["metrics"])
    assert m["memory_actual"] == str(GiB) and m["VCPUs_number"] == "2"
    assert m["start_time"].value != "19700101T00:00:00Z"
    assert int(x.host_metrics.get_record(hm)["memory_free"]) == free_before - GiB
    deadline = time.time() + 5
    while time.time() < deadline and not x.VM_metrics.get_record(rec["metrics"])["VCPUs_utilisation"]:
        time.sleep(0.1)
    util = x.VM_metrics.get_record(rec["metrics"])["VCPUs_utilisation"]
    assert sorted(util) == ["0", "1"] and all(0 <= v <= 1 for v in util.values())
    x.VM.set_VCPUs_number_live(vm, "1")
    assert x.VM_metrics.get_VCPUs_number(rec["metrics"]) == "1"
    old_domid = rec["domid"]
    x.VM.hard_reboot(vm)
    assert x.VM.get_domid(vm) != old_domid
    x.VM.hard_shutdown(vm)
    assert x.VM.get_domid(vm) == "-1" and x.VM.get_resident_on(vm) == "OpaqueRef:NULL"
    assert int(x.host_metrics.get_record(hm)["memory_free"]) == free_before


def test_async_start_and_clean_shutdown_as_tasks(x):
    vm = new_vm(x)
    for call, state in ((lambda: x.Async.VM.start(vm, False, False), "Running"),
                        (lambda: x.Async.VM.clean_shutdown(vm), "Halted")):
        task = call()
        assert task.startswith("OpaqueRef:")
        deadline = time.time() + 10
        while x.task.get_status(task) == "pending" and time.time() < deadline:
            time.sleep(0.02)
        rec = x.task.get_record(task)
        assert rec["status"] == "success", rec
        assert rec["progress"] == 1.0 and rec["result"] == "" and rec["error_info"] == []
        assert rec["finished"].value >= rec["created"].value
        assert x.VM.get_power_state(vm) == state
        x.task.destroy(task)
    task = x.Async.VM.clone(vm, "async clone")
    while x.task.get_status(task) == "pending":
        time.sleep(0.02)
    result = x.task.get_result(task)
    assert result.startswith("<value>OpaqueRef:") and result.endswith("</value>")
    clone = result[len("<value>"):-len("</value>")]
    assert x.VM.get_name_label(clone) == "async clone"


def test_async_failure_lands_in_error_info(x):
    vm = new_vm(x)
    task = x.Async.VM.pause(vm)
    while x.task.get_status(task) == "pending":
        time.sleep(0.02)
    assert x.task.get_status(task) == "failure"
    assert x.task.get_error_info(task) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]


def test_watcher_sees_power_states_in_order(srv, x):
    vm = new_vm(x)
    seen = []
    stop = threading.Event()
    ready = threading.Event()

    def watch():
        w = XenAPI.Session(srv.url)
        w.xenapi.login_with_password("root", PASSWORD)
        token = event_from(w.xenapi, ["vm/" + vm], "", 0.0)["token"]
        ready.set()
        while not stop.is_set():
            r = event_from(w.xenapi, ["vm/" + vm], token, 1.0)
            token = r["token"]
            for ev in r["events"]:
                state = ev["snapshot"]["power_state"]
                if not seen or seen[-1] != state:
                    seen.append(state)
        w.xenapi.session.logout()

    t = threading.Thread(target=watch)
    t.start()
    assert ready.wait(10)

    def wait_seen(state):
        deadline = time.time() + 10
        while time.time() < deadline and (not seen or seen[-1] != state):
            time.sleep(0.01)
        assert seen and seen[-1] == state, seen

    x.VM.set_name_description(vm, "touch")
    wait_seen("Halted")
    x.VM.start(vm, False, False)
    wait_seen("Running")
    x.VM.pause(vm)
    wait_seen("Paused")
    x.VM.unpause(vm)
    wait_seen("Running")
    x.VM.clean_shutdown(vm)
    wait_seen("Halted")
    stop.set()
    t.join()
    assert seen == ["Halted", "Running", "Paused", "Running", "Halted"]


def event_from(x, classes, token, timeout):
    return getattr(x.event, "from")(classes, token, timeout)


def test_event_from_snapshot_tokens_and_deletions(x):
    first = event_from(x, ["vm"], "", 0.0)
    assert all(e["class"] == "vm" and e["operation"] == "add" for e in first["events"])
    assert first["valid_ref_counts"]["vm"] == len(first["events"])
    token = first["token"]
    vm = new_vm(x, "evented")
    x.VM.set_name_label(vm, "evented2")
    r = event_from(x, ["vm"], token, 5.0)
    mine = [e for e in r["events"] if e["ref"] == vm]
    assert len(mine) == 1 and mine[0]["operation"] == "add"        # add+mod coalesce into one add
    assert mine[0]["snapshot"]["name_label"] == "evented2"
    assert int(r["token"].split(",")[0]) > int(token.split(",")[0])
    x.VM.destroy(vm)
    r2 = event_from(x, ["vm"], r["token"], 5.0)
    dels = [e for e in r2["events"] if e["ref"] == vm]
    assert len(dels) == 1 and dels[0]["operation"] == "del" and "snapshot" not in dels[0]
    t0 = time.time()
    r3 = event_from(x, ["vm"], r2["token"], 0.5)
    assert r3["events"] == [] and time.time() - t0 >= 0.45
    with pytest.raises(XenAPI.Failure) as e:
        event_from(x, ["vm"], "garbage", 0.1)
    assert failure(e) == ["EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"]
    with pytest.raises(XenAPI.Failure) as e:
        event_from(x, ["nosuchclass"], "", 0.1)
    assert failure(e)[0] == "EVENT_SUBSCRIPTION_PARSE_FAILURE"


def test_event_next_requires_register(srv):
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", PASSWORD)
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.event.next()
    assert failure(e) == ["SESSION_NOT_REGISTERED", s._session]
    s.xenapi.session.logout()


def test_concurrent_writers_every_change_exactly_once(srv, x):
    writers, per_writer = 8, 500
    vms = [new_vm(x, f"w{i}") for i in range(writers)]
    w = XenAPI.Session(srv.url)
    w.xenapi.login_with_password("root", PASSWORD)
    w.xenapi.event.register(["vm"])
    errors = []

    def write(i):
        try:
            s = XenAPI.Session(srv.url)
            s.xenapi.login_with_password("root", PASSWORD)
            for n in range(per_writer):
                s.xenapi.VM.set_name_description(vms[i], f"{i}:{n}")
            s.xenapi.session.logout()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    seen = {}
    ids = []
    deadline = time.time() + 120
    while len(seen) < writers * per_writer and time.time() < deadline:
        for ev in w.xenapi.event.next():
            if ev["ref"] in vms and ev["operation"] == "mod":
                desc = ev["snapshot"]["name_description"]
                seen[desc] = seen.get(desc, 0) + 1
                ids.append(int(ev["id"]))
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) == writers * per_writer
    assert all(n == 1 for n in seen.values()), "no change seen twice"
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "commit order, no duplicates"
    for i in range(writers):  # each writer's changes arrive in the order it made them
        mine = [int(d.split(":")[1]) for d in seen if d.startswith(f"{i}:")]
        assert sorted(mine) == list(range(per_writer))
    w.xenapi.event.unregister(["vm"])
    w.xenapi.session.logout()


def test_memory_exhaustion_and_cpu_limit(x):
    host = x.pool.get_master(x.pool.get_all()[0])
    free = int(x.host_metrics.get_record(x.host.get_metrics(host))["memory_free"])
    big = str(free + GiB)
    vm = new_vm(x, "huge", memory_static_max=big, memory_dynamic_max=big)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(vm, False, False)
    assert failure(e) == ["HOST_NOT_ENOUGH_FREE_MEMORY", big, str(free)]
    assert x.VM.get_power_state(vm) == "Halted"
    wide = new_vm(x, "wide", VCPUs_max="16", VCPUs_at_startup="16")
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(wide, False, False)
    assert failure(e) == ["HOST_NOT_ENOUGH_PCPUS", "16", "4"]
    bad = new_vm(x, "bad-mem", memory_dynamic_min=str(2 * GiB))
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(bad, False, False)
    assert failure(e)[0] == "MEMORY_CONSTRAINT_VIOLATION"


@pytest.mark.parametrize("action,state,restarted,dump", [
    ("destroy", "Halted", False, False),
    ("coredump_and_destroy", "Halted", False, True),
    ("restart", "Running", True, False),
    ("coredump_and_restart", "Running", True, True),
    ("rename_restart", "Running", True, False),
    ("preserve", "Paused", False, False),
])
def test_crash_injection_applies_actions_after_crash(srv, x, action, state, restarted, dump):
    vm = new_vm(x, f"crash-{action}", actions_after_crash=action)
    x.VM.start(vm, False, False)
    domid = x.VM.get_domid(vm)
    uuid = x.VM.get_uuid(vm)
    x.VM.send_sysrq(vm, "c")
    assert x.VM.get_power_state(vm) == state
    if restarted:
        assert x.VM.get_domid(vm) not in ("-1", domid)
    dumps = glob.glob(os.path.join(srv.state_dir, "crashdumps", uuid + "-*.core"))
    assert bool(dumps) == dump
    if x.VM.get_power_state(vm) != "Halted":
        x.VM.hard_shutdown(vm)


@pytest.mark.parametrize("key,field,action,state", [
    ("o", "actions_after_shutdown", "destroy", "Halted"),
    ("o", "actions_after_shutdown", "restart", "Running"),
    ("b", "actions_after_reboot", "restart", "Running"),
    ("b", "actions_after_reboot", "destroy", "Halted"),
])
def test_guest_that_stops_by_itself_gets_its_actions(x, key, field, action, state):
    # sysrq o/b: the simulated guest powers off or reboots on its own, as a real guest does
    # (the xen backend reports that through libxl's domain events); the record follows and
    # event.from tells watchers.
    vm = new_vm(x, f"own-{key}-{action}", **{field: action})
    x.VM.start(vm, False, False)
    domid = x.VM.get_domid(vm)
    token = event_from(x, ["vm/" + vm], "", 0.0)["token"]
    x.VM.send_sysrq(vm, key)
    assert x.VM.get_power_state(vm) == state
    if state == "Halted":
        assert x.VM.get_domid(vm) == "-1"
    else:
        assert x.VM.get_domid(vm) not in ("-1", domid), "rebuilt under a new domid"
    events = event_from(x, ["vm/" + vm], token, 1.0)["events"]
    assert events and events[-1]["snapshot"]["power_state"] == state
    if state != "Halted":
        x.VM.hard_shutdown(vm)


def test_templates_dom0_and_operations_in_progress(x):
    templates = [v for v, r in x.VM.get_all_records().items() if r["is_a_template"] and r["is_default_template"]]
    assert len(templates) >= 3
    t = templates[0]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(t, False, False)
    assert failure(e) == ["VM_IS_TEMPLATE", t, "start"]
    inst = x.VM.clone(t, "from template")
    assert x.VM.get_is_a_template(inst) is True
    x.VM.set_is_a_template(inst, False)
    x.VM.start(inst, False, False)
    x.VM.hard_shutdown(inst)
    dom0 = [v for v, r in x.VM.get_all_records().items() if r["is_control_domain"]][0]
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.hard_shutdown(dom0)
    assert failure(e) == ["OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0"]
    slow = new_vm(x, "slow", other_config={"sim-shutdown-delay-ms": "1000"})
    x.VM.start(slow, False, False)
    task = x.Async.VM.clean_shutdown(slow)
    time.sleep(0.2)
    assert "clean_shutdown" in x.VM.get_current_operations(slow).values()
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.pause(slow)
    assert failure(e) == ["OTHER_OPERATION_IN_PROGRESS", "VM", slow, "clean_shutdown", task]
    while x.task.get_status(task) == "pending":
        time.sleep(0.02)
    assert x.task.get_status(task) == "success"
    assert x.VM.get_current_operations(slow) == {}
    blocked = new_vm(x, "blocked")
    x.VM.add_to_blocked_operations(blocked, "start", "under maintenance")
    assert "start" not in x.VM.get_allowed_operations(blocked)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(blocked, False, False)
    assert failure(e) == ["OPERATION_BLOCKED", blocked, "under maintenance"]


def test_guest_that_ignores_shutdown_times_out_and_can_be_cancelled(x):
    vm = new_vm(x, "deaf", other_config={"sim-ignore-shutdown": "true"})
    x.VM.start(vm, False, False)
    t0 = time.time()
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.clean_shutdown(vm)
    assert failure(e) == ["VM_SHUTDOWN_TIMEOUT", vm, "1.5"]
    assert time.time() - t0 >= 1.4
    assert x.VM.get_power_state(vm) == "Running"
    task = x.Async.VM.clean_shutdown(vm)
    time.sleep(0.2)
    assert x.task.get_allowed_operations(task) == ["cancel"]
    x.task.cancel(task)
    while x.task.get_status(task) in ("pending", "cancelling"):
        time.sleep(0.02)
    assert x.task.get_status(task) == "cancelled"
    assert x.task.get_error_info(task) == ["TASK_CANCELLED", task]
    x.VM.shutdown(vm)  # clean times out, falls back to hard
    assert x.VM.get_power_state(vm) == "Halted"
    done = x.Async.VM.start(vm, False, False)
    while x.task.get_status(done) == "pending":
        time.sleep(0.02)
    with pytest.raises(XenAPI.Failure) as e:
        x.task.cancel(done)
    assert failure(e)[0] == "OPERATION_NOT_ALLOWED"
    x.VM.hard_shutdown(vm)


def test_snapshot_clone_and_revert(x):
    vm = new_vm(x, "orig", VCPUs_max="2", VCPUs_at_startup="1")
    snap = x.VM.snapshot(vm, "snap1")
    s = x.VM.get_record(snap)
    assert s["is_a_snapshot"] and s["is_a_template"] and s["snapshot_of"] == vm
    assert x.VM.get_snapshots(vm) == [snap]
    x.VM.set_VCPUs_max(vm, "4")
    x.VM.start(vm, False, False)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.start(snap, False, False)
    assert failure(e) == ["VM_IS_SNAPSHOT", snap, "start"]
    x.VM.revert(snap)
    assert x.VM.get_power_state(vm) == "Halted" and x.VM.get_VCPUs_max(vm) == "2"
    c = x.VM.clone(vm, "copy of orig")
    assert x.VM.get_uuid(c) != x.VM.get_uuid(vm) and x.VM.get_power_state(c) == "Halted"
    x.VM.destroy(snap)
    assert x.VM.get_snapshots(vm) == []
    assert x.VM.get_allowed_VBD_devices(vm)[:3] == ["0", "1", "2"]
    assert x.VM.get_allowed_VIF_devices(vm) == [str(i) for i in range(7)]


def test_restart_keeps_running_vms_running_and_fails_pending_tasks():
    d = new_state_dir()
    srv = Server(d, write_sim_config(d, **dict(FAST, shutdown_timeout_secs=600))).start()
    try:
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD)
        x = s.xenapi
        running = new_vm(x, "survivor")
        x.VM.start(running, False, False)
        domid = x.VM.get_domid(running)
        paused = new_vm(x, "paused-survivor")
        x.VM.start(paused, True, False)
        deaf = new_vm(x, "deaf", other_config={"sim-ignore-shutdown": "true"})
        x.VM.start(deaf, False, False)
        task = x.Async.VM.clean_shutdown(deaf)
        time.sleep(0.2)
        token = event_from(x, ["vm"], "", 0.0)["token"]
        srv.restart()
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD)
        x = s.xenapi
        assert x.VM.get_power_state(running) == "Running" and x.VM.get_domid(running) == domid
        assert x.VM.get_power_state(paused) == "Paused"
        assert x.VM.get_power_state(deaf) == "Running"
        assert x.VM.get_current_operations(deaf) == {}
        rec = x.task.get_record(task)
        assert rec["status"] == "failure" and rec["error_info"][0] == "INTERNAL_ERROR"
        new_token = event_from(x, ["vm"], "", 0.0)["token"]
        assert int(new_token.split(",")[0]) >= int(token.split(",")[0]), "tokens are monotonic across restarts"
        # The backend is the truth: a domain that vanished while the server was down leaves
        # its VM Halted.
        uuid = x.VM.get_uuid(running)
        srv.stop()
        state_file = os.path.join(d, "sim-domains.json")
        with open(state_file) as f:
            st = json.load(f)
        st["domains"] = [dom for dom in st["domains"] if dom["vm_uuid"] != uuid]
        with open(state_file, "w") as f:
            json.dump(st, f)
        srv.start()
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD)
        assert s.xenapi.VM.get_power_state(running) == "Halted"
        assert s.xenapi.VM.get_power_state(paused) == "Paused"
    finally:
        srv.stop()


def test_single_field_setters_keep_their_rules(x):
    vm = new_vm(x, "setters")
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.set_memory_static_max(vm, str(GiB // 8))
    assert failure(e)[0] == "MEMORY_CONSTRAINT_VIOLATION"
    x.VM.set_memory_static_max(vm, str(2 * GiB))
    assert x.VM.get_memory_static_max(vm) == str(2 * GiB)
    x.VM.set_actions_after_crash(vm, "restart")
    assert x.VM.get_actions_after_crash(vm) == "restart"
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.set_actions_after_crash(vm, "explode")
    assert failure(e)[0] == "INVALID_VALUE"
    x.VM.start(vm, False, False)
    with pytest.raises(XenAPI.Failure) as e:
        x.VM.set_memory_static_min(vm, str(GiB // 8))
    assert failure(e)[:2] == ["VM_BAD_POWER_STATE", vm]
    x.VM.set_memory_dynamic_max(vm, str(GiB // 2 + GiB // 4))
    assert x.VM_metrics.get_memory_actual(x.VM.get_metrics(vm)) == str(GiB // 2 + GiB // 4)
    x.VM.hard_shutdown(vm)


def test_guest_agent_reports_once_the_guest_runs(x):
    vm = new_vm(x, "agent", other_config={"sim-os-name": "Debian GNU/Linux 12"})
    assert x.VM.get_guest_metrics(vm) == "OpaqueRef:NULL"
    x.VM.start(vm, True, False)
    assert x.VM.get_guest_metrics(vm) == "OpaqueRef:NULL", "a paused guest has not booted"
    x.VM.unpause(vm)
    g = x.VM_guest_metrics.get_record(x.VM.get_guest_metrics(vm))
    assert g["live"] is True and g["os_version"]["name"] == "Debian GNU/Linux 12"
    assert g["PV_drivers_detected"] is True and g["can_use_hotplug_vbd"] == "yes"
    x.VM.clean_shutdown(vm)
    g = x.VM_guest_metrics.get_record(x.VM.get_guest_metrics(vm))
    assert g["live"] is False and g["os_version"]["name"] == "Debian GNU/Linux 12"
    x.VM.destroy(vm)


def test_an_operation_whose_caller_went_away_still_ends_and_frees_the_vm(srv, x):
    """A synchronous VM.clean_shutdown whose client closes its connection mid-way runs to its end
    on the server (as in xapi) and leaves current_operations empty, so the VM is not busy forever."""
    import socket
    import xmlrpc.client
    vm = new_vm(x, "abandoned", other_config={"sim-ignore-shutdown": "true"})
    x.VM.start(vm, False, False)
    caller = XenAPI.Session(srv.url)
    caller.xenapi.login_with_password("root", PASSWORD, "2.21", "abandoned")
    body = xmlrpc.client.dumps((caller._session, vm), "VM.clean_shutdown").encode()
    c = socket.create_connection(("127.0.0.1", srv.port))
    c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    deadline = time.time() + 5
    while not x.VM.get_current_operations(vm) and time.time() < deadline:
        time.sleep(0.02)
    assert list(x.VM.get_current_operations(vm).values()) == ["clean_shutdown"]
    c.close()  # the caller goes away while the guest ignores the request
    deadline = time.time() + 10  # the shutdown times out after 1.5 s
    while x.VM.get_current_operations(vm) and time.time() < deadline:
        time.sleep(0.05)
    assert x.VM.get_current_operations(vm) == {}
    assert x.VM.get_power_state(vm) == "Running", "the guest ignored it; the timeout ended the operation"
    x.VM.hard_shutdown(vm)
    x.VM.destroy(vm)
    caller.xenapi.session.logout()


# The message that performs each VM operation (xapi's vm_operations), for the check below.
OPERATION_MESSAGE = {"changing_memory_live": "VM.set_memory_target_live", "changing_dynamic_range": "VM.set_memory_dynamic_range",
                     "changing_static_range": "VM.set_memory_static_range", "changing_memory_limits": "VM.set_memory_limits",
                     "changing_VCPUs": "VM.set_VCPUs_max", "changing_VCPUs_live": "VM.set_VCPUs_number_live",
                     "changing_NVRAM": "VM.set_NVRAM", "make_into_template": "VM.set_is_a_template"}


def test_allowed_operations_offer_only_implemented_messages(srv, x):
    """A client (Xen Orchestra, XenCenter) acts on allowed_operations: every operation offered, in
    every power state, of guests, templates, snapshots and dom0, has a message this server implements."""
    import xmlrpc.client
    implemented = set(xmlrpc.client.ServerProxy(srv.url).system.listMethods())
    vm = new_vm(x, "offers", blocked_operations={})
    snap = x.VM.snapshot(vm, "offers-snap")
    offered = set()

    def check(ref, where):
        ops = x.VM.get_allowed_operations(ref)
        offered.update(ops)
        missing = [op for op in ops if OPERATION_MESSAGE.get(op, f"VM.{op}") not in implemented]
        assert missing == [], f"{where} offers {missing}, whose messages answer NOT_IMPLEMENTED"
    check(vm, "Halted")
    check(snap, "a snapshot")
    for ref, rec in x.VM.get_all_records().items():
        if rec["is_a_template"] or rec["is_control_domain"]:
            check(ref, rec["name_label"])
    x.VM.start(vm, False, False)
    check(vm, "Running")
    x.VM.pause(vm)
    check(vm, "Paused")
    x.VM.unpause(vm)
    x.VM.suspend(vm)
    check(vm, "Suspended")
    x.VM.resume(vm, False, False)
    x.VM.hard_shutdown(vm)
    assert {"start", "clean_shutdown", "destroy"} <= offered
    x.VM.destroy(snap)
    x.VM.destroy(vm)
