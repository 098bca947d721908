//! Hostile and slow clients (issue 17, items 2 and 3): garbage methods cannot grow the
//! metrics page; idle, half-sent and oversized requests are cut off by the listener's
//! limits; a connection cap does not lock new clients out; SIGTERM ends within its bound.
//! Socket tests talk raw TCP to the real binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use modhost_tests::{client_call, modhost_bin, strip_ansi, ServerProcess, TestServer, Workdir};
use serde_json::{json, Value};

/// A server process with `listener:` set to `listener` (a YAML flow mapping).
fn server_with(w: &Workdir, listener: &str) -> ServerProcess {
    let config = w.config(&format!(
        "enable_registration: true\nlistener: {listener}\nmodules: []\n"
    ));
    ServerProcess::start(w, &config)
}

/// A raw connection to `base` (`http://127.0.0.1:<port>`), reads timing out after 20 s.
fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Read until the server closes the connection: (what it sent, how long that took). Panics
/// if it is still open after 20 s.
fn read_to_close(mut stream: TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("connection still open after {:?}: {e}", started.elapsed()),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_methods_share_one_label_and_the_metrics_page_stays_small() {
    let w = Workdir::new();
    let s = TestServer::start(&w.config("modules: []\n")).await;
    let filler = "A".repeat(1000);
    let sent = futures_util::stream::iter(0..2000)
        .map(|i| {
            let method = reqwest::Method::from_bytes(format!("M{i}{filler}").as_bytes()).unwrap();
            let request = s.http.request(method, format!("{}/nope", s.base));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect::<Vec<u16>>()
        .await;
    assert!(sent.iter().all(|&status| status == 404), "{sent:?}");
    // Matched routes are labelled by their template, whatever their parameters.
    for i in 0..50 {
        let url = format!("{}/_matrix/client/v3/profile/@garbage{i}:x", s.base);
        s.http.get(url).send().await.unwrap();
    }
    let page = s
        .http
        .get(format!("{}/_modhost/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.len() < 20_000, "{} bytes:\n{page}", page.len());
    assert!(!page.contains("AAAA"), "{page}");
    assert!(
        page.contains(
            "modhost_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 2000\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("method=\"GET\",route=\"/_matrix/client/v3/profile/{user}\""),
        "{page}"
    );
    assert!(!page.contains("garbage"), "{page}");
}

#[test]
fn an_idle_connection_is_closed_after_idle_timeout() {
    let w = Workdir::new();
    let s = server_with(&w, "{idle_timeout_ms: 400, header_timeout_ms: 5000}");
    let (sent, took) = read_to_close(connect(&s.base));
    assert_eq!(sent, "");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A kept-alive connection is closed the same way after its last answer.
    let mut kept = connect(&s.base);
    kept.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (sent, took) = read_to_close(kept);
    assert!(sent.starts_with("HTTP/1.1 200 OK"), "{sent}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn half_sent_headers_and_bodies_are_cut_off() {
    let w = Workdir::new();
    let s = server_with(
        &w,
        "{idle_timeout_ms: 60000, header_timeout_ms: 400, body_timeout_ms: 400}",
    );
    let mut headers = connect(&s.base);
    headers
        .write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (sent, took) = read_to_close(headers);
    assert_eq!(sent, "", "no answer to half a request");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let mut body = connect(&s.base);
    body.write_all(
        b"POST /_matrix/client/v3/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
    )
    .unwrap();
    let (sent, took) = read_to_close(body);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(sent.starts_with("HTTP/1.1 400 Bad Request"), "{sent}");
    assert!(
        sent.ends_with(r#"{"errcode":"M_UNKNOWN","error":"The request body could not be read"}"#),
        "{sent}"
    );
}

#[test]
fn a_body_declared_too_large_is_refused_from_the_headers() {
    let w = Workdir::new();
    let s = server_with(&w, "{}");
    let started = Instant::now();
    let mut stream = connect(&s.base);
    stream
        .write_all(
            b"POST /_matrix/client/v3/createRoom HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
        )
        .unwrap();
    let (sent, _) = read_to_close(stream);
    assert!(sent.starts_with("HTTP/1.1 413 Payload Too Large"), "{sent}");
    assert!(
        sent.ends_with(r#"{"errcode":"M_TOO_LARGE","error":"Request body is too large"}"#),
        "{sent}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Uploads have their own limit (max_upload_size, 50 MiB by default).
    let mut upload = connect(&s.base);
    upload
        .write_all(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 52428801\r\n\r\n")
        .unwrap();
    let (sent, _) = read_to_close(upload);
    assert!(sent.starts_with("HTTP/1.1 413 Payload Too Large"), "{sent}");
    assert!(
        sent.ends_with(r#"{"errcode":"M_TOO_LARGE","error":"Upload request body is too large"}"#),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_beyond_the_cap_do_not_lock_out_a_new_client() {
    let w = Workdir::new();
    // Idle connections would live a minute: only the cap's eviction makes room.
    let s = server_with(&w, "{max_connections: 4, idle_timeout_ms: 60000}");
    let idle: Vec<TcpStream> = (0..40).map(|_| connect(&s.base)).collect();
    let started = Instant::now();
    let versions = reqwest::get(format!("{}/_matrix/client/versions", s.base));
    let answer = tokio::time::timeout(Duration::from_secs(5), versions)
        .await
        .expect("/versions answered within 5 s")
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.unwrap();
    assert!(body["versions"].is_array(), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The oldest idle connections were the ones closed to make room.
    let (sent, took) = read_to_close(idle.into_iter().next().unwrap());
    assert_eq!(sent, "");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_long_polls_at_once_and_exits_within_the_grace_period() {
    let w = Workdir::new();
    let mut s = server_with(&w, "{shutdown_grace_ms: 1000, body_timeout_ms: 60000}");
    let body =
        json!({"username": "poller", "password": "pw-pw-pw-pw", "auth": {"type": "m.login.dummy"}});
    let (status, reg) = client_call(&s.base, "POST", "/register", None, Some(body)).await;
    assert_eq!(status, 200, "{reg}");
    let token = reg["access_token"].as_str().unwrap().to_string();
    let (_, first) = client_call(&s.base, "GET", "/sync?timeout=0", Some(&token), None).await;
    let since = first["next_batch"].as_str().unwrap().to_string();
    let poll = {
        let (base, token) = (s.base.clone(), token.clone());
        let path = format!("/sync?since={since}&timeout=60000");
        tokio::spawn(async move { client_call(&base, "GET", &path, Some(&token), None).await })
    };
    // Half a request (headers sent, body never finished) keeps a request in progress.
    let mut half = connect(&s.base);
    half.write_all(
        b"POST /_matrix/client/v3/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .unwrap();
    let mut silent = connect(&s.base);
    silent
        .write_all(b"GET /_matrix/client/versions HTTP/1.1\r\n")
        .unwrap();
    // Nothing to poll for "the long-poll has reached the server": give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let code = tokio::task::spawn_blocking(move || s.terminate())
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(
        started.elapsed() < Duration::from_millis(1000 + 3000),
        "{:?}",
        started.elapsed()
    );
    let (status, answer): (u16, Value) = poll.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer["next_batch"].is_string(), "{answer}");
    drop((half, silent));
}

#[tokio::test(flavor = "multi_thread")]
async fn running_out_of_file_descriptors_backs_off_logs_once_and_recovers() {
    let w = Workdir::new();
    let config = w.config("listener: {idle_timeout_ms: 60000}\nmodules: []\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = w.path().join("server.log");
    // 96 descriptors: the database and runtime take some; 150 idle clients exhaust the rest
    // long before max_connections (1024) is reached.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 96 && exec \"$0\" --config \"$1\" --listen \"$2\"")
        .arg(modhost_bin())
        .arg(&config)
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let idle: Vec<TcpStream> = (0..150).map(|_| connect(&base)).collect();
    let versions = reqwest::get(format!("{base}/_matrix/client/versions"));
    let answer = tokio::time::timeout(Duration::from_secs(10), versions).await;
    let text = strip_ansi(&std::fs::read_to_string(&log).unwrap());
    let _ = child.kill();
    let _ = child.wait();
    let answer = answer.expect("/versions answered within 10 s").unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let logged = text.matches("accept failed; backing off").count();
    assert_eq!(logged, 1, "{text}");
    assert!(text.contains("Too many open files"), "{text}");
    drop(idle);
}
