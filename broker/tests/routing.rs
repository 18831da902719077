//! Operation routing with in-process providers, through `Broker::intrinsic`
//! and over HTTP with `serve_listener`.

use std::io::{Read, Write};
use std::sync::Arc;

use xencim_broker::error::{self, CimError, CimResult};
use xencim_broker::model::*;
use xencim_broker::provider::{Context, Provider, ProviderRegistry};
use xencim_broker::repo::Repository;
use xencim_broker::xml::{self, Element};
use xencim_broker::{Broker, BrokerConfig, StaticAuthenticator};

const MOF: &str = r#"
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride, ToSubclass);
class T_Base { [Key] string Id; string Name; uint32 N; };
class T_Sub : T_Base { string Extra; };
class T_SubSub : T_Sub { };
class T_Other { [Key] string Id; };
"#;

/// Returns `n` instances of the class it is asked for; every property set.
struct Fixed {
    n: usize,
    fail: Option<u32>,
    panic: bool,
}

impl Provider for Fixed {
    fn enumerate_instances(&self, _ctx: &Context, class: &Class) -> CimResult<Vec<Instance>> {
        if self.panic {
            panic!("provider bug");
        }
        if let Some(code) = self.fail {
            return Err(CimError::new(code, "backend says no"));
        }
        Ok((0..self.n)
            .map(|i| {
                let mut inst = Instance::new(class.name.clone())
                    .with("Id", CimType::String, Value::String(format!("{}-{i}", class.name)))
                    .with("Name", CimType::String, Value::String("n".into()))
                    .with("N", CimType::UInt32, Value::UInt(i as u64));
                if class.property("Extra").is_some() {
                    inst.set("Extra", CimType::String, Some(Value::String("x".into())));
                }
                inst
            })
            .collect())
    }
}

fn broker_with(reg: ProviderRegistry) -> Broker {
    let mut repo = Repository::new();
    xencim_broker::mof::compile_str(&mut repo, "root/cimv2", "t.mof", MOF).unwrap();
    Broker::new(repo, reg, "localhost")
}

fn p(name: &str, inner: &str) -> (String, Element) {
    let el = xml::parse(format!("<IPARAMVALUE NAME=\"{name}\">{inner}</IPARAMVALUE>").as_bytes()).unwrap();
    (name.to_string(), el)
}

fn class_param(c: &str) -> (String, Element) {
    p("ClassName", &format!("<CLASSNAME NAME=\"{c}\"/>"))
}

fn count(s: &str, needle: &str) -> usize {
    s.matches(needle).count()
}

#[test]
fn enumerating_a_parent_merges_every_registered_subclass() {
    let mut reg = ProviderRegistry::default();
    reg.register("root/cimv2", "T_Base", Arc::new(Fixed { n: 2, fail: None, panic: false }));
    reg.register("root/cimv2", "T_Sub", Arc::new(Fixed { n: 3, fail: None, panic: false }));
    let b = broker_with(reg);
    let out = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Base")], None).unwrap();
    let body = out.ireturn.unwrap();
    assert_eq!(count(&body, "<VALUE.NAMEDINSTANCE>"), 5);
    assert_eq!(count(&body, "CLASSNAME=\"T_Sub\""), 6, "3 instance names + 3 instances");
    // T_SubSub has no provider and no stored instances: nothing from it
    assert_eq!(count(&body, "T_SubSub"), 0);

    let out = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Sub")], None).unwrap();
    assert_eq!(count(&out.ireturn.unwrap(), "<VALUE.NAMEDINSTANCE>"), 3);

    // PropertyList is applied by the broker, whatever the provider returns
    let pl = p("PropertyList", "<VALUE.ARRAY><VALUE>n</VALUE></VALUE.ARRAY>");
    let out = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Base"), pl], None).unwrap();
    let body = out.ireturn.unwrap();
    assert_eq!(count(&body, "<PROPERTY NAME=\"N\""), 5);
    assert_eq!(count(&body, "<PROPERTY NAME=\"Name\""), 0);
    assert_eq!(count(&body, "<PROPERTY NAME=\"Extra\""), 0);

    // DeepInheritance=false drops subclass-only properties
    let di = p("DeepInheritance", "<VALUE>FALSE</VALUE>");
    let body = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Base"), di], None).unwrap().ireturn.unwrap();
    assert_eq!(count(&body, "<VALUE.NAMEDINSTANCE>"), 5);
    assert_eq!(count(&body, "NAME=\"Extra\""), 0);
}

