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
    /// `leave` of a banned user, imposed by a member with the ban power (unban).
    Unban,
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

    /// Apply `change` of `target`'s membership in `room_id`, requested by `who`; returns the
    /// membership event's ID. Runs the checks of the change (`check_join`, `check_invite`,
    /// `check_leave`, `check_kick_or_ban`), then sends the `m.room.member` event through the
    /// event checks. Errors: 404 for an unknown room, 403 for a refused change.
    pub async fn change_membership(
        &self,
        who: &Requester,
        room_id: &str,
        target: &str,
        change: Change,
        reason: Option<&str>,
    ) -> MatrixResult<String> {
        if target != who.user_id {
            super::user_ids::check_client_user_id(self, target).await?;
        }
        if !self.store.room_exists(room_id).await? {
            return Err(MatrixError::not_found("Unknown room"));
        }
        let now = Memberships::read(self, room_id, &who.user_id, target).await?;
        let membership = match change {
            Change::Join => self.check_join(who, room_id, target, &now).await?,
            Change::Invite | Change::InviteAtCreation | Change::DirectInviteAtCreation => {
                match self
                    .check_invite(who, room_id, target, change, &now)
                    .await?
                {
                    Some(membership) => membership,
                    // Shadow-banned users are told their invite went out; nothing is stored.
                    None => return Ok(format!("${}", super::events::random_id(43))),
                }
            }
            Change::Leave => check_leave(&now)?,
            Change::Kick | Change::Ban => check_kick_or_ban(who, target, change, &now)?,
            Change::Unban => check_unban(who, target, &now)?,
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
        let options = SendOptions {
            skip_auth: true,
            ..SendOptions::default()
        };
        self.send_event(new, options).await
    }

    /// `POST /rooms/{roomId}/forget` (spec §"Leaving rooms"): hide a room `user_id` left or was
    /// banned from until their next membership there. 400 `M_UNKNOWN` "User … in room …" while
    /// they are joined or invited (Synapse's answer); a room they never had anything to do with
    /// is a no-op.
    pub async fn forget_room(&self, user_id: &str, room_id: &str) -> MatrixResult<()> {
        match self.store.membership(room_id, user_id).await?.as_deref() {
            None => Ok(()),
            Some("leave") | Some("ban") => Ok(self.store.forget_room(user_id, room_id).await?),
            Some(_) => Err(MatrixError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                format!("User {user_id} in room {room_id}"),
            )),
        }
    }

    /// A join: not in a blocked room, not banned, invited unless the room is public (or
    /// already joined), then `user_may_join_room` (not for server admins).
    async fn check_join(
        &self,
        who: &Requester,
        room_id: &str,
        target: &str,
        now: &Memberships,
    ) -> MatrixResult<&'static str> {
        if self.store.is_room_blocked(room_id).await? {
            return Err(MatrixError::forbidden(
                "This room has been blocked on this server",
            ));
        }
        if now.theirs.as_deref() == Some("ban") {
            return Err(MatrixError::forbidden("You are banned from this room"));
        }
        let is_invited = now.theirs.as_deref() == Some("invite");
        let join_rule = self
            .store
            .state_event(room_id, "m.room.join_rules", "")
            .await?;
        let public = join_rule
            .as_ref()
            .and_then(|e| e["content"]["join_rule"].as_str())
            == Some("public");
        if !public && !is_invited && now.theirs.as_deref() != Some("join") {
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
        Ok("join")
    }

    /// An invite: first the invite rate limits (`get_ratelimit_override_for_user`; server
    /// admins included, not for invites made by `createRoom` — Synapse's `update_membership`
    /// order), then the inviter is joined with the invite power, the target neither joined
    /// nor banned; then (not for server admins) `user_may_invite`. `None`: the inviter is
    /// shadow-banned and nothing may be stored.
    async fn check_invite(
        &self,
        who: &Requester,
        room_id: &str,
        target: &str,
        change: Change,
        now: &Memberships,
    ) -> MatrixResult<Option<&'static str>> {
        if change == Change::Invite {
            self.check_invite_rate(&who.user_id, target, room_id)
                .await?;
        }
        if !now.joined {
            return Err(MatrixError::forbidden(format!(
                "User {} not in room {room_id}",
                who.user_id
            )));
        }
        if matches!(now.theirs.as_deref(), Some("join") | Some("ban")) {
            return Err(MatrixError::forbidden(format!(
                "{target} is already in the room or banned"
            )));
        }
        let pl = now.power_levels();
        if pl.user(&who.user_id) < pl.for_action("invite") {
            return Err(MatrixError::forbidden(
                "You don't have permission to invite users",
            ));
        }
        if who.shadow_banned {
            return Ok(None);
        }
        if !who.is_admin {
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
        Ok(Some("invite"))
    }
}

