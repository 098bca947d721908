//! Arguments and answer of the HTTP method.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `http_request(request)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequestArgs {
    /// The request.
    pub request: HttpRequestSpec,
}

/// An HTTP request, as it travels (one JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequestSpec {
    /// `GET`, `POST`, … (`GET` when absent).
    #[serde(default = "get")]
    pub method: String,
    /// `http://` or `https://` URL.
    #[serde(default)]
    pub url: String,
    /// Header names and (string) values.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body (wins over `body`).
    #[serde(default)]
    pub json: Option<Value>,
    /// Deadline in ms (10 s when absent, at most 60 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Response size limit in bytes (1 MiB when absent, at most 16 MiB).
    #[serde(default)]
    pub max_response_bytes: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

/// An HTTP response, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpAnswer {
    /// HTTP status.
    pub status: u16,
    /// Headers with text values, names lower-case.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The body, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in hex, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_hex: Option<String>,
}
