//! The ABI evolution fixtures: a module built against the frozen plugin-sdk 1.0.0
//! (`plugins/fixtures/frozen`), and a module built against a future plugin-sdk generated from
//! today's (one minor version ahead, with a callback this host does not know). Both build
//! outside the main workspace, offline, from the crates the workspace already fetched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::workspace_root;

fn target() -> PathBuf {
    workspace_root().join("target").join("evolution")
}

fn cargo_build(dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--quiet", "--offline"])
        .env("CARGO_TARGET_DIR", target())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `libold_module.so`, built against the frozen plugin-sdk 1.0.0.
pub fn old_module_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        cargo_build(&workspace_root().join("plugins/fixtures/frozen"));
        target().join("debug/libold_module.so")
    })
    .clone()
}

/// Today's plugin-sdk version and the next minor one.
pub fn sdk_versions() -> (String, String) {
    let manifest = std::fs::read_to_string(workspace_root().join("plugin-sdk/Cargo.toml"))
        .expect("plugin-sdk manifest");
    let current = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("plugin-sdk has a version")
        .to_string();
    let mut parts = current
        .split('.')
        .map(|p| p.parse::<u64>().expect("numeric version"));
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    (current, format!("{major}.{}.0", minor + 1))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy file");
        }
    }
}

/// Replace `anchor` in `file` with `with`; the anchor must be there.
fn patch(file: &Path, anchor: &str, with: &str) {
    let text = std::fs::read_to_string(file).expect("read file to patch");
    assert!(
        text.contains(anchor),
        "{} no longer contains {anchor:?}: update tests/src/evolution.rs",
        file.display()
    );
    std::fs::write(file, text.replacen(anchor, with, 1)).expect("write patched file");
}

/// `libnext_module.so`, built against a future plugin-sdk (see the module docs).
pub fn next_module_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let root = workspace_root();
        let dir = target().join("next");
        let _ = std::fs::remove_dir_all(&dir);
        let sdk = dir.join("plugin-sdk-next");
        copy_dir(&root.join("plugin-sdk/src"), &sdk.join("src"));
        std::fs::copy(root.join("plugin-sdk/Cargo.toml"), sdk.join("Cargo.toml")).unwrap();
        copy_dir(&root.join("plugins/fixtures/next_module"), &dir.join("next_module"));
        let (current, next) = sdk_versions();
        patch(
            &sdk.join("Cargo.toml"),
            &format!("version = \"{current}\""),
            &format!("version = \"{next}\""),
        );
        patch(
            &sdk.join("src/catalogue.rs"),
            "CheckEventForSpam = \"check_event_for_spam\": \"FIRST-NON-NOT_SPAM\",",
            "CheckEventForSpam = \"check_event_for_spam\": \"FIRST-NON-NOT_SPAM\",\n        UserMayTeleport = \"user_may_teleport\": \"a callback from a future SDK\",",
        );
        patch(
            &sdk.join("src/callbacks/spam_checker.rs"),
            "        ) -> SpamCheck;\n        /// Federation only",
            "        ) -> SpamCheck;\n        /// A callback from a future SDK.\n        fn user_may_teleport(user_id: String => \"the user\") -> SpamCheck;\n        /// Federation only",
        );
        // The workspace around them: today's shared settings, these two members.
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let shared: String = manifest[manifest.find("[workspace.package]").expect("workspace.package")..]
            .split("\n[profile")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("plugin-sdk ="))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[workspace]\nresolver = \"2\"\nmembers = [\"plugin-sdk-next\", \"next_module\"]\n\n{shared}\n"),
        )
        .unwrap();
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        cargo_build(&dir);
        target().join("debug/libnext_module.so")
    })
    .clone()
}
