//! Finding (building) the `xencim` binary and the provider library for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/` of this test binary (`target/<profile>/deps/<test>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent().and_then(|d| d.parent()).expect("profile dir").to_path_buf()
}

fn cargo_build(args: &[&str]) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = profile_dir().parent().unwrap().to_path_buf();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build").arg("--quiet").args(args).current_dir(workspace).env("CARGO_TARGET_DIR", &target);
    if profile_dir().file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("running cargo");
    assert!(st.success(), "cargo build {args:?} failed");
}

/// The `xencim` binary and the provider library.
pub fn artifacts() -> (PathBuf, PathBuf) {
    let skip = std::env::var_os("XENCIM_SKIP_BUILD").is_some();
    let bin = match std::env::var_os("XENCIM_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            if !skip {
                cargo_build(&["--bin", "xencim"]);
            }
            profile_dir().join("xencim")
        }
    };
    let so = match std::env::var_os("XEN_CIM_PROVIDERS_SO") {
        Some(p) => PathBuf::from(p),
        None => {
            if !skip {
                cargo_build(&["-p", "xen-cim-providers", "--lib"]);
            }
            profile_dir().join("libxen_cim_providers.so")
        }
    };
    assert!(bin.is_file(), "{} is missing (set XENCIM_BIN, or unset XENCIM_SKIP_BUILD)", bin.display());
    assert!(so.is_file(), "{} is missing (set XEN_CIM_PROVIDERS_SO, or unset XENCIM_SKIP_BUILD)", so.display());
    (bin, so)
}

/// The provider library alone (`XEN_CIM_PROVIDERS_SO`, else built like [`artifacts`]).
pub fn provider_library() -> PathBuf {
    let so = match std::env::var_os("XEN_CIM_PROVIDERS_SO") {
        Some(p) => PathBuf::from(p),
        None => {
            if std::env::var_os("XENCIM_SKIP_BUILD").is_none() {
                cargo_build(&["-p", "xen-cim-providers", "--lib"]);
            }
            profile_dir().join("libxen_cim_providers.so")
        }
    };
    assert!(so.is_file(), "{} is missing (set XEN_CIM_PROVIDERS_SO, or unset XENCIM_SKIP_BUILD)", so.display());
    so
}
