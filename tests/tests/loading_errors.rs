//! Operator-facing load errors, through the real `modhost check-config` binary: every
//! problem is reported at once, each naming the file, the YAML path, the module and the
//! library, and the process exits non-zero.

use modhost_tests::{build_dir, module_lib, Workdir};

fn expect_problems(rest: &str) -> (Workdir, String, String) {
    let w = Workdir::new();
    let config = w.config(rest);
    let (code, _out, err) = w.check_config(&config);
    assert_eq!(code, 1, "check-config must fail:\n{err}");
    let file = config.display().to_string();
    (w, file, err)
}

#[test]
fn every_broken_module_is_reported_together_with_its_yaml_path() {
    let (_w, file, err) = expect_problems(
        "modules:\n  - module: demx\n  - module: abi_mismatch\n  - module: future_sdk\n  - module: not_a_module\n  - module: /nonexistent/libx.so\n",
    );
    let dir = build_dir().canonicalize().unwrap();
    assert!(err.contains("5 problems in"), "{err}");
    assert!(
        err.contains(&format!(
        "{file}:6:5: modules[0]: unknown module \"demx\": no libdemx.so in plugins_dir {} (available: ",
        build_dir().display()
    )),
        "{err}"
    );
    assert!(
        err.contains("demo, domain_rule_checker, future_sdk, house_rules"),
        "available modules listed: {err}"
    );
    assert!(err.contains(&format!(
        "{file}:7:5: modules[1]: module 'abi_mismatch' ({}/libabi_mismatch.so): built against plugin-sdk 1.0.0 with an \
         ABI that does not match this host's plugin-sdk 1.1.0 (mismatched package (expected plugin-sdk, found \
         abi_mismatch)): rebuild the module against plugin-sdk 1.x",
        dir.display()
    )), "{err}");
    assert!(err.contains(&format!(
        "{file}:8:5: modules[2]: module 'future_sdk' ({}/libfuture_sdk.so): built against plugin-sdk 2.0.0, but this host \
         uses plugin-sdk 1.1.0: rebuild the module against plugin-sdk 1.x",
        dir.display()
    )), "{err}");
    assert!(err.contains(&format!(
        "{file}:9:5: modules[3]: module 'not_a_module' ({}/libnot_a_module.so): not a modhost module: the library exports \
         no modhost root module (a module crate must call plugin_sdk::export_module!)",
        dir.display()
    )), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:10:5: modules[4]: module file /nonexistent/libx.so does not exist"
        )),
        "{err}"
    );
    // Never the raw multi-hundred-line abi_stable layout report.
    assert!(err.lines().count() < 12, "{err}");
}

#[test]
fn parse_config_error_names_the_path_inside_the_module_config() {
    let (_w, file, err) = expect_problems(
        "modules:\n  - module: bad_config\n    config:\n      rules:\n        - pattern: \"a(b)\"\n        - pattern: \"((\"\n",
    );
    assert!(err.contains(&format!(
        "{file}:10:11: modules[0].config.rules[1].pattern: module 'bad_config' ({}): invalid pattern \"((\": unbalanced parentheses",
        module_lib("bad_config").canonicalize().unwrap().display()
    )), "{err}");
}

#[test]
fn serde_errors_in_module_config_carry_their_path_too() {
    let (_w, file, err) = expect_problems(
        "modules:\n  - module: bad_config\n    config:\n      rules:\n        - pattern: x\n          actoin: drop\n",
    );
    assert!(
        err.contains(&format!(
            "{file}:10:11: modules[0].config.rules[0].actoin: module 'bad_config'"
        )),
        "{err}"
    );
    assert!(
        err.contains("unknown field `actoin`, expected `pattern` or `action`"),
        "{err}"
    );
}

#[test]
fn constructor_error_is_reported_with_the_module() {
    let (_w, file, err) =
        expect_problems("modules:\n  - module: bad_config\n    config: {rules: []}\n");
    assert!(err.contains(&format!(
        "{file}:6:5: modules[0]: module 'bad_config' ({}): failed to start: bad_config refuses to start: no rule matched the server",
        module_lib("bad_config").canonicalize().unwrap().display()
    )), "{err}");
}

