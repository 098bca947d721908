//! The clients of a load run: each registers, then loops createRoom → 5 × send → incremental
//! sync, sending each request to the next server of its list (a round-robin load balancer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

/// Latencies per request type, and the requests that did not succeed.
#[derive(Default)]
pub struct Samples {
    pub create: Vec<Duration>,
    pub send: Vec<Duration>,
    pub sync: Vec<Duration>,
    pub errors: u64,
}

impl Samples {
    fn extend(&mut self, other: Samples) {
        self.create.extend(other.create);
        self.send.extend(other.send);
        self.sync.extend(other.sync);
        self.errors += other.errors;
    }

    /// Print `label`'s requests/s over `seconds` and p50/p99 per request type.
    pub fn report(&mut self, label: &str, clients: usize, seconds: u64) {
        let total = self.create.len() + self.send.len() + self.sync.len();
        println!(
            "{label}: {clients} clients, {seconds}s, {:.0} req/s, {} errors",
            total as f64 / seconds as f64,
            self.errors
        );
        for (name, v) in [
            ("createRoom", &mut self.create),
            ("send", &mut self.send),
            ("sync", &mut self.sync),
        ] {
            let n = v.len();
            println!(
                "  {name:<10} n={n:<6} p50 {:7.2} ms  p99 {:7.2} ms",
                pct(v, 0.5),
                pct(v, 0.99)
            );
        }
    }
}

/// The `p` quantile (0..=1) of `v`, in ms.
fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

/// Run `clients` clients for `seconds` against `bases` (`http://host:port` of each server).
pub async fn drive(bases: &[String], clients: usize, seconds: u64) -> Samples {
    let http = reqwest::Client::new();
    let samples = Arc::new(Mutex::new(Samples::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, bases, samples) = (http.clone(), bases.to_vec(), Arc::clone(&samples));
        tasks.push(tokio::spawn(async move {
            let mut client = LoadClient::register(http, bases, c).await;
            while Instant::now() < deadline {
                let s = client.round().await;
                samples.lock().await.extend(s);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(samples).ok().unwrap().into_inner()
}

/// One client: its token, its sync position and where its next request goes.
struct LoadClient {
    http: reqwest::Client,
    bases: Vec<String>,
    next: usize,
    token: String,
    since: Option<String>,
    txn: u64,
    id: usize,
}

impl LoadClient {
    async fn register(http: reqwest::Client, bases: Vec<String>, id: usize) -> LoadClient {
        let base = &bases[id % bases.len()];
        let reg: Value = http
            .post(format!("{base}/_matrix/client/v3/register"))
            .json(&json!({"username": format!("user{id}"), "password": "pw", "auth": {"type": "m.login.dummy"}}))
            .send().await.unwrap().json().await.unwrap();
        let token = reg["access_token"].as_str().unwrap().to_string();
        LoadClient {
            http,
            next: id,
            bases,
            token,
            since: None,
            txn: 0,
            id,
        }
    }

    /// The server for the next request (round robin).
    fn base(&mut self) -> String {
        self.next += 1;
        self.bases[self.next % self.bases.len()].clone()
    }

    /// createRoom, 5 sends into it, one incremental sync.
    async fn round(&mut self) -> Samples {
        let mut s = Samples::default();
        let url = format!("{}/_matrix/client/v3/createRoom", self.base());
        let t = Instant::now();
        let r = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&json!({"name": "load"}))
            .send()
            .await
            .unwrap();
        s.errors += u64::from(!r.status().is_success());
        let room: Value = r.json().await.unwrap_or_default();
        s.create.push(t.elapsed());
        let room_id = room["room_id"].as_str().unwrap_or_default().to_string();
        for i in 0..5 {
            self.txn += 1;
            let url = format!(
                "{}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{}_{}",
                self.base(),
                self.id,
                self.txn
            );
            let t = Instant::now();
            let r = self
                .http
                .put(url)
                .bearer_auth(&self.token)
                .json(&json!({"msgtype": "m.text", "body": format!("message {i}")}))
                .send()
                .await
                .unwrap();
            s.errors += u64::from(!r.status().is_success());
            let _ = r.bytes().await;
            s.send.push(t.elapsed());
        }
        let base = self.base();
        let url = match &self.since {
            Some(tok) => format!("{base}/_matrix/client/v3/sync?since={tok}&timeout=0"),
            None => format!("{base}/_matrix/client/v3/sync?timeout=0"),
        };
        let t = Instant::now();
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        s.errors += u64::from(!r.status().is_success());
        let body: Value = r.json().await.unwrap_or_default();
        self.since = body["next_batch"].as_str().map(String::from);
        s.sync.push(t.elapsed());
        s
    }
}
