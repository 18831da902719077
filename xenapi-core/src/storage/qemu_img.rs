//! The `qemu-img` command (Debian package `qemu-utils`): create, inspect, resize and convert
//! disk images. Every failure becomes `SR_BACKEND_FAILURE [status, stdout, stderr]`.
//!
//! ```text
//! qemu-img info -U --output=json disk.qcow2   →  {"virtual-size": 1073741824, "format": "qcow2", ...}
//! ```

use crate::backend::Cancel;
use crate::error::ApiError;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const INSTALL_HINT: &str = "qemu-img is not installed; install it with: apt-get install -y qemu-utils";

static PRESENT: OnceLock<bool> = OnceLock::new();

/// Whether `qemu-img` runs here; checked once, logged clearly when missing.
pub fn available() -> bool {
    *PRESENT.get_or_init(|| {
        let ok = Command::new("qemu-img").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok {
            tracing::error!("{INSTALL_HINT}; file SRs cannot create, clone or copy disks until then");
        }
        ok
    })
}

fn missing() -> ApiError {
    ApiError::new("SR_BACKEND_FAILURE", ["qemu-img-missing", "", INSTALL_HINT])
}

/// `SR_BACKEND_FAILURE` for a command that did not succeed.
pub fn failure(status: impl ToString, stdout: &str, stderr: &str) -> ApiError {
    ApiError::new("SR_BACKEND_FAILURE", [status.to_string(), stdout.trim().to_string(), stderr.trim().to_string()])
}

fn run(args: &[&str]) -> Result<String, ApiError> {
    if !available() {
        return Err(missing());
    }
    let out = Command::new("qemu-img").args(args).stdin(Stdio::null()).output().map_err(|e| failure("exec", "", &format!("qemu-img: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let code = out.status.code().map(|c| c.to_string()).unwrap_or_else(|| "signal".into());
        return Err(failure(code, &stdout, &String::from_utf8_lossy(&out.stderr)));
    }
    Ok(stdout)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap_or("")
}

/// What `qemu-img info` says of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub format: String,
    pub virtual_size: i64,
    /// Bytes allocated on disk for this file alone.
    pub actual_size: i64,
    /// The backing file as written in the image (relative to its directory), if any.
    pub backing: Option<String>,
}

/// Parses `qemu-img info --output=json`.
pub fn parse_info(json: &str) -> Result<Info, ApiError> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| failure("parse", json, &e.to_string()))?;
    Ok(Info {
        format: v["format"].as_str().unwrap_or("raw").to_string(),
        virtual_size: v["virtual-size"].as_i64().unwrap_or(0),
        actual_size: v["actual-size"].as_i64().unwrap_or(0),
        backing: v["backing-filename"].as_str().map(str::to_string),
    })
}

/// `format` None lets qemu-img probe (raw is what is left when nothing matches).
pub fn info(path: &Path, format: Option<&str>) -> Result<Info, ApiError> {
    let mut args = vec!["info", "-U", "--output=json"];
    if let Some(f) = format {
        args.extend(["-f", f]);
    }
    args.push(p(path));
    parse_info(&run(&args)?)
}

/// Creates an image of `size` bytes, or an overlay of `backing` (a file name in the same
/// directory, which need not exist yet).
pub fn create(path: &Path, format: &str, size: i64, backing: Option<(&str, &str)>) -> Result<(), ApiError> {
    let size = size.to_string();
    let mut args = vec!["create", "-q", "-f", format];
    if let Some((file, fmt)) = backing {
        args.extend(["-u", "-b", file, "-F", fmt]);
    }
    if format == "qcow2" {
        args.extend(["-o", "cluster_size=65536"]);
    }
    args.extend([p(path), size.as_str()]);
    run(&args).map(|_| ())
}

pub fn resize(path: &Path, format: &str, size: i64) -> Result<(), ApiError> {
    run(&["resize", "-q", "-f", format, p(path), &size.to_string()]).map(|_| ())
}

/// Full copy of `src` (and its backing chain) into `dst`, reporting progress 0..1. `into_existing`
/// writes into an image that exists already (`-n`). Cancelling kills the command.
pub fn convert(
    src: &Path,
    src_format: &str,
    dst: &Path,
    dst_format: &str,
    into_existing: bool,
    cancel: &Cancel,
    mut progress: impl FnMut(f64),
) -> Result<(), ApiError> {
    if !available() {
        return Err(missing());
    }
    // -W: writes may land out of order (the target is not in use until the copy is done).
    let mut args = vec!["convert", "-p", "-W", "-f", src_format, "-O", dst_format];
    if into_existing {
        args.push("-n");
    }
    args.extend([p(src), p(dst)]);
    let mut child = Command::new("qemu-img")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failure("exec", "", &format!("qemu-img: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // `-p` prints "    (12.34/100%)\r" as it goes.
    let mut buf = [0u8; 512];
    let mut line = Vec::new();
    let mut cancelled = false;
    loop {
        if cancel.is_cancelled() {
            let _ = child.kill();
            cancelled = true;
            break;
        }
        let n = match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\r' || b == b'\n' {
                if let Some(f) = parse_progress(&String::from_utf8_lossy(&line)) {
                    progress(f);
                }
                line.clear();
            } else {
                line.push(b);
            }
        }
    }
    let status = child.wait().map_err(|e| failure("wait", "", &e.to_string()))?;
    let err = err_reader.join().unwrap_or_default();
    if cancelled {
        return Err(ApiError::new("TASK_CANCELLED", [""]));
    }
    if !status.success() {
        return Err(failure(status.code().map(|c| c.to_string()).unwrap_or_else(|| "signal".into()), "", &err));
    }
    progress(1.0);
    Ok(())
}

fn parse_progress(s: &str) -> Option<f64> {
    let inner = s.trim().strip_prefix('(')?.split('/').next()?;
    inner.trim().parse::<f64>().ok().map(|p| p / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_and_progress() {
        let i = parse_info(r#"{"virtual-size": 1073741824, "filename": "a.qcow2", "format": "qcow2", "actual-size": 200704, "backing-filename": ".base-x.qcow2"}"#).unwrap();
        assert_eq!(i, Info { format: "qcow2".into(), virtual_size: 1 << 30, actual_size: 200704, backing: Some(".base-x.qcow2".into()) });
        assert_eq!(parse_progress("    (45.50/100%)"), Some(0.455));
        assert_eq!(parse_progress("garbage"), None);
        assert_eq!(parse_info("not json").unwrap_err().code, "SR_BACKEND_FAILURE");
    }

    #[test]
    fn creates_resizes_and_converts_real_images() {
        if !available() {
            eprintln!("qemu-img missing: skipped");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.qcow2");
        create(&a, "qcow2", 1 << 20, None).unwrap();
        assert_eq!(info(&a, None).unwrap().virtual_size, 1 << 20);
        resize(&a, "qcow2", 2 << 20).unwrap();
        assert_eq!(info(&a, Some("qcow2")).unwrap().virtual_size, 2 << 20);
        let b = d.path().join("b.raw");
        let mut seen = vec![];
        convert(&a, "qcow2", &b, "raw", false, &Cancel::default(), |f| seen.push(f)).unwrap();
        assert_eq!(seen.last(), Some(&1.0));
        assert_eq!(std::fs::metadata(&b).unwrap().len(), 2 << 20);
        let e = info(&d.path().join("nope"), None).unwrap_err();
        assert_eq!(e.code, "SR_BACKEND_FAILURE");
        assert_eq!(e.params.len(), 3);
    }
}
