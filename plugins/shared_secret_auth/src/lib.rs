//! A shared-secret password auth provider (after the behaviour of Synapse's
//! shared-secret-auth module): a trusted service that knows the secret logs users in without
//! their passwords.
//!
//! * Login type `com.devture.shared_secret_auth` with field `token`: the token is the
//!   lowercase hex HMAC-SHA512 of the full user ID, keyed with `shared_secret`.
//! * Optionally (`m_login_password_support_enabled: true`), `m.login.password` with that token
//!   as the password.
//!
//! The user must already exist; this module never registers anyone.
//!
//! ```yaml
//! modules:
//!   - module: shared_secret_auth
//!     config:
//!       shared_secret: "long random string"
//!       m_login_password_support_enabled: false
//! ```

use hmac::{Hmac, Mac};
use plugin_sdk::{
    export_module, AuthResult, ConfigError, Json, Module, ModuleApi, ModuleError,
    PasswordAuthProviderCallbacks,
};
use serde::Deserialize;
use sha2::Sha512;

/// Configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    shared_secret: String,
    #[serde(default)]
    m_login_password_support_enabled: bool,
}

/// See the crate docs.
pub struct SharedSecretAuth;

/// The token for `user_id`: hex HMAC-SHA512 keyed with `secret`.
pub fn token_for(secret: &str, user_id: &str) -> String {
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn verify(secret: &str, user_id: &str, token: &str) -> bool {
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    let Ok(bytes) = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

impl Module for SharedSecretAuth {
    type Config = Config;

    fn parse_config(config: plugin_sdk::serde_json::Value) -> Result<Config, ConfigError> {
        let config: Config = ConfigError::deserialize(config)?;
        if config.shared_secret.len() < 16 {
            return Err(
                ConfigError::new("too short: use at least 16 characters").at(["shared_secret"])
            );
        }
        Ok(config)
    }

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let mut cbs = PasswordAuthProviderCallbacks::new();
        for (login_type, field, enabled) in [
            ("com.devture.shared_secret_auth", "token", true),
            (
                "m.login.password",
                "password",
                config.m_login_password_support_enabled,
            ),
        ] {
            if !enabled {
                continue;
            }
            let (secret, api) = (config.shared_secret.clone(), api.clone());
            cbs = cbs.auth_checker(
                login_type,
                &[field],
                move |user: String, _login_type: String, login: Json| {
                    let user_id = api.get_qualified_user_id(&user);
                    let token = login
                        .get(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let ok = verify(&secret, &user_id, &token);
                    async move { ok.then(|| AuthResult::new(user_id)) }
                },
            );
        }
        api.register_password_auth_provider_callbacks(cbs)?;
        Ok(SharedSecretAuth)
    }
}

export_module!(SharedSecretAuth);
