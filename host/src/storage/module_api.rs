//! Tables behind the module API: each module's key/value space, login tokens and the cache
//! invalidation stream.

use sqlx::{Any, AnyConnection};
use sqlx::{Row, Transaction};

use super::{now_ms, Store, StoreError};

/// An open module transaction (`BEGIN IMMEDIATE`: it holds the write lock from the start, so
/// two transactions never deadlock upgrading a read lock).
pub type ModuleTxn = Transaction<'static, Any>;

/// The largest page a scan returns.
pub const MAX_SCAN: i64 = 1000;

/// One cache invalidation from the stream.
#[derive(Debug, Clone)]
pub struct Invalidation {
    /// Stream position.
    pub stream_id: i64,
    /// The instance that issued it.
    pub instance: String,
    /// The module whose cached function it is.
    pub module: String,
    /// The cached function's registered name.
    pub function: String,
    /// The key to drop.
    pub key: String,
}

impl Store {
    /// Open a transaction on a module's key/value space.
    pub async fn begin_module_txn(&self) -> Result<ModuleTxn, StoreError> {
        self.begin_locked(super::WriteLock::ModuleStore).await
    }

    /// A connection for one key/value operation outside a transaction.
    pub async fn module_conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        self.pool.acquire().await
    }

    /// Find a user's creation time (ms), if the user exists.
    pub async fn user_created_ts(&self, user_id: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT created_ts FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Store a single-use login token (hashed) for `user_id` until `expires_ts`.
    pub async fn add_login_token(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_ts: i64,
        auth_provider_id: Option<&str>,
    ) -> Result<(), StoreError> {
        // Expired tokens nobody used are dropped here, so the table stays small.
        sqlx::query("DELETE FROM login_tokens WHERE expires_ts < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO login_tokens (token_hash, user_id, expires_ts, auth_provider_id) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_ts)
            .bind(auth_provider_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Use up a login token: `(user, auth_provider_id)` if it exists and has not expired
    /// (`auth_provider_id` as given to `create_login_token`). Deleted either way, in the same
    /// statement, so a token logs in at most once.
    pub async fn take_login_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM login_tokens WHERE token_hash = $1 RETURNING user_id, expires_ts, auth_provider_id",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| {
            let expires: i64 = r.get(1);
            (expires > now_ms()).then(|| (r.get(0), r.get(2)))
        }))
    }

    /// Append a cache invalidation to the stream; returns its position.
    pub async fn add_invalidation(
        &self,
        instance: &str,
        module: &str,
        function: &str,
        key: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::CacheInvalidations).await?;
        let position: i64 = sqlx::query_scalar("INSERT INTO cache_invalidations (instance, module, function, cache_key, ts) VALUES ($1, $2, $3, $4, $5) RETURNING stream_id")
            .bind(instance)
            .bind(module)
            .bind(function)
            .bind(key)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(position)
    }

    /// Invalidations after `since`, oldest first.
    pub async fn invalidations_since(&self, since: i64) -> Result<Vec<Invalidation>, StoreError> {
        let rows = sqlx::query("SELECT stream_id, instance, module, function, cache_key FROM cache_invalidations WHERE stream_id > $1 ORDER BY stream_id LIMIT 1000")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Invalidation {
                stream_id: r.get(0),
                instance: r.get(1),
                module: r.get(2),
                function: r.get(3),
                key: r.get(4),
            })
            .collect())
    }

    /// Drop invalidations older than `age_ms` (every instance has read them by then).
    pub async fn prune_invalidations(&self, age_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM cache_invalidations WHERE ts < $1")
            .bind(now_ms() - age_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The newest invalidation stream position.
    pub async fn max_invalidation(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(stream_id), 0) FROM cache_invalidations")
            .fetch_one(&self.pool)
            .await
    }
}

/// Key/value operations, on a transaction or a single connection.
pub mod kv {
    use super::*;

    /// The value (JSON text) under `key`.
    pub async fn get(
        conn: &mut AnyConnection,
        module: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM module_kv WHERE module = $1 AND key = $2")
            .bind(module)
            .bind(key)
            .fetch_optional(conn)
            .await
    }

    /// Set `key` to `value` (JSON text).
    pub async fn put(
        conn: &mut AnyConnection,
        module: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO module_kv (module, key, value) VALUES ($1, $2, $3) ON CONFLICT (module, key) DO UPDATE SET value = excluded.value")
            .bind(module)
            .bind(key)
            .bind(value)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Remove `key`; whether it existed.
    pub async fn delete(
        conn: &mut AnyConnection,
        module: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM module_kv WHERE module = $1 AND key = $2")
            .bind(module)
            .bind(key)
            .execute(conn)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Up to `limit` `(key, value)` pairs whose key starts with `prefix` and sorts after
    /// `after`, in key order.
    pub async fn scan(
        conn: &mut AnyConnection,
        module: &str,
        prefix: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // Keys compare as UTF-8 bytes; U+10FFFF is the largest character, so every key with
        // this prefix sorts below prefix + U+10FFFF.
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query("SELECT key, value FROM module_kv WHERE module = $1 AND key >= $2 AND key > $3 AND key < $4 ORDER BY key LIMIT $5")
            .bind(module)
            .bind(prefix)
            .bind(after)
            .bind(upper)
            .bind(limit.clamp(1, MAX_SCAN))
            .fetch_all(conn)
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
