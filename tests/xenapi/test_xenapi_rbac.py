"""Who may see and do what, through the official Python SDK: no session ref of another user ever
reaches a caller (events, records, lookups), every message above a caller's role is refused with
nothing changed in the store, and tasks belong to the user who made them."""
import os
import re
import sqlite3
import time
import xmlrpc.client

import pytest
import XenAPI

import datamodel
from test_xenapi_core import vm_record
from xenapi_server import PASSWORD, Server, add_users, new_state_dir, write_sim_config

GiB = 1 << 30
USERS = {"reader": "read-only", "operator": "vm-operator", "poolop": "pool-operator"}
# The model's role abbreviations, lowest first (model/datamodel.txt; LR is xapi's local-root-only).
ROLE_RANK = {"RO": 0, "VO": 1, "VA": 2, "VPA": 3, "PO": 4, "PA": 5, "LR": 5}
RANK_OF_ROLE = {"read-only": 0, "vm-operator": 1, "pool-operator": 4}
# Slow guests, so that a clean shutdown stays pending long enough to be cancelled; metrics are
# refreshed rarely, so that the store does not change by itself during the role sweep.
SIM = dict(guest_shutdown_ms=20, shutdown_timeout_secs=30, metrics_interval_secs=3600,
           memory_mib=16384, dom0_memory_mib=1024, cpus=4)


@pytest.fixture(scope="module")
def srv():
    d = new_state_dir()
    add_users(d, USERS)
    s = Server(d, write_sim_config(d, **SIM)).start()
    yield s
    s.stop()


def login(srv, user, password=None):
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password(user, password or f"{user}-secret", "2.21", "rbac-tests")
    return s


@pytest.fixture(scope="module")
def root(srv):
    s = login(srv, "root", PASSWORD)
    yield s
    s.xenapi.session.logout()


def event_from(x, classes, token, timeout):
    return getattr(x.event, "from")(classes, token, timeout)


