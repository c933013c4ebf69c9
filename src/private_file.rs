//! Files that hold secrets or audit data (a kubeconfig with tokens, the journal): created
//! readable and writable by their owner only (0600), from the first byte on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The mode of every private file.
pub const MODE: u32 = 0o600;

/// Creates `path`, which must not exist yet, with mode 0600.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .open(path)
}

/// Replaces `path` with `bytes` through a new 0600 file beside it and a rename, so the content is
/// never readable by others, even when `path` existed with wider permissions, and a reader sees
/// either the old file or the whole new one. A symlink at `path` is replaced, not followed.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (temporary, mut file) = temporary_beside(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// A new 0600 file in `path`'s directory, named after it.
fn temporary_beside(path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut attempt = 0u32;
    loop {
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".{}.{attempt}.tmp", std::process::id()));
        let temporary = dir.join(temporary_name);
        match create_new(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            // Left over from a run that was killed mid-write.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replacing_a_world_readable_file_leaves_a_private_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_replacing(&path, b"token: secret").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "token: secret");
        assert_eq!(mode(&path), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_symlink_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "untouched").unwrap();
        let link = dir.path().join("kubeconfig");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_replacing(&link, b"token: secret").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(mode(&link), 0o600);
    }

    #[test]
    fn new_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        create_new(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(create_new(&path).is_err(), "an existing file is not reused");
    }
}
