//! `file` SRs: a local directory of disk images, one file per VDI (`<uuid>.qcow2` by default,
//! `<uuid>.raw` on request), made and changed with `qemu-img`.
//!
//! Fast clones and snapshots of qcow2 images share data through hidden base images: the
//! source's data gets a second name `.base-<uuid>.qcow2` (a hard link, so nothing is copied),
//! then two thin overlays of that base take the source's name and the new VDI's name. The
//! source's name is replaced by a rename, so it always names a complete image. Bases nothing
//! refers to any more are deleted by `collect_garbage`. Raw images are copied in full.

use super::{allocated, format_of, image_name, qemu_img, Driver, Image};
use crate::backend::Cancel;
use crate::error::ApiError;
use std::path::Path;

pub struct FileSr;

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> ApiError {
    qemu_img::failure(what, "", &format!("{}: {e}", path.display()))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Driver for FileSr {
    fn name(&self) -> &'static str {
        "file"
    }
    fn content_type(&self) -> &'static str {
        "user"
    }
    fn writable(&self) -> bool {
        true
    }
    fn vdi_type(&self) -> &'static str {
        "user"
    }

    fn scan(&self, dir: &Path) -> Result<Vec<Image>, ApiError> {
        let rd = std::fs::read_dir(dir).map_err(|e| io_failure("readdir", dir, e))?;
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if format_of(&name).is_none() || !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            match self.stat(dir, &name) {
                Ok(img) => out.push(img),
                Err(err) => tracing::warn!(file = %name, error = %err, "SR scan: not a readable image, skipped"),
            }
        }
        out.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(out)
    }

    fn stat(&self, dir: &Path, file: &str) -> Result<Image, ApiError> {
        let path = dir.join(file);
        let format = format_of(file).unwrap_or("raw");
        let info = qemu_img::info(&path, Some(format))?;
        Ok(Image { file: file.to_string(), format: info.format, virtual_size: info.virtual_size, physical: allocated(&path) })
    }

    fn create(&self, dir: &Path, uuid: &str, format: &str, size: i64) -> Result<Image, ApiError> {
        let file = image_name(uuid, format);
        qemu_img::create(&dir.join(&file), format, size, None)?;
        sync_dir(dir);
        self.stat(dir, &file)
    }

    fn resize(&self, dir: &Path, img: &Image, size: i64) -> Result<Image, ApiError> {
        qemu_img::resize(&dir.join(&img.file), &img.format, size)?;
        self.stat(dir, &img.file)
    }

    fn fast_clone(&self, dir: &Path, img: &Image, new_uuid: &str) -> Result<(Image, Image), ApiError> {
        let src = dir.join(&img.file);
        if img.format != "qcow2" {
            let file = image_name(new_uuid, &img.format);
            let dst = dir.join(&file);
            qemu_img::convert(&src, &img.format, &dst, &img.format, false, &Cancel::default(), |_| {})?;
            sync_dir(dir);
            return Ok((img.clone(), self.stat(dir, &file)?));
        }
        let base = format!(".base-{}.qcow2", uuid::Uuid::new_v4());
        let tmp = dir.join(format!(".tmp-{}.qcow2", uuid::Uuid::new_v4()));
        let file = image_name(new_uuid, "qcow2");
        let dst = dir.join(&file);
        let undo = |paths: &[&Path]| {
            for p in paths {
                let _ = std::fs::remove_file(p);
            }
        };
        qemu_img::create(&tmp, "qcow2", img.virtual_size, Some((&base, "qcow2")))?;
        if let Err(e) = qemu_img::create(&dst, "qcow2", img.virtual_size, Some((&base, "qcow2"))) {
            undo(&[&tmp]);
            return Err(e);
        }
        if let Err(e) = std::fs::hard_link(&src, dir.join(&base)) {
            undo(&[&tmp, &dst]);
            return Err(io_failure("link", &src, e));
        }
        if let Err(e) = std::fs::rename(&tmp, &src) {
            undo(&[&tmp, &dst, &dir.join(&base)]);
            return Err(io_failure("rename", &src, e));
        }
        sync_dir(dir);
        Ok((self.stat(dir, &img.file)?, self.stat(dir, &file)?))
    }

    fn delete(&self, dir: &Path, file: &str) -> Result<(), ApiError> {
        let path = dir.join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(dir);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_failure("unlink", &path, e)),
        }
    }

    fn collect_garbage(&self, dir: &Path) {
        loop {
            let Ok(rd) = std::fs::read_dir(dir) else { return };
            let names: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            let mut used = std::collections::HashSet::new();
            for n in &names {
                let fmt = if n.ends_with(".qcow2") { "qcow2" } else { continue };
                match qemu_img::info(&dir.join(n), Some(fmt)) {
                    Ok(i) => {
                        if let Some(b) = i.backing {
                            used.insert(b);
                        }
                    }
                    // Unreadable: keep everything, better an orphan than a broken chain.
                    Err(_) => return,
                }
            }
            let unused: Vec<&String> = names.iter().filter(|n| n.starts_with(".base-") && !used.contains(*n)).collect();
            if unused.is_empty() {
                return;
            }
            for n in unused {
                let _ = std::fs::remove_file(dir.join(n));
            }
            sync_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_clone_shares_data_and_garbage_goes_with_the_last_user() {
        if !qemu_img::available() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let sr = FileSr;
        let a = sr.create(d.path(), "a", "qcow2", 4 << 20).unwrap();
        assert_eq!(a.file, "a.qcow2");
        assert_eq!(a.virtual_size, 4 << 20);
        let (a2, b) = sr.fast_clone(d.path(), &a, "b").unwrap();
        assert_eq!((a2.virtual_size, b.virtual_size), (4 << 20, 4 << 20));
        assert_eq!(sr.scan(d.path()).unwrap().iter().map(|i| i.file.as_str()).collect::<Vec<_>>(), ["a.qcow2", "b.qcow2"]);
        let bases = || std::fs::read_dir(d.path()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".base-")).count();
        assert_eq!(bases(), 1);
        sr.delete(d.path(), "a.qcow2").unwrap();
        sr.collect_garbage(d.path());
        assert_eq!(bases(), 1, "b still needs the base");
        sr.delete(d.path(), "b.qcow2").unwrap();
        sr.collect_garbage(d.path());
        assert_eq!(bases(), 0);
    }
}
