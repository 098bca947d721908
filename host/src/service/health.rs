//! Whether the server can still write: the database (one row rewritten) and the media store
//! (a small file written, synced and removed). A full disk otherwise only shows in failing
//! requests while reads and a static health answer look fine.

use std::io::Write;

use crate::state::AppState;

/// `Ok` when both writes succeed, else the reason (also logged).
pub async fn check_writes(state: &AppState) -> Result<(), String> {
    if let Err(err) = state.store.probe_write().await {
        let reason = format!("database write failed: {err}");
        tracing::error!("health: {reason}");
        return Err(reason);
    }
    let dir = state.config.media_store_path.clone();
    let probe = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(".health-probe");
        let written = std::fs::File::create(&path).and_then(|mut f| {
            f.write_all(&[0; 512])?;
            f.sync_all()
        });
        let _ = std::fs::remove_file(&path);
        written
    });
    match probe.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            let reason = format!("media store write failed: {err}");
            tracing::error!("health: {reason}");
            Err(reason)
        }
        Err(_) => Err("media store probe did not finish".into()),
    }
}
