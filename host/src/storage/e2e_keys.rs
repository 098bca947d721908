//! End-to-end encryption keys published by devices (`POST /keys/upload`).

use std::collections::BTreeMap;

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One key of a `one_time_keys` or `fallback_keys` upload.
#[derive(Debug, Clone)]
pub struct UploadedKey {
    /// The algorithm, `signed_curve25519`.
    pub algorithm: String,
    /// The key ID, `AAAAHQ`.
    pub key_id: String,
    /// The key as sent (a JSON string or key object), as JSON text.
    pub key_json: String,
}

impl Store {
    /// Replace the identity keys (`device_keys` object, JSON text) of `user_id`'s `device_id`.
    pub async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        key_json: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO e2e_device_keys (user_id, device_id, key_json, ts) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json, ts = excluded.ts",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(key_json)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored one-time key `algorithm:key_id` of the device (JSON text), if any.
    pub async fn one_time_key(
        &self,
        user_id: &str,
        device_id: &str,
        algorithm: &str,
        key_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT key_json FROM e2e_one_time_keys \
             WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(algorithm)
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Add one-time keys of the device (all or none).
    pub async fn add_one_time_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[UploadedKey],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query(
                "INSERT INTO e2e_one_time_keys \
                 (user_id, device_id, algorithm, key_id, key_json, ts) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(&key.algorithm)
            .bind(&key.key_id)
            .bind(&key.key_json)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Set the device's fallback key for each key's algorithm (replacing the older one).
    pub async fn set_fallback_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[UploadedKey],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query(
                "INSERT INTO e2e_fallback_keys \
                 (user_id, device_id, algorithm, key_id, key_json, used) VALUES ($1, $2, $3, $4, $5, 0) \
                 ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, \
                 key_json = excluded.key_json, used = 0",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(&key.algorithm)
            .bind(&key.key_id)
            .bind(&key.key_json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Unclaimed one-time keys of the device, counted per algorithm.
    pub async fn count_one_time_keys(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys \
             WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm",
        )
        .bind(user_id)
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
