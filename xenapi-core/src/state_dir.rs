//! Who may read the state directory: only the user the server runs as.
//!
//! The directory holds the user database (password hashes, session references), the TLS key, the
//! providers' service-account password, the generated root password, and guests' disk and
//! suspend images. Anything readable by other local users there is a leak (a session reference
//! in `xapi.db` is as good as a password until it expires), so the directory is 0700 and every
//! file in it 0600, whatever the umask of whoever started the server:
//!
//! - the binary sets the process umask to 0077 before anything is created ([`private_umask`]), so
//!   files made by code that does not choose a mode (SQLite's `-wal` and `-shm`, the broker's
//!   files, `qemu-img` run as a child) are private too;
//! - the core's own files are created with an explicit 0600 ([`create_private`]), which holds
//!   even for a library user that keeps its umask (SQLite gives its `-wal` and `-shm` files the
//!   mode of the database file, which [`crate::store`] creates 0600 first);
//! - a directory made by an older version (0755 with 0644 files) is tightened at start
//!   ([`prepare`]), with one log line saying how many entries changed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The state directory and every directory under it.
pub const DIR_MODE: u32 = 0o700;
/// Every file the server writes in the state directory.
pub const FILE_MODE: u32 = 0o600;

/// How deep [`prepare`] looks (the layout is `sr/<uuid>/<image>`; deeper trees are not ours).
const MAX_DEPTH: usize = 6;

/// Makes everything this process (and the programs it runs) creates from now on private to its
/// user. Process-wide: call it early in the binary, not from library code.
pub fn private_umask() {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates the state directory (0700, with any missing parents) or, when it exists, removes the
/// group and other permissions from it and from what is in it. Refuses a directory that others
/// may write into (a sticky world-writable one such as /tmp), which cannot be made private.
pub fn prepare(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(|e| format!("cannot create state directory {}: {e}", dir.display()));
        }
        Err(e) => return Err(format!("cannot read state directory {}: {e}", dir.display())),
        Ok(_) => {}
    }
    // The directory itself may be a symlink to the real one; its target is what gets checked.
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read state directory {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("the state directory {} is not a directory", dir.display()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o1000 != 0 || mode & 0o002 != 0 {
        return Err(format!(
            "the state directory {} is shared with other users (mode {mode:o}); choose a directory of its own",
            dir.display()
        ));
    }
    // SAFETY: geteuid has no preconditions.
    if meta.uid() != unsafe { libc::geteuid() } && mode & 0o077 != 0 {
        tracing::warn!("the state directory {} belongs to another user and is open to others (mode {mode:o}); only its owner can restrict it", dir.display());
    }
    let mut changed = 0usize;
    tighten(dir, &meta, true, &mut changed).map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    tighten_tree(dir, 0, &mut changed);
    if changed > 0 {
        tracing::info!(
            "restricted {changed} entries of the state directory {} to its owner (directories 0700, files 0600; an older xencim left them readable by others)",
            dir.display()
        );
    }
    Ok(())
}

/// Removes group and other permissions from one entry owned by this process's user.
fn tighten(path: &Path, meta: &std::fs::Metadata, is_dir: bool, changed: &mut usize) -> std::io::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if meta.uid() != unsafe { libc::geteuid() } {
        return Ok(()); // not ours to change (and chmod would fail for a non-root server)
    }
    let mode = meta.mode() & 0o7777;
    let private = mode & !0o077 & !0o7000;
    let wanted = if is_dir { private | DIR_MODE } else { private };
    if wanted != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        *changed += 1;
    }
    Ok(())
}

/// The entries under `dir`, without following symbolic links (a link may point anywhere: an ISO
/// library, say, which is not the server's to restrict). An entry that cannot be changed is
/// reported and skipped: the server still starts.
fn tighten_tree(dir: &Path, depth: usize, changed: &mut usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let ft = meta.file_type();
        if ft.is_symlink() {
            continue;
        }
        if let Err(e) = tighten(&path, &meta, ft.is_dir(), changed) {
            tracing::warn!("cannot restrict {}: {e}", path.display());
        }
        if ft.is_dir() {
            tighten_tree(&path, depth + 1, changed);
        }
    }
}

/// Opens `path` for writing, created 0600 (an existing file is truncated and keeps its mode,
/// which [`prepare`] has tightened).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)
}

/// Writes `content` to `path`, a file only its owner can read.
pub fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    create_private(path)?.write_all(content)
}

/// Creates a directory (and missing parents) 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_is_private() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/state");
        prepare(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        write_private(&d.join("f"), b"x").unwrap();
        assert_eq!(mode(&d.join("f")), 0o600);
    }

    #[test]
    fn an_old_directory_is_tightened_and_links_are_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("state");
        let outside = t.path().join("iso-library");
        std::fs::create_dir_all(d.join("sr/u1")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(d.join("xapi.db"), b"").unwrap();
        std::fs::write(d.join("sr/u1/disk.img"), b"").unwrap();
        std::os::unix::fs::symlink(&outside, d.join("iso")).unwrap();
        for (p, m) in [(&d, 0o755), (&d.join("sr"), 0o755), (&d.join("sr/u1"), 0o755), (&outside, 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        for p in [d.join("xapi.db"), d.join("sr/u1/disk.img")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("sr")), 0o700);
        assert_eq!(mode(&d.join("sr/u1")), 0o700);
        assert_eq!(mode(&d.join("xapi.db")), 0o600);
        assert_eq!(mode(&d.join("sr/u1/disk.img")), 0o600);
        assert_eq!(mode(&outside), 0o755, "a symlink's target is not the server's to change");
    }

    #[test]
    fn a_shared_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = prepare(t.path()).unwrap_err();
        assert!(e.contains("shared"), "{e}");
    }
}
