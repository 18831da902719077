//! The Rust test provider (examples/test_provider.rs), loaded as a shared library
//! through the broker side and driven through the C ABI.

mod common;

use cmpi_shim::abi::*;
use cmpi_shim::broker::{IndicationFilter, ProviderLibrary, Upcalls};
use cmpi_shim::*;
use common::*;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Sink {
    indications: Mutex<Vec<(String, Instance, CallContext)>>,
}

impl Upcalls for Sink {
    fn deliver_indication(&self, ctx: &CallContext, ns: &str, ind: Instance) -> Result<(), CmpiError> {
        self.indications.lock().unwrap().push((ns.to_string(), ind, ctx.clone()));
        Ok(())
    }
}

fn load() -> ProviderLibrary {
    ProviderLibrary::load(rust_provider(), "Test_Rust").expect("load Test_Rust")
}

// The provider keeps its store in a static shared by every test of this binary;
// tests that change it serialize on this lock.
static STORE_LOCK: Mutex<()> = Mutex::new(());

#[test]
fn loads_all_mi_types_and_rejects_unknown_provider() {
    let lib = load();
    let t = lib.mi_types();
    assert!(t.instance && t.association && t.method && t.indication && t.property, "{t:?}");
    let e = ProviderLibrary::load(rust_provider(), "No_Such_Provider").err().expect("unknown name fails");
    assert_eq!(e.rc, CMPI_RC_ERR_NOT_FOUND, "{e}");
    let e = ProviderLibrary::load("/nonexistent/libx.so", "X").err().expect("missing lib fails");
    assert_eq!(e.rc, CMPI_RC_ERR_NOT_FOUND);
}

#[test]
fn enumerate_instances_and_names() {
    let _g = STORE_LOCK.lock().unwrap();
    let lib = load();
    let op = ObjectPath::new(NS, "Test_Element");
    let names = lib.enumerate_instance_names(&ctx(), &op).unwrap();
    for n in ["a", "b", "c"] {
        assert!(names.contains(&element(n)), "{names:?}");
    }
    let insts = lib.enumerate_instances(&ctx(), &op, None).unwrap();
    let a = insts.iter().find(|i| i.get("Name") == Some(&"a".into())).expect("a");
    assert_eq!(a.path, element("a"));
    assert_eq!(a.get("Size"), Some(&CimValue::Uint32(1)));
    // Property list honoured.
    let only = lib.enumerate_instances(&ctx(), &op, Some(&["Name"])).unwrap();
    assert!(only.iter().all(|i| i.properties.len() == 1 && i.get("Name").is_some()), "{only:?}");
}

#[test]
fn get_create_modify_delete() {
    let _g = STORE_LOCK.lock().unwrap();
    let lib = load();
    let c = ctx();
    let b = lib.get_instance(&c, &element("b"), None).unwrap();
    assert_eq!(b.get("Name"), Some(&"b".into()));
    let e = lib.get_instance(&c, &element("zz"), None).unwrap_err();
    assert_eq!(e.rc, CMPI_RC_ERR_NOT_FOUND);
    assert!(e.message.contains("zz"), "{e}");

    let all = every_type();
    let mut new = Instance::new(element("new")).with("Name", "new");
    for (k, v) in &all {
        new.set(k.clone(), v.clone());
    }
    let path = lib.create_instance(&c, &ObjectPath::new(NS, "Test_Element"), &new).unwrap();
    assert_eq!(path, element("new"));
    let dup = lib.create_instance(&c, &ObjectPath::new(NS, "Test_Element"), &new).unwrap_err();
    assert_eq!(dup.rc, CMPI_RC_ERR_ALREADY_EXISTS);
    let got = lib.get_instance(&c, &element("new"), None).unwrap();
    assert_eq!(got.properties, new.properties, "every property type round-trips through create/get");

    let change = Instance::new(element("new")).with("Size", CimValue::Uint32(99)).with("Str", "ignored");
    lib.modify_instance(&c, &element("new"), &change, Some(&["Size"])).unwrap();
    let got = lib.get_instance(&c, &element("new"), None).unwrap();
    assert_eq!(got.get("Size"), Some(&CimValue::Uint32(99)));
    assert_eq!(got.get("Str"), Some(&CimValue::String("hello, wörld".into())));

    lib.delete_instance(&c, &element("new")).unwrap();
    assert_eq!(lib.delete_instance(&c, &element("new")).unwrap_err().rc, CMPI_RC_ERR_NOT_FOUND);
    assert_eq!(lib.get_instance(&c, &element("new"), None).unwrap_err().rc, CMPI_RC_ERR_NOT_FOUND);
}

#[test]
fn exec_query_not_supported_by_default() {
    let lib = load();
    let e = lib.exec_query(&ctx(), &ObjectPath::new(NS, "Test_Element"), "SELECT * FROM Test_Element", "WQL").unwrap_err();
    assert_eq!(e.rc, CMPI_RC_ERR_NOT_SUPPORTED);
}

