//! Keeping the database usable through write failures: the write probe behind
//! `/_modhost/health`, and the check that returns no connection to the pool with a
//! transaction still open.

use sqlx::{AnyConnection, Connection};

use super::{now_ms, Store, StoreError};

/// Whether a connection handed back to the pool may be used again (`Ok(false)` closes it).
///
/// When a write fails with `SQLITE_FULL` (a full disk), SQLite may roll the transaction back
/// itself; sqlx's own `ROLLBACK` then fails and sqlx still counts the transaction as open.
/// Its next `begin` on that connection becomes a `SAVEPOINT` whose rollback leaves a real
/// transaction open on an old snapshot: every later write there failed with "database is
/// locked" (`SQLITE_BUSY_SNAPSHOT`) until a restart. Such a connection is closed instead; the
/// pool opens a fresh one.
pub(super) async fn release_if_clean(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    // Commands run in order: once the ping is answered, a dropped transaction's rollback has run.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a transaction by a failed write");
        return Ok(false);
    }
    Ok(true)
}

impl Store {
    /// Rewrite the single `health_probe` row: fails as every other write would (full disk,
    /// read-only file, a lock held too long).
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO health_probe (id, checked_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
