//! The database at the edges of the server's life: checked writable when opened, folded
//! back from its write-ahead log when the server stops.

use std::time::Duration;

use super::Store;

/// How long a clean stop waits for the pool's connections to come back.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// Fail unless the database file can be written: a read-only file (or folder) opens
    /// fine and only fails at the first write, which would otherwise be blamed on whatever
    /// setting writes first. The error says what to fix.
    pub async fn check_writable(&self) -> Result<(), String> {
        if self.backend == super::Backend::Postgres {
            // Migrations have just written (or checked) the schema table as this role.
            return self.probe_write().await.map_err(|e| {
                format!("cannot write the database: {e} (the role needs write access)")
            });
        }
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| format!("cannot read the database: {e}"))?;
        // Writing the value it already has changes nothing but needs write access.
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&self.pool)
            .await
            .map_err(|e| {
                format!(
                    "cannot write the database: {e} (the database file, its folder and its -wal \
                     and -shm files must be writable by the user running modhost)"
                )
            })?;
        Ok(())
    }

    /// Move everything in the write-ahead log into the database file and close every
    /// connection, so a stopped server leaves one self-contained file (no `-wal` to lose
    /// or copy alongside). Logged; failures are logged, not fatal: the log is replayed at
    /// the next start anyway.
    pub async fn close_cleanly(&self) {
        if self.backend == super::Backend::Sqlite {
            self.checkpoint().await;
        }
        if tokio::time::timeout(CLOSE_WAIT, self.pool.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at shutdown; closing without them");
        } else {
            tracing::info!("database closed");
        }
    }

    /// Fold SQLite's write-ahead log back into the database file (logged).
    async fn checkpoint(&self) {
        let checkpoint = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await;
        match checkpoint {
            Ok((0, _, _)) => tracing::info!("database checkpointed"),
            Ok((busy, log, done)) => {
                tracing::warn!(busy, log, done, "database checkpoint incomplete")
            }
            Err(e) => tracing::warn!(error = %e, "database checkpoint failed"),
        }
    }
}
