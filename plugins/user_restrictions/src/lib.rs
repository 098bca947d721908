//! User restrictions (after the behaviour of matrix-org's synapse-user-restrictions): rules
//! matched against the user ID decide who may invite and who may create rooms.
//!
//! Rules are tried in order; the first whose `match` regex matches the user decides each
//! permission it names (`allow` or `deny` lists of `invite`, `create_room`). Permissions no
//! rule decided follow `default_deny` (default: allowed).
//!
//! ```yaml
//! modules:
//!   - module: user_restrictions
//!     config:
//!       rules:
//!         - match: "^@admin.*:example\\.org$"
//!           allow: [invite, create_room]
//!         - match: ":example\\.org$"
//!           deny: [create_room]
//!       default_deny: [invite]
//! ```

use std::sync::Arc;

use plugin_sdk::{
    export_module, ConfigError, Json, Module, ModuleApi, ModuleError, SpamCheck,
    SpamCheckerCallbacks,
};
use regex::Regex;
use serde::Deserialize;

/// A permission a rule can decide.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Inviting users.
    Invite,
    /// Creating rooms.
    CreateRoom,
}

/// One rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    allow: Vec<Permission>,
    #[serde(default)]
    deny: Vec<Permission>,
}

/// Configuration as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    default_deny: Vec<Permission>,
}

/// Validated configuration.
pub struct Config {
    rules: Vec<(Regex, Vec<Permission>, Vec<Permission>)>,
    default_deny: Vec<Permission>,
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(d)?;
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let re = Regex::new(&r.pattern)
                .map_err(|e| serde::de::Error::custom(format!("rules[{i}].match: {e}")))?;
            rules.push((re, r.allow, r.deny));
        }
        Ok(Config {
            rules,
            default_deny: raw.default_deny,
        })
    }
}

impl Config {
    fn allows(&self, user_id: &str, what: Permission) -> bool {
        for (re, allow, deny) in &self.rules {
            if re.is_match(user_id) {
                if allow.contains(&what) {
                    return true;
                }
                if deny.contains(&what) {
                    return false;
                }
            }
        }
        !self.default_deny.contains(&what)
    }
}

/// See the crate docs.
pub struct UserRestrictions;

impl Module for UserRestrictions {
    type Config = Config;

    fn parse_config(config: plugin_sdk::serde_json::Value) -> Result<Config, ConfigError> {
        // Validate with paths first, then compile the patterns (a bad one is reported at its path).
        let raw: RawConfig = ConfigError::deserialize(config.clone())?;
        for (i, r) in raw.rules.iter().enumerate() {
            if let Err(e) = Regex::new(&r.pattern) {
                return Err(ConfigError::new(format!("not a valid regex: {e}")).at([
                    "rules".to_string(),
                    i.to_string(),
                    "match".to_string(),
                ]));
            }
        }
        ConfigError::deserialize(config)
    }

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let config = Arc::new(config);
        let (c1, c2) = (Arc::clone(&config), config);
        api.register_spam_checker_callbacks(
            SpamCheckerCallbacks::new()
                .user_may_invite(move |inviter: String, _invitee: String, _room: String| {
                    let ok = c1.allows(&inviter, Permission::Invite);
                    async move {
                        if ok {
                            SpamCheck::NotSpam
                        } else {
                            SpamCheck::forbidden()
                        }
                    }
                })
                .user_may_create_room(move |user_id: String, _config: Json| {
                    let ok = c2.allows(&user_id, Permission::CreateRoom);
                    async move {
                        if ok {
                            SpamCheck::NotSpam
                        } else {
                            SpamCheck::forbidden()
                        }
                    }
                }),
        )?;
        Ok(UserRestrictions)
    }
}

export_module!(UserRestrictions);
