//! Each module's store (issue 4): key/value operations, transactions that commit or roll
//! back, the host's rollback of a transaction held too long, schema versions, data surviving
//! a restart, and cached functions invalidated on this and on another instance.

use std::path::PathBuf;
use std::time::Duration;

use modhost_tests::{TestServer, Workdir};
use serde_json::json;

fn config(w: &Workdir, copy: &str, extra: &str) -> PathBuf {
    let lib = w.copy_module("scripted", copy);
    w.config(&format!(
        "{extra}modules:\n  - module: {}\n    config: {{label: a, sdk_probe: true, answers: {{}}}}\n",
        lib.display()
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_values_and_prefix_scans_survive_a_restart() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "a", "")).await;
    for (key, value) in [
        ("expiry/@b:t", json!(2)),
        ("expiry/@a:t", json!({"at": 1})),
        ("other", json!("x")),
    ] {
        let (status, body) = s
            .probe("a", "POST", "kv", Some(json!({"key": key, "value": value})))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, scan) = s.probe("a", "GET", "scan?prefix=expiry/", None).await;
    assert_eq!(
        scan["ok"],
        json!([["expiry/@a:t", {"at": 1}], ["expiry/@b:t", 2]]),
        "in key order, only the prefix"
    );
    let (_, deleted) = s
        .probe(
            "a",
            "POST",
            "kv",
            Some(json!({"key": "other", "value": null})),
        )
        .await;
    assert_eq!(deleted["ok"], true);
    let (_, reserved) = s
        .probe(
            "a",
            "POST",
            "kv",
            Some(json!({"key": "__modhost/schema_version", "value": 9})),
        )
        .await;
    assert_eq!(
        reserved["error"],
        "store keys starting with __modhost/ are reserved"
    );
    let (_, empty) = s
        .probe("a", "POST", "kv", Some(json!({"key": "", "value": 1})))
        .await;
    assert_eq!(
        empty["error"],
        "store keys must be 1 to 512 bytes long (got 0)"
    );

    drop(s);
    let s = TestServer::start(&config(&w, "a", "")).await;
    let (_, after) = s.probe("a", "GET", "kv?key=expiry/@a:t", None).await;
    assert_eq!(
        after["ok"],
        json!({"at": 1}),
        "stored data survives a restart"
    );
    let (_, gone) = s.probe("a", "GET", "kv?key=other", None).await;
    assert_eq!(gone["ok"], json!(null));
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_commit_roll_back_and_are_dropped_safely() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "a", "")).await;
    let counter = |body| s.probe("a", "POST", "counter", Some(body));
    assert_eq!(counter(json!({})).await.1["ok"], 1);
    assert_eq!(counter(json!({})).await.1["ok"], 2);
    let (status, failed) = counter(json!({"fail": true})).await;
    assert_eq!(
        (status, failed["error"].clone()),
        (500, json!("rolled back on request"))
    );
    assert_eq!(counter(json!({"drop": true})).await.1["ok"], "dropped");
    // Neither the rolled-back nor the dropped increment was kept, and the dropped
    // transaction did not keep the writer.
    assert_eq!(counter(json!({})).await.1["ok"], 3);

    // Concurrent read-modify-writes each see the previous commit.
    let all = futures_util::future::join_all(
        (0..8).map(|_| s.probe("a", "POST", "counter", Some(json!({})))),
    )
    .await;
    let mut seen: Vec<i64> = all.iter().map(|(_, b)| b["ok"].as_i64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (4..=11).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_held_too_long_is_rolled_back_by_the_host() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "a", "module_transaction_timeout_ms: 300\n")).await;
    let (status, held) = s.probe("a", "POST", "hold", Some(json!({"ms": 900}))).await;
    assert_eq!(status, 500, "{held}");
    let message = held["error"].as_str().unwrap();
    assert!(
        message.starts_with("store transaction ")
            && message.ends_with(
                " was rolled back: it stayed open longer than module_transaction_timeout_ms (300 ms)"
            ),
        "{message}"
    );
    let (_, kept) = s.probe("a", "GET", "kv?key=held", None).await;
    assert_eq!(kept["ok"], json!(null), "nothing of it was kept");
    assert_eq!(
        s.probe("a", "POST", "counter", Some(json!({}))).await.1["ok"],
        1,
        "the store works on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_versions_upgrade_once_in_one_transaction() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "a", "")).await;
    let migrate = |body| s.probe("a", "POST", "migrate", Some(body));
    assert_eq!(s.probe("a", "GET", "schema", None).await.1["ok"], 0);
    assert_eq!(migrate(json!({"target": 2})).await.1["ok"], 2);
    let (_, steps) = s.probe("a", "GET", "scan?prefix=step/", None).await;
    assert_eq!(steps["ok"], json!([["step/0", 1], ["step/1", 2]]));
    // Already there: no step runs again.
    s.probe(
        "a",
        "POST",
        "kv",
        Some(json!({"key": "step/0", "value": "kept"})),
    )
    .await;
    assert_eq!(migrate(json!({"target": 2})).await.1["ok"], 2);
    assert_eq!(
        s.probe("a", "GET", "kv?key=step/0", None).await.1["ok"],
        "kept"
    );
    // A failing step keeps nothing of the upgrade.
    let (status, failed) = migrate(json!({"target": 4, "fail_at": 3})).await;
    assert_eq!(
        (status, failed["error"].clone()),
        (500, json!("step 3 failed"))
    );
    assert_eq!(s.probe("a", "GET", "schema", None).await.1["ok"], 2);
    assert_eq!(
        s.probe("a", "GET", "kv?key=step/2", None).await.1["ok"],
        json!(null)
    );
    // An older build refuses newer data.
    let (_, older) = migrate(json!({"target": 1})).await;
    assert_eq!(
        older["error"],
        "this module's store is at schema version 2, newer than this build's 1; run a build of the module that knows version 2"
    );
}

