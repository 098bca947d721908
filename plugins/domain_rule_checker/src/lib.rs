//! Domain rule checker (after the behaviour of matrix-org's synapse-domain-rule-checker):
//! invites are allowed only between permitted server domains, and optionally joins need an
//! invite and new rooms must be one-to-one chats.
//!
//! * `user_may_invite`: an inviter whose domain is a key of `domain_mapping` may invite only
//!   users of the listed domains; an inviter whose domain is not a key may invite anyone iff
//!   `can_invite_if_not_in_domain_mapping`. Users of the domains in
//!   `domains_prevented_from_being_invited_to_published_rooms` may not be invited to a room
//!   that is in the room directory or open to anyone (`join_rule: public`, read from the
//!   room's state);
//! * `user_may_send_3pid_invite`: the address has no domain to check, so such invites follow
//!   `can_invite_if_not_in_domain_mapping`;
//! * `user_may_join_room`: with `can_only_join_rooms_with_invite`, a join needs an invite;
//! * `user_may_create_room`: with `can_only_create_one_to_one_rooms`, a new room must be a
//!   direct chat (`is_direct: true`) inviting at most one user and no third-party addresses.
//!
//! Server admins are never asked (the host skips these checks for them).
//!
//! ```yaml
//! modules:
//!   - module: domain_rule_checker
//!     config:
//!       domain_mapping:
//!         example.org: [example.org, partner.example]
//!         partner.example: [partner.example]
//!       can_invite_if_not_in_domain_mapping: false
//!       domains_prevented_from_being_invited_to_published_rooms: [partner.example]
//!       can_only_join_rooms_with_invite: false
//!       can_only_create_one_to_one_rooms: false
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use plugin_sdk::{
    export_module, Json, Module, ModuleApi, ModuleError, SpamCheck, SpamCheckerCallbacks,
};
use serde::Deserialize;
use serde_json::Value;

/// Configuration.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    domain_mapping: HashMap<String, Vec<String>>,
    can_invite_if_not_in_domain_mapping: bool,
    domains_prevented_from_being_invited_to_published_rooms: Vec<String>,
    can_only_join_rooms_with_invite: bool,
    can_only_create_one_to_one_rooms: bool,
}

fn domain(user_id: &str) -> &str {
    user_id.split_once(':').map_or("", |(_, d)| d)
}

impl Config {
    /// The domain-mapping verdict for an invite.
    fn mapping_allows(&self, inviter: &str, invitee: &str) -> bool {
        match self.domain_mapping.get(domain(inviter)) {
            Some(allowed) => allowed.iter().any(|d| d == domain(invitee)),
            None => self.can_invite_if_not_in_domain_mapping,
        }
    }

    /// Whether a room request is a one-to-one direct chat.
    fn is_one_to_one(room_config: &Value) -> bool {
        let invites = room_config["invite"].as_array().map_or(0, Vec::len);
        let threepids = room_config["invite_3pid"].as_array().map_or(0, Vec::len);
        room_config["is_direct"] == true && invites <= 1 && threepids == 0
    }
}

/// Whether the room is published or open to anyone.
async fn is_public(api: &ModuleApi, room_id: &str) -> Result<bool, ModuleError> {
    if api.public_room_list_contains(room_id).await? {
        return Ok(true);
    }
    let state = api.get_room_state(room_id).await?;
    Ok(state
        .iter()
        .any(|e| e["type"] == "m.room.join_rules" && e["content"]["join_rule"] == "public"))
}

/// See the crate docs.
pub struct DomainRuleChecker;

impl Module for DomainRuleChecker {
    type Config = Config;

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let config = Arc::new(config);
        let (c1, c2, c3, c4) = (
            Arc::clone(&config),
            Arc::clone(&config),
            Arc::clone(&config),
            Arc::clone(&config),
        );
        let handle = api.clone();
        api.register_spam_checker_callbacks(
            SpamCheckerCallbacks::new()
                .user_may_invite(move |inviter: String, invitee: String, room_id: String| {
                    let (config, api) = (Arc::clone(&c1), handle.clone());
                    async move {
                        if !config.mapping_allows(&inviter, &invitee) {
                            return Ok(SpamCheck::forbidden());
                        }
                        let guarded = config
                            .domains_prevented_from_being_invited_to_published_rooms
                            .iter()
                            .any(|d| d == domain(&invitee));
                        if guarded && is_public(&api, &room_id).await? {
                            return Ok(SpamCheck::forbidden());
                        }
                        Ok::<_, ModuleError>(SpamCheck::NotSpam)
                    }
                })
                .user_may_send_3pid_invite(
                    move |_inviter: String, _medium: String, _address: String, _room: String| {
                        let allowed = c2.can_invite_if_not_in_domain_mapping;
                        async move {
                            if allowed {
                                SpamCheck::NotSpam
                            } else {
                                SpamCheck::forbidden()
                            }
                        }
                    },
                )
                .user_may_join_room(move |_user: String, _room: String, is_invited: bool| {
                    let refuse = c3.can_only_join_rooms_with_invite && !is_invited;
                    async move {
                        if refuse {
                            SpamCheck::forbidden()
                        } else {
                            SpamCheck::NotSpam
                        }
                    }
                })
                .user_may_create_room(move |_user: String, room_config: Json| {
                    let refuse = c4.can_only_create_one_to_one_rooms
                        && !Config::is_one_to_one(room_config.value());
                    async move {
                        if refuse {
                            SpamCheck::forbidden()
                        } else {
                            SpamCheck::NotSpam
                        }
                    }
                }),
        )?;
        Ok(DomainRuleChecker)
    }
}

export_module!(DomainRuleChecker);
