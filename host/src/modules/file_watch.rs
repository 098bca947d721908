//! Noticing that a loaded module's file changed on disk. The server runs its private copy
//! ([`super::private_copy`]), so nothing breaks; the operator is told once per module that
//! a restart is needed to run the new file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::private_copy::Stamp;

/// How often the files are looked at: one `stat` per module per interval.
const EVERY: Duration = Duration::from_secs(1);

/// A loaded module's original file and how it was when loaded.
pub(crate) struct Watched {
    /// The module's name.
    pub(crate) module: Arc<str>,
    /// The file in `plugins_dir` (or wherever `module:` pointed).
    pub(crate) path: PathBuf,
    /// SHA-256 of the contents loaded.
    pub(crate) sha256: String,
    /// The file when it was copied.
    pub(crate) stamp: Stamp,
}

/// Watch `files` on `runtime` for as long as it runs; log once per module when its file is
/// replaced, rewritten or removed.
pub(crate) fn spawn(runtime: &tokio::runtime::Handle, files: Vec<Watched>) {
    if files.is_empty() {
        return;
    }
    runtime.spawn(async move {
        let mut told = vec![false; files.len()];
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            for (file, told) in files.iter().zip(told.iter_mut()) {
                if *told || Stamp::of(&file.path).is_ok_and(|now| now == file.stamp) {
                    continue;
                }
                *told = true;
                tracing::warn!(
                    module = %file.module,
                    path = %file.path.display(),
                    loaded_sha256 = %file.sha256,
                    "module file changed on disk; the server keeps running the copy it loaded, \
                     restart it to load the new file"
                );
            }
        }
    });
}