#[test]
fn panics_in_parse_config_and_new_are_contained_and_located() {
    let (_w, file, err) =
        expect_problems("modules:\n  - module: panicky\n    config: {panic_in: parse_config}\n");
    assert!(
        err.contains(&format!("{file}:6:5: modules[0]: module 'panicky' (")),
        "{err}"
    );
    assert!(
        err.contains("panicked in parse_config: boom in parse_config at panicky/src/lib.rs:"),
        "{err}"
    );

    let (_w, _file, err) =
        expect_problems("modules:\n  - module: panicky\n    config: {panic_in: new}\n");
    assert!(
        err.contains("panicked in new: boom in new at panicky/src/lib.rs:"),
        "{err}"
    );
}

#[test]
fn the_same_library_twice_is_refused_but_a_copy_loads() {
    let (_w, file, err) = expect_problems(&format!(
        "modules:\n  - module: demo\n  - module: {}\n",
        module_lib("demo").display()
    ));
    assert!(err.contains(&format!(
        "{file}:7:5: modules[1]: module 'demo' ({}): this library is already loaded for modules[0]; one library file backs \
         one module entry (copy it under another file name to run a second instance)",
        module_lib("demo").canonicalize().unwrap().display()
    )), "{err}");

    let w = Workdir::new();
    let copy = w.copy_module("demo", "demo_copy");
    let config = w.config(&format!(
        "modules:\n  - module: demo\n  - module: {}\n    config: {{evil_user: \"@x:test.local\"}}\n",
        copy.display()
    ));
    let (code, out, err) = w.check_config(&config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK, 2 module(s) loaded"), "{out}");
    assert!(
        out.contains("demo_copy 0.1.0 (plugin-sdk 1.1.0): spam_checker.user_may_create_room"),
        "{out}"
    );
}

#[test]
fn yaml_syntax_errors_and_unknown_keys_have_line_and_column() {
    let w = Workdir::new();
    let config = w.path().join("broken.yaml");
    std::fs::write(
        &config,
        "server_name: a\nmodules:\n  - module: demo\n    config: {evil_user: [}\n",
    )
    .unwrap();
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{}:4:", config.display())), "{err}");

    std::fs::write(&config, "server_name: a\nlisten_adress: 1.2.3.4:5\n").unwrap();
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{}:2:1: listen_adress: unknown setting `listen_adress`; known settings: server_name, listen,",
            config.display()
        )),
        "{err}"
    );
}

#[test]
fn malformed_module_entries_are_all_reported() {
    let (_w, file, err) =
        expect_problems("modules:\n  - demo\n  - config: {}\n  - module: demo\n    confg: {}\n");
    assert!(
        err.contains(&format!(
            "{file}:6:5: modules[0]: expected a mapping with `module:` and optional `config:`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:7:5: modules[1].module: missing: name the module to load"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:9:5: modules[2]: unknown key \"confg\": a module entry has `module:`, `config:` and optional `sha256:`, `timeout_ms:`, `on_failure:`"
        )),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let w = Workdir::new();
    let (code, _, err) = w.check_config(&w.path().join("nope.yaml"));
    assert_eq!(code, 1);
    assert!(
        err.contains("nope.yaml: cannot read config file: No such file or directory"),
        "{err}"
    );
}

#[test]
fn a_good_config_lists_modules_and_what_they_registered() {
    let w = Workdir::new();
    let config = w.config(
        "modules:\n  - module: demo\n  - module: house_rules\n    config: {unsigned_tag: t}\n",
    );
    let (code, out, err) = w.check_config(&config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("demo 0.1.0 (plugin-sdk 1.1.0): spam_checker.user_may_create_room, web resource /_synapse/client/demo/hello"), "{out}");
    assert!(out.contains("house_rules 0.1.0 (plugin-sdk 1.1.0): spam_checker.check_event_for_spam, spam_checker.user_may_invite, third_party_rules.check_event_allowed"), "{out}");
    // The module's own tracing reaches the host log, tagged with the module's name.
    assert!(
        err.contains("demo module ready evil_user=@evilguy:test.local module=\"demo\""),
        "{err}"
    );
}

#[test]
fn a_broken_setting_does_not_hide_a_broken_module() {
    let w = Workdir::new();
    let config = w.path().join("hs.yaml");
    std::fs::write(
        &config,
        format!(
            "server_name: test.local\nlisten: nowhere\nlisten_addr: x\nplugins_dir: {}\nmodules:\n  - module: demx\n",
            build_dir().display()
        ),
    )
    .unwrap();
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1);
    let file = config.display().to_string();
    assert!(err.contains("3 problems in"), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:2:1: listen: \"nowhere\" is not an address such as 127.0.0.1:8008"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:3:1: listen_addr: unknown setting `listen_addr`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:6:5: modules[0]: unknown module \"demx\"")),
        "{err}"
    );
}

