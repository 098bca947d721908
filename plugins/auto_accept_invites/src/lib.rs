//! Auto-accept invites (after the behaviour of Synapse's built-in invite auto-accepter): when
//! a local user is invited, join them to the room.
//!
//! * `on_new_event` watches for `m.room.member` invites whose target is a local user;
//! * the join goes through the module API's `update_room_membership`, so every usual check
//!   (bans, spam checkers) applies; it is retried with backoff (1, 2, 4, 8 s) up to 5 times.
//!
//! ```yaml
//! modules:
//!   - module: auto_accept_invites
//!     config:
//!       only_for_direct_messages: false   # only invites marked is_direct
//!       only_from_local_users: false      # only invites sent by local users
//! ```

use std::time::Duration;

use plugin_sdk::{
    export_module, tracing, Event, Module, ModuleApi, ModuleError, StateMap,
    ThirdPartyRulesCallbacks,
};
use serde::Deserialize;

/// Configuration.
#[derive(Deserialize, Clone, Copy, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    only_for_direct_messages: bool,
    only_from_local_users: bool,
}

/// See the crate docs.
pub struct AutoAcceptInvites;

impl Module for AutoAcceptInvites {
    type Config = Config;

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let suffix = format!(":{}", api.server_name());
        let handle = api.clone();
        api.register_third_party_rules_callbacks(ThirdPartyRulesCallbacks::new().on_new_event(
            move |event: Event, _state: StateMap| {
                let wanted = event.event_type() == "m.room.member"
                    && event.content().get("membership").and_then(|m| m.as_str()) == Some("invite")
                    && event.state_key().is_some_and(|t| t.ends_with(&suffix))
                    && (!config.only_for_direct_messages
                        || event.content().get("is_direct").and_then(|d| d.as_bool())
                            == Some(true))
                    && (!config.only_from_local_users || event.sender().ends_with(&suffix));
                if wanted {
                    let (api, invitee, room) = (
                        handle.clone(),
                        event.state_key().unwrap_or_default().to_string(),
                        event.room_id().to_string(),
                    );
                    handle.spawn(
                        "auto-accept",
                        async move { accept(api, invitee, room).await },
                    );
                }
                async {}
            },
        ))?;
        Ok(AutoAcceptInvites)
    }
}

async fn accept(api: ModuleApi, invitee: String, room: String) {
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=5 {
        match api
            .update_room_membership(&invitee, &invitee, &room, "join")
            .await
        {
            Ok(_) => return tracing::info!(%invitee, %room, "accepted invite"),
            Err(e) if attempt < 5 => {
                tracing::warn!(%invitee, %room, attempt, "could not accept invite yet: {e}");
                api.sleep(delay).await;
                delay *= 2;
            }
            Err(e) => tracing::error!(%invitee, %room, "gave up accepting invite: {e}"),
        }
    }
}

export_module!(AutoAcceptInvites);
