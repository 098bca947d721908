//! The module API: host services modules call by name through `HostApi::call`
//! (`ModuleApi::call_host` and its typed wrappers in the SDK). New services are new names,
//! so adding one never changes the ABI.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use plugin_sdk::ffi::{ErrorKind, FfiError, FfiValue};
use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::extract::Requester;
use crate::api::AppState;
use crate::modules::HostServices;
use crate::service::events::{NewEvent, SendOptions};
use crate::service::membership::Change;
use crate::storage::ProfileField;

fn arg_str(args: &[FfiValue], i: usize, name: &str) -> Result<String, FfiError> {
    match args.get(i) {
        Some(FfiValue::Str(s)) => Ok(s.to_string()),
        _ => Err(FfiError::new(
            ErrorKind::BAD_VALUE,
            format!("argument {i} ({name}) must be a string"),
        )),
    }
}

fn arg_opt_str(args: &[FfiValue], i: usize) -> Option<String> {
    match args.get(i) {
        Some(FfiValue::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn refused(err: ApiError) -> FfiError {
    let mut e = FfiError::new(ErrorKind::MATRIX, err.error.clone());
    e.details = serde_json::json!({"status": err.status.as_u16(), "errcode": err.errcode, "error": err.error, "fields": err.fields})
        .to_string()
        .into();
    e
}

fn internal(err: impl std::fmt::Display) -> FfiError {
    FfiError::new(ErrorKind::MODULE, err.to_string())
}

impl AppState {
    fn local(&self, user_id: &str) -> bool {
        user_id.ends_with(&format!(":{}", self.config.server_name))
    }

    fn acting_as(&self, user_id: &str) -> Requester {
        Requester {
            user_id: user_id.to_string(),
            device_id: String::new(),
            access_token: String::new(),
            token_hash: String::new(),
            is_admin: false,
            shadow_banned: false,
        }
    }

    async fn module_call(
        &self,
        module: &str,
        method: &str,
        args: Vec<FfiValue>,
    ) -> Result<FfiValue, FfiError> {
        match method {
            // `check_user_exists(user_id)` → the user ID if it exists, else null.
            "check_user_exists" => {
                let user_id = arg_str(&args, 0, "user_id")?;
                let exists = self
                    .store
                    .get_user(&user_id)
                    .await
                    .map_err(internal)?
                    .is_some();
                Ok(if exists {
                    FfiValue::Str(user_id.into())
                } else {
                    FfiValue::Null
                })
            }
            // `is_user_admin(user_id)` → bool.
            "is_user_admin" => {
                let user_id = arg_str(&args, 0, "user_id")?;
                Ok(FfiValue::Bool(
                    self.store
                        .get_user(&user_id)
                        .await
                        .map_err(internal)?
                        .is_some_and(|u| u.is_admin),
                ))
            }
            // `register_user(localpart, displayname?)` → the new user ID (no password).
            "register_user" => {
                let localpart = arg_str(&args, 0, "localpart")?.to_lowercase();
                let user_id = self.user_id(&localpart);
                if ruma_common::UserId::parse(&user_id).is_err() {
                    return Err(FfiError::new(
                        ErrorKind::BAD_VALUE,
                        format!("{user_id} is not a valid user ID"),
                    ));
                }
                if !self
                    .store
                    .create_user(&user_id, None, false)
                    .await
                    .map_err(internal)?
                {
                    return Err(refused(ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "M_USER_IN_USE",
                        "User ID already taken.",
                    )));
                }
                let display = arg_opt_str(&args, 1).unwrap_or_else(|| localpart.clone());
                self.store
                    .set_profile_field(&user_id, ProfileField::Displayname, Some(&display))
                    .await
                    .map_err(internal)?;
                self.modules
                    .on_user_registration(&user_id)
                    .await
                    .map_err(internal)?;
                tracing::info!(module, %user_id, "module registered a user");
                Ok(FfiValue::Str(user_id.into()))
            }
            // `update_room_membership(sender, target, room_id, membership)` → event ID.
            "update_room_membership" => {
                let (sender, target, room_id, membership) = (
                    arg_str(&args, 0, "sender")?,
                    arg_str(&args, 1, "target")?,
                    arg_str(&args, 2, "room_id")?,
                    arg_str(&args, 3, "membership")?,
                );
                if !self.local(&sender) {
                    return Err(FfiError::new(
                        ErrorKind::BAD_VALUE,
                        format!("sender {sender} is not a local user"),
                    ));
                }
                let change = match membership.as_str() {
                    "join" if sender == target => Change::Join,
                    "leave" if sender == target => Change::Leave,
                    "leave" => Change::Kick,
                    "invite" => Change::Invite,
                    "ban" => Change::Ban,
                    other => {
                        return Err(FfiError::new(
                            ErrorKind::BAD_VALUE,
                            format!("unsupported membership change {other:?} for {target}"),
                        ))
                    }
                };
                let event_id = self
                    .change_membership(&self.acting_as(&sender), &room_id, &target, change, None)
                    .await
                    .map_err(refused)?;
                Ok(FfiValue::Str(event_id.into()))
            }
            // `create_and_send_event_into_room(event)` → the event as stored (with event_id);
            // runs the same module checks as a client's event.
            "create_and_send_event_into_room" => {
                let event: Value = match args.first() {
                    Some(FfiValue::Json(t)) => {
                        serde_json::from_str(t.as_str()).map_err(internal)?
                    }
                    _ => {
                        return Err(FfiError::new(
                            ErrorKind::BAD_VALUE,
                            "argument 0 (event) must be JSON",
                        ))
                    }
                };
                let field = |k: &str| event.get(k).and_then(Value::as_str).map(String::from);
                let (Some(room_id), Some(sender), Some(event_type)) =
                    (field("room_id"), field("sender"), field("type"))
                else {
                    return Err(FfiError::new(
                        ErrorKind::BAD_VALUE,
                        "the event needs room_id, sender and type",
                    ));
                };
                if event_type == "m.room.member" {
                    return Err(FfiError::new(
                        ErrorKind::BAD_VALUE,
                        "use update_room_membership for membership events",
                    ));
                }
                let state_key = field("state_key");
                let new = NewEvent {
                    room_id: &room_id,
                    sender: &sender,
                    event_type: &event_type,
                    state_key: state_key.as_deref(),
                    content: event
                        .get("content")
                        .cloned()
                        .unwrap_or(Value::Object(Default::default())),
                    txn: None,
                };
                let event_id = self
                    .send_event(
                        new,
                        SendOptions {
                            spam_check: true,
                            ..SendOptions::default()
                        },
                    )
                    .await
                    .map_err(refused)?;
                let stored = self
                    .store
                    .get_event(&event_id)
                    .await
                    .map_err(internal)?
                    .map(|e| e.json)
                    .unwrap_or(Value::Null);
                Ok(FfiValue::Json(stored.to_string().into()))
            }
            // `get_room_state(room_id)` → the current state events.
            "get_room_state" => {
                let room_id = arg_str(&args, 0, "room_id")?;
                let state = self.store.current_state(&room_id).await.map_err(internal)?;
                Ok(FfiValue::Json(Value::Array(state).to_string().into()))
            }
            // `lookup_room_alias(alias)` → the room ID, or null.
            "lookup_room_alias" => {
                let alias = arg_str(&args, 0, "alias")?;
                Ok(self
                    .store
                    .resolve_alias(&alias)
                    .await
                    .map_err(internal)?
                    .map_or(FfiValue::Null, |(r, _)| FfiValue::Str(r.into())))
            }
            other => Err(FfiError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "host method {other} is not supported by this host (plugin-sdk {})",
                    plugin_sdk::ffi::SDK_VERSION
                ),
            )),
        }
    }
}

impl HostServices for AppState {
    fn call(
        &self,
        module: Arc<str>,
        method: String,
        args: Vec<FfiValue>,
    ) -> BoxFuture<'static, Result<FfiValue, FfiError>> {
        let state = self.clone();
        async move { state.module_call(&module, &method, args).await }.boxed()
    }
}
