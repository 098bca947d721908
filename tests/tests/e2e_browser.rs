//! End to end in a real browser: matrix-js-sdk, bundled by esbuild into a page that this test
//! serves from another origin than modhost (another port on 127.0.0.1), runs in headless
//! Debian Chromium driven by puppeteer-core: register, log in, `startClient` to PREPARED,
//! create a room, send a message, see it in the live timeline, log out. Every homeserver call
//! crosses origins, so the browser enforces CORS (the page first checks that it does, on a
//! third origin that sends no CORS headers).
//!
//! Needs Debian's `chromium`, which the test installs on first use (`modhost_tests::debian`); the npm
//! packages come from `npm ci` of `tests/e2e/js/` (see `modhost_tests::client_env`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use axum::{Json, Router};
use modhost_tests::{client_env, debian, TestServer, Workdir};

/// The page: a module script, the bundle.
const INDEX: &str = "<!doctype html><meta charset=\"utf-8\"><title>modhost browser session</title>\
                     <script type=\"module\" src=\"/page.js\"></script>";

/// Debian's `chromium` on `PATH`, installed on first use (see `modhost_tests::debian`), or a
/// panic saying in one sentence how to install it.
fn chromium() -> PathBuf {
    debian::ensure("chromium", "the browser test", || {
        debian::on_path("chromium").is_some()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    debian::on_path("chromium").expect("chromium is on PATH once installed")
}

/// Serve `app` on a free port of 127.0.0.1; returns `http://127.0.0.1:<port>`.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// `node tests/e2e/js/browser_session.mjs ARGS` with a time limit; its output, after
/// asserting it printed `done`.
async fn driver(args: Vec<String>, limit: Duration, done: &str, what: &str) -> String {
    let script = client_env::node_script("browser_session.mjs");
    let what = what.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut node = Command::new("node");
        node.arg(&script).args(&args);
        client_env::output_within(&mut node, limit, &what).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(done),
        "browser driver failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Bundle `browser_page.js` with matrix-js-sdk into `dir/page.js`; returns the bundle.
async fn bundle(dir: &Path) -> Vec<u8> {
    let entry = tokio::task::spawn_blocking(|| client_env::node_script("browser_page.js"))
        .await
        .unwrap();
    let out = dir.join("page.js");
    let args = vec![
        "bundle".into(),
        entry.display().to_string(),
        out.display().to_string(),
    ];
    driver(
        args,
        Duration::from_secs(180),
        "BUNDLED",
        "bundling the page",
    )
    .await;
    std::fs::read(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_js_sdk_in_headless_chromium_on_another_origin_runs_a_session() {
    let chromium = chromium();
    let w = Workdir::new();
    let page_js = bundle(w.path()).await;
    let server = TestServer::start(&w.config("enable_registration: true\n")).await;
    let page = serve(
        Router::new()
            .route(
                "/",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], INDEX) }),
            )
            .route(
                "/page.js",
                get(move || async move { ([(header::CONTENT_TYPE, "text/javascript")], page_js) }),
            ),
    )
    .await;
    let no_cors = serve(Router::new().route(
        "/",
        get(|| async { Json(serde_json::json!({"readable": "only by same-origin pages"})) }),
    ))
    .await;
    let url = format!("{page}/?hs={}&nocors={no_cors}/", server.base);
    let args = vec!["run".into(), url, chromium.display().to_string()];
    let said = driver(
        args,
        Duration::from_secs(300),
        "BROWSER OK",
        "the headless Chromium session",
    )
    .await;
    for step in [
        "are different origins",
        "a server without CORS headers is unreadable from here",
        "startClient reached PREPARED",
        "the message is in the live timeline: hello from a browser on another origin",
        "the token is gone after logout: 401 M_UNKNOWN_TOKEN",
    ] {
        let passed = said
            .lines()
            .any(|l| l.starts_with("page: ok: ") && l.contains(step));
        assert!(passed, "step {step:?}:\n{said}");
    }
}