async fn cached(s: &TestServer, key: &str) -> serde_json::Value {
    let (status, body) = s
        .probe("a", "GET", &format!("cached?key={key}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["ok"].clone()
}

async fn set_backing(s: &TestServer, key: &str, value: &str) {
    let (status, body) = s
        .probe(
            "a",
            "POST",
            "kv",
            Some(json!({"key": format!("cache/{key}"), "value": value})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cached_functions_are_invalidated_here_and_on_other_instances() {
    // Two instances on one database, each loading the module from its own plugins folder
    // under the same name (so each has its own cache, as separate processes would).
    let (wa, wb) = (Workdir::new(), Workdir::new());
    let db = format!(
        "database: {{path: {}}}\n",
        wa.path().join("shared.db").display()
    );
    let a = TestServer::start(&config(&wa, "shared", &db)).await;
    let b = TestServer::start(&config(&wb, "shared", &db)).await;
    set_backing(&a, "k", "one").await;
    assert_eq!(cached(&a, "k").await["value"], "one");
    assert_eq!(cached(&b, "k").await["value"], "one");
    assert_eq!(
        cached(&a, "k").await["computed"],
        1,
        "a hit computes nothing"
    );

    set_backing(&a, "k", "two").await;
    assert_eq!(cached(&a, "k").await["value"], "one", "still cached");
    assert_eq!(cached(&b, "k").await["value"], "one", "still cached");

    let (status, body) = a
        .probe("a", "POST", "invalidate", Some(json!({"key": "k"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        cached(&a, "k").await["value"],
        "two",
        "invalidated here at once"
    );
    let mut seen = json!(null);
    for _ in 0..40 {
        seen = cached(&b, "k").await["value"].clone();
        if seen == "two" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "two", "the other instance dropped its entry too");

    let (_, unknown) = a
        .probe(
            "a",
            "POST",
            "invalidate",
            Some(json!({"key": "k", "function": "nope"})),
        )
        .await;
    assert_eq!(
        unknown["error"],
        "no cached function is registered as \"nope\" (see register_cached_function)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_module_sees_only_its_own_keys() {
    let (w, other_dir) = (Workdir::new(), Workdir::new());
    let a = w.copy_module("scripted", "a");
    let b = w.copy_module("scripted", "b");
    // The same file name from another folder: loaded as `a#2`, which gets no store.
    let twin = other_dir.copy_module("scripted", "a");
    let s = TestServer::start(&w.config(&format!(
        "modules:\n  - module: {}\n    config: {{label: a, sdk_probe: true}}\n  - module: {}\n    config: {{label: b, sdk_probe: true}}\n  - module: {}\n    config: {{label: twin, sdk_probe: true}}\n",
        a.display(),
        b.display(),
        twin.display()
    )))
    .await;
    let (status, _) = s
        .probe(
            "a",
            "POST",
            "kv",
            Some(json!({"key": "secret", "value": "a's"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s.probe("b", "GET", "kv?key=secret", None).await.1["ok"],
        json!(null)
    );
    assert_eq!(
        s.probe("b", "GET", "scan?prefix=", None).await.1["ok"],
        json!([])
    );
    assert_eq!(
        s.probe("a", "GET", "kv?key=secret", None).await.1["ok"],
        "a's"
    );
    let (status, twin) = s.probe("twin", "GET", "kv?key=secret", None).await;
    assert_eq!(
        (status, twin["error"].clone()),
        (
            500,
            json!("module a#2 has no store: its library file shares its name with another module's; give the file a name of its own")
        )
    );
}
