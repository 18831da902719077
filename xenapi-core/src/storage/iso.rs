//! `iso` SRs: a directory of ISO files someone else manages. Read-only: VDIs are the files,
//! found by `SR.scan`, of type `user`, for CD drives.

use super::{allocated, Driver, Image};
use crate::error::ApiError;
use std::path::Path;

pub struct IsoSr;

fn not_supported() -> ApiError {
    ApiError::new("SR_OPERATION_NOT_SUPPORTED", [""])
}

impl Driver for IsoSr {
    fn name(&self) -> &'static str {
        "iso"
    }
    fn content_type(&self) -> &'static str {
        "iso"
    }
    fn writable(&self) -> bool {
        false
    }
    fn vdi_type(&self) -> &'static str {
        "user"
    }
    fn scan(&self, dir: &Path) -> Result<Vec<Image>, ApiError> {
        let rd = std::fs::read_dir(dir).map_err(|e| super::qemu_img::failure("readdir", "", &format!("{}: {e}", dir.display())))?;
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.to_ascii_lowercase().ends_with(".iso") {
                continue;
            }
            if let Ok(img) = self.stat(dir, &name) {
                out.push(img);
            }
        }
        out.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(out)
    }
    fn stat(&self, dir: &Path, file: &str) -> Result<Image, ApiError> {
        let path = dir.join(file);
        let m = std::fs::metadata(&path).map_err(|e| super::qemu_img::failure("stat", "", &format!("{}: {e}", path.display())))?;
        Ok(Image { file: file.to_string(), format: "raw".into(), virtual_size: m.len() as i64, physical: allocated(&path) })
    }
    fn create(&self, _: &Path, _: &str, _: &str, _: i64) -> Result<Image, ApiError> {
        Err(not_supported())
    }
    fn resize(&self, _: &Path, _: &Image, _: i64) -> Result<Image, ApiError> {
        Err(not_supported())
    }
    fn fast_clone(&self, _: &Path, _: &Image, _: &str) -> Result<(Image, Image), ApiError> {
        Err(not_supported())
    }
    fn delete(&self, _: &Path, _: &str) -> Result<(), ApiError> {
        Err(not_supported())
    }
}
