//! Local passwords: Argon2 hashes, computed on the bounded hashing pool
//! ([`crate::service::hash_pool`]: each takes tens of ms and ~19 MiB by design), and the
//! rules new passwords must meet (Synapse's `password_config.policy`).

use argon2::password_hash::{rand_core::OsRng, SaltString};
use axum::http::StatusCode;

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// The PHC string (`$argon2id$…`) for `password`, with a fresh salt. 429 `M_LIMIT_EXCEEDED`
/// when the hashing pool is full, 500 `M_UNKNOWN` if hashing fails.
pub async fn hash_password(state: &AppState, password: String) -> MatrixResult<String> {
    state
        .hash_pool
        .run(move || {
            let salt = SaltString::generate(&mut OsRng);
            super::argon::hash(password.as_bytes(), salt.as_salt())
        })
        .await?
        .map_err(|_| MatrixError::internal())
}

/// Whether `password` matches the PHC string `hash` (`false` for a malformed hash). 429
/// `M_LIMIT_EXCEEDED` when the hashing pool is full.
pub async fn verify_password(
    state: &AppState,
    password: String,
    hash: String,
) -> MatrixResult<bool> {
    state
        .hash_pool
        .run(move || super::argon::verify(password.as_bytes(), &hash))
        .await
}

/// Whether `password` is `user_id`'s stored local password (`false` when the user has none).
pub async fn password_matches(
    state: &AppState,
    user_id: &str,
    password: &str,
) -> MatrixResult<bool> {
    let hash = state
        .store
        .get_user(user_id)
        .await?
        .and_then(|u| u.password_hash);
    match hash {
        Some(hash) => verify_password(state, password.to_string(), hash).await,
        None => Ok(false),
    }
}

/// Check a new password (registration, password change, admin reset) against the rules:
/// never empty (400 `M_WEAK_PASSWORD`, a modhost rule: Synapse would store a user with no
/// password); with `password_config.policy.enabled`, Synapse's policy with its errcodes, 400
/// `M_PASSWORD_TOO_SHORT`, `M_PASSWORD_NO_DIGIT`, `M_PASSWORD_NO_SYMBOL`,
/// `M_PASSWORD_NO_UPPERCASE`, `M_PASSWORD_NO_LOWERCASE`.
pub fn check_password_policy(state: &AppState, password: &str) -> MatrixResult<()> {
    let refuse = |errcode: &str, message: String| {
        Err(MatrixError::new(StatusCode::BAD_REQUEST, errcode, message))
    };
    if password.is_empty() {
        return refuse("M_WEAK_PASSWORD", "The password must not be empty".into());
    }
    let policy = state.config.password_config.policy;
    if !policy.enabled {
        return Ok(());
    }
    if password.chars().count() < policy.minimum_length {
        let n = policy.minimum_length;
        return refuse(
            "M_PASSWORD_TOO_SHORT",
            format!("The password must be at least {n} characters long"),
        );
    }
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    if policy.require_digit && !has(char::is_ascii_digit) {
        return refuse(
            "M_PASSWORD_NO_DIGIT",
            "The password must include at least one digit".into(),
        );
    }
    if policy.require_symbol && !has(|c| !c.is_alphanumeric()) {
        return refuse(
            "M_PASSWORD_NO_SYMBOL",
            "The password must include at least one symbol".into(),
        );
    }
    if policy.require_uppercase && !has(|c| c.is_uppercase()) {
        return refuse(
            "M_PASSWORD_NO_UPPERCASE",
            "The password must include at least one uppercase letter".into(),
        );
    }
    if policy.require_lowercase && !has(|c| c.is_lowercase()) {
        return refuse(
            "M_PASSWORD_NO_LOWERCASE",
            "The password must include at least one lowercase letter".into(),
        );
    }
    Ok(())
}

/// Longest password accepted, in bytes (Synapse's limit).
pub const MAX_PASSWORD_BYTES: usize = 512;

/// Change `who`'s password to `new_password` (spec §"Password management", `POST
/// /account/password`, after user-interactive authentication). With `logout_devices` every
/// other device is deleted with its tokens, pushers and keys, and `on_logged_out` told of
/// each. Errors: 403
/// `M_FORBIDDEN` when password login is disabled, 400 `M_INVALID_PARAM` for a password over
/// [`MAX_PASSWORD_BYTES`] bytes.
pub async fn change_password(
    state: &AppState,
    who: &crate::service::auth::Requester,
    new_password: &str,
    logout_devices: bool,
) -> MatrixResult<()> {
    if !state.config.password_config.enabled || !state.config.password_config.localdb_enabled {
        return Err(MatrixError::forbidden("Password change disabled"));
    }
    if new_password.len() > MAX_PASSWORD_BYTES {
        return Err(MatrixError::invalid_param("Password too long"));
    }
    check_password_policy(state, new_password)?;
    let hash = hash_password(state, new_password.to_string()).await?;
    state.store.set_password_hash(&who.user_id, &hash).await?;
    if logout_devices {
        let gone = state
            .store
            .delete_other_tokens(&who.user_id, &who.token_hash)
            .await?;
        for device in gone {
            // The tokens themselves are only stored hashed, so modules get an empty one.
            state
                .modules
                .on_logged_out(&who.user_id, Some(&device), "")
                .await;
            // As Synapse: the other devices go with their tokens — their pushers, keys and
            // to-device queues too, announced in others' device lists.
            state.store.delete_device(&who.user_id, &device).await?;
            crate::service::device_lists::device_removed(state, &who.user_id, &device).await?;
        }
    }
    Ok(())
}
