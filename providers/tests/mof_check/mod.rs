//! What the MOF-consistency tests share: where the workspace is, typed records for the cache, and
//! the check that an instance a provider builds fits its compiled class.
#![allow(dead_code)]

use cmpi_shim::Instance;
use std::path::{Path, PathBuf};
use xenapi_core::client::ObjectRecord;
use xenapi_core::model::model;
use xenapi_core::rpc::Wire;
use xencim_broker::model::Class;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn rec(class: &str, members: Vec<(&str, Wire)>) -> ObjectRecord {
    ObjectRecord::from_wire(model().class(class).unwrap(), members.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap()
}

pub fn s(x: &str) -> Wire {
    Wire::Str(x.into())
}

pub fn check_instance(c: &Class, i: &Instance) {
    for (name, v) in &i.properties {
        let p = c.property(name).unwrap_or_else(|| panic!("{}.{name} is set by the provider but not declared", c.name));
        assert_eq!(p.name, *name, "{}.{name}: spelt {} in the MOF", c.name, p.name);
        let (ty, array) = v.cim_type();
        assert_eq!(format!("{ty:?}").to_ascii_lowercase(), p.ty.as_str().to_ascii_lowercase(), "{}.{name} type", c.name);
        assert_eq!(array, p.is_array, "{}.{name} array-ness", c.name);
    }
    let mut keys: Vec<String> = c.key_properties().map(|p| p.name.clone()).collect();
    let mut got: Vec<String> = i.path.keys.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    got.sort();
    assert_eq!(got, keys, "{} keys", c.name);
    for (k, v) in &i.path.keys {
        assert_eq!(i.get(k), Some(v), "{}: key {k} is also a property of the same value", c.name);
    }
    assert_eq!(i.path.classname, c.name);
}
