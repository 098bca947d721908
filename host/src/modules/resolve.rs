//! From a `module:` value to a library file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, ModuleEntry};

/// Identifies a file independently of the path used to reach it (symlinks, hard links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

pub(crate) struct Resolved {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) id: FileId,
}

fn is_path(module: &str) -> bool {
    module.contains('/') || module.ends_with(".so")
}

/// A bare name `x` means `<plugins_dir>/libx.so`; anything path-like is a file, relative to the
/// config file's directory.
pub(crate) fn resolve(config: &Config, entry: &ModuleEntry) -> Result<Resolved, String> {
    let module = entry.module.trim();
    let path = if is_path(module) {
        let base = config.file.parent().unwrap_or(Path::new("."));
        let path = base.join(module);
        if !path.exists() {
            return Err(format!("module file {} does not exist", path.display()));
        }
        path
    } else {
        let path = config.plugins_dir.join(format!("lib{module}.so"));
        if !path.exists() {
            return Err(unknown_name(module, &config.plugins_dir));
        }
        path
    };
    let path = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let meta =
        std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    check_not_world_writable(&path)?;
    // A `sha256:` pin is checked against the bytes copied (private_copy::install).
    Ok(Resolved {
        name: display_name(&path),
        id: FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        },
        path,
    })
}

/// Like sshd with keys: a library, or any folder above it, that any local user may write
/// could be swapped for other code (a writable ancestor lets them rename the folders below
/// it). Refuse it and say how to fix it.
fn check_not_world_writable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for place in path.ancestors() {
        let mode = std::fs::metadata(place)
            .map_err(|e| format!("cannot read {}: {e}", place.display()))?
            .permissions()
            .mode();
        // World-writable without the sticky bit (a sticky /tmp-like folder is fine).
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(format!(
                "{} is writable by every user, so anyone could replace the module's code; \
                 fix it with: chmod o-w {}",
                place.display(),
                place.display()
            ));
        }
    }
    Ok(())
}

/// `libdemo.so` → `demo`.
fn display_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("module");
    let stem = stem.split('.').next().unwrap_or(stem);
    stem.strip_prefix("lib").unwrap_or(stem).to_string()
}

fn unknown_name(module: &str, dir: &Path) -> String {
    let mut available: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_prefix("lib")?.strip_suffix(".so")?;
            Some(stem.to_string())
        })
        .collect();
    available.sort();
    let listing = if available.is_empty() {
        "it holds no modules".to_string()
    } else {
        format!("available: {}", available.join(", "))
    };
    format!(
        "unknown module {module:?}: no lib{module}.so in plugins_dir {} ({listing})",
        dir.display()
    )
}
