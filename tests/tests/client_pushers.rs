//! Pushers (spec v1.12 §"Push Notifications": `GET /pushers`, `POST /pushers/set`) and
//! delivery to a push gateway (§"Push Gateway API") this test runs on 127.0.0.1: the exact
//! notify body, a retry after a failure, removal of a rejected pushkey, and sending that
//! never waits for a gateway.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use modhost_tests::{Client, ServerProcess, TestServer, Workdir};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// The gateways these tests run listen on 127.0.0.1, which outbound requests refuse by
/// default (`module_http_client.ip_range_blocklist`): the tests allow it.
const ALLOW_LOOPBACK: &str = "module_http_client: {ip_range_allowlist: [127.0.0.1]}\n";

async fn server(w: &Workdir) -> TestServer {
    let config = format!("enable_registration: true\n{ALLOW_LOOPBACK}modules: []\n");
    TestServer::start(&w.config(&config)).await
}

/// A push gateway: every request body goes to `bodies`; answers are taken in order from
/// the script, then `200 {"rejected": []}`.
struct Gateway {
    url: String,
    bodies: mpsc::UnboundedReceiver<(Instant, Value)>,
}

impl Gateway {
    async fn start(script: Vec<(u16, Value)>) -> Gateway {
        Gateway::start_on(0, script).await
    }

    /// [`Gateway::start`] on a given port of 127.0.0.1 (0: any free one).
    async fn start_on(port: u16, script: Vec<(u16, Value)>) -> Gateway {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (tx, bodies) = mpsc::unbounded_channel();
        let notify = move |Json(body): Json<Value>| {
            let (script, tx) = (Arc::clone(&script), tx.clone());
            async move {
                let _ = tx.send((Instant::now(), body));
                let next = script.lock().unwrap().pop_front();
                let (status, answer) = next.unwrap_or((200, json!({"rejected": []})));
                (StatusCode::from_u16(status).unwrap(), Json(answer))
            }
        };
        let app = axum::Router::new().route("/_matrix/push/v1/notify", post(notify));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!(
            "http://{}/_matrix/push/v1/notify",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gateway { url, bodies }
    }

    /// The next body received (within 10 s).
    async fn next(&mut self) -> (Instant, Value) {
        tokio::time::timeout(Duration::from_secs(10), self.bodies.recv())
            .await
            .expect("the gateway was called")
            .expect("gateway running")
    }
}

/// A `POST /pushers/set` body for an `http` pusher.
fn http_pusher(pushkey: &str, data: Value) -> Value {
    json!({
        "kind": "http", "app_id": "org.example.app", "app_display_name": "Example",
        "device_display_name": "Phone", "pushkey": pushkey, "lang": "en", "data": data,
    })
}

async fn set_pusher(client: &Client, body: Value) -> (u16, Value) {
    client.call("POST", "/pushers/set", Some(body)).await
}

async fn pushkeys(client: &Client) -> Vec<String> {
    let (status, body) = client.call("GET", "/pushers", None).await;
    assert_eq!(status, 200, "{body}");
    body["pushers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pushkey"].as_str().unwrap().to_string())
        .collect()
}

