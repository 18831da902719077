"""Stopping the server while a watcher long-polls event.from: the poll is answered at once and
the server exits without waiting out its graceful-shutdown grace (10 s) for that connection."""
import shutil
import threading
import time

import XenAPI

from xenapi_server import FAST, PASSWORD, Server, new_state_dir, write_sim_config


def test_stop_answers_a_long_event_from_and_exits():
    d = new_state_dir()
    srv = Server(d, write_sim_config(d, **FAST)).start()
    try:
        s = XenAPI.Session(srv.url)
        s.xenapi.login_with_password("root", PASSWORD, "2.21", "stop-test")
        token = s.xenapi.event_from(["vm"], "", 0.0)["token"]
        answered = {}

        def watch():
            try:
                answered["batch"] = s.xenapi.event_from(["vm"], token, 60.0)
            except Exception as e:  # the connection may close as the server goes
                answered["error"] = e
            answered["at"] = time.monotonic()

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "the poll waits while nothing changes"
        stopped_at = time.monotonic()
        assert srv.stop() == 0
        t.join(5)
        assert "at" in answered, "the long poll ended with the server"
        assert answered["at"] - stopped_at < 5
        assert time.monotonic() - stopped_at < 8, "no wait for the 10 s grace"
        if "batch" in answered:
            assert answered["batch"]["events"] == []
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
