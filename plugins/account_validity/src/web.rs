//! The module's endpoints under `/_synapse/client/account_validity`.

use plugin_sdk::{ModuleError, Request, Response};
use serde_json::{json, Value};

use crate::Validity;

const BASE: &str = "/_synapse/client/account_validity";

async fn route(v: Validity, req: Request) -> Result<Response, ModuleError> {
    let op = req.path.strip_prefix(BASE).unwrap_or_default().to_string();
    // Every endpoint needs a user; expired accounts may reach all of them (to renew).
    let who = v.api.get_user_by_req(&req, true).await?;
    match (req.method.as_str(), op.as_str()) {
        ("POST", "/renew") => {
            let at = v.next_expiry();
            v.set_expiry(&who.user_id, at).await?;
            Ok(Response::json(200, &json!({ "expiration_ts": at })))
        }
        ("GET", "/status") => {
            let at = v.expiry_of(&who.user_id).await?;
            let now = v.api.current_time_msec();
            Ok(Response::json(
                200,
                &json!({"user_id": who.user_id, "expiration_ts": at, "expired": at.is_some_and(|t| t <= now)}),
            ))
        }
        ("POST", "/admin") | ("GET", "/expired") if !who.is_admin => Err(ModuleError::matrix(
            403,
            "M_FORBIDDEN",
            "You are not a server admin",
        )),
        ("POST", "/admin") => {
            let body: Value = req
                .json()
                .map_err(|_| ModuleError::matrix(400, "M_NOT_JSON", "Content not JSON."))?;
            let Some(user_id) = body["user_id"].as_str() else {
                return Err(ModuleError::matrix(
                    400,
                    "M_MISSING_PARAM",
                    "Missing user_id",
                ));
            };
            // The stored form of the ID (localparts match case-insensitively).
            let Some(user_id) = v.api.check_user_exists(user_id).await? else {
                return Err(ModuleError::matrix(404, "M_NOT_FOUND", "Unknown user"));
            };
            let at = match &body["expiration_ts"] {
                Value::Null => v.next_expiry(),
                t => t.as_i64().ok_or_else(|| {
                    ModuleError::matrix(400, "M_INVALID_PARAM", "expiration_ts must be an integer")
                })?,
            };
            v.set_expiry(&user_id, at).await?;
            Ok(Response::json(200, &json!({ "expiration_ts": at })))
        }
        ("GET", "/expired") => {
            let list: Vec<Value> = v
                .api
                .store()
                .scan("expired/")
                .await?
                .into_iter()
                .map(|(k, mut rec)| {
                    rec["user_id"] = json!(k.trim_start_matches("expired/"));
                    rec
                })
                .collect();
            Ok(Response::json(200, &json!({ "expired": list })))
        }
        _ => Ok(Response::error(
            404,
            "M_UNRECOGNIZED",
            "Unrecognized request",
        )),
    }
}

/// Serve the endpoints.
pub(crate) fn register(v: &Validity) -> Result<(), ModuleError> {
    let state = v.clone();
    v.api.register_web_resource(BASE, move |req: Request| {
        let v = state.clone();
        async move {
            match route(v, req).await {
                Ok(r) => r,
                Err(e) => Response::from_error(&e),
            }
        }
    })
}
