//! What the MOF-consistency tests share: where the workspace is, typed records for the cache, and
//! the check that an instance a provider builds fits its compiled class.
#![allow(dead_code)]

use cmpi_shim::Instance;
use std::path::{Path, PathBuf};
use xenapi_client::ObjectRecord;
use xenapi_model::model::model;
use xenapi_client::Wire;
use xencim_broker::model::Class;
use xencim_broker::repo::Repository;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The DMTF CIM schema 2.41.0 (`$CIM_SCHEMA_DIR`, else `shared/` beside the workspace).
pub fn schema_file() -> PathBuf {
    let dir = std::env::var_os("CIM_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/cim-schema/2.41.0"));
    let f = dir.join("cim_schema_2.41.0.mof");
    assert!(f.is_file(), "the DMTF CIM schema 2.41.0 is needed: {} is missing (set CIM_SCHEMA_DIR)", f.display());
    f
}

/// The DMTF schema and `mof/Xen.mof`, as `xencim serve --cim-schema` compiles them: the schema in
/// root/interop too (the registered profiles live there).
pub fn schema_repository() -> Repository {
    let mut r = Repository::new();
    xencim_broker::mof::compile_file(&mut r, "root/cimv2", &schema_file()).expect("the DMTF schema compiles");
    r.copy_schema("root/cimv2", "root/interop");
    xencim_broker::mof::compile_file(&mut r, "root/cimv2", &workspace().join("mof/Xen.mof")).expect("mof/Xen.mof compiles");
    r
}

/// Without the DMTF schema: `mof/base/` (every file, in name order) gives the Xen classes their
/// parents, then `mof/Xen.mof`.
pub fn base_repository() -> Repository {
    let mut r = Repository::new();
    let base = workspace().join("mof/base");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "mof")).collect();
    files.sort();
    assert!(!files.is_empty(), "no MOF in {}", base.display());
    for f in files {
        xencim_broker::mof::compile_file(&mut r, "root/cimv2", &f).unwrap_or_else(|e| panic!("{e}"));
    }
    xencim_broker::mof::compile_file(&mut r, "root/cimv2", &workspace().join("mof/Xen.mof")).expect("mof/Xen.mof compiles on mof/base");
    r
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