#[test]
fn get_instance_uses_the_nearest_registered_ancestor() {
    let mut reg = ProviderRegistry::default();
    reg.register("root/cimv2", "T_Base", Arc::new(Fixed { n: 2, fail: None, panic: false }));
    let b = broker_with(reg);
    let name = p(
        "InstanceName",
        r#"<INSTANCENAME CLASSNAME="T_SubSub"><KEYBINDING NAME="Id"><KEYVALUE>T_SubSub-1</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    let body = b.intrinsic("GetInstance", "root/cimv2", &[name], None).unwrap().ireturn.unwrap();
    assert!(body.contains("<INSTANCE CLASSNAME=\"T_SubSub\">"), "{body}");
    let missing = p(
        "InstanceName",
        r#"<INSTANCENAME CLASSNAME="T_Base"><KEYBINDING NAME="Id"><KEYVALUE>zzz</KEYVALUE></KEYBINDING></INSTANCENAME>"#,
    );
    let e = b.intrinsic("GetInstance", "root/cimv2", &[missing], None).unwrap_err();
    assert_eq!(e.code, error::NOT_FOUND);
}

#[test]
fn provider_errors_and_panics_become_cim_errors() {
    let mut reg = ProviderRegistry::default();
    reg.register("root/cimv2", "T_Base", Arc::new(Fixed { n: 1, fail: Some(error::ACCESS_DENIED), panic: false }));
    reg.register("root/cimv2", "T_Other", Arc::new(Fixed { n: 1, fail: None, panic: true }));
    let b = broker_with(reg);
    let e = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Base")], None).unwrap_err();
    assert_eq!(e.code, error::ACCESS_DENIED);
    for _ in 0..2 {
        let e = b.intrinsic("EnumerateInstances", "root/cimv2", &[class_param("T_Other")], None).unwrap_err();
        assert_eq!(e.code, error::FAILED);
        assert!(e.description.contains("panic: provider bug"), "{}", e.description);
    }
    let e = b.intrinsic("EnumerateInstances", "root/nowhere", &[class_param("T_Other")], None).unwrap_err();
    assert_eq!(e.code, error::INVALID_NAMESPACE);
}

fn http(port: u16, req: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn request(body: &str, auth: Option<&str>) -> String {
    let a = auth.map(|c| format!("Authorization: Basic {c}\r\n")).unwrap_or_default();
    format!(
        "POST /cimom HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/xml\r\nCIMOperation: MethodCall\r\nCIMMethod: EnumerateInstanceNames\r\nCIMObject: root%2Fcimv2\r\n{a}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const ENUM_NAMES: &str = r#"<?xml version="1.0"?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="5" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="EnumerateInstanceNames"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="T_Base"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"#;

#[test]
fn serves_http_with_basic_auth_and_refuses_to_run_unauthenticated() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut reg = ProviderRegistry::default();
    reg.register("root/cimv2", "T_Base", Arc::new(Fixed { n: 2, fail: None, panic: false }));
    let broker = Arc::new(broker_with(reg));

    // no authenticator and no explicit anonymous mode: refused
    let cfg = BrokerConfig::default();
    let l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let err = rt.block_on(xencim_broker::serve_listener(l, broker.clone(), &cfg, async {})).unwrap_err();
    assert!(err.to_string().contains("no authenticator"), "{err}");

    let cfg = BrokerConfig { authenticator: Some(Arc::new(StaticAuthenticator::new("bob", "pw"))), ..Default::default() };
    let l = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let b2 = broker.clone();
    let server = rt.spawn(async move { xencim_broker::serve_listener(l, b2, &cfg, async { let _ = rx.await; }).await });

    let denied = http(port, &request(ENUM_NAMES, None));
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    assert!(denied.contains("www-authenticate: Basic"), "{denied}");
    // bob:wrong
    let wrong = http(port, &request(ENUM_NAMES, Some("Ym9iOndyb25n")));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    // bob:pw
    let ok = http(port, &request(ENUM_NAMES, Some("Ym9iOnB3")));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert_eq!(count(&ok, "<INSTANCENAME CLASSNAME=\"T_Base\">"), 2, "{ok}");

    tx.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
}

/// Truncated and corrupted requests never panic: decoding fails cleanly or,
/// when the damage still decodes, the operation answers a CIM error or a result.
#[test]
fn damaged_requests_never_panic() {
    let b = broker_with(ProviderRegistry::default());
    let valid = ENUM_NAMES.as_bytes();
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut decoded = 0;
    let mut cases: Vec<Vec<u8>> = (0..valid.len()).map(|n| valid[..n].to_vec()).collect();
    for _ in 0..3000 {
        let mut v = valid.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % v.len();
            match next() % 3 {
                0 => v[i] = (next() % 256) as u8,
                1 => {
                    v.remove(i);
                }
                _ => v.insert(i, b"<>\"&/=x"[(next() % 7) as usize]),
            }
        }
        cases.push(v);
    }
    for body in cases {
        if let Ok(req) = xencim_broker::cimxml::decode_request(&body) {
            decoded += 1;
            if let xencim_broker::cimxml::Call::Intrinsic { name, namespace, params } = &req.call {
                let _ = b.intrinsic(name, namespace, params, None);
            }
        }
    }
    assert!(decoded > 10, "some damaged requests still decode ({decoded})");
}

#[test]
fn serve_starts_and_stops_and_reports_bad_tls_files() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let base = BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), allow_anonymous: true, ..Default::default() };
    // starts, then stops when the shutdown future completes
    rt.block_on(async {
        let stop = tokio::time::sleep(std::time::Duration::from_millis(200));
        xencim_broker::serve(base.clone(), stop).await
    })
    .unwrap();
    let mut tls = base.clone();
    tls.https = Some(xencim_broker::HttpsConfig { listen: "127.0.0.1:0".parse().unwrap(), ..xencim_broker::HttpsConfig::new("/nonexistent/cert.pem", "/nonexistent/key.pem") });
    let err = rt.block_on(xencim_broker::serve(tls, async {})).unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent/cert.pem"), "{err:#}");
    let unauth = BrokerConfig { allow_anonymous: false, ..base };
    let err = rt.block_on(xencim_broker::serve(unauth, async {})).unwrap_err();
    assert!(err.to_string().contains("no authenticator"), "{err}");
}

