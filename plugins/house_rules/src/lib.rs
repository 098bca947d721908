//! A sample module that registers callbacks in several categories at once.
//!
//! * spam checker — `check_event_for_spam` denies messages containing a blocked word
//!   (403 `M_FORBIDDEN`, with the word in a `blocked_word` field); `user_may_invite` refuses
//!   invites from the users in `invite_blocklist`;
//! * third-party rules — `check_event_allowed` refuses events of the configured forbidden
//!   types;
//! * media repository — `is_user_allowed_to_upload_media_of_size` caps uploads (413);
//! * unsigned fields — `add_field_to_unsigned` tags every event served to clients;
//! * account data — `on_account_data_updated` logs each change;
//! * a web resource, `/_synapse/client/house_rules/stats`, counting denials.
//!
//! ```yaml
//! modules:
//!   - module: house_rules
//!     config:
//!       blocked_words: ["buy cheap pills"]
//!       forbidden_event_types: ["org.example.forbidden"]
//!       invite_blocklist: ["@mallory:example.org"]
//!       max_upload_bytes: 10485760
//!       unsigned_tag: "house_rules"
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use plugin_sdk::{
    export_module, tracing, AccountDataCallbacks, Denial, Event, EventAllowed,
    MediaRepositoryCallbacks, Module, ModuleApi, ModuleError, Response, SpamCheck,
    SpamCheckerCallbacks, ThirdPartyRulesCallbacks, UnsignedFieldsCallbacks,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Case-insensitive substrings that make a message spam.
    #[serde(default)]
    blocked_words: Vec<String>,
    /// Event types no one may send.
    #[serde(default)]
    forbidden_event_types: Vec<String>,
    /// Largest upload, in bytes.
    #[serde(default = "default_max_upload")]
    max_upload_bytes: u64,
    /// Users whose invites are refused.
    #[serde(default)]
    invite_blocklist: Vec<String>,
    /// Value of the `unsigned` key `house_rules` on every event; none when unset.
    #[serde(default)]
    unsigned_tag: Option<String>,
}

fn default_max_upload() -> u64 {
    10 * 1024 * 1024
}

/// See the crate docs.
pub struct HouseRules;

#[derive(Default)]
struct Stats {
    spam_denied: AtomicU64,
    events_refused: AtomicU64,
    uploads_refused: AtomicU64,
}

impl Module for HouseRules {
    type Config = Config;

    fn new(config: Config, api: ModuleApi) -> Result<Self, ModuleError> {
        let stats = Arc::new(Stats::default());
        let blocked: Arc<[String]> = config
            .blocked_words
            .iter()
            .map(|w| w.to_lowercase())
            .collect();
        let forbidden: Arc<[String]> = config.forbidden_event_types.into();

        let blocklist: Arc<[String]> = config.invite_blocklist.into();
        api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().user_may_invite(
            move |inviter: String, _invitee: String, _room: String| {
                let refused = blocklist.contains(&inviter);
                async move {
                    if refused {
                        SpamCheck::forbidden()
                    } else {
                        SpamCheck::NotSpam
                    }
                }
            },
        ))?;

        let s = Arc::clone(&stats);
        api.register_spam_checker_callbacks(SpamCheckerCallbacks::new().check_event_for_spam(
            move |event: Event| {
                let verdict = match blocked_word(&event, &blocked) {
                    Some(word) => {
                        s.spam_denied.fetch_add(1, Ordering::Relaxed);
                        SpamCheck::Deny(Denial::forbidden().with_field("blocked_word", word))
                    }
                    None => SpamCheck::NotSpam,
                };
                async move { verdict }
            },
        ))?;

        let s = Arc::clone(&stats);
        api.register_third_party_rules_callbacks(
            ThirdPartyRulesCallbacks::new().check_event_allowed(move |event: Event, _state| {
                let refused = forbidden.iter().any(|t| t == event.event_type());
                if refused {
                    s.events_refused.fetch_add(1, Ordering::Relaxed);
                }
                async move {
                    if refused {
                        EventAllowed::Deny
                    } else {
                        EventAllowed::Allow
                    }
                }
            }),
        )?;

        let (s, max) = (Arc::clone(&stats), config.max_upload_bytes);
        api.register_media_repository_callbacks(
            MediaRepositoryCallbacks::new().is_user_allowed_to_upload_media_of_size(
                move |_user: String, size: u64| {
                    let ok = size <= max;
                    if !ok {
                        s.uploads_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    async move { ok }
                },
            ),
        )?;

        if let Some(tag) = config.unsigned_tag {
            api.register_add_extra_fields_to_unsigned_client_event_callbacks(
                UnsignedFieldsCallbacks::new().add_field_to_unsigned(move |_event: Event| {
                    let mut fields = Map::new();
                    fields.insert("house_rules".into(), Value::String(tag.clone()));
                    async move { fields }
                }),
            )?;
        }

        api.register_account_data_callbacks(AccountDataCallbacks::new().on_account_data_updated(
            |user_id: String, room_id: Option<String>, data_type: String, _content| async move {
                tracing::info!(%user_id, ?room_id, %data_type, "account data updated");
            },
        ))?;

        let s = Arc::clone(&stats);
        api.register_web_resource("/_synapse/client/house_rules/stats", move |_req| {
            let body = json!({
                "spam_denied": s.spam_denied.load(Ordering::Relaxed),
                "events_refused": s.events_refused.load(Ordering::Relaxed),
                "uploads_refused": s.uploads_refused.load(Ordering::Relaxed),
            });
            async move { Response::json(200, &body) }
        })?;
        Ok(HouseRules)
    }
}

fn blocked_word(event: &Event, blocked: &[String]) -> Option<String> {
    let body = event.content().get("body")?.as_str()?.to_lowercase();
    blocked.iter().find(|w| body.contains(w.as_str())).cloned()
}

export_module!(HouseRules);
