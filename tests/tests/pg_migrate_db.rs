//! `modhost migrate-db --from sqlite:PATH --to postgres://…`: a server filled through HTTP
//! on SQLite (rooms, messages, media, module store data, a delivered to-device message) is
//! copied by the real binary into a fresh PostgreSQL database, where every table holds the
//! same rows; a second run changes nothing; a server on PostgreSQL then serves the same data.
//! A rerun after a server changed rows on the target (a password) is refused without a
//! write, and bad arguments get clear errors.
//!
//! The source server is told `database: {path: …}` explicitly: this binary's `pg_` name
//! would otherwise put it on PostgreSQL too (tests/src/postgres.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

use modhost_tests::{client_call, postgres, Client, TestServer, Workdir};
use serde_json::{json, Value};
use sqlx::Row;

/// Module schema steps run on the source (one store key each).
const STEPS: usize = 1201;

/// A config with registration, the `scripted` module (for its store) and `database`.
fn config(w: &Workdir, database: &str) -> PathBuf {
    let lib = w.copy_module("scripted", "a");
    w.config(&format!(
        "enable_registration: true\ndatabase: {database}\nmodules:\n  - module: {}\n    config: {{label: a, sdk_probe: true, answers: {{}}}}\n",
        lib.display()
    ))
}

/// Run `modhost migrate-db` with `args`: (exit code, stdout, stderr).
fn migrate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(modhost_tests::modhost_bin())
        .arg("migrate-db")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run modhost");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn upload(c: &Client, bytes: &[u8]) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/_matrix/media/v3/upload?filename=a.bin", c.base))
        .bearer_auth(&c.token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["content_uri"].as_str().unwrap().to_string()
}

/// Fill the SQLite server: two users in a named room, messages, an upload, module store
/// keys and a to-device message delivered (and so deleted). Returns (room, media URI).
async fn fill(s: &TestServer) -> (String, String) {
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice
        .create_room(json!({"preset": "public_chat", "name": "Migration"}))
        .await;
    assert_eq!(
        bob.call("POST", &format!("/join/{room}"), None).await.0,
        200
    );
    for text in ["first words", "second thoughts", "third umbrella"] {
        assert_eq!(alice.say(&room, text).await.0, 200);
    }
    let mxc = upload(&alice, b"\x00migrated bytes\xff").await;
    for (key, value) in [
        ("migrated/1", json!({"n": 1})),
        ("migrated/2", json!("two")),
    ] {
        let (status, body) = s
            .probe("a", "POST", "kv", Some(json!({"key": key, "value": value})))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // A module schema upgrade writes a key per step: enough rows for three copy batches.
    let (status, body) = s
        .probe("a", "POST", "migrate", Some(json!({"target": STEPS})))
        .await;
    assert_eq!((status, &body["ok"]), (200, &json!(STEPS)), "{body}");
    let txn = modhost_tests::unique_txn();
    let to_device = json!({"messages": {"@bob:test.local": {"*": {"hello": 1}}}});
    let sent = alice
        .call(
            "PUT",
            &format!("/sendToDevice/m.test/{txn}"),
            Some(to_device),
        )
        .await;
    assert_eq!(sent.0, 200, "{}", sent.1);
    let (_, first) = bob.call("GET", "/sync?timeout=0", None).await;
    let since = first["next_batch"].as_str().unwrap();
    let (_, second) = bob
        .call("GET", &format!("/sync?timeout=0&since={since}"), None)
        .await;
    assert!(second["next_batch"].is_string(), "{second}");
    (room, mxc)
}

/// The source's tables (as the copy lists them: not `health_probe`, a timestamp each server
/// rewrites) with their columns.
async fn source_tables(db: &sqlx::SqlitePool) -> Vec<(String, Vec<String>)> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') \
         AND name NOT LIKE 'sqlite%' AND name NOT IN ('_sqlx_migrations', 'health_probe') \
         ORDER BY name",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut tables = Vec::new();
    for name in names {
        let columns = sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(&name)
            .fetch_all(db)
            .await
            .unwrap();
        tables.push((name, columns));
    }
    tables
}

