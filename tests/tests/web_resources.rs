//! Module web resources over real HTTP: the demo endpoint, sub-paths, first-wins,
//! reserved namespaces, registration after start-up, body limits and the fallback.

use modhost_tests::{TestServer, Workdir};
use serde_json::{json, Value};

fn scripted_with(w: &Workdir, label: &str, config: Value) -> String {
    let lib = w.copy_module("scripted", label);
    let mut config = config;
    config["label"] = json!(label);
    format!("  - module: {}\n    config: {}\n", lib.display(), config)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_resource_answers_like_the_synapse_example() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("modules:\n  - module: demo\n")).await;
    assert_eq!(
        s.get("/_synapse/client/demo/hello?name=world").await,
        (200, json!({"hello": "world"}))
    );
    assert_eq!(
        s.get("/_synapse/client/demo/hello?name=J%C3%BCrgen").await,
        (200, json!({"hello": "Jürgen"}))
    );
    assert_eq!(
        s.get("/_synapse/client/demo/hello").await,
        (
            400,
            json!({"errcode": "M_MISSING_PARAM", "error": "Missing parameter: name"})
        )
    );
    // Sub-paths go to the same resource.
    assert_eq!(
        s.get("/_synapse/client/demo/hello/deeper?name=x").await,
        (200, json!({"hello": "x"}))
    );
    // Neighbouring paths do not.
    assert_eq!(s.get("/_synapse/client/demo/hellox?name=x").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_get_m_unrecognized_and_host_routes_stay_the_hosts() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("modules:\n  - module: demo\n")).await;
    assert_eq!(
        s.get("/_synapse/client/nothing").await,
        (
            404,
            json!({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
        )
    );
    let (status, body) = s.get("/_matrix/client/versions").await;
    assert_eq!(status, 200);
    assert!(
        body["versions"].as_array().is_some_and(|v| !v.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_reaches_the_module_intact() {
    let w = Workdir::new();
    let yaml = format!(
        "modules:\n{}",
        scripted_with(
            &w,
            "a",
            json!({"extra_web_paths": ["/_synapse/client/echo"]})
        )
    );
    let s = TestServer::start(&w.config(&yaml)).await;
    assert_eq!(
        s.get("/_synapse/client/echo/sub/path?q=1").await,
        (
            200,
            json!({"label": "a", "path": "/_synapse/client/echo/sub/path"})
        )
    );
}

#[test]
fn the_first_module_to_register_a_path_keeps_it_and_the_second_is_warned() {
    let w = Workdir::new();
    let yaml = format!(
        "modules:\n{}{}",
        scripted_with(
            &w,
            "a",
            json!({"extra_web_paths": ["/_synapse/client/shared"]})
        ),
        scripted_with(
            &w,
            "b",
            json!({"extra_web_paths": ["/_synapse/client/shared"]})
        )
    );
    let config = w.config(&yaml);
    let (code, out, err) = w.check_config(&config);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(
        "module 'b' tried to register a web resource for path /_synapse/client/shared, but module 'a' has already \
         registered a resource for this path; the first one is kept"
    ), "{err}");
    assert!(
        out.contains("web resource /_synapse/client/shared"),
        "{out}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = TestServer::start(&config).await;
        assert_eq!(
            s.get("/_synapse/client/shared").await,
            (
                200,
                json!({"label": "a", "path": "/_synapse/client/shared"})
            )
        );
    });
}

#[test]
fn reserved_namespaces_and_malformed_paths_are_refused_at_start_up() {
    for (path, reason) in [
        ("/_matrix/client/v3/mine", "web resource path /_matrix/client/v3/mine is under /_matrix/, which the server reserves; use /_synapse/client/<module>/… instead"),
        ("/_synapse/admin/v1/users", "web resource path /_synapse/admin/v1/users is under /_synapse/admin/, which the server reserves"),
        ("_synapse/client/x", "web resource path \"_synapse/client/x\" must be absolute (start with /)"),
        ("/_synapse/client/{x}", "web resource path \"/_synapse/client/{x}\" contains a character that is not allowed in a path"),
        ("/_synapse/client/:x", "web resource path \"/_synapse/client/:x\" has a segment starting with ':', which is not allowed"),
    ] {
        let w = Workdir::new();
        let lib = w.copy_module("scripted", "a");
        let config = w.config(&format!(
            "modules:\n  - module: {}\n    config: {}\n",
            lib.display(),
            json!({"label": "a", "extra_web_paths": [path]})
        ));
        let (code, _, err) = w.check_config(&config);
        assert_eq!(code, 1, "{path}: {err}");
        assert!(err.contains(&format!(
            "{}:6:5: modules[0]: module 'a' ({}): failed to start: {reason}",
            config.display(),
            lib.canonicalize().unwrap().display()
        )), "{path}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_after_start_up_is_an_error_for_the_module() {
    let w = Workdir::new();
    let yaml = format!(
        "modules:\n{}",
        scripted_with(&w, "a", json!({"late_register": true}))
    );
    let s = TestServer::start(&w.config(&yaml)).await;
    let mut late = Value::Null;
    for _ in 0..100 {
        if let Some(c) = s
            .calls("a")
            .await
            .into_iter()
            .find(|c| c["callback"] == "late_register")
        {
            late = c["args"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        late,
        json!("Tried to register a web resource from a module after startup")
    );
    assert_eq!(s.get("/_synapse/client/scripted/late").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_the_module_sees_them() {
    let w = Workdir::new();
    let yaml = format!(
        "max_module_request_body_bytes: 1024\nmodules:\n{}",
        scripted_with(
            &w,
            "a",
            json!({"extra_web_paths": ["/_synapse/client/upload"]})
        )
    );
    let s = TestServer::start(&w.config(&yaml)).await;
    let url = format!("{}/_synapse/client/upload", s.base);
    let big = s
        .http
        .post(&url)
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    assert_eq!(
        big.json::<Value>().await.unwrap(),
        json!({"errcode": "M_TOO_LARGE", "error": "Request body is too large"})
    );
    let small = s
        .http
        .post(&url)
        .body(vec![b'x'; 512])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_module_cannot_take_a_sub_path_of_an_earlier_resource() {
    let w = Workdir::new();
    let yaml = format!(
        "modules:\n{}{}",
        scripted_with(&w, "a", json!({"extra_web_paths": ["/_synapse/client/x"]})),
        scripted_with(
            &w,
            "b",
            json!({"extra_web_paths": ["/_synapse/client/x/y", "/_synapse/client/other"]})
        )
    );
    let config = w.config(&yaml);
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(
        "module 'b' tried to register a web resource for path /_synapse/client/x/y, but module 'a' has already \
         registered a resource for /_synapse/client/x, which covers it; the first one is kept"
    ), "{err}");
    let s = TestServer::start(&config).await;
    assert_eq!(s.get("/_synapse/client/x/y").await.1["label"], "a");
    assert_eq!(s.get("/_synapse/client/other").await.1["label"], "b");
}
