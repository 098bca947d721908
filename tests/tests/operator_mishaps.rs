//! An unlucky operator (issue 17, item 5 and the smaller findings): a module file replaced
//! while the server runs, a world-writable folder above plugins_dir, a read-only database
//! file, a clean stop that must leave no `-wal` behind, plain-text errors where clients
//! expect Matrix JSON, and a PostgreSQL URL with a closed port or an unencoded password.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use modhost_tests::{build_dir, client_call, module_lib, strip_ansi, ServerProcess, Workdir};
use serde_json::{json, Value};

/// `<w>/plugins/libx.so`, a copy of the `scripted` fixture, and a config loading it by name.
fn scripted_in_plugins_dir(w: &Workdir) -> (PathBuf, PathBuf) {
    let plugins = w.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let lib = plugins.join("libx.so");
    std::fs::copy(module_lib("scripted"), &lib).unwrap();
    let config = w.path().join("homeserver.yaml");
    let text = format!(
        "server_name: test.local\nplugins_dir: {}\nmodules:\n  - module: x\n    config: {}\n",
        plugins.display(),
        json!({"label": "x", "answers": {}})
    );
    std::fs::write(&config, text).unwrap();
    (lib, config)
}

async fn calls_of_x(base: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}/_synapse/client/scripted/x/calls"))
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn overwriting_a_loaded_module_file_leaves_the_running_code_alone() {
    let w = Workdir::new();
    let (lib, config) = scripted_in_plugins_dir(&w);
    let copies = w.path().join("data/loaded-modules");
    std::fs::create_dir_all(&copies).unwrap();
    std::fs::write(copies.join("0000-old.so"), b"an old copy").unwrap();
    let mut s = ServerProcess::start(&w, &config);
    let before = calls_of_x(&s.base).await;
    assert_eq!(before.0, 200, "{}", s.log());

    // The deploy step the README describes, done while the server runs: copy over the file.
    std::fs::copy(module_lib("panicky"), &lib).unwrap();
    assert_eq!(calls_of_x(&s.base).await, before);
    let log = s.wait_for_log("module file changed on disk");
    assert!(
        log.contains("module file changed on disk; the server keeps running the copy it loaded, restart it to load the new file"),
        "{log}"
    );
    assert!(
        log.contains(&format!("path={}", lib.canonicalize().unwrap().display())),
        "{log}"
    );
    assert_eq!(calls_of_x(&s.base).await, before);
    assert!(s.is_running());

    // The copies live in a folder only the server may write, named by content; the old
    // one is gone.
    let mode = std::fs::metadata(&copies).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let names: Vec<String> = std::fs::read_dir(&copies)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let sha = sha256_hex(&std::fs::read(module_lib("scripted")).unwrap());
    assert!(names[0].starts_with(&format!("{sha}-x-")), "{names:?}");
    assert!(log.contains("removed an old module copy"), "{log}");
    assert_eq!(s.terminate(), Some(0));
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_world_writable_folder_above_the_module_is_refused() {
    let w = Workdir::new();
    let open = w.path().join("open");
    let plugins = open.join("deep/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(module_lib("demo"), plugins.join("libdemo.so")).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = w.path().join("homeserver.yaml");
    let text = format!(
        "server_name: test.local\nplugins_dir: {}\nmodules:\n  - module: demo\n    config: {{}}\n",
        plugins.display()
    );
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1, "{err}");
    let open = open.canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "modules[0]: {} is writable by every user, so anyone could replace the module's code; fix it with: chmod o-w {}",
            open.display(),
            open.display()
        )),
        "{err}"
    );
    // With the sticky bit (as /tmp has) only owners may rename what is inside: accepted.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, out, err) = w.check_config(&config);
    assert_eq!(code, 0, "{out}{err}");
}

