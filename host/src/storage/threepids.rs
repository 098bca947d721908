//! Third-party identifiers bound to local accounts (`user_threepids`).

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// One bound third-party identifier, as `GET /account/3pid` and the admin API list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreepidRow {
    /// `email` or `msisdn`.
    pub medium: String,
    /// The address, canonicalised (see `service::threepids::canonical_address`).
    pub address: String,
    /// When ownership was validated (ms since the Unix epoch).
    pub validated_at: i64,
    /// When the binding was stored (ms since the Unix epoch).
    pub added_at: i64,
}

impl Store {
    /// Bind `medium`/`address` to `user_id`. As Synapse's upsert on `(medium, address)`, an
    /// identifier bound to another user moves to `user_id`.
    pub async fn add_threepid(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
        validated_at: i64,
        added_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (medium, address) DO UPDATE SET \
             user_id = excluded.user_id, validated_at = excluded.validated_at, \
             added_at = excluded.added_at",
        )
        .bind(user_id)
        .bind(medium)
        .bind(address)
        .bind(validated_at)
        .bind(added_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unbind `medium`/`address` from `user_id`; whether it was bound to them.
    pub async fn delete_threepid(
        &self,
        user_id: &str,
        medium: &str,
        address: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM user_threepids WHERE user_id = $1 AND medium = $2 AND address = $3",
        )
        .bind(user_id)
        .bind(medium)
        .bind(address)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// `user_id`'s identifiers, oldest binding first.
    pub async fn threepids_of(&self, user_id: &str) -> Result<Vec<ThreepidRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT medium, address, validated_at, added_at FROM user_threepids \
             WHERE user_id = $1 ORDER BY added_at, medium, address",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ThreepidRow {
                    medium: r.try_get(0)?,
                    address: r.try_get(1)?,
                    validated_at: r.try_get(2)?,
                    added_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The user `medium`/`address` is bound to, if any.
    pub async fn user_by_threepid(
        &self,
        medium: &str,
        address: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT user_id FROM user_threepids WHERE medium = $1 AND address = $2")
            .bind(medium)
            .bind(address)
            .fetch_optional(&self.pool)
            .await
    }
}
