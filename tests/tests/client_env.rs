//! The client-library environments say in one sentence what is wrong when they cannot be
//! made: no package registry, no `python3-venv`.

use std::path::Path;

use modhost_tests::client_env::{npm_env, python_env};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A registry address on which nothing listens (port 9, discard, closed on loopback).
const NOWHERE: &str = "http://127.0.0.1:9/";

#[test]
fn an_unreachable_python_registry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let requirements = Path::new(ROOT).join("tests/e2e/requirements.txt");
    let err = python_env(
        &dir.path().join("venv"),
        &requirements,
        &[
            ("PIP_INDEX_URL", &format!("{NOWHERE}simple")),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
            ("PIP_NO_CACHE_DIR", "1"),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("tests/e2e/requirements.txt into")
            && err.contains(
                "is the Python package registry (PyPI) reachable from this machine? pip said:"
            ),
        "{err}"
    );
    assert!(!err.contains('\n'), "one sentence: {err}");
    assert!(
        !dir.path().join("venv").exists(),
        "no half-made environment is kept"
    );
}

#[test]
fn an_unreachable_npm_registry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("empty-cache");
    let err = npm_env(
        &dir.path().join("js"),
        &Path::new(ROOT).join("tests/e2e/js"),
        &[
            ("npm_config_registry", NOWHERE),
            ("npm_config_cache", cache.to_str().unwrap()),
            ("npm_config_fetch_retries", "0"),
            ("npm_config_offline", "false"),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("package-lock.json with npm ci: is the npm registry reachable from this machine? npm said:"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one sentence: {err}");
    assert!(
        !dir.path().join("js/node_modules").exists(),
        "no half-made environment is kept"
    );
}

/// Debian's python3 without the python3-venv package cannot make environments; the message
/// names the package. Simulated with a `python3` that answers as Debian's does.
#[test]
fn a_missing_python3_venv_package_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("python3");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'The virtual environment was not created successfully because ensurepip is not'\n\
         echo 'available.  On Debian/Ubuntu systems, you need to install the python3-venv'\n\
         echo 'Failing command: /x/bin/python3'\nexit 1\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let err = python_env(
        &dir.path().join("venv"),
        &Path::new(ROOT).join("tests/e2e/requirements.txt"),
        &[("PATH", &path)],
    )
    .unwrap_err();
    assert!(
        err.starts_with("cannot create a Python virtual environment for the client-library tests: `python3 -m venv` needs the Debian/Ubuntu package python3-venv (apt install python3-venv)"),
        "{err}"
    );
}
