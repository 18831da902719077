"""DSP0200 transport behaviour with raw HTTP: headers, CIMError, bad XML,
body limit, keep-alive, chunked responses, GetProperty/SetProperty."""
import http.client
import re

import pytest

NS = '<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH>'


def call_xml(method, params="", ns=NS, msgid="42"):
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="%s" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
        '<IMETHODCALL NAME="%s">%s%s</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>' % (msgid, method, ns, params)
    )


def post(broker, body, method="GetClass", obj="root/cimv2", extra=None, verb="POST", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", broker.port, timeout=30)
    headers = {"Content-Type": 'application/xml; charset="utf-8"'}
    if verb == "M-POST":
        headers.update({"Man": "http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73",
                        "73-CIMOperation": "MethodCall", "73-CIMMethod": method, "73-CIMObject": obj})
    else:
        headers.update({"CIMOperation": "MethodCall", "CIMMethod": method, "CIMObject": obj})
    headers.update(extra or {})
    data = body.encode() if isinstance(body, str) else body
    c.request(verb, "/cimom", body=data, headers=headers)
    r = c.getresponse()
    return r, r.read().decode("utf-8", "replace")


def error_code(text):
    m = re.search(r'<ERROR CODE="(\d+)"', text)
    return int(m.group(1)) if m else None


CLASSNAME = '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="XenTest_Element"/></IPARAMVALUE>'


def test_get_class_raw_and_headers(broker):
    r, text = post(broker, call_xml("GetClass", CLASSNAME))
    assert r.status == 200
    assert r.getheader("CIMOperation") == "MethodResponse"
    assert '<MESSAGE ID="42"' in text and '<CLASS NAME="XenTest_Element"' in text


def test_m_post(broker):
    r, text = post(broker, call_xml("GetClass", CLASSNAME), verb="M-POST")
    assert r.status == 200 and r.getheader("73-CIMOperation") == "MethodResponse"
    assert '<CLASS NAME="XenTest_Element"' in text


def test_not_well_formed(broker):
    r, _ = post(broker, "<CIM><MESSAGE>")
    assert r.status == 400 and r.getheader("CIMError") == "request-not-well-formed"
    r, _ = post(broker, b"\xff\xfe<<<")
    assert r.status == 400 and r.getheader("CIMError") == "request-not-well-formed"


def test_not_valid(broker):
    r, _ = post(broker, '<?xml version="1.0"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"/></CIM>')
    assert r.status == 400 and r.getheader("CIMError") == "request-not-valid"
    r, _ = post(broker, '<?xml version="1.0"?><CIM CIMVERSION="3.0" DTDVERSION="2.0"/>')
    assert r.status == 501 and r.getheader("CIMError") == "unsupported-cim-version"


def test_header_mismatch_and_operation(broker):
    r, _ = post(broker, call_xml("GetClass", CLASSNAME), method="EnumerateClasses")
    assert r.status == 400 and r.getheader("CIMError") == "header-mismatch"
    r, _ = post(broker, call_xml("GetClass", CLASSNAME), obj="root/interop")
    assert r.status == 400 and r.getheader("CIMError") == "header-mismatch"
    r, _ = post(broker, call_xml("GetClass", CLASSNAME), extra={"CIMOperation": "MethodResponse"})
    assert r.status == 400 and r.getheader("CIMError") == "unsupported-operation"
    r, _ = post(broker, call_xml("GetClass", CLASSNAME), extra={"CIMProtocolVersion": "2.0"})
    assert r.status == 501 and r.getheader("CIMError") == "unsupported-protocol-version"


def test_http_method_and_path(broker):
    c = http.client.HTTPConnection("127.0.0.1", broker.port, timeout=10)
    c.request("GET", "/cimom")
    r = c.getresponse()
    r.read()
    assert r.status == 405 and "POST" in r.getheader("Allow")
    c.request("POST", "/elsewhere", body="x", headers={"CIMOperation": "MethodCall"})
    r = c.getresponse()
    r.read()
    assert r.status == 404


def test_body_over_limit(broker):
    big = call_xml("GetClass", CLASSNAME + "<!--" + "x" * 300000 + "-->")
    r, _ = post(broker, big)
    assert r.status == 413
    assert broker.alive()


def test_cim_errors(broker):
    r, text = post(broker, call_xml("GetClass", '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Nope"/></IPARAMVALUE>'))
    assert r.status == 200 and error_code(text) == 6
    r, text = post(broker, call_xml("GetClass", CLASSNAME, ns='<LOCALNAMESPACEPATH><NAMESPACE NAME="bad"/></LOCALNAMESPACEPATH>'), obj="bad")
    assert error_code(text) == 3
    r, text = post(broker, call_xml("FrobnicateClass", CLASSNAME), method="FrobnicateClass")
    assert error_code(text) == 7
    r, text = post(broker, call_xml("GetClass", CLASSNAME + '<IPARAMVALUE NAME="Bogus"><VALUE>1</VALUE></IPARAMVALUE>'))
    assert error_code(text) == 4
    r, text = post(broker, call_xml("GetClass", CLASSNAME + '<IPARAMVALUE NAME="LocalOnly"><VALUE>maybe</VALUE></IPARAMVALUE>'))
    assert error_code(text) == 4
    r, text = post(broker, call_xml("GetClass", ""))
    assert error_code(text) == 4
    r, text = post(broker, call_xml("EnumerateInstances", '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Nope"/></IPARAMVALUE>'), method="EnumerateInstances")
    assert error_code(text) == 5


def test_extrinsic_errors(broker):
    body = (
        '<?xml version="1.0"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="9" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
        '<METHODCALL NAME="Nope"><LOCALCLASSPATH>' + NS + '<CLASSNAME NAME="XenTest_Element"/></LOCALCLASSPATH></METHODCALL>'
        '</SIMPLEREQ></MESSAGE></CIM>'
    )
    r, text = post(broker, body, method="Nope", obj="root/cimv2:XenTest_Element")
    assert r.status == 200 and "<METHODRESPONSE" in text and error_code(text) == 17


INSTNAME = ('<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="XenTest_Stored">'
            '<KEYBINDING NAME="Name"><KEYVALUE VALUETYPE="string">preset</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE>')


def test_get_and_set_property(broker):
    r, text = post(broker, call_xml("GetProperty", INSTNAME + '<IPARAMVALUE NAME="PropertyName"><VALUE>Value</VALUE></IPARAMVALUE>'), method="GetProperty")
    assert "<IRETURNVALUE><VALUE>-1</VALUE></IRETURNVALUE>" in text
    r, text = post(broker, call_xml("SetProperty", INSTNAME + '<IPARAMVALUE NAME="PropertyName"><VALUE>Value</VALUE></IPARAMVALUE>'
                                    '<IPARAMVALUE NAME="NewValue"><VALUE>12</VALUE></IPARAMVALUE>'), method="SetProperty")
    assert error_code(text) is None, text
    r, text = post(broker, call_xml("GetProperty", INSTNAME + '<IPARAMVALUE NAME="PropertyName"><VALUE>Value</VALUE></IPARAMVALUE>'), method="GetProperty")
    assert "<VALUE>12</VALUE>" in text
    r, text = post(broker, call_xml("SetProperty", INSTNAME + '<IPARAMVALUE NAME="PropertyName"><VALUE>Value</VALUE></IPARAMVALUE>'
                                    '<IPARAMVALUE NAME="NewValue"><VALUE>abc</VALUE></IPARAMVALUE>'), method="SetProperty")
    assert error_code(text) == 4
    r, text = post(broker, call_xml("GetProperty", INSTNAME + '<IPARAMVALUE NAME="PropertyName"><VALUE>Nope</VALUE></IPARAMVALUE>'), method="GetProperty")
    assert error_code(text) == 12


def test_keep_alive_reuses_connection(broker):
    c = http.client.HTTPConnection("127.0.0.1", broker.port, timeout=10)
    for _ in range(3):
        r, text = post(broker, call_xml("GetClass", CLASSNAME), conn=c)
        assert r.status == 200
    sock = c.sock
    r, _ = post(broker, call_xml("GetClass", CLASSNAME), conn=c)
    assert c.sock is sock, "the connection was kept open"


def test_large_response_is_chunked(broker_bin):
    from broker_harness import Broker, small_args
    b = Broker(broker_bin, [*small_args(), "--no-auth"], env={"XENCIM_DEMO_COUNT": "2000"})
    try:
        r, text = post(b, call_xml("EnumerateInstances", CLASSNAME), method="EnumerateInstances")
        assert r.status == 200
        assert r.getheader("Transfer-Encoding") == "chunked"
        assert text.count("<VALUE.NAMEDINSTANCE>") == 2002
    finally:
        b.stop()


def test_slow_body_times_out(broker_bin):
    import socket
    from broker_harness import Broker, small_args
    b = Broker(broker_bin, [*small_args(), "--no-auth", "--request-timeout", "1"])
    try:
        s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
        s.sendall(b"POST /cimom HTTP/1.1\r\nHost: x\r\nCIMOperation: MethodCall\r\nCIMMethod: GetClass\r\n"
                  b"CIMObject: root/cimv2\r\nContent-Length: 1000\r\n\r\n<CIM")
        reply = s.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 408"), reply
        # a client that never finishes its headers is disconnected too
        import time
        s2 = socket.create_connection(("127.0.0.1", b.port), timeout=10)
        s2.sendall(b"POST /cimom HTTP/1.1\r\nHost: x\r\n")
        t = time.monotonic()
        data = s2.recv(4096)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
        assert time.monotonic() - t < 5
        assert b.alive()
    finally:
        b.stop()


def test_concurrent_clients(broker):
    import concurrent.futures
    import pywbem

    def work(i):
        c = pywbem.WBEMConnection(broker.url, default_namespace="root/cimv2", timeout=30)
        for _ in range(5):
            assert len(c.EnumerateInstanceNames("XenTest_Element")) == 5
            c.GetClass("XenTest_Child")
        return i

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert sorted(ex.map(work, range(32))) == list(range(32))


def test_slow_operation_times_out(broker_bin):
    import pywbem
    from broker_harness import Broker, small_args
    b = Broker(broker_bin, [*small_args(), "--no-auth", "--operation-timeout", "0.5"])
    try:
        c = pywbem.WBEMConnection(b.url, default_namespace="root/cimv2", timeout=30)
        target = pywbem.CIMInstanceName("XenTest_Element", keybindings={"InstanceID": "E0"}, namespace="root/cimv2")
        with pytest.raises(pywbem.CIMError) as e:
            c.InvokeMethod("Sleep", target, Millis=pywbem.Uint32(3000))
        assert e.value.status_code == pywbem.CIM_ERR_FAILED and "timed out" in e.value.status_description
        rv, _ = c.InvokeMethod("Sleep", target, Millis=pywbem.Uint32(10))
        assert rv == 0
        assert b.alive()
    finally:
        b.stop()
