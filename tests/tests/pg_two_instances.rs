//! Two `modhost` processes on one PostgreSQL database, as behind a round-robin load balancer:
//! a session made on one works on the other, a write on one wakes `/sync` long-polls waiting
//! on the other, typing and module cache invalidations cross over, sync tokens from one are
//! good on the other, and killing one with SIGKILL under a write load loses no acknowledged
//! write.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use modhost_tests::{client_call, postgres, ServerProcess, Workdir};
use serde_json::{json, Value};

/// One instance: its directory (config and log) and process.
struct Instance {
    _dir: Workdir,
    process: ServerProcess,
}

impl Instance {
    /// Start an instance on `database_url` with `rest` of the config (after the database).
    fn start(database_url: &str, rest: &str) -> Instance {
        let dir = Workdir::new();
        let config = dir.config(&format!(
            "enable_registration: true\ndatabase: {{url: \"{database_url}\", max_connections: 8}}\n{rest}"
        ));
        let process = ServerProcess::start(&dir, &config);
        Instance { _dir: dir, process }
    }

    fn base(&self) -> &str {
        &self.process.base
    }
}

/// A session: the instance it talks to and its token.
#[derive(Clone)]
struct Session {
    base: String,
    token: String,
    user_id: String,
}

impl Session {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        client_call(&self.base, method, path, Some(&self.token), body).await
    }

    async fn say(&self, room: &str, text: &str) -> (u16, Value) {
        let path = format!(
            "/rooms/{room}/send/m.room.message/{}",
            modhost_tests::unique_txn()
        );
        let body = json!({"msgtype": "m.text", "body": text});
        self.call("PUT", &path, Some(body)).await
    }

    async fn next_batch(&self) -> String {
        let (status, body) = self.call("GET", "/sync?timeout=0", None).await;
        assert_eq!(status, 200, "{body}");
        body["next_batch"].as_str().unwrap().to_string()
    }
}

async fn register(on: &Instance, localpart: &str) -> Session {
    let body = json!({"username": localpart, "password": "pw", "auth": {"type": "m.login.dummy"}});
    let (status, resp) = client_call(on.base(), "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{resp}");
    Session {
        base: on.base().to_string(),
        token: resp["access_token"].as_str().unwrap().to_string(),
        user_id: resp["user_id"].as_str().unwrap().to_string(),
    }
}

async fn log_in(on: &Instance, localpart: &str) -> Session {
    let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": "pw"});
    let (status, resp) = client_call(on.base(), "POST", "/login", None, Some(body)).await;
    assert_eq!(status, 200, "log in on the other instance: {resp}");
    Session {
        base: on.base().to_string(),
        token: resp["access_token"].as_str().unwrap().to_string(),
        user_id: resp["user_id"].as_str().unwrap().to_string(),
    }
}

