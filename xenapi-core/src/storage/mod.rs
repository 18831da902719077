//! Storage on this host: SR drivers behind [`Driver`] (`file`: a directory of qcow2/raw disk
//! images; `iso`: a read-only directory of ISO files) and the `qemu-img` wrapper they use.
//!
//! Drivers only touch files; the API modules (`api/sr.rs`, `api/vdi.rs`) keep the records.
//! Order of work for durability: files are made before their records are committed and removed
//! after their records are gone, so a crash leaves at worst an orphan image file, which
//! `SR.scan` adopts as a new VDI (or, for an internal `.base-*` file, deletes when nothing uses it).

mod file;
mod iso;
pub mod qemu_img;

use crate::error::ApiError;
use std::path::Path;

/// One image file of an SR.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// File name inside the SR directory (the VDI's `location`).
    pub file: String,
    pub format: String,
    pub virtual_size: i64,
    /// Bytes this file occupies on disk.
    pub physical: i64,
}

/// Size and free space of the filesystem holding an SR (bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    pub size: i64,
    pub free: i64,
}

pub fn fs_stats(dir: &Path) -> Result<FsStats, ApiError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|e| ApiError::internal(e))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statvfs that outlives the call.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(qemu_img::failure("statvfs", "", &format!("{}: {e}", dir.display())));
    }
    let frsize = st.f_frsize as i64;
    Ok(FsStats { size: st.f_blocks as i64 * frsize, free: st.f_bavail as i64 * frsize })
}

/// Bytes a file occupies on disk (sparse regions not counted).
pub fn allocated(path: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| m.blocks() as i64 * 512).unwrap_or(0)
}

/// Bytes every file of a directory occupies (hidden base images included).
pub fn dir_usage(dir: &Path) -> i64 {
    std::fs::read_dir(dir)
        .map(|it| it.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_file())).map(|e| allocated(&e.path())).sum())
        .unwrap_or(0)
}

/// What an SR type can do. Methods that change images are only called on writable drivers.
pub trait Driver: Sync {
    fn name(&self) -> &'static str;
    /// `content_type` of SRs of this type.
    fn content_type(&self) -> &'static str;
    fn writable(&self) -> bool;
    /// The type of the VDIs `scan` finds.
    fn vdi_type(&self) -> &'static str;
    /// Whether a VDI's image exists (cheap: a stat).
    fn exists(&self, dir: &Path, file: &str) -> bool {
        dir.join(file).is_file()
    }
    /// Every image in the directory; hidden files (`.base-*`, `.tmp-*`) are not images.
    fn scan(&self, dir: &Path) -> Result<Vec<Image>, ApiError>;
    /// Re-reads one image.
    fn stat(&self, dir: &Path, file: &str) -> Result<Image, ApiError>;
    fn create(&self, dir: &Path, uuid: &str, format: &str, size: i64) -> Result<Image, ApiError>;
    fn resize(&self, dir: &Path, img: &Image, size: i64) -> Result<Image, ApiError>;
    /// A fast copy of `img` named after `new_uuid`, sharing unchanged data with it; `img` may be
    /// changed under the same name to make that possible. Returns (img again, the copy).
    fn fast_clone(&self, dir: &Path, img: &Image, new_uuid: &str) -> Result<(Image, Image), ApiError>;
    fn delete(&self, dir: &Path, file: &str) -> Result<(), ApiError>;
    /// Deletes internal files nothing refers to any more.
    fn collect_garbage(&self, _dir: &Path) {}
}

/// The driver of an SR type, if this host knows it.
pub fn driver(sr_type: &str) -> Option<&'static dyn Driver> {
    match sr_type {
        "file" => Some(&file::FileSr),
        "iso" => Some(&iso::IsoSr),
        _ => None,
    }
}

pub const SUPPORTED_TYPES: &[&str] = &["file", "iso"];

/// The file name of a new VDI's image.
pub fn image_name(uuid: &str, format: &str) -> String {
    format!("{uuid}.{format}")
}

/// Format of an image from its file name; `None` when the name is not an image's.
pub fn format_of(file: &str) -> Option<&'static str> {
    if file.starts_with('.') {
        return None;
    }
    match file.rsplit_once('.')?.1 {
        "qcow2" => Some("qcow2"),
        "raw" | "img" => Some("raw"),
        "iso" => Some("raw"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names_and_fs_stats() {
        assert_eq!(format_of("a.qcow2"), Some("qcow2"));
        assert_eq!(format_of("disk.img"), Some("raw"));
        assert_eq!(format_of(".base-x.qcow2"), None);
        assert_eq!(format_of("notes.txt"), None);
        let s = fs_stats(Path::new("/")).unwrap();
        assert!(s.size > 0 && s.free <= s.size);
        assert!(fs_stats(Path::new("/does/not/exist")).is_err());
    }
}
