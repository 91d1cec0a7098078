//! `save PATH`: replace a regular file atomically, whatever PATH names (issue 14 item 1).
//!
//! * A symlink is followed (to its final target, dangling or not): the **target** is replaced,
//!   and the temporary file lives in the target's directory, so the `rename(2)` stays on one
//!   file system and is atomic. The link itself is left as it was.
//! * Anything that exists and is not a regular file (directory, FIFO, socket, character or
//!   block device) is refused: `save /dev/null` as root must not replace the machine's
//!   `/dev/null` with a regular file.
//! * An existing file keeps its permission bits and its owner and group (the temporary file
//!   gets them before the rename; if the owner cannot be set, nothing is replaced).
//! * SIGINT / SIGTERM while the temporary file exists remove it, then the signal takes its
//!   default action (the process ends as it would have).

use std::ffi::CString;
use std::io::{Error, ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Symlink hops before giving up, as the kernel's `MAXSYMLINKS` (40).
const MAX_HOPS: usize = 40;

/// Follow `path` through symlinks to the name that will be replaced.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_HOPS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(link)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::other(format!(
        "more than {MAX_HOPS} levels of symbolic links"
    )))
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// The temporary file's name for the signal handler (a leaked `CString`; null when none).
static TMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_signal(sig: libc::c_int) {
    let p = TMP.swap(std::ptr::null_mut(), Ordering::SeqCst);
    // SAFETY: unlink, signal and raise are async-signal-safe; `p` is a valid C string leaked
    // by `Guard::new` (never freed while it can be observed here).
    unsafe {
        if !p.is_null() {
            libc::unlink(p);
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// While alive: SIGINT/SIGTERM remove the temporary file. Dropping it restores the handlers.
struct Guard {
    old: [(libc::c_int, libc::sigaction); 2],
    name: *mut libc::c_char,
}

impl Guard {
    fn new(tmp: &Path) -> Guard {
        let name = CString::new(tmp.as_os_str().as_bytes())
            .unwrap_or_default()
            .into_raw();
        TMP.store(name, Ordering::SeqCst);
        let mut old = [
            (libc::SIGINT, unsafe { std::mem::zeroed() }),
            (libc::SIGTERM, unsafe { std::mem::zeroed() }),
        ];
        for (sig, prev) in old.iter_mut() {
            // SAFETY: a zeroed sigaction with a handler and an empty mask is valid.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(*sig, &act, prev);
            }
        }
        Guard { old, name }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restoring the sigaction saved in `new`.
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
        TMP.store(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: `name` came from `CString::into_raw` and the handler no longer sees it.
        drop(unsafe { CString::from_raw(self.name) });
    }
}

/// Write `bytes` to `path` atomically (module doc). A failure leaves `path` as it was and no
/// temporary file behind.
pub fn save_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = resolve(path)?;
    let existing = match std::fs::metadata(&target) {
        Ok(m) => {
            if !m.file_type().is_file() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} is {}: save writes regular files only",
                        target.display(),
                        kind_of(m.file_type())
                    ),
                ));
            }
            Some(m)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let guard = Guard::new(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some(m) = &existing {
            let cur = f.metadata()?;
            if (cur.uid(), cur.gid()) != (m.uid(), m.gid()) {
                std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid())).map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!(
                            "cannot keep the owner {}:{} of {}: {e}",
                            m.uid(),
                            m.gid(),
                            target.display()
                        ),
                    )
                })?;
            }
            f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drop(guard);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_target_is_replaced_and_the_link_kept() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("real");
        std::fs::create_dir(&sub).unwrap();
        let target = sub.join("t.iomem");
        std::fs::write(&target, "old\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink("real/t.iomem", &link).unwrap();
        save_atomic(&link, b"new\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(&sub).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn non_regular_files_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = save_atomic(d.path(), b"x").unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let e = save_atomic(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
    }
}
