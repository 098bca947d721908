//! The HTTP client modules use for external services: the host's connection pool and TLS,
//! with a deadline and a response size limit on every request, so a slow or huge answer
//! costs the module an error, not the server its memory.
//!
//! Unlike Synapse's module `http_client`, it refuses the address ranges of
//! `module_http_client.ip_range_blocklist` (loopback and private networks by default; see
//! `service/outbound_guard.rs`), so a module fetching URLs its users supply does not let them probe the
//! server's network.

use std::sync::OnceLock;
use std::time::Duration;

use plugin_sdk::host_methods::{
    HostError, HttpAnswer, HttpRequestArgs, HttpRequestSpec, SendHttpRequest,
};
use serde_json::{Map, Value};

use super::{bad_value, Handler};
use crate::service::outbound_guard::{build_client, literal_refusal, refusal_in};
use crate::state::AppState;

/// Deadline when the module names none, and the longest it may name.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 60_000;
/// Response size limit when the module names none, and the largest it may name.
const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
const MAX_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The module HTTP client, built on first use from the server's `module_http_client`
/// setting and shared by every module (one connection pool).
#[derive(Default)]
pub struct ModuleHttpClientCell(OnceLock<reqwest::Client>);

impl ModuleHttpClientCell {
    fn get(&self, state: &AppState) -> &reqwest::Client {
        self.0
            .get_or_init(|| build_client(&state.config.module_http_client))
    }
}

/// `http_request({method, url, headers?, body?, json?, timeout_ms?, max_response_bytes?})` →
/// `{status, headers, body}` (`body_hex` instead of `body` when the answer is not UTF-8); any
/// status is an answer. `BadValue` for a URL that is not `http://` or `https://`, an unknown
/// method or a header value that is not a string, for an address `module_http_client`
/// blocks (named, with the setting; also after a redirect), and for transport failures, the
/// deadline
/// (10 s unless set, at most 60 s) and the size limit (1 MiB unless set, at most 16 MiB),
/// each naming the request.
impl Handler for SendHttpRequest {
    async fn handle(
        state: &AppState,
        module: &str,
        args: HttpRequestArgs,
    ) -> Result<HttpAnswer, HostError> {
        let spec = args.request;
        let timeout_ms = spec
            .timeout_ms
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .clamp(1, MAX_TIMEOUT_MS);
        let max_bytes = spec
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_BYTES)
            .clamp(1, MAX_MAX_BYTES);
        let method_name = spec.method.to_uppercase();
        let what = format!("{method_name} {}", spec.url);
        let client = state.module_api.http_client.get(state);
        let request = build_request(client, state, &spec, &method_name)?;
        let exchange = exchange(request, &what, max_bytes);
        match tokio::time::timeout(Duration::from_millis(timeout_ms), exchange).await {
            Ok(Ok(answer)) => {
                tracing::debug!(module, request = %what, status = answer.status, "module HTTP request");
                Ok(answer)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(bad_value(format!(
                "{what}: timed out after {timeout_ms} ms"
            ))),
        }
    }
}

/// The request `spec` describes, with method `method_name`, on `client`; refused when its
/// URL names an address `state`'s configuration blocks.
fn build_request(
    client: &reqwest::Client,
    state: &AppState,
    spec: &HttpRequestSpec,
    method_name: &str,
) -> Result<reqwest::RequestBuilder, HostError> {
    let text = &spec.url;
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(bad_value(format!(
            "http_request needs an http:// or https:// url (got {text:?})"
        )));
    }
    let method = reqwest::Method::from_bytes(method_name.as_bytes())
        .map_err(|_| bad_value(format!("{method_name:?} is not an HTTP method")))?;
    let url = reqwest::Url::parse(text)
        .map_err(|e| bad_value(format!("{method_name} {text}: not a valid URL: {e}")))?;
    if let Some(refused) = literal_refusal(&state.config.module_http_client, &url) {
        return Err(bad_value(format!("{method_name} {text}: {refused}")));
    }
    let mut request = client.request(method, url);
    for (name, value) in &spec.headers {
        let Some(value) = value.as_str() else {
            return Err(bad_value(format!("header {name} must be a string")));
        };
        request = request.header(name.as_str(), value);
    }
    if let Some(json) = &spec.json {
        request = request.json(json);
    } else if let Some(body) = &spec.body {
        request = request.body(body.clone());
    }
    Ok(request)
}

/// Send `request` (`what`, for errors) and read the answer, up to `max_bytes` of body.
async fn exchange(
    request: reqwest::RequestBuilder,
    what: &str,
    max_bytes: u64,
) -> Result<HttpAnswer, HostError> {
    let failed = |e: reqwest::Error| bad_value(format!("{what}: {}", describe(&e)));
    let mut response = request.send().await.map_err(failed)?;
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large(what, max_bytes));
    }
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large(what, max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    let (body, body_hex) = match String::from_utf8(body) {
        Ok(text) => (Some(text), None),
        Err(e) => {
            let hex: String = e.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            (None, Some(hex))
        }
    };
    Ok(HttpAnswer {
        status,
        headers,
        body,
        body_hex,
    })
}

fn too_large(what: &str, max: u64) -> HostError {
    bad_value(format!("{what}: the response is larger than {max} bytes"))
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    if let Some(refused) = refusal_in(e) {
        return refused.to_string();
    }
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
