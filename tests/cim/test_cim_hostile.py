"""The CIM-XML port of `xencim serve` facing hostile clients, end to end.

* Authentication comes first: a request without valid credentials gets 401 with
  WWW-Authenticate, whatever its method, path or CIM headers, over HTTP and HTTPS.
* The inputs that once panicked the broker or the providers (an M-POST whose Man header gives
  an ns= that cannot be part of a header name; a DefineSystem embedded instance whose
  `</PROPERTY>` comes before the end of its start tag) are answered with HTTP or CIM errors.
* A bounded, seeded mutation loop of DefineSystem calls with damaged SystemSettings and
  ResourceSettings (CIM-XML and MOF, odd quoting, escapes, multibyte characters) gets a reply for
  every call; the server log holds no panic, and the server still answers at the end.
"""
import base64
import random
import shutil
import socket
import ssl

import pytest

import cim_env
from xenapi_server import PASSWORD, Server, free_port, new_state_dir

pywbem = pytest.importorskip("pywbem")

NS = "root/cimv2"
MAPPING = "http://www.dmtf.org/cim/mapping/http/v1.0"
GET_CLASS = ('<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0">'
             '<SIMPLEREQ><IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/>'
             '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_ManagedElement"/></IPARAMVALUE>'
             '</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>')


@pytest.fixture(scope="module")
def srv():
    """One `xencim serve` with the CIM broker on HTTP and HTTPS."""
    if not cim_env.SCHEMA:
        pytest.skip("CIM_SCHEMA_DIR is not set: the DMTF CIM schema 2.41.0 is needed for this test")
    cim_env.build_providers()
    d = new_state_dir()
    port, tls_port = free_port(), free_port()
    s = Server(d, cim_env.write_sim_config(d, **cim_env.FAST_SIM) + [
        "--cim-listen", f"127.0.0.1:{port}", "--cim-tls-listen", f"127.0.0.1:{tls_port}", "--cim-schema", cim_env.SCHEMA]).start()
    s.cim_port, s.cim_tls_port = port, tls_port
    s.cim_url = f"http://127.0.0.1:{port}"
    cim_env.wait_for_port(port)
    cim_env.wait_for_port(tls_port)
    yield s
    s.stop()
    shutil.rmtree(s.state_dir, ignore_errors=True)


def log_text(srv):
    with open(srv.log_path, errors="replace") as f:
        return f.read()


def assert_no_panic(srv):
    panics = [line for line in log_text(srv).splitlines() if "panicked" in line]
    assert not panics, "panic in the server log:\n" + "\n".join(panics[:10])


def send(srv, method, path, headers, body=b"", tls=False, declared_length=None):
    """One request on its own connection, written byte for byte (header values may hold any
    bytes; `declared_length` announces a larger body than is sent); returns (status, headers
    with lower-case names, body) of the reply, read until the server closes."""
    sock = socket.create_connection(("127.0.0.1", srv.cim_tls_port if tls else srv.cim_port), timeout=60)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        for k, v in headers:
            head += k.encode() + b": " + (v.encode("utf-8") if isinstance(v, str) else v) + b"\r\n"
        length = len(body) if declared_length is None else declared_length
        head += f"Connection: close\r\nContent-Length: {length}\r\n\r\n".encode()
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the whole body was sent: the reply is read below
        reply = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            reply += chunk
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 "), f"no HTTP reply to {method} {path}: {reply[:200]!r}"
    head, _, rest = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        rest = dechunk(rest)
    return status, hdrs, rest


def dechunk(data):
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CIM_HEADERS = [("Content-Type", 'application/xml; charset="utf-8"'), ("CIMOperation", "MethodCall"),
               ("CIMMethod", "GetClass"), ("CIMObject", "root%2Fcimv2")]
MPOST_HEADERS = [("Content-Type", "application/xml"), ("Man", f"{MAPPING} ; ns=73"), ("73-CIMOperation", "MethodCall"),
                 ("73-CIMMethod", "GetClass"), ("73-CIMObject", "root%2Fcimv2")]

