//! Joining, inviting, leaving, kicking and banning, with the spam checks Synapse runs.

use plugin_sdk::SpamCheck;
use serde_json::{json, Value};

use super::events::{NewEvent, SendOptions};
use super::power::PowerLevels;
use crate::error::{MatrixError, MatrixResult};
use crate::service::auth::Requester;
use crate::state::AppState;

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `invite`.
    Invite,
    /// `invite` sent by `createRoom` (not rate-limited).
    InviteAtCreation,
    /// An invite made by `createRoom` with `is_direct: true` (marked so in the event).
    DirectInviteAtCreation,
    /// `join`.
    Join,
    /// `leave` by oneself.
    Leave,
    /// `leave` imposed by another member.
    Kick,
    /// `ban`.
    Ban,
}

impl AppState {
    async fn member_content(
        &self,
        user_id: &str,
        membership: &str,
        reason: Option<&str>,
    ) -> MatrixResult<Value> {
        let (displayname, avatar_url) = self.store.get_profile(user_id).await?;
        let mut content = json!({ "membership": membership });
        if let Some(d) = displayname {
            content["displayname"] = json!(d);
        }
        if let Some(a) = avatar_url {
            content["avatar_url"] = json!(a);
        }
        if let Some(r) = reason {
            content["reason"] = json!(r);
        }
        Ok(content)
    }

    /// Apply `change` of `target`'s membership in `room_id`, requested by `who`.
    pub async fn change_membership(
        &self,
        who: &Requester,
        room_id: &str,
        target: &str,
        change: Change,
        reason: Option<&str>,
    ) -> MatrixResult<String> {
        if !self.store.room_exists(room_id).await? {
            return Err(MatrixError::not_found("Unknown room"));
        }
        let own = self.store.membership(room_id, &who.user_id).await?;
        let theirs = self.store.membership(room_id, target).await?;
        let pl_event = self
            .store
            .state_event(room_id, "m.room.power_levels", "")
            .await?;
        let pl = PowerLevels(pl_event.as_ref().map(|e| &e["content"]));
        let joined = own.as_deref() == Some("join");

        let membership = match change {
            Change::Join if self.store.is_room_blocked(room_id).await? => {
                return Err(MatrixError::forbidden(
                    "This room has been blocked on this server",
                ));
            }
            Change::Join => {
                if theirs.as_deref() == Some("ban") {
                    return Err(MatrixError::forbidden("You are banned from this room"));
                }
                let is_invited = theirs.as_deref() == Some("invite");
                let join_rule = self
                    .store
                    .state_event(room_id, "m.room.join_rules", "")
                    .await?;
                let public = join_rule
                    .as_ref()
                    .and_then(|e| e["content"]["join_rule"].as_str())
                    == Some("public");
                if !public && !is_invited && theirs.as_deref() != Some("join") {
                    return Err(MatrixError::forbidden("You are not invited to this room."));
                }
                if !who.is_admin {
                    if let SpamCheck::Deny(d) = self
                        .modules
                        .user_may_join_room(target, room_id, is_invited)
                        .await?
                    {
                        return Err(MatrixError::denied(d, "Not allowed to join this room"));
                    }
                }
                "join"
            }
            Change::Invite | Change::InviteAtCreation | Change::DirectInviteAtCreation => {
                if !joined {
                    return Err(MatrixError::forbidden(format!(
                        "User {} not in room {room_id}",
                        who.user_id
                    )));
                }
                if matches!(theirs.as_deref(), Some("join") | Some("ban")) {
                    return Err(MatrixError::forbidden(format!(
                        "{target} is already in the room or banned"
                    )));
                }
                if pl.user(&who.user_id) < pl.for_action("invite") {
                    return Err(MatrixError::forbidden(
                        "You don't have permission to invite users",
                    ));
                }
                if who.shadow_banned {
                    // Shadow-banned users are told their invite went out; nothing is stored.
                    return Ok(format!("${}", super::events::random_id(43)));
                }
                if !who.is_admin {
                    // Invites made by createRoom are not rate-limited, as in Synapse.
                    if change == Change::Invite {
                        self.check_invite_rate(&who.user_id, target, room_id)
                            .await?;
                    }
                    if let SpamCheck::Deny(d) = self
                        .modules
                        .user_may_invite(&who.user_id, target, room_id)
                        .await?
                    {
                        return Err(MatrixError::denied(
                            d,
                            "Invites have been disabled on this server",
                        ));
                    }
                }
                "invite"
            }
            Change::Leave => {
                if !matches!(theirs.as_deref(), Some("join") | Some("invite")) {
                    return Err(MatrixError::forbidden("You are not in this room"));
                }
                "leave"
            }
            Change::Kick | Change::Ban => {
                let action = if change == Change::Kick {
                    "kick"
                } else {
                    "ban"
                };
                if !joined
                    || pl.user(&who.user_id) < pl.for_action(action)
                    || pl.user(&who.user_id) <= pl.user(target) && who.user_id != target
                {
                    return Err(MatrixError::forbidden(format!(
                        "You don't have permission to {action} this user"
                    )));
                }
                if change == Change::Kick
                    && !matches!(theirs.as_deref(), Some("join") | Some("invite"))
                {
                    return Err(MatrixError::forbidden("The user is not in this room"));
                }
                if change == Change::Kick {
                    "leave"
                } else {
                    "ban"
                }
            }
        };
        let mut content = self.member_content(target, membership, reason).await?;
        if change == Change::DirectInviteAtCreation {
            content["is_direct"] = serde_json::json!(true);
        }
        let new = NewEvent {
            room_id,
            sender: &who.user_id,
            event_type: "m.room.member",
            state_key: Some(target),
            content,
            txn: None,
        };
        self.send_event(
            new,
            SendOptions {
                skip_auth: true,
                ..SendOptions::default()
            },
        )
        .await
    }
}
