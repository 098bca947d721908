//! Docs that compile, for configuration too: every YAML block of the README and of the sample
//! modules' READMEs loads with `modhost check-config` (unknown keys, types, each module's own
//! `parse_config` and constructor), the README's sample configuration is the shipped one, and
//! the module author quick start's crate builds and loads with its config snippet.

use std::path::{Path, PathBuf};
use std::process::Command;

use modhost_tests::{build_dir, Workdir};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The fenced blocks of `markdown` in language `lang`: (line of the opening fence, text).
fn fenced(markdown: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == format!("```{lang}") => {
                open = Some((i + 1, String::new()))
            }
            None => {}
            Some(_) if line.trim_start() == "```" => out.push(open.take().unwrap()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// `modhost check-config file`: (exit code, stdout + stderr).
fn check_config(file: &Path) -> (i32, String) {
    let w = Workdir::new();
    let (code, stdout, stderr) = w.check_config(file);
    (code, format!("{stdout}{stderr}"))
}

/// Full configurations (with `server_name:`) are loaded where they would live: as
/// `config/homeserver.yaml` of a checkout whose `target/debug` holds the built modules.
#[test]
fn every_full_configuration_in_the_readme_loads_as_it_stands() {
    let text = readme();
    let full: Vec<_> = fenced(&text, "yaml")
        .into_iter()
        .filter(|(_, b)| b.contains("server_name:"))
        .collect();
    assert!(
        full.len() >= 2,
        "the shipped config and the fuller example: {full:?}"
    );
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(checkout.path().join("config")).unwrap();
    std::fs::create_dir_all(checkout.path().join("target")).unwrap();
    std::os::unix::fs::symlink(build_dir(), checkout.path().join("target/debug")).unwrap();
    let file = checkout.path().join("config/homeserver.yaml");
    for (line, block) in &full {
        std::fs::write(&file, block).unwrap();
        let (code, out) = check_config(&file);
        assert!(
            code == 0 && out.contains("OK,"),
            "README.md:{line}: the block does not load:\n{out}"
        );
    }
    let shipped = std::fs::read_to_string(root().join("config/homeserver.yaml")).unwrap();
    assert_eq!(
        full[0].1, shipped,
        "README.md:{}: the first configuration shown is the shipped config/homeserver.yaml",
        full[0].0
    );
}

/// `modules:` snippets of the sample modules' READMEs, each under a minimal configuration.
#[test]
fn every_sample_module_readme_snippet_loads() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("plugins")).unwrap() {
        let readme = entry.unwrap().path().join("README.md");
        let Ok(text) = std::fs::read_to_string(&readme) else {
            continue;
        };
        for (line, block) in fenced(&text, "yaml") {
            let w = Workdir::new();
            let file = w.path().join("homeserver.yaml");
            std::fs::write(
                &file,
                format!(
                    "server_name: example.org\nplugins_dir: {}\n{block}",
                    build_dir().display()
                ),
            )
            .unwrap();
            let (code, out) = check_config(&file);
            assert!(
                code == 0 && out.contains("OK, 1 module(s) loaded"),
                "{}:{line}: the snippet does not load:\n{out}",
                readme.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 7,
        "one snippet per sample module, found {checked}"
    );
}

/// The author quick start: its `Cargo.toml` and `lib.rs` build into a module, its config
/// snippet loads it, and leaving out the required key is reported with its place.
#[test]
fn the_author_quick_start_module_builds_and_its_snippet_loads() {
    let text = readme();
    let section = &text[text.find("## Module author quick start").expect("section")..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let manifest = &fenced(section, "toml")[0].1;
    let source = &fenced(section, "rust")[0].1;
    let snippet = fenced(section, "yaml")
        .into_iter()
        .find(|(_, b)| b.contains("hello_module"))
        .expect("a config snippet for hello_module")
        .1;

    let krate = tempfile::tempdir().unwrap();
    let sdk = root().join("plugin-sdk");
    let manifest = manifest.replace("../modhost/plugin-sdk", sdk.to_str().unwrap());
    assert_ne!(
        &manifest,
        &fenced(section, "toml")[0].1,
        "the manifest names plugin-sdk by path"
    );
    std::fs::write(
        krate.path().join("Cargo.toml"),
        format!("{manifest}\n[workspace]\n"),
    )
    .unwrap();
    std::fs::create_dir(krate.path().join("src")).unwrap();
    std::fs::write(krate.path().join("src/lib.rs"), source).unwrap();
    // The workspace's lock file keeps the versions the other modules were built with.
    std::fs::copy(root().join("Cargo.lock"), krate.path().join("Cargo.lock")).unwrap();
    // A target directory of its own: beside the test modules it would join the "available"
    // list other tests assert.
    let target = root().join("target/readme-module");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(krate.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the quick start module does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let w = Workdir::new();
    let file = w.path().join("homeserver.yaml");
    let header = format!(
        "server_name: example.org\nplugins_dir: {}\n",
        target.join("debug").display()
    );
    std::fs::write(&file, format!("{header}{snippet}")).unwrap();
    let (code, out) = check_config(&file);
    assert!(
        code == 0 && out.contains("OK, 1 module(s) loaded"),
        "the quick start snippet does not load:\n{out}"
    );
    assert!(
        out.contains("hello_module") && out.contains("user_may_invite"),
        "check-config shows what the module registered:\n{out}"
    );

    let without = snippet.replace("blocked_user", "blocked_usr");
    std::fs::write(&file, format!("{header}{without}")).unwrap();
    let (code, out) = check_config(&file);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{}:5:5: modules[0].config: module 'hello_module'",
            file.display()
        )) && out.contains("blocked_user"),
        "a misspelt key is reported with its place and the key expected:\n{out}"
    );
}
