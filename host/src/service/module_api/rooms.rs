//! Rooms and events: membership, sending events, state, creation and shutdown, aliases and
//! the public room list.

use plugin_sdk::ffi::{FfiError, FfiValue};
use serde_json::{json, Value};

use super::{bad_value, internal, json_value, refused, Args};
use crate::error::MatrixError;
use crate::service::events::{NewEvent, SendOptions};
use crate::service::membership::Change;
use crate::state::AppState;

impl AppState {
    pub(super) async fn rooms_call(
        &self,
        module: &str,
        method: &str,
        args: &Args,
    ) -> Option<Result<FfiValue, FfiError>> {
        Some(match method {
            "update_room_membership" => self.update_room_membership(args).await,
            "create_and_send_event_into_room" => self.module_send_event(args).await,
            "get_room_state" => self.get_room_state(args).await,
            "lookup_room_alias" => self.lookup_room_alias(args).await,
            "get_canonical_room_alias" => self.get_canonical_room_alias(args).await,
            "create_room" => self.module_create_room(module, args).await,
            "delete_room" => self.delete_room(module, args).await,
            "public_room_list_contains" => self.public_room_list(args, None).await,
            "public_room_list_add" => self.public_room_list(args, Some(true)).await,
            "public_room_list_remove" => self.public_room_list(args, Some(false)).await,
            _ => return None,
        })
    }

    async fn require_room(&self, room_id: &str) -> Result<(), FfiError> {
        if self.store.room_exists(room_id).await.map_err(internal)? {
            Ok(())
        } else {
            Err(refused(MatrixError::not_found("Unknown room")))
        }
    }

    /// `update_room_membership(sender, target, room_id, membership)` → event ID, with the
    /// same checks as a client request (`join`, `leave`, `invite`, `ban`; `leave` of another
    /// user is a kick). Profile fields come from the target's profile.
    async fn update_room_membership(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let (sender, target, room_id, membership) = (
            args.str(0, "sender")?,
            args.str(1, "target")?,
            args.str(2, "room_id")?,
            args.str(3, "membership")?,
        );
        let who = self.acting_user(&sender, "sender").await?;
        let change = match membership.as_str() {
            "join" if sender == target => Change::Join,
            "leave" if sender == target => Change::Leave,
            "leave" => Change::Kick,
            "invite" => Change::Invite,
            "ban" => Change::Ban,
            other => {
                return Err(bad_value(format!(
                    "unsupported membership change {other:?} for {target}"
                )))
            }
        };
        let event_id = self
            .change_membership(&who, &room_id, &target, change, None)
            .await
            .map_err(refused)?;
        Ok(FfiValue::Str(event_id.into()))
    }

    /// `create_and_send_event_into_room(event)` → the event as stored (with `event_id`); the
    /// same module checks as a client's event run. Membership events are refused.
    async fn module_send_event(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let event = args.json(0, "event")?;
        let field = |k: &str| event.get(k).and_then(Value::as_str).map(String::from);
        let (Some(room_id), Some(sender), Some(event_type)) =
            (field("room_id"), field("sender"), field("type"))
        else {
            return Err(bad_value("the event needs room_id, sender and type"));
        };
        if event_type == "m.room.member" {
            return Err(bad_value(
                "use update_room_membership for membership events",
            ));
        }
        // Registered and active; as in Synapse, a module's event ignores the sender's
        // shadow ban (the module chose to send it).
        self.acting_user(&sender, "sender").await?;
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
        Ok(json_value(&stored))
    }

    /// `get_room_state(room_id)` → the current state events.
    async fn get_room_state(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let room_id = args.str(0, "room_id")?;
        let state = self.store.current_state(&room_id).await.map_err(internal)?;
        Ok(json_value(&Value::Array(state)))
    }

    /// `lookup_room_alias(alias)` → the room ID, or null.
    async fn lookup_room_alias(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let alias = args.str(0, "alias")?;
        Ok(self
            .store
            .resolve_alias(&alias)
            .await
            .map_err(internal)?
            .map_or(FfiValue::Null, |(r, _)| FfiValue::Str(r.into())))
    }

    /// `get_canonical_room_alias(room_id)` → the alias in `m.room.canonical_alias`, or null.
    async fn get_canonical_room_alias(&self, args: &Args) -> Result<FfiValue, FfiError> {
        let room_id = args.str(0, "room_id")?;
        let event = self
            .store
            .state_event(&room_id, "m.room.canonical_alias", "")
            .await
            .map_err(internal)?;
        Ok(event
            .and_then(|e| e["content"]["alias"].as_str().map(String::from))
            .map_or(FfiValue::Null, |a| FfiValue::Str(a.into())))
    }

    /// `create_room(user_id, config)` → `{room_id, room_alias?}`: a room created by the local
    /// user `user_id` from a `/createRoom` body, with every module check a client gets.
    async fn module_create_room(&self, module: &str, args: &Args) -> Result<FfiValue, FfiError> {
        let user_id = args.str(0, "user_id")?;
        let config = args.json(1, "config")?;
        if !config.is_object() {
            return Err(bad_value("argument 1 (config) must be a JSON object"));
        }
        let who = self.acting_user(&user_id, "user").await?;
        let created = crate::service::rooms::create_room(self, &who, config)
            .await
            .map_err(refused)?;
        tracing::info!(module, %user_id, room = %created["room_id"], "module created a room");
        Ok(json_value(&created))
    }

    /// `delete_room(room_id)` → the users removed. `check_can_shutdown_room` is asked with no
    /// requester; the room is then shut down as by the admin API.
    async fn delete_room(&self, module: &str, args: &Args) -> Result<FfiValue, FfiError> {
        let room_id = args.str(0, "room_id")?;
        let removed = self.shutdown_room(None, &room_id).await.map_err(refused)?;
        tracing::info!(module, %room_id, "module shut a room down");
        Ok(json_value(&json!(removed)))
    }

    /// `public_room_list_contains/add/remove(room_id)`: the room directory, without the
    /// visibility checks a client's request goes through (Synapse's
    /// `public_room_list_manager`). Add and remove answer null.
    async fn public_room_list(&self, args: &Args, set: Option<bool>) -> Result<FfiValue, FfiError> {
        let room_id = args.str(0, "room_id")?;
        self.require_room(&room_id).await?;
        match set {
            None => Ok(FfiValue::Bool(
                self.store
                    .is_room_public(&room_id)
                    .await
                    .map_err(internal)?,
            )),
            Some(public) => {
                self.store
                    .set_room_public(&room_id, public)
                    .await
                    .map_err(internal)?;
                Ok(FfiValue::Null)
            }
        }
    }
}