/// alice's room named `name` with bob joined.
async fn room_with_bob(alice: &Client, bob: &Client, name: &str) -> String {
    let room = alice
        .create_room(json!({"preset": "public_chat", "name": name}))
        .await;
    let (status, body) = bob
        .call("POST", &format!("/join/{room}"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    room
}

async fn say(client: &Client, room: &str, text: &str) -> String {
    let (status, body) = client.say(room, text).await;
    assert_eq!(status, 200, "{body}");
    body["event_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushers_are_set_listed_updated_and_deleted() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    assert_eq!(pushkeys(&bob).await, Vec::<String>::new());
    let data =
        json!({"url": "https://push.example/_matrix/push/v1/notify", "format": "event_id_only"});
    let mut body = http_pusher("key-1", data.clone());
    body["profile_tag"] = json!("tag");
    assert_eq!(set_pusher(&bob, body).await, (200, json!({})));
    let (_, listed) = bob.call("GET", "/pushers", None).await;
    assert_eq!(
        listed,
        json!({"pushers": [{
            "app_display_name": "Example", "app_id": "org.example.app", "data": data,
            "device_display_name": "Phone", "kind": "http", "lang": "en",
            "profile_tag": "tag", "pushkey": "key-1",
        }]})
    );
    // The same app ID and pushkey again updates it.
    let mut renamed = http_pusher("key-1", data.clone());
    renamed["device_display_name"] = json!("Tablet");
    assert_eq!(set_pusher(&bob, renamed).await.0, 200);
    let (_, listed) = bob.call("GET", "/pushers", None).await;
    assert_eq!(listed["pushers"].as_array().unwrap().len(), 1);
    assert_eq!(listed["pushers"][0]["device_display_name"], "Tablet");
    assert_eq!(listed["pushers"][0]["profile_tag"], "");
    // A kind no server delivers for is kept, as Synapse keeps it.
    let mut other = http_pusher("key-2", json!({}));
    other["kind"] = json!("org.example.kind");
    assert_eq!(set_pusher(&bob, other).await.0, 200);
    assert_eq!(pushkeys(&bob).await, ["key-1", "key-2"]);

    // kind null deletes; deleting what is not there is fine too.
    let delete = json!({"kind": null, "app_id": "org.example.app", "pushkey": "key-1"});
    assert_eq!(set_pusher(&bob, delete.clone()).await, (200, json!({})));
    assert_eq!(set_pusher(&bob, delete).await, (200, json!({})));
    assert_eq!(pushkeys(&bob).await, ["key-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushkey_moves_between_users_unless_appended() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let data = json!({"url": "https://push.example/_matrix/push/v1/notify"});
    assert_eq!(
        set_pusher(&bob, http_pusher("shared", data.clone()))
            .await
            .0,
        200
    );
    let mut appended = http_pusher("shared", data.clone());
    appended["append"] = json!(true);
    assert_eq!(set_pusher(&carol, appended).await.0, 200);
    assert_eq!(pushkeys(&bob).await, ["shared"]);
    assert_eq!(pushkeys(&carol).await, ["shared"]);
    // Without append, carol's pusher takes the pushkey from bob.
    assert_eq!(set_pusher(&carol, http_pusher("shared", data)).await.0, 200);
    assert_eq!(pushkeys(&bob).await, Vec::<String>::new());
    assert_eq!(pushkeys(&carol).await, ["shared"]);
}

/// A pusher body with `key` set to `value` (removed when `None`).
fn pusher_with(key: &str, value: Option<Value>) -> Value {
    let url = json!({"url": "https://push.example/_matrix/push/v1/notify"});
    let mut body = http_pusher("key", url);
    match value {
        Some(v) => body[key] = v,
        None => {
            body.as_object_mut().unwrap().remove(key);
        }
    }
    body
}

/// Bodies Synapse answers 400 `M_MISSING_PARAM` for, with its message.
fn missing_param_cases() -> Vec<(Value, &'static str)> {
    let data = |v: Value| pusher_with("data", Some(v));
    vec![
        (
            json!({}),
            "Missing params: ['kind', 'app_id', 'app_display_name', 'device_display_name', \
             'pushkey', 'lang', 'data']",
        ),
        (pusher_with("lang", None), "Missing params: ['lang']"),
        (
            json!({"kind": null, "app_id": "org.example.app"}),
            "Missing params: ['app_display_name', 'device_display_name', 'pushkey', 'lang', \
             'data']",
        ),
        (
            data(json!({})),
            "Config Error: 'url' required in data for HTTP pusher",
        ),
        (
            data(json!({"url": 5})),
            "Config Error: 'url' must be a string",
        ),
        (
            data(json!({"url": "ftp://push.example/_matrix/push/v1/notify"})),
            "Config Error: 'url' must be an http or https URL",
        ),
        (
            data(json!({"url": "not a url"})),
            "Config Error: 'url' must be an http or https URL",
        ),
        (
            data(json!({"url": "https://push.example/notify"})),
            "Config Error: 'url' must have a path of '/_matrix/push/v1/notify'",
        ),
        (
            data(Value::Null),
            "Config Error: 'data' key can not be null for HTTP pusher",
        ),
    ]
}

/// Other bad bodies: `(body, errcode, error)`.
fn other_bad_cases() -> Vec<(Value, &'static str, &'static str)> {
    let with = |key: &str, v: Value| pusher_with(key, Some(v));
    let invalid = "M_INVALID_PARAM";
    vec![
        (
            with("app_id", json!("a".repeat(65))),
            invalid,
            "app_id must be at most 64 characters",
        ),
        (
            with("pushkey", json!("k".repeat(513))),
            invalid,
            "pushkey must be at most 512 bytes",
        ),
        // 257 characters, 514 bytes.
        (
            with("pushkey", json!("é".repeat(257))),
            invalid,
            "pushkey must be at most 512 bytes",
        ),
        (with("app_id", json!(5)), invalid, "app_id must be a string"),
        (
            with("append", json!("yes")),
            invalid,
            "append must be a boolean",
        ),
        (
            with("kind", json!("email")),
            "M_THREEPID_NOT_FOUND",
            "Email not found",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pusher_requests_get_synapses_errors() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    let missing = missing_param_cases()
        .into_iter()
        .map(|(body, error)| (body, "M_MISSING_PARAM", error));
    for (body, errcode, error) in missing.chain(other_bad_cases()) {
        let got = set_pusher(&bob, body.clone()).await;
        let want = (400, json!({"errcode": errcode, "error": error}));
        assert_eq!(got, want, "{body}");
    }
    assert_eq!(pushkeys(&bob).await, Vec::<String>::new());
    // The longest allowed app ID and pushkey are fine.
    let mut longest = pusher_with("app_id", Some(json!("a".repeat(64))));
    longest["pushkey"] = json!("k".repeat(512));
    assert_eq!(set_pusher(&bob, longest).await.0, 200);
    let (status, body) = s
        .call("GET", "/_matrix/client/v3/pushers", None, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    let (status, body) = s
        .call(
            "POST",
            "/_matrix/client/v3/pushers/set",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_gets_the_spec_notify_body() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Push room").await;
    let mut gateway = Gateway::start(Vec::new()).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let data = json!({"url": gateway.url, "extra": "kept"});
    assert_eq!(set_pusher(&bob, http_pusher("bob-key", data)).await.0, 200);

    // bob's display name highlights, with a sound.
    let event_id = say(&alice, &room, "hello bob").await;
    let (_, body) = gateway.next().await;
    let pushkey_ts = body["notification"]["devices"][0]["pushkey_ts"]
        .as_i64()
        .unwrap();
    assert!((before..=before + 5).contains(&pushkey_ts), "{body}");
    assert_eq!(
        body,
        json!({"notification": {
            "event_id": event_id, "room_id": room, "type": "m.room.message",
            "sender": alice.user_id, "sender_display_name": "alice", "room_name": "Push room",
            "content": {"msgtype": "m.text", "body": "hello bob"},
            "prio": "high", "counts": {"unread": 1},
            "devices": [{
                "app_id": "org.example.app", "pushkey": "bob-key", "pushkey_ts": pushkey_ts,
                "data": {"extra": "kept"},
                "tweaks": {"sound": "default", "highlight": true},
            }],
        }})
    );

    // event_id_only: IDs, priority and counts only, and no tweaks.
    let data = json!({"url": gateway.url, "format": "event_id_only"});
    assert_eq!(set_pusher(&bob, http_pusher("bob-key", data)).await.0, 200);
    let event_id = say(&alice, &room, "hello again bob").await;
    let (_, body) = gateway.next().await;
    assert_eq!(
        body,
        json!({"notification": {
            "event_id": event_id, "room_id": room, "prio": "high", "counts": {"unread": 1},
            "devices": [{
                "app_id": "org.example.app", "pushkey": "bob-key",
                "pushkey_ts": body["notification"]["devices"][0]["pushkey_ts"],
                "data": {"format": "event_id_only"},
            }],
        }})
    );
    // alice, the sender, has no pusher and bob's is not called for his own messages.
    say(&bob, &room, "my own words").await;
    let marker = say(&alice, &room, "marker").await;
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["event_id"], json!(marker));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_gateway_is_retried_after_a_back_off() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Retry").await;
    let mut gateway = Gateway::start(vec![(500, json!({"error": "down"}))]).await;
    let data = json!({"url": gateway.url});
    assert_eq!(set_pusher(&bob, http_pusher("bob-key", data)).await.0, 200);
    let event_id = say(&alice, &room, "are you getting this").await;
    let (first_at, first) = gateway.next().await;
    let (second_at, second) = gateway.next().await;
    assert_eq!(first, second);
    assert_eq!(second["notification"]["event_id"], json!(event_id));
    assert!(second_at - first_at >= Duration::from_millis(900));
    // Delivered: the next event goes straight through, once.
    let next = say(&alice, &room, "and this").await;
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["event_id"], json!(next));
    assert_eq!(pushkeys(&bob).await, ["bob-key"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_pushkey_loses_its_pusher() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Rejected").await;
    let script = vec![
        // Another pushkey rejected: ignored, as Synapse ignores it.
        (200, json!({"rejected": ["someone-else"]})),
        (200, json!({"rejected": ["bob-key"]})),
    ];
    let mut gateway = Gateway::start(script).await;
    let data = json!({"url": gateway.url});
    assert_eq!(set_pusher(&bob, http_pusher("bob-key", data)).await.0, 200);
    say(&alice, &room, "first").await;
    gateway.next().await;
    assert_eq!(pushkeys(&bob).await, ["bob-key"]);
    say(&alice, &room, "second").await;
    gateway.next().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pushkeys(&bob).await.is_empty() {
        assert!(Instant::now() < deadline, "the pusher was not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_never_waits_for_a_gateway() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Stuck").await;
    // A gateway that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/_matrix/push/v1/notify",
        listener.local_addr().unwrap()
    );
    let (held_tx, mut held) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = held_tx.send(socket);
        }
    });
    assert_eq!(
        set_pusher(&bob, http_pusher("bob-key", json!({"url": url})))
            .await
            .0,
        200
    );
    let started = Instant::now();
    for n in 0..3 {
        say(&alice, &room, &format!("message {n}")).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The gateway was called all the same.
    let socket = tokio::time::timeout(Duration::from_secs(10), held.recv()).await;
    assert!(matches!(socket, Ok(Some(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_accounts_get_no_pushes() {
    // Synapse's pusher pool asks `is_user_expired` before pushing; the account_validity
    // sample module answers it. root is registered before the module, so never expires.
    let w = Workdir::new();
    let first = server(&w).await;
    let root = first.register("root").await;
    drop(first);
    let s = TestServer::start(&w.config(&format!(
        "enable_registration: true\n{ALLOW_LOOPBACK}admin_users: [\"@root:test.local\"]\nmodules:\n  \
         - module: account_validity\n    config: {{period: 1h, check_interval: 1h}}\n",
    )))
    .await;
    let root = s.client(&root.user_id, &root.token);
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let room = room_with_bob(&alice, &bob, "Expiry").await;
    let join = format!("/join/{room}");
    assert_eq!(carol.call("POST", &join, Some(json!({}))).await.0, 200);
    let mut gateway = Gateway::start(Vec::new()).await;
    for (who, key) in [(&bob, "bob-key"), (&carol, "carol-key")] {
        let body = http_pusher(key, json!({"url": gateway.url}));
        assert_eq!(set_pusher(who, body).await.0, 200);
    }
    let expire = json!({"user_id": bob.user_id, "expiration_ts": 1000});
    let (status, body) = s
        .call(
            "POST",
            "/_synapse/client/account_validity/admin",
            Some(&root.token),
            Some(expire),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Three notifications reach carol; none reaches bob, whose worker skips each.
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(say(&alice, &room, &format!("message {n}")).await);
    }
    let mut to_carol = Vec::new();
    while to_carol.len() < 3 {
        let (_, body) = gateway.next().await;
        let device = &body["notification"]["devices"][0];
        assert_eq!(device["pushkey"], "carol-key", "bob is expired: {body}");
        to_carol.push(
            body["notification"]["event_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(to_carol, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pusher_goes_with_its_device() {
    let w = Workdir::new();
    let s = server(&w).await;
    let bob = s.register("bob").await;
    let login = json!({"type": "m.login.password", "password": "pw",
        "identifier": {"type": "m.id.user", "user": "bob"}});
    let (status, other) = s
        .call("POST", "/_matrix/client/v3/login", None, Some(login))
        .await;
    assert_eq!(status, 200, "{other}");
    let phone = s.client(&bob.user_id, other["access_token"].as_str().unwrap());
    let url = json!({"url": "https://push.example/_matrix/push/v1/notify"});
    assert_eq!(
        set_pusher(&bob, http_pusher("first", url.clone())).await.0,
        200
    );
    assert_eq!(set_pusher(&phone, http_pusher("phone", url)).await.0, 200);
    assert_eq!(pushkeys(&phone).await, ["first", "phone"]);
    // Logging out ends the first device, and its pusher with it.
    assert_eq!(bob.call("POST", "/logout", Some(json!({}))).await.0, 200);
    assert_eq!(pushkeys(&phone).await, ["phone"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_sends_the_new_badge_when_it_changed() {
    let w = Workdir::new();
    let s = server(&w).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room_with_bob(&alice, &bob, "Badges").await;
    let mut gateway = Gateway::start(Vec::new()).await;
    let data = json!({"url": gateway.url, "extra": 1});
    assert_eq!(set_pusher(&bob, http_pusher("bob-key", data)).await.0, 200);
    let first = say(&alice, &room, "one").await;
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["counts"], json!({"unread": 1}));
    let pushkey_ts = body["notification"]["devices"][0]["pushkey_ts"].clone();

    let receipt = format!("/rooms/{room}/receipt/m.read/{first}");
    assert_eq!(bob.call("POST", &receipt, Some(json!({}))).await.0, 200);
    let (_, badge) = gateway.next().await;
    assert_eq!(
        badge,
        json!({"notification": {
            "counts": {"unread": 0},
            "devices": [{"app_id": "org.example.app", "pushkey": "bob-key",
                         "pushkey_ts": pushkey_ts, "data": {"extra": 1}}],
        }})
    );
    // A receipt that leaves the badge as it was sends nothing: bob reads a quiet second room
    // while the first has unread messages; the next body is the next notification.
    let quiet = room_with_bob(&alice, &bob, "Quiet").await;
    let second = say(&alice, &room, "two").await;
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["event_id"], json!(second));
    assert_eq!(body["notification"]["counts"], json!({"unread": 1}));
    let (_, sync) = bob.call("GET", "/sync", None).await;
    let last_in_quiet = sync["rooms"]["join"][&quiet]["timeline"]["events"]
        .as_array()
        .and_then(|events| events.last())
        .and_then(|e| e["event_id"].as_str())
        .unwrap()
        .to_string();
    let receipt = format!("/rooms/{quiet}/receipt/m.read/{last_in_quiet}");
    assert_eq!(bob.call("POST", &receipt, Some(json!({}))).await.0, 200);
    let third = say(&alice, &room, "three").await;
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["event_id"], json!(third));
}

/// `method path` on a server process with `token`: (status, JSON body).
async fn call_process(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    modhost_tests::client_call(base, method, path, token, Some(body)).await
}

/// Register `localpart` on a server process; its access token.
async fn register_process(base: &str, localpart: &str) -> String {
    let body = json!({"username": localpart, "password": "pw", "auth": {"type": "m.login.dummy"}});
    let (status, reg) = call_process(base, "POST", "/register", None, body).await;
    assert_eq!(status, 200, "{reg}");
    reg["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_a_restart_interrupted_are_delivered_after_it() {
    let w = Workdir::new();
    let config = w.config(&format!(
        "enable_registration: true\n{ALLOW_LOOPBACK}modules: []\n"
    ));
    // A port nothing listens on yet: the gateway is down while the first process runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut first = ServerProcess::start(&w, &config);
    let base = first.base.clone();
    let alice = register_process(&base, "alice").await;
    let bob = register_process(&base, "bob").await;
    let (_, room) = call_process(
        &base,
        "POST",
        "/createRoom",
        Some(&alice),
        json!({"preset": "public_chat"}),
    )
    .await;
    let room = room["room_id"].as_str().unwrap().to_string();
    let join = format!("/join/{room}");
    assert_eq!(
        call_process(&base, "POST", &join, Some(&bob), json!({}))
            .await
            .0,
        200
    );
    let url = format!("http://127.0.0.1:{port}/_matrix/push/v1/notify");
    let pusher = http_pusher("bob-key", json!({"url": url}));
    let set = call_process(&base, "POST", "/pushers/set", Some(&bob), pusher).await;
    assert_eq!(set.0, 200);
    let send = format!("/rooms/{room}/send/m.room.message/t1");
    let message = json!({"msgtype": "m.text", "body": "while the gateway is down"});
    let (status, sent) = call_process(&base, "PUT", &send, Some(&alice), message).await;
    assert_eq!(status, 200, "{sent}");
    first.kill();

    let mut gateway = Gateway::start_on(port, Vec::new()).await;
    let _second = ServerProcess::start(&w, &config);
    let (_, body) = gateway.next().await;
    assert_eq!(body["notification"]["event_id"], sent["event_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_on_a_private_address_is_never_posted_to_by_default() {
    let w = Workdir::new();
    let config = w.config("enable_registration: true\nmodules: []\n");
    let server = ServerProcess::start(&w, &config);
    let base = server.base.clone();
    let alice = register_process(&base, "alice").await;
    let bob = register_process(&base, "bob").await;
    let (_, room) = call_process(
        &base,
        "POST",
        "/createRoom",
        Some(&alice),
        json!({"preset": "public_chat"}),
    )
    .await;
    let room = room["room_id"].as_str().unwrap().to_string();
    call_process(
        &base,
        "POST",
        &format!("/join/{room}"),
        Some(&bob),
        json!({}),
    )
    .await;
    let mut gateway = Gateway::start(Vec::new()).await;
    let set = call_process(
        &base,
        "POST",
        "/pushers/set",
        Some(&bob),
        http_pusher("k", json!({"url": gateway.url})),
    )
    .await;
    assert_eq!(
        set.0, 200,
        "the pusher is stored; its address is checked when sending"
    );
    let message = json!({"msgtype": "m.text", "body": "secret content"});
    let sent = call_process(
        &base,
        "PUT",
        &format!("/rooms/{room}/send/m.room.message/t1"),
        Some(&alice),
        message,
    )
    .await;
    assert_eq!(sent.0, 200);
    let log = server.wait_for_log("push gateway address refused");
    assert!(log.contains("refused to connect to 127.0.0.1: the address is in module_http_client.ip_range_blocklist"), "{log}");
    assert!(
        gateway.bodies.try_recv().is_err(),
        "the gateway got nothing"
    );
}
