//! Every failure is a Matrix error body `{"errcode", "error", …}` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use plugin_sdk::Denial;
use serde_json::{Map, Value};

use crate::modules::CallbackError;
use crate::storage::StoreError;

/// A Matrix error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `errcode`.
    pub errcode: String,
    /// `error`.
    pub error: String,
    /// Extra body fields.
    pub fields: Map<String, Value>,
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, errcode: &str, error: impl Into<String>) -> Self {
        ApiError {
            status,
            errcode: errcode.into(),
            error: error.into(),
            fields: Map::new(),
        }
    }

    /// 403 `M_FORBIDDEN`.
    pub fn forbidden(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", error)
    }

    /// 404 `M_NOT_FOUND`.
    pub fn not_found(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", error)
    }

    /// 400 `M_BAD_JSON`.
    pub fn bad_json(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "M_BAD_JSON", error)
    }

    /// 400 `M_INVALID_PARAM`.
    pub fn invalid_param(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", error)
    }

    /// 500 `M_UNKNOWN`.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "M_UNKNOWN",
            "Internal server error",
        )
    }

    /// A spam checker's denial: 403 with the module's errcode and fields; `default` unless
    /// the module chose the text.
    pub fn denied(denial: Denial, default: &str) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            errcode: denial.errcode,
            error: denial.message.unwrap_or_else(|| default.to_string()),
            fields: denial.fields,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("errcode".into(), Value::String(self.errcode));
        body.insert("error".into(), Value::String(self.error));
        (self.status, Json(Value::Object(body))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!("database error: {err}");
        ApiError::internal()
    }
}

impl From<CallbackError> for ApiError {
    fn from(err: CallbackError) -> Self {
        match err {
            CallbackError::Matrix(m) => ApiError {
                status: StatusCode::from_u16(m.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                errcode: m.errcode,
                error: m.error,
                fields: m.fields,
            },
            failed => {
                // Already logged with the module and callback by the dispatcher.
                tracing::debug!("request failed: {failed}");
                ApiError::internal()
            }
        }
    }
}
