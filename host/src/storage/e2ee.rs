//! End-to-end encryption beyond key upload: reading device keys for `/keys/query`, claiming
//! one-time keys, cross-signing keys and the signatures uploaded for them.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One signature uploaded through `POST /keys/signatures/upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRow {
    /// The user whose key is signed.
    pub target_user_id: String,
    /// The signed key: a device ID or a cross-signing public key (unpadded base64).
    pub target_key_id: String,
    /// The signing user.
    pub signer_user_id: String,
    /// The signing key, `ed25519:<public key or device ID>`.
    pub signer_key_id: String,
    /// The signature (unpadded base64).
    pub signature: String,
}

/// A device's published identity keys.
#[derive(Debug, Clone)]
pub struct DeviceKeysRow {
    /// The device ID.
    pub device_id: String,
    /// The `device_keys` object as uploaded (JSON text).
    pub key_json: String,
    /// The device's display name, if any.
    pub display_name: Option<String>,
}

/// A key handed out by [`Store::claim_key`].
#[derive(Debug, Clone)]
pub struct ClaimedKey {
    /// The key ID (without the algorithm).
    pub key_id: String,
    /// The key as uploaded (JSON text).
    pub key_json: String,
}

impl Store {
    /// The identity keys of `user_id`'s devices (all of them when `device_ids` is empty),
    /// for devices that still exist.
    pub async fn device_keys_of(
        &self,
        user_id: &str,
        device_ids: &[String],
    ) -> Result<Vec<DeviceKeysRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k \
             JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id \
             WHERE k.user_id = $1 ORDER BY k.device_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeviceKeysRow {
                device_id: r.get(0),
                key_json: r.get(1),
                display_name: r.get(2),
            })
            .filter(|d| device_ids.is_empty() || device_ids.contains(&d.device_id))
            .collect())
    }

    /// Hand out one one-time key of the device for `algorithm`, removing it in the same
    /// statement so that concurrent claims never get the same key; failing that, the
    /// fallback key for `algorithm`, marked used. `(key, is_fallback)`.
    pub async fn claim_key(
        &self,
        user_id: &str,
        device_id: &str,
        algorithm: &str,
    ) -> Result<Option<(ClaimedKey, bool)>, StoreError> {
        // On PostgreSQL two concurrent claims must not pick the same key: the second skips
        // the row the first has locked (SQLite runs one write at a time anyway).
        let lock = match self.backend {
            super::Backend::Sqlite => "",
            super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let one_time = sqlx::query(&format!(
            "DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 \
             AND key_id = (SELECT key_id FROM e2e_one_time_keys \
             WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY key_id LIMIT 1 {lock}) \
             RETURNING key_id, key_json",
        ))
        .bind(user_id)
        .bind(device_id)
        .bind(algorithm)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = one_time {
            let key = ClaimedKey {
                key_id: r.get(0),
                key_json: r.get(1),
            };
            return Ok(Some((key, false)));
        }
        let fallback = sqlx::query(
            "UPDATE e2e_fallback_keys SET used = 1 \
             WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(algorithm)
        .fetch_optional(&self.pool)
        .await?;
        Ok(fallback.map(|r| {
            let key = ClaimedKey {
                key_id: r.get(0),
                key_json: r.get(1),
            };
            (key, true)
        }))
    }

    /// The algorithms of the device's fallback keys nobody has claimed yet.
    pub async fn unused_fallback_key_types(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT algorithm FROM e2e_fallback_keys \
             WHERE user_id = $1 AND device_id = $2 AND used = 0 ORDER BY algorithm",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_all(&self.pool)
        .await
    }

    /// `user_id`'s cross-signing key of `key_type` (`master`, `self_signing`,
    /// `user_signing`), as uploaded (JSON text).
    pub async fn cross_signing_key(
        &self,
        user_id: &str,
        key_type: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT key_json FROM e2e_cross_signing_keys WHERE user_id = $1 AND key_type = $2",
        )
        .bind(user_id)
        .bind(key_type)
        .fetch_optional(&self.pool)
        .await
    }

    /// Store `user_id`'s cross-signing keys `(key_type, JSON text)` together, and record the
    /// device-list changes they make: master and self-signing keys for everyone sharing a
    /// room, the user-signing key for the user alone.
    pub async fn set_cross_signing_keys(
        &self,
        user_id: &str,
        keys: &[(&str, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::DeviceLists).await?;
        for (key_type, key_json) in keys {
            sqlx::query(
                "INSERT INTO e2e_cross_signing_keys (user_id, key_type, key_json, ts) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key_type) \
                 DO UPDATE SET key_json = excluded.key_json, ts = excluded.ts",
            )
            .bind(user_id)
            .bind(key_type)
            .bind(key_json)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            let notify_only = (*key_type == "user_signing").then_some(user_id);
            sqlx::query(
                "INSERT INTO e2e_device_list_stream (user_id, notify_only) VALUES ($1, $2)",
            )
            .bind(user_id)
            .bind(notify_only)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Store signatures, each with its device-list change: a signature on the signer's own
    /// keys is seen by everyone sharing a room, one on another user's master key only by
    /// the signer.
    pub async fn add_signatures(&self, rows: &[SignatureRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::DeviceLists).await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO e2e_signatures (target_user_id, target_key_id, \
                 signer_user_id, signer_key_id, signature) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) \
                 DO UPDATE SET signature = excluded.signature",
            )
            .bind(&row.target_user_id)
            .bind(&row.target_key_id)
            .bind(&row.signer_user_id)
            .bind(&row.signer_key_id)
            .bind(&row.signature)
            .execute(&mut *tx)
            .await?;
            let notify_only =
                (row.target_user_id != row.signer_user_id).then_some(&row.signer_user_id);
            sqlx::query(
                "INSERT INTO e2e_device_list_stream (user_id, notify_only) VALUES ($1, $2)",
            )
            .bind(&row.target_user_id)
            .bind(notify_only)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// The uploaded signatures on `target_user_id`'s key `target_key_id`.
    pub async fn signatures_on(
        &self,
        target_user_id: &str,
        target_key_id: &str,
    ) -> Result<Vec<SignatureRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT signer_user_id, signer_key_id, signature FROM e2e_signatures \
             WHERE target_user_id = $1 AND target_key_id = $2",
        )
        .bind(target_user_id)
        .bind(target_key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SignatureRow {
                target_user_id: target_user_id.to_string(),
                target_key_id: target_key_id.to_string(),
                signer_user_id: r.get(0),
                signer_key_id: r.get(1),
                signature: r.get(2),
            })
            .collect())
    }

    /// Forget a removed device's encryption state (identity, one-time and fallback keys,
    /// signatures on it, waiting to-device messages) and record the device-list change.
    pub async fn delete_device_e2e(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        super::locks::lock(&mut tx, super::WriteLock::DeviceLists).await?;
        for table in [
            "e2e_device_keys",
            "e2e_one_time_keys",
            "e2e_fallback_keys",
            "to_device_inbox",
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE user_id = $1 AND device_id = $2"
            ))
            .bind(user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id = $2")
            .bind(user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO e2e_device_list_stream (user_id) VALUES ($1)")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}
