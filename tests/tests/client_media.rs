//! Media upload, download and config, with the media callbacks (spec §6.1 S20, §6.4 MR1–MR3).

use modhost_tests::{scripted_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn upload(c: &Client, bytes: &[u8], content_type: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/_matrix/media/v3/upload?filename=f.bin", c.base))
        .bearer_auth(&c.token)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn with(w: &Workdir, extra: &str, answers: Value) -> (TestServer, Client) {
    let s = scripted_server(
        w,
        &format!("enable_registration: true\n{extra}"),
        &[("a", answers)],
    )
    .await;
    let alice = s.register("alice").await;
    (s, alice)
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_round_trip_through_both_download_endpoints() {
    let w = Workdir::new();
    let (s, alice) = with(&w, "", json!({})).await;
    let (status, body) = upload(&alice, b"\x89PNG fake image", "image/png").await;
    assert_eq!(status, 200, "{body}");
    let uri = body["content_uri"].as_str().unwrap();
    let path = uri.strip_prefix("mxc://").unwrap();
    for (url, token) in [
        (
            format!("{}/_matrix/client/v1/media/download/{path}", s.base),
            Some(&alice.token),
        ),
        (
            format!(
                "{}/_matrix/client/v1/media/download/{path}/name.png",
                s.base
            ),
            Some(&alice.token),
        ),
        (format!("{}/_matrix/media/v3/download/{path}", s.base), None),
    ] {
        let mut req = reqwest::Client::new().get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert_eq!(&resp.bytes().await.unwrap()[..], b"\x89PNG fake image");
    }
    let (status, body) = s
        .call(
            "GET",
            "/_matrix/client/v1/media/download/test.local/nothere",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    assert_eq!(
        s.call(
            "GET",
            &format!("/_matrix/client/v1/media/download/{path}"),
            None,
            None
        )
        .await
        .0,
        401,
        "v1 download needs a token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mr1_media_config_comes_from_a_module_or_the_server() {
    let w = Workdir::new();
    let (s, alice) = with(&w, "", json!({"get_media_config_for_user": {"m.upload.size": 1024, "user_id": "@alice:test.local"}})).await;
    assert_eq!(
        s.call(
            "GET",
            "/_matrix/client/v1/media/config",
            Some(&alice.token),
            None
        )
        .await,
        (
            200,
            json!({"m.upload.size": 1024, "user_id": "@alice:test.local"})
        )
    );
    let w = Workdir::new();
    let (s, alice) = with(
        &w,
        "max_upload_size: 4096\n",
        json!({"get_media_config_for_user": null}),
    )
    .await;
    assert_eq!(
        s.call("GET", "/_matrix/media/v3/config", Some(&alice.token), None)
            .await,
        (200, json!({"m.upload.size": 4096}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mr2_a_module_can_refuse_an_upload_size_with_413() {
    let w = Workdir::new();
    let (s, alice) = with(
        &w,
        "",
        json!({"is_user_allowed_to_upload_media_of_size": false}),
    )
    .await;
    let (status, body) = upload(&alice, &[7u8; 67], "image/png").await;
    assert_eq!(
        (status, body),
        (
            413,
            json!({"errcode": "M_TOO_LARGE", "error": "Upload request body is too large"})
        )
    );
    assert_eq!(
        s.calls("a").await[0]["args"],
        json!(["@alice:test.local", 67])
    );
    // The server's own limit applies before any module.
    let w = Workdir::new();
    let (_s, alice) = with(&w, "max_upload_size: 10\n", json!({})).await;
    assert_eq!(upload(&alice, &[1u8; 11], "text/plain").await.0, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn s20_spam_media_is_refused_as_bad_content_and_not_stored() {
    let w = Workdir::new();
    let (s, alice) = with(
        &w,
        "",
        json!({"check_media_file_for_spam": {"deny": "M_FORBIDDEN", "fields": {"x": 1}}}),
    )
    .await;
    let (status, body) = upload(&alice, b"Some evil data", "text/plain").await;
    assert_eq!(
        (status, body),
        (400, json!({"errcode": "M_UNKNOWN", "error": "Bad content"}))
    );
    let media_dir = w.path().join("data/media");
    let stored = std::fs::read_dir(&media_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 0, "nothing written for refused media");
    let calls = s.calls("a").await;
    assert_eq!(calls[0]["callback"], "check_media_file_for_spam");
}

#[tokio::test(flavor = "multi_thread")]
async fn mr3_module_upload_limits_replace_the_defaults_and_overruns_are_reported() {
    let w = Workdir::new();
    let (s, alice) = with(&w, "", json!({
        "get_media_upload_limits_for_user": [{"max_bytes": 5000, "time_period_ms": 86400000}, {"max_bytes": 15000, "time_period_ms": 604800000}],
        "on_media_upload_limit_exceeded": null,
    }))
    .await;
    assert_eq!(
        upload(&alice, &[0u8; 3000], "application/octet-stream")
            .await
            .0,
        200
    );
    let (status, body) = upload(&alice, &[0u8; 4000], "application/octet-stream").await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"errcode": "M_RESOURCE_LIMIT_EXCEEDED", "error": "Media upload limit exceeded"})
        )
    );
    let calls = s.calls("a").await;
    let exceeded = calls
        .iter()
        .find(|c| c["callback"] == "on_media_upload_limit_exceeded")
        .expect("reported");
    assert_eq!(
        exceeded["args"],
        json!(["@alice:test.local", 5000, 3000, 4000])
    );
}
