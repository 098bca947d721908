//! Debian packages some client-library tests need at run time (Chromium for the browser test,
//! libmagic for matrix-commander), installed by the tests themselves on first use, like the
//! Python and npm environments: a fresh machine runs `cargo test --workspace` with nothing
//! installed by hand.
//!
//! Installing needs root (CI and this project's machines run as root); otherwise, and when
//! the package archive cannot be reached, the test fails with one sentence naming the
//! package and the command to install it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::client_env::output_within;

/// How long `apt-get update` or `apt-get install` may take.
const APT_LIMIT: Duration = Duration::from_secs(900);

/// Make sure the Debian package `package` is there, as judged by `present()`; when it is not,
/// install it with `apt-get` (once, whichever test binary gets there first: a lock file under
/// `target/e2e` serialises them). `purpose` names what needs it, for the error sentence.
pub fn ensure(package: &str, purpose: &str, present: impl Fn() -> bool) -> Result<(), String> {
    if present() {
        return Ok(());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = File::create(dir.join("apt.lock"))
        .map_err(|e| format!("cannot create {}/apt.lock: {e}", dir.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}/apt.lock: {e}", dir.display()))?;
    if present() {
        return Ok(());
    }
    let by_hand = format!(
        "{purpose} needs the Debian package {package}, which is not installed; install it \
         with `apt-get install -y {package}`"
    );
    if !is_root() {
        return Err(format!(
            "{by_hand} (the tests install it themselves only when run as root)"
        ));
    }
    eprintln!("installing the Debian package {package} for {purpose}");
    for args in [
        &["update", "-qq"][..],
        &["install", "-y", "-qq", package][..],
    ] {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let out = output_within(&mut cmd, APT_LIMIT, &format!("apt-get {}", args[0]))
            .map_err(|e| format!("{by_hand}: {e}"))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let last = said
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!(
                "{by_hand}: `apt-get {}` failed (is the Debian archive reachable?): {last}",
                args.join(" ")
            ));
        }
    }
    if present() {
        Ok(())
    } else {
        Err(format!(
            "{by_hand}: apt-get installed it, yet it is still not found"
        ))
    }
}

/// `name` on `PATH`, if there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether the shared library `soname` (e.g. `libmagic.so.1`) is known to the dynamic linker.
pub fn has_library(soname: &str) -> bool {
    Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{soname} ")))
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}
