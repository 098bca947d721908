//! An HTTP client for external services, served by the host (its connection pool and TLS).
//! Every request has a deadline (10 s unless set, at most 60 s) and a response size limit
//! (1 MiB unless set, at most 16 MiB); running over either is an error naming the request.
//!
//! Unlike Synapse's `http_client`, the modhost host refuses the address ranges its operator
//! blocks (`module_http_client.ip_range_blocklist`: loopback, private, link-local and cloud
//! metadata addresses by default), after DNS resolution and on every redirect; such a
//! request fails with an error naming the address and the setting. An operator lets a range
//! through with `ip_range_allowlist`.
//!
//! ```no_run
//! # async fn f(api: plugin_sdk::ModuleApi) -> Result<(), plugin_sdk::ModuleError> {
//! use std::time::Duration;
//! use plugin_sdk::HttpRequest;
//!
//! let verdict = api
//!     .http()
//!     .post_json_get_json("https://antispam.example/check", &serde_json::json!({"user": "@a:b"}))
//!     .await?;
//! let raw = api
//!     .http()
//!     .request(HttpRequest::get("https://example.org/list.txt").timeout(Duration::from_secs(2)))
//!     .await?;
//! assert!(raw.status == 200 || raw.status == 404);
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::host_methods::{HttpAnswer, HttpRequestArgs, HttpRequestSpec, SendHttpRequest};
use crate::{ModuleApi, ModuleError};

/// A request for [`HttpClient::request`].
#[derive(Debug, Clone)]
pub struct HttpRequest(HttpRequestSpec);

impl HttpRequest {
    /// A request with `method` (`GET`, `POST`, …) to `url` (`http://` or `https://`).
    pub fn new(method: &str, url: &str) -> Self {
        HttpRequest(HttpRequestSpec {
            method: method.to_string(),
            url: url.to_string(),
            headers: Map::new(),
            body: None,
            json: None,
            timeout_ms: None,
            max_response_bytes: None,
        })
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.insert(name.to_string(), json!(value));
        self
    }

    /// Send `value` as a JSON body (sets `content-type`).
    pub fn json<T: Serialize>(mut self, value: &T) -> Result<Self, ModuleError> {
        self.0.json = Some(serde_json::to_value(value)?);
        Ok(self)
    }

    /// Send `text` as the body.
    pub fn body(mut self, text: impl Into<String>) -> Self {
        self.0.body = Some(text.into());
        self
    }

    /// Give up after `d` (at most 60 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.0.timeout_ms = Some(d.as_millis() as u64);
        self
    }

    /// Refuse responses larger than `n` bytes (at most 16 MiB).
    pub fn max_response_bytes(mut self, n: u64) -> Self {
        self.0.max_response_bytes = Some(n);
        self
    }
}

/// A response from [`HttpClient::request`] (any status).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers with lower-case names (those with text values).
    pub headers: Map<String, Value>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, ModuleError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ModuleError::new(format!("the response is not JSON: {e}")))
    }
}

/// The host's HTTP client ([`ModuleApi::http`]).
#[derive(Clone)]
pub struct HttpClient {
    api: ModuleApi,
}

impl ModuleApi {
    /// The HTTP client for external services.
    pub fn http(&self) -> HttpClient {
        HttpClient { api: self.clone() }
    }
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

impl HttpClient {
    /// Send `request`; any status is a response, only transport failures, the deadline and
    /// the size limit are errors.
    pub async fn request(&self, request: HttpRequest) -> Result<HttpResponse, ModuleError> {
        let args = HttpRequestArgs { request: request.0 };
        let answer: HttpAnswer = self.api.call_method::<SendHttpRequest>(args).await?;
        let body = match (answer.body, answer.body_hex) {
            (Some(text), _) => text.into_bytes(),
            (None, Some(hex)) => from_hex(&hex),
            _ => Vec::new(),
        };
        Ok(HttpResponse {
            status: answer.status,
            headers: answer.headers,
            body,
        })
    }

    async fn json_exchange(&self, request: HttpRequest) -> Result<Value, ModuleError> {
        let what = format!("{} {}", request.0.method, request.0.url);
        let response = self.request(request).await?;
        if !(200..300).contains(&response.status) {
            let text = response.text();
            let excerpt: String = text.chars().take(200).collect();
            return Err(ModuleError::new(format!(
                "{what}: HTTP {}: {excerpt}",
                response.status
            )));
        }
        response
            .json()
            .map_err(|e| ModuleError::new(format!("{what}: {}", e.message())))
    }

    /// `GET url` and parse a 2xx JSON answer; other statuses are errors with the status and
    /// the start of the body.
    pub async fn get_json(&self, url: &str) -> Result<Value, ModuleError> {
        self.json_exchange(HttpRequest::get(url)).await
    }

    /// `POST` `body` as JSON to `url` and parse a 2xx JSON answer.
    pub async fn post_json_get_json<T: Serialize>(
        &self,
        url: &str,
        body: &T,
    ) -> Result<Value, ModuleError> {
        self.json_exchange(HttpRequest::post(url).json(body)?).await
    }

    /// `PUT` `body` as JSON to `url` and parse a 2xx JSON answer.
    pub async fn put_json<T: Serialize>(&self, url: &str, body: &T) -> Result<Value, ModuleError> {
        self.json_exchange(HttpRequest::new("PUT", url).json(body)?)
            .await
    }
}
