//! Module web resources: plain request and response types.

use std::future::Future;
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RBox, RResult, RString, RVec, Tuple2};
use async_ffi::{FfiFuture, FutureExt as _};
use serde::Serialize;
use serde_json::{json, Value};

use crate::callbacks::guard;
use crate::ffi::{DropGuarded, FfiError, FfiRequest, FfiResponse, WebHandler, WebHandler_TO};

/// An HTTP request to a module web resource. The host has already read the body (up to its
/// configured limit; larger bodies get 413 before the module sees them).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full path, e.g. `/_synapse/client/demo/hello`.
    pub path: String,
    /// The raw query string (no leading `?`).
    pub query: String,
    /// Headers in arrival order; names are lower-case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The Matrix access token the request carries: `Authorization: Bearer …`, else the
    /// `access_token` query parameter.
    pub fn access_token(&self) -> Option<String> {
        if let Some(auth) = self.header("authorization") {
            return auth.strip_prefix("Bearer ").map(|t| t.trim().to_string());
        }
        self.query_param("access_token")
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }

    /// The first value of header `name` (case-insensitive) as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP response from a module web resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// A Matrix error response: `{"errcode": …, "error": …}`.
    pub fn error(status: u16, errcode: &str, error: &str) -> Self {
        Response::json(status, &json!({ "errcode": errcode, "error": error }))
    }

    /// The answer for a failed module API call: a Matrix error as the host gave it (status,
    /// errcode, extra fields), anything else as `500 M_UNKNOWN` with the message logged, not
    /// shown.
    pub fn from_error(err: &crate::ModuleError) -> Self {
        match err.as_matrix() {
            Some(m) => {
                let mut body = m.fields.clone();
                body.insert("errcode".into(), json!(m.errcode));
                body.insert("error".into(), json!(m.error));
                Response::json(m.status, &body)
            }
            None => {
                tracing::error!("request failed: {}", err.message());
                Response::error(500, "M_UNKNOWN", "Internal server error")
            }
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), b"text/plain; charset=utf-8".to_vec())],
            body: body.into().into_bytes(),
        }
    }

    /// Add a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body parsed as JSON (handy in tests).
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn headers_from_ffi(headers: RVec<Tuple2<RString, RVec<u8>>>) -> Vec<(String, Vec<u8>)> {
    headers
        .into_iter()
        .map(|Tuple2(k, v)| (k.into_string(), v.into_vec()))
        .collect()
}

fn headers_to_ffi(headers: Vec<(String, Vec<u8>)>) -> RVec<Tuple2<RString, RVec<u8>>> {
    headers
        .into_iter()
        .map(|(k, v)| Tuple2(RString::from(k), RVec::from(v)))
        .collect()
}

impl From<FfiRequest> for Request {
    fn from(r: FfiRequest) -> Self {
        Request {
            method: r.method.into_string(),
            path: r.path.into_string(),
            query: r.query.into_string(),
            headers: headers_from_ffi(r.headers),
            body: r.body.into_vec(),
        }
    }
}

impl From<Response> for FfiResponse {
    fn from(r: Response) -> Self {
        FfiResponse {
            status: r.status,
            headers: headers_to_ffi(r.headers),
            body: RVec::from(r.body),
        }
    }
}

struct Handler<F>(Arc<F>);

impl<F, Fut> WebHandler for Handler<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn handle(&self, request: FfiRequest) -> FfiFuture<RResult<FfiResponse, FfiError>> {
        let f = Arc::clone(&self.0);
        DropGuarded::new(async move {
            guard(async move { Ok(FfiResponse::from(f(Request::from(request)).await)) })
                .await
                .into()
        })
        .into_ffi()
    }
}

pub(crate) fn handler<F, Fut>(f: F) -> WebHandler_TO<RBox<()>>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    WebHandler_TO::from_value(Handler(Arc::new(f)), TD_Opaque)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let req = Request {
            query: "a=1&name=J%C3%BCrgen+X&flag".into(),
            ..Request::default()
        };
        assert_eq!(req.query_param("name").as_deref(), Some("Jürgen X"));
        assert_eq!(req.query_param("flag").as_deref(), Some(""));
        assert_eq!(req.query_param("missing"), None);
    }

    #[test]
    fn truncated_escape_is_kept_verbatim() {
        let req = Request {
            query: "x=50%".into(),
            ..Request::default()
        };
        assert_eq!(req.query_param("x").as_deref(), Some("50%"));
    }
}
