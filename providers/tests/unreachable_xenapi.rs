//! Without a usable XenAPI (no configuration file, nothing listening), CIM operations fail at
//! once with CIM_ERR_FAILED and a message that says why; they do not hang or crash the broker.
//! After the library is dropped, loading it again reads the configuration again.

mod common;

use cmpi_shim::broker::{NoUpcalls, ProviderLibrary};
use cmpi_shim::{CallContext, CimValue, ObjectPath};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ctx() -> CallContext {
    CallContext { namespace: Some("root/cimv2".into()), ..Default::default() }
}

#[test]
fn operations_fail_fast_and_say_why() {
    let so = common::provider_library();
    let dir = tempfile::tempdir().unwrap();
    let cs = ObjectPath::new("root/cimv2", "Xen_ComputerSystem");

    // This is the only test in this binary, so the variable is not raced.
    std::env::set_var("XENCIM_PROVIDER_CONFIG", dir.path().join("missing.toml"));
    let lib = ProviderLibrary::load_with(&so, "Xen_ComputerSystem", Arc::new(NoUpcalls)).expect("loading needs no XenAPI");
    let t = Instant::now();
    let e = lib.enumerate_instances(&ctx(), &cs, None).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_FAILED");
    assert!(e.message.contains("missing.toml"), "{}", e.message);
    let path = cs.clone().with_key("CreationClassName", "Xen_ComputerSystem").with_key("Name", "x");
    let e = lib.invoke_method(&ctx(), &path, "RequestStateChange", &[("RequestedState".into(), CimValue::Uint16(2))]).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_FAILED");
    drop(lib);

    let pw = dir.path().join("pw");
    std::fs::write(&pw, "x\n").unwrap();
    let config = dir.path().join("providers.toml");
    let sock = dir.path().join("nobody-listens.sock");
    std::fs::write(&config, format!("endpoint = \"unix:{}\"\nusername = \"u\"\npassword_file = \"{}\"\n", sock.display(), pw.display())).unwrap();
    std::env::set_var("XENCIM_PROVIDER_CONFIG", &config);
    let lib = ProviderLibrary::load_with(&so, "Xen_HostComputerSystem", Arc::new(NoUpcalls)).unwrap();
    let e = lib.enumerate_instance_names(&ctx(), &ObjectPath::new("root/cimv2", "Xen_HostComputerSystem")).unwrap_err();
    assert_eq!(e.rc_name(), "CIM_ERR_FAILED");
    assert!(e.message.contains("nobody-listens.sock"), "the message names the endpoint: {}", e.message);
    assert!(t.elapsed() < Duration::from_secs(10), "failed fast: {:?}", t.elapsed());
    drop(lib);
}
