//! Hostile input on the CIM-XML port: a bounded, deterministic (seeded) mutation loop of
//! requests with odd methods, paths, `M-POST` `Man` headers, CIM headers, credentials and bodies
//! (truncated, deeply nested, huge, not UTF-8, deep WQL), sent over real sockets to a broker with
//! the demo provider and Basic authentication.
//!
//! Every request must get an HTTP reply (the connection is never closed without one), no code in
//! the process may panic (a panic hook counts them, caught ones included), and the broker must
//! answer a normal request at the end. Requests without valid credentials must all get 401 with
//! `WWW-Authenticate`, whatever else is wrong with them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use xencim_broker::{BrokerConfig, StaticAuthenticator};

/// Panics seen anywhere in this test process (the broker catches provider panics, so a count
/// is the only way to see them).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// A broker on an ephemeral loopback port, served from its own runtime thread.
struct Server {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let td = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut cfg = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            mof_files: vec![td.join("qualifiers.mof"), td.join("xentest.mof")],
            authenticator: Some(Arc::new(StaticAuthenticator::new("alice", "s3cret"))),
            // small enough that the "huge" bodies below cross it
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(20),
            ..Default::default()
        };
        xencim_broker::demo::register(&mut cfg.providers);
        let broker = xencim_broker::build_broker(&cfg).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(l.local_addr().unwrap().port()).unwrap();
                xencim_broker::serve_listener(l, broker, &cfg, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let port = port_rx.recv().unwrap();
        Server { port, stop: Some(tx), thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends one request (closing the connection after it) and returns the whole reply.
fn send(port: u16, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // the server may answer (401, 413) and close before reading the whole body
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status(reply: &[u8]) -> Option<u16> {
    let line = reply.split(|b| *b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn has_header(reply: &[u8], name: &str) -> bool {
    let head = String::from_utf8_lossy(reply).to_ascii_lowercase();
    let head = head.split("\r\n\r\n").next().unwrap_or("").to_string();
    head.lines().any(|l| l.starts_with(&format!("{}:", name.to_ascii_lowercase())))
}

/// xorshift64*: deterministic, no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

const NS: &str = r#"<LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH>"#;

fn imethod(name: &str, params: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="7" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="{name}">{NS}{params}</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"#
    )
}

/// Valid requests the mutations start from: (CIMMethod, CIMObject, body).
fn seeds() -> Vec<(String, String, String)> {
    let class = |c: &str| format!(r#"<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="{c}"/></IPARAMVALUE>"#);
    let inst = r#"<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="XenTest_Element"><KEYBINDING NAME="InstanceID"><KEYVALUE VALUETYPE="string">e1</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE>"#;
    let embedded = "&lt;INSTANCE CLASSNAME=&quot;Xen_ComputerSystemSettingData&quot;&gt;&lt;PROPERTY NAME=&quot;ElementName&quot; TYPE=&quot;string&quot;&gt;&lt;VALUE&gt;é€𝄞&lt;/VALUE&gt;&lt;/PROPERTY&gt;&lt;/INSTANCE&gt;";
    let echo = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="8" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="Echo"><LOCALCLASSPATH>{NS}<CLASSNAME NAME="XenTest_Element"/></LOCALCLASSPATH><PARAMVALUE NAME="Text" PARAMTYPE="string"><VALUE>{embedded}</VALUE></PARAMVALUE></METHODCALL></SIMPLEREQ></MESSAGE></CIM>"#
    );
    let bump = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="9" PROTOCOLVERSION="1.0"><SIMPLEREQ><METHODCALL NAME="Bump"><LOCALINSTANCEPATH>{NS}<INSTANCENAME CLASSNAME="XenTest_Element"><KEYBINDING NAME="InstanceID"><KEYVALUE VALUETYPE="string">e1</KEYVALUE></KEYBINDING></INSTANCENAME></LOCALINSTANCEPATH><PARAMVALUE NAME="By" PARAMTYPE="uint32"><VALUE>4294967295</VALUE></PARAMVALUE></METHODCALL></SIMPLEREQ></MESSAGE></CIM>"#
    );
    let query = r#"<IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE><IPARAMVALUE NAME="Query"><VALUE>SELECT * FROM XenTest_Element WHERE (Counter &gt;= 0 AND NOT ElementName = 'x') OR XenTest_Element.Health &lt;&gt; 0x10</VALUE></IPARAMVALUE>"#;
    let create = r#"<IPARAMVALUE NAME="NewInstance"><INSTANCE CLASSNAME="XenTest_Stored"><PROPERTY NAME="Name" TYPE="string"><VALUE>n</VALUE></PROPERTY></INSTANCE></IPARAMVALUE>"#;
    vec![
        ("GetClass".into(), "root%2Fcimv2".into(), imethod("GetClass", &class("XenTest_Element"))),
        ("EnumerateInstances".into(), "root/cimv2".into(), imethod("EnumerateInstances", &class("XenTest_Element"))),
        ("GetInstance".into(), "root%2fcimv2".into(), imethod("GetInstance", inst)),
        ("ExecQuery".into(), "root/cimv2".into(), imethod("ExecQuery", query)),
        ("CreateInstance".into(), "root/cimv2".into(), imethod("CreateInstance", create)),
        ("Associators".into(), "root/cimv2".into(), imethod("Associators", &inst.replace("InstanceName", "ObjectName"))),
        ("Echo".into(), "root/cimv2:XenTest_Element".into(), echo),
        ("Bump".into(), "root/cimv2:XenTest_Element.InstanceID=\"e1\"".into(), bump),
    ]
}

/// Damages a body: bytes flipped, removed, inserted (markup, multibyte, invalid UTF-8), ranges
/// repeated, the body cut short; or replaced by nesting or size far past the limits.
fn mutate_body(rng: &mut Rng, body: &str) -> Vec<u8> {
    const PIECES: [&[u8]; 16] = [
        b"<", b">", b"\"", b"&", b";", b"</", b"/>", b"&#x110000;", b"&#0;", b"\xff\xfe", b"\xc3", "é€𝄞".as_bytes(),
        b"<VALUE.REFERENCE>", b"<![CDATA[", b"<!DOCTYPE x>", b"<!--",
    ];
    match rng.below(20) {
        0 => {
            // deep nesting at the top and inside a parameter
            let depth = 50 + rng.below(5000);
            let (open, close) = if rng.below(2) == 0 { ("<A>", "</A>") } else { ("<VALUE.REFERENCE>", "</VALUE.REFERENCE>") };
            let inner = format!("{}{}", open.repeat(depth), close.repeat(depth));
            body.replacen("</IMETHODCALL>", &format!("<IPARAMVALUE NAME=\"ClassName\">{inner}</IPARAMVALUE></IMETHODCALL>"), 1).into_bytes()
        }
        1 => {
            // a huge body: over the limit, or just under it
            let n = if rng.below(2) == 0 { 300 * 1024 } else { 200 * 1024 };
            body.replacen("<SIMPLEREQ>", &format!("<!--{}--><SIMPLEREQ>", "x".repeat(n)), 1).into_bytes()
        }
        2 => {
            // a WQL condition nested or chained far past what is reasonable
            let n = 100 + rng.below(20_000);
            let cond = match rng.below(3) {
                0 => format!("{}Counter = 1{}", "(".repeat(n), ")".repeat(n)),
                1 => format!("Counter = 1{}", " AND Counter = 1".repeat(n)),
                _ => format!("{}Counter = 1", "NOT ".repeat(n)),
            };
            imethod(
                "ExecQuery",
                &format!(r#"<IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE><IPARAMVALUE NAME="Query"><VALUE>SELECT * FROM XenTest_Element WHERE {cond}</VALUE></IPARAMVALUE>"#),
            )
            .into_bytes()
        }
        _ => {
            let mut v = body.as_bytes().to_vec();
            for _ in 0..1 + rng.below(5) {
                let at = rng.below(v.len() + 1);
                match rng.below(5) {
                    0 if at < v.len() => v[at] = rng.next() as u8,
                    1 => {
                        let end = (at + rng.below(12)).min(v.len());
                        v.drain(at..end);
                    }
                    2 => {
                        let end = (at + rng.below(40)).min(v.len());
                        let copy = v[at..end].to_vec();
                        v.splice(at..at, copy);
                    }
                    3 => v.truncate(at),
                    _ => {
                        let p = PIECES[rng.below(PIECES.len())];
                        v.splice(at..at, p.iter().copied());
                    }
                }
            }
            v
        }
    }
}

/// `user:password` base64 values: valid, wrong, malformed.
const GOOD_AUTH: &str = "Basic YWxpY2U6czNjcmV0"; // alice:s3cret

/// One mutated request, and whether it carries valid credentials.
fn hostile_request(rng: &mut Rng, seeds: &[(String, String, String)]) -> (Vec<u8>, bool) {
    let (method_hdr, object_hdr, body) = &seeds[rng.below(seeds.len())];
    // Half the requests have well-formed credentials and CIM headers, so that their (damaged)
    // bodies reach the decoder and the operations; the other half damage everything.
    if rng.below(2) == 0 {
        let mpost = rng.below(3) == 0;
        let (verb, hp) = if mpost { ("M-POST", "73-") } else { ("POST", "") };
        let mut headers = vec![
            ("Host".to_string(), "127.0.0.1".to_string()),
            ("Content-Type".into(), "application/xml; charset=\"utf-8\"".into()),
            (format!("{hp}CIMOperation"), "MethodCall".into()),
            (format!("{hp}CIMMethod"), method_hdr.clone()),
            (format!("{hp}CIMObject"), object_hdr.clone()),
            ("Authorization".into(), GOOD_AUTH.into()),
        ];
        if mpost {
            headers.push(("Man".into(), "http://www.dmtf.org/cim/mapping/http/v1.0; ns=73".into()));
        }
        let body = if rng.below(4) == 0 { body.clone().into_bytes() } else { mutate_body(rng, body) };
        return (raw_request(verb, "/cimom", &headers, &body), true);
    }
    let verb = rng.pick(&["POST", "POST", "POST", "M-POST", "M-POST", "GET", "OPTIONS", "PUT", "DELETE", "m-post", "PROPFIND"]);
    let path = rng.pick(&["/cimom", "/cimom", "/cimom", "/", "/cimom/", "/nope", "/cimom?x=%ff", "/%c3%28", "//cimom"]);
    let (auth, authed) = match rng.below(8) {
        0..=3 => (Some(GOOD_AUTH.to_string()), true),
        4 => (None, false),
        5 => (Some("Basic YWxpY2U6d3Jvbmc=".to_string()), false), // alice:wrong
        _ => (
            Some(rng.pick(&["Basic", "Basic !!!", "Basic //8=", "Bearer abc", "Basic YWxpY2U=", "basic YWxpY2U6czNjcmV0x", "Basic \u{e9}"]).to_string()),
            false,
        ),
    };
    // the M-POST namespace prefix: usually well formed, sometimes not
    let ns = rng.pick(&["73", "73", "01", "", "7 3", "-", "99999999999", "a", "73;ns=74", "\u{e9}", "../x"]);
    let man = rng.pick(&[
        "http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=NS",
        "http://www.dmtf.org/cim/mapping/http/v1.0;ns=NS",
        "\"http://www.dmtf.org/cim/mapping/http/v1.0\"; ns=NS",
        "http://example.org/other; ns=11, http://www.dmtf.org/cim/mapping/http/v1.0; ns=NS",
        "http://www.dmtf.org/cim/mapping/http/v1.0",
        "http://example.org/other; ns=NS",
        "ns=NS",
        "",
    ]);
    let man = man.replace("NS", ns);
    let hp = if verb.eq_ignore_ascii_case("M-POST") && rng.below(4) != 0 { format!("{ns}-") } else { String::new() };
    let mut headers: Vec<(String, String)> = vec![("Host".into(), "127.0.0.1".into()), ("Content-Type".into(), "application/xml; charset=\"utf-8\"".into())];
    if verb.eq_ignore_ascii_case("M-POST") && rng.below(6) != 0 {
        headers.push(("Man".into(), man));
    }
    let op = rng.pick(&["MethodCall", "MethodCall", "MethodCall", "methodcall", "MethodResponse", "", "MethodCall\u{ff}"]);
    if rng.below(8) != 0 {
        headers.push((format!("{hp}CIMOperation"), op.to_string()));
    }
    let cim_method = match rng.below(8) {
        0 => "Nope".to_string(),
        1 => String::new(),
        2 => "GetClass\u{e9}".to_string(),
        _ => method_hdr.clone(),
    };
    if rng.below(8) != 0 {
        headers.push((format!("{hp}CIMMethod"), cim_method));
    }
    let obj = match rng.below(10) {
        0 => "%".to_string(),
        1 => "root%2".to_string(),
        2 => "%e9%zz%".to_string(),
        3 => "root/\u{e9}".to_string(),
        4 => "root%2Fcimv2%".to_string(),
        _ => object_hdr.clone(),
    };
    if rng.below(8) != 0 {
        headers.push((format!("{hp}CIMObject"), obj));
    }
    if rng.below(10) == 0 {
        headers.push((format!("{hp}CIMProtocolVersion"), rng.pick(&["1.0", "2.0", "", "1.\u{e9}"]).to_string()));
    }
    if rng.below(12) == 0 {
        // a second copy of a CIM header with another value
        headers.push((format!("{hp}CIMOperation"), "Other".into()));
    }
    if let Some(a) = auth {
        headers.push(("Authorization".into(), a));
    }
    let body = if rng.below(3) == 0 { body.clone().into_bytes() } else { mutate_body(rng, body) };
    (raw_request(verb, path, &headers, &body), authed)
}

/// The bytes of a request; header values go out as UTF-8 (a non-ASCII character is obs-text).
fn raw_request(verb: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut raw = format!("{verb} {path} HTTP/1.1\r\n").into_bytes();
    for (k, v) in headers {
        raw.extend_from_slice(k.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(v.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(format!("Connection: close\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    raw.extend_from_slice(body);
    raw
}

/// A request whose header names are valid HTTP tokens reaches the broker's handler (malformed
/// HTTP itself is answered 400 by hyper before any handler runs).
fn names_are_tokens(raw: &[u8]) -> bool {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    raw[..head_end].split(|b| *b == b'\n').skip(1).all(|line| {
        let name = line.split(|b| *b == b':').next().unwrap_or(b"");
        !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c))
    })
}

#[test]
fn hostile_requests_are_all_answered_without_panics() {
    count_panics();
    let server = Server::start();
    let seeds = seeds();
    let mut rng = Rng(0x0c1a_55e5_f00d_2026);
    let (mut unauth, mut statuses) = (0, std::collections::BTreeMap::<u16, usize>::new());
    const REQUESTS: usize = 4000;
    for i in 0..REQUESTS {
        let (raw, authed) = hostile_request(&mut rng, &seeds);
        let reply = send(server.port, &raw);
        let code = status(&reply).unwrap_or_else(|| {
            panic!("request {i} got no HTTP reply ({} bytes): {:?}", reply.len(), String::from_utf8_lossy(&raw[..raw.len().min(600)]))
        });
        *statuses.entry(code).or_default() += 1;
        if !authed && names_are_tokens(&raw) {
            unauth += 1;
            assert_eq!(code, 401, "request {i} without valid credentials: {:?}", String::from_utf8_lossy(&raw[..raw.len().min(600)]));
            assert!(has_header(&reply, "WWW-Authenticate"), "request {i}: 401 without WWW-Authenticate");
        }
        assert_eq!(PANICS.load(Ordering::SeqCst), 0, "request {i} made the server panic: {:?}", String::from_utf8_lossy(&raw[..raw.len().min(600)]));
    }
    // the mix reached the handler's branches, not one answer over and over
    eprintln!("statuses: {statuses:?}; {unauth} requests without valid credentials");
    assert!(unauth > REQUESTS / 10, "{unauth}");
    for code in [200, 400, 401, 404, 405] {
        assert!(statuses.get(&code).copied().unwrap_or(0) > 0, "no {code} among {statuses:?}");
    }

    // still serving: a plain request and an M-POST one
    let (_, _, body) = &seeds[0];
    for (verb, hp, man) in [("POST", "", ""), ("M-POST", "73-", "Man: http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73\r\n")] {
        let raw = format!(
            "{verb} /cimom HTTP/1.1\r\nHost: x\r\n{man}{hp}CIMOperation: MethodCall\r\n{hp}CIMMethod: GetClass\r\n{hp}CIMObject: root%2Fcimv2\r\nAuthorization: {GOOD_AUTH}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let reply = String::from_utf8_lossy(&send(server.port, raw.as_bytes())).into_owned();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.contains("<CLASS NAME=\"XenTest_Element\""), "{reply}");
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// The known cases one by one, with the answer each must get.
#[test]
fn odd_mpost_headers_get_http_errors() {
    count_panics();
    let server = Server::start();
    let body = imethod("GetClass", r#"<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="XenTest_Element"/></IPARAMVALUE>"#);
    let mpost = |man: &str, hp: &str| {
        let raw = format!(
            "M-POST /cimom HTTP/1.1\r\nHost: x\r\nMan: {man}\r\n{hp}CIMOperation: MethodCall\r\n{hp}CIMMethod: GetClass\r\n{hp}CIMObject: root%2Fcimv2\r\nAuthorization: {GOOD_AUTH}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&send(server.port, raw.as_bytes())).into_owned()
    };
    // a prefix that cannot be part of a header name once panicked the handler
    for ns in ["7 3", "a b", "../x", "", "-", "123456789", "\"73\""] {
        let r = mpost(&format!("http://www.dmtf.org/cim/mapping/http/v1.0 ; ns={ns}"), "73-");
        assert!(r.starts_with("HTTP/1.1 400"), "ns={ns:?}: {r}");
        assert!(r.to_ascii_lowercase().contains("\r\ncimerror: request-not-valid"), "ns={ns:?}: {r}");
    }
    let r = mpost("http://example.org/x; ns=73", "73-");
    assert!(r.starts_with("HTTP/1.1 510"), "{r}");
    // the CIM mapping among other declarations, and without ns= (unprefixed headers)
    let r = mpost("http://example.org/x; ns=11, http://www.dmtf.org/cim/mapping/http/v1.0; ns=73", "73-");
    assert!(r.starts_with("HTTP/1.1 200") && r.to_ascii_lowercase().contains("\r\n73-cimoperation: methodresponse"), "{r}");
    let r = mpost("http://www.dmtf.org/cim/mapping/http/v1.0", "");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}