/// The memberships a change depends on, read once.
struct Memberships {
    /// The target's membership.
    theirs: Option<String>,
    /// Whether the requester is joined.
    joined: bool,
    /// The room's `m.room.power_levels` event.
    power_levels: Option<Value>,
}

impl Memberships {
    async fn read(
        state: &AppState,
        room_id: &str,
        requester: &str,
        target: &str,
    ) -> MatrixResult<Memberships> {
        let own = state.store.membership(room_id, requester).await?;
        Ok(Memberships {
            theirs: state.store.membership(room_id, target).await?,
            joined: own.as_deref() == Some("join"),
            power_levels: state
                .store
                .state_event(room_id, "m.room.power_levels", "")
                .await?,
        })
    }

    fn power_levels(&self) -> PowerLevels<'_> {
        PowerLevels(self.power_levels.as_ref().map(|e| &e["content"]))
    }
}

/// Leaving oneself: only from `join` or `invite`.
fn check_leave(now: &Memberships) -> MatrixResult<&'static str> {
    if !matches!(now.theirs.as_deref(), Some("join") | Some("invite")) {
        return Err(MatrixError::forbidden("You are not in this room"));
    }
    Ok("leave")
}

/// An unban (→ `leave`): the target is banned (else 403 `M_BAD_STATE`, as Synapse), and by
/// the room-version auth rules the requester is joined with the ban and kick levels and more
/// power than the target.
fn check_unban(who: &Requester, target: &str, now: &Memberships) -> MatrixResult<&'static str> {
    if now.theirs.as_deref() != Some("ban") {
        return Err(MatrixError::new(
            axum::http::StatusCode::FORBIDDEN,
            "M_BAD_STATE",
            format!(
                "Cannot unban user who was not banned (membership={})",
                now.theirs.as_deref().unwrap_or("leave")
            ),
        ));
    }
    let pl = now.power_levels();
    let mine = pl.user(&who.user_id);
    if !now.joined
        || mine < pl.for_action("ban")
        || mine < pl.for_action("kick")
        || mine <= pl.user(target)
    {
        return Err(MatrixError::forbidden(
            "You don't have permission to unban this user",
        ));
    }
    Ok("leave")
}

/// A kick (→ `leave`) or ban: the requester is joined, has the action's power and more
/// power than the target (unless acting on themselves); a kicked user must be in the room.
fn check_kick_or_ban(
    who: &Requester,
    target: &str,
    change: Change,
    now: &Memberships,
) -> MatrixResult<&'static str> {
    let action = if change == Change::Kick {
        "kick"
    } else {
        "ban"
    };
    let pl = now.power_levels();
    if !now.joined
        || pl.user(&who.user_id) < pl.for_action(action)
        // Only a kick may target oneself (it is a leave); nobody may ban themselves, since
        // the ban rule needs the target's level below the sender's.
        || pl.user(&who.user_id) <= pl.user(target)
            && (who.user_id != target || change == Change::Ban)
    {
        return Err(MatrixError::forbidden(format!(
            "You don't have permission to {action} this user"
        )));
    }
    if change == Change::Kick && !matches!(now.theirs.as_deref(), Some("join") | Some("invite")) {
        return Err(MatrixError::forbidden("The user is not in this room"));
    }
    Ok(if change == Change::Kick {
        "leave"
    } else {
        "ban"
    })
}
