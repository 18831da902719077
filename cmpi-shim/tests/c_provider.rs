//! A provider written in C against the generated `include/cmpi.h`, compiled here
//! with the system C compiler and hosted by the broker side.

mod common;

use cmpi_shim::abi::*;
use cmpi_shim::broker::{IndicationFilter, ProviderLibrary, Upcalls};
use cmpi_shim::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Compiles tests/c_provider/test_c_provider.c once per test run.
fn c_provider() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("cmpi-shim-c-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("libtest_c_provider.so");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-o"])
            .arg(&out)
            .arg("-I")
            .arg(root.join("include"))
            .arg(root.join("tests/c_provider/test_c_provider.c"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
        assert!(status.success(), "C provider failed to compile");
        out
    })
}

#[derive(Default)]
struct Sink(Mutex<Vec<(String, Instance)>>);
impl Upcalls for Sink {
    fn deliver_indication(&self, _ctx: &CallContext, ns: &str, ind: Instance) -> Result<(), CmpiError> {
        self.0.lock().unwrap().push((ns.into(), ind));
        Ok(())
    }
}

/// The C library is one per process, as in a real broker: its broker pointer, element table and
/// indication state are C statics, so a test that loads it again while another runs would take
/// over the other's broker (and its indication sink) midway. Every test holds this for its run.
static LIBRARY: Mutex<()> = Mutex::new(());

fn exclusive() -> MutexGuard<'static, ()> {
    // A failed test must not fail the others through a poisoned lock.
    LIBRARY.lock().unwrap_or_else(|p| p.into_inner())
}

fn load() -> (ProviderLibrary, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let lib = ProviderLibrary::load_with(c_provider(), "Test_C", sink.clone()).expect("load Test_C");
    (lib, sink)
}

#[test]
fn c_instances_round_trip() {
    let _only = exclusive();
    let (lib, _) = load();
    let t = lib.mi_types();
    assert!(t.instance && t.association && t.method && t.indication && !t.property);
    let c = ctx();
    let cls = ObjectPath::new(NS, "Test_Element");
    let names = lib.enumerate_instance_names(&c, &cls).unwrap();
    assert_eq!(names, vec![element("a"), element("b"), element("c")]);
    let insts = lib.enumerate_instances(&c, &cls, None).unwrap();
    assert_eq!(insts[0], Instance::new(element("a")).with("Name", "a").with("Size", CimValue::Uint32(1)));

    let new = Instance::new(element("d")).with("Name", "d").with("Size", CimValue::Uint32(42));
    assert_eq!(lib.create_instance(&c, &cls, &new).unwrap(), element("d"));
    assert_eq!(lib.create_instance(&c, &cls, &new).unwrap_err().rc, CMPI_RC_ERR_ALREADY_EXISTS);
    assert_eq!(lib.get_instance(&c, &element("d"), None).unwrap(), new);
    lib.modify_instance(&c, &element("d"), &Instance::new(element("d")).with("Size", CimValue::Uint32(7)), None).unwrap();
    assert_eq!(lib.get_instance(&c, &element("d"), None).unwrap().get("Size"), Some(&CimValue::Uint32(7)));
    lib.delete_instance(&c, &element("d")).unwrap();
    let e = lib.get_instance(&c, &element("d"), None).unwrap_err();
    assert_eq!((e.rc, e.message.as_str()), (CMPI_RC_ERR_NOT_FOUND, "no such element"));
    assert_eq!(lib.exec_query(&c, &cls, "SELECT * FROM Test_Element", "WQL").unwrap_err().rc, CMPI_RC_ERR_NOT_SUPPORTED);
}

#[test]
fn c_associations() {
    let _only = exclusive();
    let (lib, _) = load();
    let c = ctx();
    let a = element("a");
    let got = lib.associators(&c, &a, Some("Test_Link"), Some("Test_Element"), Some("Antecedent"), Some("Dependent"), None).unwrap();
    let names: Vec<_> = got.iter().map(|i| i.get("Name").cloned().unwrap()).collect();
    assert_eq!(names, vec![CimValue::from("b"), CimValue::from("c")]);
    assert!(lib.associators(&c, &a, None, None, Some("Dependent"), None, None).unwrap().is_empty());
    assert!(lib.associators(&c, &a, None, Some("Other"), None, None, None).unwrap().is_empty());
    assert_eq!(lib.associator_names(&c, &a, None, None, None, None).unwrap(), vec![element("b"), element("c")]);
    let refs = lib.references(&c, &a, None, Some("Antecedent"), None).unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[1].get("Dependent"), Some(&CimValue::Reference(element("c"))));
    assert_eq!(refs[1].path.key("Antecedent"), Some(&CimValue::Reference(a.clone())));
    assert!(lib.references(&c, &a, Some("Other_Link"), None, None).unwrap().is_empty());
    let rn = lib.reference_names(&c, &a, None, None).unwrap();
    assert_eq!(rn.len(), 1);
    assert_eq!(rn[0].key("Dependent"), Some(&CimValue::Reference(element("b"))));
}

