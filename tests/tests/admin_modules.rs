//! What is loaded, for operators (issue 5): the start-up log and
//! `GET /_synapse/admin/v1/modules` give each module's file, size, SHA-256, versions,
//! registrations, policies and background tasks; only server admins may ask.

use modhost_tests::{admin_server, ServerProcess, Workdir};
use serde_json::json;
use sha2::{Digest, Sha256};

fn sha256_of(path: &std::path::Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_see_every_module_with_its_provenance() {
    let w = Workdir::new();
    let (s, root) = admin_server(&w, &[("a", json!({"user_may_create_room": "not_spam"}))]).await;
    let (status, body) = s
        .call("GET", "/_synapse/admin/v1/modules", Some(&root.token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let lib = w.path().join("a.so");
    let m = &body["modules"][0];
    assert_eq!(m["name"], "a");
    assert_eq!(m["path"], lib.canonicalize().unwrap().display().to_string());
    assert_eq!(m["size"], std::fs::metadata(&lib).unwrap().len());
    assert_eq!(m["sha256"], sha256_of(&lib));
    assert_eq!(m["crate"], "scripted");
    assert_eq!(m["sdk_version"], modhost_tests::evolution::sdk_versions().0);
    assert_eq!(m["registered"][0], "spam_checker.user_may_create_room");
    assert_eq!(
        (m["timeout_ms"].clone(), m["on_failure"].clone()),
        (json!(2000), json!("default"))
    );
    assert_eq!(
        m["callbacks"][0]["callback"],
        "spam_checker.user_may_create_room"
    );

    let alice = s.register("alice").await;
    let (status, body) = s
        .call(
            "GET",
            "/_synapse/admin/v1/modules",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].clone()),
        (403, json!("M_FORBIDDEN"))
    );
    let (status, body) = s
        .call("GET", "/_synapse/admin/v1/modules", None, None)
        .await;
    assert_eq!(
        (status, body["errcode"].clone()),
        (401, json!("M_MISSING_TOKEN"))
    );
}

#[test]
fn the_start_up_log_names_file_size_and_hash() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "modules:\n  - module: {}\n    config: {{label: a, loop_ms: 100000}}\n",
        lib.display()
    ));
    let server = ServerProcess::start(&w, &config);
    let log = server.wait_for_log("module ready");
    let line = log
        .lines()
        .find(|l| l.contains("module ready"))
        .expect("a module ready line");
    assert!(line.contains("module=a"), "{line}");
    assert!(
        line.contains(&format!("size={}", std::fs::metadata(&lib).unwrap().len())),
        "{line}"
    );
    assert!(
        line.contains(&format!("sha256={}", sha256_of(&lib))),
        "{line}"
    );
}
