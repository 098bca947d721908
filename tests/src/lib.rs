//! Shared support for the integration tests.
//!
//! Module libraries are built by running cargo for the module crates into a target directory
//! of their own (`target/test-modules`), once per test binary: the outer `cargo test` holds
//! the lock on the main target directory while tests run, and building there would wait
//! forever. Tests then load those `.so` files through the real loader.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use modhost::{Config, Registry, Server};

pub mod client_env;
pub mod debian;
pub mod evolution;
pub mod postgres;
use tokio::task::JoinHandle;

/// Every sample module crate the tests load, plus the `modhost` binary.
const PACKAGES: &[&str] = &[
    "modhost",
    "demo",
    "house_rules",
    "auto_accept_invites",
    "shared_secret_auth",
    "user_restrictions",
    "account_validity",
    "domain_rule_checker",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The directory holding the freshly built (debug) module libraries and `modhost` binary.
pub fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = build_dir_with_profile("debug");
        // Servers in this process (TestServer) find the runner of isolated modules here;
        // set once, before any server starts.
        std::env::set_var("MODHOST_MODULE_RUNNER", dir.join("modhost-module-runner"));
        dir
    })
}

/// Whether this test binary runs every module with `isolation: process` and `sandbox:
/// strict`: its name starts with `iso_`, or `MODHOST_TEST_ISOLATION=process`.
pub fn isolated_modules() -> bool {
    static ISOLATED: OnceLock<bool> = OnceLock::new();
    *ISOLATED.get_or_init(|| {
        let by_env = std::env::var("MODHOST_TEST_ISOLATION").is_ok_and(|v| v == "process");
        let by_name = std::env::current_exe()
            .ok()
            .and_then(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().starts_with("iso_"))
            })
            .unwrap_or(false);
        by_env || by_name
    })
}