#[test]
fn associations_with_role_and_class_filters() {
    let lib = load();
    let c = ctx();
    let a = element("a");
    let names = |v: Vec<Instance>| {
        let mut n: Vec<String> = v.iter().map(|i| i.get("Name").and_then(|v| v.as_str()).unwrap_or("?").to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(names(lib.associators(&c, &a, None, None, None, None, None).unwrap()), ["b", "c"]);
    assert_eq!(
        names(lib.associators(&c, &a, Some("Test_Link"), Some("Test_Element"), Some("Antecedent"), Some("Dependent"), None).unwrap()),
        ["b", "c"]
    );
    assert!(lib.associators(&c, &a, None, None, Some("Dependent"), None, None).unwrap().is_empty(), "a is never Dependent");
    assert!(lib.associators(&c, &a, Some("Other_Link"), None, None, None, None).unwrap().is_empty());
    assert!(lib.associators(&c, &a, None, Some("Other_Class"), None, None, None).unwrap().is_empty());
    // From the other end.
    assert_eq!(names(lib.associators(&c, &element("b"), None, None, Some("Dependent"), None, None).unwrap()), ["a"]);

    let mut an = lib.associator_names(&c, &a, None, None, Some("Antecedent"), None).unwrap();
    an.sort_by_key(|p| p.to_string());
    assert_eq!(an, [element("b"), element("c")]);

    let refs = lib.references(&c, &a, Some("Test_Link"), Some("Antecedent"), None).unwrap();
    assert_eq!(refs.len(), 2);
    assert!(refs.iter().all(|r| r.get("Antecedent") == Some(&CimValue::Reference(a.clone()))));
    assert!(lib.references(&c, &a, Some("Test_Link"), Some("Dependent"), None).unwrap().is_empty());
    let rn = lib.reference_names(&c, &element("c"), None, None).unwrap();
    assert_eq!(rn.len(), 1);
    assert_eq!(rn[0].classname, "Test_Link");
    assert_eq!(rn[0].key("Dependent"), Some(&CimValue::Reference(element("c"))));
}

#[test]
fn invoke_method_round_trips_every_type() {
    let lib = load();
    let args = every_type();
    let res = lib.invoke_method(&ctx(), &element("a"), "Echo", &args).unwrap();
    assert_eq!(res.return_value, Some(CimValue::Uint32(args.len() as u32)));
    assert_eq!(res.out_args.len(), args.len());
    for ((n1, v1), (n2, v2)) in args.iter().zip(&res.out_args) {
        assert_eq!(n1, n2);
        assert_eq!(v1, v2, "argument {n1}");
    }
}

#[test]
fn invoke_method_sees_context_and_errors() {
    let lib = load();
    let res = lib.invoke_method(&ctx(), &element("a"), "WhoAmI", &[]).unwrap();
    assert_eq!(res.return_value, None);
    let get = |n: &str| res.out_args.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("Principal"), CimValue::String("alice".into()));
    assert_eq!(get("Namespace"), CimValue::String(NS.into()));
    assert_eq!(get("Flags"), CimValue::Uint32(CMPI_FLAG_IncludeQualifiers));
    assert_eq!(get("Target"), CimValue::Reference(element("a")));

    let e = lib.invoke_method(&ctx(), &element("a"), "Fail", &[]).unwrap_err();
    assert_eq!((e.rc, e.message.as_str()), (CMPI_RC_ERR_INVALID_PARAMETER, "asked to fail"));
    let e = lib.invoke_method(&ctx(), &element("a"), "Nope", &[]).unwrap_err();
    assert_eq!(e.rc, CMPI_RC_ERR_METHOD_NOT_FOUND);
}

#[test]
fn indications_filters_and_delivery() {
    let sink = Arc::new(Sink::default());
    let lib = ProviderLibrary::load_with(rust_provider(), "Test_Rust", sink.clone()).unwrap();
    let c = ctx();
    let filter = IndicationFilter { query: "SELECT * FROM Test_Indication".into(), language: "WQL".into() };
    let cls = ObjectPath::new(NS, "Test_Indication");
    lib.authorize_filter(&c, &filter, "Test_Indication", &cls, "alice").unwrap();
    let denied = lib.authorize_filter(&c, &filter, "Test_Indication", &cls, "mallory").unwrap_err();
    assert_eq!(denied.rc, CMPI_RC_ERR_ACCESS_DENIED);
    assert!(denied.message.contains("SELECT * FROM Test_Indication"), "provider saw the query: {denied}");
    assert_eq!(lib.must_poll(&c, &filter, "Test_Indication", &cls).unwrap_err().rc, CMPI_RC_ERR_NOT_SUPPORTED);
    lib.activate_filter(&c, &filter, "Test_Indication", &cls, true).unwrap();
    lib.enable_indications(&c).unwrap();

    let r = lib.invoke_method(&c, &element("a"), "Fire", &[]).unwrap();
    assert_eq!(r.return_value, Some(CimValue::Boolean(true)));
    lib.invoke_method(&c, &element("a"), "FireFromThread", &[]).unwrap();
    {
        let got = sink.indications.lock().unwrap();
        assert_eq!(got.len(), 2, "{:?}", got.iter().map(|g| &g.1).collect::<Vec<_>>());
        let (ns, ind, ictx) = &got[0];
        assert_eq!(ns, NS);
        assert_eq!(ind.classname(), "Test_Indication");
        assert_eq!(ind.get("Message"), Some(&"fired".into()));
        assert_eq!(ind.get("Source"), Some(&CimValue::Reference(element("a"))));
        assert_eq!(ind.get("Filters"), Some(&CimValue::Array(CimType::String, vec![filter.query.clone().into()])));
        assert_eq!(ictx.principal.as_deref(), Some("alice"));
        assert_eq!(got[1].1.get("Message"), Some(&"from thread".into()));
    }
    lib.deactivate_filter(&c, &filter, "Test_Indication", &cls, true).unwrap();
    lib.disable_indications(&c).unwrap();
}

#[test]
fn calls_from_many_threads() {
    let lib = Arc::new(load());
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let lib = lib.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = lib.invoke_method(&ctx(), &element("a"), "Echo", &[("X".into(), CimValue::Sint32(5))]).unwrap();
                    assert_eq!(r.out_args, vec![("X".to_string(), CimValue::Sint32(5))]);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn property_mi_get_and_set() {
    let _g = STORE_LOCK.lock().unwrap();
    let lib = load();
    let c = ctx();
    assert_eq!(lib.get_property(&c, &element("c"), "Size").unwrap(), CimValue::Uint32(1));
    lib.set_property(&c, &element("c"), "Size", &CimValue::Uint32(33)).unwrap();
    assert_eq!(lib.get_property(&c, &element("c"), "Size").unwrap(), CimValue::Uint32(33));
    lib.set_property(&c, &element("c"), "Size", &CimValue::Uint32(1)).unwrap();
    assert_eq!(lib.get_property(&c, &element("c"), "Nope").unwrap_err().rc, CMPI_RC_ERR_NO_SUCH_PROPERTY);
}

struct Cimom;
impl Upcalls for Cimom {
    fn enumerate_instance_names(&self, ctx: &CallContext, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        assert_eq!(ctx.principal.as_deref(), Some("alice"));
        Ok(vec![op.clone().with_key("Id", CimValue::Uint8(1)), op.clone().with_key("Id", CimValue::Uint8(2))])
    }
    fn enumerate_instances(&self, _ctx: &CallContext, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        Ok(vec![Instance::new(op.clone().with_key("Id", CimValue::Uint8(1))).with("Id", CimValue::Uint8(1))])
    }
}

#[test]
fn provider_upcalls_reach_the_host() {
    let lib = ProviderLibrary::load_with(rust_provider(), "Test_Rust", Arc::new(Cimom)).unwrap();
    let r = lib.invoke_method(&ctx(), &element("a"), "Upcall", &[]).unwrap();
    assert_eq!(r.return_value, Some(CimValue::Uint32(1)));
    let other = ObjectPath::new(NS, "Test_Other");
    assert_eq!(
        r.out_args,
        vec![(
            "Names".to_string(),
            CimValue::Array(
                CimType::Reference,
                vec![
                    CimValue::Reference(other.clone().with_key("Id", CimValue::Uint8(1))),
                    CimValue::Reference(other.with_key("Id", CimValue::Uint8(2)))
                ]
            )
        )]
    );
    // Without a host that supports them, the up-call fails cleanly with NOT_SUPPORTED.
    let e = load().invoke_method(&ctx(), &element("a"), "Upcall", &[]).unwrap_err();
    assert_eq!(e.rc, CMPI_RC_ERR_NOT_SUPPORTED, "{e}");
}

#[test]
fn entry_points_check_their_arguments() {
    // SAFETY: the test library exports these symbols with the CMPI factory signatures.
    unsafe {
        let lib = libloading::Library::new(rust_provider()).unwrap();
        let named: libloading::Symbol<CMPICreateMIFn<CMPIInstanceMI>> = lib.get(b"Test_Rust_Create_InstanceMI").unwrap();
        let mut rc = CMPIStatus::ok();
        assert!(named(std::ptr::null(), std::ptr::null(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_HANDLE);
        assert!(named(std::ptr::null(), std::ptr::null(), std::ptr::null_mut()).is_null());
        let generic: libloading::Symbol<CMPIGenericCreateMIFn<CMPIInstanceMI>> = lib.get(b"_Generic_Create_InstanceMI").unwrap();
        assert!(generic(std::ptr::null(), std::ptr::null(), c"Unknown".as_ptr(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_NOT_FOUND);
        assert!(generic(std::ptr::null(), std::ptr::null(), std::ptr::null(), &mut rc).is_null());
        for sym in ["Test_Rust_Create_AssociationMI", "Test_Rust_Create_MethodMI", "Test_Rust_Create_PropertyMI", "Test_Rust_Create_IndicationMI", "Test_Panic_Create_MethodMI"] {
            assert!(lib.get::<CMPICreateMIFn<CMPIMethodMI>>(sym.as_bytes()).is_ok(), "{sym}");
        }
    }
}
