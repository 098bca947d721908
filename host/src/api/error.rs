//! Rendering [`MatrixError`]s as HTTP responses: the JSON body `{"errcode", "error", …}` with
//! the error's status. The only place errors meet HTTP.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

pub use crate::error::{MatrixError, MatrixResult};

impl IntoResponse for MatrixError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("errcode".into(), Value::String(self.errcode));
        body.insert("error".into(), Value::String(self.error));
        (self.status, Json(Value::Object(body))).into_response()
    }
}
