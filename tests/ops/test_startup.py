"""Start-up output of `xencim serve`: a screenful at the default level (one line per listener,
one for the CIM side, the first-start password line among them), per-provider detail at debug,
and JSON lines with --log-format json."""
import json
import os
import pty
import re
import select
import subprocess
import time

import pytest

from ops_env import READY, SCHEMA, Started, free_port, new_state_dir, xencim_binary

# One line per listener (3 XenAPI + 2 CIM), the CIM summary, the self-signed certificate, the
# readiness line and the first-start password notice (the log line saying where the file is,
# and on a terminal the password itself): 9 or 10 lines, never the 61 per-provider lines.
MAX_LINES = 10


def serve_args(state_dir, cim=True, extra=()):
    args = [xencim_binary(), "serve", "--state-dir", state_dir,
            "--xenapi-listen", f"127.0.0.1:{free_port()}", "--xenapi-tls-listen", f"127.0.0.1:{free_port()}"]
    if cim:
        args += ["--cim-listen", f"127.0.0.1:{free_port()}", "--cim-tls-listen", f"127.0.0.1:{free_port()}"]
        if SCHEMA:
            args += ["--cim-schema", SCHEMA]
    else:
        args += ["--cim-listen", "off"]
    return args + list(extra)


@pytest.fixture
def started():
    made = []

    def start(argv, env=None):
        state = argv[argv.index("--state-dir") + 1]
        s = Started(argv, os.path.join(os.path.dirname(state), "serve.log"), env=env)
        made.append(s)
        return s
    yield start
    for s in made:
        assert s.stop() == 0, s.output()


def fresh_state():
    """A state directory that does not exist yet, as on a real first start (the server makes it;
    one made by the test would be reported as too open and restricted, one more line)."""
    return os.path.join(new_state_dir(), "state")


def quiet_env():
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    return env


def check_first_start(out, d):
    lines = out.splitlines()
    assert len(lines) <= MAX_LINES, f"{len(lines)} start-up lines:\n{out}"
    pw_file = os.path.join(d, "initial-password")
    assert any(pw_file in line for line in lines), out
    for kind in ("http://", "https://", "unix:"):
        assert sum(("XenAPI listening on " + kind) in line for line in lines) == 1, out
    assert sum("CIM-XML broker listening on" in line for line in lines) == 2, out
    cim = [line for line in lines if "CIM model:" in line]
    assert len(cim) == 1, out
    assert "62 class registrations served by 61 providers" in cim[0], cim[0]
    assert ("DMTF schema" if SCHEMA else "no DMTF schema") in cim[0]
    assert not any("loaded provider" in line for line in lines), out
    return lines, open(pw_file).read().strip()


def test_first_start_fits_a_screen_and_says_where_the_password_is(started):
    d = fresh_state()
    s = started(serve_args(d), env=quiet_env())
    lines, password = check_first_start(s.wait_ready(), d)
    # Not a terminal (a file here, the journal under systemd): the password itself is not shown.
    assert password and not any(password in line for line in lines)
    assert not any("\x1b[" in line for line in lines), "colour codes in a log that is not a terminal"


def test_first_start_on_a_terminal_shows_the_password():
    d = fresh_state()
    master, slave = pty.openpty()
    proc = subprocess.Popen(serve_args(d), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=quiet_env())
    os.close(slave)
    out = b""
    try:
        deadline = time.time() + 120
        while READY.encode() not in out and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                out += os.read(master, 65536)
            assert proc.poll() is None, out.decode(errors="replace")
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode(errors="replace")).replace("\r", "")
        assert READY in text, text
        lines, password = check_first_start(text, d)
        assert sum(password in line for line in lines) == 1, text
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        os.close(master)


def test_second_start_does_not_show_a_password(started):
    d = fresh_state()
    first = started(serve_args(d, cim=False), env=quiet_env())
    first.wait_ready()
    password = open(os.path.join(d, "initial-password")).read().strip()
    assert first.stop() == 0
    os.rename(first.log_path, first.log_path + ".1")
    again = started(serve_args(d, cim=False), env=quiet_env())
    out = again.wait_ready()
    assert password not in out
    assert "initial-password" not in out


def test_debug_level_as_json_has_the_provider_detail(started):
    d = fresh_state()
    s = started(serve_args(d, extra=["--log-level", "debug", "--log-format", "json"]), env=quiet_env())
    s.wait_ready()
    events = []
    for line in s.output().splitlines():
        events.append(json.loads(line))  # every line (not a terminal: no password notice)
    messages = [e["fields"]["message"] for e in events]
    assert sum(m.startswith("loaded provider ") for m in messages) == 61
    assert any(READY in m for m in messages)
    assert {e["level"] for e in events} >= {"INFO", "DEBUG"}


def test_rust_log_sets_the_level_and_log_level_wins(started):
    env = quiet_env()
    env["RUST_LOG"] = "warn"
    d = new_state_dir()
    pw = os.path.join(d, "pw")
    with open(pw, "w") as f:
        f.write("x-password\n")
    argv = serve_args(d, cim=False, extra=["--root-password-file", pw])
    s = started(argv, env=env)
    # RUST_LOG=warn hides the info lines, the readiness line included: wait for the socket.
    sock = os.path.join(d, "xapi.sock")
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(sock):
        time.sleep(0.1)
    assert os.path.exists(sock), s.output()
    assert s.stop() == 0
    assert "INFO" not in s.output()
    d2 = new_state_dir()
    pw2 = os.path.join(d2, "pw")
    with open(pw2, "w") as f:
        f.write("x-password\n")
    s2 = started(serve_args(d2, cim=False, extra=["--root-password-file", pw2, "--log-level", "info"]), env=env)
    assert READY in s2.wait_ready()


def test_a_bad_log_level_is_refused():
    r = subprocess.run([xencim_binary(), "--log-level", "xencim=loudest", "api-doc"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "bad --log-level" in r.stderr


def test_a_cim_broker_that_cannot_start_stops_the_server(tmp_path):
    # A service manager must see the failure (and restart), not a half-working service.
    d = new_state_dir()
    argv = [a for a in serve_args(d, cim=False) if a not in ("--cim-listen", "off")]
    argv += ["--cim-listen", f"127.0.0.1:{free_port()}", "--cim-tls-listen", "off",
             "--cim-schema", str(tmp_path / "no-schema-here")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=quiet_env())
    assert r.returncode == 1, r.stderr
    assert "could not start: reading schema directory" in r.stderr
    assert "no-schema-here" in r.stderr
    assert READY not in r.stderr
    assert not os.path.exists(os.path.join(d, "xapi.sock")), "the XenAPI was not stopped cleanly"
