//! Creating accounts (spec §"Account registration"), with the modules Synapse consults:
//! `get_username_for_registration`, `check_registration_for_spam` (a denial is disguised as
//! a rate limit, a shadow-ban answer registers the user shadow-banned),
//! `get_displayname_for_registration` and `on_user_registration`.

use axum::http::StatusCode;
use plugin_sdk::RegistrationBehaviour;
use serde_json::Value;

use crate::error::{MatrixError, MatrixResult};
use crate::service::password::hash_password;
use crate::service::session::random_string;
use crate::state::AppState;
use crate::storage::ProfileField;

/// One registration request.
pub struct Registration<'a> {
    /// The whole request body, as modules see it (`get_username_for_registration`).
    pub params: &'a Value,
    /// The completed interactive-auth stages, `{"m.login.dummy": true}`.
    pub uia_results: &'a Value,
    /// The requested localpart; a random one when `None` and no module picks one.
    pub username: Option<String>,
    /// The password to store (hashed), if any.
    pub password: Option<String>,
    /// `(user_agent, ip)` pairs of the request, for `check_registration_for_spam`.
    pub request_info: Vec<(String, String)>,
}

/// Synapse's rules for a new localpart (`RegistrationHandler.check_username`): not empty, only
/// `a-z 0-9 = _ - . / +`, not starting with `_` (reserved for application services), and a
/// valid user ID once the server name is added. 400 `M_INVALID_USERNAME` with Synapse's
/// message otherwise.
fn check_localpart(state: &AppState, localpart: &str) -> MatrixResult<()> {
    if localpart.is_empty() {
        return Err(invalid_username("User ID cannot be empty"));
    }
    let allowed =
        |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/' | b'+');
    if !localpart.bytes().all(allowed) {
        return Err(invalid_username(
            "User ID can only contain characters a-z, 0-9, or '=_-./+'",
        ));
    }
    if localpart.starts_with('_') {
        return Err(invalid_username("User ID may not begin with _"));
    }
    if ruma_common::UserId::parse(state.user_id(localpart)).is_err() {
        return Err(invalid_username("User ID is not valid"));
    }
    Ok(())
}

fn invalid_username(message: &str) -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_INVALID_USERNAME", message)
}

/// The localpart to register: a module's choice, else the requested one, else random;
/// lowercased and checked (400 `M_INVALID_USERNAME`), never an ID in `admin_users` (403).
async fn choose_localpart(state: &AppState, reg: &Registration<'_>) -> MatrixResult<String> {
    let chosen = state
        .modules
        .get_username_for_registration(reg.uia_results, reg.params)
        .await?;
    let localpart = chosen
        .or_else(|| reg.username.clone())
        .unwrap_or_else(|| random_string(12).to_lowercase())
        .to_lowercase();
    check_localpart(state, &localpart)?;
    let user_id = state.user_id(&localpart);
    // Admin accounts are created before they are listed in admin_users (which takes effect
    // at start-up); nobody may claim a listed ID through open registration.
    if state.config.admin_users.contains(&user_id) {
        return Err(MatrixError::forbidden(
            "This user ID is reserved for a server admin",
        ));
    }
    Ok(localpart)
}

/// Whether `localpart` could be registered now (`GET /register/available`): 400
/// `M_INVALID_USERNAME` for a malformed one, 400 `M_USER_IN_USE` when taken, 403 when
/// reserved for a server admin.
pub async fn check_available(state: &AppState, localpart: &str) -> MatrixResult<()> {
    let localpart = localpart.to_lowercase();
    check_localpart(state, &localpart)?;
    let user_id = state.user_id(&localpart);
    if state.config.admin_users.contains(&user_id) {
        return Err(MatrixError::forbidden(
            "This user ID is reserved for a server admin",
        ));
    }
    if state.store.get_user(&user_id).await?.is_some() {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_USER_IN_USE",
            "User ID already taken.",
        ));
    }
    Ok(())
}

/// The checks Synapse's `RegisterRestServlet` makes of every request before anything else:
/// the address's `rc_registration` bucket (checked, not counted: 429 `M_LIMIT_EXCEEDED`),
/// then the `kind` query parameter: `user` (the default) goes on, `guest` is 403
/// `M_GUEST_ACCESS_FORBIDDEN` (modhost has no guest accounts, as Synapse with
/// `allow_guest_access: false`, its default), anything else 400 `M_UNRECOGNIZED`.
pub fn check_request(state: &AppState, ip: &str, kind: Option<&str>) -> MatrixResult<()> {
    state.check_registration_rate(ip, false)?;
    match kind.unwrap_or("user") {
        "user" => Ok(()),
        "guest" => Err(MatrixError::new(
            StatusCode::FORBIDDEN,
            "M_GUEST_ACCESS_FORBIDDEN",
            "Guest access is disabled",
        )),
        other => Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_UNRECOGNIZED",
            format!("Do not understand membership kind: {other}"),
        )),
    }
}

