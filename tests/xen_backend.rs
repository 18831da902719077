//! `xencim serve --backend xen` off a Xen dom0: refused at once with a message that says why,
//! never a crash or a server that half starts. A build with `--features xen` checks
//! /proc/xen/capabilities; a default build says how to get the backend.

use std::process::Command;

#[test]
fn serve_backend_xen_off_dom0_is_refused_clearly() {
    if std::fs::read_to_string("/proc/xen/capabilities").is_ok_and(|c| c.contains("control_d")) {
        return; // This is dom0: the backend would start.
    }
    let state = tempfile_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_xencim"))
        .args(["serve", "--backend", "xen", "--cim-listen", "off", "--xenapi-tls-listen", "off", "--xenapi-listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(&state)
        .output()
        .expect("run xencim");
    let _ = std::fs::remove_dir_all(&state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "xencim serve --backend xen started off dom0: {stderr}");
    if cfg!(feature = "xen") {
        assert!(stderr.contains("/proc/xen/capabilities") && stderr.contains("dom0"), "{stderr}");
    } else {
        assert!(stderr.contains("--features xen"), "{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("xencim-xen-backend-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
