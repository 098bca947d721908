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