/// Run the binary with `args` until it exits, as an unprivileged user when we are root
/// (root writes read-only files anyway): (exit code, standard output and error).
fn run_unprivileged(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let mut cmd = Command::new(build_dir().join("modhost"));
    cmd.args(args).env("NO_COLOR", "1").env("RUST_LOG", "info");
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().expect("run modhost");
    (
        out.status.code().unwrap_or(-1),
        strip_ansi(&format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    )
}

fn is_root() -> bool {
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid() == 0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_database_file_is_blamed_on_database_path() {
    let w = Workdir::new();
    let config = w.config("admin_users: [\"@root:test.local\"]\nmodules: []\n");
    let mut first = ServerProcess::start(&w, &config);
    assert_eq!(first.terminate(), Some(0));
    let data = w.path().join("data");
    let db = data.join("homeserver.db");
    // The folder stays writable (for -wal and -shm); only the database file is not.
    for dir in [w.path(), data.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = run_unprivileged(&["--config".as_ref(), config.as_os_str()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}: database.path: cannot write the database: ",
            config.display()
        )),
        "{err}"
    );
    assert!(err.contains("attempt to write a readonly database (the database file, its folder and its -wal and -shm files must be writable by the user running modhost)"), "{err}");
    assert!(!err.contains("admin_users"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_stop_checkpoints_the_write_ahead_log() {
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nmodules: []\n");
    let mut s = ServerProcess::start(&w, &config);
    let body =
        json!({"username": "kept", "password": "pw-pw-pw-pw", "auth": {"type": "m.login.dummy"}});
    let (status, reg) = client_call(&s.base, "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(s.terminate(), Some(0));
    assert!(s.log().contains("database checkpointed"), "{}", s.log());
    let wal = w.path().join("data/homeserver.db-wal");
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(left, 0, "{} still holds {left} bytes", wal.display());
    drop(s);
    let s = ServerProcess::start(&w, &config);
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kept"}, "password": "pw-pw-pw-pw"});
    let (status, body) = client_call(&s.base, "POST", "/login", None, Some(login)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_parameter_that_is_not_utf8_gets_a_matrix_error() {
    let w = Workdir::new();
    let s = ServerProcess::start(&w, &w.config("modules: []\n"));
    let resp = reqwest::get(format!("{}/_matrix/media/v3/download/%FF/x", s.base))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"errcode": "M_INVALID_PARAM", "error": "Invalid URL: Invalid UTF-8 in `server`"})
    );
}

#[test]
fn check_config_by_another_user_loads_modules_in_place_and_says_so() {
    let w = Workdir::new();
    let config = w.config("modules:\n  - module: demo\n    config: {}\n");
    // The data folder exists and belongs to the server's user (here: whoever runs the test);
    // the unprivileged user may read the config but write nothing.
    std::fs::create_dir_all(w.path().join("data")).unwrap();
    std::fs::set_permissions(w.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    if !is_root() {
        std::fs::set_permissions(
            w.path().join("data"),
            std::fs::Permissions::from_mode(0o555),
        )
        .unwrap();
    }
    let (code, out) = run_unprivileged(&["check-config".as_ref(), config.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK, 1 module(s) loaded"), "{out}");
    assert!(
        out.contains("cannot make a private copy of the module; loading its file in place (replacing that file while the server runs would crash it)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_module_folder_owned_by_another_user_is_not_trusted() {
    if !is_root() {
        eprintln!("skipped: giving a folder to another user needs root");
        return;
    }
    let w = Workdir::new();
    let config = w.config("modules:\n  - module: demo\n    config: {}\n");
    // Made beforehand by someone else, writable by all: its owner could swap copies.
    let copies = w.path().join("data/loaded-modules");
    std::fs::create_dir_all(&copies).unwrap();
    std::os::unix::fs::chown(&copies, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&copies, std::fs::Permissions::from_mode(0o777)).unwrap();
    let server = ServerProcess::start(&w, &config);
    let (status, body) = client_call_raw(&server.base, "/_synapse/client/demo/hello?name=x").await;
    assert_eq!((status, body), (200, json!({"hello": "x"})));
    let log = server.log();
    assert!(
        log.contains("not by the server's user") && log.contains("loading its file in place"),
        "{log}"
    );
    let left: Vec<_> = std::fs::read_dir(&copies).unwrap().collect();
    assert!(left.is_empty(), "nothing copied into it: {left:?}");
    let mode = std::fs::metadata(&copies).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o777, "not re-moded either");
}

async fn client_call_raw(base: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_closed_postgres_port_is_refused_at_once_with_the_password_masked() {
    let w = Workdir::new();
    let port = closed_port();
    let refused = "error communicating with database: Connection refused (os error 111)";
    let cases = [
        (
            format!("postgres://modhost:hunter2@127.0.0.1:{port}/modhost"),
            format!("postgres://modhost:***@127.0.0.1:{port}/modhost: {refused}"),
        ),
        (
            format!("postgres://modhost@127.0.0.1:{port}/modhost?password=hunter2"),
            format!("postgres://modhost@127.0.0.1:{port}/modhost?password=***: {refused}"),
        ),
        // An unencoded `/` in the password ends the URL's host part early.
        (
            format!("postgres://modhost:Ab3/hunter2==@127.0.0.1:{port}/modhost"),
            format!(
                "postgres://modhost:***@127.0.0.1:{port}/modhost: error with configuration: \
                 invalid port number (percent-encode any /, ?, #, @ or % in the password: / is \
                 %2F)"
            ),
        ),
    ];
    for (url, shown) in cases {
        let config = w.config(&format!("database: {{url: \"{url}\"}}\nmodules: []\n"));
        let started = std::time::Instant::now();
        let (code, out, err) = w.check_config(&config);
        let took = started.elapsed();
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert_eq!(err, format!("modhost: cannot open database {shown}\n"));
        // Not the pool's 10 s acquire timeout.
        assert!(took < std::time::Duration::from_secs(3), "{url}: {took:?}");
    }
}