/// Every row of `table` as text (both databases print integers alike), sorted.
fn select_all(table: &str, columns: &[String]) -> String {
    let cast: Vec<String> = columns
        .iter()
        .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
        .collect();
    format!("SELECT {} FROM \"{table}\"", cast.join(", "))
}

type Rows = Vec<Vec<Option<String>>>;

fn texts<R: Row>(rows: Vec<R>) -> Rows
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let mut out: Rows = rows
        .iter()
        .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
        .collect();
    out.sort();
    out
}

/// Check that every source table holds exactly the same rows in the target; each
/// table's row count, by name.
async fn same_rows(sqlite: &Path, url: &str) -> Vec<(String, usize)> {
    let source = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", sqlite.display()))
        .await
        .unwrap();
    let target = sqlx::PgPool::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for (table, columns) in source_tables(&source).await {
        let sql = select_all(&table, &columns);
        let from = texts(sqlx::query(&sql).fetch_all(&source).await.unwrap());
        let to = texts(sqlx::query(&sql).fetch_all(&target).await.unwrap());
        assert_eq!(to, from, "table {table}");
        counts.push((table, from.len()));
    }
    source.close().await;
    target.close().await;
    counts
}

/// What a successful run prints: a line per table, then the summary.
fn expected_output(counts: &[(String, usize)], from: &str, url: &str) -> String {
    let mut out = String::new();
    for (table, n) in counts {
        out.push_str(&format!("{table}: {n} rows (source {n}, target {n})\n"));
    }
    out.push_str(&format!(
        "copied {} tables from {from} to {url}\n",
        counts.len()
    ));
    out
}

/// A password login (and UIA stage) as alice with `password`.
fn alice_auth(password: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": password})
}

/// Log in as alice with `password`: (status, body).
async fn try_login(base: &str, password: &str) -> (u16, Value) {
    client_call(base, "POST", "/login", None, Some(alice_auth(password))).await
}

async fn login(base: &str, password: &str) -> String {
    let (status, resp) = try_login(base, password).await;
    assert_eq!(status, 200, "{resp}");
    resp["access_token"].as_str().unwrap().to_string()
}

async fn message_bodies(alice: &Client, room: &str) -> Vec<String> {
    let (status, page) = alice
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=50"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut bodies: Vec<String> = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["body"].as_str().map(String::from))
        .collect();
    bodies.reverse();
    bodies
}

/// Check through HTTP that the server on PostgreSQL serves the copied data, then write
/// to it (a message, which needs the moved sequence, and a new display name). Alice logs in
/// with `password`.
async fn check_on_postgres(s: &TestServer, room: &str, mxc: &str, password: &str) {
    let token = login(&s.base, password).await;
    let alice = s.client("@alice:test.local", &token);
    assert_eq!(
        message_bodies(&alice, room).await,
        ["first words", "second thoughts", "third umbrella"]
    );
    let media = mxc.strip_prefix("mxc://").unwrap();
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{media}",
            s.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.bytes().await.unwrap()[..], b"\x00migrated bytes\xff");
    let (_, kv) = s.probe("a", "GET", "kv?key=migrated/1", None).await;
    assert_eq!(kv["ok"], json!({"n": 1}));
    let (_, schema) = s.probe("a", "GET", "schema", None).await;
    assert_eq!(schema["ok"], json!(STEPS));
    let (_, last) = s
        .probe("a", "GET", &format!("kv?key=step/{}", STEPS - 1), None)
        .await;
    assert_eq!(last["ok"], json!(STEPS));
    let (_, scan) = s.probe("a", "GET", "scan?prefix=migrated/", None).await;
    assert_eq!(
        scan["ok"],
        json!([["migrated/1", {"n": 1}], ["migrated/2", "two"]])
    );
    let search = json!({"search_categories": {"room_events": {"search_term": "umbrella"}}});
    let (status, found) = alice.call("POST", "/search", Some(search)).await;
    assert_eq!(status, 200, "{found}");
    let hits = &found["search_categories"]["room_events"]["results"];
    assert_eq!(
        hits[0]["result"]["content"]["body"], "third umbrella",
        "{found}"
    );
    assert_eq!(alice.say(room, "fourth, on PostgreSQL").await.0, 200);
    assert_eq!(message_bodies(&alice, room).await.len(), 4);
    let name = json!({"displayname": "Alice on PG"});
    let path = "/profile/@alice:test.local/displayname";
    assert_eq!(alice.call("PUT", path, Some(name)).await.0, 200);
}

