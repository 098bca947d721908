//! Durability under load (issue 5): writers hammer the server — messages, state, uploads and
//! a module's store transactions — and the server is killed with SIGKILL in the middle.
//! After a restart on the same files, every acknowledged write is there, exactly, and the
//! module's two-key transactions are whole (never one key without the other).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modhost_tests::{ServerProcess, Workdir};
use serde_json::{json, Value};

async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    // A request cut off by the kill has no answer: it was never acknowledged.
    let resp = req.timeout(Duration::from_secs(10)).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.unwrap_or(Value::Null)))
}

#[derive(Default)]
struct Acked {
    events: Vec<(String, String, String)>,
    uploads: Vec<(String, Vec<u8>)>,
    pairs: u64,
}

#[test]
fn acknowledged_writes_survive_sigkill_during_a_write_load() {
    let w = Workdir::new();
    let lib = w.copy_module("scripted", "a");
    let config = w.config(&format!(
        "enable_registration: true\nmodules:\n  - module: {}\n    config: {{label: a, sdk_probe: true}}\n",
        lib.display()
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    let acked = Arc::new(Mutex::new(Acked::default()));

    let (token, room) = rt.block_on(async {
        let (_, reg) = call(
            &base,
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(
                json!({"username": "writer", "password": "pw", "auth": {"type": "m.login.dummy"}}),
            ),
        )
        .await
        .unwrap();
        let token = reg["access_token"].as_str().unwrap().to_string();
        let (_, room) = call(
            &base,
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&token),
            Some(json!({})),
        )
        .await
        .unwrap();
        (token, room["room_id"].as_str().unwrap().to_string())
    });

    // Four writers for about a second, then SIGKILL while they are still writing.
    let writers: Vec<_> = (0..4)
        .map(|wid| {
            let (base, token, room, acked) = (
                base.clone(),
                token.clone(),
                room.clone(),
                Arc::clone(&acked),
            );
            rt.spawn(async move {
                let until = Instant::now() + Duration::from_secs(5);
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    let body = format!("w{wid} m{i}");
                    let path =
                        format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/w{wid}t{i}");
                    match call(
                        &base,
                        "PUT",
                        &path,
                        Some(&token),
                        Some(json!({"msgtype": "m.text", "body": body})),
                    )
                    .await
                    {
                        Some((200, v)) => acked.lock().unwrap().events.push((
                            v["event_id"].as_str().unwrap().to_string(),
                            body,
                            "m.room.message".into(),
                        )),
                        Some(_) => {}
                        None => return,
                    }
                    let key = format!("w{wid}k{i}");
                    let path =
                        format!("/_matrix/client/v3/rooms/{room}/state/org.example.load/{key}");
                    match call(
                        &base,
                        "PUT",
                        &path,
                        Some(&token),
                        Some(json!({"body": key})),
                    )
                    .await
                    {
                        Some((200, v)) => acked.lock().unwrap().events.push((
                            v["event_id"].as_str().unwrap().to_string(),
                            key,
                            "org.example.load".into(),
                        )),
                        Some(_) => {}
                        None => return,
                    }
                    let bytes = format!("upload {wid} {i}").into_bytes();
                    let resp = reqwest::Client::new()
                        .post(format!("{base}/_matrix/media/v3/upload"))
                        .bearer_auth(&token)
                        .header("content-type", "text/plain")
                        .body(bytes.clone())
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == 200 => {
                            let v: Value = r.json().await.unwrap_or_default();
                            if let Some(uri) = v["content_uri"].as_str() {
                                acked.lock().unwrap().uploads.push((uri.to_string(), bytes));
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                    match call(
                        &base,
                        "POST",
                        "/_synapse/client/scripted/a/probe/pair",
                        None,
                        Some(json!({})),
                    )
                    .await
                    {
                        Some((200, v)) => {
                            let n = v["ok"].as_u64().unwrap();
                            let mut a = acked.lock().unwrap();
                            a.pairs = a.pairs.max(n);
                        }
                        Some(_) => {}
                        None => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1200));
    server.kill();
    rt.block_on(async {
        for w in writers {
            let _ = w.await;
        }
    });
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.events.len() > 20 && acked.pairs > 5,
        "the load ran: {} events, {} pairs",
        acked.events.len(),
        acked.pairs
    );

    let server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    rt.block_on(async {
        for (event_id, body, kind) in &acked.events {
            let (status, ev) = call(
                &base,
                "GET",
                &format!("/_matrix/client/v3/rooms/{room}/event/{event_id}"),
                Some(&token),
                None,
            )
            .await
            .unwrap();
            assert_eq!(status, 200, "acknowledged {event_id} is missing: {ev}");
            assert_eq!(ev["type"], kind.as_str());
            assert_eq!(ev["content"]["body"], body.as_str(), "{ev}");
        }
        for (uri, bytes) in &acked.uploads {
            let path = uri.trim_start_matches("mxc://");
            let resp = reqwest::Client::new()
                .get(format!("{base}/_matrix/client/v1/media/download/{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "acknowledged upload {uri} is missing");
            assert_eq!(
                &resp.bytes().await.unwrap()[..],
                &bytes[..],
                "{uri} is whole"
            );
        }
        let (_, a) = call(
            &base,
            "GET",
            "/_synapse/client/scripted/a/probe/kv?key=pair/a",
            None,
            None,
        )
        .await
        .unwrap();
        let (_, b) = call(
            &base,
            "GET",
            "/_synapse/client/scripted/a/probe/kv?key=pair/b",
            None,
            None,
        )
        .await
        .unwrap();
        assert_eq!(a["ok"], b["ok"], "a module transaction is all or nothing");
        assert!(
            a["ok"].as_u64().unwrap() >= acked.pairs,
            "every acknowledged transaction is kept"
        );
        // The room still reads back in order.
        let (status, _) = call(
            &base,
            "GET",
            &format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=1000"),
            Some(&token),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
    });
}