# (what, method, path, headers, body): none carries valid credentials
UNAUTHENTICATED = [
    ("POST /cimom with CIM headers", "POST", "/cimom", CIM_HEADERS, GET_CLASS),
    ("POST /cimom without CIM headers", "POST", "/cimom", [], GET_CLASS),
    ("POST / with CIM headers", "POST", "/", CIM_HEADERS, GET_CLASS),
    ("M-POST", "M-POST", "/cimom", MPOST_HEADERS, GET_CLASS),
    ("M-POST without Man", "M-POST", "/cimom", MPOST_HEADERS[2:], GET_CLASS),
    ("M-POST with a bad ns=", "M-POST", "/cimom", [("Man", f"{MAPPING} ; ns=7 3"), ("CIMOperation", "MethodCall")], GET_CLASS),
    ("M-POST with a foreign Man", "M-POST", "/cimom", [("Man", "http://example.org/x; ns=11")], GET_CLASS),
    ("GET /", "GET", "/", [], b""),
    ("GET /cimom", "GET", "/cimom", [], b""),
    ("OPTIONS *", "OPTIONS", "*", [], b""),
    ("OPTIONS /cimom", "OPTIONS", "/cimom", [], b""),
    ("PUT /cimom", "PUT", "/cimom", CIM_HEADERS, GET_CLASS),
    ("DELETE /", "DELETE", "/", [], b""),
    ("POST to an unknown path", "POST", "/no/such/path", CIM_HEADERS, GET_CLASS),
    ("GET an unknown path", "GET", "/favicon.ico", [], b""),
    ("CIMOperation MethodResponse", "POST", "/cimom", [("CIMOperation", "MethodResponse"), ("CIMMethod", "GetClass")], GET_CLASS),
    ("CIMMethod mismatch", "POST", "/cimom", [("CIMOperation", "MethodCall"), ("CIMMethod", "Nope"), ("CIMObject", "x")], GET_CLASS),
    ("CIMProtocolVersion 9", "POST", "/cimom", CIM_HEADERS + [("CIMProtocolVersion", "9.0")], GET_CLASS),
    ("non-ASCII CIM headers", "POST", "/cimom", [("CIMOperation", "MethodCall\xe9"), ("CIMObject", "root/\u20ac%")], GET_CLASS),
    ("not XML", "POST", "/cimom", CIM_HEADERS, b"\xff\xfe<<<"),
    ("body over the size limit", "POST", "/cimom", CIM_HEADERS, b"<" * 1024, 64 << 20),
    ("malformed Authorization", "POST", "/cimom", CIM_HEADERS + [("Authorization", "Basic !!!")], GET_CLASS),
    ("Authorization without a colon", "POST", "/cimom", CIM_HEADERS + [("Authorization", "Basic " + base64.b64encode(b"root").decode())], GET_CLASS),
    ("another scheme", "GET", "/", [("Authorization", "Bearer abc")], b""),
    ("unknown user", "M-POST", "/elsewhere", MPOST_HEADERS + [("Authorization", basic("nobody", "x"))], GET_CLASS),
]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("case", UNAUTHENTICATED, ids=[u[0] for u in UNAUTHENTICATED])
def test_unauthenticated_requests_get_401_first(srv, tls, case):
    what, method, path, headers, body = case[:5]
    declared = case[5] if len(case) > 5 else None
    body = body.encode() if isinstance(body, str) else body
    status, hdrs, text = send(srv, method, path, headers, body, tls=tls, declared_length=declared)
    assert status == 401, (what, status, text[:300])
    assert hdrs.get("www-authenticate", "").startswith("Basic realm="), hdrs
    # nothing about the server, CIM or the request beyond "authenticate"
    assert "cimerror" not in hdrs and "allow" not in hdrs and not any(k.endswith("cimerror") for k in hdrs), hdrs
    assert text == b"authentication required", text[:300]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_authenticated_requests_still_get_their_answers(srv, tls):
    """What came before authentication now comes after it, unchanged."""
    auth = [("Authorization", basic("root", PASSWORD))]
    status, hdrs, _ = send(srv, "GET", "/", auth, tls=tls)
    assert status == 405 and "POST" in hdrs["allow"]
    status, _, _ = send(srv, "POST", "/elsewhere", CIM_HEADERS + auth, GET_CLASS.encode(), tls=tls)
    assert status == 404
    status, hdrs, _ = send(srv, "POST", "/cimom", [("CIMOperation", "MethodResponse")] + auth, GET_CLASS.encode(), tls=tls)
    assert status == 400 and hdrs["cimerror"] == "unsupported-operation"
    status, hdrs, text = send(srv, "M-POST", "/cimom", MPOST_HEADERS + auth, GET_CLASS.encode(), tls=tls)
    assert status == 200 and hdrs["73-cimoperation"] == "MethodResponse", text[:300]
    assert b'<CLASS NAME="CIM_ManagedElement"' in text


