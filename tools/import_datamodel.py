#!/usr/bin/env python3
"""One-time importer: turns the project's XenAPI reference fact sheet (markdown tables) into
xenapi-model/model/datamodel.txt, the data model the server is built from.

The .txt file is the source of truth once imported (it is checked in and may be edited by hand);
this script documents where its contents came from and can re-import after the fact sheet grows.

usage: tools/import_datamodel.py ../shared/reference/xenapi-datamodel.md > xenapi-model/model/datamodel.txt
"""
import re
import sys

def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]

def main(path):
    out = ["# XenAPI data model: classes, fields, enums and messages.",
           "# Imported from the reference fact sheet by tools/import_datamodel.py; edit by hand from here on.",
           "# Grammar (one item per line, indented under its class):",
           "#   class NAME",
           "#   field NAME: TYPE QUAL [= DEFAULT | required] [deprecated] [removed]",
           "#   enum NAME = VALUE VALUE ...",
           "#   implicit MESSAGE ...        (get_<f> is implied for every field of a database class)",
           "#   setters FIELD ... / map_ops FIELD ... / set_ops FIELD ...",
           "#   message NAME(PARAM: TYPE [= DEFAULT], ...) -> TYPE [async] [deprecated] [removed] role=R [errors=E,E]",
           "#   (messages take the session first unless marked no_session)",
           ""]
    cls = None
    section = None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        m = re.match(r"^## (\S+)\s*$", line)
        if m and not line.startswith("## Implicit") and not line.startswith("## Legend"):
            cls = m.group(1)
            out.append("")
            out.append(f"class {cls}")
            section = None
            continue
        if cls is None:
            continue
        if line.startswith("### "):
            section = "prose"
            continue
        if line.startswith("| field |"):
            section = "fields"; continue
        if line.startswith("| message |"):
            section = "messages"; continue
        if line.startswith("|---"):
            continue
        if line.startswith("- enum `"):
            m = re.match(r"- enum `([^`]+)`: (.*)$", line)
            vals = [v.strip() for v in m.group(2).split(",")]
            out.append(f"  enum {m.group(1)} = {' '.join(vals)}")
            continue
        if line.startswith("Implicit:"):
            body = line[len("Implicit:"):].strip()
            if body.startswith("none"):
                out.append("  implicit")
                continue
            words = []
            for part in body.split(";"):
                part = part.strip().rstrip(".")
                if part.startswith("get_<f>"):
                    continue
                words += [w.strip() for w in part.split(",") if w.strip()]
            out.append("  implicit " + " ".join(words))
            continue
        for label, key in (("Setters (set_<f>):", "setters"), ("Map ops (add_to_/remove_from_):", "map_ops"),
                           ("Set ops (add_/remove_):", "set_ops")):
            if line.startswith(label):
                vals = [v.strip().rstrip(".") for v in line[len(label):].split(",")]
                out.append(f"  {key} " + " ".join(vals))
        if not line.startswith("| "):
            continue
        c = cells(line)
        if section == "fields":
            name, ty, qual, ctor, since = c[0], c[1], c[2], c[3], c[4]
            if "1.0 only" in since:
                continue
            if ty.startswith("<class>"):
                continue
            s = f"  field {name}: {ty} {qual}"
            if ctor == "req":
                s += " required"
            elif ctor not in ("-", ""):
                s += f" = {ctor}"
            if "(X)" in since:
                s += " removed"
            elif "(D)" in since:
                s += " deprecated"
            out.append(s)
        elif section == "messages":
            name, params, ret, asy, role, since, errs = c[:7]
            flags = []
            if name.endswith(" (D)"):
                name = name[:-4]; flags.append("deprecated")
            elif name.endswith(" (X)"):
                name = name[:-4]; flags.append("removed")
            elif name.endswith(" (P)"):
                name = name[:-4]
            no_session = params.startswith("(no session_id)")
            params = params.replace("(no session_id)", "").strip()
            ps = []
            for p in [p.strip() for p in params.split(", ") if p.strip()]:
                pn, pt = p.split(":", 1)
                pt = pt.strip()
                if "=" in pt:
                    t, d = pt.split("=", 1)
                    ps.append(f"{pn}: {t.strip()} = {d.strip()}")
                else:
                    ps.append(f"{pn}: {pt}")
            s = f"  message {name}({', '.join(ps)}) -> {ret}"
            if asy == "A":
                s += " async"
            if no_session:
                s += " no_session"
            s += "".join(" " + f for f in flags)
            # The fact sheet leaves a role out ('-') for a few messages; the safe default is the
            # most privileged role, never read-only (those were later set by hand from xapi).
            s += f" role={role if role not in ('', '-') else 'PA'}"
            errs = [e.strip() for e in errs.split(",") if e.strip() and not e.strip().startswith("+")]
            errs = [e.split(" +")[0] for e in errs]
            if errs:
                s += " errors=" + ",".join(errs)
            out.append(s)
    print("\n".join(out))

if __name__ == "__main__":
    main(sys.argv[1])