#[test]
fn saved_subscriptions_merge_with_mof_instances() {
    let td = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let dir = std::env::temp_dir().join(format!("broker-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let filter = |name: &str| {
        format!(
            "instance of CIM_IndicationFilter {{ SystemCreationClassName = \"S\"; SystemName = \"h\"; CreationClassName = \"CIM_IndicationFilter\"; Name = \"{name}\"; Query = \"SELECT * FROM X\"; }};\n"
        )
    };
    std::fs::write(dir.join("static.mof"), format!("#pragma namespace (\"root/interop\")\n{}", filter("static"))).unwrap();
    std::fs::write(dir.join("subscriptions.mof"), format!("#pragma namespace (\"root/interop\")\n{}{}", filter("static"), filter("saved"))).unwrap();
    let cfg = BrokerConfig {
        mof_files: vec![td.join("qualifiers.mof"), td.join("interop.mof"), dir.join("static.mof")],
        state_dir: Some(dir.clone()),
        ..Default::default()
    };
    let repo = xencim_broker::load_repository(&cfg).unwrap();
    let names: Vec<String> = repo.namespace("root/interop").unwrap().instances.iter().map(|i| i.get_value("Name").unwrap().to_text()).collect();
    assert_eq!(names, vec!["static", "saved"]);
    std::fs::remove_dir_all(&dir).ok();
}