@pytest.mark.parametrize("ns", ["7 3", "a:b", "../x", "", "73;ns=74", "\u00e9"])
def test_mpost_with_a_malformed_ns_is_a_400_not_a_panic(srv, ns):
    """Such a prefix once made the broker build an invalid header name and panic: the client's
    connection was closed without a reply."""
    auth = ("Authorization", basic("root", PASSWORD))
    headers = [("Man", f"{MAPPING} ; ns={ns}"), ("CIMOperation", "MethodCall"), ("CIMMethod", "GetClass"),
               ("CIMObject", "root%2Fcimv2"), auth]
    status, hdrs, text = send(srv, "M-POST", "/cimom", headers, GET_CLASS.encode())
    if ns == "73;ns=74":
        # the first ns= counts: 73, whose prefixed CIM headers are missing
        assert status == 400 and hdrs["73-cimerror"] == "unsupported-operation", (status, hdrs)
    else:
        assert status == 400 and hdrs["cimerror"] == "request-not-valid", (status, hdrs, text)
    assert_no_panic(srv)


@pytest.fixture(scope="module")
def cim(srv):
    return pywbem.WBEMConnection(srv.cim_url, ("root", PASSWORD), default_namespace=NS, timeout=60)


@pytest.fixture(scope="module")
def vsms(cim):
    return cim.EnumerateInstanceNames("Xen_VirtualSystemManagementService")[0]


VSSD_XML = ('<INSTANCE CLASSNAME="Xen_ComputerSystemSettingData"><PROPERTY NAME="ElementName" TYPE="string"><VALUE>hostile-{n}</VALUE>'
            '</PROPERTY><PROPERTY NAME="VirtualSystemType" TYPE="string"><VALUE>DMTF:Xen:HVM</VALUE></PROPERTY>'
            '<PROPERTY.ARRAY NAME="HVM_Boot_Params" TYPE="string"><VALUE.ARRAY><VALUE>order=cd</VALUE></VALUE.ARRAY></PROPERTY.ARRAY></INSTANCE>')
MEM_XML = ('<INSTANCE CLASSNAME="Xen_MemorySettingData"><PROPERTY NAME="ResourceType" TYPE="uint16"><VALUE>4</VALUE></PROPERTY>'
           '<PROPERTY NAME="VirtualQuantity" TYPE="uint64"><VALUE>512</VALUE></PROPERTY>'
           '<PROPERTY NAME="AllocationUnits" TYPE="string"><VALUE>byte*2^20</VALUE></PROPERTY></INSTANCE>')
VSSD_MOF = ('instance of Xen_ComputerSystemSettingData { ElementName = "hostile-{n} \\"q\\" \u00e9\u20ac"; '
            'VirtualSystemType = "DMTF:Xen:PV"; Platform = {"a=b", "c=d"}; };')
CPU_MOF = "instance of Xen_ProcessorSettingData { ResourceType = 3; VirtualQuantity = 2; Reservation = 1; };"


def test_the_known_define_system_panic_is_a_cim_error(cim, vsms, srv):
    """`</PROPERTY>` inside the PROPERTY start tag once made the providers slice a string with
    its start after its end."""
    bad = '<INSTANCE CLASSNAME="Xen_ComputerSystemSettingData"><PROPERTY NAME="ElementName" </PROPERTY>'
    for settings, resources in [(bad, [MEM_XML]), (VSSD_XML.replace("{n}", "x"), [bad]), ('["\\', [MEM_XML])]:
        with pytest.raises(pywbem.CIMError) as e:
            cim.InvokeMethod("DefineSystem", vsms, SystemSettings=settings, ResourceSettings=resources)
        assert e.value.status_code == pywbem.CIM_ERR_INVALID_PARAMETER, e.value
        assert "embedded instance" in e.value.status_description, e.value
    assert_no_panic(srv)


