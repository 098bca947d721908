//! Module runtime services (issue 4): the host's HTTP client against a real HTTP service on
//! 127.0.0.1 (deadlines, size limits, errors), blocking work, and background tasks tracked
//! per module and stopped on shutdown.

use std::time::Duration;

use axum::routing::{get, post};
use axum::Json;
use modhost_tests::{ServerProcess, TestServer, Workdir};
use serde_json::{json, Value};

/// A small external service: JSON, a slow answer, a large answer, a failure, an echo.
async fn external_service() -> String {
    let app = axum::Router::new()
        .route("/json", get(|| async { Json(json!({"x": 1})) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "a".repeat(64 * 1024) }))
        .route(
            "/big-chunked",
            // No Content-Length: the limit must hold while the body streams in.
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 1024]));
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/fail",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/echo",
            post(|Json(v): Json<Value>| async move { Json(json!({"got": v})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// A server with the SDK probe module: `top` holds top-level settings, `extra` more of the
/// module's configuration.
async fn probe_server(w: &Workdir, top: &str, extra: &str) -> TestServer {
    let lib = w.copy_module("scripted", "a");
    TestServer::start(&w.config(&format!(
        "{top}modules:\n  - module: {}\n    config: {{label: a, sdk_probe: true, answers: {{}}{extra}}}\n",
        lib.display()
    )))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn http_client_calls_external_services_within_limits() {
    let ext = external_service().await;
    let w = Workdir::new();
    // The external service stands in on 127.0.0.1, which the module client refuses unless
    // allowed.
    let s = probe_server(
        &w,
        "module_http_client: {ip_range_allowlist: [127.0.0.1]}\n",
        "",
    )
    .await;
    let http = |body: Value| s.probe("a", "POST", "http", Some(body));

    let (status, ok) = http(json!({"url": format!("{ext}/json")})).await;
    assert_eq!(
        (status, ok["ok"].clone()),
        (200, json!({"status": 200, "body": "{\"x\":1}"}))
    );
    let (_, echoed) =
        http(json!({"method": "POST", "url": format!("{ext}/echo"), "json": {"a": [1]}})).await;
    assert_eq!(echoed["ok"]["body"], "{\"got\":{\"a\":[1]}}");
    let (_, failing) = http(json!({"url": format!("{ext}/fail")})).await;
    assert_eq!(
        failing["ok"],
        json!({"status": 500, "body": "boom"}),
        "any status is an answer"
    );

    let (status, slow) = http(json!({"url": format!("{ext}/slow"), "timeout_ms": 200})).await;
    assert_eq!(
        (status, slow["error"].clone()),
        (
            500,
            json!(format!("GET {ext}/slow: timed out after 200 ms"))
        )
    );
    let (_, big) = http(json!({"url": format!("{ext}/big"), "max_response_bytes": 1000})).await;
    assert_eq!(
        big["error"],
        format!("GET {ext}/big: the response is larger than 1000 bytes")
    );
    let (_, chunked) =
        http(json!({"url": format!("{ext}/big-chunked"), "max_response_bytes": 5000})).await;
    assert_eq!(
        chunked["error"],
        format!("GET {ext}/big-chunked: the response is larger than 5000 bytes")
    );
    let (_, scheme) = http(json!({"url": "ftp://example.org/x"})).await;
    assert_eq!(
        scheme["error"],
        "http_request needs an http:// or https:// url (got \"ftp://example.org/x\")"
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (_, refused) = http(json!({"url": format!("http://127.0.0.1:{closed}/")})).await;
    assert!(
        refused["error"].as_str().unwrap().starts_with(&format!(
            "GET http://127.0.0.1:{closed}/: could not connect"
        )),
        "{refused}"
    );

    let (_, json_ok) = s
        .probe(
            "a",
            "POST",
            "get_json",
            Some(json!({"url": format!("{ext}/json")})),
        )
        .await;
    assert_eq!(json_ok["ok"], json!({"x": 1}));
    let (_, json_fail) = s
        .probe(
            "a",
            "POST",
            "get_json",
            Some(json!({"url": format!("{ext}/fail")})),
        )
        .await;
    assert_eq!(
        json_fail["error"],
        format!("GET {ext}/fail: HTTP 500: boom")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_work_runs_on_its_own_thread_and_panics_are_contained() {
    let w = Workdir::new();
    let s = probe_server(&w, "", "").await;
    let (status, body) = s.probe("a", "POST", "blocking", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["ok"],
        json!({"thread": "scripted-blocking", "panicked": "blocking task panicked"})
    );
    let (status, _) = s.probe("a", "GET", "schema", None).await;
    assert_eq!(status, 200, "the module serves on");
}

fn ticks(calls: &[Value]) -> usize {
    calls.iter().filter(|c| c["callback"] == "tick").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn background_tasks_are_tracked_per_module_and_stopped() {
    let w = Workdir::new();
    let s = probe_server(&w, "", ", loop_ms: 50").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let running = s.tasks.running();
    assert!(
        running.contains(&("a".to_string(), "ticker".to_string())),
        "{running:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ticks(&s.calls("a").await) >= 2);
    assert!(s.tasks.stop_all() >= 1);
    let before = ticks(&s.calls("a").await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ticks(&s.calls("a").await), before, "no tick after stopping");
    assert!(s.tasks.running().is_empty());
}

#[test]
fn sigterm_stops_module_tasks_by_name_and_exits_cleanly() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "modules:\n  - module: {}\n    config: {{label: a, loop_ms: 100000, answers: {{}}}}\n",
        lib.display()
    ));
    let mut server = ServerProcess::start(&w, &config);
    assert_eq!(server.terminate(), Some(0), "{}", server.log());
    let log = server.log();
    assert!(
        log.contains("stopped module background task module=a task=ticker"),
        "{log}"
    );
    assert!(
        log.contains("stopped module background task module=a task=once"),
        "{log}"
    );
    assert!(
        log.contains("module background tasks stopped stopped=2"),
        "{log}"
    );
}
