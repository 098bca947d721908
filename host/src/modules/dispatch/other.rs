//! The smaller categories: presence router, account validity, background updates, account
//! data, media repository, ratelimit and `unsigned` fields.

use std::collections::{BTreeMap, BTreeSet};

use plugin_sdk::catalogue::Hook;
use plugin_sdk::{InterestedUsers, MediaUploadLimit, RatelimitOverride};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{flag, int, j, opt, s, Call, CallbackError};
use crate::modules::registry::Registry;

/// `on_update`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdateTarget {
    /// Desired batch duration.
    pub target_duration_ms: u64,
    /// Follow-up token for the exit step.
    pub on_exit: Option<u64>,
}

impl Registry {
    // --- presence router: MERGE; failures skip the module ---

    /// `get_users_for_states(updates)`: merged, updates unioned per recipient.
    pub async fn get_users_for_states(&self, updates: &[Value]) -> BTreeMap<String, Vec<Value>> {
        let text = serde_json::to_string(updates).unwrap_or_default();
        let mut merged: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let call = call!(GetUsersForStates {
            state_updates: j(&text)
        });
        for cb in self.chain(call.hook) {
            if let Ok(map) = self.invoke::<BTreeMap<String, Vec<Value>>>(cb, call).await {
                for (user, states) in map {
                    let slot = merged.entry(user).or_default();
                    for st in states {
                        if !slot.contains(&st) {
                            slot.push(st);
                        }
                    }
                }
            }
        }
        merged
    }

    /// `get_interested_users(user_id)`: union; `All` from any module returns at once.
    pub async fn get_interested_users(&self, user_id: &str) -> InterestedUsers {
        let mut users = BTreeSet::new();
        let call = call!(GetInterestedUsers {
            user_id: s(user_id)
        });
        for cb in self.chain(call.hook) {
            match self.invoke::<InterestedUsers>(cb, call).await {
                Ok(InterestedUsers::All) => return InterestedUsers::All,
                Ok(InterestedUsers::Users(more)) => users.extend(more),
                Err(_) => {}
            }
        }
        InterestedUsers::Users(users.into_iter().collect())
    }

    // --- account validity: failures propagate ---

    /// `is_user_expired(user_id)`: FIRST-NON-None; `None` when no module has an opinion.
    pub async fn is_user_expired(&self, user_id: &str) -> Result<Option<bool>, CallbackError> {
        Ok(self
            .first_some::<bool>(
                call!(IsUserExpired {
                    user_id: s(user_id)
                }),
                false,
            )
            .await?
            .map(|(v, _)| v))
    }

    /// `on_user_registration(user_id)`.
    pub async fn on_user_registration(&self, user_id: &str) -> Result<(), CallbackError> {
        self.notify_strict(call!(OnUserRegistration {
            user_id: s(user_id)
        }))
        .await
    }

    /// `on_user_login(user_id, auth_provider_type, auth_provider_id)`.
    pub async fn on_user_login(
        &self,
        user_id: &str,
        auth_provider_type: Option<&str>,
        auth_provider_id: Option<&str>,
    ) -> Result<(), CallbackError> {
        self.notify_strict(call!(OnUserLogin {
            user_id: s(user_id),
            auth_provider_type: opt(auth_provider_type),
            auth_provider_id: opt(auth_provider_id),
        }))
        .await
    }

    // --- background update controller: the first registering module only ---

    /// `on_update(update_name, database_name, one_shot)`; `None` without a controller.
    pub async fn on_update(
        &self,
        update_name: &str,
        database_name: &str,
        one_shot: bool,
    ) -> Result<Option<(UpdateTarget, usize)>, CallbackError> {
        let Some(cb) = self.chain(Hook::OnUpdate).first() else {
            return Ok(None);
        };
        let call = call!(OnUpdate {
            update_name: s(update_name),
            database_name: s(database_name),
            one_shot: flag(one_shot),
        });
        let raw: Value = self
            .invoke(cb, call)
            .await
            .map_err(|f| CallbackError::from_failure(cb, f, false))?;
        let target = serde_json::from_value(raw).map_err(|e| CallbackError::Failed {
            module: cb.module.to_string(),
            callback: "on_update",
            reason: e.to_string(),
        })?;
        Ok(Some((target, cb.module_index)))
    }

