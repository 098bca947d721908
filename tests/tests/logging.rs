//! The server's log as operators collect it: plain text without colour codes when standard
//! error is not a terminal, or JSON lines (`log_format: json`, `RUST_LOG_FORMAT=json`).

use modhost_tests::{ServerProcess, Workdir};
use serde_json::Value;

const MODULES: &str = "modules:\n  - module: demo\n";

#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    let w = Workdir::new();
    let config = w.config(MODULES);
    let server = ServerProcess::start(&w, &config);
    let log = server.wait_for_log("listening");
    let raw = server.raw_log();
    assert!(
        log.contains("module ready") && log.contains("listening"),
        "{log}"
    );
    assert!(!raw.contains('\u{1b}'), "colour codes in a file:\n{raw:?}");
}

/// Every line of `raw` is one JSON object; returns them.
fn json_lines(raw: &str) -> Vec<Value> {
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn assert_module_ready_record(records: &[Value]) {
    let ready = records
        .iter()
        .find(|r| r["message"] == "module ready")
        .unwrap_or_else(|| panic!("no module ready record: {records:?}"));
    assert_eq!(ready["level"], "INFO", "{ready}");
    assert_eq!(ready["module"], "demo", "{ready}");
    assert!(ready["timestamp"].is_string(), "{ready}");
    assert!(ready["target"].is_string(), "{ready}");
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let w = Workdir::new();
    let config = w.config(&format!("log_format: json\n{MODULES}"));
    let server = ServerProcess::start(&w, &config);
    server.wait_for_log("listening");
    let records = json_lines(&server.raw_log());
    assert_module_ready_record(&records);
    assert!(
        records.iter().any(|r| r["message"] == "listening"),
        "{records:?}"
    );
}

#[test]
fn rust_log_format_json_overrides_the_config() {
    let w = Workdir::new();
    let config = w.config(&format!("log_format: text\n{MODULES}"));
    let server = ServerProcess::start_with_env(&w, &config, &[("RUST_LOG_FORMAT", "json")]);
    server.wait_for_log("listening");
    assert_module_ready_record(&json_lines(&server.raw_log()));
}

#[test]
fn an_unknown_log_format_is_a_located_config_error() {
    let w = Workdir::new();
    let config = w.config("log_format: xml\n");
    let (code, _, stderr) = w.check_config(&config);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:5:1: log_format: unknown variant `xml`, expected `text` or `json`",
            config.display()
        )),
        "{stderr}"
    );
}