def new_vm(x, name, **over):
    fields = dict(memory_static_max=str(GiB), memory_dynamic_max=str(GiB),
                  memory_dynamic_min=str(GiB // 2), memory_static_min=str(GiB // 4), blocked_operations={})
    fields.update(over)
    return x.VM.create(vm_record(name, **fields))


# --- session refs are never shown to another user -------------------------------------------------

def test_a_reader_never_receives_another_users_session_ref(srv, root):
    reader = login(srv, "reader")
    x = reader.xenapi
    root_refs = {root._session, login(srv, "root", PASSWORD)._session}
    # Everything at once, and sessions by name: no session record, no root ref anywhere in the answer.
    for classes in (["*"], ["session"], ["session", "vm"]):
        batch = event_from(x, classes, "", 0.1)
        assert all(ev["class"] != "session" for ev in batch["events"])
        assert not any(r in repr(batch) for r in root_refs)
        assert "session" not in batch["valid_ref_counts"]
    # New logins while the reader watches: neither event.from nor event.next shows them.
    token = event_from(x, ["*"], "", 0.1)["token"]
    x.event.register(["*"])
    x.event.register(["session"])
    fresh = login(srv, "root", PASSWORD)
    root_refs.add(fresh._session)
    vm = new_vm(fresh.xenapi, "rbac-marker")  # something that does make an event, to end the waits
    later = event_from(x, ["*"], token, 5.0)
    assert any(ev["class"] == "vm" and ev["ref"] == vm for ev in later["events"])
    assert all(ev["class"] != "session" for ev in later["events"])
    nxt = x.event.next()
    assert any(ev["class"] == "vm" for ev in nxt)
    assert all(ev["class"] != "session" for ev in nxt)
    assert not any(r in repr(later) + repr(nxt) for r in root_refs)
    # Lookups of another user's session: not shown to exist, not readable, not changeable.
    root_uuid = root.xenapi.session.get_uuid(root._session)
    with pytest.raises(XenAPI.Failure) as e:
        x.session.get_by_uuid(root_uuid)
    assert e.value.details == ["UUID_INVALID", "session", root_uuid]
    for call in (lambda: x.session.get_record(root._session),
                 lambda: x.session.get_auth_user_name(root._session),
                 lambda: x.session.add_to_other_config(root._session, "k", "v")):
        with pytest.raises(XenAPI.Failure) as e:
            call()
        assert e.value.details[0] == "RBAC_PERMISSION_DENIED"
    assert root.xenapi.session.get_other_config(root._session) == {}
    # Its own session it may read, as every client does.
    assert x.session.get_auth_user_name(reader._session) == "reader"
    assert x.session.get_by_uuid(x.session.get_uuid(reader._session)) == reader._session
    fresh.xenapi.VM.destroy(vm)
    fresh.xenapi.session.logout()
    x.event.unregister(["*", "session"])
    reader.xenapi.session.logout()


def test_a_guessed_root_ref_is_useless_because_none_is_visible(srv, root):
    # The escalation of the report: take a ref from the feed, use it. The feed holds no session.
    reader = login(srv, "reader")
    events = event_from(reader.xenapi, ["*"], "", 0.1)["events"]
    leaked = set(re.findall(r"OpaqueRef:[0-9a-f-]+", repr(events))) & {root._session}
    assert leaked == set()
    with pytest.raises(XenAPI.Failure) as e:
        reader.xenapi.VM.create(vm_record("escalation"))
    assert e.value.details[0] == "RBAC_PERMISSION_DENIED"
    reader.xenapi.session.logout()


# --- the role sweep -------------------------------------------------------------------------------

def model_messages():
    return datamodel.messages()


IMPLICIT_WRITES = re.compile(r"^(set_|add_to_|remove_from_|add_|remove_|create$|destroy$)")


def store_dump(state_dir):
    """Every row of every table of the server's database, for a before/after comparison."""
    db = sqlite3.connect(f"file:{os.path.join(state_dir, 'xapi.db')}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        db.close()


def sample_args(x, params, refs):
    """Plausible arguments: real objects for refs, so that a call let through would change something."""
    args = []
    for ty in params:
        m = re.match(r"(\w+) ref$", ty)
        if m:
            args.append(refs.get(m.group(1), "OpaqueRef:NULL"))
        elif ty.endswith(" set"):
            args.append([])
        elif ty.endswith(" map"):
            args.append({})
        elif ty == "int":
            args.append("1")
        elif ty == "float":
            args.append(1.0)
        elif ty == "bool":
            args.append(True)
        elif ty == "datetime":
            args.append("20260101T00:00:00Z")
        elif ty.endswith(" record"):
            args.append({})
        else:
            args.append("x")
    return args


@pytest.mark.parametrize("user", ["reader", "operator"])
def test_every_message_above_the_role_is_refused_and_nothing_changes(srv, root, user):
    r = root.xenapi
    vm = new_vm(r, f"sweep-{user}")  # halted: a running guest's agent would change the store by itself
    refs = {"VM": vm, "host": r.host.get_all()[0], "pool": r.pool.get_all()[0], "task": r.task.create("t", ""),
            "SR": r.SR.get_all()[0], "network": r.network.get_all()[0], "session": root._session}
    for cls in ("VDI", "VBD", "VIF", "PIF", "PBD", "console", "host_cpu", "host_metrics", "VM_metrics",
                "VM_guest_metrics", "crashdump", "message", "VTPM", "user"):
        try:
            found = getattr(r, cls).get_all()
        except XenAPI.Failure:
            found = []
        if found:
            refs[cls] = found[0]
    caller = login(srv, user)
    rank = RANK_OF_ROLE[USERS[user]]
    before = store_dump(srv.state_dir)
    proxy = caller.xenapi
    swept = 0
    for cls, msg, params, role, has_async, removed in model_messages():
        if ROLE_RANK[role] <= rank:
            continue
        args = sample_args(r, params, refs)
        names = [f"{cls}.{msg}"] + ([f"Async.{cls}.{msg}"] if has_async else [])
        for name in names:
            with pytest.raises(XenAPI.Failure) as e:
                getattr(proxy, name)(*args)
            if removed:  # gone from the API for everybody
                assert e.value.details[0] == "MESSAGE_REMOVED", name
            else:
                assert e.value.details[:2] == ["RBAC_PERMISSION_DENIED", f"{cls}.{msg}".lower()], name
            swept += 1
    # The implicit writers (setters, map and set operations, create, destroy) of every class but
    # the caller's own tasks and sessions: read-only and vm-operator may change none of them.
    # (system.listMethods answers a bare list, as xapi's does, which the SDK cannot unwrap.)
    implicit = [m for m in xmlrpc.client.ServerProxy(srv.url).system.listMethods()
                if "." in m and IMPLICIT_WRITES.match(m.split(".", 1)[1]) and not m.startswith(("task.", "session."))]
    declared = {f"{c}.{m}" for c, m, *_ in model_messages()}
    for name in implicit:
        if name in declared:
            continue  # swept above with its declared role
        cls, msg = name.split(".", 1)
        if msg == "create":
            args = [{}]
        else:  # (self), (self, value), (self, key) or (self, key, value)
            arity = 3 if msg.startswith("add_to_") else 1 if msg == "destroy" else 2
            args = [refs.get(cls, "OpaqueRef:NULL")] + ["x"] * (arity - 1)
        with pytest.raises(XenAPI.Failure) as e:
            getattr(proxy, name)(*args)
        assert e.value.details[0] == "RBAC_PERMISSION_DENIED", (name, e.value.details)
        swept += 1
    after = store_dump(srv.state_dir)
    assert swept > 150
    changed = {t for t in before if before[t] != after.get(t)}
    assert changed == set(), f"{user}'s refused calls changed {changed}"
    caller.xenapi.session.logout()
    r.VM.destroy(vm)


def test_local_root_only_messages_need_the_local_superuser(srv, root):
    host = root.xenapi.host.get_all()[0]
    before = root.xenapi.host.get_uefi_certificates(host)
    for user in ("reader", "operator", "poolop"):
        x = login(srv, user).xenapi
        for call in (lambda: x.host.set_uefi_certificates(host, "stolen"),
                     lambda: x.host.emergency_reset_server_certificate(),
                     lambda: x.session.change_password("a", "b")):
            with pytest.raises(XenAPI.Failure) as e:
                call()
            assert e.value.details[0] == "RBAC_PERMISSION_DENIED"
    assert root.xenapi.host.get_uefi_certificates(host) == before


# --- tasks belong to their maker -------------------------------------------------------------------

def test_a_task_is_changed_only_by_its_owner_or_a_pool_operator(srv, root):
    r = root.xenapi
    reader = login(srv, "reader").xenapi
    poolop = login(srv, "poolop").xenapi
    roots = r.task.create("root's", "")
    denied = [lambda t: reader.task.set_status(t, "failure"),
              lambda t: reader.task.set_result(t, "<value>x</value>"),
              lambda t: reader.task.set_progress(t, 0.5),
              lambda t: reader.task.set_error_info(t, ["X"]),
              lambda t: reader.task.add_to_other_config(t, "k", "v"),
              lambda t: reader.task.set_other_config(t, {"k": "v"}),
              lambda t: reader.task.destroy(t)]
    record = r.task.get_record(roots)
    for call in denied:
        with pytest.raises(XenAPI.Failure) as e:
            call(roots)
        assert e.value.details[0] == "RBAC_PERMISSION_DENIED" and e.value.details[1] == "task.destroy/any"
    assert r.task.get_record(roots) == record
    # Reading is open, as in xapi.
    assert reader.task.get_name_label(roots) == "root's"
    # The reader's own task is its to change and destroy.
    mine = reader.task.create("reader's", "")
    reader.task.set_progress(mine, 0.5)
    reader.task.add_to_other_config(mine, "k", "v")
    assert reader.task.get_other_config(mine) == {"k": "v"}
    reader.task.destroy(mine)
    # A pool-operator may act on anybody's task.
    poolop.task.add_to_other_config(roots, "seen-by", "poolop")
    poolop.task.destroy(roots)
    assert roots not in r.task.get_all()


def test_a_reader_cannot_cancel_roots_shutdown(srv, root):
    r = root.xenapi
    vm = new_vm(r, "deaf", other_config={"sim-ignore-shutdown": "true"})
    r.VM.start(vm, False, False)
    task = r.Async.VM.clean_shutdown(vm)
    deadline = time.time() + 10
    while r.task.get_allowed_operations(task) != ["cancel"] and time.time() < deadline:
        time.sleep(0.02)
    reader = login(srv, "reader").xenapi
    with pytest.raises(XenAPI.Failure) as e:
        reader.task.cancel(task)
    assert e.value.details[:2] == ["RBAC_PERMISSION_DENIED", "task.destroy/any"]
    with pytest.raises(XenAPI.Failure) as e:
        reader.Async.task.cancel(task)
    assert e.value.details[:2] == ["RBAC_PERMISSION_DENIED", "task.destroy/any"]
    assert r.task.get_status(task) == "pending"
    # Its owner can.
    r.task.cancel(task)
    while r.task.get_status(task) in ("pending", "cancelling") and time.time() < deadline:
        time.sleep(0.02)
    assert r.task.get_status(task) == "cancelled"
    r.VM.hard_shutdown(vm)
    r.VM.destroy(vm)