/// A row only the target holds (no source row changed: an alias added there) makes the
/// copy of `from` into `url` fail on the counts; the row is removed again. The source holds
/// `aliases` aliases.
fn own_rows_are_counted(from: &str, url: &str, aliases: usize) {
    let db = url.rsplit('/').next().unwrap();
    let pg = postgres::server();
    pg.psql(
        db,
        "INSERT INTO room_aliases (alias, room_id, creator) VALUES ('#own:test.local', '!x', '@x')",
    );
    let (code, _, err) = migrate(&["--from", from, "--to", url]);
    assert_eq!(
        (code, err),
        (
            1,
            format!(
                "modhost: migrate-db: row counts differ in room_aliases (source {aliases}, target \
                 {}); nothing was written to the target (does it hold data of its own?)\n",
                aliases + 1
            )
        )
    );
    pg.psql(
        db,
        "DELETE FROM room_aliases WHERE alias = '#own:test.local'",
    );
}

/// A server ran on `url`: copying `from` there is refused outright. Then its health probe
/// is removed, as if the changes had been made by hand, for the row-by-row check to catch.
fn served_targets_are_refused(from: &str, url: &str) {
    let (code, _, err) = migrate(&["--from", from, "--to", url]);
    assert_eq!(
        (code, err),
        (
            1,
            format!(
                "modhost: migrate-db: a modhost server has already run on {url}; migrate-db \
                 copies only into a database no server has used (create an empty one and copy \
                 again)\n"
            )
        )
    );
    let db = url.rsplit('/').next().unwrap();
    postgres::server().psql(db, "DELETE FROM health_probe");
}

