//! A XenAPI client and a CIM client see and drive the same VMs.
//!
//! Starts a real `xencim serve` (simulated host) on a private state directory, loads
//! `libxen_cim_providers.so` through the CMPI ABI with `cmpi_shim::broker::ProviderLibrary`, and
//! checks both directions: VMs made and started through XenAPI show up in the CIM enumeration
//! with the right state, and RequestStateChange through CIM changes what XenAPI reports.
//!
//! The binary and the library are built with cargo into this test's own target directory, unless
//! `XENCIM_BIN` and `XEN_CIM_PROVIDERS_SO` name them (or `XENCIM_SKIP_BUILD` is set, in which
//! case they must already be there).

mod common;

use cmpi_shim::broker::{NoUpcalls, ProviderLibrary};
use common::artifacts;
use cmpi_shim::{CallContext, CimDateTime, CimValue, Instance, ObjectPath};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xenapi_client::{Client, Session};
use xenapi_client::Wire;
use xenapi_model::Value;

const NS: &str = "root/cimv2";
const CLASS: &str = "Xen_ComputerSystem";
const PASSWORD: &str = "provider-test-root-pw";
const GIB: i64 = 1 << 30;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `xencim serve`; killed on drop.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &Path) -> Server {
        let dir = tempfile::Builder::new().prefix("xencim-prov-").tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("rootpw"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(
            d.join("xencim.toml"),
            "[sim_host]\nguest_shutdown_ms = 50\nshutdown_timeout_secs = 10.0\nmetrics_interval_secs = 0.5\n",
        )
        .unwrap();
        let log = std::fs::File::create(d.join("server.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(d.join("xencim.toml"))
            .arg("--state-dir")
            .arg(d)
            .args(["--xenapi-listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--xenapi-tls-listen", "off", "--cim-listen", "off"])
            .arg("--root-password-file")
            .arg(d.join("rootpw"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting xencim");
        Server { child, dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("xapi.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The XenAPI side of the test: a root session on the server's Unix socket.
struct Xapi {
    rt: tokio::runtime::Runtime,
    session: Session,
}

impl Xapi {
    fn connect(server: &mut Server) -> Xapi {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let url = format!("unix:{}", server.socket().display());
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            if let Some(st) = server.child.try_wait().unwrap() {
                panic!("xencim exited with {st}:\n{}", server.log());
            }
            let attempt = rt.block_on(async {
                let c = Client::connect(&url).await?;
                c.login("root", PASSWORD, "provider-tests").await
            });
            match attempt {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("xencim did not answer on {url}: {e}\n{}", server.log()),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        Xapi { rt, session }
    }

    fn call(&self, method: &str, args: Vec<Value>) -> Wire {
        self.rt.block_on(self.session.call(method, args)).unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn string(&self, method: &str, args: Vec<Value>) -> String {
        match self.call(method, args) {
            Wire::Str(s) => s,
            other => panic!("{method} answered {other:?}"),
        }
    }

    fn new_vm(&self, name: &str, template: bool) -> (String, String) {
        let map = |pairs: &[(&str, &str)]| Value::Map(pairs.iter().map(|(k, v)| (Value::str(*k), Value::str(*v))).collect());
        let fields: Vec<(String, Value)> = vec![
            ("name_label", Value::str(name)),
            ("name_description", Value::str("made by the provider tests")),
            ("user_version", Value::Int(1)),
            ("is_a_template", Value::Bool(template)),
            ("affinity", Value::str("OpaqueRef:NULL")),
            ("memory_static_max", Value::Int(GIB)),
            ("memory_dynamic_max", Value::Int(GIB)),
            ("memory_dynamic_min", Value::Int(GIB / 2)),
            ("memory_static_min", Value::Int(GIB / 4)),
            ("VCPUs_params", map(&[])),
            ("VCPUs_max", Value::Int(2)),
            ("VCPUs_at_startup", Value::Int(1)),
            ("actions_after_shutdown", Value::str("destroy")),
            ("actions_after_reboot", Value::str("restart")),
            ("actions_after_crash", Value::str("preserve")),
            ("PV_bootloader", Value::str("pygrub")),
            ("PV_kernel", Value::str("")),
            ("PV_ramdisk", Value::str("")),
            ("PV_args", Value::str("")),
            ("PV_bootloader_args", Value::str("")),
            ("PV_legacy_args", Value::str("")),
            ("HVM_boot_policy", Value::str("")),
            ("HVM_boot_params", map(&[])),
            ("platform", map(&[])),
            ("PCI_bus", Value::str("")),
            ("other_config", map(&[("owner", "provider-tests")])),
            ("recommendations", Value::str("")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let r = self.rt.block_on(self.session.create("VM", fields)).expect("VM.create");
        let uuid = self.string("VM.get_uuid", vec![Value::str(r.as_str())]);
        (r, uuid)
    }

    fn power_state(&self, vm: &str) -> String {
        self.string("VM.get_power_state", vec![Value::str(vm)])
    }

    fn control_domain_uuids(&self) -> Vec<String> {
        let recs = self.rt.block_on(self.session.get_all_records("VM")).unwrap();
        recs.into_iter().filter(|(_, r)| r.bool("is_control_domain") == Some(true)).map(|(_, r)| r.str("uuid").to_string()).collect()
    }
}

/// As the embedded broker of `xencim serve` passes a request by root: with root's XenAPI role.
fn ctx() -> CallContext {
    CallContext { namespace: Some(NS.into()), principal: Some("root".into()), role: Some("pool-admin".into()), ..Default::default() }
}

fn vm_path(uuid: &str) -> ObjectPath {
    ObjectPath::new(NS, CLASS).with_key("CreationClassName", CLASS).with_key("Name", uuid)
}

fn find<'a>(all: &'a [Instance], uuid: &str) -> Option<&'a Instance> {
    all.iter().find(|i| i.path.key("Name") == Some(&CimValue::from(uuid)))
}

fn request_state_change(lib: &ProviderLibrary, uuid: &str, args: Vec<(String, CimValue)>) -> CimValue {
    let out = lib.invoke_method(&ctx(), &vm_path(uuid), "RequestStateChange", &args).expect("RequestStateChange");
    out.return_value.expect("a return value")
}

fn state(s: u16) -> Vec<(String, CimValue)> {
    vec![("RequestedState".to_string(), CimValue::Uint16(s))]
}

/// Polls GetInstance until `prop` is `want` (changes made through XenAPI reach the cache by event).
fn wait_for_property(lib: &ProviderLibrary, uuid: &str, prop: &str, want: &CimValue) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let i = lib.get_instance(&ctx(), &vm_path(uuid), None).expect("GetInstance");
        if i.get(prop) == Some(want) || Instant::now() > deadline {
            return i;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn xenapi_and_cim_see_and_drive_the_same_vms() {
    let (bin, so) = artifacts();
    let mut server = Server::start(&bin);
    let x = Xapi::connect(&mut server);

    let config = server.dir.path().join("providers.toml");
    std::fs::write(
        &config,
        format!("endpoint = \"unix:{}\"\nusername = \"root\"\npassword_file = \"{}\"\n", server.socket().display(), server.dir.path().join("rootpw").display()),
    )
    .unwrap();
    // Read when the library first talks to the XenAPI; this is the only test in this binary.
    std::env::set_var("XENCIM_PROVIDER_CONFIG", &config);

    // Made and started through XenAPI.
    let (web, web_uuid) = x.new_vm("web", false);
    x.call("VM.start", vec![Value::str(web.as_str()), Value::Bool(false), Value::Bool(false)]);
    assert_eq!(x.power_state(&web), "Running");
    let (_db, db_uuid) = x.new_vm("db", false);
    let (_tpl, tpl_uuid) = x.new_vm("a template", true);

    let lib = ProviderLibrary::load_with(&so, CLASS, Arc::new(NoUpcalls)).expect("loading the providers");
    let types = lib.mi_types();
    assert!(types.instance && types.method, "{types:?}");

    // The CIM side sees them.
    let all = lib.enumerate_instances(&ctx(), &ObjectPath::new(NS, CLASS), None).expect("EnumerateInstances");
    let w = find(&all, &web_uuid).expect("the running VM is listed");
    assert_eq!(w.get("EnabledState"), Some(&CimValue::Uint16(2)));
    assert_eq!(w.get("ElementName"), Some(&CimValue::from("web")));
    assert_eq!(w.get("CreationClassName"), Some(&CimValue::from(CLASS)));
    assert_eq!(w.get("InstanceID"), Some(&CimValue::from(format!("Xen:{web_uuid}"))));
    assert_eq!(w.get("PrimaryOwnerName"), Some(&CimValue::from("provider-tests")));
    assert!(matches!(w.get("Host"), Some(CimValue::String(h)) if !h.is_empty()), "a running VM names its host: {:?}", w.get("Host"));
    let d = find(&all, &db_uuid).expect("the halted VM is listed");
    assert_eq!(d.get("EnabledState"), Some(&CimValue::Uint16(3)));
    assert!(find(&all, &tpl_uuid).is_none(), "templates are not virtual systems");
    let dom0 = x.control_domain_uuids();
    assert!(!dom0.is_empty(), "the simulated host has a control domain");
    for u in &dom0 {
        assert!(find(&all, u).is_none(), "the control domain {u} is listed");
    }
    assert_eq!(all.len(), 2, "exactly the two guests: {:?}", all.iter().map(|i| i.path.to_string()).collect::<Vec<_>>());
    let names = lib.enumerate_instance_names(&ctx(), &ObjectPath::new(NS, CLASS)).expect("EnumerateInstanceNames");
    let mut got: Vec<_> = names.iter().map(|p| p.key("Name").cloned()).collect();
    let mut want = vec![Some(CimValue::from(web_uuid.as_str())), Some(CimValue::from(db_uuid.as_str()))];
    got.sort_by_key(|v| format!("{v:?}"));
    want.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(got, want);

    // A VM made and started through XenAPI right now is seen and driven at once by CIM (each
    // operation catches up with the XenAPI's events first).
    let (fresh, fresh_uuid) = x.new_vm("fresh", false);
    x.call("VM.start", vec![Value::str(fresh.as_str()), Value::Bool(false), Value::Bool(false)]);
    let i = lib.get_instance(&ctx(), &vm_path(&fresh_uuid), None).expect("GetInstance of a VM made just now");
    assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(2)));
    assert_eq!(request_state_change(&lib, &fresh_uuid, state(9)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&fresh), "Paused");
    x.call("VM.hard_shutdown", vec![Value::str(fresh.as_str())]);
    x.call("VM.destroy", vec![Value::str(fresh.as_str())]);
    let e = lib.get_instance(&ctx(), &vm_path(&fresh_uuid), None).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_NOT_FOUND", "destroyed just now");
    let all = lib.enumerate_instances(&ctx(), &ObjectPath::new(NS, CLASS), None).unwrap();
    assert!(find(&all, &fresh_uuid).is_none());

    // GetInstance of things that are not guests.
    for name in ["00000000-0000-0000-0000-000000000000", dom0[0].as_str(), tpl_uuid.as_str()] {
        let e = lib.get_instance(&ctx(), &vm_path(name), None).unwrap_err();
        assert_eq!(e.rc_name(), "CIM_ERR_NOT_FOUND", "{name}: {e:?}");
    }
    let e = lib.invoke_method(&ctx(), &vm_path("00000000-0000-0000-0000-000000000000"), "RequestStateChange", &state(2)).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_NOT_FOUND");

    // CIM drives: shut down, and XenAPI sees it.
    assert_eq!(request_state_change(&lib, &web_uuid, state(4)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&web), "Halted");
    let i = lib.get_instance(&ctx(), &vm_path(&web_uuid), None).unwrap();
    assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(3)), "the next read shows the new state");
    assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(4)));

    // Invalid transitions and values are refused without touching the VM.
    assert_eq!(request_state_change(&lib, &web_uuid, state(3)), CimValue::Uint32(4097));
    assert_eq!(request_state_change(&lib, &web_uuid, state(9)), CimValue::Uint32(4097));
    assert_eq!(request_state_change(&lib, &web_uuid, state(8)), CimValue::Uint32(1));
    assert_eq!(request_state_change(&lib, &web_uuid, state(1234)), CimValue::Uint32(5));
    let mut timed = state(2);
    timed.push(("TimeoutPeriod".into(), CimValue::DateTime(CimDateTime::interval(10_000_000))));
    assert_eq!(request_state_change(&lib, &web_uuid, timed), CimValue::Uint32(4098));
    assert_eq!(x.power_state(&web), "Halted");
    let e = lib.invoke_method(&ctx(), &vm_path(&web_uuid), "RequestStateChange", &[]).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_INVALID_PARAMETER");

    // CIM starts it again, then pauses and resumes it; XenAPI follows every step.
    assert_eq!(request_state_change(&lib, &web_uuid, state(2)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&web), "Running");
    assert_eq!(request_state_change(&lib, &web_uuid, state(9)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&web), "Paused");
    assert_eq!(request_state_change(&lib, &web_uuid, state(2)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&web), "Running");

    let i = lib.get_instance(&ctx(), &vm_path(&web_uuid), None).unwrap();
    assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(2)), "the last request");

    // A change made through XenAPI reaches the CIM side by event; the VM left the state CIM
    // asked for, so that request no longer stands: RequestedState is Unknown.
    x.call("VM.suspend", vec![Value::str(web.as_str())]);
    let i = wait_for_property(&lib, &web_uuid, "EnabledState", &CimValue::Uint16(6));
    assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(6)), "suspended through XenAPI");
    assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(0)), "the request to run was overtaken");
    x.call("VM.set_name_label", vec![Value::str(web.as_str()), Value::str("web-renamed")]);
    let i = wait_for_property(&lib, &web_uuid, "ElementName", &CimValue::from("web-renamed"));
    assert_eq!(i.get("ElementName"), Some(&CimValue::from("web-renamed")));

    // Hard shutdown (vendor value 32768) from suspended: accepted, though no list names it.
    let i = lib.get_instance(&ctx(), &vm_path(&web_uuid), None).unwrap();
    assert_eq!(i.get("AvailableRequestedStates"), Some(&xen_cim_providers::util::u16_array(&[2, 3])), "resume or stop at once");
    assert_eq!(request_state_change(&lib, &web_uuid, state(4)), CimValue::Uint32(4097), "no orderly shutdown of a suspended VM");
    assert_eq!(request_state_change(&lib, &web_uuid, state(32768)), CimValue::Uint32(0));
    assert_eq!(x.power_state(&web), "Halted");

    // A VM destroyed through XenAPI disappears from CIM.
    x.call("VM.destroy", vec![Value::str(web.as_str())]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lib.get_instance(&ctx(), &vm_path(&web_uuid), None).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lib.get_instance(&ctx(), &vm_path(&web_uuid), None).unwrap_err().rc_name(), "CIM_ERR_NOT_FOUND");

    drop(lib);
}
