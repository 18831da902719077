//! The providers' shared library is loaded into SFCB and OpenPegasus: it must bring the XenAPI
//! client and the data model with it, never the server (its SQLite store, argon2 password hashing,
//! rcgen certificates, the hyper server). Checked twice: in the dependency graph cargo resolves for
//! this package alone, and in the symbols of the library the build produced.

use std::path::PathBuf;
use std::process::Command;

/// Crates of the server that must not be in the providers' graph, and the server crate itself.
const SERVER_CRATES: &[&str] = &["rusqlite", "libsqlite3-sys", "argon2", "rcgen", "xenapi-core"];

fn cargo_tree(edges: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    // Offline: the build that runs this test has every dependency already.
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-p", "xen-cim-providers", "-e", edges, "--prefix", "none", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cannot run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("cargo tree prints UTF-8")
}

#[test]
fn the_dependency_graph_has_no_server_crate() {
    let tree = cargo_tree("normal");
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"xenapi-client") && names.contains(&"xenapi-model"), "unexpected graph:\n{tree}");
    for bad in SERVER_CRATES {
        assert!(!names.contains(bad), "xen-cim-providers depends on {bad}:\n{tree}");
    }
    // hyper and hyper-util are there for the client; their server halves must not be asked for.
    let features = cargo_tree("normal,features");
    for line in features.lines() {
        assert!(
            !(line.starts_with("hyper") && line.contains("feature \"server")),
            "a server feature of hyper is enabled for the providers: {line}"
        );
    }
}

/// The library the normal build produced: `target/<profile>/deps/libxen_cim_providers.so`, next
/// to this test's own executable (cargo builds it before running the tests of this package).
fn provider_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("the test runs from target/<profile>/deps");
    let so = deps.join("libxen_cim_providers.so");
    assert!(so.is_file(), "{} was not built", so.display());
    so
}

fn nm(args: &[&str], so: &PathBuf) -> String {
    let out = Command::new("nm").args(args).arg(so).output().expect("nm (binutils) is needed for this test");
    assert!(out.status.success(), "nm {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_shared_library_links_no_server_code() {
    let so = provider_library();
    let exported = nm(&["-D", "--defined-only"], &so);
    // The symbols are really there to be read: the CMPI entry points a broker looks up.
    assert!(exported.contains("Xen_ComputerSystem_Create_InstanceMI"), "no CMPI entry points in {}", so.display());
    assert!(!exported.contains("sqlite3_"), "{} exports SQLite", so.display());
    // Every symbol, local ones too: Rust code from the server crates appears under its crate's
    // mangled name (`_ZN8rusqlite…`), SQLite's C code under `sqlite3_`.
    let all = nm(&["--defined-only"], &so);
    assert!(all.lines().count() > 1000, "{} has no symbol table to check (stripped?)", so.display());
    for needle in ["sqlite3_", "rusqlite", "argon2", "rcgen", "xenapi_core"] {
        let hits: Vec<&str> = all.lines().filter(|l| l.contains(needle)).take(3).collect();
        assert!(hits.is_empty(), "{} contains {needle} code, e.g. {hits:?}", so.display());
    }
}