PIECES = ["<", ">", '"', "'", "/", "\\", "&", ";", "&#x110000;", "&#99999999999;", "&amp", "\u00e9", "\u20ac", "\U0001d11e",
          "</PROPERTY>", '<PROPERTY NAME="', "<VALUE>", "</VALUE>", "<INSTANCE", "[", "{", "}", "\\\"", "<!--", "]]>"]


def mutate(rng, text):
    s = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(s))
        op = rng.randrange(4)
        if op == 0:
            s[at:at] = list(rng.choice(PIECES))
        elif op == 1:
            del s[at:at + rng.randint(1, 8)]
        elif op == 2:
            s[at:at] = s[at:at + rng.randint(1, 16)]
        else:
            del s[at:]
    return "".join(s)


def test_mutated_define_system_inputs_never_panic(cim, vsms, srv, x_root):
    """A few hundred DefineSystem calls with damaged embedded instances: each is answered (a
    result or a CIM error, never a dropped connection or an HTTP error), the log has no panic,
    and the server answers a normal request afterwards. VMs that happen to be defined are
    removed at the end."""
    rng = random.Random(20261202)
    outcomes = {}
    for i in range(300):
        vssd = (VSSD_XML if i % 2 else VSSD_MOF).replace("{n}", str(i))
        rasds = [MEM_XML, CPU_MOF]
        which = rng.randrange(3)
        if which == 0:
            vssd = mutate(rng, vssd)
        else:
            rasds[which - 1] = mutate(rng, rasds[which - 1])
        try:
            rc, _ = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=vssd, ResourceSettings=rasds)
            key = f"rc={rc}"
        except pywbem.CIMError as e:
            assert e.status_code in (pywbem.CIM_ERR_INVALID_PARAMETER, pywbem.CIM_ERR_FAILED), (vssd, rasds, e)
            assert "panic" not in e.status_description, (vssd, rasds, e)
            key = e.status_code_name
        outcomes[key] = outcomes.get(key, 0) + 1
    assert_no_panic(srv)
    assert outcomes.get("CIM_ERR_INVALID_PARAMETER", 0) > 50, outcomes
    assert cim.GetClass("Xen_ComputerSystem").classname == "Xen_ComputerSystem"
    for ref in x_root.VM.get_all():
        if x_root.VM.get_name_label(ref).startswith("hostile-") and not x_root.VM.get_is_a_template(ref):
            x_root.VM.destroy(ref)


@pytest.fixture(scope="module")
def x_root(srv):
    XenAPI = pytest.importorskip("XenAPI")
    s = XenAPI.Session(srv.url)
    s.xenapi.login_with_password("root", PASSWORD, "2.21", "test_cim_hostile")
    yield s.xenapi
    s.xenapi.session.logout()


