//! Private copies of module libraries: each library is copied into a folder only the server
//! may write (`loaded-modules/` beside the database, mode 0700), named by the SHA-256 of
//! its contents (and the original's path), and that copy is what gets opened. Replacing or rewriting the file in
//! `plugins_dir` while the server runs (the deploy step "copy into plugins_dir") then never
//! touches mapped code, which would crash the process; the change is noticed
//! ([`super::file_watch`]) and a restart loads the new file.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::Config;

/// The name of the folder of private copies, beside the database file.
pub(crate) const FOLDER: &str = "loaded-modules";

/// What identifies the version of a file on disk: a copy over it changes the size or the
/// modification time, a rename over it the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    /// The stamp of `path` now.
    pub(crate) fn of(path: &Path) -> std::io::Result<Stamp> {
        let m = std::fs::metadata(path)?;
        Ok(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }
}

/// A module library's private copy.
pub(crate) struct PrivateCopy {
    /// The copy to open.
    pub(crate) path: PathBuf,
    /// SHA-256 of the contents (lowercase hex).
    pub(crate) sha256: String,
    /// The original file as it was when copied.
    pub(crate) stamp: Stamp,
}

/// The folder of private copies for `config`.
pub(crate) fn folder(config: &Config) -> PathBuf {
    let data = config.database.data_dir(&config.file);
    data.join(FOLDER)
}

/// Create `dir` if needed and make it the server's alone (0700): a folder others may
/// write would let them swap a copy before it is opened. A folder owned by another user is
/// refused (its owner could change the mode back).
fn private_folder(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| e.to_string())
        .and_then(|()| owned_by_us(dir))
        .map_err(|e| {
            format!(
                "cannot prepare the private module folder {}: {e}",
                dir.display()
            )
        })?;
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o777 == 0o700 {
                return Ok(());
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        })
        .map_err(|e| {
            format!(
                "cannot prepare the private module folder {}: {e}",
                dir.display()
            )
        })
}

/// Whether `dir` belongs to the server's own user: a file the server creates in it tells
/// whose that is.
fn owned_by_us(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(format!(".owner-probe-{}", std::process::id()));
    let ours = std::fs::write(&probe, b"")
        .and_then(|()| std::fs::metadata(&probe))
        .map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    let ours = ours.map_err(|e| e.to_string())?;
    let owner = std::fs::metadata(dir).map_err(|e| e.to_string())?.uid();
    if owner == ours {
        Ok(())
    } else {
        Err(format!(
            "it is owned by uid {owner}, not by the server's user (uid {ours}); remove it"
        ))
    }
}

/// Copy `original` (the module `name`) into `dir` under its content hash, checking the
/// contents copied against `pin` (a `sha256:` pin). The copy is written beside its final
/// name and renamed into place, so a half-written copy is never opened.
pub(crate) fn install(
    dir: &Path,
    original: &Path,
    name: &str,
    pin: Option<&str>,
) -> Result<PrivateCopy, String> {
    let cannot_read = |e: std::io::Error| format!("cannot read {}: {e}", original.display());
    let stamp = Stamp::of(original).map_err(cannot_read)?;
    let bytes = std::fs::read(original).map_err(cannot_read)?;
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(pin) = pin.filter(|pin| *pin != sha256) {
        return Err(format!(
            "{} does not match its sha256 pin: expected {pin}, found {sha256}; refusing to load it",
            original.display()
        ));
    }
    let path = match place(dir, original, name, &sha256, &bytes) {
        Ok(path) => path,
        Err(e) => {
            // `check-config` run by another user than the server's, say. Loading in place is
            // what modhost did before copies: no worse, and said out loud.
            tracing::warn!(
                module = name,
                error = %e,
                "cannot make a private copy of the module; loading its file in place \
                 (replacing that file while the server runs would crash it)"
            );
            original.to_path_buf()
        }
    };
    Ok(PrivateCopy {
        path,
        sha256,
        stamp,
    })
}

/// Put a copy of `bytes` (the contents of `original`, the module `name`, hashing to
/// `sha256`) into the private folder `dir`, unless it is there already; its path.
fn place(
    dir: &Path,
    original: &Path,
    name: &str,
    sha256: &str,
    bytes: &[u8],
) -> Result<PathBuf, String> {
    private_folder(dir)?;
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // The original's path is part of the name too: two files with the same contents loaded
    // by two servers of one process (or two entries) must stay two libraries, each with its
    // own statics, as they would be without copies.
    let origin: String = Sha256::digest(original.as_os_str().as_encoded_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join(format!("{sha256}-{safe_name}-{origin}.so"));
    let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
    if !present {
        write_copy(&path, bytes)
            .map_err(|e| format!("cannot copy the module to {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// Write `bytes` to a temporary file beside `path`, flush it to disk, make it read-only and
/// rename it to `path`.
fn write_copy(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("so.{}.{n}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o500))?;
    std::fs::rename(&tmp, path)
}

/// Remove every file of `dir` that is not in `keep` (copies of modules no longer
/// configured, or of older versions; left-over temporary files). A copy still mapped by a
/// running process is unaffected by its removal.
pub(crate) fn remove_stale(dir: &Path, keep: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if keep.contains(&path) || !path.is_file() {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(file = %path.display(), "removed an old module copy"),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove an old module copy")
            }
        }
    }
}
