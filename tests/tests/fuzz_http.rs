//! Property tests of the HTTP boundary (issue 5): random methods, paths, query strings,
//! headers and bodies against the client API and module web resources (the part of a
//! request that crosses into plugins). Every request gets an answer in time, never a
//! dropped connection; errors are Matrix JSON errors; and the server keeps serving.
//!
//! The seed is fixed so CI runs are repeatable; change it (and raise `cases`) to explore.

use std::time::Duration;

use modhost_tests::{TestServer, Workdir};
use proptest::prelude::*;

fn prefix() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "/_matrix/client/v3/",
        "/_matrix/client/v3/rooms/",
        "/_matrix/client/v3/register",
        "/_matrix/client/v3/login",
        "/_matrix/media/v3/",
        "/_synapse/admin/v1/",
        "/_synapse/client/demo/hello",
        "/_synapse/client/scripted/a/",
        "/_synapse/client/scripted/a/probe/",
        "/_synapse/client/house_rules/stats",
        "/",
    ])
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.~-]{0,12}",
        "%[0-9A-F]{2}",
        Just("%00".to_string()),
        Just("%FF%FE".to_string()),
        Just("..".to_string()),
        Just("!room:test.local".to_string()),
        Just("@user:test.local".to_string()),
        "\\PC{0,6}".prop_map(|s| s
            .chars()
            .filter(|c| !c.is_control() && *c != '?' && *c != '#')
            .collect()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..256),
        Just(b"{".to_vec()),
        Just(b"[]".to_vec()),
        Just(b"{\"username\": 7, \"auth\": {\"type\": []}}".to_vec()),
        Just(br#"{"method": "store_put", "args": [null, {"a": 1}, "x"]}"#.to_vec()),
        // Stands for a 2 MiB body (built at send time, so a failure report stays short).
        Just(BIG.to_vec()),
    ]
}

const BIG: &[u8] = b"<2 MiB body>";

#[test]
fn random_requests_get_matrix_answers_and_the_server_keeps_serving() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = Workdir::new();
    let scripted = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: demo\n  - module: house_rules\n  - module: {}\n    config: {{label: a, host_calls: true, sdk_probe: true, answers: {{user_may_create_room: not_spam}}}}\n",
        scripted.display()
    ));
    let s = rt.block_on(TestServer::start(&config));
    // A fresh connection per request: after an answer sent without reading the request
    // body, the server closes the connection, and a pooled connection reused in that moment
    // fails with a broken pipe on the client side (HTTP/1.1's keep-alive race), which says
    // nothing about the answers this test checks.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = rt.block_on(s.register("fuzzer")).token;

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261122),
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
        prefix(),
        prop::collection::vec(segment(), 0..4),
        "[a-z_=&%0-9]{0,24}",
        any::<bool>(),
        body(),
    );
    runner
        .run(
            &strategy,
            |(method, prefix, segments, query, authed, body)| {
                let url = format!("{}{prefix}{}?{query}", s.base, segments.join("/"));
                let big = body == BIG;
                let answer = rt.block_on(async {
                    let body = if big {
                        vec![b'a'; 2 * 1024 * 1024]
                    } else {
                        body
                    };
                    let mut req = http
                        .request(method.parse().unwrap(), &url)
                        .header("content-type", "application/json")
                        .body(body);
                    if authed {
                        req = req.bearer_auth(&token);
                    }
                    let resp = req
                        .send()
                        .await
                        .map_err(|e| format!("{method} {url}: {e} ({e:?})"))?;
                    let status = resp.status().as_u16();
                    let json = resp
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/json"));
                    let text = resp.text().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((status, json, text))
                });
                let (status, json, text) = match answer {
                    Ok(a) => a,
                    // The server may answer an oversized body before reading it and close the
                    // connection; the client then sees a send error. That is a refusal, not a
                    // failure, as long as the server keeps serving.
                    Err(_) if big => {
                        let (status, _) = rt.block_on(s.get("/_synapse/client/demo/hello?name=x"));
                        prop_assert_eq!(status, 200);
                        return Ok(());
                    }
                    Err(e) => return Err(TestCaseError::fail(e)),
                };
                prop_assert!(status != 502 && status != 504, "{method} {url}: {status}");
                if status >= 400 && json {
                    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        TestCaseError::fail(format!(
                            "{method} {url}: {status} not JSON: {e}: {text}"
                        ))
                    })?;
                    // A Matrix error, or the interactive-auth challenge (401 with `flows`).
                    prop_assert!(
                        v["errcode"].is_string() || (status == 401 && v["flows"].is_array()),
                        "{method} {url}: {status} {text}"
                    );
                }
                if status >= 500 {
                    // A 500 is only ever the generic Matrix error, never a crash page.
                    prop_assert!(
                        json && text.contains("M_UNKNOWN"),
                        "{method} {url}: {status} {text}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();

    // Still serving, and nothing a module holds was damaged.
    let (status, body) = rt.block_on(s.get("/_synapse/client/demo/hello?name=after"));
    assert_eq!((status, body), (200, serde_json::json!({"hello": "after"})));
    let (status, _) = rt.block_on(s.probe("a", "POST", "counter", Some(serde_json::json!({}))));
    assert_eq!(status, 200);
}
