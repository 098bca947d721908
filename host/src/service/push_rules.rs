//! Push rules (spec §"Push Rules"): each user's rule set, the spec's server-default rules
//! (`.m.rule.master`, `.m.rule.contains_display_name`, `.m.rule.is_user_mention`, …) plus
//! the user's own, with ruma's rule set doing the ordering (`before`/`after`) and the
//! server-default protections.
//!
//! The rule set is kept as the user's global account data `m.push_rules` (`{"global": …}`),
//! which is also how clients receive it in `/sync`. Module `on_account_data_updated`
//! callbacks do not fire for it: in Synapse push rules are not account data writes.

use axum::http::StatusCode;
use ruma_common::push::{
    Action, AnyPushRule, ConditionalPushRule, NewConditionalPushRule, NewPatternedPushRule,
    NewPushRule, NewSimplePushRule, PushCondition, RuleKind, Ruleset,
};
use ruma_common::{OwnedRoomId, OwnedUserId, UserId};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;

/// The account data type the rule set is stored under.
const ACCOUNT_DATA_TYPE: &str = "m.push_rules";

fn not_found() -> MatrixError {
    MatrixError::not_found("Unknown rule")
}

/// The scope in a push rules path: only `global` exists (spec).
pub fn check_scope(scope: &str) -> MatrixResult<()> {
    if scope == "global" {
        Ok(())
    } else {
        Err(MatrixError::invalid_param(format!(
            "Unknown scope {scope:?}"
        )))
    }
}

/// A rule kind from a path segment (`override`, `underride`, `sender`, `room`, `content`):
/// 400 `M_INVALID_PARAM` otherwise.
pub fn parse_kind(kind: &str) -> MatrixResult<RuleKind> {
    match kind {
        "override" => Ok(RuleKind::Override),
        "underride" => Ok(RuleKind::Underride),
        "sender" => Ok(RuleKind::Sender),
        "room" => Ok(RuleKind::Room),
        "content" => Ok(RuleKind::Content),
        other => Err(MatrixError::invalid_param(format!(
            "Unknown push rule kind {other:?}"
        ))),
    }
}

/// `user_id`'s rule set: the stored one, else the server defaults.
pub async fn ruleset(state: &AppState, user_id: &str) -> MatrixResult<Ruleset> {
    let stored = state
        .store
        .get_account_data(user_id, None, ACCOUNT_DATA_TYPE)
        .await?;
    ruleset_from(user_id, stored)
}

/// `user_id`'s rule set from their stored `m.push_rules` account data content (`None`, or
/// unreadable: the server defaults).
pub fn ruleset_from(user_id: &str, stored: Option<Value>) -> MatrixResult<Ruleset> {
    if let Some(global) = stored.and_then(|v| v.get("global").cloned()) {
        if let Ok(ruleset) = serde_json::from_value(global) {
            return Ok(ruleset);
        }
        tracing::warn!(
            user_id,
            "stored push rules are unreadable; using the defaults"
        );
    }
    server_default(user_id)
}

/// The spec's (v1.12) server-default rules for `user_id`, as [`build_server_default`]
/// makes them, from a rule set built once: push evaluation needs one per room member per
/// event, and building one through JSON costs far more than patching the three rules that
/// name the user (`.m.rule.invite_for_me`, `.m.rule.is_user_mention`,
/// `.m.rule.contains_user_name`).
fn server_default(user_id: &str) -> MatrixResult<Ruleset> {
    static TEMPLATE: OnceLock<Option<Ruleset>> = OnceLock::new();
    let user = UserId::parse(user_id).map_err(|_| MatrixError::internal())?;
    let template = TEMPLATE.get_or_init(|| {
        let placeholder = UserId::parse("@template:invalid").ok()?;
        build_server_default(&placeholder).ok()
    });
    let mut rules = template.clone().ok_or_else(MatrixError::internal)?;
    rules
        .override_
        .replace_full(ConditionalPushRule::invite_for_me(&user));
    rules
        .override_
        .replace_full(ConditionalPushRule::is_user_mention(&user));
    let user_name = rules
        .content
        .iter()
        .find(|r| r.rule_id == ".m.rule.contains_user_name")
        .cloned();
    if let Some(mut rule) = user_name {
        rule.pattern = user.localpart().to_string();
        rules.content.replace_full(rule);
    }
    Ok(rules)
}