#[test]
fn c_method_round_trips_every_type() {
    let _only = exclusive();
    let (lib, _) = load();
    let args = every_type();
    let res = lib.invoke_method(&ctx(), &element("a"), "Echo", &args).unwrap();
    assert_eq!(res.return_value, Some(CimValue::Uint32(args.len() as u32)));
    assert_eq!(res.out_args.len(), args.len());
    for ((n1, v1), (n2, v2)) in args.iter().zip(&res.out_args) {
        assert_eq!((n1, v1), (n2, v2));
    }
    let e = lib.invoke_method(&ctx(), &element("a"), "Nope", &[]).unwrap_err();
    assert_eq!((e.rc, e.message.as_str()), (CMPI_RC_ERR_METHOD_NOT_FOUND, "Nope"));
}

#[test]
fn c_indications() {
    let _only = exclusive();
    let (lib, sink) = load();
    let c = ctx();
    let f = IndicationFilter { query: "SELECT * FROM Test_Indication".into(), language: "WQL".into() };
    let cls = ObjectPath::new(NS, "Test_Indication");
    lib.authorize_filter(&c, &f, "Test_Indication", &cls, "alice").unwrap();
    assert_eq!(lib.authorize_filter(&c, &f, "Test_Indication", &cls, "mallory").unwrap_err().rc, CMPI_RC_ERR_ACCESS_DENIED);
    assert_eq!(lib.must_poll(&c, &f, "Test_Indication", &cls).unwrap_err().rc, CMPI_RC_ERR_NOT_SUPPORTED);
    let bad = IndicationFilter { query: "garbage".into(), language: "WQL".into() };
    assert_eq!(lib.activate_filter(&c, &bad, "Test_Indication", &cls, true).unwrap_err().rc, CMPI_RC_ERR_INVALID_QUERY);
    lib.activate_filter(&c, &f, "Test_Indication", &cls, true).unwrap();
    lib.enable_indications(&c).unwrap();
    let r = lib.invoke_method(&c, &element("a"), "Fire", &[]).unwrap();
    assert_eq!(r.return_value, Some(CimValue::Boolean(true)));
    let got = sink.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (ns, ind) = &got[0];
    assert_eq!(ns, NS);
    assert_eq!(ind.classname(), "Test_Indication");
    assert_eq!(ind.get("Message"), Some(&"fired from C".into()));
    assert_eq!(ind.get("Source"), Some(&CimValue::Reference(element("a"))));
    assert_eq!(ind.get("Principal"), Some(&"alice".into()));
    assert!(matches!(ind.get("Active"), Some(CimValue::Sint32(n)) if *n >= 1));
    lib.deactivate_filter(&c, &f, "Test_Indication", &cls, true).unwrap();
    lib.disable_indications(&c).unwrap();
}

#[test]
fn c_uses_broker_services() {
    let _only = exclusive();
    let (lib, _) = load();
    let r = lib.invoke_method(&ctx(), &element("a"), "Services", &[]).unwrap();
    assert_eq!(r.return_value, Some(CimValue::String("ok".into())), "CMPI_chars return data");
}

#[test]
fn pre_1_0_indication_mi_convention() {
    let _only = exclusive();
    let lib = ProviderLibrary::load(c_provider(), "Test_COld").unwrap();
    assert!(lib.mi_types().indication && !lib.mi_types().instance);
    // SAFETY: the C test library exports this helper with this signature.
    let enabled = || unsafe {
        let l = libloading::Library::new(c_provider()).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn() -> i32> = l.get(b"test_c_old_enabled").unwrap();
        f()
    };
    lib.enable_indications(&ctx()).unwrap();
    assert_eq!(enabled(), 1);
    lib.disable_indications(&ctx()).unwrap();
    assert_eq!(enabled(), 0);
}
