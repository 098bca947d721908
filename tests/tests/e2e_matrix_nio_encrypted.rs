//! End to end with matrix-nio's end-to-end encryption (its vodozemac backend, installed with
//! matrix-nio in the test venv): two users in an encrypted room exchange a message each way and
//! decrypt it, with the sample modules loaded.

use std::process::Command;
use std::time::Duration;

use modhost_tests::{client_env, ServerProcess, Workdir};

#[test]
fn matrix_nio_exchanges_encrypted_messages() {
    let python = client_env::python();
    let w = Workdir::new();
    let config = w.config(
        "enable_registration: true\nmodules:\n  - module: demo\n  - module: house_rules\n    config:\n      \
         blocked_words: [\"buy cheap pills\"]\n",
    );
    let server = ServerProcess::start(&w, &config);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/nio_encrypted.py");
    let store = w.path().join("nio-store");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(&server.base).arg(&store);
    let out = client_env::output_within(&mut cmd, Duration::from_secs(120), "the matrix-nio run")
        .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", server.log()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("E2EE OK"),
        "matrix-nio encrypted run failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
}
