//! Password auth provider chains.

use plugin_sdk::catalogue::Hook;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{flag, j, opt, s, Call, CallbackError};
use crate::modules::invoke::Failure;
use crate::modules::registry::Registry;

/// A module authenticated the user.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOutcome {
    /// The canonical user ID.
    pub user_id: String,
    /// Follow-up to run with the login response: `(module index, token)`.
    pub on_login: Option<(usize, u64)>,
}

/// Why a login attempt with a module login type did not authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthError {
    /// Required fields are missing (400 "Missing parameters for login type …").
    MissingParams(Vec<String>),
}

#[derive(Deserialize)]
struct RawAuth {
    user_id: String,
    on_login: Option<u64>,
}

impl Registry {
    /// Module login types with their required fields, in registration order.
    pub fn supported_login_types(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for cb in self.chain(Hook::AuthChecker) {
            let login_type = cb.meta["login_type"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let fields = serde_json::from_value(cb.meta["fields"].clone()).unwrap_or_default();
            if !out.iter().any(|(t, _)| *t == login_type) {
                out.push((login_type, fields));
            }
        }
        out
    }

    /// Authenticate `user` with the checkers for `login_type`. `Ok(None)`: no module
    /// authenticated (the caller falls back or answers 403). Failures count as `None`.
    pub async fn check_auth(
        &self,
        user: &str,
        login_type: &str,
        submission: &Map<String, Value>,
    ) -> Result<Option<AuthOutcome>, AuthError> {
        let checkers: Vec<_> = self
            .chain(Hook::AuthChecker)
            .iter()
            .filter(|cb| cb.meta["login_type"].as_str() == Some(login_type))
            .collect();
        for cb in checkers {
            let fields: Vec<String> =
                serde_json::from_value(cb.meta["fields"].clone()).unwrap_or_default();
            let missing: Vec<String> = fields
                .iter()
                .filter(|f| !submission.contains_key(*f))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(AuthError::MissingParams(missing));
            }
            let login_dict: Map<String, Value> = fields
                .iter()
                .filter_map(|f| submission.get(f).map(|v| (f.clone(), v.clone())))
                .collect();
            let dict = Value::Object(login_dict).to_string();
            let call = call!(AuthChecker {
                user: s(user),
                login_type: s(login_type),
                login_dict: j(&dict),
            });
            if let Ok(Some(raw)) = self.invoke::<Option<Value>>(cb, call).await {
                match serde_json::from_value::<RawAuth>(raw) {
                    Ok(a) => {
                        return Ok(Some(AuthOutcome {
                            user_id: a.user_id,
                            on_login: a.on_login.map(|t| (cb.module_index, t)),
                        }))
                    }
                    Err(e) => {
                        tracing::warn!(module = %cb.module, "auth checker returned a malformed result: {e}")
                    }
                }
            }
        }
        Ok(None)
    }

    /// `check_3pid_auth(medium, address, password)`: FIRST-NON-None; failures count as None.
    pub async fn check_3pid_auth(
        &self,
        medium: &str,
        address: &str,
        password: &str,
    ) -> Option<AuthOutcome> {
        let (raw, cb) = self
            .first_some::<Value>(
                call!(Check3pidAuth {
                    medium: s(medium),
                    address: s(address),
                    password: s(password),
                }),
                true,
            )
            .await
            .ok()??;
        let a: RawAuth = serde_json::from_value(raw).ok()?;
        Some(AuthOutcome {
            user_id: a.user_id,
            on_login: a.on_login.map(|t| (cb.module_index, t)),
        })
    }

    /// `on_logged_out(user_id, device_id, access_token)`: every module; failures logged.
    pub async fn on_logged_out(&self, user_id: &str, device_id: Option<&str>, access_token: &str) {
        self.notify(call!(OnLoggedOut {
            user_id: s(user_id),
            device_id: opt(device_id),
            access_token: s(access_token),
        }))
        .await
    }

    /// `get_username_for_registration(uia_results, params)`: FIRST-NON-None; failures 500.
    pub async fn get_username_for_registration(
        &self,
        uia_results: &Value,
        params: &Value,
    ) -> Result<Option<String>, CallbackError> {
        let (uia_results, params) = (uia_results.to_string(), params.to_string());
        self.registration_choice(call!(GetUsernameForRegistration {
            uia_results: j(&uia_results),
            params: j(&params),
        }))
        .await
    }

    /// `get_displayname_for_registration(uia_results, params)`: FIRST-NON-None; failures 500.
    pub async fn get_displayname_for_registration(
        &self,
        uia_results: &Value,
        params: &Value,
    ) -> Result<Option<String>, CallbackError> {
        let (uia_results, params) = (uia_results.to_string(), params.to_string());
        self.registration_choice(call!(GetDisplaynameForRegistration {
            uia_results: j(&uia_results),
            params: j(&params),
        }))
        .await
    }

    /// FIRST-NON-None; an answer that is not a string is logged and ignored, other
    /// failures answer 500.
    async fn registration_choice(
        &self,
        call: Call<'_, '_>,
    ) -> Result<Option<String>, CallbackError> {
        for cb in self.chain(call.hook) {
            match self.invoke::<Option<String>>(cb, call).await {
                Ok(Some(choice)) => return Ok(Some(choice)),
                Ok(None) | Err(Failure::Invalid(_)) => {}
                Err(f) => return Err(CallbackError::from_failure(cb, f, false)),
            }
        }
        Ok(None)
    }

    /// `is_3pid_allowed(medium, address, registration)`: FIRST false; a non-bool answer is
    /// logged and ignored; other failures answer 500.
    pub async fn is_3pid_allowed(
        &self,
        medium: &str,
        address: &str,
        registration: bool,
    ) -> Result<bool, CallbackError> {
        let call = call!(Is3pidAllowed {
            medium: s(medium),
            address: s(address),
            registration: flag(registration),
        });
        for cb in self.chain(call.hook) {
            match self.invoke::<bool>(cb, call).await {
                Ok(false) => return Ok(false),
                Ok(true) | Err(Failure::Invalid(_)) => {}
                Err(f) => return Err(CallbackError::from_failure(cb, f, false)),
            }
        }
        Ok(true)
    }
}