/// Register an account; returns its user ID. Errors: 400 `M_MISSING_PARAM` without a
/// password, 400 `M_INVALID_USERNAME`,
/// 400 `M_USER_IN_USE`, 403 for a reserved ID, 400 `M_WEAK_PASSWORD` and the policy's
/// errcodes for a refused password, 429 `M_LIMIT_EXCEEDED` from `rc_registration`, a full
/// hashing pool, or when a spam checker denies (deliberately disguised, as Synapse does),
/// module failures.
pub async fn register(state: &AppState, reg: Registration<'_>) -> MatrixResult<String> {
    let ip = reg.request_info.first().map_or("", |(_, ip)| ip.as_str());
    state.check_registration_rate(ip, true)?;
    let localpart = choose_localpart(state, &reg).await?;
    // Synapse's `RegisterRestServlet` asks both password-provider choices before
    // `register_user` runs the spam check.
    let displayname = state
        .modules
        .get_displayname_for_registration(reg.uia_results, reg.params)
        .await?
        .unwrap_or_else(|| localpart.clone());
    let verdict = spam_verdict(state, &localpart, &reg.request_info).await?;
    let password_hash = match reg.password {
        // Synapse's limit, checked before anything is hashed.
        Some(p) if p.len() > crate::service::password::MAX_PASSWORD_BYTES => {
            return Err(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                "Invalid password",
            ))
        }
        Some(p) => {
            crate::service::password::check_password_policy(state, &p)?;
            Some(hash_password(state, p).await?)
        }
        // As Synapse: an account made through the client API always has a password.
        None => {
            return Err(MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_MISSING_PARAM",
                "Missing params: password",
            ))
        }
    };
    let user_id = create(state, &localpart, password_hash.as_deref(), verdict).await?;
    finish(state, &user_id, &displayname).await?;
    Ok(user_id)
}

/// The module API's `register_user`: the same registration checks Synapse's
/// `RegistrationHandler.register_user` runs for it — `check_registration_for_spam` first (no
/// request info, no auth provider; a denial is 429 `M_LIMIT_EXCEEDED`, a shadow-ban registers
/// the user shadow-banned), then the localpart rules and availability (400
/// `M_INVALID_USERNAME` / `M_USER_IN_USE`) — then `displayname` (default: the localpart),
/// `admin`, and `on_user_registration`. No password and no device. Unlike the client API,
/// `get_displayname_for_registration` is not asked (Synapse asks it only in the servlet).
pub async fn register_for_module(
    state: &AppState,
    localpart: &str,
    displayname: Option<String>,
    admin: bool,
) -> MatrixResult<String> {
    let localpart = localpart.to_lowercase();
    let verdict = spam_verdict(state, &localpart, &[]).await?;
    check_localpart(state, &localpart)?;
    let user_id = create(state, &localpart, None, verdict).await?;
    if admin {
        state.store.set_admin(&user_id, true).await?;
    }
    finish(state, &user_id, &displayname.unwrap_or(localpart)).await?;
    Ok(user_id)
}

/// `check_registration_for_spam` for `localpart`: allow or shadow-ban; a denial is 429
/// `M_LIMIT_EXCEEDED` "Rate limited" so the refused cannot tell.
async fn spam_verdict(
    state: &AppState,
    localpart: &str,
    request_info: &[(String, String)],
) -> MatrixResult<RegistrationBehaviour> {
    let verdict = state
        .modules
        .check_registration_for_spam(None, Some(localpart), request_info, None)
        .await?;
    if verdict == RegistrationBehaviour::Deny {
        return Err(MatrixError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "M_LIMIT_EXCEEDED",
            "Rate limited",
        ));
    }
    Ok(verdict)
}

/// Store the account (shadow-banned when the spam checkers said so); 400 `M_USER_IN_USE` when
/// the ID is taken.
async fn create(
    state: &AppState,
    localpart: &str,
    password_hash: Option<&str>,
    verdict: RegistrationBehaviour,
) -> MatrixResult<String> {
    let user_id = state.user_id(localpart);
    let shadow_banned = verdict == RegistrationBehaviour::ShadowBan;
    if !state
        .store
        .create_user(&user_id, password_hash, shadow_banned)
        .await?
    {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_USER_IN_USE",
            "User ID already taken.",
        ));
    }
    Ok(user_id)
}

/// Set the new account's display name and tell `on_user_registration` modules.
async fn finish(state: &AppState, user_id: &str, displayname: &str) -> MatrixResult<()> {
    state
        .store
        .set_profile_field(user_id, ProfileField::Displayname, Some(displayname))
        .await?;
    state.modules.on_user_registration(user_id).await?;
    Ok(())
}
