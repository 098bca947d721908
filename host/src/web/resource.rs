//! Serving one module web resource.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use abi_stable::std_types::{RResult, RString, RVec, Tuple2};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use futures_util::FutureExt as _;
use plugin_sdk::ffi::{FfiRequest, FfiResponse};

use super::matrix_error;
use crate::modules::Registry;

pub(super) fn mount(
    app: Router,
    registry: Arc<Registry>,
    index: usize,
    body_limit: usize,
) -> Router {
    let path = registry.web[index].path.clone();
    let handler = {
        let registry = Arc::clone(&registry);
        move |req: Request| {
            let registry = Arc::clone(&registry);
            async move { serve(&registry, index, body_limit, req).await }
        }
    };
    // The router panics on paths it cannot take; `paths::validate` should have refused
    // those, so this is a backstop that keeps the server up and names the module.
    let attempt = app.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        attempt
            .route(&path, any(handler.clone()))
            .route(&format!("{path}/{{*rest}}"), any(handler))
    })) {
        Ok(app) => app,
        Err(_) => {
            tracing::error!(module = %registry.web[index].module, path = %registry.web[index].path, "web resource path refused by the router; not served");
            app
        }
    }
}

async fn serve(registry: &Registry, index: usize, body_limit: usize, req: Request) -> Response {
    let resource = &registry.web[index];
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return matrix_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "Request body is too large",
            )
        }
    };
    let request = FfiRequest {
        method: RString::from(parts.method.as_str()),
        path: RString::from(parts.uri.path()),
        query: RString::from(parts.uri.query().unwrap_or("")),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| Tuple2(RString::from(k.as_str()), RVec::from(v.as_bytes())))
            .collect(),
        body: RVec::from(body.as_ref()),
    };
    let call = AssertUnwindSafe(resource.handler.handle(request)).catch_unwind();
    let failure = match tokio::time::timeout(resource.timeout, call).await {
        Ok(Ok(RResult::ROk(response))) => return into_response(response),
        Ok(Ok(RResult::RErr(err))) => err.message.to_string(),
        Ok(Err(_)) => "panicked".to_string(),
        Err(_) => "timed out".to_string(),
    };
    tracing::error!(module = %resource.module, path = %parts.uri.path(), "module web resource failed: {failure}");
    matrix_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "M_UNKNOWN",
        "Internal server error",
    )
}

fn into_response(r: FfiResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(r.body.into_vec()));
    *response.status_mut() = status;
    for Tuple2(name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_bytes(&value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}
