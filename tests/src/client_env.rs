//! Private environments for the client-library tests, made on first use under `target/` and
//! reused afterwards, the way the module libraries are built on first use: a Python virtual
//! environment with `tests/e2e/requirements.txt` (matrix-nio), and an `npm ci` of
//! `tests/e2e/js/` (matrix-js-sdk, pinned by its lockfile).
//!
//! Nothing is installed outside `target/`. An environment is rebuilt when its pin file
//! changes (a stamp holds the pin file's SHA-256). Test binaries running at once wait for one
//! another on a lock file. When something cannot be installed, the test fails with one
//! sentence saying what and why (no registry, no `python3-venv`, no `npm`).

use std::fs::File;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/e2e`, where the environments live.
fn env_root() -> PathBuf {
    workspace_root().join("target").join("e2e")
}

/// The Python interpreter of the private environment holding `tests/e2e/requirements.txt`,
/// made on first use. Panics with one sentence when it cannot be made.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements = workspace_root().join("tests/e2e/requirements.txt");
        python_env(&env_root().join("venv"), &requirements, &[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The `node_modules` folder of `tests/e2e/js/` after `npm ci`, made on first use. Panics
/// with one sentence when it cannot be made.
pub fn node_modules() -> &'static Path {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(|| {
        let project = workspace_root().join("tests/e2e/js");
        npm_env(&env_root().join("js"), &project, &[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// `tests/e2e/js/<name>` copied next to the installed `node_modules`, ready for `node`: ES
/// modules find packages only in `node_modules` folders above the importing file.
pub fn node_script(name: &str) -> PathBuf {
    let modules = node_modules();
    let dir = modules.parent().expect("node_modules has a parent");
    let to = dir.join(name);
    // Unique per copy: test threads of one process may copy the same file at once.
    static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = dir.join(format!(".{name}.{}.{n}", std::process::id()));
    std::fs::copy(workspace_root().join("tests/e2e/js").join(name), &partial)
        .and_then(|_| std::fs::rename(&partial, &to))
        .unwrap_or_else(|e| {
            panic!(
                "cannot copy tests/e2e/js/{name} into {}: {e}",
                dir.display()
            )
        });
    to
}

/// Make (or reuse) a virtual environment at `dir` with `requirements` installed; returns its
/// `python`. `env` is added to the environment of `python3 -m venv` and pip (tests use it
/// to point pip at a registry that does not answer). Errors are one sentence naming what to do.
pub fn python_env(
    dir: &Path,
    requirements: &Path,
    env: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let python = dir.join("bin").join("python");
    let pins = read(requirements)?;
    with_lock(dir, &pins, || {
        let fresh = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&fresh);
        let mut venv = Command::new("python3");
        venv.arg("-m")
            .arg("venv")
            .arg(&fresh)
            .envs(env.iter().copied());
        let out = run(&mut venv, "python3")?;
        if !out.status.success() {
            let said = last_line(&out);
            // Debian's python3 without python3-venv explains itself on stdout, naming ensurepip.
            let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
            return Err(if String::from_utf8_lossy(&all).contains("ensurepip") {
                format!(
                    "cannot create a Python virtual environment for the client-library tests: \
                     `python3 -m venv` needs the Debian/Ubuntu package python3-venv \
                     (apt install python3-venv); it said: {said}"
                )
            } else {
                format!("`python3 -m venv {}` failed: {said}", fresh.display())
            });
        }
        let mut pip = Command::new(fresh.join("bin").join("python"));
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("-r")
        .arg(requirements)
        .envs(env.iter().copied());
        let out = run(&mut pip, "pip")?;
        if !out.status.success() {
            return Err(format!(
                "cannot install {} into {}: is the Python package registry (PyPI) reachable \
                 from this machine? pip said: {}",
                requirements.display(),
                dir.display(),
                last_line(&out)
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&fresh, dir)
            .map_err(|e| format!("cannot move the environment into {}: {e}", dir.display()))
        // A venv records its own path in its scripts, but `bin/python -m pip` and plain
        // `bin/python` work from the renamed folder; only console scripts would not, and
        // the tests run modules with `python -m`.
    })?;
    Ok(python)
}

/// Make (or reuse) `npm ci` of the npm project `project` (its `package.json` and
/// `package-lock.json`) in `dir`; returns `dir/node_modules`. `env` is added to npm's
/// environment. Errors are one sentence naming what to do.
pub fn npm_env(dir: &Path, project: &Path, env: &[(&str, &str)]) -> Result<PathBuf, String> {
    let lock = project.join("package-lock.json");
    let pins = [read(&project.join("package.json"))?, read(&lock)?].concat();
    with_lock(dir, &pins, || {
        let fresh = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&fresh);
        std::fs::create_dir_all(&fresh)
            .map_err(|e| format!("cannot create {}: {e}", fresh.display()))?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(project.join(file), fresh.join(file))
                .map_err(|e| format!("cannot copy {file} into {}: {e}", fresh.display()))?;
        }
        let mut npm = Command::new("npm");
        npm.current_dir(&fresh)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .envs(env.iter().copied());
        let out = run(&mut npm, "npm (Node.js)")?;
        if !out.status.success() {
            return Err(format!(
                "cannot install {} with npm ci: is the npm registry reachable from this \
                 machine? npm said: {}",
                lock.display(),
                last_line(&out)
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&fresh, dir)
            .map_err(|e| format!("cannot move the packages into {}: {e}", dir.display()))
    })?;
    Ok(dir.join("node_modules"))
}

/// Run `make` unless `dir` was already made from the same `pins`, holding `dir.lock` so that
/// test binaries running at once make it only once.
fn with_lock(
    dir: &Path,
    pins: &[u8],
    make: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let parent = dir.parent().expect("environment folders have a parent");
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let lock = File::create(dir.with_extension("lock"))
        .map_err(|e| format!("cannot create a lock file next to {}: {e}", dir.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    let stamp = dir.with_extension("sha256");
    let want = hex(&Sha256::digest(pins));
    if dir.is_dir() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp);
    make()?;
    std::fs::write(&stamp, want).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    cmd.output()
        .map_err(|e| format!("cannot run {what} for the client-library tests ({e}): install it"))
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

/// The last non-empty line a command wrote to stderr (else stdout): usually the reason.
fn last_line(out: &Output) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    let stderr = text(&out.stderr);
    let source = if stderr.is_empty() {
        text(&out.stdout)
    } else {
        stderr
    };
    source
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(nothing)")
        .trim()
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `cmd` (standard input closed, output captured) for at most `limit`. A command still
/// running then is stopped — its whole process group, so a browser it started goes too — and
/// the error says so in one sentence naming `what`, followed by what it had written.
pub fn output_within(cmd: &mut Command, limit: Duration, what: &str) -> Result<Output, String> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {what} ({e})"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            break Some(status);
        }
        if started.elapsed() > limit {
            stop_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = Output {
        status: status.unwrap_or_else(|| ExitStatus::from_raw(9)),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    match status {
        Some(_) => Ok(out),
        None => Err(format!(
            "{what} did not finish within {} s and was stopped; it wrote:\n{}\n{}",
            limit.as_secs(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// SIGTERM to the process group `pgid` (a browser driver closes its browser), then SIGKILL
/// to whatever is left of it two seconds later.
fn stop_group(pgid: u32) {
    let group = format!("-{pgid}");
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
}
