"""Start-up output of `xencim serve`: a screenful at the default level (one line per listener,
one for the CIM side, the first-start password line among them), per-provider detail at debug,
and JSON lines with --log-format json."""
import json
import os
import subprocess
import time

import pytest

from ops_env import READY, SCHEMA, Started, free_port, new_state_dir, xencim_binary

# One line per listener (3 XenAPI + 2 CIM), the CIM summary, the self-signed certificate, the
# readiness line and the first-start password: 9 today. The bound leaves room for one more line
# of the password notice, not for per-provider lines (there are 61 providers).
MAX_LINES = 11


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
        s = Started(argv, os.path.join(argv[argv.index("--state-dir") + 1], "serve.log"), env=env)
        made.append(s)
        return s
    yield start
    for s in made:
        assert s.stop() == 0, s.output()


def quiet_env():
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    return env


def test_first_start_fits_a_screen_and_shows_the_password_file(started):
    d = new_state_dir()
    s = started(serve_args(d), env=quiet_env())
    out = s.wait_ready()
    lines = out.splitlines()
    assert len(lines) <= MAX_LINES, f"{len(lines)} start-up lines:\n{out}"
    pw_file = os.path.join(d, "initial-password")
    password = open(pw_file).read().strip()
    assert password
    assert any(pw_file in line for line in lines), out
    assert any(password in line for line in lines), "the generated password is not shown on first start:\n" + out
    for kind in ("http://", "https://", "unix:"):
        assert sum(("XenAPI listening on " + kind) in line for line in lines) == 1, out
    assert sum("CIM-XML broker listening on" in line for line in lines) == 2, out
    cim = [line for line in lines if "CIM model:" in line]
    assert len(cim) == 1, out
    assert "62 class registrations served by 61 providers" in cim[0], cim[0]
    assert ("DMTF schema" if SCHEMA else "no DMTF schema") in cim[0]
    assert not any("loaded provider" in line for line in lines), out
    assert "\x1b[" not in out, "colour codes in a log that is not a terminal"


def test_second_start_does_not_show_a_password(started):
    d = new_state_dir()
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
    d = new_state_dir()
    s = started(serve_args(d, extra=["--log-level", "debug", "--log-format", "json"]), env=quiet_env())
    s.wait_ready()
    events = []
    for line in s.output().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
        else:
            # Only the first-start password notice is written directly, not as a log event.
            assert "password" in line or "initial-password" in line, line
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
