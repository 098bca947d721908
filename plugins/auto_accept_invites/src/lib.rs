//! Auto-accept invites (after the behaviour of Synapse's invite auto-accepter): when a local
//! user is invited, join them to the room, and file direct-message rooms in their `m.direct`
//! account data.
//!
//! * `on_new_event` watches for `m.room.member` invites whose target is a local user;
//! * invites for unknown or deactivated users are ignored;
//! * the join goes through the module API's `update_room_membership`, so every usual check
//!   (bans, spam checkers) applies; a refused join is retried with exponential backoff
//!   (1, 2, 4, 8 s by default), `max_attempts` times in all;
//! * after joining a direct-message room (`is_direct: true`), the room is added under the
//!   inviter in the invitee's `m.direct`.
//!
//! ```yaml
//! modules:
//!   - module: auto_accept_invites
//!     config:
//!       only_for_direct_messages: false   # only invites marked is_direct
//!       only_from_local_users: false      # only invites sent by local users
//!       retry_initial_delay_ms: 1000      # first wait after a refused join; doubles each time
//!       max_attempts: 5
//! ```

use std::time::Duration;

use plugin_sdk::{
    export_module, tracing, ConfigError, Event, Module, ModuleApi, ModuleError, StateMap,
    ThirdPartyRulesCallbacks,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// Configuration.
#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    only_for_direct_messages: bool,
    only_from_local_users: bool,
    retry_initial_delay_ms: u64,
    max_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            only_for_direct_messages: false,
            only_from_local_users: false,
            retry_initial_delay_ms: 1000,
            max_attempts: 5,
        }
    }
}

/// See the crate docs.
pub struct AutoAcceptInvites;

/// One invite to accept.
struct Invite {
    invitee: String,
    inviter: String,
    room: String,
    is_direct: bool,
}

impl Module for AutoAcceptInvites {
    type Config = Config;

    fn parse_config(config: Value) -> Result<Config, ConfigError> {
        let config: Config = ConfigError::deserialize(config)?;
        if config.max_attempts == 0 {
            return Err(ConfigError::new("must be at least 1").at(["max_attempts"]));
        }
        Ok(config)
    }

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let handle = api.clone();
        api.register_third_party_rules_callbacks(ThirdPartyRulesCallbacks::new().on_new_event(
            move |event: Event, _state: StateMap| {
                let is_direct =
                    event.content().get("is_direct").and_then(Value::as_bool) == Some(true);
                let wanted = event.event_type() == "m.room.member"
                    && event.content().get("membership").and_then(Value::as_str) == Some("invite")
                    && event.state_key().is_some_and(|t| handle.is_mine(t))
                    && (!config.only_for_direct_messages || is_direct)
                    && (!config.only_from_local_users || handle.is_mine(event.sender()));
                if wanted {
                    let invite = Invite {
                        invitee: event.state_key().unwrap_or_default().to_string(),
                        inviter: event.sender().to_string(),
                        room: event.room_id().to_string(),
                        is_direct,
                    };
                    let api = handle.clone();
                    handle.spawn(
                        "auto-accept",
                        async move { accept(api, config, invite).await },
                    );
                }
                async {}
            },
        ))?;
        Ok(AutoAcceptInvites)
    }
}

async fn accept(api: ModuleApi, config: Config, invite: Invite) {
    let Invite {
        invitee,
        inviter,
        room,
        is_direct,
    } = &invite;
    match api.get_userinfo_by_id(invitee).await {
        Ok(Some(info)) if !info.is_deactivated => {}
        Ok(_) => {
            return tracing::info!(%invitee, %room, "ignoring invite for an unknown or deactivated user")
        }
        Err(e) => return tracing::error!(%invitee, "could not look the invitee up: {e}"),
    }
    let mut delay = Duration::from_millis(config.retry_initial_delay_ms);
    for attempt in 1..=config.max_attempts {
        match api
            .update_room_membership(invitee, invitee, room, "join")
            .await
        {
            Ok(_) => {
                tracing::info!(%invitee, %room, attempt, "accepted invite");
                if *is_direct {
                    if let Err(e) = mark_direct(&api, invitee, inviter, room).await {
                        tracing::error!(%invitee, %room, "could not update m.direct: {e}");
                    }
                }
                return;
            }
            Err(e) if attempt < config.max_attempts => {
                tracing::warn!(%invitee, %room, attempt, "could not accept invite yet: {e}");
                api.sleep(delay).await;
                delay = delay.saturating_mul(2).min(Duration::from_secs(3600));
            }
            Err(e) => {
                tracing::error!(%invitee, %room, attempts = attempt, "gave up accepting invite: {e}")
            }
        }
    }
}

/// Serialises `m.direct` updates: two direct invites accepted at once must not both read
/// the old list and each drop the other's room.
static DIRECT_LOCK: futures_util::lock::Mutex<()> = futures_util::lock::Mutex::new(());

/// Add `room` under `inviter` in `invitee`'s `m.direct` (once).
async fn mark_direct(
    api: &ModuleApi,
    invitee: &str,
    inviter: &str,
    room: &str,
) -> Result<(), ModuleError> {
    let _one_at_a_time = DIRECT_LOCK.lock().await;
    let mut direct = api
        .account_data_get_global(invitee, "m.direct")
        .await?
        .unwrap_or_default();
    let rooms = direct
        .entry(inviter.to_string())
        .or_insert_with(|| json!([]));
    if !rooms.is_array() {
        *rooms = json!([]);
    }
    let list = rooms.as_array_mut().expect("made an array above");
    if !list.iter().any(|r| r == room) {
        list.push(json!(room));
        api.account_data_put_global(invitee, "m.direct", direct)
            .await?;
    }
    Ok(())
}

export_module!(AutoAcceptInvites);
