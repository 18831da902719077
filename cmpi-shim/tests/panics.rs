//! A provider that panics in every MI function: each call fails with
//! CMPI_RC_ERR_FAILED and the panic message; the host keeps working.

mod common;

use cmpi_shim::abi::*;
use cmpi_shim::broker::{IndicationFilter, ProviderLibrary};
use cmpi_shim::*;
use common::*;

fn assert_panicked<T: std::fmt::Debug>(r: Result<T, CmpiError>, func: &str) {
    let e = r.expect_err(func);
    assert_eq!(e.rc, CMPI_RC_ERR_FAILED, "{func}: {e}");
    assert!(e.message.contains(&format!("boom in {func}")), "{func}: message {:?}", e.message);
}

#[test]
fn every_mi_function_reports_the_panic() {
    let lib = ProviderLibrary::load(rust_provider(), "Test_Panic").unwrap();
    let c = ctx();
    let op = element("a");
    let cls = ObjectPath::new(NS, "Test_Element");
    let inst = Instance::new(element("x")).with("Name", "x");
    let f = IndicationFilter { query: "SELECT * FROM Test_Indication".into(), language: "WQL".into() };
    for _round in 0..3 {
        assert_panicked(lib.enumerate_instance_names(&c, &cls), "enumerate_instance_names");
        assert_panicked(lib.enumerate_instances(&c, &cls, None), "enumerate_instances");
        assert_panicked(lib.get_instance(&c, &op, None), "get_instance");
        assert_panicked(lib.create_instance(&c, &cls, &inst), "create_instance");
        assert_panicked(lib.modify_instance(&c, &op, &inst, None), "modify_instance");
        assert_panicked(lib.delete_instance(&c, &op), "delete_instance");
        assert_panicked(lib.exec_query(&c, &cls, "SELECT * FROM Test_Element", "WQL"), "exec_query");
        assert_panicked(lib.associators(&c, &op, None, None, None, None, None), "associators");
        assert_panicked(lib.associator_names(&c, &op, None, None, None, None), "associator_names");
        assert_panicked(lib.references(&c, &op, None, None, None), "references");
        assert_panicked(lib.reference_names(&c, &op, None, None), "reference_names");
        assert_panicked(lib.invoke_method(&c, &op, "Echo", &[]), "invoke_method");
        assert_panicked(lib.authorize_filter(&c, &f, "Test_Indication", &cls, "alice"), "authorize_filter");
        assert_panicked(lib.must_poll(&c, &f, "Test_Indication", &cls), "must_poll");
        assert_panicked(lib.activate_filter(&c, &f, "Test_Indication", &cls, true), "activate_filter");
        assert_panicked(lib.deactivate_filter(&c, &f, "Test_Indication", &cls, true), "deactivate_filter");
        assert_panicked(lib.enable_indications(&c), "enable_indications");
        assert_panicked(lib.disable_indications(&c), "disable_indications");
    }
    // The host and other providers keep working.
    let ok = ProviderLibrary::load(rust_provider(), "Test_Rust").unwrap();
    let r = ok.invoke_method(&c, &op, "Echo", &[("V".into(), CimValue::Uint8(1))]).unwrap();
    assert_eq!(r.out_args, vec![("V".to_string(), CimValue::Uint8(1))]);
    drop(lib);
    assert!(ok.get_instance(&c, &element("a"), None).is_ok());
}
