//! End to end with matrix-commander (a command-line Matrix client on matrix-nio), unmodified:
//! it logs in with a password, joins, sends a message another user reads with /messages, and
//! `--listen once` prints a message another user sent; every answer it gets (its key upload
//! on each start included) fits matrix-nio's schemas.
//!
//! matrix-commander comes from the private virtual environment under `target/e2e/` (see
//! `modhost_tests::client_env`); it needs the C library libmagic at run time (Debian package
//! `libmagic1`), which the test names when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use modhost_tests::{client_env, debian, TestServer, Workdir};
use serde_json::{json, Value};

/// How long one matrix-commander run may take (a sync with a long-poll is the longest).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// Fail with one sentence when matrix-commander cannot even be imported (no libmagic).
fn check_importable(python: &Path) {
    debian::ensure("libmagic1", "matrix-commander", || {
        debian::has_library("libmagic.so.1")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(python);
    cmd.args(["-c", "import matrix_commander.matrix_commander"]);
    let out = client_env::output_within(&mut cmd, RUN_LIMIT, "importing matrix-commander")
        .unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stderr);
    if said.contains("libmagic") {
        panic!(
            "matrix-commander needs the C library libmagic (Debian package libmagic1: \
             apt-get install -y libmagic1), which this machine lacks even after installing it"
        );
    }
    assert!(
        out.status.success(),
        "cannot import matrix-commander:\n{said}"
    );
}

/// One matrix-commander run with its credentials file and store in `dir`: stdout, after
/// asserting it succeeded.
async fn commander(dir: &Path, args: &[&str]) -> String {
    let python = client_env::python().to_path_buf();
    let mut cmd = Command::new(python);
    // The venv was moved after it was made, so its console script is not used.
    cmd.args([
        "-W",
        "ignore",
        "-c",
        "import sys; from matrix_commander import main; sys.exit(main())",
    ])
    .arg("--credentials")
    .arg(dir.join("credentials.json"))
    .arg("--store")
    .arg(dir.join("store"))
    .args(args)
    .env("HOME", dir);
    let what = format!("matrix-commander {}", args.join(" "));
    let out = tokio::task::spawn_blocking(move || {
        client_env::output_within(&mut cmd, RUN_LIMIT, &what).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    // matrix-nio logs (and carries on) when an answer does not fit the spec's schema, as
    // a missing /keys/upload once did.
    assert!(
        out.status.success() && !stderr.contains("ERROR") && !stderr.contains("Error validating"),
        "matrix-commander {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

fn workdir_for_commander(w: &Workdir) -> PathBuf {
    let dir = w.path().join("matrix-commander");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn matrix_commander_logs_in_sends_and_listens() {
    let python = tokio::task::spawn_blocking(|| client_env::python().to_path_buf())
        .await
        .unwrap();
    check_importable(&python);
    let w = Workdir::new();
    let s = TestServer::start(&w.config("enable_registration: true\n")).await;
    let mc = s.register("commander").await;
    let bob = s.register("bob").await;
    let room = bob
        .create_room(json!({"preset": "public_chat", "invite": [mc.user_id]}))
        .await;
    let dir = workdir_for_commander(&w);

    commander(
        &dir,
        &[
            "--login",
            "password",
            "--homeserver",
            &s.base,
            "--user-login",
            &mc.user_id,
            "--password",
            "pw",
            "--device",
            "matrix-commander",
            "--room-default",
            &room,
        ],
    )
    .await;
    let credentials: Value =
        serde_json::from_slice(&std::fs::read(dir.join("credentials.json")).unwrap()).unwrap();
    assert_eq!(credentials["user_id"], mc.user_id.as_str());
    let token = credentials["access_token"].as_str().unwrap();
    let (status, who) = s
        .call(
            "GET",
            "/_matrix/client/v3/account/whoami",
            Some(token),
            None,
        )
        .await;
    assert_eq!((status, &who["user_id"]), (200, &json!(mc.user_id)));

    commander(&dir, &["--room-join", &room]).await;
    commander(&dir, &["-m", "hello from matrix-commander"]).await;
    let (status, page) = bob
        .call(
            "GET",
            &format!("/rooms/{room}/messages?dir=b&limit=20"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let seen = page["chunk"].as_array().unwrap().iter().any(|e| {
        e["type"] == "m.room.message"
            && e["sender"] == mc.user_id.as_str()
            && e["content"]["body"] == "hello from matrix-commander"
    });
    assert!(seen, "bob reads matrix-commander's message: {page}");

    let (status, _) = bob.say(&room, "bob says hi to the commander").await;
    assert_eq!(status, 200);
    let heard = commander(&dir, &["--listen", "once"]).await;
    let line = heard
        .lines()
        .find(|l| l.contains("bob says hi to the commander"))
        .unwrap_or_else(|| panic!("--listen once printed bob's message:\n{heard}"));
    assert!(
        line.contains(&bob.user_id) && line.contains(&room),
        "{line}"
    );
}
