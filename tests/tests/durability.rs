//! An acknowledged write survives `kill -9`: the server process is killed with SIGKILL right
//! after its answers, restarted on the same files, and everything acknowledged is there.

use modhost_tests::{ServerProcess, Workdir};
use serde_json::{json, Value};

async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nmodules: []\n");
    let server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    let (token, room, event_ids, media) = rt.block_on(async {
        let (_, reg) = call(
            &base,
            "POST",
            "/_matrix/client/v3/register",
            None,
            json!({"username": "alice", "password": "pw", "auth": {"type": "m.login.dummy"}}),
        )
        .await;
        let token = reg["access_token"].as_str().unwrap().to_string();
        let (_, room) = call(
            &base,
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&token),
            json!({"name": "Kept"}),
        )
        .await;
        let room = room["room_id"].as_str().unwrap().to_string();
        let mut ids = Vec::new();
        for i in 0..20 {
            let (status, sent) = call(
                &base,
                "PUT",
                &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/k{i}"),
                Some(&token),
                json!({"msgtype": "m.text", "body": format!("m{i}")}),
            )
            .await;
            assert_eq!(status, 200);
            ids.push(sent["event_id"].as_str().unwrap().to_string());
        }
        call(
            &base,
            "PUT",
            &format!("/_matrix/client/v3/rooms/{room}/state/org.example.kept/"),
            Some(&token),
            json!({"v": 1}),
        )
        .await;
        let r = reqwest::Client::new()
            .post(format!("{base}/_matrix/media/v3/upload"))
            .bearer_auth(&token)
            .body("kept bytes")
            .send()
            .await
            .unwrap();
        let media = r.json::<Value>().await.unwrap()["content_uri"]
            .as_str()
            .unwrap()
            .trim_start_matches("mxc://")
            .to_string();
        (token, room, ids, media)
    });
    drop(server); // SIGKILL, no shutdown

    let server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    rt.block_on(async {
        for id in &event_ids {
            let (status, ev) = call(
                &base,
                "GET",
                &format!("/_matrix/client/v3/rooms/{room}/event/{id}"),
                Some(&token),
                Value::Null,
            )
            .await;
            assert_eq!(status, 200, "{id} lost: {ev}");
        }
        let (status, state) = call(
            &base,
            "GET",
            &format!("/_matrix/client/v3/rooms/{room}/state/org.example.kept/"),
            Some(&token),
            Value::Null,
        )
        .await;
        assert_eq!((status, state), (200, json!({"v": 1})));
        let r = reqwest::get(format!("{base}/_matrix/media/v3/download/{media}"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(&r.bytes().await.unwrap()[..], b"kept bytes");
    });
}
