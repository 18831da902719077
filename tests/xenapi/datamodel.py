"""The project's data model (xenapi-model/model/datamodel.txt) as the tests read it: the source of
truth for messages, their parameter types and roles."""
import os
import re

from xenapi_server import ROOT


def messages():
    """(class, message, [param types without defaults], role, async, removed) of every custom
    message the model declares for a session."""
    out = []
    cls = None
    with open(os.path.join(ROOT, "xenapi-model", "model", "datamodel.txt")) as f:
        for line in f:
            m = re.match(r"class (\w+)", line)
            if m:
                cls = m.group(1)
                continue
            m = re.match(r"\s+message (\w+)\((.*?)\) -> .*?role=(\w+)", line)
            if m and "no_session" not in line:
                params = [p.split(":", 1)[1].strip() for p in m.group(2).split(",") if ":" in p and "=" not in p]
                out.append((cls, m.group(1), params, m.group(3), " async" in line, " removed" in line))
    return out
