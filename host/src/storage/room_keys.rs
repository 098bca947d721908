//! Server-side key backups (`/room_keys/*`): a user's backup versions and the encrypted
//! megolm sessions stored in them. Writes that read first (uploads, deletions) hold the
//! write lock from their first statement (`BEGIN IMMEDIATE`), so two devices uploading the
//! same session at once cannot both decide to insert it, and a version switched meanwhile is
//! never written to.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError};

/// One backup version of a user (spec `GET /room_keys/version` answer, without `count`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackupVersion {
    /// The version number (sent to clients as a decimal string).
    pub version: i64,
    /// The backup algorithm, such as `m.megolm_backup.v1.curve25519-aes-sha2`.
    pub algorithm: String,
    /// The client's `auth_data` object, as JSON text.
    pub auth_data: String,
    /// Changes to the version's keys so far (sent as a decimal string).
    pub etag: i64,
}

/// One backed-up session (`KeyBackupData` plus where it belongs).
#[derive(Debug, Clone, PartialEq)]
pub struct BackupKey {
    /// The room the session encrypts.
    pub room_id: String,
    /// The megolm session ID.
    pub session_id: String,
    /// Index of the first message the session can decrypt.
    pub first_message_index: i64,
    /// How many times the key was forwarded before reaching the uploader.
    pub forwarded_count: i64,
    /// Whether the uploader verified the device that sent it the key.
    pub is_verified: bool,
    /// The encrypted `session_data` object, as JSON text.
    pub session_data: String,
}

/// What became of an upload of keys into a backup version.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyUpload {
    /// Stored; the version's `etag` and key `count` afterwards.
    Stored {
        /// The version's etag afterwards.
        etag: i64,
        /// Keys in the version afterwards.
        count: i64,
    },
    /// The user has no backup version at all.
    NoBackup,
    /// The version exists but is not the current one, which is `current`.
    WrongVersion {
        /// The user's current version.
        current: i64,
    },
    /// The version does not exist (or was deleted).
    UnknownVersion,
}

fn key_of(row: &AnyRow) -> BackupKey {
    BackupKey {
        room_id: row.get(0),
        session_id: row.get(1),
        first_message_index: row.get(2),
        forwarded_count: row.get(3),
        is_verified: row.get::<i64, _>(4) != 0,
        session_data: row.get(5),
    }
}

const KEY_COLUMNS: &str =
    "room_id, session_id, first_message_index, forwarded_count, is_verified, session_data";

