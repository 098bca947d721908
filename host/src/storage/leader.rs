//! Which instance runs the background work that must happen once (background updates,
//! pruning shared tables, modules' looping calls): the one holding a session-level
//! PostgreSQL advisory lock.
//!
//! A session-level lock belongs to the connection that took it and is released when that
//! connection ends, however it ends: `kill -9` of the instance closes its socket and the
//! server drops the session, so another instance's next attempt succeeds; a leader that
//! stops answering without closing its socket (frozen, cut off) is ended by the server after
//! 5 s of silence (`idle_session_timeout`). That is why a
//! [`LeaderSession`] owns a connection of its own instead of borrowing one from the pool
//! (a pooled connection is shared and recycled, and its lock would go with it). On SQLite
//! there is one instance, which is always the leader.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::locks::LOCK_BASE;
use super::{Store, StoreError};

/// The advisory lock key of background leadership: in modhost's range, clear of the
/// per-stream write locks of `locks.rs` (which take `LOCK_BASE + 1 ..= LOCK_BASE + 9`).
pub(crate) const LEADER_KEY: i64 = LOCK_BASE + 0x100;

/// A dedicated database session that may hold background leadership.
pub struct LeaderSession {
    /// `None` on SQLite (always the leader).
    conn: Option<PgConnection>,
}

impl Store {
    /// Open a [`LeaderSession`]: a new PostgreSQL connection outside the pool, or nothing
    /// on SQLite. Errors: the database cannot be reached.
    pub async fn leader_session(&self) -> Result<LeaderSession, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(LeaderSession { conn: None });
        };
        let options = PgConnectOptions::from_str(url)?
            // Names the session in `pg_stat_activity`, so an operator can see who leads.
            .application_name("modhost background leader");
        let mut conn = options.connect().await?;
        // A leader that is frozen (SIGSTOP, a stalled VM) or cut off keeps its socket, so
        // PostgreSQL would hold its lock until TCP gives up (hours). A live leader checks in
        // every second; with this, the server ends a session silent for 5 s, which frees the
        // lock for another instance. (PostgreSQL 14 and later; older servers ignore it.)
        let _ = sqlx::query("SET idle_session_timeout = '5s'")
            .execute(&mut conn)
            .await;
        Ok(LeaderSession { conn: Some(conn) })
    }
}

impl LeaderSession {
    /// Try to take leadership without waiting (`pg_try_advisory_lock`): `true` if this
    /// session now holds it. Call it only while not holding it: a session lock is
    /// re-entrant, and each extra success would need an unlock of its own. Always `true`
    /// on SQLite. Errors: the connection failed (drop the session and open another).
    pub async fn try_acquire(&mut self) -> Result<bool, StoreError> {
        let Some(conn) = &mut self.conn else {
            return Ok(true);
        };
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_KEY)
            .fetch_one(conn)
            .await
    }

    /// Check that the session is still alive, which for a session holding the lock means
    /// it still holds it (only the end of the session or an unlock releases it, and this
    /// session never unlocks). Errors: the connection is gone, so the lock is too.
    pub async fn check_alive(&mut self) -> Result<(), StoreError> {
        match &mut self.conn {
            Some(conn) => conn.ping().await,
            None => Ok(()),
        }
    }

    /// End the session, releasing leadership if it held it.
    pub async fn close(self) {
        if let Some(conn) = self.conn {
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::locks::WriteLock;
    use super::*;

    #[test]
    fn the_leader_key_is_not_a_write_lock_key() {
        let write_locks = [
            WriteLock::Events,
            WriteLock::AccountData,
            WriteLock::Presence,
            WriteLock::Receipts,
            WriteLock::ToDevice,
            WriteLock::DeviceLists,
            WriteLock::CacheInvalidations,
            WriteLock::ModuleStore,
            WriteLock::KeyBackup,
        ];
        for lock in write_locks {
            assert_ne!(lock.key(), LEADER_KEY, "{lock:?}");
        }
    }
}
