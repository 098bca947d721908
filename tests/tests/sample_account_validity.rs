//! The `account_validity` sample module (issue 4): expiry after a period, 403
//! `ORG_MATRIX_EXPIRED_ACCOUNT`, renewal through the module's endpoint (accepted for expired
//! accounts), the admin endpoint, the periodic job, cache invalidation, and the store
//! surviving a restart.

use std::time::Duration;

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

const MODULE: &str =
    "modules:\n  - module: account_validity\n    config: {period: 1h, check_interval: 100ms}\n";

/// A server with `@root:test.local` as admin (registered before the module, so it has no
/// expiry) and account_validity loaded.
async fn server(w: &Workdir) -> (TestServer, Client) {
    let first = TestServer::start(&w.config("enable_registration: true\n")).await;
    let root = first.register("root").await;
    drop(first);
    let s = start(w).await;
    let root = s.client(&root.user_id, &root.token);
    (s, root)
}

async fn start(w: &Workdir) -> TestServer {
    TestServer::start(&w.config(&format!(
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\n{MODULE}"
    )))
    .await
}

async fn av(
    s: &TestServer,
    c: &Client,
    method: &str,
    op: &str,
    body: Option<Value>,
) -> (u16, Value) {
    s.call(
        method,
        &format!("/_synapse/client/account_validity/{op}"),
        Some(&c.token),
        body,
    )
    .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_expire_and_are_renewed() {
    let w = Workdir::new();
    let (s, root) = server(&w).await;
    let alice = s.register("alice").await;

    let (status, st) = av(&s, &alice, "GET", "status", None).await;
    assert_eq!(status, 200, "{st}");
    let at = st["expiration_ts"].as_i64().unwrap();
    assert!(
        (at - (now_ms() + 3_600_000)).abs() < 60_000,
        "one period from registration: {st}"
    );
    assert_eq!(st["expired"], false);
    let (_, root_status) = av(&s, &root, "GET", "status", None).await;
    assert_eq!(
        root_status["expiration_ts"],
        Value::Null,
        "users from before the module have no expiry"
    );

    // An admin expires alice: her next request is refused.
    let past = now_ms() - 1000;
    let (status, set) = av(
        &s,
        &root,
        "POST",
        "admin",
        Some(json!({"user_id": alice.user_id, "expiration_ts": past})),
    )
    .await;
    assert_eq!((status, set), (200, json!({"expiration_ts": past})));
    let (status, refused) = alice.call("GET", "/account/whoami", None).await;
    assert_eq!(
        (status, refused),
        (
            403,
            json!({"errcode": "ORG_MATRIX_EXPIRED_ACCOUNT", "error": "User account has expired"})
        )
    );

    // The periodic job notices.
    let mut listed = Value::Null;
    for _ in 0..40 {
        listed = av(&s, &root, "GET", "expired", None).await.1;
        if listed["expired"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["expired"][0]["user_id"], alice.user_id, "{listed}");
    assert_eq!(listed["expired"][0]["expired_at"], past);

    // Alice renews with her (expired) token and is back.
    let (status, renewed) = av(&s, &alice, "POST", "renew", None).await;
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed["expiration_ts"].as_i64().unwrap() > now_ms() + 3_500_000);
    assert_eq!(alice.call("GET", "/account/whoami", None).await.0, 200);
    assert_eq!(
        av(&s, &root, "GET", "expired", None).await.1,
        json!({"expired": []}),
        "renewal clears the mark"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_check_who_is_asking() {
    let w = Workdir::new();
    let (s, _root) = server(&w).await;
    let alice = s.register("alice").await;
    let (status, body) = av(
        &s,
        &alice,
        "POST",
        "admin",
        Some(json!({"user_id": alice.user_id})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "You are not a server admin"})
        )
    );
    let (status, body) = s
        .call(
            "POST",
            "/_synapse/client/account_validity/renew",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"errcode": "M_MISSING_TOKEN", "error": "Missing access token"})
        )
    );
    let (status, _) = s
        .call(
            "POST",
            "/_synapse/client/account_validity/renew",
            Some("nope"),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_survives_a_restart() {
    let w = Workdir::new();
    let (s, root) = server(&w).await;
    let alice = s.register("alice").await;
    let (status, _) = av(
        &s,
        &root,
        "POST",
        "admin",
        Some(json!({"user_id": alice.user_id, "expiration_ts": now_ms() - 1})),
    )
    .await;
    assert_eq!(status, 200);
    drop(s);
    let s = start(&w).await;
    let alice = s.client(&alice.user_id, &alice.token);
    assert_eq!(alice.call("GET", "/account/whoami", None).await.0, 403);
}

#[test]
fn bad_periods_name_their_setting() {
    let w = Workdir::new();
    let config = w.config("modules:\n  - module: account_validity\n    config: {period: soon}\n");
    let (code, _, stderr) = w.check_config(&config);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("modules[0].config.period: module 'account_validity'")
            && stderr.contains(
                "\"soon\" is not a duration such as 30d, 12h, 15m, 10s or 250ms (or milliseconds)"
            ),
        "{stderr}"
    );
}