async fn current_version(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(
        "SELECT MAX(version) FROM e2e_room_keys_versions WHERE user_id = $1 AND deleted = 0",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await
}

async fn live_etag(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    version: i64,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(
        "SELECT etag FROM e2e_room_keys_versions \
         WHERE user_id = $1 AND version = $2 AND deleted = 0",
    )
    .bind(user_id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await
}

async fn count_in(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    version: i64,
) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = $1 AND version = $2")
        .bind(user_id)
        .bind(version)
        .fetch_one(&mut **tx)
        .await
}

async fn set_etag(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    version: i64,
    etag: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE e2e_room_keys_versions SET etag = $1 WHERE user_id = $2 AND version = $3")
        .bind(etag)
        .bind(user_id)
        .bind(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn write_key(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    version: i64,
    key: &BackupKey,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, \
         first_message_index, forwarded_count, is_verified, session_data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET \
         first_message_index = excluded.first_message_index, \
         forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, \
         session_data = excluded.session_data",
    )
    .bind(user_id)
    .bind(version)
    .bind(&key.room_id)
    .bind(&key.session_id)
    .bind(key.first_message_index)
    .bind(key.forwarded_count)
    .bind(i64::from(key.is_verified))
    .bind(&key.session_data)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Create the next backup version of `user_id` (it becomes the current one) and return
    /// its number; numbers of deleted versions are not reused.
    pub async fn create_backup_version(
        &self,
        user_id: &str,
        algorithm: &str,
        auth_data: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_locked(super::WriteLock::KeyBackup).await?;
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM e2e_room_keys_versions WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let version = last.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(version)
        .bind(algorithm)
        .bind(auth_data)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// The backup version `version` of `user_id` (the current one for `None`), unless it does
    /// not exist or was deleted.
    pub async fn backup_version(
        &self,
        user_id: &str,
        version: Option<i64>,
    ) -> Result<Option<BackupVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT version, algorithm, auth_data, etag FROM e2e_room_keys_versions \
             WHERE user_id = $1 AND deleted = 0 AND ($2 IS NULL OR version = $3) \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(version)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| BackupVersion {
            version: r.get(0),
            algorithm: r.get(1),
            auth_data: r.get(2),
            etag: r.get(3),
        }))
    }

    /// Replace the `auth_data` (JSON text) of a live backup version; false when there is no
    /// such version.
    pub async fn set_backup_auth_data(
        &self,
        user_id: &str,
        version: i64,
        auth_data: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE e2e_room_keys_versions SET auth_data = $1 \
             WHERE user_id = $2 AND version = $3 AND deleted = 0",
        )
        .bind(auth_data)
        .bind(user_id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete a live backup version and all its keys; false when there is no such version.
    pub async fn delete_backup_version(
        &self,
        user_id: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_locked(super::WriteLock::KeyBackup).await?;
        let done = sqlx::query(
            "UPDATE e2e_room_keys_versions SET deleted = 1 \
             WHERE user_id = $1 AND version = $2 AND deleted = 0",
        )
        .bind(user_id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2")
            .bind(user_id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many keys backup `version` of `user_id` holds.
    pub async fn count_backup_keys(&self, user_id: &str, version: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let count = count_in(&mut tx, user_id, version).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// The keys of backup `version`, all of them or those of `room_id` (and `session_id`),
    /// ordered by room and session.
    pub async fn backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Vec<BackupKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM e2e_room_keys WHERE user_id = $1 AND version = $2 \
             AND ($3 IS NULL OR room_id = $4) AND ($5 IS NULL OR session_id = $6) \
             ORDER BY room_id, session_id"
        ))
        .bind(user_id)
        .bind(version)
        .bind(room_id)
        .bind(room_id)
        .bind(session_id)
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_of).collect())
    }

    /// Store `keys` in backup `version` of `user_id`, which must be the current version. A
    /// session already stored is replaced only when `replace(old, new)` says so; the etag
    /// grows by one when anything was written. All or nothing.
    pub async fn put_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        keys: &[BackupKey],
        replace: impl Fn(&BackupKey, &BackupKey) -> bool,
    ) -> Result<KeyUpload, StoreError> {
        let mut tx = self.begin_locked(super::WriteLock::KeyBackup).await?;
        let Some(current) = current_version(&mut tx, user_id).await? else {
            return Ok(KeyUpload::NoBackup);
        };
        let Some(etag) = live_etag(&mut tx, user_id, version).await? else {
            return Ok(KeyUpload::UnknownVersion);
        };
        if current != version {
            return Ok(KeyUpload::WrongVersion { current });
        }
        let mut changed = false;
        for key in keys {
            let old = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM e2e_room_keys \
                 WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4"
            ))
            .bind(user_id)
            .bind(version)
            .bind(&key.room_id)
            .bind(&key.session_id)
            .fetch_optional(&mut *tx)
            .await?;
            if old.is_none_or(|old| replace(&key_of(&old), key)) {
                write_key(&mut tx, user_id, version, key).await?;
                changed = true;
            }
        }
        let etag = if changed { etag + 1 } else { etag };
        if changed {
            set_etag(&mut tx, user_id, version, etag).await?;
        }
        let count = count_in(&mut tx, user_id, version).await?;
        tx.commit().await?;
        Ok(KeyUpload::Stored { etag, count })
    }

    /// Delete the keys of live backup `version` (all, or those of `room_id`, or one session)
    /// and grow its etag by one; returns `(etag, count)` afterwards, `None` when the version
    /// does not exist.
    pub async fn delete_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let mut tx = self.begin_locked(super::WriteLock::KeyBackup).await?;
        let Some(etag) = live_etag(&mut tx, user_id, version).await? else {
            return Ok(None);
        };
        sqlx::query(
            "DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2 \
             AND ($3 IS NULL OR room_id = $4) AND ($5 IS NULL OR session_id = $6)",
        )
        .bind(user_id)
        .bind(version)
        .bind(room_id)
        .bind(room_id)
        .bind(session_id)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        set_etag(&mut tx, user_id, version, etag + 1).await?;
        let count = count_in(&mut tx, user_id, version).await?;
        tx.commit().await?;
        Ok(Some((etag + 1, count)))
    }

    /// Forget every backup version and key of `user_id`, numbering included (a deactivated
    /// user's backups go, as in Synapse).
    pub async fn delete_all_backups(&self, user_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM e2e_room_keys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM e2e_room_keys_versions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}
