//! The module HTTP client and private networks (issue 13): `module_http_client` blocks
//! loopback and private ranges by default, after DNS resolution and on every redirect, with
//! `ip_range_allowlist` as the escape hatch; services on 127.0.0.x stand in for the server's
//! private network.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Path;
use axum::response::Redirect;
use axum::routing::get;
use axum::Json;
use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};

const SETTING: &str = "module_http_client.ip_range_blocklist";

/// A service on `ip` (port chosen by the system) answering `/json`, and `/to/<url>` with a
/// redirect to that URL; its base URL and the number of requests it received.
async fn service(ip: &str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = axum::Router::new()
        .route("/json", get(|| async { Json(json!({"x": 1})) }))
        .route(
            "/to/{*url}",
            get(|Path(url): Path<String>| async move { Redirect::temporary(&url) }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    let listener = tokio::net::TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, hits)
}

/// A server with the SDK probe module, `top` (top-level settings) in its configuration.
async fn probe_server(w: &Workdir, top: &str) -> TestServer {
    let lib = w.copy_module("scripted", "a");
    TestServer::start(&w.config(&format!(
        "{top}modules:\n  - module: {}\n    config: {{label: a, sdk_probe: true, answers: {{}}}}\n",
        lib.display()
    )))
    .await
}

/// `GET url` through the module's HTTP client: the module's answer (`ok`) or error.
async fn get_via_module(s: &TestServer, url: &str) -> Value {
    s.probe("a", "POST", "http", Some(json!({"url": url})))
        .await
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_refuses_loopback_by_address_and_by_name() {
    let (local, hits) = service("127.0.0.1").await;
    let port = local.rsplit(':').next().unwrap().to_string();
    let w = Workdir::new();
    let s = probe_server(&w, "").await;

    let url = format!("{local}/json");
    assert_eq!(
        get_via_module(&s, &url).await,
        json!({"error": format!("GET {url}: refused to connect to 127.0.0.1: the address is in {SETTING}")})
    );
    let (_, helper) = s
        .probe("a", "POST", "get_json", Some(json!({"url": url})))
        .await;
    assert_eq!(
        helper["error"],
        format!("GET {url}: refused to connect to 127.0.0.1: the address is in {SETTING}"),
        "the SDK's helpers get the same error"
    );
    // The same address spelt as IPv4-mapped IPv6 is judged as IPv4.
    let mapped = format!("http://[::ffff:127.0.0.1]:{port}/json");
    let error = get_via_module(&s, &mapped).await["error"].clone();
    assert_eq!(
        error,
        format!(
            "GET {mapped}: refused to connect to ::ffff:127.0.0.1: the address is in {SETTING}"
        )
    );

    let by_name = format!("http://localhost:{port}/json");
    let error = get_via_module(&s, &by_name).await["error"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = format!("GET {by_name}: refused to connect to localhost (");
    assert!(
        error.starts_with(&prefix)
            && error.contains("127.0.0.1")
            && error.ends_with(&format!(" is in {SETTING}")),
        "{error}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the service"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allowlist_lets_127_0_0_1_through_and_nothing_else() {
    let (local, hits) = service("127.0.0.1").await;
    let port = local.rsplit(':').next().unwrap().to_string();
    let w = Workdir::new();
    let s = probe_server(
        &w,
        "module_http_client:\n  ip_range_allowlist: [127.0.0.1/32]\n",
    )
    .await;

    let ok = json!({"ok": {"status": 200, "body": "{\"x\":1}"}});
    assert_eq!(get_via_module(&s, &format!("{local}/json")).await, ok);
    // A name resolving to 127.0.0.1 (and perhaps ::1, still blocked) connects to 127.0.0.1.
    assert_eq!(
        get_via_module(&s, &format!("http://localhost:{port}/json")).await,
        ok
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let other = format!("http://127.0.0.2:{port}/json");
    assert_eq!(
        get_via_module(&s, &other).await["error"],
        format!("GET {other}: refused to connect to 127.0.0.2: the address is in {SETTING}"),
        "the rest of 127.0.0.0/8 stays blocked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_from_an_allowed_server_to_a_blocked_address_is_refused() {
    let (allowed, allowed_hits) = service("127.0.0.2").await;
    let (blocked, blocked_hits) = service("127.0.0.1").await;
    let blocked_port = blocked.rsplit(':').next().unwrap().to_string();
    let w = Workdir::new();
    let s = probe_server(
        &w,
        "module_http_client: {ip_range_allowlist: [127.0.0.2]}\n",
    )
    .await;

    let within = format!("{allowed}/to/{allowed}/json");
    assert_eq!(
        get_via_module(&s, &within).await,
        json!({"ok": {"status": 200, "body": "{\"x\":1}"}}),
        "redirects between allowed addresses are followed"
    );
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 2);

    let to_address = format!("{allowed}/to/{blocked}/json");
    assert_eq!(
        get_via_module(&s, &to_address).await["error"],
        format!("GET {to_address}: refused to connect to 127.0.0.1: the address is in {SETTING}")
    );
    let to_name = format!("{allowed}/to/http://localhost:{blocked_port}/json");
    let error = get_via_module(&s, &to_name).await["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with(&format!("GET {to_name}: refused to connect to localhost ("))
            && error.ends_with(&format!(" is in {SETTING}")),
        "a redirect to a name is resolved and checked again: {error}"
    );
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 4);
    assert_eq!(blocked_hits.load(Ordering::SeqCst), 0, "nothing reached it");
}

#[test]
fn a_bad_range_is_a_config_error_at_its_place() {
    let w = Workdir::new();
    let file = w.config(
        "module_http_client:\n  ip_range_blocklist: [10.0.0.0/8]\n  ip_range_allowlist: [127.0.0.1/40, 10.1.0.0/16]\n",
    );
    let (code, stdout, stderr) = w.check_config(&file);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let expected = format!(
        "{}:7:24: module_http_client.ip_range_allowlist[0]: \"127.0.0.1/40\" is not a CIDR range such as 10.0.0.0/8 or fd00::/8, nor an IP address",
        file.display()
    );
    assert!(
        format!("{stdout}{stderr}").contains(&expected),
        "{stdout}{stderr}"
    );
}
