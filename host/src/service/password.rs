//! Local passwords: Argon2 hashes, computed off the async threads (each takes tens of ms and
//! ~19 MiB by design).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// The PHC string (`$argon2id$…`) for `password`, with a fresh salt. 500 `M_UNKNOWN` if the
/// hashing thread fails.
pub async fn hash_password(password: String) -> MatrixResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| MatrixError::internal())?
    .map_err(|_| MatrixError::internal())
}

/// Whether `password` matches the PHC string `hash` (`false` for a malformed hash).
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
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
    Ok(match hash {
        Some(hash) => verify_password(password.to_string(), hash).await,
        None => false,
    })
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
    let hash = hash_password(new_password.to_string()).await?;
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
