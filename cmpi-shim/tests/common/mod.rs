#![allow(dead_code)]
use cmpi_shim::*;
use std::path::PathBuf;

/// `target/<profile>/` of the running test binary (`target/<profile>/deps/<test>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent().and_then(|d| d.parent()).expect("profile dir").to_path_buf()
}

/// The Rust test provider, built by `cargo test` as a cdylib example.
pub fn rust_provider() -> PathBuf {
    let p = profile_dir().join("examples").join("libtest_provider.so");
    assert!(p.exists(), "{} missing: run through `cargo test -p cmpi-shim`", p.display());
    p
}

pub const NS: &str = "root/cimv2";

pub fn ctx() -> CallContext {
    CallContext {
        namespace: Some(NS.into()),
        principal: Some("alice".into()),
        invocation_flags: abi::CMPI_FLAG_IncludeQualifiers,
        ..Default::default()
    }
}

pub fn element(name: &str) -> ObjectPath {
    ObjectPath::new(NS, "Test_Element").with_key("Name", name)
}

/// One value of every CIM type, arrays of each, references, embedded instances,
/// datetimes (timestamp and interval) and nulls.
pub fn every_type() -> Args {
    let embedded = Instance::new(ObjectPath::new(NS, "Test_Embedded").with_key("Id", CimValue::Uint16(7)))
        .with("Id", CimValue::Uint16(7))
        .with("Label", "inner \"quoted\" ünïcode")
        .with("Nested", CimValue::Instance(Box::new(Instance::new(ObjectPath::new(NS, "Test_Deep")).with("X", CimValue::Sint8(-1)))));
    let ts = CimDateTime::parse("20240229235959.999999-300").unwrap();
    let iv = CimDateTime::interval(12 * 86_400_000_000 + 1);
    let r = ObjectPath::new("root/other", "Test_Ref")
        .with_key("K1", "v")
        .with_key("K2", CimValue::Uint64(u64::MAX))
        .with_key("K3", CimValue::Boolean(false))
        .with_key("K4", CimValue::Reference(element("a")));
    let scalars: Vec<(&str, CimValue)> = vec![
        ("Bool", CimValue::Boolean(true)),
        ("Char16", CimValue::Char16(0x263A)),
        ("U8", CimValue::Uint8(u8::MAX)),
        ("U16", CimValue::Uint16(u16::MAX)),
        ("U32", CimValue::Uint32(u32::MAX)),
        ("U64", CimValue::Uint64(u64::MAX)),
        ("S8", CimValue::Sint8(i8::MIN)),
        ("S16", CimValue::Sint16(i16::MIN)),
        ("S32", CimValue::Sint32(i32::MIN)),
        ("S64", CimValue::Sint64(i64::MIN)),
        ("R32", CimValue::Real32(-1.5e-7)),
        ("R64", CimValue::Real64(std::f64::consts::PI)),
        ("Str", CimValue::String("hello, wörld".into())),
        ("EmptyStr", CimValue::String(String::new())),
        ("Stamp", CimValue::DateTime(ts.clone())),
        ("Interval", CimValue::DateTime(iv.clone())),
        ("Ref", CimValue::Reference(r.clone())),
        ("Inst", CimValue::Instance(Box::new(embedded.clone()))),
    ];
    let mut args: Args = Vec::new();
    for (n, v) in &scalars {
        args.push((n.to_string(), v.clone()));
        let (ty, _) = v.cim_type();
        // An array of two copies with a NULL element between them.
        args.push((format!("{n}A"), CimValue::Array(ty, vec![v.clone(), CimValue::Null { ty, array: false }, v.clone()])));
        args.push((format!("{n}Null"), CimValue::Null { ty, array: false }));
        args.push((format!("{n}NullA"), CimValue::Null { ty, array: true }));
        args.push((format!("{n}EmptyA"), CimValue::Array(ty, vec![])));
    }
    args
}