    /// `default_batch_size(update_name, database_name)`, default 100.
    pub async fn default_batch_size(
        &self,
        update_name: &str,
        database_name: &str,
    ) -> Result<u64, CallbackError> {
        let call = call!(DefaultBatchSize {
            update_name: s(update_name),
            database_name: s(database_name),
        });
        self.batch_size(call, 100).await
    }

    /// `min_batch_size(update_name, database_name)`, default 1.
    pub async fn min_batch_size(
        &self,
        update_name: &str,
        database_name: &str,
    ) -> Result<u64, CallbackError> {
        let call = call!(MinBatchSize {
            update_name: s(update_name),
            database_name: s(database_name),
        });
        self.batch_size(call, 1).await
    }

    async fn batch_size(&self, call: Call<'_, '_>, default: u64) -> Result<u64, CallbackError> {
        match self.chain(call.hook).first() {
            None => Ok(default),
            Some(cb) => self
                .invoke::<u64>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false)),
        }
    }

    // --- account data: ALL, failures logged ---

    /// `on_account_data_updated(user_id, room_id, type, content)`.
    pub async fn on_account_data_updated(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &Value,
    ) {
        let content = content.to_string();
        self.notify(call!(OnAccountDataUpdated {
            user_id: s(user_id),
            room_id: opt(room_id),
            account_data_type: s(data_type),
            content: j(&content),
        }))
        .await
    }

    // --- media repository, ratelimit, unsigned: failures propagate ---

    /// `get_media_config_for_user(user_id)`: FIRST-NON-None; an empty object counts as None.
    pub async fn get_media_config_for_user(
        &self,
        user_id: &str,
    ) -> Result<Option<Value>, CallbackError> {
        let call = call!(GetMediaConfigForUser {
            user_id: s(user_id)
        });
        for cb in self.chain(call.hook) {
            let answer = self
                .invoke::<Option<Value>>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
            match answer {
                Some(Value::Object(m)) if m.is_empty() => {}
                Some(Value::Null) | None => {}
                Some(config) => return Ok(Some(config)),
            }
        }
        Ok(None)
    }

    /// `is_user_allowed_to_upload_media_of_size(user_id, size)`: FIRST false.
    pub async fn is_user_allowed_to_upload_media_of_size(
        &self,
        user_id: &str,
        size: u64,
    ) -> Result<bool, CallbackError> {
        self.first_false(
            call!(IsUserAllowedToUploadMediaOfSize {
                user_id: s(user_id),
                size: int(size),
            }),
            false,
        )
        .await
    }

    /// `get_media_upload_limits_for_user(user_id)`: FIRST-NON-None (`[]` counts).
    pub async fn get_media_upload_limits_for_user(
        &self,
        user_id: &str,
    ) -> Result<Option<Vec<MediaUploadLimit>>, CallbackError> {
        Ok(self
            .first_some::<Vec<MediaUploadLimit>>(
                call!(GetMediaUploadLimitsForUser {
                    user_id: s(user_id)
                }),
                false,
            )
            .await?
            .map(|(v, _)| v))
    }

    /// `on_media_upload_limit_exceeded(user_id, limit, sent_bytes, attempted_bytes)`.
    pub async fn on_media_upload_limit_exceeded(
        &self,
        user_id: &str,
        limit: MediaUploadLimit,
        sent: u64,
        attempted: u64,
    ) -> Result<(), CallbackError> {
        let limit = serde_json::to_string(&limit).unwrap_or_default();
        self.notify_strict(call!(OnMediaUploadLimitExceeded {
            user_id: s(user_id),
            limit: j(&limit),
            sent_bytes: int(sent),
            attempted_bytes: int(attempted),
        }))
        .await
    }

    /// `get_ratelimit_override_for_user(user_id, limiter_name)`: FIRST-NON-None.
    pub async fn get_ratelimit_override_for_user(
        &self,
        user_id: &str,
        limiter_name: &str,
    ) -> Result<Option<RatelimitOverride>, CallbackError> {
        Ok(self
            .first_some::<RatelimitOverride>(
                call!(GetRatelimitOverrideForUser {
                    user_id: s(user_id),
                    limiter_name: s(limiter_name),
                }),
                false,
            )
            .await?
            .map(|(v, _)| v))
    }

    /// Merge every module's `add_field_to_unsigned(event)` into `unsigned`: later modules win
    /// for the same key; keys already in `unsigned` are never overwritten.
    pub async fn add_fields_to_unsigned(
        &self,
        event_json: &str,
        unsigned: &mut Map<String, Value>,
    ) -> Result<(), CallbackError> {
        let chain = self.chain(Hook::AddFieldToUnsigned);
        if chain.is_empty() {
            return Ok(());
        }
        let call = call!(AddFieldToUnsigned {
            event: j(event_json)
        });
        let mut added = Map::new();
        for cb in chain {
            let fields = self
                .invoke::<Value>(cb, call)
                .await
                .map_err(|f| CallbackError::from_failure(cb, f, false))?;
            if let Value::Object(fields) = fields {
                for (key, value) in fields {
                    if SERVER_UNSIGNED_KEYS.contains(&key.as_str()) {
                        warn_reserved_once(&cb.module, &key);
                    } else {
                        added.insert(key, value);
                    }
                }
            }
        }
        for (k, v) in added {
            unsigned.entry(k).or_insert(v);
        }
        Ok(())
    }

    // --- legacy account validity: single registration, failures propagate ---

    /// `on_legacy_send_mail(user_id)`; `false` when no module registered it.
    pub async fn on_legacy_send_mail(&self, user_id: &str) -> Result<bool, CallbackError> {
        let Some(cb) = self.chain(Hook::OnLegacySendMail).first() else {
            return Ok(false);
        };
        self.invoke::<()>(
            cb,
            call!(OnLegacySendMail {
                user_id: s(user_id)
            }),
        )
        .await
        .map_err(|f| CallbackError::from_failure(cb, f, false))?;
        Ok(true)
    }

    /// `on_legacy_renew(renewal_token)` → `{"token_valid", "token_stale", "expiration_ts"}`.
    pub async fn on_legacy_renew(
        &self,
        renewal_token: &str,
    ) -> Result<Option<Value>, CallbackError> {
        let Some(cb) = self.chain(Hook::OnLegacyRenew).first() else {
            return Ok(None);
        };
        self.invoke::<Value>(
            cb,
            call!(OnLegacyRenew {
                renewal_token: s(renewal_token)
            }),
        )
        .await
        .map(Some)
        .map_err(|f| CallbackError::from_failure(cb, f, false))
    }

    /// `on_legacy_admin_request(request)` → the new expiration timestamp.
    pub async fn on_legacy_admin_request(
        &self,
        request: &Value,
    ) -> Result<Option<i64>, CallbackError> {
        let Some(cb) = self.chain(Hook::OnLegacyAdminRequest).first() else {
            return Ok(None);
        };
        let text = request.to_string();
        self.invoke::<i64>(cb, call!(OnLegacyAdminRequest { request: j(&text) }))
            .await
            .map(Some)
            .map_err(|f| CallbackError::from_failure(cb, f, false))
    }
}

/// The `unsigned` keys the server owns (client-server spec v1.12): set by the server where the
/// spec says so, never by a module's `add_field_to_unsigned` — otherwise a module could make a
/// client believe the server said, say, that it sent an event (`transaction_id`).
pub const SERVER_UNSIGNED_KEYS: &[&str] = &[
    "age",
    "transaction_id",
    "prev_content",
    "prev_sender",
    "replaces_state",
    "redacted_because",
    "redacted_by",
    "membership",
    "m.relations",
    "invite_room_state",
    "knock_room_state",
];

/// Log once per module and key that a module tried to set a server-owned `unsigned` key.
fn warn_reserved_once(module: &str, key: &str) {
    static WARNED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let warned = WARNED.get_or_init(Default::default);
    let first = warned
        .lock()
        .map(|mut w| w.insert(format!("{module}\u{0}{key}")))
        .unwrap_or(false);
    if first {
        tracing::warn!(
            module,
            key,
            "add_field_to_unsigned returned a key the server owns; it is ignored"
        );
    }
}
