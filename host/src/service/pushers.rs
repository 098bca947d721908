//! Pushers (spec §"Push Notifications: Pushers", `GET /pushers`, `POST /pushers/set`): where
//! a user's notifications go. Each is stored per user, app ID and pushkey; `http` ones are
//! delivered to by `service::push_gateway`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::auth::Requester;
use crate::error::{MatrixError, MatrixResult};
use crate::state::AppState;
use crate::storage::{now_ms, PusherRow};

/// The fields `POST /pushers/set` requires, in the order Synapse names missing ones.
const REQUIRED: [&str; 7] = [
    "kind",
    "app_id",
    "app_display_name",
    "device_display_name",
    "pushkey",
    "lang",
    "data",
];
/// The longest `app_id`, in characters (spec).
const MAX_APP_ID_CHARS: usize = 64;
/// The longest `pushkey`, in bytes (spec).
const MAX_PUSHKEY_BYTES: usize = 512;
/// The only path a push gateway URL may have (spec §"Push Gateway API").
const NOTIFY_PATH: &str = "/_matrix/push/v1/notify";

/// `GET /pushers`: `{"pushers": [{app_display_name, app_id, data, device_display_name,
/// kind, lang, profile_tag, pushkey}]}`, oldest first.
pub async fn list(state: &AppState, user_id: &str) -> MatrixResult<Value> {
    let pushers: Vec<Value> = state
        .store
        .pushers_of(user_id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "app_display_name": p.app_display_name,
                "app_id": p.app_id,
                "data": p.data,
                "device_display_name": p.device_display_name,
                "kind": p.kind,
                "lang": p.lang,
                "profile_tag": p.profile_tag,
                "pushkey": p.pushkey,
            })
        })
        .collect();
    Ok(json!({ "pushers": pushers }))
}

/// A Synapse "Config Error" (it answers them all with 400 `M_MISSING_PARAM`).
fn config_error(what: &str) -> MatrixError {
    MatrixError::new(
        StatusCode::BAD_REQUEST,
        "M_MISSING_PARAM",
        format!("Config Error: {what}"),
    )
}

/// A string field of the body (present: checked by the caller), or 400 `M_INVALID_PARAM`.
fn string<'a>(body: &'a Map<String, Value>, key: &str) -> MatrixResult<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| MatrixError::invalid_param(format!("{key} must be a string")))
}

/// The `data` checks of an `http` pusher: `url` present, a string, http(s), with the notify
/// path.
fn check_http_data(data: &Value) -> MatrixResult<()> {
    let Some(data) = data.as_object() else {
        return Err(config_error("'data' key can not be null for HTTP pusher"));
    };
    let url = data
        .get("url")
        .ok_or_else(|| config_error("'url' required in data for HTTP pusher"))?;
    let url = url
        .as_str()
        .ok_or_else(|| config_error("'url' must be a string"))?;
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let Some(parsed) = parsed else {
        return Err(config_error("'url' must be an http or https URL"));
    };
    if parsed.path() != NOTIFY_PATH {
        return Err(config_error(&format!(
            "'url' must have a path of '{NOTIFY_PATH}'"
        )));
    }
    Ok(())
}

/// The pusher a valid `POST /pushers/set` body describes (without deciding on deletion).
fn parse(who: &Requester, body: &Map<String, Value>) -> MatrixResult<PusherRow> {
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|k| !body.contains_key(**k))
        .map(|k| format!("'{k}'"))
        .collect();
    if !missing.is_empty() {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            format!("Missing params: [{}]", missing.join(", ")),
        ));
    }
    let app_id = string(body, "app_id")?;
    if app_id.chars().count() > MAX_APP_ID_CHARS {
        return Err(MatrixError::invalid_param(format!(
            "app_id must be at most {MAX_APP_ID_CHARS} characters"
        )));
    }
    let pushkey = string(body, "pushkey")?;
    if pushkey.len() > MAX_PUSHKEY_BYTES {
        return Err(MatrixError::invalid_param(format!(
            "pushkey must be at most {MAX_PUSHKEY_BYTES} bytes"
        )));
    }
    let kind = string(body, "kind")?;
    let data = body["data"].clone();
    if kind == "http" {
        check_http_data(&data)?;
    } else if !data.is_object() {
        return Err(MatrixError::invalid_param("data must be an object"));
    }
    let profile_tag = match body.get("profile_tag") {
        None | Some(Value::Null) => "",
        Some(_) => string(body, "profile_tag")?,
    };
    Ok(PusherRow {
        id: 0,
        user_id: who.user_id.clone(),
        device_id: Some(who.device_id.clone()),
        kind: kind.to_string(),
        app_id: app_id.to_string(),
        app_display_name: string(body, "app_display_name")?.to_string(),
        device_display_name: string(body, "device_display_name")?.to_string(),
        pushkey: pushkey.to_string(),
        pushkey_ts: now_ms(),
        lang: string(body, "lang")?.to_string(),
        data,
        profile_tag: profile_tag.to_string(),
        last_stream_ordering: 0,
    })
}

/// `POST /pushers/set`: add, update or (`kind: null`) delete one of the requester's pushers.
///
/// Without `append: true`, other users' pushers with the same app ID and pushkey go. A new
/// pusher is delivered only events after this moment. Errors (400): `M_MISSING_PARAM`
/// "Missing params: ['…']" for absent fields and "Config Error: …" for an `http` pusher's
/// `data.url` (absent, not a string, not http(s), path other than
/// `/_matrix/push/v1/notify`); `M_INVALID_PARAM` for an `app_id` over 64 characters, a
/// `pushkey` over 512 bytes, or fields of the wrong type; `M_THREEPID_NOT_FOUND` for an
/// `email` pusher (no email is bound to any account here).
pub async fn set(state: &AppState, who: &Requester, body: &Map<String, Value>) -> MatrixResult<()> {
    if body.get("kind") == Some(&Value::Null) {
        if let (Some(app_id), Some(pushkey)) = (body.get("app_id"), body.get("pushkey")) {
            let (app_id, pushkey) = (
                app_id.as_str().unwrap_or_default(),
                pushkey.as_str().unwrap_or_default(),
            );
            state
                .store
                .delete_pusher(&who.user_id, app_id, pushkey)
                .await?;
            return Ok(());
        }
    }
    let mut pusher = parse(who, body)?;
    let append = match body.get("append") {
        None | Some(Value::Null) => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| MatrixError::invalid_param("append must be a boolean"))?,
    };
    if pusher.kind == "email" {
        return Err(MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_THREEPID_NOT_FOUND",
            "Email not found",
        ));
    }
    if !append {
        state
            .store
            .delete_pushers_of_others(&who.user_id, &pusher.app_id, &pusher.pushkey)
            .await?;
    }
    pusher.last_stream_ordering = state.store.max_stream_ordering().await?;
    state
        .store
        .upsert_pusher(&pusher)
        .await
        .map_err(MatrixError::from)
}
