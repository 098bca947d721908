//! Users, devices, access tokens and profiles.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// A user account.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Full MXID.
    pub user_id: String,
    /// Argon2 hash, if the user has a password.
    pub password_hash: Option<String>,
    /// Server admin.
    pub is_admin: bool,
    /// Shadow-banned (registration spam check).
    pub shadow_banned: bool,
    /// Deactivated.
    pub deactivated: bool,
}

/// Who an access token belongs to.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// The user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
    /// Server admin.
    pub is_admin: bool,
    /// Shadow-banned.
    pub shadow_banned: bool,
}

impl Store {
    /// Create a user; `false` if the ID is taken.
    pub async fn create_user(
        &self,
        user_id: &str,
        password_hash: Option<&str>,
        shadow_banned: bool,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO users (user_id, password_hash, shadow_banned, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(i64::from(shadow_banned))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Look a user up.
    pub async fn get_user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query("SELECT user_id, password_hash, is_admin, shadow_banned, deactivated FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| UserRow {
            user_id: r.get(0),
            password_hash: r.get(1),
            is_admin: super::flag(&r, 2),
            shadow_banned: super::flag(&r, 3),
            deactivated: super::flag(&r, 4),
        }))
    }

    /// Make a user a server admin (or not) on a module's request; remembered across restarts
    /// (see [`Store::sync_admins`]). `false` if there is no such user.
    pub async fn set_admin(&self, user_id: &str, admin: bool) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET is_admin = $1, admin_by_module = $1 WHERE user_id = $2")
                .bind(i64::from(admin))
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Undo a deactivation (admin only) with a new password hash.
    pub async fn reactivate_user(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET deactivated = 0, password_hash = $1 WHERE user_id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mark a user deactivated and drop every token.
    pub async fn deactivate_user(&self, user_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Set the display name of `user_id`'s device `device_id`; whether the device exists.
    pub async fn set_device_display_name(
        &self,
        user_id: &str,
        device_id: &str,
        display_name: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE devices SET display_name = $1 WHERE user_id = $2 AND device_id = $3",
        )
        .bind(display_name)
        .bind(user_id)
        .bind(device_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Register a device (if new) and an access token for it; whether the device is new.
    pub async fn create_token(
        &self,
        user_id: &str,
        device_id: &str,
        display_name: Option<&str>,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query("INSERT INTO devices (user_id, device_id, display_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(device_id)
            .bind(display_name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(device_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Resolve a token hash.
    pub async fn token_info(&self, token_hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row = sqlx::query(
            "SELECT t.user_id, t.device_id, u.is_admin, u.shadow_banned FROM access_tokens t \
             JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1 AND u.deactivated = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| TokenInfo {
            user_id: r.get(0),
            device_id: r.get(1),
            is_admin: super::flag(&r, 2),
            shadow_banned: super::flag(&r, 3),
        }))
    }

    /// Delete one token (and its device's registration).
    pub async fn delete_token(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        self.delete_pushers_without_session().await
    }

    /// Delete every token of `user_id`; returns the devices that had one. One statement, so
    /// concurrent writers cannot make it fail half-way.
    pub async fn delete_all_tokens(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let mut devices: Vec<String> =
            sqlx::query_scalar("DELETE FROM access_tokens WHERE user_id = $1 RETURNING device_id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        devices.sort();
        devices.dedup();
        self.delete_pushers_without_session().await?;
        Ok(devices)
    }

    /// `(displayname, avatar_url)`.
    pub async fn get_profile(
        &self,
        user_id: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let row = sqlx::query("SELECT displayname, avatar_url FROM profiles WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or((None, None), |r| (r.get(0), r.get(1))))
    }

    /// Set one profile field (`displayname` or `avatar_url`).
    pub async fn set_profile_field(
        &self,
        user_id: &str,
        field: ProfileField,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = match field {
            ProfileField::Displayname => {
                "INSERT INTO profiles (user_id, displayname) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname"
            }
            ProfileField::AvatarUrl => {
                "INSERT INTO profiles (user_id, avatar_url) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET avatar_url = excluded.avatar_url"
            }
        };
        sqlx::query(sql)
            .bind(user_id)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Apply `admin_users`: listed users are admins; everyone else is an admin only if a
    /// module made them one (`set_user_admin`).
    pub async fn sync_admins(&self, admins: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET is_admin = admin_by_module")
            .execute(&mut *tx)
            .await?;
        for admin in admins {
            sqlx::query("UPDATE users SET is_admin = 1 WHERE user_id = $1")
                .bind(admin)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// `(device_id, display_name)` of a user's devices.
    pub async fn devices(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT device_id, display_name FROM devices WHERE user_id = $1 ORDER BY device_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Delete a device and its tokens; `false` if it did not exist.
    pub async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2")
            .bind(user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM devices WHERE user_id = $1 AND device_id = $2")
            .bind(user_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.delete_pushers_without_session().await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A profile field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    /// `displayname`.
    Displayname,
    /// `avatar_url`.
    AvatarUrl,
}

/// OpenID tokens and password changes.
impl Store {
    /// Store an OpenID token for `user_id`, valid until `expires_at_ms` (ms since the epoch).
    /// Expired tokens are swept on the way.
    pub async fn create_openid_token(
        &self,
        token: &str,
        user_id: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM openid_tokens WHERE expires_at_ms <= $1")
            .bind(super::now_ms())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO openid_tokens (token, user_id, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(token)
        .bind(user_id)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user an unexpired OpenID token belongs to.
    pub async fn openid_token_user(&self, token: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT user_id FROM openid_tokens WHERE token = $1 AND expires_at_ms > $2",
        )
        .bind(token)
        .bind(super::now_ms())
        .fetch_optional(&self.pool)
        .await
    }

    /// Replace `user_id`'s password hash.
    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE user_id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Delete every token of `user_id` except the one hashed `keep`; returns the devices whose
    /// tokens went (a password change logging out the other devices).
    pub async fn delete_other_tokens(
        &self,
        user_id: &str,
        keep: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut devices: Vec<String> = sqlx::query_scalar(
            "DELETE FROM access_tokens WHERE user_id = $1 AND token_hash != $2 RETURNING device_id",
        )
        .bind(user_id)
        .bind(keep)
        .fetch_all(&self.pool)
        .await?;
        devices.sort();
        devices.dedup();
        Ok(devices)
    }
}