/// `rest` with `isolation: process` and `sandbox: strict` added to each `- module:` entry (see
/// [`isolated_modules`]); unchanged when it sets `isolation:` itself.
fn with_isolation(rest: &str) -> String {
    if !isolated_modules() || rest.contains("isolation:") {
        return rest.to_string();
    }
    let mut out = String::new();
    for line in rest.split_inclusive('\n') {
        out.push_str(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with("- module:") {
            let indent = line.len() - trimmed.len() + 2;
            if !line.ends_with('\n') {
                out.push('\n');
            }
            let pad = " ".repeat(indent);
            out.push_str(&format!("{pad}isolation: process\n{pad}sandbox: strict\n"));
        }
    }
    out
}

/// Build the module libraries (samples, and the test fixtures of `plugins/fixtures/`, a
/// workspace of their own) and `modhost` with cargo profile `profile` (`debug` or `release`)
/// into `target/test-modules`; returns the output directory.
pub fn build_dir_with_profile(profile: &str) -> PathBuf {
    let root = workspace_root();
    let target = root.join("target").join("test-modules");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = |what: &[&str]| {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root)
            .arg("build")
            .arg("--quiet")
            .args(what)
            .env("CARGO_TARGET_DIR", &target);
        if profile == "release" {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "building the test modules failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let samples: Vec<&str> = PACKAGES.iter().flat_map(|p| ["-p", p]).collect();
    build(&samples);
    build(&[
        "--manifest-path",
        "plugins/fixtures/Cargo.toml",
        "--workspace",
    ]);
    target.join(profile)
}

/// Path of `lib<name>.so` as built for the tests.
pub fn module_lib(name: &str) -> PathBuf {
    build_dir().join(format!("lib{name}.so"))
}

/// The `modhost` binary as built for the tests.
pub fn modhost_bin() -> PathBuf {
    build_dir().join("modhost")
}

/// A scratch directory holding a config file and copies of module libraries.
pub struct Workdir {
    dir: tempfile::TempDir,
    /// This directory's PostgreSQL database URL, made on first use (PostgreSQL backend).
    database: OnceLock<String>,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    /// A new empty directory.
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
            database: OnceLock::new(),
        }
    }

    /// The `database:` line this directory's configs get: nothing on SQLite (the default
    /// file beside the config), a database of its own on PostgreSQL (the same one for every
    /// config written here, so a restart finds its data).
    pub fn database_setting(&self) -> String {
        match postgres::backend() {
            postgres::Backend::Sqlite => String::new(),
            postgres::Backend::Postgres => format!(
                "database: {{url: \"{}\", max_connections: 8}}\n",
                self.postgres_url()
            ),
        }
    }

    /// This directory's PostgreSQL database (created on first use).
    pub fn postgres_url(&self) -> &str {
        self.database
            .get_or_init(|| postgres::server().create_database())
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copy `lib<module>.so` to `<dir>/<as_name>.so` (a separate instance of the module: a
    /// copy is a different file, so it gets its own statics).
    pub fn copy_module(&self, module: &str, as_name: &str) -> PathBuf {
        let to = self.path().join(format!("{as_name}.so"));
        // Never overwrite a copy: a server started earlier in this process may still have it
        // mapped (libraries are never unloaded), and rewriting mapped code crashes with SIGBUS.
        if !to.exists() {
            std::fs::copy(module_lib(module), &to).expect("copy module library");
        }
        to
    }

    /// Write `homeserver.yaml` with `plugins_dir` pointing at the built modules, followed
    /// by `rest` (which usually holds `modules:`).
    pub fn config(&self, rest: &str) -> PathBuf {
        let timeout = if rest.contains("module_callback_timeout_ms") {
            ""
        } else {
            "module_callback_timeout_ms: 2000\n"
        };
        // The limits go last, so line numbers in `rest` stay as the tests expect them.
        let sep = if rest.is_empty() || rest.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let database = if rest.contains("database:") {
            String::new()
        } else {
            self.database_setting()
        };
        let rest = with_isolation(rest);
        let text = format!(
            "server_name: test.local\nlisten: 127.0.0.1:0\nplugins_dir: {}\n{timeout}{rest}{sep}{}{database}",
            build_dir().display(),
            test_rate_limits(&rest)
        );
        let file = self.path().join("homeserver.yaml");
        std::fs::write(&file, text).expect("write config");
        file
    }

    /// Run `modhost check-config` on `config`: (exit code, stdout, stderr).
    pub fn check_config(&self, config: &Path) -> (i32, String, String) {
        let out = Command::new(modhost_bin())
            .arg("check-config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .output()
            .expect("run modhost");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            strip_ansi(&String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// Login and registration rate limits high enough for tests that register and log in many
/// users from 127.0.0.1, unless `rest` sets them itself (the tests of the limits do).
pub fn test_rate_limits(rest: &str) -> String {
    const MANY: &str = "{per_second: 1000, burst_count: 1000}";
    let mut out = String::new();
    if !rest.contains("rc_login") {
        out.push_str(&format!(
            "rc_login: {{address: {MANY}, account: {MANY}, failed_attempts: {MANY}}}\n"
        ));
    }
    if !rest.contains("rc_registration") {
        out.push_str(&format!("rc_registration: {MANY}\n"));
    }
    out
}

/// A `modhost` process serving `config`, for tests that read its log.
pub struct ServerProcess {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    child: std::process::Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Start the binary and wait until it accepts connections.
    pub fn start(w: &Workdir, config: &Path) -> ServerProcess {
        Self::start_with_env(w, config, &[])
    }

    /// [`ServerProcess::start`] with extra environment variables. The log goes to a file,
    /// so (not being a terminal) it has no colour codes unless the server gets that wrong.
    pub fn start_with_env(w: &Workdir, config: &Path, env: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = w.path().join("server.log");
        let child = Command::new(modhost_bin())
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start modhost");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "modhost did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
        }
    }

    /// Everything logged so far, colour codes removed.
    pub fn log(&self) -> String {
        strip_ansi(&self.raw_log())
    }

    /// Everything logged so far, byte for byte.
    pub fn raw_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait (up to 5 s) until the log contains `needle`; returns the log.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.contains(needle) || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kill the process with SIGKILL (no chance to flush or clean up) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send SIGTERM and wait (up to 10 s) for the process to exit; its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The process ID (to read `/proc/<pid>/status`, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Remove terminal colour codes from log output.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A server running in this process on a free port of 127.0.0.1.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The frozen chains, for driving callbacks directly.
    pub registry: Arc<Registry>,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The modules' background tasks.
    pub tasks: Arc<modhost::modules::tasks::ModuleTasks>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Load `config` and serve it. Panics with the load errors if it does not load.
    pub async fn start(config: &Path) -> TestServer {
        let config = Config::load(config).unwrap_or_else(|e| panic!("config failed to load:\n{e}"));
        let server = Server::open(config)
            .await
            .unwrap_or_else(|e| panic!("server failed to load:\n{e}"));
        let registry = Arc::clone(&server.modules.registry);
        let tasks = Arc::clone(&server.modules.tasks);
        let app = server.app();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum_serve(listener, app).await;
        });
        TestServer {
            base,
            registry,
            http: reqwest::Client::new(),
            tasks,
            task,
        }
    }

    /// GET `path`: (status, JSON body or `null`).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `POST /_synapse/client/scripted/<label>/host` `{method, args}`: the module API's
    /// answer as `{"ok": …}` or `{"error": …}`.
    pub async fn host_call(
        &self,
        label: &str,
        method: &str,
        args: serde_json::Value,
    ) -> serde_json::Value {
        let (_, body) = self
            .call(
                "POST",
                &format!("/_synapse/client/scripted/{label}/host"),
                None,
                Some(serde_json::json!({"method": method, "args": args})),
            )
            .await;
        body
    }

    /// Call probe `op` of a `scripted` module with `sdk_probe: true`: (status, body).
    pub async fn probe(
        &self,
        label: &str,
        method: &str,
        op: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call(
            method,
            &format!("/_synapse/client/scripted/{label}/probe/{op}"),
            None,
            body,
        )
        .await
    }

    /// The calls a `scripted` module with `label` recorded.
    pub async fn calls(&self, label: &str) -> Vec<serde_json::Value> {
        let (status, body) = self
            .get(&format!("/_synapse/client/scripted/{label}/calls"))
            .await;
        assert_eq!(status, 200, "calls of {label}: {body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Names of the callbacks a `scripted` module recorded, in order.
    pub async fn call_names(&self, label: &str) -> Vec<String> {
        self.calls(label)
            .await
            .iter()
            .map(|c| c["callback"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.tasks.stop_all();
        self.task.abort();
    }
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: modhost_axum::Router,
) -> std::io::Result<()> {
    // With the peer address, as `Server::serve` does (spam checkers' `request_info`).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    modhost_axum::serve(listener, app).await
}

/// The axum version modhost uses.
pub use modhost::web::axum as modhost_axum;

/// `scripted` module entry for a copy named `name` with `answers`.
pub fn scripted_entry(path: &Path, label: &str, answers: serde_json::Value) -> String {
    format!(
        "  - module: {}\n    config: {}\n",
        path.display(),
        serde_json::json!({ "label": label, "answers": answers })
    )
}

/// A `modules:` list of `scripted` copies, one per `(label, answers)`, in that order.
pub fn scripted_modules(w: &Workdir, modules: &[(&str, serde_json::Value)]) -> String {
    let mut yaml = String::from("modules:\n");
    for (label, answers) in modules {
        let lib = w.copy_module("scripted", label);
        yaml.push_str(&scripted_entry(&lib, label, answers.clone()));
    }
    yaml
}

/// A server with the config lines `extra` and one `scripted` copy per `(label, answers)`.
pub async fn scripted_server(
    w: &Workdir,
    extra: &str,
    modules: &[(&str, serde_json::Value)],
) -> TestServer {
    let yaml = format!("{extra}{}", scripted_modules(w, modules));
    TestServer::start(&w.config(&yaml)).await
}

/// A transaction ID not used before in this process.
pub fn unique_txn() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{nanos}.{n}")
}

/// A Matrix client of a [`TestServer`]: one logged-in user.
pub struct Client {
    /// The server's base URL.
    pub base: String,
    /// The user's access token.
    pub token: String,
    /// The user's MXID.
    pub user_id: String,
    http: reqwest::Client,
}

impl TestServer {
    /// Send `method path` with an optional JSON body and token: (status, JSON body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        call(&self.http, &self.base, method, path, token, body).await
    }

    /// Register `localpart` with password `pw` and return its client.
    pub async fn register(&self, localpart: &str) -> Client {
        let body = serde_json::json!({"username": localpart, "password": "pw", "auth": {"type": "m.login.dummy"}});
        let (status, resp) = self
            .call("POST", "/_matrix/client/v3/register", None, Some(body))
            .await;
        assert_eq!(status, 200, "register {localpart}: {resp}");
        Client {
            base: self.base.clone(),
            token: resp["access_token"].as_str().unwrap().to_string(),
            user_id: resp["user_id"].as_str().unwrap().to_string(),
            http: self.http.clone(),
        }
    }
}

impl TestServer {
    /// A client of this server for an existing session.
    pub fn client(&self, user_id: &str, token: &str) -> Client {
        Client {
            base: self.base.clone(),
            token: token.to_string(),
            user_id: user_id.to_string(),
            http: self.http.clone(),
        }
    }
}

impl TestServer {
    /// `DELETE /_synapse/admin/v2/rooms/{room}` with `token`: (status, body).
    pub async fn shut_down_room(&self, token: &str, room: &str) -> (u16, serde_json::Value) {
        self.call(
            "DELETE",
            &format!("/_synapse/admin/v2/rooms/{room}"),
            Some(token),
            None,
        )
        .await
    }
}

/// Start a server whose `admin_users` lists `@root:test.local` with `root` already registered
/// (admin accounts exist before they are listed), plus `scripted` modules; returns root too.
pub async fn admin_server(
    w: &Workdir,
    modules: &[(&str, serde_json::Value)],
) -> (TestServer, Client) {
    let first = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let root = first.register("root").await;
    drop(first);
    let server = scripted_server(
        w,
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\n",
        modules,
    )
    .await;
    let root = server.client(&root.user_id, &root.token);
    (server, root)
}

impl Client {
    /// Send `method path` (relative to `/_matrix/client/v3`) as this user.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        call(
            &self.http,
            &self.base,
            method,
            &format!("/_matrix/client/v3{path}"),
            Some(&self.token),
            body,
        )
        .await
    }

    /// Create a room with `body`; panics unless it succeeds.
    pub async fn create_room(&self, body: serde_json::Value) -> String {
        let (status, resp) = self.call("POST", "/createRoom", Some(body)).await;
        assert_eq!(status, 200, "createRoom: {resp}");
        resp["room_id"].as_str().unwrap().to_string()
    }

    /// Send an `m.text` message; (status, body).
    pub async fn say(&self, room_id: &str, text: &str) -> (u16, serde_json::Value) {
        let txn = unique_txn();
        self.call(
            "PUT",
            &format!("/rooms/{room_id}/send/m.room.message/{txn}"),
            Some(serde_json::json!({"msgtype": "m.text", "body": text})),
        )
        .await
    }
}

/// `method /_matrix/client/v3{path}` on the server at `base` (a [`ServerProcess`]'s, say)
/// with an optional `token` and JSON `body`: (status, JSON body or `null`).
pub async fn client_call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let http = reqwest::Client::new();
    let path = format!("/_matrix/client/v3{path}");
    call(&http, base, method, &path, token, body).await
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}