def test_mutated_inputs_to_the_other_vsms_methods_never_panic(cim, vsms, srv, x_root):
    """ModifySystemSettings, ModifyResourceSettings and AddResourceSettings parse the same
    embedded instances: damaged ones on a real VM are answered with a result or a CIM error."""
    rc, out = cim.InvokeMethod("DefineSystem", vsms, SystemSettings=VSSD_MOF.replace("{n}", "target"), ResourceSettings=[MEM_XML])
    assert rc == 0
    uuid = out["ResultingSystem"]["Name"]
    vssd_path = pywbem.CIMInstanceName("Xen_ComputerSystemSettingData", keybindings={"InstanceID": f"Xen:{uuid}"}, namespace=NS)
    seeds = {
        "ModifySystemSettings": f'instance of Xen_ComputerSystemSettingData {{ InstanceID = "Xen:{uuid}"; ElementName = "hostile-target"; '
                                'Description = "d \u00e9"; };',
        "ModifyResourceSettings": f'<INSTANCE CLASSNAME="Xen_ProcessorSettingData"><PROPERTY NAME="InstanceID" TYPE="string">'
                                  f'<VALUE>Xen:{uuid}/Processor</VALUE></PROPERTY><PROPERTY NAME="Weight" TYPE="uint32"><VALUE>256</VALUE>'
                                  '</PROPERTY></INSTANCE>',
        "AddResourceSettings": 'instance of Xen_DiskSettingData { ResourceType = 16; ElementName = "cd"; };',
    }
    rng = random.Random(1202)
    outcomes = {}
    for i in range(150):
        method = list(seeds)[i % 3]
        text = mutate(rng, seeds[method])
        args = {"SystemSettings": text} if method == "ModifySystemSettings" else {"ResourceSettings": [text]}
        if method == "AddResourceSettings":
            args["AffectedConfiguration"] = vssd_path
        try:
            rc, _ = cim.InvokeMethod(method, vsms, **args)
            key = f"{method} rc={rc}"
        except pywbem.CIMError as e:
            assert "panic" not in e.status_description, (method, text, e)
            key = f"{method} {e.status_code_name}"
        outcomes[key] = outcomes.get(key, 0) + 1
    assert_no_panic(srv)
    assert sum(n for k, n in outcomes.items() if "INVALID_PARAMETER" in k) > 30, outcomes
    x_root.VM.destroy(x_root.VM.get_by_uuid(uuid))


HOSTILE_KEYS = ["", "Xen:", "Xen:/", "Xen:\u00e9/\u20ac", "Xen:" + "a/" * 2000, "\U0001d11e" * 500, "Xen:x/y/z\\\"'<&>",
                "Xen:00000000-0000-0000-0000-000000000000/Processor"]


def test_hostile_keys_in_every_xen_class(cim, srv):
    """GetInstance on every Xen_ class with odd key values: not found or invalid, never a panic."""
    classes = [c for c in cim.EnumerateClassNames(DeepInheritance=True) if c.startswith("Xen_")]
    assert len(classes) > 20, classes
    asked = 0
    for name in classes:
        cls = cim.GetClass(name, LocalOnly=False)
        keys = [p for p in cls.properties.values() if "Key" in p.qualifiers]
        if not keys or any(p.type == "reference" for p in keys):
            continue
        for value in HOSTILE_KEYS:
            kb = {p.name: (value if p.type == "string" else 0) for p in keys}
            try:
                cim.GetInstance(pywbem.CIMInstanceName(name, keybindings=kb, namespace=NS))
            except pywbem.CIMError as e:
                assert e.status_code in (pywbem.CIM_ERR_NOT_FOUND, pywbem.CIM_ERR_INVALID_PARAMETER), (name, value, e)
            asked += 1
    assert asked > 100, asked
    assert_no_panic(srv)


@pytest.mark.parametrize("bad", ["\uffff", "\ufffe", "\u0001"])
def test_characters_xml_cannot_carry_in_cim_property_values_are_refused(cim, vsms, srv, x_root, bad):
    """A CIM client's property value reaches the XenAPI, which refuses what XML 1.0 cannot carry:
    nothing unreadable is stored, whichever way the broker and the providers pass it on."""
    settings = f'instance of Xen_ComputerSystemSettingData {{ ElementName = "bad{bad}name"; VirtualSystemType = "DMTF:Xen:PV"; }};'
    with pytest.raises(pywbem.Error):
        cim.InvokeMethod("DefineSystem", vsms, SystemSettings=settings, ResourceSettings=[MEM_XML])
    vm = x_root.VM.create(cim_env.vm_record("cim-clean-name"))
    try:
        uuid = x_root.VM.get_uuid(vm)
        vssd = f'instance of Xen_ComputerSystemSettingData {{ InstanceID = "Xen:{uuid}"; ElementName = "x{bad}y"; }};'
        with pytest.raises(pywbem.Error):
            cim.InvokeMethod("ModifySystemSettings", vsms, SystemSettings=vssd)
        assert x_root.VM.get_name_label(vm) == "cim-clean-name"
    finally:
        x_root.VM.destroy(vm)
    records = x_root.VM.get_all_records()  # every record still reads over XML-RPC
    assert not [r for r in records.values() if r["name_label"].startswith("bad")]
    assert_no_panic(srv)