#[test]
fn modules_whose_files_share_a_name_are_told_apart() {
    let w = Workdir::new();
    for dir in ["x", "y"] {
        std::fs::create_dir(w.path().join(dir)).unwrap();
        std::fs::copy(module_lib("demo"), w.path().join(dir).join("libdemo.so")).unwrap();
    }
    let config = w.config("modules:\n  - module: ./x/libdemo.so\n  - module: ./y/libdemo.so\n    config: {evil_user: \"@y:test.local\"}\n");
    let (code, out, err) = w.check_config(&config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\n  demo 0.1.0 (plugin-sdk 1.1.0): spam_checker.user_may_create_room, web resource /_synapse/client/demo/hello\n"), "{out}");
    assert!(
        out.contains("\n  demo#1 0.1.0 (plugin-sdk 1.1.0): spam_checker.user_may_create_room\n"),
        "{out}"
    );
    assert!(err.contains("module 'demo#1' tried to register a web resource for path /_synapse/client/demo/hello, but module 'demo'"), "{err}");
}

#[test]
fn a_sha256_pin_must_match_the_library() {
    use sha2::{Digest, Sha256};
    let w = Workdir::new();
    let lib = w.copy_module("demo", "pinned");
    let real: String = Sha256::digest(std::fs::read(&lib).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let good = w.config(&format!(
        "modules:\n  - module: {}\n    sha256: {real}\n",
        lib.display()
    ));
    let (code, out, err) = w.check_config(&good);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pinned 0.1.0"), "{out}");

    let wrong = "0".repeat(64);
    let bad = w.config(&format!(
        "modules:\n  - module: {}\n    sha256: {wrong}\n",
        lib.display()
    ));
    let (code, _, err) = w.check_config(&bad);
    assert_eq!(code, 1);
    let path = lib.canonicalize().unwrap();
    assert!(err.contains(&format!(
        "{}:6:5: modules[0]: {} does not match its sha256 pin: expected {wrong}, found {real}; refusing to load it",
        bad.display(),
        path.display()
    )), "{err}");

    let malformed = w.config(&format!(
        "modules:\n  - module: {}\n    sha256: abc\n",
        lib.display()
    ));
    let (_, _, err) = w.check_config(&malformed);
    assert!(
        err.contains("modules[0].sha256: expected 64 hexadecimal digits (the output of sha256sum)"),
        "{err}"
    );
}

#[test]
fn a_module_anyone_can_overwrite_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    let lib = w.copy_module("demo", "exposed");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
    let config = w.config(&format!("modules:\n  - module: {}\n", lib.display()));
    let (code, _, err) = w.check_config(&config);
    assert_eq!(code, 1);
    let path = lib.canonicalize().unwrap();
    assert!(err.contains(&format!(
        "modules[0]: {} is writable by every user, so anyone could replace the module's code; fix it with: chmod o-w {}",
        path.display(),
        path.display()
    )), "{err}");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(w.check_config(&config).0, 0);
}

#[test]
fn check_config_defaults_to_the_file_config_names() {
    let w = Workdir::new();
    let config = w.config("modules:\n  - module: demo\n");
    let out = std::process::Command::new(modhost_tests::modhost_bin())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{}: OK, 1 module(s) loaded", config.display())),
        "{stdout}"
    );
}

#[test]
fn a_taken_port_names_the_address_and_the_setting() {
    let w = Workdir::new();
    let config = w.config("modules: []\n");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let out = std::process::Command::new(modhost_tests::modhost_bin())
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(address.to_string())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "modhost: cannot serve on {address} (listen): Address already in use"
        )),
        "{stderr}"
    );
}
