//! Helpers shared by the third-party identifier tests (`client_threepids.rs`,
//! `client_threepid_requests.rs`).
// Each test file uses only some of these.
#![allow(dead_code)]

use modhost_tests::{Client, TestServer, Workdir};
use serde_json::{json, Value};

pub const ALICE: &str = "@alice:test.local";

/// Callbacks recorded by the `a` module in every test.
pub fn recorders(extra: Value) -> Value {
    let mut answers = json!({
        "on_add_user_third_party_identifier": null,
        "on_threepid_bind": null,
        "on_remove_user_third_party_identifier": null,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        answers[k] = v;
    }
    answers
}

/// A server with admin `root`, user `alice` (password `pw`) and one `scripted` module `a`
/// (with host calls) answering `answers` plus the 3pid recorders.
pub async fn server(w: &Workdir, answers: Value) -> (TestServer, Client, Client) {
    let first = TestServer::start(&w.config("enable_registration: true\nmodules: []\n")).await;
    let root = first.register("root").await;
    drop(first);
    let lib = w.copy_module("scripted", "a");
    let config = json!({"label": "a", "host_calls": true, "answers": recorders(answers)});
    let s = TestServer::start(&w.config(&format!(
        "enable_registration: true\nadmin_users: [\"@root:test.local\"]\nmodules:\n  - module: {}\n    config: {config}\n",
        lib.display()
    )))
    .await;
    let root = s.client(&root.user_id, &root.token);
    let alice = s.register("alice").await;
    (s, root, alice)
}

/// `method path` (from the server root) as `who`.
pub async fn call_as(s: &TestServer, who: &Client, method: &str, path: &str) -> (u16, Value) {
    s.call(method, path, Some(&who.token), None).await
}

/// `PUT /_synapse/admin/v2/users/{user}` as `root`.
pub async fn admin_put(s: &TestServer, root: &Client, user: &str, body: Value) -> (u16, Value) {
    let path = format!("/_synapse/admin/v2/users/{user}");
    s.call("PUT", &path, Some(&root.token), Some(body)).await
}

/// The recorded `(callback, args)` of the 3pid callbacks, in order.
pub async fn threepid_calls(s: &TestServer) -> Vec<(String, Value)> {
    s.calls("a")
        .await
        .into_iter()
        .filter(|c| {
            let name = c["callback"].as_str().unwrap_or_default();
            name.contains("third_party_identifier") || name == "on_threepid_bind"
        })
        .map(|c| {
            (
                c["callback"].as_str().unwrap().to_string(),
                c["args"].clone(),
            )
        })
        .collect()
}

pub fn call(name: &str, args: Value) -> (String, Value) {
    (name.to_string(), args)
}

/// The `(medium, address)` pairs of a `threepids` list.
pub fn pairs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|t| {
            (
                t["medium"].as_str().unwrap().to_string(),
                t["address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn pair(medium: &str, address: &str) -> (String, String) {
    (medium.to_string(), address.to_string())
}

/// `POST /_matrix/client/v3{path}` without a token: (status, body).
pub async fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    s.call(
        "POST",
        &format!("/_matrix/client/v3{path}"),
        None,
        Some(body),
    )
    .await
}

/// The arguments of each `is_3pid_allowed` call, in order.
pub async fn is_3pid_allowed_args(s: &TestServer) -> Vec<Value> {
    s.calls("a")
        .await
        .into_iter()
        .filter(|c| c["callback"] == "is_3pid_allowed")
        .map(|c| c["args"].clone())
        .collect()
}
