//! The HTTP client modules use for external services: the host's connection pool and TLS,
//! with a deadline and a response size limit on every request, so a slow or huge answer
//! costs the module an error, not the server its memory.
//!
//! Like Synapse's module `http_client`, it reaches any address the server can, loopback and
//! private networks included: a module that fetches URLs its users supply must check them
//! itself, or it lets users probe the server's network.

use std::sync::OnceLock;
use std::time::Duration;

use plugin_sdk::ffi::{FfiError, FfiValue};
use serde_json::{json, Map, Value};

use super::{bad_value, json_value, Args};
use crate::state::AppState;

/// Deadline when the module names none, and the longest it may name.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 60_000;
/// Response size limit when the module names none, and the largest it may name.
const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
const MAX_MAX_BYTES: u64 = 16 * 1024 * 1024;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("modhost/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .expect("the HTTP client builds with static settings")
    })
}

impl AppState {
    pub(super) async fn http_call(
        &self,
        module: &str,
        method: &str,
        args: &Args,
    ) -> Option<Result<FfiValue, FfiError>> {
        match method {
            "http_request" => Some(http_request(module, args).await),
            _ => None,
        }
    }
}

/// `http_request({method, url, headers?, body?, json?, timeout_ms?, max_response_bytes?})` →
/// `{status, headers, body}` (`body_hex` instead of `body` when the answer is not UTF-8).
/// Transport failures, deadlines and oversized answers are errors naming the request.
async fn http_request(module: &str, args: &Args) -> Result<FfiValue, FfiError> {
    let spec = args.json(0, "request")?;
    let url = spec["url"].as_str().unwrap_or_default().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(bad_value(format!(
            "http_request needs an http:// or https:// url (got {url:?})"
        )));
    }
    let method_name = spec["method"].as_str().unwrap_or("GET").to_uppercase();
    let method = reqwest::Method::from_bytes(method_name.as_bytes())
        .map_err(|_| bad_value(format!("{method_name:?} is not an HTTP method")))?;
    let timeout_ms = spec["timeout_ms"]
        .as_u64()
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .clamp(1, MAX_TIMEOUT_MS);
    let max_bytes = spec["max_response_bytes"]
        .as_u64()
        .unwrap_or(DEFAULT_MAX_BYTES)
        .clamp(1, MAX_MAX_BYTES);
    let what = format!("{method_name} {url}");

    let mut request = client().request(method, &url);
    if let Some(headers) = spec["headers"].as_object() {
        for (name, value) in headers {
            let Some(value) = value.as_str() else {
                return Err(bad_value(format!("header {name} must be a string")));
            };
            request = request.header(name.as_str(), value);
        }
    }
    if !spec["json"].is_null() {
        request = request.json(&spec["json"]);
    } else if let Some(body) = spec["body"].as_str() {
        request = request.body(body.to_string());
    }

    let exchange = async {
        let mut response = request
            .send()
            .await
            .map_err(|e| bad_value(format!("{what}: {}", describe(&e))))?;
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large(&what, max_bytes));
        }
        let status = response.status().as_u16();
        let mut headers = Map::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(name.as_str().to_string(), Value::String(v.to_string()));
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| bad_value(format!("{what}: {}", describe(&e))))?
        {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large(&what, max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = json!({"status": status, "headers": headers});
        match String::from_utf8(body) {
            Ok(text) => answer["body"] = Value::String(text),
            Err(e) => {
                let hex: String = e.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                answer["body_hex"] = Value::String(hex);
            }
        }
        Ok(answer)
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms), exchange).await {
        Ok(Ok(answer)) => {
            tracing::debug!(module, request = %what, status = %answer["status"], "module HTTP request");
            Ok(json_value(&answer))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(bad_value(format!(
            "{what}: timed out after {timeout_ms} ms"
        ))),
    }
}

fn too_large(what: &str, max: u64) -> FfiError {
    bad_value(format!("{what}: the response is larger than {max} bytes"))
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_connect() {
        "could not connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
