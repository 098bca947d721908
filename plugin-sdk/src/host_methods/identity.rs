//! Arguments and answers of the identity and session methods.

use serde::{Deserialize, Serialize};

/// One user: `(user_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserArgs {
    /// A full user ID, `@localpart:server`.
    pub user_id: String,
}

/// `set_user_admin(user_id, admin)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetUserAdminArgs {
    /// A registered local user.
    pub user_id: String,
    /// Whether they are to be a server admin.
    pub admin: bool,
}

/// `register_user(localpart, displayname?, admin?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterUserArgs {
    /// The new user's localpart (lower-cased by the host).
    pub localpart: String,
    /// Display name; the localpart when `None`.
    pub displayname: Option<String>,
    /// Make the user a server admin (not sent when `None`, as the SDK never has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
}

/// `register_device(user_id, device_id?, initial_display_name?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDeviceArgs {
    /// A registered local user.
    pub user_id: String,
    /// The device ID to use; a new one when `None`.
    pub device_id: Option<String>,
    /// The device's display name.
    pub initial_display_name: Option<String>,
}

/// `set_displayname(user_id, displayname)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDisplaynameArgs {
    /// A registered local user.
    pub user_id: String,
    /// The new display name.
    pub displayname: String,
}

/// `get_user_by_req(access_token, allow_expired)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUserByReqArgs {
    /// The request's access token (empty when it had none).
    pub access_token: String,
    /// Accept the token of an expired account.
    pub allow_expired: bool,
}

/// One access token: `(access_token)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenArgs {
    /// The access token.
    pub access_token: String,
}

/// `create_login_token(user_id, duration_ms?, auth_provider_id?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLoginTokenArgs {
    /// A registered local user.
    pub user_id: String,
    /// How long the token lasts: 1 ms to one day, two minutes when `None`.
    pub duration_ms: Option<i64>,
    /// The SSO provider the login is attributed to.
    pub auth_provider_id: Option<String>,
}

/// One third-party identifier bound to a user, as `get_threepids_for_user` answers it
/// (Synapse's `ThreepidResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threepid {
    /// `email` or `msisdn`.
    pub medium: String,
    /// The address; emails canonicalised (local part case-folded, domain lower-cased),
    /// msisdns in E.164 without the `+`.
    pub address: String,
    /// When ownership was validated, ms since the epoch.
    pub validated_at: i64,
    /// When the identifier was bound, ms since the epoch.
    pub added_at: i64,
}

/// A user's profile as `get_profile_for_user` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name, if set.
    pub displayname: Option<String>,
    /// Avatar URL, if set.
    pub avatar_url: Option<String>,
}

impl From<Profile> for crate::ProfileInfo {
    fn from(p: Profile) -> Self {
        crate::ProfileInfo {
            display_name: p.displayname,
            avatar_url: p.avatar_url,
        }
    }
}
