//! End to end with matrix-js-sdk (the library Element is built on), unmodified: register, log
//! in, create a room, send and read back, a module's refusal, logout; and `startClient` as
//! Element runs it; an encrypted room with the Rust crypto stack.
//!
//! matrix-js-sdk comes from `npm ci` of `tests/e2e/js/` into `target/e2e/js`, made on first
//! use (see `modhost_tests::client_env`).

use std::process::Command;

use modhost_tests::{client_env, ServerProcess, Workdir};

/// Run `tests/e2e/js/<script>` against a server with the shipped config's sample modules
/// (demo, house_rules); it must print `JS OK`.
fn run(script: &str) {
    client_env::node_script("common.mjs");
    let script = client_env::node_script(script);
    let w = Workdir::new();
    // The sample modules of the shipped config/homeserver.yaml.
    let config = w.config(
        "enable_registration: true\nmodules:\n  - module: demo\n    config:\n      evil_user: \"@evilguy:test.local\"\n  - module: house_rules\n    config:\n      blocked_words: [\"buy cheap pills\"]\n      unsigned_tag: \"house_rules\"\n",
    );
    let server = ServerProcess::start(&w, &config);
    let out = Command::new("node")
        .arg(&script)
        .arg(&server.base)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("JS OK"),
        "matrix-js-sdk run failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
}

#[test]
fn matrix_js_sdk_registers_logs_in_creates_sends_reads_and_logs_out() {
    run("session_basics.mjs");
}

/// `startClient()` as Element runs it reaches PREPARED, live events, typing and receipts
/// arrive, push rules read back and toggle.
#[test]
fn matrix_js_sdk_start_client_syncs_live_and_reads_push_rules() {
    run("start_client.mjs");
}

/// An everyday session: scrollback, an edit and a reaction, a redaction both users see, tags,
/// read markers, a password change, leave and forget, logout.
#[test]
fn matrix_js_sdk_everyday_session() {
    run("everyday_session.mjs");
}

/// Two clients with the Rust crypto stack in an encrypted room: a message each way
/// decrypted (keys uploaded, claimed, queried; room keys sent to-device), cross-signing
/// bootstrapped and the other user sees the keys, a key backup version created and the
/// room's session backed up.
#[test]
fn matrix_js_sdk_encrypted_room_with_rust_crypto() {
    run("encrypted_session.mjs");
}
