//! `/pushrules` (spec §"Push Rules: API"); the rule sets are `service::push_rules`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, MatrixQuery, Requester};
use super::AppState;
use crate::error::{MatrixError, MatrixResult};
use crate::service::push_rules::{self as rules, check_scope, parse_kind};

/// `{scope}/{kind}/{ruleId}` of a rule path.
type RulePath = Path<(String, String, String)>;

/// # `GET /_matrix/client/v3/pushrules/`
async fn all_route(State(state): State<AppState>, who: Requester) -> MatrixResult<Json<Value>> {
    rules::all(&state, &who.user_id).await.map(Json)
}

/// # `GET /_matrix/client/v3/pushrules/global/`
async fn scope_route(
    State(state): State<AppState>,
    who: Requester,
    Path(scope): Path<String>,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    let all = rules::all(&state, &who.user_id).await?;
    Ok(Json(all["global"].clone()))
}

/// # `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}`
async fn get_rule_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    rules::get(&state, &who.user_id, parse_kind(&kind)?, &id)
        .await
        .map(Json)
}

#[derive(Deserialize)]
struct Placement {
    before: Option<String>,
    after: Option<String>,
}

/// # `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}`
async fn put_rule_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
    MatrixQuery(at): MatrixQuery<Placement>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    let (before, after) = (at.before.as_deref(), at.after.as_deref());
    rules::put(
        &state,
        &who.user_id,
        parse_kind(&kind)?,
        &id,
        &body,
        before,
        after,
    )
    .await?;
    Ok(Json(json!({})))
}

/// # `DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}`
async fn delete_rule_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    rules::delete(&state, &who.user_id, parse_kind(&kind)?, &id).await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled`
async fn get_enabled_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    rules::enabled(&state, &who.user_id, parse_kind(&kind)?, &id)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled`
async fn put_enabled_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    let enabled = body
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| MatrixError::bad_json("enabled must be a boolean"))?;
    rules::set_enabled(&state, &who.user_id, parse_kind(&kind)?, &id, enabled).await?;
    Ok(Json(json!({})))
}

/// # `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions`
async fn get_actions_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    rules::actions(&state, &who.user_id, parse_kind(&kind)?, &id)
        .await
        .map(Json)
}

/// # `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions`
async fn put_actions_route(
    State(state): State<AppState>,
    who: Requester,
    Path((scope, kind, id)): RulePath,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> MatrixResult<Json<Value>> {
    check_scope(&scope)?;
    rules::set_actions(&state, &who.user_id, parse_kind(&kind)?, &id, &body).await?;
    Ok(Json(json!({})))
}

/// This area's routes.
pub(super) fn routes() -> Router<AppState> {
    const RULE: &str = "/_matrix/client/v3/pushrules/{scope}/{kind}/{rule_id}";
    Router::new()
        .route("/_matrix/client/v3/pushrules/", get(all_route))
        .route("/_matrix/client/v3/pushrules", get(all_route))
        .route("/_matrix/client/v3/pushrules/{scope}/", get(scope_route))
        .route(
            RULE,
            get(get_rule_route)
                .put(put_rule_route)
                .delete(delete_rule_route),
        )
        .route(
            &format!("{RULE}/enabled"),
            get(get_enabled_route).put(put_enabled_route),
        )
        .route(
            &format!("{RULE}/actions"),
            get(get_actions_route).put(put_actions_route),
        )
}
