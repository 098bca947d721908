//! Write ordering when several writers share one database.
//!
//! A stream position handed to a client promises that nothing at or below it is still to
//! come. SQLite runs one write transaction at a time, so positions become visible in the
//! order they were taken. PostgreSQL runs writers side by side — on several instances — and
//! a transaction that took position 6 can commit before the one that took 5; a reader
//! between the two commits would hand out 6 and the client would never see 5. So on
//! PostgreSQL each stream's writers take that stream's transaction-scoped advisory lock
//! before they take a position, which makes allocation order commit order (Synapse instead
//! tracks the lowest unfinished position of each writer; one lock per stream is simpler and
//! its cost is measured in BENCHMARKS.md "Scaling out").

use sqlx::{Any, AnyConnection, Transaction};

use super::{Backend, Store, StoreError};

/// Advisory lock keys live in modhost's own range, clear of other users of the database.
pub(super) const LOCK_BASE: i64 = 0x6d6f_6468_0000;

/// What a write transaction serialises on (PostgreSQL advisory lock keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteLock {
    /// The event stream (`events.stream_ordering`).
    Events = 1,
    /// `account_data.stream_id`.
    AccountData = 2,
    /// `presence.stream_id`.
    Presence = 3,
    /// `receipts.stream_id`.
    Receipts = 4,
    /// `to_device_inbox.stream_id`.
    ToDevice = 5,
    /// `e2e_device_list_stream.stream_id`.
    DeviceLists = 6,
    /// `cache_invalidations.stream_id`.
    CacheInvalidations = 7,
    /// Module key/value transactions (serial, as SQLite's `BEGIN IMMEDIATE` makes them).
    ModuleStore = 8,
    /// Key backup versions and etags (read, then written, in one transaction).
    KeyBackup = 9,
}

impl WriteLock {
    /// The advisory lock key.
    pub(crate) fn key(self) -> i64 {
        LOCK_BASE + self as i64
    }
}

/// Take `lock` for the rest of the transaction open on `conn` (PostgreSQL; a no-op on
/// SQLite, whose write lock already orders writers).
pub(crate) async fn lock(conn: &mut AnyConnection, lock: WriteLock) -> Result<(), StoreError> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock.key())
            .execute(conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// A write transaction holding `lock` from its start: `BEGIN IMMEDIATE` on SQLite (the
    /// database's write lock, so a read-then-write never deadlocks upgrading a read lock),
    /// `BEGIN` plus the advisory lock on PostgreSQL.
    pub(crate) async fn begin_locked(
        &self,
        lock: WriteLock,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                self::lock(&mut tx, lock).await?;
                Ok(tx)
            }
        }
    }
}