/// A server on PostgreSQL (database setting `on_pg`, the copy's target `url`) changes
/// alice's password; copying `from` again must not roll it back: it fails naming `users`
/// (of which the source holds `users` rows) and writes nothing.
async fn a_password_changed_on_postgres_is_kept(
    w: &Workdir,
    on_pg: &str,
    from: &str,
    url: &str,
    users: usize,
) {
    let s = TestServer::start(&config(w, on_pg)).await;
    let alice = s.client("@alice:test.local", &login(&s.base, "pw").await);
    let change = json!({"new_password": "changed on PG", "auth": alice_auth("pw")});
    let (status, body) = alice.call("POST", "/account/password", Some(change)).await;
    assert_eq!(status, 200, "{body}");
    drop(s);
    served_targets_are_refused(from, url);
    let (code, out, err) = migrate(&["--from", from, "--to", url]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        err,
        "modhost: migrate-db: rows in users differ between the source and the target (changed \
         on the target since the last copy?); nothing was written — copy into an empty database \
         instead\n"
    );
    assert!(
        out.contains(&format!(
            "\nusers: {users} rows (source {users}, target {users}, 1 differ)\n"
        )),
        "{out}"
    );
    assert!(!out.contains("copied "), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_server_comes_out_identical_on_postgresql() {
    let w = Workdir::new();
    let sqlite = w.path().join("data/homeserver.db");
    let s = TestServer::start(&config(&w, "{path: data/homeserver.db}")).await;
    let (room, mxc) = fill(&s).await;
    drop(s);

    let url = postgres::server().create_database();
    let from = format!("sqlite:{}", sqlite.display());
    let (code, first, err) = migrate(&["--from", &from, "--to", &url]);
    assert_eq!(code, 0, "{err}");
    let counts = same_rows(&sqlite, &url).await;
    assert_eq!(first, expected_output(&counts, &from, &url));
    let count = |t: &str| counts.iter().find(|(n, _)| n == t).map(|c| c.1);
    for table in [
        "users",
        "rooms",
        "events",
        "media",
        "module_kv",
        "event_search",
    ] {
        assert!(count(table) > Some(0), "{table} has rows: {counts:?}");
    }
    assert_eq!(
        count("to_device_inbox"),
        Some(0),
        "the message was delivered"
    );
    let db = url.rsplit('/').next().unwrap();
    let pg = postgres::server();
    assert_eq!(
        pg.psql(
            db,
            "SELECT position FROM stream_positions WHERE stream_name = 'to_device'"
        ),
        "1"
    );
    assert_eq!(
        pg.psql(
            db,
            "SELECT nextval(pg_get_serial_sequence('to_device_inbox', 'stream_id'))"
        ),
        "2",
        "a deleted row's number is not handed out again"
    );

    let (code, second, err) = migrate(&["--from", &from, "--to", &url]);
    assert_eq!(
        (code, second),
        (0, first),
        "a second run changes nothing: {err}"
    );
    assert_eq!(same_rows(&sqlite, &url).await, counts);

    let aliases = count("room_aliases").unwrap();
    own_rows_are_counted(&from, &url, aliases);
    let on_pg = format!("{{url: \"{url}\", max_connections: 4}}");
    let users = count("users").unwrap();
    a_password_changed_on_postgres_is_kept(&w, &on_pg, &from, &url, users).await;

    let s = TestServer::start(&config(&w, &on_pg)).await;
    assert_eq!(
        try_login(&s.base, "pw").await.0,
        403,
        "the old password is gone"
    );
    check_on_postgres(&s, &room, &mxc, "changed on PG").await;
    drop(s);

    // Everything the server did there (the message, the display name, …) stays too.
    served_targets_are_refused(&from, &url);
    let (code, out, err) = migrate(&["--from", &from, "--to", &url]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        err,
        "modhost: migrate-db: rows in current_state, profiles, users differ between the source \
         and the target (changed on the target since the last copy?); nothing was written — \
         copy into an empty database instead\n"
    );
    assert_eq!(
        pg.psql(
            db,
            "SELECT displayname FROM profiles WHERE user_id = '@alice:test.local'"
        ),
        "Alice on PG",
        "the refused copy did not write the source's profile back"
    );
    let s = TestServer::start(&config(&w, &on_pg)).await;
    assert_eq!(try_login(&s.base, "changed on PG").await.0, 200);
}

#[test]
fn bad_arguments_get_clear_errors() {
    let (code, out, err) = migrate(&["--from", "data/homeserver.db", "--to", "postgres://h/db"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "modhost: migrate-db: --from must be sqlite:PATH (the SQLite database file to copy), got \"data/homeserver.db\"\n"
    );
    let (code, _, err) = migrate(&["--from", "sqlite:x.db", "--to", "mysql://u:hunter2@h/db"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "modhost: migrate-db: --to must be a postgres:// URL (the PostgreSQL database to fill), got \"mysql://u:***@h/db\"\n"
    );
    let w = Workdir::new();
    let missing = w.path().join("none.db");
    let (code, _, err) = migrate(&[
        "--from",
        &format!("sqlite:{}", missing.display()),
        "--to",
        "postgres://h/db",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "modhost: migrate-db: the source database {} does not exist\n",
            missing.display()
        )
    );
    assert!(!missing.exists(), "no empty database was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_target_is_named_with_its_password_masked() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "{path: data/homeserver.db}")).await;
    drop(s);
    let from = format!("sqlite:{}", w.path().join("data/homeserver.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("postgres://modhost:hunter2@127.0.0.1:{port}/modhost");
    let (code, out, err) = migrate(&["--from", &from, "--to", &to]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!(
            "modhost: migrate-db: cannot open database postgres://modhost:***@127.0.0.1:{port}/modhost: \
             error communicating with database: Connection refused (os error 111)\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_newer_than_this_binary_is_refused() {
    let w = Workdir::new();
    let s = TestServer::start(&config(&w, "{path: data/homeserver.db}")).await;
    drop(s);
    let sqlite = w.path().join("data/homeserver.db");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", sqlite.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    let url = postgres::server().create_database();
    let (code, _, err) = migrate(&[
        "--from",
        &format!("sqlite:{}", sqlite.display()),
        "--to",
        &url,
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "modhost: migrate-db: the source database {} has schema version 9999, newer than \
             this modhost knows (20): copy it with the modhost version that last used it\n",
            sqlite.display()
        )
    );
}
