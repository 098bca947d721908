//! The homeserver's error: a Matrix error (HTTP status, `errcode`, `error`, extra fields), as
//! the client-server spec defines every failure (spec §"Standard error response"). Services
//! return it; the HTTP layer (`api::error`) renders it, in one place.

use axum::http::StatusCode;
use plugin_sdk::Denial;
use serde_json::{Map, Value};

use crate::modules::CallbackError;
use crate::storage::StoreError;

/// A Matrix error response.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixError {
    /// HTTP status.
    pub status: StatusCode,
    /// `errcode`.
    pub errcode: String,
    /// `error`.
    pub error: String,
    /// Extra body fields.
    pub fields: Map<String, Value>,
}

/// A service or handler result.
pub type MatrixResult<T> = Result<T, MatrixError>;

impl MatrixError {
    /// Any error.
    pub fn new(status: StatusCode, errcode: &str, error: impl Into<String>) -> Self {
        MatrixError {
            status,
            errcode: errcode.into(),
            error: error.into(),
            fields: Map::new(),
        }
    }

    /// 403 `M_FORBIDDEN`.
    pub fn forbidden(error: impl Into<String>) -> Self {
        MatrixError::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", error)
    }

    /// 404 `M_NOT_FOUND`.
    pub fn not_found(error: impl Into<String>) -> Self {
        MatrixError::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", error)
    }

    /// 400 `M_BAD_JSON`.
    pub fn bad_json(error: impl Into<String>) -> Self {
        MatrixError::new(StatusCode::BAD_REQUEST, "M_BAD_JSON", error)
    }

    /// 400 `M_INVALID_PARAM`.
    pub fn invalid_param(error: impl Into<String>) -> Self {
        MatrixError::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", error)
    }

    /// 500 `M_UNKNOWN`.
    pub fn internal() -> Self {
        MatrixError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "M_UNKNOWN",
            "Internal server error",
        )
    }

    /// A spam checker's denial: 403 with the module's errcode and fields; `default` unless
    /// the module chose the text.
    pub fn denied(denial: Denial, default: &str) -> Self {
        MatrixError {
            status: StatusCode::FORBIDDEN,
            errcode: denial.errcode,
            error: denial.message.unwrap_or_else(|| default.to_string()),
            fields: denial.fields,
        }
    }
}

impl From<StoreError> for MatrixError {
    fn from(err: StoreError) -> Self {
        tracing::error!("database error: {err}");
        MatrixError::internal()
    }
}

impl From<CallbackError> for MatrixError {
    fn from(err: CallbackError) -> Self {
        match err {
            CallbackError::Matrix(m) => MatrixError {
                status: StatusCode::from_u16(m.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                errcode: m.errcode,
                error: m.error,
                fields: m.fields,
            },
            failed => {
                // Already logged with the module and callback by the dispatcher.
                tracing::debug!("request failed: {failed}");
                MatrixError::internal()
            }
        }
    }
}