/// The spec's (v1.12) server-default rules for `user`: ruma's current set plus the
/// mention rules v1.7 deprecated but v1.12 still lists and Synapse still sends
/// (`.m.rule.contains_display_name`, `.m.rule.roomnotif`, `.m.rule.contains_user_name`),
/// which clients that do not send `m.mentions` rely on.
fn build_server_default(user: &UserId) -> MatrixResult<Ruleset> {
    let mut rules =
        serde_json::to_value(Ruleset::server_default(user)).map_err(|_| MatrixError::internal())?;
    let deprecated_override = [
        (
            ".m.rule.is_user_mention",
            json!({"rule_id": ".m.rule.contains_display_name", "default": true, "enabled": true,
                   "conditions": [{"kind": "contains_display_name"}],
                   "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]}),
        ),
        (
            ".m.rule.is_room_mention",
            json!({"rule_id": ".m.rule.roomnotif", "default": true, "enabled": true,
                   "conditions": [{"kind": "event_match", "key": "content.body", "pattern": "@room"},
                                  {"kind": "sender_notification_permission", "key": "room"}],
                   "actions": ["notify", {"set_tweak": "highlight"}]}),
        ),
    ];
    if let Some(list) = rules["override"].as_array_mut() {
        for (after, rule) in deprecated_override {
            let at = list
                .iter()
                .position(|r| r["rule_id"] == after)
                .map_or(list.len(), |i| i + 1);
            list.insert(at, rule);
        }
    }
    rules["content"] = json!([{
        "rule_id": ".m.rule.contains_user_name", "default": true, "enabled": true,
        "pattern": user.localpart(),
        "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}],
    }]);
    serde_json::from_value(rules).map_err(|_| MatrixError::internal())
}

/// A rule set as the spec shows it: all five kinds, empty ones as `[]` (ruma leaves them
/// out).
fn to_json(ruleset: &Ruleset) -> Value {
    let mut value = serde_json::to_value(ruleset).unwrap_or_else(|_| json!({}));
    for kind in ["override", "content", "room", "sender", "underride"] {
        if value.get(kind).is_none() {
            value[kind] = json!([]);
        }
    }
    value
}

/// Store `ruleset` for `user_id` and wake the user's `/sync` (clients get the new rules as
/// `m.push_rules` account data).
async fn save(state: &AppState, user_id: &str, ruleset: &Ruleset) -> MatrixResult<()> {
    let content = json!({ "global": to_json(ruleset) });
    state
        .store
        .put_account_data(user_id, None, ACCOUNT_DATA_TYPE, &content)
        .await?;
    state.wake_user(user_id);
    Ok(())
}

/// `GET /pushrules/`: `{"global": {override, content, room, sender, underride}}`.
pub async fn all(state: &AppState, user_id: &str) -> MatrixResult<Value> {
    Ok(json!({ "global": to_json(&ruleset(state, user_id).await?) }))
}

/// One rule as JSON, or 404 `M_NOT_FOUND`.
pub async fn get(state: &AppState, user_id: &str, kind: RuleKind, id: &str) -> MatrixResult<Value> {
    let rules = ruleset(state, user_id).await?;
    let rule = rules.get(kind, id).ok_or_else(not_found)?.to_owned();
    let value = match rule {
        AnyPushRule::Override(r) | AnyPushRule::Underride(r) => serde_json::to_value(r),
        AnyPushRule::Content(r) => serde_json::to_value(r),
        AnyPushRule::Room(r) => serde_json::to_value(r),
        AnyPushRule::Sender(r) => serde_json::to_value(r),
        _ => return Err(not_found()),
    };
    value.map_err(|_| MatrixError::internal())
}

/// The `actions` of a rule body: 400 `M_BAD_JSON` when missing or malformed.
fn actions_of(body: &Map<String, Value>) -> MatrixResult<Vec<Action>> {
    let actions = body
        .get("actions")
        .ok_or_else(|| MatrixError::bad_json("Missing actions"))?;
    serde_json::from_value(actions.clone())
        .map_err(|e| MatrixError::bad_json(format!("Invalid actions: {e}")))
}

/// The new rule `id` of `kind` from a `PUT` body (`actions`, plus `conditions` for
/// override/underride, `pattern` for content; room and sender rules are named by their ID).
fn new_rule(kind: RuleKind, id: &str, body: &Map<String, Value>) -> MatrixResult<NewPushRule> {
    let actions = actions_of(body)?;
    let conditions = || -> MatrixResult<Vec<PushCondition>> {
        let raw = body.get("conditions").cloned().unwrap_or(json!([]));
        serde_json::from_value(raw)
            .map_err(|e| MatrixError::bad_json(format!("Invalid conditions: {e}")))
    };
    let invalid_id = |what: &str| MatrixError::invalid_param(format!("rule ID must be a {what}"));
    Ok(match kind {
        RuleKind::Override => NewPushRule::Override(NewConditionalPushRule::new(
            id.into(),
            conditions()?,
            actions,
        )),
        RuleKind::Underride => NewPushRule::Underride(NewConditionalPushRule::new(
            id.into(),
            conditions()?,
            actions,
        )),
        RuleKind::Content => {
            let pattern = body
                .get("pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| MatrixError::bad_json("Missing pattern"))?;
            NewPushRule::Content(NewPatternedPushRule::new(
                id.into(),
                pattern.into(),
                actions,
            ))
        }
        RuleKind::Room => {
            let room = OwnedRoomId::try_from(id).map_err(|_| invalid_id("room ID"))?;
            NewPushRule::Room(NewSimplePushRule::new(room, actions))
        }
        RuleKind::Sender => {
            let user = OwnedUserId::try_from(id).map_err(|_| invalid_id("user ID"))?;
            NewPushRule::Sender(NewSimplePushRule::new(user, actions))
        }
        _ => return Err(MatrixError::invalid_param("Unknown push rule kind")),
    })
}

/// Add or replace the user rule `id` of `kind`, placed `before` or `after` another user
/// rule. Errors: 400 `M_INVALID_PARAM` for a server-default ID (`.…`), an invalid ID or a
/// placement relative to a server-default rule; 404 when `before`/`after` is unknown.
pub async fn put(
    state: &AppState,
    user_id: &str,
    kind: RuleKind,
    id: &str,
    body: &Map<String, Value>,
    before: Option<&str>,
    after: Option<&str>,
) -> MatrixResult<()> {
    let rule = new_rule(kind, id, body)?;
    let mut rules = ruleset(state, user_id).await?;
    rules.insert(rule, after, before).map_err(|e| {
        use ruma_common::push::InsertPushRuleError as E;
        match e {
            E::UnknownRuleId => MatrixError::not_found(e.to_string()),
            other => MatrixError::invalid_param(other.to_string()),
        }
    })?;
    save(state, user_id, &rules).await
}

/// Delete the user rule `id` of `kind`: 404 when unknown, 400 for a server-default rule.
pub async fn delete(state: &AppState, user_id: &str, kind: RuleKind, id: &str) -> MatrixResult<()> {
    let mut rules = ruleset(state, user_id).await?;
    rules.remove(kind, id).map_err(|e| {
        use ruma_common::push::RemovePushRuleError as E;
        match e {
            E::NotFound => not_found(),
            other => MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_INVALID_PARAM",
                other.to_string(),
            ),
        }
    })?;
    save(state, user_id, &rules).await
}

/// `{"enabled": bool}` of a rule (404 when unknown).
pub async fn enabled(
    state: &AppState,
    user_id: &str,
    kind: RuleKind,
    id: &str,
) -> MatrixResult<Value> {
    let rules = ruleset(state, user_id).await?;
    let rule = rules.get(kind, id).ok_or_else(not_found)?;
    Ok(json!({ "enabled": rule.enabled() }))
}

/// Enable or disable a rule (404 when unknown).
pub async fn set_enabled(
    state: &AppState,
    user_id: &str,
    kind: RuleKind,
    id: &str,
    enabled: bool,
) -> MatrixResult<()> {
    edit(state, user_id, |rules| rules.set_enabled(kind, id, enabled)).await
}

/// Apply `change` to `user_id`'s rules and store them; 404 when it finds no such rule.
async fn edit<E>(
    state: &AppState,
    user_id: &str,
    change: impl FnOnce(&mut Ruleset) -> Result<(), E>,
) -> MatrixResult<()> {
    let mut rules = ruleset(state, user_id).await?;
    change(&mut rules).map_err(|_| not_found())?;
    save(state, user_id, &rules).await
}

/// `{"actions": […]}` of a rule (404 when unknown).
pub async fn actions(
    state: &AppState,
    user_id: &str,
    kind: RuleKind,
    id: &str,
) -> MatrixResult<Value> {
    let rules = ruleset(state, user_id).await?;
    let rule = rules.get(kind, id).ok_or_else(not_found)?;
    Ok(json!({ "actions": rule.actions() }))
}

/// Replace a rule's actions from a body `{"actions": […]}` (404 when unknown).
pub async fn set_actions(
    state: &AppState,
    user_id: &str,
    kind: RuleKind,
    id: &str,
    body: &Map<String, Value>,
) -> MatrixResult<()> {
    let actions = actions_of(body)?;
    edit(state, user_id, |rules| rules.set_actions(kind, id, actions)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patched_defaults_equal_freshly_built_ones() {
        for user_id in ["@alice:test.local", "@bob.smith:example.org", "@_x=1:h"] {
            let user = UserId::parse(user_id).unwrap();
            let fresh = serde_json::to_value(build_server_default(&user).unwrap()).unwrap();
            let patched = serde_json::to_value(server_default(user_id).unwrap()).unwrap();
            assert_eq!(patched, fresh, "{user_id}");
        }
    }
}