/// The number of users with a long-poll waiting on `instance` (its metric).
async fn waiting(instance: &Instance) -> u64 {
    let text = reqwest::get(format!("{}/_modhost/metrics", instance.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("modhost_sync_long_poll_users "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Start a 10 s long-poll of `session` from `since`, and return once it is waiting: the
/// handle yields when it returned and its body.
async fn long_poll(
    session: &Session,
    instance: &Instance,
    since: &str,
) -> tokio::task::JoinHandle<(Instant, Value)> {
    let (s, since) = (session.clone(), since.to_string());
    let before = waiting(instance).await;
    let poll = tokio::spawn(async move {
        let path = format!("/sync?timeout=10000&since={since}");
        let (status, body) = s.call("GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        (Instant::now(), body)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while waiting(instance).await <= before {
        assert!(Instant::now() < deadline, "the long-poll never waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    poll
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_works_on_both_and_a_write_on_one_wakes_a_long_poll_on_the_other() {
    let url = postgres::server().create_database();
    let (a, b) = (Instance::start(&url, ""), Instance::start(&url, ""));
    let alice_a = register(&a, "alice").await;
    let alice_b = log_in(&b, "alice").await;
    let (status, created) = alice_a
        .call(
            "POST",
            "/createRoom",
            Some(json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let room = created["room_id"].as_str().unwrap().to_string();

    // A message sent through B wakes alice's long-poll waiting on A.
    let since = alice_a.next_batch().await;
    let poll = long_poll(&alice_a, &a, &since).await;
    let (status, sent) = alice_b.say(&room, "from B").await;
    let acknowledged = Instant::now();
    assert_eq!(status, 200, "{sent}");
    let (woke, body) = poll.await.unwrap();
    let late = woke.saturating_duration_since(acknowledged);
    assert!(late < Duration::from_millis(100), "woke {late:?} after");
    let events = &body["rooms"]["join"][&room]["timeline"]["events"];
    assert_eq!(events[0]["event_id"], sent["event_id"], "{body}");

    // Typing is held in memory, yet typing through A shows in a long-poll waiting on B.
    let since = body["next_batch"].as_str().unwrap().to_string();
    let poll = long_poll(&alice_b, &b, &since).await;
    let path = format!("/rooms/{room}/typing/{}", alice_a.user_id);
    let typing = json!({"typing": true, "timeout": 20000});
    let (status, _) = alice_a.call("PUT", &path, Some(typing)).await;
    assert_eq!(status, 200);
    let acknowledged = Instant::now();
    let (woke, body) = poll.await.unwrap();
    assert!(woke.saturating_duration_since(acknowledged) < Duration::from_millis(100));
    let ephemeral = &body["rooms"]["join"][&room]["ephemeral"]["events"];
    assert_eq!(ephemeral[0]["type"], "m.typing", "{body}");
    assert_eq!(
        ephemeral[0]["content"]["user_ids"],
        json!([alice_a.user_id])
    );

    // A token handed out by B is good on A: what A's next sync gives is what came after.
    let since = body["next_batch"].as_str().unwrap().to_string();
    let (_, later) = alice_b.say(&room, "after the token").await;
    let (status, body) = alice_a
        .call("GET", &format!("/sync?timeout=0&since={since}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let events = &body["rooms"]["join"][&room]["timeline"]["events"];
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(events[0]["event_id"], later["event_id"]);
}

/// The `scripted` module with its SDK probe, for the module cache (see module_store.rs).
const CACHING_MODULE: &str =
    "modules:\n  - module: scripted\n    config: {label: a, sdk_probe: true, answers: {}}\n";

async fn probe(on: &Instance, method: &str, op: &str, body: Option<Value>) -> Value {
    let url = format!("{}/_synapse/client/scripted/a/probe/{op}", on.base());
    let http = reqwest::Client::new();
    let request = match method {
        "GET" => http.get(url),
        _ => http.post(url).json(&body.unwrap_or(Value::Null)),
    };
    let resp = request.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn cached(on: &Instance) -> Value {
    probe(on, "GET", "cached?key=k", None).await["ok"]["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_cache_invalidated_on_one_instance_is_dropped_on_the_other_within_100_ms() {
    let url = postgres::server().create_database();
    let a = Instance::start(&url, CACHING_MODULE);
    let b = Instance::start(&url, CACHING_MODULE);
    let set = |value: &'static str| json!({"key": "cache/k", "value": value});
    probe(&a, "POST", "kv", Some(set("one"))).await;
    assert_eq!(cached(&a).await, "one");
    assert_eq!(cached(&b).await, "one");
    probe(&a, "POST", "kv", Some(set("two"))).await;
    assert_eq!(cached(&b).await, "one", "B still holds its cached value");

    let invalidated = probe(&a, "POST", "invalidate", Some(json!({"key": "k"}))).await;
    assert_eq!(invalidated.get("error"), None, "{invalidated}");
    let acknowledged = Instant::now();
    loop {
        if cached(&b).await == "two" {
            break;
        }
        let waited = acknowledged.elapsed();
        assert!(
            waited < Duration::from_millis(100),
            "still cached after {waited:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(cached(&a).await, "two");
}

/// Send messages into `room` as `session` until `stop`: the event IDs acknowledged (200).
/// When its instance stops answering, the writer moves to `fallback`, as a load balancer
/// would; a request that got no answer is not acknowledged.
async fn write_until(
    session: Session,
    fallback: String,
    room: String,
    stop: Instant,
) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut base = session.base.clone();
    let mut acknowledged = Vec::new();
    let mut n = 0;
    while Instant::now() < stop {
        n += 1;
        let url = format!(
            "{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{}",
            modhost_tests::unique_txn()
        );
        let body = json!({"msgtype": "m.text", "body": format!("m{n}")});
        let sent = http
            .put(url)
            .bearer_auth(&session.token)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                assert_eq!(resp.status(), 200);
                let body: Value = resp.json().await.unwrap();
                acknowledged.push(body["event_id"].as_str().unwrap().to_string());
            }
            Err(_) => base = fallback.clone(),
        }
    }
    acknowledged
}

/// Chained incremental syncs of `reader` (alternating over `bases`) until `done` says stop
/// and a last sync came back empty: event ID → times seen.
async fn read_through(
    reader: &Session,
    bases: &[String],
    room: &str,
    mut since: String,
    done: &tokio::sync::watch::Receiver<bool>,
) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let http = reqwest::Client::new();
    let path = format!("/user/{}/filter", reader.user_id);
    let body = json!({"room": {"timeline": {"limit": 1000}}});
    let (_, created) = reader.call("POST", &path, Some(body)).await;
    let filter = created["filter_id"].as_str().unwrap().to_string();
    let mut round = 0;
    loop {
        let finished = *done.borrow();
        round += 1;
        let base = &bases[round % bases.len()];
        let url = format!("{base}/_matrix/client/v3/sync?timeout=0&since={since}&filter={filter}");
        let Ok(resp) = http.get(url).bearer_auth(&reader.token).send().await else {
            continue; // the killed instance
        };
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let timeline = &body["rooms"]["join"][room]["timeline"];
        assert_ne!(timeline["limited"], true, "a gap: {body}");
        let mut got = 0;
        for ev in timeline["events"].as_array().into_iter().flatten() {
            if ev["type"] == "m.room.message" {
                got += 1;
                let id = ev["event_id"].as_str().unwrap().to_string();
                *seen.entry(id).or_default() += 1;
            }
        }
        since = body["next_batch"].as_str().unwrap().to_string();
        if finished && got == 0 {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_an_instance_under_a_write_load_loses_no_acknowledged_write() {
    let url = postgres::server().create_database();
    let (a, mut b) = (Instance::start(&url, ""), Instance::start(&url, ""));
    let owner = register(&a, "owner").await;
    let (status, created) = owner
        .call(
            "POST",
            "/createRoom",
            Some(json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let room = created["room_id"].as_str().unwrap().to_string();
    let mut writers = Vec::new();
    for i in 0..6 {
        let s = register(if i % 2 == 0 { &a } else { &b }, &format!("w{i}")).await;
        let (status, body) = s.call("POST", &format!("/join/{room}"), None).await;
        assert_eq!(status, 200, "{body}");
        writers.push(s);
    }
    let since = owner.next_batch().await;
    let (done_tx, done) = tokio::sync::watch::channel(false);
    let bases = vec![a.base().to_string(), b.base().to_string()];
    let reader = {
        let (owner, room) = (owner.clone(), room.clone());
        tokio::spawn(async move { read_through(&owner, &bases, &room, since, &done).await })
    };
    let stop = Instant::now() + Duration::from_secs(4);
    let tasks: Vec<_> = writers
        .iter()
        .map(|s| {
            tokio::spawn(write_until(
                s.clone(),
                a.base().to_string(),
                room.clone(),
                stop,
            ))
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.process.kill();
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.unwrap());
    }
    done_tx.send(true).unwrap();
    let seen = reader.await.unwrap();

    assert!(
        acknowledged.len() > 20,
        "only {} writes",
        acknowledged.len()
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "seen more than once: {twice:?}");
    let missed: Vec<_> = acknowledged
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(
        missed.is_empty(),
        "acknowledged but never synced: {missed:?}"
    );

    // And the room's history on the surviving instance holds every one of them.
    let mut history = HashSet::new();
    let mut from = String::new();
    loop {
        let path = format!("/rooms/{room}/messages?dir=b&limit=100{from}");
        let (status, page) = owner.call("GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        for ev in page["chunk"].as_array().into_iter().flatten() {
            history.insert(ev["event_id"].as_str().unwrap().to_string());
        }
        match page["end"].as_str() {
            Some(end) => from = format!("&from={end}"),
            None => break,
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !history.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}
