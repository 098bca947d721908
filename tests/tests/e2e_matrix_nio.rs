//! End to end with matrix-nio, a real Matrix client library: register, log in, create a
//! room, invite, join, send, sync, page back, resolve an alias, set a profile, upload and
//! download, list public rooms, search the user directory, hit the demo web resource — and
//! the paths sample modules refuse (room creation, a message, an invite).
//!
//! matrix-nio comes from a private virtual environment under `target/e2e/`, made on first use
//! (see `modhost_tests::client_env`).

use std::process::Command;

use modhost_tests::{client_env, ServerProcess, Workdir};

#[test]
fn matrix_nio_runs_the_everyday_flows_and_the_refused_ones() {
    let python = client_env::python();
    let w = Workdir::new();
    let config = w.config(
        "enable_registration: true\nmodules:\n  - module: demo\n  - module: house_rules\n    config:\n      \
         blocked_words: [\"buy cheap pills\"]\n      invite_blocklist: [\"@mallory:test.local\"]\n",
    );
    let server = ServerProcess::start(&w, &config);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/nio_e2e.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&server.base)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2E OK"),
        "matrix-nio run failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
}
